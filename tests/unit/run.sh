#!/bin/sh
# Run the unit test binaries given as arguments, one after another, and sum
# cmocka's own summaries into one line:  unit: N passed, N failed
#
# The REUSEPORT_SHIM_* variables of whoever runs this are removed first: the
# library reads them in a constructor, and a developer's REUSEPORT_SHIM_MODE
# would otherwise change what the tests see.

for v in $(env | sed -n 's/^\(REUSEPORT_SHIM_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done

out=$(mktemp "${TMPDIR:-/tmp}/unit-run.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
bad=0
for t in "$@"; do
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$out" |
	    tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s),.*/\1/p' "$out" |
	    tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ]; then
		bad=1
		# A binary that died before its summary still failed a test.
		if [ -z "$f" ] || [ "$f" -eq 0 ]; then
			echo "unit: $t exited with status $rc before reporting a failure"
			failed=$((failed + 1))
		fi
	elif [ -z "$p" ]; then
		# No summary at all: not a cmocka run we can count.
		echo "unit: $t printed no cmocka summary"
		bad=1
		failed=$((failed + 1))
	fi
done

echo "unit: $passed passed, $failed failed"
[ "$bad" -eq 0 ] && [ "$failed" -eq 0 ]
