#!/usr/bin/env bash
# The one test command (README, .ci/run): ensures Docker, builds incrementally, runs every
# package's tests with vitest, fails on leaked Docker resources, and ends with `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."

# A run that cannot reach vitest still ends with the line CI counts, naming what failed.
setup_failed() { echo "test: $1 failed (exit $2): no test ran"; echo "0 passed, 1 failed"; exit "$2"; }
bash scripts/ensure-docker.sh || setup_failed "scripts/ensure-docker.sh" $?
npm run build --silent || setup_failed "npm run build" $?

export PREVU_TEST_RUN="r$(date +%s)$$"
mkdir -p .test-results
rm -f .test-results/vitest.json
# What exists before, per kind: anything new after the suite was left by a test.
snapshot() {
  case $1 in
    containers) docker ps -aq --no-trunc ;;
    networks) docker network ls -q --no-trunc ;;
    volumes) docker volume ls -q ;;
  esac | sort
}
declare -A before
for kind in containers networks volumes; do before[$kind]=$(snapshot "$kind"); done
# The kit's global teardown removes labeled leftovers and recorded processes (so a next run starts
# clean) and counts them here.
export PREVU_TEST_SWEPT_FILE="$PWD/.test-results/swept"
rm -f "$PREVU_TEST_SWEPT_FILE"

npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@"
rc=$?

# A container, network or volume a test made and did not remove is a failure of the suite.
leaks=$(cat "$PREVU_TEST_SWEPT_FILE" 2>/dev/null || echo 0)
for kind in containers networks volumes; do
  new=$(comm -13 <(echo "${before[$kind]}") <(snapshot "$kind"))
  [ -z "$new" ] && continue
  echo "LEAK: $kind left after the suite:" >&2
  for id in $new; do
    case $kind in
      containers) docker ps -a --no-trunc --filter "id=$id" --format '  {{.Names}} ({{.Image}}, {{.Status}})' ;;
      networks) docker network inspect -f '  {{.Name}}' "$id" ;;
      volumes) echo "  $id" ;;
    esac
  done >&2
  leaks=$((leaks + $(echo "$new" | wc -l)))
done

# A process a test started and left alive is a leak too (named, then killed).
leaks=$((leaks + $(node scripts/leaked-processes.mjs "$PREVU_TEST_RUN" $$)))

node scripts/test-summary.mjs .test-results/vitest.json "$leaks"
summary_rc=$?
[ $rc -ne 0 ] && exit $rc
exit $summary_rc
