#!/usr/bin/env bash
# make test-valgrind: the oracle probes under the shim, run by valgrind
# (memcheck follows the owner too: it is a fork, not an exec).  Any
# invalid access or definite leak fails; the output must still equal the
# kernel's.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/build
command -v valgrind >/dev/null || { echo "valgrind: SKIP (valgrind is not installed)"; exit 0; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/rpshim-vg.XXXXXX")
chmod 700 "$dir"
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
for args in "all" "-6 all" "predup"; do
	# shellcheck disable=SC2086
	"$B/tests/probe" $args >"$dir/native" 2>&1
	# shellcheck disable=SC2086
	LD_PRELOAD=$B/libreuseport_shim.so REUSEPORT_SHIM_MODE=emulate \
	    REUSEPORT_SHIM_DIR="$dir/rv" timeout 300 valgrind -q \
	    --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
	    "$B/tests/probe" $args >"$dir/shim" 2>"$dir/vg"
	rc=$?
	if [ "$rc" = 0 ] && cmp -s "$dir/native" "$dir/shim"; then
		echo "ok probe $args"
		pass=$((pass + 1))
	else
		echo "FAIL probe $args: valgrind exit $rc"
		head -30 "$dir/vg" | sed 's/^/    /'
		diff "$dir/native" "$dir/shim" | head -10 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
done
echo "valgrind: $pass passed, $fail failed"
[ "$fail" = 0 ]
