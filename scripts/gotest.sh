#!/usr/bin/env bash
# gotest.sh [VERBOSE=1] GO-TEST-ARGS...: `go test -v GO-TEST-ARGS`, the whole log kept in
# build/test-logs/, the package summary on stdout (and the log when something failed, or
# always with VERBOSE=1). Under CI=true a skipped test is a failure: a skip in CI hides a
# missing feature or a missing install step.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/test-logs
name=$(printf '%s' "$*" | tr -c 'A-Za-z0-9' '_' | cut -c1-60)
log=build/test-logs/$name.log
if [[ ${VERBOSE:-0} == 1 ]]; then
  go test -v "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
else
  go test -v "$@" >"$log" 2>&1
  rc=$?
  grep -E '^(ok|FAIL|\?|panic:|--- FAIL|--- SKIP)' "$log"
  if ((rc != 0)); then
    echo "---- go test failed (exit $rc); the failing tests' output (whole log: $log):"
    grep -nE -- '^\s*--- FAIL|^\s+FAIL: |^\s+[a-z_A-Z0-9]+\.go:[0-9]+:' "$log" | tail -60
    echo "---- last 150 lines of $log:"
    tail -150 "$log"
  fi
fi
skips=$(grep -E -- '--- SKIP' "$log" || true)
if [[ -n $skips ]]; then
  echo "---- skipped tests:"
  grep -E -A2 -- '--- SKIP' "$log"
  if [[ ${CI:-} == true ]]; then
    echo "gotest: CI=true and tests were skipped: that is a failure (install what they need, or fix them)" >&2
    rc=${rc/#0/1}
  fi
fi
exit "$rc"
