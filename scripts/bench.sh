#!/usr/bin/env bash
# `npm run bench`: the tunnel server against direct-to-backend, same run, loopback only, bounded
# (~3 minutes, with a request through a non-owner cluster node against the owner: redis-server,
# which ensure-docker.sh installs; and one server with 50 envs against 1); then the agent's memory and recovery as shipped (~20 s,
# Docker); then an asleep env's wake-to-first-200 against bare `docker compose start` (~1 minute,
# Docker). Installs wrk and h2load (Debian packages) when missing; builds when the tunnel server
# or the agent bundle is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: installing wrk (apt-get install -y wrk)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else sudo apt-get install -y wrk >/dev/null || { sudo apt-get update >/dev/null && sudo apt-get install -y wrk >/dev/null; }
  fi
fi
if ! command -v h2load >/dev/null 2>&1; then
  echo "bench: installing h2load (apt-get install -y nghttp2-client)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y nghttp2-client >/dev/null || { apt-get update >/dev/null && apt-get install -y nghttp2-client >/dev/null; }
  else sudo apt-get install -y nghttp2-client >/dev/null || { sudo apt-get update >/dev/null && sudo apt-get install -y nghttp2-client >/dev/null; }
  fi
fi
if [ ! -f packages/tunnel-server/dist/main.js ] || [ ! -f packages/compose-tunnel-agent/dist/agent.mjs ]; then npm run build --silent; fi
rc=0
bash scripts/ensure-docker.sh >/dev/null
timeout 290 node scripts/bench/run.mjs "$@" || rc=$?
echo
# The agent as shipped (its image, 10 tunnels): memory and recovery; needs Docker.
timeout 180 node scripts/bench/agent.mjs || rc=$?
echo
# An asleep env's wake against bare `docker compose start` (examples/hello, the CLI, Docker).
timeout 600 node scripts/bench/wake.mjs || rc=$?
exit $rc
