#!/usr/bin/env bash
# Quickstart on a fresh machine: Docker ready, build, then deploy examples/hello.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/ensure-docker.sh
npm run build --silent
echo "quickstart: set-up and build done. Deploying examples/hello arrives with the CLI (issue 6)." >&2
