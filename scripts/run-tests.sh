#!/usr/bin/env bash
# Run every test suite: cmocka unit tests, then the end-to-end tests against
# the real binary and throwaway PostgreSQL and MariaDB servers (started here
# unless already running, and stopped again at the end if started here).
# Prints each runner's summary and a closing "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."

started_db=0
cleanup() {
  if [ "$started_db" = 1 ]; then scripts/testdb.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if ! scripts/testdb.sh status >/dev/null 2>&1; then
  env_lines=$(scripts/testdb.sh start) || { echo "could not start test databases"; exit 1; }
  started_db=1
else
  env_lines=$(scripts/testdb.sh env)
fi
eval "$env_lines"

suites_pass=0 suites_fail=0 failed=()
run_suite() {
  local name=$1; shift
  echo "===== $name"
  if "$@"; then suites_pass=$((suites_pass + 1)); else suites_fail=$((suites_fail + 1)); failed+=("$name"); fi
}

run_suite unit scripts/run-unit.sh $(ls build/tests/test_* 2>/dev/null | grep -v '\.d$')
run_suite e2e node --test --test-concurrency=1 tests/e2e/

echo
[ "${#failed[@]}" -eq 0 ] || echo "failed suites: ${failed[*]}"
echo "suites: $suites_pass passed, $suites_fail failed"
[ "$suites_fail" -eq 0 ]
