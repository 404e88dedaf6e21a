#!/usr/bin/env bash
# Runs a command under Node 24, the Docker image's runtime: `bash scripts/node24.sh npm test`.
# Node 24 comes from the npm registry (the package node-linux-<arch>, Node's official binary and headers) into
# .node24/ (git-ignored) on first use; the command then finds it first on PATH, and npm scripts, node-gyp and every
# `node` they start use it. The project's node_modules serve both runtimes: zstd-napi is a Node-API addon, whose
# binary built under the machine's Node loads under Node 24 unchanged, so nothing is rebuilt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "scripts/node24.sh: no Node 24 package for $(uname -m)" >&2; exit 1 ;;
esac
dir="$root/.node24"
node="$dir/node_modules/node-linux-$arch"
if [[ "$("$node/bin/node" --version 2>/dev/null)" != v24.* ]]; then
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@24"
fi
# nodedir: an addon compiled under Node 24 (as `npm install -g` does in test/install.test.ts) gets Node 24's headers.
export PATH="$node/bin:$PATH" npm_config_nodedir="$node"
exec "$@"
