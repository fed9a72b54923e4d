#!/usr/bin/env bash
# Run each cmocka unit-test binary given as an argument; print every
# runner's own summary, then one total line. Exit 1 if any failed.
set -u
pass=0 fail=0 failed=()
for t in "$@"; do
  echo "== $(basename "$t")"
  if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$(basename "$t")"); fi
done
echo "unit test programs: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
