#!/usr/bin/env bash
# Quick start, first command: install what is missing, then run a real backup → restore on local throwaway servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node dist/scripts/quickstart.js
