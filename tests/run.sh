#!/usr/bin/env bash
# make test: every suite, each printing its own summary, then one total
# line for the whole run.  Usage: LIKE_BUILD=DIR tests/run.sh UNIT_BINARIES...
top=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/rpshim-test.XXXXXX")
trap 'rm -f "$log"' EXIT
rc=0
sh "$top/tests/unit/run.sh" "$@" | tee -a "$log" || rc=1
bash "$top/tests/integration/run.sh" | tee -a "$log" || rc=1
# Once more against the build that takes illumos's paths (LIKE_BUILD).
TEST_BUILD=$LIKE_BUILD TEST_LIKE_ILLUMOS=1 \
    bash "$top/tests/integration/run.sh" | tee -a "$log" || rc=1
bash "$top/tests/tool_test.sh" | tee -a "$log" || rc=1
# "suite: N passed, N failed[, N skipped]" lines, summed.
awk '/^[a-z]+: [0-9]+ passed, [0-9]+ failed/ {
	p += $2; f += $4; s += ($6 == "" ? 0 : $6); n++ }
     END { printf "\nall %d suites: %d passed, %d failed, %d skipped\n", n, p, f, s
	   exit (n == 4 && f == 0) ? 0 : 1 }' "$log" || rc=1
exit $rc
