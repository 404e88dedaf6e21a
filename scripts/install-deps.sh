#!/usr/bin/env bash
# Installs what a fresh Debian machine with Node 20 lacks for copycat-db's tests and quick start:
# PostgreSQL 15 (server and client), the local S3 server (Ceph radosgw), systemd-analyze and the npm packages, then builds.
# Idempotent: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
command -v pg_dump >/dev/null && command -v pg_restore >/dev/null && command -v psql >/dev/null || missing+=(postgresql-client-15)
# test/bench.test.ts runs the benchmark small: it compares with zstd, age and rclone, and times them with GNU time.
for tool in zstd age rclone; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/bin/time ] || missing+=(time)
# test/deploy.test.ts checks the unit files with systemd-analyze verify (a fresh Debian container lacks systemd).
command -v systemd-analyze >/dev/null || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash scripts/s3-server.sh install

# zstd-napi compiles from source here (its prebuilt download is unreachable): node-gyp needs python3, make, g++.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
