#!/usr/bin/env bash
# tool_test.sh: the reuseport-shim command (run, stat, stop; TCP and UDP
# groups), make install and uninstall, the man pages, and the README's
# examples (tool_readme.sh).  UDP output is checked against owners of the
# test's own as well as live groups, so that it is tested whatever the
# library does.
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
	# Owners ignore signals: ask any group a failed case left to end.
	[ -x "$CMD" ] && [ -d "$RV" ] && "$CMD" stop all >/dev/null 2>&1
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
. "$HERE/tool_lib.sh"

# The environment the tests control, and nothing inherited that would
# change what the command does.
unset LD_PRELOAD REUSEPORT_SHIM_LIB REUSEPORT_SHIM_PORTS REUSEPORT_SHIM_POLICY \
    REUSEPORT_SHIM_LOG REUSEPORT_SHIM_LINGER_MS REUSEPORT_SHIM_UDP
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

t=run_sets_udp_environment
out=$("$CMD" run --udp shared --ports udp:5353,udp:127.0.0.1:53,udp:[::1]:53,8080 \
    -- env 2>"$TMP/err")
rc=$?
why=
[ $rc -eq 0 ] || why="exit $rc: $(cat "$TMP/err")"
for want in REUSEPORT_SHIM_UDP=shared \
    "REUSEPORT_SHIM_PORTS=udp:5353,udp:127.0.0.1:53,udp:[::1]:53,8080"; do
	grep -qxF -- "$want" <<<"$out" || why="${why:+$why; }no $want"
done
for way in hash srcip roundrobin; do
	out=$("$CMD" run --udp="$way" -- env 2>&1 | grep '^REUSEPORT_SHIM_UDP=')
	[ "$out" = "REUSEPORT_SHIM_UDP=$way" ] ||
	    why="${why:+$why; }--udp=$way: \"$out\""
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
--udp leastloaded
--udp fastest
--ports udp:0
--ports udp:localhost:53
--ports udp:[::1]53
--ports sctp:53
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

# --- UDP: stat and stop against owners of our own --------------------

# An owner that answers STAT with records written here and ends at STOP,
# so that the command's UDP output is checked whatever the library does:
# fakeowner.py DIR NAME MODE VERSION.  The records are proto.h's (96
# bytes, host order; the enums' values are written out: a change there
# fails these cases, which is the point).  MODE: udp (hash, counts past
# 32 bits), shared, and confused owners the command must refuse:
# udpleast (leastloaded, TCP's only, on a UDP group), mismatch (a TCP
# group at a udp name), badflag (STAT_G_UDP 2), negdrops (a member's
# drops < 0).
cat >"$TMP/fakeowner.py" <<'EOF'
import os, socket, struct, sys
d, name, mode, ver = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
REC_STAT, REC_STAT_GROUP, REC_STAT_EP, REC_STOP = 8, 9, 10, 13
HASH, LEASTLOADED, SHARED = 1, 3, 4

def rec(typ, seq, arg, fam=0, port=0, addr=b"", opts=()):
    b = struct.pack("=IBBHIi", 0x48535052, ver, typ, 0, seq, arg)
    b += struct.pack("=H", fam) + struct.pack("!H", port)
    b += struct.pack("=II", 0, 0) + addr.ljust(16, b"\0")
    b += struct.pack("=I", len(opts)) + struct.pack("=%di" % len(opts), *opts)
    return b.ljust(96, b"\0")

v6 = name[3] == "6"
host, port = name[5:].rsplit("-", 1)
fam = socket.AF_INET6 if v6 else socket.AF_INET
addr = socket.inet_pton(fam, host)
udp = {"mismatch": 0, "badflag": 2}.get(mode, 1)
policy = {"shared": SHARED, "udpleast": LEASTLOADED,
          "mismatch": 0}.get(mode, HASH)
kept = policy != SHARED
# POLICY UPTIME DELIVERED_LO/HI WAITING LINGER RUN STANDBY TAKEOVERS UDP
# DROPS_LO/HI
g = [policy, 5, 40 if kept else 0, 0, 0, 0, 0, 0, 0, udp,
     3 if kept else 0, 1 if kept else 0]
# STATE UNACKED DELIVERED_LO/HI IDLE FIRST BUSY PID0..3 DROPS
ms = [(1, 111, [2, 0, 25 if kept else 0, 0, 0, 1, 0, 111, 0, 0, 0,
                3 if kept else 0]),
      (2, 222, [2, 0, 15 if kept else 0, 0, 0, 0, 0, 333, 0, 0, 0,
                -1 if mode == "negdrops" else 0])]
answer = rec(REC_STAT_GROUP, os.getpid(), len(ms), fam, int(port), addr, g)
for seq, pid, o in ms:
    answer += rec(REC_STAT_EP, seq, pid, opts=o)

path = os.path.join(d, name)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
while True:
    c, _ = s.accept()
    req = b""
    while len(req) < 96:
        b = c.recv(96 - len(req))
        if not b:
            break
        req += b
    if len(req) == 96 and req[5] == REC_STOP:
        os.unlink(path)
        c.close()
        sys.exit(0)
    if len(req) == 96 and req[5] == REC_STAT:
        c.sendall(answer)
    c.close()
EOF
PROTO_VER=$(sed -n 's/^#define[[:space:]]*REUSEPORT_SHIM_PROTO_VERSION[[:space:]]*\([0-9]*\).*/\1/p' \
    "$ROOT/include/reuseport_shim.h")

# A reason more for the case's failure.
add_why() { why="${why:+$why; }$*"; }

# Start a fake owner of NAME in MODE in directory $1; its pid in FAKE.
fake_owner() {
	"$PY" "$TMP/fakeowner.py" "$1" "$2" "$3" "$PROTO_VER" \
	    >"$TMP/fake.log" 2>&1 &
	FAKE=$!
	PIDS+=($FAKE)
	wait_for test -S "$1/$2"
}

if [ -z "$PY" ]; then
	for t in stat_udp_stale_socket stat_udp_group stat_udp_json \
	    stat_udp_shared stat_refuses_confused_owner stop_udp; do
		skip $t "no python3"
	done
else
	FK=$TMP/fake
	mkdir "$FK" && chmod 700 "$FK"

	t=stat_udp_stale_socket
	ST=$TMP/ustale
	mkdir "$ST" && chmod 700 "$ST"
	"$PY" - "$ST" <<'EOF'
import socket, sys
for name in ("udp4-127.0.0.1-1", "udp4-127.0.0.1-2.4242-0", "udp6-::1-3",
             "udp5-127.0.0.1-4", "udp4-::1-5"):
    s = socket.socket(socket.AF_UNIX)
    s.bind(sys.argv[1] + "/" + name)
    s.close()
EOF
	out=$("$CMD" stat --dir "$ST" 2>&1)
	rc=$?
	js=$("$CMD" stat --json --dir "$ST" 2>&1)
	n=$("$PY" -c 'import json, sys; d = json.load(sys.stdin)
print(len(d), " ".join("%s/%s/%s/%s" % (g["protocol"], g["family"], g["port"],
      g["stale"]) for g in d))' <<<"$js" 2>&1)
	want="udp 127.0.0.1:1  stale: nobody answers at $ST/udp4-127.0.0.1-1 (its owner died)
udp [::1]:3  stale: nobody answers at $ST/udp6-::1-3 (its owner died)"
	{ [ $rc -eq 0 ] && [ "$out" = "$want" ] &&
	    [ "$n" = "2 udp/inet/1/True udp/inet6/3/True" ]; } && ok $t ||
	    fail $t "exit $rc, \"$out\", json: $n"

	t=stat_udp_group
	fake_owner "$FK" udp4-127.0.0.1-5353 udp
	f4=$FAKE
	fake_owner "$FK" udp6-::1-5353 udp
	f6=$FAKE
	out=$("$CMD" stat --dir "$FK" 2>&1)
	rc=$?
	# Sorted by socket name: udp4 before udp6.
	want="udp 127.0.0.1:5353  policy hash  owner pid $f4  up 5s  delivered 40  drops 4294967299
  pid 111  delivered 25  drops 3  first
  pid 222  delivered 15  drops 0  receiving 333
udp [::1]:5353  policy hash  owner pid $f6  up 5s  delivered 40  drops 4294967299
  pid 111  delivered 25  drops 3  first
  pid 222  delivered 15  drops 0  receiving 333"
	{ [ $rc -eq 0 ] && [ "$out" = "$want" ]; } && ok $t ||
	    fail $t "exit $rc; got:
$out
want:
$want"

	t=stat_udp_json
	js=$("$CMD" stat --json --dir "$FK" 2>&1)
	rc=$?
	why=$("$PY" -c 'import json, sys
d = json.load(sys.stdin)
want = {"protocol": "udp", "family": "inet", "address": "127.0.0.1",
        "port": 5353, "stale": False, "policy": "hash", "uptime_s": 5,
        "delivered": 40, "drops": 4294967299, "linger_ms": 0,
        "standby_pid": 0, "takeovers": 0}
why = []
if len(d) != 2 or d[1]["family"] != "inet6" or d[1]["address"] != "::1":
    why.append("not the two groups, inet then inet6")
for k, v in want.items():
    if d[0].get(k) != v:
        why.append("%s: %r, not %r" % (k, d[0].get(k), v))
for k in ("waiting", "run"):
    if k in d[0]:
        why.append("a TCP figure, %s, in a UDP group" % k)
m = [(x["id"], x["pid"], x["delivered"], x["drops"], x["first"],
      x["receiving"]) for x in d[0]["members"]]
if m != [(1, 111, 25, 3, True, [111]), (2, 222, 15, 0, False, [333])]:
    why.append("members %r" % m)
print("; ".join(why))' <<<"$js" 2>&1)
	{ [ $rc -eq 0 ] && [ -z "$why" ]; } && ok $t ||
	    fail $t "exit $rc: $why: $js"

	t=stop_udp
	why=
	# A bare port is TCP's: no match, and a hint at the UDP group.
	"$CMD" stop --dir "$FK" 5353 >"$TMP/out" 2>"$TMP/err"
	rc=$?
	{ [ $rc -eq 1 ] && [ ! -s "$TMP/out" ] &&
	    grep -qF 'matches (a udp group is named udp:PORT)' "$TMP/err"; } ||
	    add_why "stop 5353: exit $rc, \"$(cat "$TMP/out" "$TMP/err")\""
	"$CMD" stop --dir "$FK" udp:127.0.0.2:5353 tcp:127.0.0.1:5353 \
	    >"$TMP/out" 2>"$TMP/err"
	rc=$?
	{ [ $rc -eq 1 ] && [ ! -s "$TMP/out" ]; } ||
	    add_why "stop udp:127.0.0.2:5353: exit $rc, \"$(cat "$TMP/out")\""
	out=$("$CMD" stop --dir "$FK" udp:127.0.0.1:5353 2>&1)
	rc=$?
	{ [ $rc -eq 0 ] && [ "$out" = "stopped udp 127.0.0.1:5353" ] &&
	    [ ! -e "$FK/udp4-127.0.0.1-5353" ] && [ -e "$FK/udp6-::1-5353" ]; } ||
	    add_why "stop udp:127.0.0.1:5353: exit $rc, \"$out\""
	out=$("$CMD" stop --dir "$FK" udp:5353 2>&1)
	rc=$?
	{ [ $rc -eq 0 ] && [ "$out" = "stopped udp [::1]:5353" ] &&
	    [ ! -e "$FK/udp6-::1-5353" ]; } ||
	    add_why "stop udp:5353: exit $rc, \"$out\""
	for a in udp: udp:0 udp:localhost:53 udp:[::1]53 sctp:53; do
		"$CMD" stop --dir "$FK" "$a" >/dev/null 2>"$TMP/err"
		rc=$?
		{ [ $rc -eq 2 ] && grep -qF "udp:ADDRESS:PORT" "$TMP/err"; } ||
		    add_why "stop $a: exit $rc, \"$(head -1 "$TMP/err")\""
	done
	[ -z "$why" ] && ok $t || fail $t "$why"

	t=stat_udp_shared
	fake_owner "$FK" udp4-127.0.0.1-5354 shared
	out=$("$CMD" stat --dir "$FK" 2>&1)
	rc=$?
	want="udp 127.0.0.1:5354  policy shared  owner pid $FAKE  up 5s  shared: members read the socket directly
  pid 111  first
  pid 222  receiving 333"
	js=$("$CMD" stat --json --dir "$FK" 2>&1)
	n=$("$PY" -c 'import json, sys; g = json.load(sys.stdin)[0]
print(g["policy"], g["delivered"], g["drops"],
      [(m["delivered"], m["drops"]) for m in g["members"]])' <<<"$js" 2>&1)
	{ [ $rc -eq 0 ] && [ "$out" = "$want" ] &&
	    [ "$n" = "shared None None [(None, None), (None, None)]" ]; } &&
	    ok $t || fail $t "exit $rc, \"$out\", json: $n"
	"$CMD" stop --dir "$FK" all >/dev/null 2>&1

	t=stat_refuses_confused_owner
	why=
	while read -r name mode msg; do
		fake_owner "$FK" "$name" "$mode" ||
		    { add_why "$mode: no fake owner"; continue; }
		"$CMD" stat --dir "$FK" >"$TMP/out" 2>"$TMP/err"
		rc=$?
		{ [ $rc -eq 1 ] && grep -qF "$msg" "$TMP/err"; } ||
		    add_why "$mode: exit $rc, \"$(cat "$TMP/err")\""
		"$CMD" stop --dir "$FK" all >/dev/null 2>&1
	done <<'EOF'
udp4-127.0.0.1-5355 udpleast not a valid group record
udp4-127.0.0.1-5356 mismatch the owner answers for a tcp group at a udp group's name
udp4-127.0.0.1-5357 badflag not a valid group record
udp4-127.0.0.1-5358 negdrops not a valid member record
EOF
	[ -z "$why" ] && ok $t || fail $t "$why"
fi

# --- UDP: live groups ----------------------------------------------------

# Unmodified UDP servers that set SO_REUSEPORT, as the TCP servers above:
# each answers a datagram with its pid and the datagram, to the sender.
# udpserver.py ADDRESS PORT
cat >"$TMP/udpserver.py" <<'EOF'
import os, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
tag = b"%d " % os.getpid()
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(tag + data, peer)
EOF
# udpclient.py PORT N FLOWS: N datagrams to 127.0.0.1:PORT, one at a time,
# from FLOWS sockets in turn, each sent once the one before is answered.
# An answer is awaited for as long as it takes, up to one deadline for
# the whole run (30 s: a bound on a hang, never a pace; only a lost
# datagram reaches it); a datagram unanswered by then is lost, and so is
# each one after it (not sent).
# Prints "answered A lost L badsrc B", then "pid P N" per server that
# answered, then "flows K" (K: most servers any one flow reached).
cat >"$TMP/udpclient.py" <<'EOF'
import collections, socket, sys, time
port, n, nflows = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
dst = ("127.0.0.1", port)
deadline = time.monotonic() + 30
flows = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
         for _ in range(nflows)]
for f in flows:
    f.bind(("127.0.0.1", 0))


def answer(f, msg):
    """msg's answer on f: (data, src), or None at the deadline."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        f.settimeout(left)
        try:
            data, src = f.recvfrom(65536)
        except socket.timeout:
            return None
        # Only msg's answer counts, not another datagram's.
        if data.split(b" ", 1)[1] == msg:
            return data, src


answered = lost = badsrc = 0
pids = collections.Counter()
reached = collections.defaultdict(set)
for i in range(n):
    f = flows[i % nflows]
    msg = b"datagram %d" % i
    got = None
    if time.monotonic() < deadline:
        f.sendto(msg, dst)
        got = answer(f, msg)
    if got is None:
        lost += 1
        continue
    data, src = got
    # The answer must come from the group's address, as the kernel's.
    if src[:2] != dst:
        badsrc += 1
    answered += 1
    pid = int(data.split(b" ", 1)[0])
    pids[pid] += 1
    reached[i % nflows].add(pid)
print("answered %d lost %d badsrc %d" % (answered, lost, badsrc))
for p, c in sorted(pids.items()):
    print("pid %d %d" % (p, c))
print("flows %d" % max((len(s) for s in reached.values()), default=0))
EOF

# "owner PID DELIVERED DROPS POLICY", then "PID DELIVERED DROPS" per
# member, of the UDP group on port $1, from stat --json.
umembers() {
	"$CMD" stat --json 2>/dev/null | "$PY" -c 'import json, sys
for g in json.load(sys.stdin):
    if (g["protocol"] == "udp" and g["port"] == int(sys.argv[1]) and
            not g["stale"]):
        print("owner", g["owner_pid"], g["delivered"], g["drops"],
              g["policy"])
        for m in g["members"]:
            print(m["pid"], m["delivered"], m["drops"])' "$1"
}

# Wait for $2 members in the UDP group on port $1.
umembers_are() {
	[ "$(umembers "$1" | grep -vc '^owner ')" -eq "$2" ]
}

# Start $2 servers on 127.0.0.1:$1 with run's further options $3...;
# their pids in USRV.  0 once the group has them all, else 1 with why.
udp_servers() {
	local port=$1 n=$2 i dead
	shift 2
	USRV=()
	for i in $(seq "$n"); do
		"$CMD" run "$@" -- "$PY" "$TMP/udpserver.py" 127.0.0.1 \
		    "$port" >"$TMP/udp$port.$i.log" 2>&1 &
		PIDS+=($!)
		USRV+=($!)
	done
	if ! wait_for umembers_are "$port" "$n"; then
		why="no UDP group of $n members on 127.0.0.1:$port after 5 s"
		why="$why (stat: $("$CMD" stat 2>&1 | tr '\n' ' '))"
		dead=
		for i in "${USRV[@]}"; do
			kill -0 "$i" 2>/dev/null || dead="$dead $i"
		done
		[ -z "$dead" ] || why="$why; servers exited:$dead: $(cat \
		    "$TMP"/udp$port.*.log | tail -n 3 | tr '\n' ' ')"
		why="$why; UDP groups need the library's UDP support (shim/)"
		return 1
	fi
	OWNERS+=($(umembers "$port" | awk '$1 == "owner" { print $2 }'))
	return 0
}

# The UDP group on port $1 is gone: no socket, no owner $2.
ugone() {
	[ ! -e "$RV/udp4-127.0.0.1-$1" ] && ! kill -0 "${2:-0}" 2>/dev/null
}

udpport() {
	"$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ULIVE="udp_roundrobin_answers udp_roundrobin_counts udp_stat_text
    udp_stat_json udp_stop_bare_port_is_tcp udp_stop"
if [ -z "$PY" ]; then
	for t in udp_roundrobin_group $ULIVE udp_hash_group udp_hash_flow \
	    udp_group_ends_with_its_members udp_shared_group udp_shared_answers \
	    udp_stop_all; do
		skip $t "no python3"
	done
else
	UP=$(udpport)
	t=udp_roundrobin_group
	why=
	if udp_servers "$UP" 4 --udp roundrobin; then
		ok $t
		urr=1
	else
		fail $t "$why"
		urr=0
	fi
	uowner=$(umembers "$UP" | awk '$1 == "owner" { print $2 }')
fi
if [ -n "$PY" ] && [ "$urr" = 0 ]; then
	for t in $ULIVE; do
		skip $t "no live UDP group (udp_roundrobin_group failed)"
	done
elif [ -n "$PY" ]; then
	t=udp_roundrobin_answers
	before=$(umembers "$UP")
	out=$("$PY" "$TMP/udpclient.py" "$UP" 40 1 2>&1)
	why=
	grep -qx 'answered 40 lost 0 badsrc 0' <<<"$out" ||
	    why="$(head -1 <<<"$out")"
	for p in $(awk '$1 == "pid" { print $2 }' <<<"$out"); do
		printf '%s\n' "${USRV[@]}" | grep -qx "$p" ||
		    add_why "pid $p answered, not a server"
	done
	[ -z "$why" ] && ok $t || fail $t "$why; client: $(echo $out)"

	t=udp_roundrobin_counts
	# One datagram at a time: round-robin gives each of 4 exactly 10,
	# and the owner's counts agree with the servers' answers.
	after=$(umembers "$UP")
	why=$("$PY" - "$before" "$after" "$out" <<'EOF'
import sys
def parse(s):
    d = {}
    for line in s.splitlines():
        f = line.split()
        if f[0] == "owner":
            d["owner"] = (int(f[2]), int(f[3]))
        else:
            d[f[0]] = (int(f[1]), int(f[2]))
    return d
b, a = parse(sys.argv[1]), parse(sys.argv[2])
served = {}
for line in sys.argv[3].splitlines():
    f = line.split()
    if f[0] == "pid":
        served[f[1]] = int(f[2])
why = []
if a["owner"][0] - b["owner"][0] != 40:
    why.append("group delivered %d more, not 40"
               % (a["owner"][0] - b["owner"][0]))
if a["owner"][1] != 0:
    why.append("group drops %d, not 0" % a["owner"][1])
for pid in a:
    if pid == "owner":
        continue
    d = a[pid][0] - b.get(pid, (0, 0))[0]
    if d != 10:
        why.append("pid %s delivered %d more, not 10" % (pid, d))
    if d != served.get(pid, 0):
        why.append("pid %s delivered %d, answered %d"
                   % (pid, d, served.get(pid, 0)))
    if a[pid][1] != 0:
        why.append("pid %s drops %d" % (pid, a[pid][1]))
print("; ".join(why))
EOF
)
	[ -z "$why" ] && ok $t || fail $t "$why"

	t=udp_stat_text
	out=$("$CMD" stat 2>&1)
	rc=$?
	why=
	[ $rc -eq 0 ] || why="exit $rc"
	grep -qE "^udp 127\.0\.0\.1:$UP  policy roundrobin  owner pid $uowner  up [0-9]+s  delivered [0-9]+  drops 0  standby pid [0-9]+$" <<<"$out" ||
	    add_why "no group line"
	# The group's member lines: from its line to the next group's.
	ml=$(awk -v g="udp 127.0.0.1:$UP " 'index($0, g) == 1 { on = 1; next }
	    /^[^ ]/ { on = 0 } on' <<<"$out")
	[ "$(grep -cE '^  pid [0-9]+  delivered [0-9]+  drops 0( |$)' <<<"$ml")" -eq 4 ] ||
	    add_why "not 4 member lines"
	[ "$(grep -c '  first$' <<<"$ml")" -eq 1 ] ||
	    add_why "not exactly one first member"
	pids=$(grep -oE '^  pid [0-9]+' <<<"$ml" | awk '{ print $2 }' | sort)
	[ "$pids" = "$(printf '%s\n' "${USRV[@]}" | sort)" ] ||
	    add_why "member pids $(echo $pids) are not the servers ${USRV[*]}"
	[ -z "$why" ] && ok $t || fail $t "$why; output: $out"

	t=udp_stat_json
	"$CMD" stat --json >"$TMP/ustat.json" 2>"$TMP/err"
	rc=$?
	why=$("$PY" - "$UP" "$TMP/ustat.json" <<'EOF' 2>&1
import json, sys
d = json.load(open(sys.argv[2]))
g = [g for g in d if g["protocol"] == "udp" and g["port"] == int(sys.argv[1])]
why = []
if len(g) != 1:
    why.append("%d udp groups on the port" % len(g))
else:
    g = g[0]
    for k, v in (("family", "inet"), ("address", "127.0.0.1"),
                 ("policy", "roundrobin"), ("stale", False), ("drops", 0)):
        if g.get(k) != v:
            why.append("%s %r, not %r" % (k, g.get(k), v))
    if g.get("delivered") != sum(m["delivered"] for m in g["members"]):
        why.append("group delivered is not the members' sum")
    for m in g["members"]:
        if set(m) != {"id", "pid", "delivered", "drops", "first",
                      "receiving"}:
            why.append("member keys %s" % sorted(m))
            break
print("; ".join(why))
EOF
)
	{ [ $rc -eq 0 ] && [ -z "$why" ]; } && ok $t ||
	    fail $t "exit $rc: $why $(cat "$TMP/err")"

	t=udp_stop_bare_port_is_tcp
	"$CMD" stop "$UP" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	{ [ $rc -eq 1 ] && [ ! -s "$TMP/out" ] &&
	    grep -qF '(a udp group is named udp:PORT)' "$TMP/err" &&
	    umembers_are "$UP" 4; } && ok $t ||
	    fail $t "exit $rc, \"$(cat "$TMP/out" "$TMP/err")\""

	t=udp_stop
	out=$("$CMD" stop "udp:127.0.0.1:$UP" 2>&1)
	rc=$?
	why=
	{ [ $rc -eq 0 ] && [ "$out" = "stopped udp 127.0.0.1:$UP" ]; } ||
	    why="exit $rc, \"$out\""
	wait_for ugone "$UP" "$uowner" ||
	    add_why "socket or owner $uowner left: $(ls "$RV")"
	[ -z "$why" ] && ok $t || fail $t "$why"
	for p in "${USRV[@]}"; do kill "$p" 2>/dev/null; done
fi

if [ -n "$PY" ]; then
	# The default way, hash: one flow stays with one member.
	HP=$(udpport)
	t=udp_hash_group
	why=
	uhash=0
	if udp_servers "$HP" 2; then
		out=$("$CMD" stat 2>&1)
		grep -qE "^udp 127\.0\.0\.1:$HP  policy hash  " <<<"$out" &&
		    ok $t && uhash=1 ||
		    fail $t "no \"policy hash\" line: $out"
	else
		fail $t "$why"
	fi
	HSRV=(${USRV[@]+"${USRV[@]}"})
	howner=$(umembers "$HP" | awk '$1 == "owner" { print $2 }')

	t=udp_hash_flow
	if [ $uhash = 1 ]; then
		out=$("$PY" "$TMP/udpclient.py" "$HP" 40 4 2>&1)
		{ grep -qx 'answered 40 lost 0 badsrc 0' <<<"$out" &&
		    grep -qx 'flows 1' <<<"$out"; } && ok $t ||
		    fail $t "4 flows of 10: $(echo $out)"
	else
		skip $t "no live UDP group (udp_hash_group failed)"
	fi

	t=udp_group_ends_with_its_members
	if [ $uhash = 1 ]; then
		for p in "${HSRV[@]}"; do kill "$p" 2>/dev/null; done
		for p in "${HSRV[@]}"; do wait "$p" 2>/dev/null; done
		wait_for ugone "$HP" "$howner" && ok $t ||
		    fail $t "socket or owner $howner left: $(ls "$RV")"
	else
		skip $t "no live UDP group (udp_hash_group failed)"
	fi

	# shared: the owner forwards nothing, the members read the socket.
	SP=$(udpport)
	t=udp_shared_group
	why=
	ushared=0
	if udp_servers "$SP" 2 --udp shared; then
		out=$("$CMD" stat 2>&1)
		ml=$(awk -v g="udp 127.0.0.1:$SP " 'index($0, g) == 1 {
		    print; on = 1; next } /^[^ ]/ { on = 0 } on' <<<"$out")
		grep -qE "^udp 127\.0\.0\.1:$SP  policy shared  owner pid [0-9]+  up [0-9]+s  shared: members read the socket directly  standby pid [0-9]+$" <<<"$ml" ||
		    add_why "no shared group line"
		[ "$(grep -cE '^  pid [0-9]+(  receiving [0-9,]+)?(  first)?$' <<<"$ml")" -eq 2 ] ||
		    add_why "not 2 member lines without counts"
		n=$(umembers "$SP" | awk '{ print $3 }' | sort -u)
		[ "$n" = None ] || add_why "json delivered \"$(echo $n)\", not null"
		[ -z "$why" ] && ok $t && ushared=1 || fail $t "$why: $ml"
	else
		fail $t "$why"
	fi
	SSRV=(${USRV[@]+"${USRV[@]}"})
	sowner=$(umembers "$SP" | awk '$1 == "owner" { print $2 }')

	t=udp_shared_answers
	if [ $ushared = 1 ]; then
		out=$("$PY" "$TMP/udpclient.py" "$SP" 20 4 2>&1)
		why=
		grep -qx 'answered 20 lost 0 badsrc 0' <<<"$out" ||
		    why="$(head -1 <<<"$out")"
		for p in $(awk '$1 == "pid" { print $2 }' <<<"$out"); do
			printf '%s\n' "${SSRV[@]}" | grep -qx "$p" ||
			    add_why "pid $p answered, not a server"
		done
		[ -z "$why" ] && ok $t || fail $t "$why; client: $(echo $out)"
	else
		skip $t "no live UDP group (udp_shared_group failed)"
	fi

	t=udp_stop_all
	if [ $ushared = 1 ]; then
		out=$("$CMD" stop all 2>&1)
		rc=$?
		why=
		{ [ $rc -eq 0 ] && [ "$out" = "stopped udp 127.0.0.1:$SP" ]; } ||
		    why="exit $rc, \"$out\""
		wait_for ugone "$SP" "$sowner" ||
		    add_why "socket or owner $sowner left: $(ls "$RV")"
		[ -z "$why" ] && ok $t || fail $t "$why"
	else
		skip $t "no live UDP group (udp_shared_group failed)"
	fi
	for p in ${SSRV[@]+"${SSRV[@]}"}; do kill "$p" 2>/dev/null; done
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
