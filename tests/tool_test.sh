#!/usr/bin/env bash
# tool_test.sh: the reuseport-shim command (run, stat), make install and
# uninstall, the man pages, and the README's examples (tool_readme.sh).
# Loopback only (but the README's http.server example, which binds every
# address); everything it starts and every temporary directory is
# removed on exit, failure included.
#
#   bash tests/tool_test.sh      (or: make tool-test)
#
# Prints "ok NAME", "FAIL NAME: why" or "SKIP NAME: why" per case, then
# "tool: N passed, N failed, N skipped"; exits 1 if any case failed.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CMD=$ROOT/build/reuseport-shim
LIB=$ROOT/build/libreuseport_shim.so

npass=0 nfail=0 nskip=0
ok()   { echo "ok $1"; npass=$((npass + 1)); }
fail() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }
skip() { echo "SKIP $1: $2"; nskip=$((nskip + 1)); }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tool_test.XXXXXX") || exit 1
TMP=$(cd "$TMP" && pwd -P)	# LD_PRELOAD holds resolved paths
PIDS=()		# servers we started (our children)
OWNERS=()	# owner processes they started (detached, not our children)

cleanup() {
	local p n
	# "${a[@]+...}": an empty array is "unbound" to bash < 4.4 under -u.
	for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null; done
	for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null; done
	# An owner exits when its last member is gone; give it a moment,
	# then end it ourselves rather than leave it holding a port.
	for p in ${OWNERS[@]+"${OWNERS[@]}"}; do
		n=0
		while kill -0 "$p" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.05; n=$((n + 1))
		done
		kill "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Retry "$@" every 50 ms for up to 5 s: readiness, never a fixed sleep.
wait_for() {
	local n=0
	until "$@"; do
		n=$((n + 1))
		[ $n -ge 100 ] && return 1
		sleep 0.05
	done
}

# The environment the tests control, and nothing inherited that would
# change what the command does.
unset LD_PRELOAD REUSEPORT_SHIM_LIB REUSEPORT_SHIM_PORTS REUSEPORT_SHIM_POLICY \
    REUSEPORT_SHIM_LOG REUSEPORT_SHIM_LINGER_MS
RV=$TMP/rv
mkdir "$RV" && chmod 700 "$RV"
export REUSEPORT_SHIM_DIR=$RV REUSEPORT_SHIM_MODE=emulate

if [ ! -x "$CMD" ] || [ ! -f "$LIB" ]; then
	if ! make -C "$ROOT" -s all >"$TMP/make.log" 2>&1; then
		fail build "make all failed: $(tail -3 "$TMP/make.log")"
		echo "tool: $npass passed, $nfail failed, $nskip skipped"
		exit 1
	fi
fi
RLIB=$(cd "$(dirname "$LIB")" && pwd -P)/$(basename "$LIB")

PY=
if command -v python3 >/dev/null 2>&1; then
	# The interpreter itself, not a wrapper script (pyenv): the pid we
	# start must be the server's.
	PY=$(python3 -c 'import sys; print(sys.executable)')
fi

# --- run --------------------------------------------------------------

t=run_sets_environment
out=$("$CMD" run --policy hash --ports 8080,tcp:[::1]:9090 --log warn \
    --linger=250 --dir "$RV" --mode emulate -- env 2>"$TMP/err")
rc=$?
why=
[ $rc -eq 0 ] || why="exit $rc: $(cat "$TMP/err")"
for want in REUSEPORT_SHIM_POLICY=hash \
    "REUSEPORT_SHIM_PORTS=8080,tcp:[::1]:9090" REUSEPORT_SHIM_LOG=warn \
    REUSEPORT_SHIM_LINGER_MS=250 "REUSEPORT_SHIM_DIR=$RV" \
    REUSEPORT_SHIM_MODE=emulate "LD_PRELOAD=$RLIB"; do
	grep -qxF -- "$want" <<<"$out" || why="${why:+$why; }no $want"
done
[ -z "$why" ] && ok $t || fail $t "$why"

t=run_prepends_preload
out=$(LD_PRELOAD=/nonexistent/other.so "$CMD" run -- env 2>/dev/null |
    grep '^LD_PRELOAD=')
[ "$out" = "LD_PRELOAD=$RLIB /nonexistent/other.so" ] && ok $t ||
    fail $t "got \"$out\""

t=run_no_duplicate_preload
out=$(LD_PRELOAD="$RLIB" "$CMD" run -- env | grep '^LD_PRELOAD=')
[ "$out" = "LD_PRELOAD=$RLIB" ] && ok $t || fail $t "got \"$out\""

t=run_refuses_bad_values
why=
while read -r opt val; do
	"$CMD" run "$opt" "$val" -- true 2>"$TMP/err"
	rc=$?
	if [ $rc -ne 2 ]; then
		why="${why:+$why; }$opt $val: exit $rc, not 2"
	elif ! grep -qF -- "$opt: \"$val\" is not understood; it takes" \
	    "$TMP/err"; then
		why="${why:+$why; }$opt $val: said \"$(head -1 "$TMP/err")\""
	fi
done <<'EOF'
--policy fastest
--ports 0
--ports 8080,
--ports tcp:localhost:80
--mode sometimes
--dir relative/dir
--log loud
--linger -1
--linger 86400001
EOF
"$CMD" run --frobnicate -- true 2>"$TMP/err"
rc=$?
{ [ $rc -eq 2 ] && grep -q -- '--frobnicate' "$TMP/err"; } ||
    why="${why:+$why; }--frobnicate: exit $rc, \"$(head -1 "$TMP/err")\""
"$CMD" run --policy 2>"$TMP/err"
rc=$?
{ [ $rc -eq 2 ] && grep -q -- '--policy: needs a value' "$TMP/err"; } ||
    why="${why:+$why; }--policy without value: exit $rc"
[ -z "$why" ] && ok $t || fail $t "$why"

t=run_missing_program
why=
for prog in "$TMP/no/such/program" no-such-program-$$; do
	"$CMD" run -- "$prog" 2>"$TMP/err"
	rc=$?
	{ [ $rc -eq 127 ] && grep -qF -- "$prog" "$TMP/err"; } ||
	    why="${why:+$why; }$prog: exit $rc, \"$(head -1 "$TMP/err")\""
done
[ -z "$why" ] && ok $t || fail $t "$why"

t=run_missing_library
REUSEPORT_SHIM_LIB=$TMP/nope.so "$CMD" run -- true 2>"$TMP/err"
rc=$?
{ [ $rc -eq 1 ] && grep -q REUSEPORT_SHIM_LIB "$TMP/err"; } && ok $t ||
    fail $t "exit $rc, \"$(head -1 "$TMP/err")\""

# --- version --------------------------------------------------------------

t=version
out=$("$CMD" --version 2>&1)
grep -qE '^reuseport-shim [0-9]+\.[0-9]+.* \(wire protocol [0-9]+\)$' <<<"$out" &&
    ok $t || fail $t "\"$out\""

# --- stat without groups -----------------------------------------------

t=stat_no_groups
out=$("$CMD" stat 2>&1)
rc=$?
want="no groups for uid $(id -u) in $RV"
{ [ $rc -eq 0 ] && [ "$out" = "$want" ]; } && ok $t ||
    fail $t "exit $rc, \"$out\""

t=stat_missing_directory
out=$(REUSEPORT_SHIM_DIR=$TMP/missing "$CMD" stat 2>&1)
rc=$?
{ [ $rc -eq 0 ] && [ "$out" = "no groups for uid $(id -u) in $TMP/missing" ] &&
    [ ! -e "$TMP/missing" ]; } && ok $t || fail $t "exit $rc, \"$out\""

t=stat_refuses_open_directory
mkdir "$TMP/open" && chmod 777 "$TMP/open"
REUSEPORT_SHIM_DIR=$TMP/open "$CMD" stat >/dev/null 2>"$TMP/err"
rc=$?
{ [ $rc -eq 1 ] && grep -q writable "$TMP/err"; } && ok $t ||
    fail $t "exit $rc, \"$(head -1 "$TMP/err")\""

if [ -n "$PY" ]; then
	t=stat_stale_socket
	ST=$TMP/stale
	mkdir "$ST" && chmod 700 "$ST"
	# A socket file nobody listens on, as a crashed owner leaves it, and
	# one being bound (".<pid>-<n>"), which stat must not take for a group.
	"$PY" - "$ST" <<'EOF'
import socket, sys
for name in ("tcp4-127.0.0.1-1", "tcp4-127.0.0.1-2.4242-0"):
    s = socket.socket(socket.AF_UNIX)
    s.bind(sys.argv[1] + "/" + name)
    s.close()
EOF
	out=$(REUSEPORT_SHIM_DIR=$ST "$CMD" stat 2>&1)
	rc=$?
	js=$(REUSEPORT_SHIM_DIR=$ST "$CMD" stat --json 2>&1)
	n=$("$PY" -c 'import json, sys; d = json.load(sys.stdin)
print(len(d), d[0]["stale"], d[0]["port"])' <<<"$js" 2>&1)
	{ [ $rc -eq 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] &&
	    grep -q '^tcp 127.0.0.1:1  stale' <<<"$out" &&
	    [ "$n" = "1 True 1" ]; } && ok $t ||
	    fail $t "exit $rc, \"$out\", json: $n"
	# --dir names the directory as run --dir does, over the variable.
	t=stat_dir_option
	out=$(REUSEPORT_SHIM_DIR=$TMP/missing "$CMD" stat --dir "$ST" 2>&1)
	grep -q '^tcp 127.0.0.1:1  stale' <<<"$out" && ok $t ||
	    fail $t "stat --dir $ST: \"$out\""
else
	skip stat_stale_socket "no python3"
	skip stat_dir_option "no python3"
fi

# --- four unmodified servers on one port -------------------------------

PORT=
if [ -n "$PY" ]; then
	PORT=$("$PY" -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

answers() {
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" 2>/dev/null ||
	    "$PY" -c 'import sys, urllib.request as u
u.urlopen(sys.argv[1], timeout=1).read()' "http://127.0.0.1:$PORT/" \
	    2>/dev/null
}

# "owner PID DELIVERED", then "PID STATE DELIVERED" per member, of the
# group on $PORT, from stat --json.
members() {
	"$CMD" stat --json 2>/dev/null | "$PY" -c 'import json, sys
for g in json.load(sys.stdin):
    if g["port"] == int(sys.argv[1]) and not g["stale"]:
        print("owner", g["owner_pid"], g["delivered"])
        for m in g["members"]:
            print(m["pid"], m["state"], m["delivered"])' "$PORT"
}

# Nothing waiting for a member and nothing sent to one left to take.
quiet() {
	"$CMD" stat --json 2>/dev/null | "$PY" -c 'import json, sys
for g in json.load(sys.stdin):
    if g["port"] == int(sys.argv[1]) and not g["stale"]:
        sys.exit(g["waiting"] != 0 or
                 any(m["unacked"] != 0 for m in g["members"]))
sys.exit(1)' "$PORT"
}

four_listening() {
	[ "$(members | grep -c ' listening ')" -eq 4 ]
}

t=run_four_servers_one_port
if [ -z "$PY" ]; then
	skip $t "no python3"
else
	mkdir "$TMP/www" && echo hello >"$TMP/www/index.html"
	for i in 1 2 3 4; do
		(cd "$TMP/www" && exec "$CMD" run --ports "$PORT" -- "$PY" \
		    -m http.server "$PORT" --bind 127.0.0.1 \
		    >"$TMP/srv$i.log" 2>&1) &
		PIDS+=($!)
	done
	# Four listening first, then one request: a probe that timed out
	# while the servers started would come in close to the next one, and
	# two connections close together may make a round-robin run, after
	# which a pass is only exact within that run.
	why=
	wait_for four_listening ||
	    why="not 4 listening members: $(members | tr '\n' ' ')"
	[ -z "$why" ] && { wait_for answers || why="port $PORT never answered"; }
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || why="${why:+$why; }server $p exited"
	done
	[ -z "$why" ] && ok $t || fail $t "$why $(cat "$TMP"/srv*.log | tail -5)"
	OWNERS+=($(members | awk '$1 == "owner" { print $2 }'))

	t=servers_answer_requests
	# A readiness probe that timed out may still be on its way to a
	# member: count from when nothing is in flight.
	wait_for quiet
	before=$(members)
	got=$("$PY" - "$PORT" <<'EOF' 2>&1
import sys, urllib.request as u
n = 0
for _ in range(40):
    with u.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=5) as r:
        n += r.status == 200 and r.read() == b"hello\n"
print(n)
EOF
)
	[ "$got" = 40 ] && ok $t || fail $t "40 requests, $got answered"

	t=all_four_served
	after=$(members)
	why=$("$PY" - "$before" "$after" <<'EOF'
import sys
def parse(s):
    d = {}
    for line in s.splitlines():
        f = line.split()
        d[f[0] if f[0] != "owner" else "owner"] = int(f[-1])
    return d
b, a = parse(sys.argv[1]), parse(sys.argv[2])
why = []
if a.get("owner", 0) - b.get("owner", 0) != 40:
    why.append("group delivered %d more, not 40" % (a["owner"] - b["owner"]))
for pid in a:
    if pid != "owner" and a[pid] - b.get(pid, 0) != 10:
        why.append("pid %s delivered %d more, not 10 (roundrobin is exact)"
                   % (pid, a[pid] - b.get(pid, 0)))
print("; ".join(why))
EOF
)
	for i in 1 2 3 4; do
		grep -q '"GET / HTTP' "$TMP/srv$i.log" ||
		    why="${why:+$why; }server $i logged no request"
	done
	[ -z "$why" ] && ok $t || fail $t "$why"

	t=stat_shows_group
	out=$("$CMD" stat 2>&1)
	rc=$?
	why=
	[ $rc -eq 0 ] || why="exit $rc"
	grep -qE "^tcp 127\.0\.0\.1:$PORT  policy roundrobin  owner pid [0-9]+  up [0-9]+s  delivered [0-9]+  waiting 0  run [0-9]+  standby pid [0-9]+$" <<<"$out" ||
	    why="${why:+$why; }no group line"
	[ "$(grep -cE '^  pid [0-9]+  listening  delivered [0-9]+  unacked 0' <<<"$out")" -eq 4 ] ||
	    why="${why:+$why; }not 4 listening member lines"
	[ "$(grep -c '  first' <<<"$out")" -eq 1 ] ||
	    why="${why:+$why; }not exactly one first member"
	# The members are the servers themselves: run exec'd into them.
	pids=$(grep -oE '^  pid [0-9]+' <<<"$out" | awk '{ print $2 }' | sort)
	[ "$pids" = "$(printf '%s\n' "${PIDS[@]}" | sort)" ] ||
	    why="${why:+$why; }member pids $(echo $pids) are not the servers ${PIDS[*]}"
	[ -z "$why" ] && ok $t || fail $t "$why; output: $out"

	t=stat_json_parses
	"$CMD" stat --json >"$TMP/stat.json" 2>"$TMP/err"
	rc=$?
	{ [ $rc -eq 0 ] && "$PY" -m json.tool "$TMP/stat.json" >/dev/null; } &&
	    ok $t || fail $t "exit $rc: $(cat "$TMP/err" "$TMP/stat.json")"

	t=group_ends_with_its_members
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	gone() {
		[ ! -e "$RV/tcp4-127.0.0.1-$PORT" ] &&
		    ! kill -0 "${OWNERS[0]:-0}" 2>/dev/null
	}
	out=
	wait_for gone && out=$("$CMD" stat 2>&1)
	[ "$out" = "no groups for uid $(id -u) in $RV" ] && ok $t ||
	    fail $t "socket or owner left: $(ls "$RV") / \"$out\""
fi

# --- install ----------------------------------------------------------

t=install_run_uninstall
D=$TMP/inst
why=
if ! make -C "$ROOT" install DESTDIR="$D" PREFIX=/usr >"$TMP/inst.log" 2>&1; then
	why="make install failed: $(tail -3 "$TMP/inst.log")"
else
	for f in bin/reuseport-shim lib/libreuseport_shim.so \
	    include/reuseport_shim.h share/man/man1/reuseport-shim.1 \
	    share/man/man7/reuseport-shim.7 lib/pkgconfig/reuseport-shim.pc; do
		[ -f "$D/usr/$f" ] || why="${why:+$why; }no /usr/$f"
	done
	grep -qx 'prefix=/usr' "$D/usr/lib/pkgconfig/reuseport-shim.pc" ||
	    why="${why:+$why; }pkg-config prefix is not /usr"
	# The installed command finds the installed library (../lib);
	# REUSEPORT_SHIM_LIB was unset above.
	out=$("$D/usr/bin/reuseport-shim" run -- env |
	    grep '^LD_PRELOAD=')
	[ "$out" = "LD_PRELOAD=$D/usr/lib/libreuseport_shim.so" ] ||
	    why="${why:+$why; }installed command preloads \"$out\""
	"$D/usr/bin/reuseport-shim" run -- true ||
	    why="${why:+$why; }installed run -- true failed"
	if ! make -C "$ROOT" uninstall DESTDIR="$D" PREFIX=/usr \
	    >"$TMP/inst.log" 2>&1; then
		why="${why:+$why; }make uninstall failed"
	fi
	left=$(find "$D" ! -type d)
	[ -z "$left" ] || why="${why:+$why; }left after uninstall: $left"
fi
[ -z "$why" ] && ok $t || fail $t "$why"

# --- man pages --------------------------------------------------------

for sec in 1 7; do
	t=man_page_$sec
	page=$ROOT/man/reuseport-shim.$sec
	if ! command -v man >/dev/null 2>&1 || ! command -v groff >/dev/null 2>&1; then
		skip $t "man or groff not installed"
		continue
	fi
	out=$(MANWIDTH=80 man -l "$page" 2>"$TMP/err" | cat)
	w=$(groff -man -ww -z "$page" 2>&1)
	if [ -s "$TMP/err" ] || [ -n "$w" ]; then
		fail $t "warnings: $(cat "$TMP/err") $w"
	elif ! grep -q "^REUSEPORT-SHIM($sec)" <<<"$out" ||
	    ! grep -q '^SEE ALSO' <<<"$out"; then
		fail $t "did not render: $(head -3 <<<"$out")"
	else
		ok $t
	fi
done

# --- the README's examples -------------------------------------------

# tests/tool_readme.sh runs each command block of README.md as written
# and checks what the README says of it; its cases count here.  Into a
# file, not a pipe: an owner keeps the stderr it was started with.
bash "$HERE/tool_readme.sh" >"$TMP/readme.out" 2>&1
grep -v '^readme examples: ' "$TMP/readme.out"
sum=$(sed -n 's/^readme examples: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' \
    "$TMP/readme.out")
if [ -n "$sum" ]; then
	read -r p f s <<<"$sum"
	npass=$((npass + p)) nfail=$((nfail + f)) nskip=$((nskip + s))
else
	fail readme_examples "tests/tool_readme.sh gave no summary line"
fi

echo "tool: $npass passed, $nfail failed, $nskip skipped"
[ $nfail -eq 0 ]
