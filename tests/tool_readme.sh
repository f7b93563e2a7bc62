#!/usr/bin/env bash
# tool_readme.sh: every command block of README.md that a user would type,
# run as written, and what the README says of it checked.  tool_test.sh
# runs it (make tool-test, make test); alone: bash tests/tool_readme.sh.
#
# The blocks are read from README.md itself (its indented code blocks),
# each found by its first line, so that the text run is the text a reader
# sees; a block that no case below claims fails readme_blocks_claimed.
# What is changed in a block before it runs, and nothing else:
#   - "reuseport-shim" is the build's: a link to build/reuseport-shim is
#     first in PATH (the command finds the library beside its real self),
#     and "python3" is the interpreter itself (its directory next), not a
#     wrapper script whose pid would not be the server's;
#   - 8080, the README's port, is a port the kernel picked (bound to port
#     0, then closed): the block's text with the word 8080 replaced;
#   - /etc/nginx/nginx.conf is a configuration of the test's own (that
#     port, on 127.0.0.1, files in the temporary directory);
#   - /path/to/libreuseport_shim.so is the build's library, and
#     "your-server ..." the example server build/examples/evloop;
#   - "gmake install" gets DESTDIR (which the README says works), so that
#     nothing is written outside the temporary directory;
#   - "--mode emulate" is added to run where the README says to add it
#     on Linux (each of those blocks also runs without it, as written).
# The environment is a user's: no REUSEPORT_SHIM_* variable, and
# XDG_RUNTIME_DIR a fresh directory, so that the default rendezvous
# directory is this test's own.  Blocks for illumos alone (ld.so.1's
# LD_PRELOAD_64, SMF) say SKIP with the reason.
#
# Prints "ok NAME", "FAIL NAME: why" or "SKIP NAME: why" per case, then
# "readme examples: N passed, N failed, N skipped"; exits 1 if any failed.
# Everything it starts and its temporary directory go on exit.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
B=$ROOT/build
README=$ROOT/README.md

npass=0 nfail=0 nskip=0
ok()   { echo "ok $1"; npass=$((npass + 1)); }
fail() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }
skip() { echo "SKIP $1: $2"; nskip=$((nskip + 1)); }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tool_readme.XXXXXX") || exit 1
TMP=$(cd "$TMP" && pwd -P)

# Every process whose environment names our temporary directory: the
# servers, nginx's masters (a new master has only REUSEPORT_SHIM_DIR left
# of it) and workers, the owners.  Ours, whatever session they made.
ours() {
	local f p
	for f in /proc/[0-9]*/environ; do
		p=${f#/proc/}
		p=${p%/environ}
		[ "$p" = $$ ] && continue
		{ tr '\0' '\n' <"$f" | grep -qF "$TMP"; } 2>/dev/null &&
		    echo "$p"
	done
}

cleanup() {
	local p n=0
	p=$(ours)
	[ -n "$p" ] && kill $p 2>/dev/null
	while [ -n "$(ours)" ] && [ $n -lt 60 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	p=$(ours)
	[ -n "$p" ] && kill -KILL $p 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A reason more for the case's failure.
add() { why="${why:+$why; }$*"; }

# Retry "$@" every 50 ms for up to 5 s.
. "$HERE/tool_lib.sh"

unset LD_PRELOAD REUSEPORT_SHIM_LIB REUSEPORT_SHIM_MODE REUSEPORT_SHIM_DIR \
    REUSEPORT_SHIM_PORTS REUSEPORT_SHIM_POLICY REUSEPORT_SHIM_LOG \
    REUSEPORT_SHIM_LINGER_MS REUSEPORT_SHIM_SHADOWS REUSEPORT_SHIM_UDP
export XDG_RUNTIME_DIR=$TMP/xdg
mkdir -m 700 "$XDG_RUNTIME_DIR"
RV=$XDG_RUNTIME_DIR/reuseport-shim	# the default, as the README says

if [ ! -x "$B/reuseport-shim" ] || [ ! -f "$B/libreuseport_shim.so" ]; then
	if ! make -C "$ROOT" -s all >"$TMP/make.log" 2>&1; then
		fail build "make all failed: $(tail -3 "$TMP/make.log")"
		echo "readme examples: $npass passed, $nfail failed, $nskip skipped"
		exit 1
	fi
fi
RLIB=$(cd "$B" && pwd -P)/libreuseport_shim.so

PY=
command -v python3 >/dev/null 2>&1 &&
    PY=$(python3 -c 'import sys; print(sys.executable)')
mkdir "$TMP/bin"
ln -s "$B/reuseport-shim" "$TMP/bin/reuseport-shim"
PATH=$TMP/bin${PY:+:$(dirname "$PY")}:$PATH:/usr/sbin:/sbin
export PATH
NGINX=$(command -v nginx)

# --- the blocks ---------------------------------------------------------

# README.md's indented code blocks, each as "@@ LINE" and its lines (the
# four spaces of indentation taken off).
blocks() {
	awk '
	function flush() {
		while (n && b[n] == "") n--
		if (n) { print "@@ " start; for (i = 1; i <= n; i++) print b[i] }
		n = 0
	}
	/^    / && (prev == "" || n) {
		if (!n) start = NR
		b[++n] = substr($0, 5); prev = $0; next
	}
	/^$/ && n { b[++n] = ""; prev = $0; next }
	{ flush(); prev = $0 }
	END { flush() }' "$README"
}

# block FIRSTLINE: the block whose first line starts with FIRSTLINE, on
# stdout, and claimed (its line in $TMP/claimed: block runs in $(...));
# 1 (nothing printed) if README.md has none.
block() {
	local line
	line=$(blocks | awk -v want="$1" '
	    /^@@ / { start = $2; head = 1; next }
	    head { head = 0; if (index($0, want) == 1) { print start; exit } }')
	[ -n "$line" ] || return 1
	echo "$line" >>"$TMP/claimed"
	blocks | awk -v l="$line" '
	    /^@@ / { on = ($2 == l); next }
	    on { print }'
}

free_port() {
	"$PY" -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The block's text with the README's port replaced by $2.
with_port() { sed -E "s/(^|[^0-9])8080([^0-9]|$)/\\1$2\\2/g" <<<"$1"; }

# "owner PID", then "PID STATE DELIVERED ACCEPTING,..." per member (the
# pid that bound it, and those that accept on it lately), of the group
# on port $1 (any address), from stat --json.
members() {
	reuseport-shim stat --json 2>/dev/null | "$PY" -c 'import json, sys
for g in json.load(sys.stdin):
    if g["port"] == int(sys.argv[1]) and not g["stale"]:
        print("owner", g["owner_pid"])
        for m in g["members"]:
            print(m["pid"], m["state"], m["delivered"],
                  ",".join(str(p) for p in m.get("accepting", [])) or "-")
' "$1"
}

nmembers() { [ "$(members "$1" | grep -c ' listening ')" -eq "$2" ]; }
no_group() { [ -z "$(members "$1")" ]; }

http_get() { curl -s --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null; }
answers() { [ -n "$(http_get "$1")" ]; }
refused() { ! curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
no_owner_of() { ! pgrep -f "rpshim-owner .*127\.0\.0\.1:$1 " >/dev/null; }
children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' | sort; }
nchildren() { [ "$(children "$1" | grep -c .)" -eq "$2" ]; }

# --- Try it -------------------------------------------------------------

t=readme_make_demo
if ! text=$(block "make demo"); then
	fail $t "no block starting with 'make demo' in README.md"
else
	# "make demo" as written, from the checkout; "make test" is the run
	# this test is part of.
	demo=$(grep -x 'make demo' <<<"$text")
	out=$(cd "$ROOT" && eval "$demo" 2>&1)
	rc=$?
	# Two tables (the shim's, then the kernel's), 4 servers each, every
	# connection answered.
	why=
	[ $rc -eq 0 ] || why="exit $rc"
	[ "$(grep -c '^  answered 4000, failed 0' <<<"$out")" -eq 2 ] ||
	    add "not two tables with 4000 answered, 0 failed"
	grep -q '^under the shim' <<<"$out" ||
	    add "no table under the shim"
	grep -q "^the kernel's own SO_REUSEPORT" <<<"$out" ||
	    add "no table on the kernel's own SO_REUSEPORT"
	[ "$(grep -cE '^  [0-9]+ +[0-9]+ +[0-9.]+%$' <<<"$out")" -eq 8 ] ||
	    add "not 4 servers in each table"
	[ -z "$why" ] && ok $t || fail $t "$why: $(tail -12 <<<"$out")"
	grep -qx 'make test' <<<"$text" &&
	    skip readme_make_test "make test is the run this test is part of"
fi

# --- Using it: an unmodified daemon -------------------------------------

# ngx_conf PORT DIR [ENVBLOCK]: nginx.conf for the README's commands, with
# ENVBLOCK (the README's env lines) in its main context.
ngx_conf() {
	cat <<EOF
${3:-}
worker_processes 2;
pid $2/nginx.pid;
error_log $2/error.log notice;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $2/client_body;
	proxy_temp_path $2/proxy;
	fastcgi_temp_path $2/fastcgi;
	uwsgi_temp_path $2/uwsgi;
	scgi_temp_path $2/scgi;
	server {
		listen 127.0.0.1:$1 reuseport;
		location / { return 200 "\$pid\n"; }
	}
}
EOF
}

# ngx_block TEXT PORT DIR: the README's nginx lines of TEXT (those that
# start it, and stat) as a script for that port and configuration.
ngx_block() {
	with_port "$1" "$2" | sed "s|/etc/nginx/nginx.conf|$3/nginx.conf|g"
}

ngx_pid() { [ -s "$1/nginx.pid" ] && read -r NGX_PID <"$1/nginx.pid"; }

# ngx_quit DIR: nginx of DIR stopped (QUIT to its master) and gone.
ngx_quit() {
	local m
	[ -s "$1/nginx.pid" ] || return 0
	read -r m <"$1/nginx.pid"
	kill -QUIT "$m" 2>/dev/null
	wait_for gone "$m"
}

nginx_cases() {
	local text=$1 start stat stopl port d out rc why m w new old env n owner
	start=$(grep '^reuseport-shim run ' <<<"$text")
	stat=$(grep '^reuseport-shim stat' <<<"$text")
	stopl=$(grep '^reuseport-shim stop' <<<"$text")

	# As written: on Linux, auto hands the option to the kernel; nginx
	# serves and stat finds no groups.
	t=readme_nginx_auto
	port=$(free_port) d=$TMP/ng-auto
	mkdir "$d" && ngx_conf "$port" "$d" >"$d/nginx.conf"
	# Into a file: an owner keeps the stderr it was started with, and a
	# pipe would not close while it runs.
	eval "$(ngx_block "$start" "$port" "$d")" >"$d/run.out" 2>&1
	rc=$?
	why=
	[ $rc -eq 0 ] || why="run: exit $rc: $(cat "$d/run.out")"
	[ -z "$why" ] && ! wait_for answers "$port" &&
	    why="nginx never answered on port $port: $(tail -3 "$d/error.log")"
	out=$(eval "$stat" 2>&1)
	[ "$out" = "no groups for uid $(id -u) in $RV" ] ||
	    add "stat said: $out"
	ngx_quit "$d" || add "nginx did not stop on QUIT"
	[ -z "$why" ] && ok $t || fail $t "$why"

	# With --mode emulate, and the README's env lines in nginx.conf:
	# stat shows the group, whose members are nginx's workers.
	t=readme_nginx_emulate
	port=$(free_port) d=$TMP/ng-emulate
	env=$(block "env LD_PRELOAD;") || env=
	mkdir "$d" && ngx_conf "$port" "$d" "$env" >"$d/nginx.conf"
	start=${start/reuseport-shim run /reuseport-shim run --mode emulate }
	# (REUSEPORT_SHIM_LOG=info, in the environment: the upgrade below
	# reads what the shim did.)
	REUSEPORT_SHIM_LOG=info eval "$(ngx_block "$start" "$port" "$d")" \
	    >"$d/run.out" 2>&1
	rc=$?
	why=
	[ $rc -eq 0 ] || why="run --mode emulate: exit $rc: $(cat "$d/run.out")"
	if [ -z "$why" ] && ! wait_for answers "$port"; then
		why="nginx never answered on port $port"
		add "$(tail -3 "$d/error.log")"
	fi
	ngx_pid "$d" && m=$NGX_PID || m=
	[ -n "$m" ] && wait_for nchildren "$m" 2
	for _ in 1 2 3 4 5 6 7 8; do http_get "$port" >/dev/null; done
	out=$(eval "$stat" 2>&1)
	grep -qE "^tcp 127\.0\.0\.1:$port  policy roundrobin  owner pid [0-9]+ " \
	    <<<"$out" || add "no group line in: $out"
	[ "$(grep -cE '^  pid [0-9]+  listening' <<<"$out")" -eq 2 ] ||
	    add "not 2 listening members in: $out"
	# stat names the workers that accept on each member.
	w=$(members "$port" | awk '$1 != "owner" { print $4 }' | tr ',' '\n' |
	    sort -u)
	[ -n "$m" ] && [ "$w" = "$(children "$m")" ] ||
	    add "members $(echo $w), nginx ${m:-?}'s workers" \
	    "$([ -n "$m" ] && echo $(children "$m"))"
	[ -z "$why" ] && ok $t || fail $t "$why"
	[ -n "$m" ] || return

	# The env lines in nginx.conf: nginx's binary upgrade (USR2) keeps
	# the variables, the new master takes the listener over, and the
	# shim did not have to put the preload back (it adds only
	# REUSEPORT_SHIM_DIR, which was not set: XDG_RUNTIME_DIR chose the
	# directory, and nginx drops that).
	t=readme_nginx_env_upgrade
	why=
	if [ -z "$env" ]; then
		fail $t "no block starting with 'env LD_PRELOAD;' in README.md"
	else
		old=$m
		kill -USR2 "$old"
		pid_moved() {
			[ -f "$d/nginx.pid.oldbin" ] && ngx_pid "$d" &&
			    [ "$NGX_PID" != "$old" ]
		}
		# (nginx writes its title over its environment: the new
		# master's variables cannot be read from /proc.  Without the
		# shim it would bind the port itself, fail and exit.)
		owner=$(members "$port" | awk '$1 == "owner" { print $2 }')
		if ! wait_for pid_moved; then
			why="no new master: $(tail -3 "$d/error.log")"
		else
			new=$NGX_PID
			wait_for nchildren "$new" 2 ||
			    why="new master $new has no 2 workers"
			kill -QUIT "$old"
			wait_for gone "$old" ||
			    add "old master $old still there"
			w=$(children "$new")
			for _ in 1 2 3 4 5 6; do
				out=$(http_get "$port")
				grep -qxF "$out" <<<"$w" ||
				    add "answered by '$out'," \
				    "not by the new workers ($(echo $w))"
			done
			out=$(members "$port")
			[ "$(awk '$1 == "owner" { print $2 }' <<<"$out")" = \
			    "$owner" ] ||
			    add "not the same group after: $(echo $out)"
			out=$(cat "$d/run.out" "$d/error.log" |
			    grep 'exec of .*lacks the shim')
			grep -q 'added LD_PRELOAD' <<<"$out" &&
			    add "the shim had to add LD_PRELOAD: $out"
			m=$new
		fi
		[ -z "$why" ] && ok $t || fail $t "$why"
	fi

	# stop: the group ends (listener closed, owner and standby gone).
	t=readme_stop
	why=
	if [ -z "$stopl" ]; then
		fail $t "no 'reuseport-shim stop' line in the nginx block"
	else
		old=$(members "$port" | awk '$1 == "owner" { print $2 }')
		out=$(eval "$(with_port "$stopl" "$port")" 2>&1)
		rc=$?
		[ $rc -eq 0 ] && [ "$out" = "stopped tcp 127.0.0.1:$port" ] ||
		    why="exit $rc: $out"
		wait_for no_group "$port" || add "stat still shows it"
		[ -n "$old" ] && wait_for gone "$old" ||
		    add "owner '${old}' still there"
		# Its standby too (both are named after the group).
		wait_for no_owner_of "$port" ||
		    add "still running: $(pgrep -af "rpshim-owner .*:$port ")"
		refused "$port" || add "port $port still answers"
		# The workers' accept() fails, once: they do not spin on it.
		sleep 0.5
		n=$(grep -c 'accept4\?() failed' "$d/error.log")
		[ "$n" -le 8 ] ||
		    add "$n accept() failures in nginx's error.log"
		[ -z "$why" ] && ok $t || fail $t "$why"
	fi
	ngx_quit "$d"
}

if ! text=$(block "reuseport-shim run -- "); then
	fail readme_nginx \
	    "no block starting with 'reuseport-shim run -- ' in README.md"
elif [ -z "$NGINX" ]; then
	for t in readme_nginx_auto readme_nginx_emulate \
	    readme_nginx_env_upgrade readme_stop; do
		skip $t "nginx not installed (Debian: nginx-light)"
	done
	block "env LD_PRELOAD;" >/dev/null
elif [ -z "$PY" ] || ! command -v curl >/dev/null; then
	skip readme_nginx "no python3 or no curl"
	block "env LD_PRELOAD;" >/dev/null
else
	nginx_cases "$text"
fi

# --- Using it: a program that never sets the option ---------------------

# ports_case NAME TEXT: the loop, in a session of its own; the 4 servers
# serve, and stat says what the README says of the mode.
ports_case() {
	local t=$1 text=$2 port why sid n out
	port=$(free_port)
	setsid bash -c "$(with_port "$text" "$port")" \
	    >"$TMP/$t.out" 2>&1 </dev/null &
	sid=$!
	wait "$sid"
	why=
	wait_for answers "$port" || why="port $port never answered"
	if [[ $text == *"--mode emulate"* ]]; then
		wait_for nmembers "$port" 4 ||
		    add "not 4 listening members: $(echo $(members "$port"))"
		for n in 1 2 3 4 5 6 7 8; do
			answers "$port" || add "request $n failed"
		done
		# Each member took some (exact round-robin is tool_test's).
		n=$(members "$port" | awk '$1 != "owner" && $3 > 0' | wc -l)
		[ "$n" -eq 4 ] ||
		    add "$n of 4 members served: $(echo $(members "$port"))"
	else
		n=$(pgrep -s "$sid" -f 'http.server' | wc -l)
		[ "$n" -eq 4 ] || add "$n of 4 servers run"
		out=$(reuseport-shim stat 2>&1)
		[ "$out" = "no groups for uid $(id -u) in $RV" ] ||
		    add "stat said: $out"
	fi
	kill -- "-$sid" 2>/dev/null
	wait_for no_group "$port"
	[ -z "$why" ] && ok "$t" || fail "$t" "$why; $(tail -3 "$TMP/$t.out")"
}

if ! text=$(block "for i in 1 2 3 4; do"); then
	fail readme_ports "no block starting with 'for i in 1 2 3 4; do'"
elif [ -z "$PY" ] || ! command -v curl >/dev/null; then
	skip readme_ports "no python3 or no curl"
else
	# As written: auto gives the port to the kernel (4 servers share
	# it, no groups); with --mode emulate, one group of 4.
	ports_case readme_ports_auto "$text"
	ports_case readme_ports_emulate \
	    "${text/reuseport-shim run /reuseport-shim run --mode emulate }"
fi

# --- Using it: the library by hand --------------------------------------

t=readme_preload_by_hand
if ! text=$(block "LD_PRELOAD=/path/to/"); then
	fail $t "no block starting with 'LD_PRELOAD=/path/to/'"
elif [ -z "$PY" ]; then
	skip $t "no python3 (to read stat --json)"
else
	port=$(free_port)
	cmd=$(sed -e "s|/path/to/libreuseport_shim.so|$RLIB|" \
	    -e "s|your-server \.\.\.|$B/examples/evloop -p $port|" <<<"$text")
	for i in 1 2; do
		setsid bash -c "$cmd" >"$TMP/hand$i.out" 2>&1 </dev/null &
	done
	why=
	wait_for nmembers "$port" 2 ||
	    why="not 2 listening members: $(members "$port" | tr '\n' ' ')"
	pids=$(sed -n 's/^ready //p' "$TMP"/hand[12].out | sort)
	w=$(members "$port" | awk '$1 != "owner" { print $1 }' | sort)
	[ "$w" = "$pids" ] ||
	    add "members $(echo $w), servers $(echo $pids)"
	out=$("$B/tests/loadclient" -p "$port" -n 20 2>&1)
	[ "$(grep -c '^pid ' <<<"$out")" -eq 2 ] &&
	    grep -q '^answered 20 failed 0' <<<"$out" ||
	    add "load: $(echo $out)"
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait_for no_group "$port"
	[ -z "$why" ] && ok $t ||
	    fail $t "$why $(cat "$TMP"/hand*.out | tail -3)"
fi

# The values the table gives, each taken by the library (no line on
# stderr, which a value it does not understand gets) and by run.
t=readme_table_values
why=
vals=$(awk -F'|' '/^\| `REUSEPORT_SHIM_(MODE|POLICY|UDP|PORTS|LOG)` \|/ {
	v = $2; gsub(/[ `]/, "", v)
	s = $3
	# Values are lower case or numbers (not SO_REUSEPORT, in the text).
	while (match(s, /`[^`]+`/)) {
		if (substr(s, RSTART + 1, RLENGTH - 2) !~ /^[A-Z_]+$/)
			print v, substr(s, RSTART + 1, RLENGTH - 2)
		s = substr(s, RSTART + RLENGTH)
	}
}' "$README")
n=$(grep -c . <<<"$vals")
[ "$n" -ge 14 ] || add "only $n values found in the table"
while read -r var val; do
	[ -n "$var" ] || continue
	err=$(env LD_PRELOAD="$RLIB" "$var=$val" true 2>&1)
	grep -q 'not understood' <<<"$err" &&
	    add "$var=$val: $err"
	opt=--$(tr 'A-Z' 'a-z' <<<"${var#REUSEPORT_SHIM_}")
	reuseport-shim run "$opt" "$val" -- true 2>"$TMP/err" ||
	    add "run $opt $val: $(cat "$TMP/err")"
done <<<"$vals"
# The check sees a refusal.
err=$(env LD_PRELOAD="$RLIB" REUSEPORT_SHIM_MODE=sometimes true 2>&1)
grep -q 'REUSEPORT_SHIM_MODE="sometimes" is not understood' <<<"$err" ||
    add "a bad value went unreported: $err"
[ -z "$why" ] && ok $t || fail $t "$why"

# --- Testing ------------------------------------------------------------

t=readme_testing_targets
if ! text=$(block "make test "); then
	fail $t "no block starting with 'make test ' in README.md"
else
	# Each target exists (make -n); the quick ones run as written:
	# portcheck, and the integration suite for the README's two cases.
	# make test is this run; the others are suites of their own.
	why=
	while read -r line; do
		case $line in
		make\ *) ;;
		*) continue ;;
		esac
		tgt=${line#make }
		tgt=${tgt%%[ #]*}
		(cd "$ROOT" && make -n "$tgt") >/dev/null 2>&1 ||
		    add "make -n $tgt fails"
	done <<<"$text"
	if grep -q '^make portcheck' <<<"$text"; then
		out=$(cd "$ROOT" && make portcheck 2>&1) ||
		    add "make portcheck: $(tail -2 <<<"$out")"
	fi
	sub=$(sed -n 's/.*(\(TESTS="[^"]*"\) runs only those cases).*/\1/p' \
	    <<<"$text")
	if [ -n "$sub" ]; then
		out=$(cd "$ROOT" && eval "$sub make integration" 2>&1)
		want=$(eval "$sub"; echo "$TESTS" | wc -w)
		grep -q "^integration: $want passed, 0 failed" <<<"$out" &&
		    [ "$(grep -cE '^(ok|FAIL|SKIP) ' <<<"$out")" -eq "$want" ] ||
		    add "$sub make integration:" \
		    "$(grep -E '^(FAIL|integration:)' <<<"$out" | tr '\n' ' ')"
	else
		add "no TESTS= example found"
	fi
	[ -z "$why" ] && ok $t || fail $t "$why"
fi

# --- illumos ------------------------------------------------------------

t=readme_gmake_install
if ! text=$(block "gmake "); then
	fail $t "no block starting with 'gmake ' in README.md"
elif ! command -v gmake >/dev/null; then
	skip $t "no gmake here (GNU make by that name)"
else
	# GNU make, as on illumos, with DESTDIR: the files where the README
	# says (the library and rpshim-owner in PREFIX/lib, the command in
	# PREFIX/bin).
	why=
	D=$TMP/inst
	while read -r line; do
		line=${line%%#*}
		[ -n "${line// /}" ] || continue
		[[ $line == *install* ]] && line="$line DESTDIR=$D"
		(cd "$ROOT" && eval "$line") >"$TMP/gmake.log" 2>&1 ||
		    add "$line: $(tail -2 "$TMP/gmake.log")"
	done <<<"$text"
	for f in build/libreuseport_shim.so build/rpshim-owner \
	    build/reuseport-shim; do
		grep -qF "$f" <<<"$text" && [ -f "$ROOT/$f" ] ||
		    add "no $f"
	done
	pre=$(sed -n 's/.*PREFIX=\([^ ]*\).*/\1/p' <<<"$text")
	for f in lib/libreuseport_shim.so lib/rpshim-owner bin/reuseport-shim; do
		[ -f "$D$pre/$f" ] || add "no $pre/$f"
	done
	[ -z "$why" ] && ok $t || fail $t "$why"
fi

block "LD_PRELOAD_64=" >/dev/null &&
    skip readme_illumos_preload \
    "LD_PRELOAD_64 is illumos ld.so.1's; glibc's ld.so ignores it"
block "svccfg " >/dev/null &&
    skip readme_smf "svccfg and svcadm: SMF is illumos's"

# --- every block claimed ------------------------------------------------

t=readme_blocks_claimed
left=$(blocks | awk -v c=" $(cat "$TMP/claimed" 2>/dev/null | tr '\n' ' ')" '
    /^@@ / { start = $2; head = 1; next }
    head { head = 0; if (index(c, " " start " ") == 0) print start ": " $0 }')
[ -z "$left" ] && ok $t ||
    fail $t "README blocks no case runs (add one): $(echo $left)"

echo "readme examples: $npass passed, $nfail failed, $nskip skipped"
[ $nfail -eq 0 ]
