#!/bin/sh
# make illumos-check: the Makefile's illumos branch, run for real with a
# compiler for x86_64-pc-solaris2.11 against illumos's own headers, as
# illumos gcc sees them and as clang does; each link checked against what
# illumos's libraries export (tests/illumos/cc).  Then: no library object
# uses the global errno (wrong in every thread but the first), and a
# self-test that each check still fails on the defect it guards against.
#
# Usage: tests/illumos/check.sh ILLUMOS_INC
# Output: "ok NAME" / "FAIL NAME: why" / "SKIP NAME: reason", then
# "illumos-check: N passed, N failed, N skipped".
here=$(cd "$(dirname "$0")" && pwd) || exit 1
top=$(cd "$here/../.." && pwd) || exit 1
inc=${1:-$top/../shared/illumos/include}
exports=$inc/../exports.txt

pass=0 fail=0 skip=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() {
	echo "illumos-check: $pass passed, $fail failed, $skip skipped"
	[ "$fail" = 0 ]
	exit
}

if [ ! -f "$inc/sys/socket.h" ] || [ ! -f "$exports" ]; then
	echo "SKIP illumos-check: no illumos headers at $inc" \
	    "(ILLUMOS_INC names them, with exports.txt beside)"
	skip=1
	finish
fi
if ! command -v clang >/dev/null 2>&1; then
	echo "SKIP illumos-check: no clang (apt-get install clang)"
	skip=1
	finish
fi
inc=$(cd "$inc" && pwd)
exports=$(cd "$(dirname "$exports")" && pwd)/exports.txt

tmp=$(mktemp -d "${TMPDIR:-/tmp}/illumos-check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/extra"

# What the build needs must be in illumos's headers (or ILLUMOS_EXTRA),
# never installed into this host to make it pass.
export DEPS_INSTALL=no
export ILLUMOS_INC="$inc" ILLUMOS_EXPORTS="$exports" ILLUMOS_EXTRA="$tmp/extra"
CC="$here/cc"

# The predefines each view must have: the check means nothing if the
# gcc view still had clang's feature macros, or the clang view lost them.
for view in gcc clang; do
	defs=$(ILLUMOS_VIEW=$view "$CC" -dM -E -x c /dev/null)
	want=$([ $view = clang ] && echo 4 || echo 0)
	have=$(echo "$defs" | grep -cE '^#define (_XOPEN_SOURCE|__EXTENSIONS__|_LARGEFILE_SOURCE|_LARGEFILE64_SOURCE) ')
	if ! echo "$defs" | grep -q '^#define __sun 1'; then
		bad "predefines-$view" "not a Solaris target"
	elif [ "$have" != "$want" ]; then
		bad "predefines-$view" "$have of clang's 4 feature macros, want $want"
	else
		ok "predefines-$view"
	fi
done

# The real illumos branch of the Makefile: everything `make` builds.
for view in gcc clang; do
	b=build-illumos-$view
	rm -rf "${top:?}/$b"	# from scratch: flags are not in make's rules
	if ILLUMOS_VIEW=$view make -C "$top" --no-print-directory -s \
	    OS=SunOS CC="$CC" B="$b" all >"$tmp/log" 2>&1; then
		ok "build-$view"
	else
		bad "build-$view" "make OS=SunOS all failed:"
		sed 's/^/    /' "$tmp/log" | head -40
		continue
	fi
	# Global errno: the first thread's, read from any other.
	nobj=$(ls "$top/$b"/shim/*.o 2>/dev/null | wc -l)
	if [ "$nobj" -lt 10 ]; then
		bad "errno-$view" "only $nobj library objects to look at"
		continue
	fi
	used=$(cd "$top/$b" && for o in shim/*.o; do
		nm -u "$o" | awk -v o="$o" '$2 == "errno" { print o }'
	done)
	if [ -n "$used" ]; then
		bad "errno-$view" "the global errno in $(echo $used) (no _REENTRANT)"
	else
		ok "errno-$view"
	fi
done

# Each check must still catch the defect it is for: a small file with
# that defect, which the same compiler and checks must refuse.
mustfail() {	# NAME VIEW PATTERN SOURCE CC-ARGS...
	name=$1 view=$2 pat=$3 src=$4
	shift 4
	printf '%s\n' "$src" > "$tmp/t.c"
	if (cd "$tmp" && ILLUMOS_VIEW=$view "$CC" -Wall -Werror "$@") \
	    >"$tmp/log" 2>&1; then
		bad "catches-$name" "accepted by the checks"
	elif ! grep -q -- "$pat" "$tmp/log"; then
		# Refused, but not for its defect: that proves nothing.
		bad "catches-$name" "refused for another reason: $(head -2 "$tmp/log")"
	else
		ok "catches-$name"
	fi
}
printf '{\n\tglobal:\n\t\tbind;\n\tlocal:\n\t\t*;\n};\n' > "$tmp/map"
mustfail xnet-rename gcc 'library exports, mapfile does not name: __xnet_bind' \
    '#include <sys/socket.h>
int bind(int f, const struct sockaddr *s, socklen_t l) { return f+(int)l+!s; }' \
    -std=c11 -D_POSIX_C_SOURCE=200809L -fPIC -shared -Wl,-M,map -o t.so t.c \
    -lsocket
mustfail feature-redefined clang 'macro redefined' '#define __EXTENSIONS__
int x;' -std=c11 -c -o t.o t.c
mustfail undeclared gcc "implicit declaration of function 'kill'" '#include <signal.h>
int main(void) { return kill(0, 0); }' -std=c11 -D_GNU_SOURCE -c -o t.o t.c
mustfail no-lsocket gcc 'socket is in libsocket' '#include <sys/socket.h>
int main(void) { return socket(0, 0, 0); }' -std=c11 -D__EXTENSIONS__ \
    -o t t.c
mustfail private-name gcc 'ucred_getauid is private' \
    'extern int ucred_getauid(const void *);
int main(void) { return ucred_getauid(0) == 0; }' -std=c11 \
    -D__EXTENSIONS__ -o t t.c
# The errno check itself, on an object that reads the global errno.
printf '#include <errno.h>\nint e(void) { return errno; }\n' > "$tmp/e.c"
ILLUMOS_VIEW=gcc "$CC" -std=c11 -c -o "$tmp/e.o" "$tmp/e.c"
if nm -u "$tmp/e.o" | awk '$2 == "errno" { f = 1 } END { exit !f }'; then
	ok catches-global-errno
else
	bad catches-global-errno "nm does not show the global errno"
fi
finish
