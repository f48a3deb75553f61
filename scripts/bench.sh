#!/usr/bin/env bash
# `npm run bench`: the tunnel server against direct-to-backend, same run, loopback only, bounded
# (~2 minutes). Installs wrk (Debian package) when missing; builds the tunnel server if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: installing wrk (apt-get install -y wrk)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else sudo apt-get install -y wrk >/dev/null || { sudo apt-get update >/dev/null && sudo apt-get install -y wrk >/dev/null; }
  fi
fi
if [ ! -f packages/tunnel-server/dist/main.js ]; then npx tsc -b packages/tunnel-server; fi
exec timeout 170 node scripts/bench/run.mjs "$@"
