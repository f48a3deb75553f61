#!/usr/bin/env bash
# Quickstart on a fresh machine: Docker ready, build, deploy examples/hello with the embedded
# default (local Docker, local tunnel server on http://*.localhost:8080), then fetch every URL.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/ensure-docker.sh
npm run build --silent
prevu() { node "$root/packages/cli/bin/run.js" "$@"; }

cd examples/hello
prevu up
urls=$(prevu urls --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const u of JSON.parse(s).urls)console.log(u.url)})')
echo
failed=0
for url in $urls; do
  # curl resolves *.localhost to loopback by itself
  if body=$(curl -fsS --max-time 10 "$url"); then
    printf 'OK    %s\n      %s\n' "$url" "$(printf '%s' "$body" | tr -s '\n ' ' ' | cut -c1-100)"
  else
    printf 'FAIL  %s\n' "$url"; failed=1
  fi
done
echo
echo "examples/hello is up. Open the URLs above in a browser."
echo "Remove it with:  (cd examples/hello && node $root/packages/cli/bin/run.js down)"
exit $failed
