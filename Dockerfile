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

# --- runtime: Node, Debian's PostgreSQL 15 client (pg_dump, pg_restore, psql), tini as PID 1, no root.
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 tini ca-certificates \
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
