# copycat-db as a container: docker build -t copycat-db . && docker run --rm --env-file copycat-db.env \
#   -v /etc/copycat-db/copycat-db.key:/run/secrets/copycat-db.key:ro -e COPYCAT_KEY_FILE=/run/secrets/copycat-db.key \
#   copycat-db backup --to s3://BUCKET/PREFIX
# The run's settings are the same variables as everywhere (README, Operating); logs are JSON lines on stdout.

# --- build: npm ci compiles zstd-napi natively (node-gyp: python3, make, g++ are in the full image) and tsc the sources.
FROM node:24-bookworm AS build
WORKDIR /opt/copycat-db
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# `npm ci` also runs the package's prepare script (tsc -p .), hence the sources first; tsc again to be explicit.
RUN npm ci --no-audit --no-fund \
 && npx tsc -p . \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf dist/test dist/scripts

# --- runtime: Node, the PostgreSQL clients (pg_dump, pg_restore, psql) of every supported major from the PostgreSQL
# project's apt repository (Debian has only 15), tini as PID 1, no root. A pg_dump must be at least as new as the
# server it dumps, a pg_restore must read the archive's format: copycat-db runs the newest, /usr/lib/postgresql/18/bin,
# unless --pg-bin-dir (COPYCAT_PG_BIN_DIR) names another. The repository's key and line as apt.postgresql.org says.
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tini \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && . /etc/os-release \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
    > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
    postgresql-client-13 postgresql-client-14 postgresql-client-15 postgresql-client-16 postgresql-client-17 postgresql-client-18 \
 && apt-get purge -y --auto-remove curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/copycat-db
COPY --from=build /opt/copycat-db/package.json ./
COPY --from=build /opt/copycat-db/bin ./bin
COPY --from=build /opt/copycat-db/dist ./dist
COPY --from=build /opt/copycat-db/node_modules ./node_modules
RUN chmod 0755 bin/copycat-db.js && ln -s /opt/copycat-db/bin/copycat-db.js /usr/local/bin/copycat-db
ENV NODE_ENV=production \
    COPYCAT_LOG_FORMAT=json
USER node
# tini forwards SIGTERM (docker stop) to copycat-db, which aborts cleanly, and reaps pg_dump.
ENTRYPOINT ["tini", "--", "copycat-db"]
CMD ["--help"]
