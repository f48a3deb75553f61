#!/usr/bin/env bash
# The one test command (README, .ci/run): ensures Docker, builds incrementally, runs every
# package's tests with vitest, fails on leaked Docker resources, and ends with `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-docker.sh || exit $?
npm run build --silent || exit $?

export PREVU_TEST_RUN="r$(date +%s)$$"
mkdir -p .test-results
rm -f .test-results/vitest.json
containers_before=$(docker ps -aq --no-trunc | sort)

npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@"
rc=$?

# A container, network or volume a test made and did not remove is a failure of the suite.
leaks=0
new_containers=$(comm -13 <(echo "$containers_before") <(docker ps -aq --no-trunc | sort))
if [ -n "$new_containers" ]; then
  echo "LEAK: containers left after the suite:" >&2
  for id in $new_containers; do docker ps -a --no-trunc --filter "id=$id" --format '  {{.Names}} ({{.Image}}, {{.Status}})' >&2; done
  leaks=$((leaks + $(echo "$new_containers" | wc -l)))
fi

node scripts/test-summary.mjs .test-results/vitest.json "$leaks"
summary_rc=$?
[ $rc -ne 0 ] && exit $rc
exit $summary_rc
