#!/usr/bin/env bash
# compat.sh: builds of reuseport-shim in one group, as during a rolling
# restart after a library upgrade: members of an older build with an
# owner of this one, and members of this build joining an owner an older
# build started.  The owner is started by the group's first bind, from
# beside the library that bind went through (shim/ownerspawn.c), so the
# first member's build is the owner's (checked: the owner's executable).
#
#   tests/compat.sh                 (make test-compat)
#   COMPAT_REVS="3204037 66bbdec"   the older builds (the default)
#   COMPAT_REV=REV                  one older build
#   COMPAT_CASES="tcp-kill ..."     only those cases (the name's first word)
#   COMPAT_KEEP=1                   keep the temporary directory (logs)
#
# Each older build comes from git (git archive REV, then make all in a
# temporary directory; CC is passed on); this tree's is build/ (make all).
# The programs (examples/, tests/compat/udpflow.py, loadclient) are this
# tree's for both: only the library, and so the owner, differ.  Against
# each older build, both ways (the owner of one build, members of both):
#
#   tcp-roundrobin  2 + 2 member processes, every connection answered,
#                   each member exactly N/4 (its workers take 1 ms a
#                   connection: README, round-robin is exact, one per
#                   turn, for programs slower than 128 us), stat of both
#                   builds shows the group, its members and their counts
#   tcp-kill        a member of the other build is caught idle, frozen,
#                   connections queue behind it, kill -9: nothing lost
#   tcp-leastloaded the owner learns who waits in accept() from a member
#                   of the other build (board idle words or IDLE records,
#                   BOARD_F_IDLE) and passes over a busy one
#   udp-hash        REUSEPORT_SHIM_UDP=hash: every datagram of 64 flows
#                   answered from the group's port, each flow by one
#                   process, IP_PKTINFO says 127.0.0.1, stat agrees with
#                   the clients; then as sub-cases udp-ttl: this build's
#                   members that ask IP_RECVTTL (before and after bind:
#                   HELLO_TELLS_REPORTS, PROTO_DGRAM_REPORTS) get the
#                   TTL; udp-takeover: the owner killed (-9), its standby
#                   takes over both builds' members
#   takeover        the TCP owner killed (-9): its standby (the owner's
#                   build) takes over the other build's members too
#   rolling         a rolling restart under load: the owner's build's
#                   members replaced one by one by the other's; nothing
#                   lost, and the owner stays
#
# and once: tcp-inplace, the library upgraded in place under a running
# process (an old library beside a new rpshim-owner): its bind starts the
# new owner program, and the group works with members of both builds.
#
# Output: "ok - NAME", "FAIL - NAME: why" or "SKIP - NAME: reason" per
# case, what it noted indented below, and last
# "compat: N passed, M failed, K skipped"; exit 1 if any failed.  Without
# git history, or without the revision (a shallow clone): "SKIP: reason",
# exit 0.  Everything runs on 127.0.0.1, with one private rendezvous
# directory for both builds; processes, owners and directories are
# removed on any exit.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 1
ROOT=$(cd "$HERE/.." && pwd) || exit 1
TI_HERE=$ROOT/tests/integration
. "$TI_HERE/lib.sh"

DEFAULT_REVS="3204037 66bbdec"
CASE_TIMEOUT=${CASE_TIMEOUT:-60}
UDPFLOW=$HERE/compat/udpflow.py

# ================================================================ in a case
# (each case runs in its own bash process, "compat.sh --case FN", with
# BUILD_A the owner's build and BUILD_B the other's; LABEL_A, LABEL_B
# name them; NEW_BUILD is this tree's, whose programs and client serve
# both: only the library differs)

# member NAME A|B PROG ARGS...: PROG under the library of build A or B.
member() {
	local name=$1 which=$2 build
	shift 2
	[ "$which" = A ] && build=$BUILD_A || build=$BUILD_B
	start_server "$name" env "LD_PRELOAD=$build/libreuseport_shim.so" \
	    REUSEPORT_SHIM_MODE=emulate "REUSEPORT_SHIM_DIR=$SHIMDIR" \
	    ${MEMBER_ENV:+"${MEMBER_ENV[@]}"} "$@"
}

# four_members PROG ARGS...: A (port 0, starting the group), B, A, B,
# each one process that prints "port" and one "ready"; MEMBERS holds
# their names, READY their pids, PORT the group's port; then the owner
# must be build A's.
four_members() {
	local i name which port=0
	MEMBERS=()
	for i in 1 2 3 4; do
		which=A
		[ $((i % 2)) = 0 ] && which=B
		name=$(echo "$which" | tr AB ab)$(((i + 1) / 2))
		member "$name" "$which" "$@" -p "$port" || return 1
		server_up "$name" 1 || return 1
		port=$PORT
		MEMBERS+=("$name")
		if [ "$i" = 1 ]; then
			owner_is_a || return 1
		fi
	done
	return 0
}

stop_members() {
	local m
	for m in "${MEMBERS[@]}"; do
		stop_server "$m" 0
	done
}

# The build of member NAME: a1/a2 are A's, b1/b2 B's.
is_new() {
	case $1 in
	a*) [ "$LABEL_A" = new ] ;;
	*) [ "$LABEL_B" = new ] ;;
	esac
}

# stat_text [BUILD]: reuseport-shim stat of BUILD (default A's, or the
# other's where A has no command).
stat_text() {
	local b=${1:-$BUILD_A}
	[ -x "$b/reuseport-shim" ] || b=$BUILD_B
	"$b/reuseport-shim" stat --dir "$SHIMDIR" 2>&1
}
stat_builds() {
	local b
	for b in "$BUILD_A" "$BUILD_B"; do
		[ -x "$b/reuseport-shim" ] && echo "$b"
	done
}
build_name() {
	case $1 in
	"$BUILD_A") echo "$LABEL_A" ;;
	*) echo "$LABEL_B" ;;
	esac
}
group_field() {	# group_field FIELD...: the value after those words
	stat_text | awk -v f="$*" '
	    /^(tcp|udp) / { n = split(f, w, " ")
		for (i = 1; i + n <= NF; i++) {
			ok = 1
			for (k = 1; k <= n; k++) if ($(i + k - 1) != w[k]) ok = 0
			if (ok) { print $(i + n); exit }
		} }'
}
# member_field PID FIELD [BUILD]: stat's FIELD of the member that joined as PID.
member_field() {
	stat_text "${3:-}" | awk -v p="$1" -v f="$2" '
	    $1 == "pid" && $2 == p { for (i = 3; i < NF; i++)
		if ($i == f) { print $(i + 1); exit } }'
}
stat_pids() {
	stat_text "${1:-}" | awk '$1 == "pid" { print $2 }' | sort -n | tr '\n' ' '
}
ready_pids() { printf '%s\n' "${READY[@]}" | sort -n | tr '\n' ' '; }
# Both builds' stat name the group on PORT, of PROTO, and exactly the
# ready members.
stat_shows_members() {
	local b
	for b in $(stat_builds); do
		stat_text "$b" | grep -q "^$1 127.0.0.1:$PORT " || return 1
		[ "$(stat_pids "$b")" = "$(ready_pids)" ] || return 1
	done
}
check_stat_members() {
	local b
	poll_until 3000 stat_shows_members "$1" && return 0
	for b in $(stat_builds); do
		fail "stat of $(build_name "$b") does not show the $1 group on port $PORT with members $(ready_pids): $(stat_text "$b" | tr '\n' '|' | cut -c1-400)"
	done
	return 1
}

# The group's owner runs build A's rpshim-owner (the first bind's).
owner_is_a() {
	local owner exe want
	owner=$(group_field owner pid)
	if [ -z "$owner" ]; then
		fail "stat names no owner: $(stat_text | head -2 | tr '\n' '|')"
		return 1
	fi
	exe=$(readlink -f "/proc/$owner/exe" 2>/dev/null)
	want=$(readlink -f "$BUILD_A/rpshim-owner")
	if [ "$exe" != "$want" ]; then
		fail "owner $owner runs '$exe', want build $LABEL_A's $want"
		return 1
	fi
	OWNER=$owner
}

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# freeze_idle PID IDLE_FDS: SIGSTOP the member at a moment it holds no
# connection of its own (what the application accepted is its own to
# lose, on any kernel; what waits for it is the group's).
freeze_idle() {
	local try
	for try in $(seq 1 500); do
		kill -STOP "$1"
		[ "$(fds "$1")" = "$2" ] && return 0
		kill -CONT "$1"
	done
	return 1
}

# ---------------------------------------------------------------- cases

# Round-robin with members of both builds: exact shares.  The workers
# take 1 ms a connection (prefork -d 1), so every run is one connection
# long (README: "a program slower than 128 us per connection, or not
# measured yet, gets one at a time"): each of 4 gets exactly N/4.
RR_N=400
c_tcp_rr() {
	local pid count n=0 b want=$((RR_N / 4))
	four_members "$NEW_BUILD/examples/prefork" -n 1 -d 1 || return
	check_stat_members tcp || return
	run_load rr 127.0.0.1 "$PORT" "$RR_N" 8
	note "answered by pid: $(load_counts rr)"
	check_answered rr "$RR_N" || return
	while read -r _ pid count; do
		n=$((n + 1))
		case " ${READY[*]} " in
		*" $pid "*) ;;
		*) fail "pid $pid answered but is not a ready member (${READY[*]})" ;;
		esac
		[ "$count" = "$want" ] ||
		    fail "pid $pid got $count of $RR_N connections, want exactly $want (roundrobin)"
	done < <(awk '$1 == "pid"' "$TDIR/rr.load")
	[ "$n" = 4 ] || fail "$n pids answered, want 4 ($(load_counts rr))"
	stat_text | grep -q "^tcp 127.0.0.1:$PORT  policy roundrobin " ||
	    fail "stat does not say policy roundrobin: $(stat_text | head -1)"
	# stat of each build: every member's count is what the clients saw
	# (the owner reads the board when it runs: a bounded wait).
	for b in $(stat_builds); do
		poll_until 3000 stat_counts_are "$b" "$want" ||
		    fail "stat of $(build_name "$b"): members' counts are not $want each: $(stat_text "$b" | tr '\n' '|' | cut -c1-400)"
	done
	stop_members
}
stat_counts_are() {
	local pid
	for pid in "${READY[@]}"; do
		[ "$(member_field "$pid" delivered "$1")" = "$2" ] || return 1
	done
}

# Nothing lost: a member of the other build is frozen while idle, the
# round-robin queues connections behind it (the load stalls on it), and
# it is killed: the owner hands what it held to the others.
KILL_N=6000
c_tcp_kill() {
	local victim idle lpid queued
	four_members "$NEW_BUILD/examples/evloop" || return
	check_stat_members tcp || return
	victim=${SRV_PID[b1]}
	idle=$(fds "$victim")
	"$NEW_BUILD/tests/loadclient" -a 127.0.0.1 -p "$PORT" -n "$KILL_N" \
	    -c 8 -t 15000 >"$TDIR/kill.load" 2>"$TDIR/kill.loaderr" &
	lpid=$!
	if ! freeze_idle "$victim" "$idle"; then
		fail "could not catch member $victim ($LABEL_B) idle"
		wait "$lpid"
		return
	fi
	if ! poll_until 5000 queued_at_least "$victim" 2; then
		kill -CONT "$victim"
		fail "no connection queued to the frozen member $victim (stat: $(member_field "$victim" unacked)); load still running: $(proc_alive "$lpid" && echo yes || echo no)"
		wait "$lpid"
		return
	fi
	queued=$(member_field "$victim" unacked)
	disown "$victim"	# its SIGKILL is the case, not news
	kill -KILL "$victim"
	wait "$lpid"
	LOAD_RC=$?
	note "killed $victim ($LABEL_B) with $queued connection(s) queued to it; answered by pid: $(load_counts kill)"
	check_answered kill "$KILL_N"
	READY=("${READY[0]}" "${READY[2]}" "${READY[3]}")
	check_stat_members tcp
	stop_server b1
	MEMBERS=(a1 a2 b2)
	stop_members
}
queued_at_least() {
	local u
	u=$(member_field "$1" unacked)
	[ -n "$u" ] && [ "$u" -ge "$2" ]
}

# UDP, dispatched by the hash of each client's address and port: every
# datagram answered, from the group's port, each flow by one process;
# IP_PKTINFO gives every member the address asked (127.0.0.1).  This
# build's members ask IP_RECVTTL (one before bind, one after): they must
# get the TTL (64 on the loopback) from an owner that carries it.
UDP_N=512
c_udp_hash() {
	local name which port=0 i ttl pid count flows dsts ttls n=0 b got
	local -a extra
	[ -n "$PYTHON" ] || skip "python3 not found"
	MEMBER_ENV=(REUSEPORT_SHIM_UDP=hash)
	MEMBERS=()
	for i in 1 2 3 4; do
		which=A
		[ $((i % 2)) = 0 ] && which=B
		name=$(echo "$which" | tr AB ab)$(((i + 1) / 2))
		extra=()
		if is_new "$name"; then
			ttl=after
			case $name in ?1) ttl=before ;; esac
			extra=(--ttl "$ttl")
		fi
		member "$name" "$which" "$PYTHON" "$UDPFLOW" serve -p "$port" \
		    ${extra[@]+"${extra[@]}"} || return
		server_up "$name" 1 || return
		port=$PORT
		MEMBERS+=("$name")
		if [ "$i" = 1 ]; then
			owner_is_a || return
		fi
	done
	check_stat_members udp || return
	timeout 30 "$PYTHON" "$UDPFLOW" client "$PORT" -n "$UDP_N" -c 64 -w 8 \
	    >"$TDIR/udp.client" 2>"$TDIR/udp.clienterr"
	note "$(grep -v '^member' "$TDIR/udp.client" | tr '\n' ' ')"
	note "$(awk '$1 == "member" { printf "%s%s:%s", s, $2, $3; s = " " }' "$TDIR/udp.client")"
	got=$(awk '$1 == "answered" { print $2 }' "$TDIR/udp.client")
	[ "$got" = "$UDP_N" ] ||
	    fail "answered ${got:-?} of $UDP_N datagrams$(head -2 "$TDIR/udp.clienterr" | tr '\n' ' ')"
	grep -qx 'dups 0' "$TDIR/udp.client" || fail "duplicate answers: $(grep dups "$TDIR/udp.client")"
	grep -qx 'wrong 0' "$TDIR/udp.client" ||
	    fail "answers not from the group's port or not ours: $(grep wrong "$TDIR/udp.client")"
	grep -qx 'affinity ok' "$TDIR/udp.client" ||
	    fail "flow affinity: $(grep affinity "$TDIR/udp.client") flows answered by more than one process"
	TTL_MISSING=()
	while read -r _ pid count flows dsts ttls; do
		n=$((n + 1))
		name=""
		for i in "${!READY[@]}"; do
			[ "${READY[$i]}" = "$pid" ] && name=${MEMBERS[$i]}
		done
		if [ -z "$name" ]; then
			fail "pid $pid answered but is not a ready member (${READY[*]})"
			continue
		fi
		[ "$dsts" = 127.0.0.1 ] ||
		    fail "$name (pid $pid): IP_PKTINFO gave '$dsts', want 127.0.0.1"
		if is_new "$name"; then
			[ "$ttls" = 64 ] || TTL_MISSING+=("$name (pid $pid): '$ttls'")
		else
			[ "$ttls" = none ] ||
			    fail "$name (pid $pid) asked no TTL and got '$ttls'"
		fi
		for b in $(stat_builds); do
			[ "$(member_field "$pid" delivered "$b")" = "$count" ] ||
			    fail "stat of $(build_name "$b"): $name (pid $pid) delivered '$(member_field "$pid" delivered "$b")', the clients saw $count"
		done
	done < <(awk '$1 == "member"' "$TDIR/udp.client")
	[ "$n" = 4 ] || fail "$n processes answered, want all 4: $(grep member "$TDIR/udp.client" | tr '\n' ' ')"
	stat_text | grep -q "^udp 127.0.0.1:$PORT  policy hash " ||
	    fail "stat does not say policy hash: $(stat_text | head -1)"
	udp_ttl_verdict
	failed || udp_takeover
	stop_members
}

# udp-takeover (a sub-case): the owner killed (-9), its standby, of the
# owner's build, takes over the queues of both builds' members: all
# datagrams of new flows answered, each flow by one process, by all 4.
udp_takeover() {
	local sb got n
	if ! poll_until 3000 standby_named; then
		subresult fail udp-takeover "no standby named by stat: $(stat_text | head -1)"
		return
	fi
	sb=$(group_field standby pid)
	kill -KILL "$OWNER"
	if ! poll_until 5000 taken_over_by "$sb"; then
		subresult fail udp-takeover "no takeover by the standby ($sb) after the owner ($OWNER) was killed: $(stat_text | head -1)"
		return
	fi
	timeout 30 "$PYTHON" "$UDPFLOW" client "$PORT" -n 256 -c 64 -w 8 \
	    >"$TDIR/udp2.client" 2>"$TDIR/udp2.clienterr"
	got=$(grep -v '^member' "$TDIR/udp2.client" | tr '\n' ' ')
	n=$(grep -c '^member' "$TDIR/udp2.client")
	note "after the takeover: $got; $n processes answered"
	if [[ $got != "answered 256 of 256 dups 0 wrong 0 affinity ok " ]] ||
	    [ "$n" != 4 ]; then
		subresult fail udp-takeover "after the takeover: $got; $n of 4 processes answered$(head -2 "$TDIR/udp2.clienterr" | tr '\n' ' ')"
	else
		subresult ok udp-takeover ""
	fi
}

# The TTL reports (sub-case udp-ttl): this build's members asked for
# them.  An owner whose build has no PROTO_DGRAM_REPORTS (shim/proto.h
# of its tree) carries no TTL at all: its members, of any build, get
# none; that is a SKIP naming it (this build's feature, absent from that
# owner), never a pass.  Any other owner must carry it.
udp_ttl_verdict() {
	local tree
	if [ ${#TTL_MISSING[@]} = 0 ]; then
		subresult ok udp-ttl ""
		return
	fi
	tree=$NEW_TREE
	[ "$LABEL_A" != new ] && tree=$OLD_TREE
	if ! grep -q PROTO_DGRAM_REPORTS "$tree/shim/proto.h" 2>/dev/null; then
		subresult skip udp-ttl "owner of $LABEL_A predates the TTL/TOS reports (no PROTO_DGRAM_REPORTS in its shim/proto.h): this build's members asking IP_RECVTTL get none: ${TTL_MISSING[*]}"
	else
		subresult fail udp-ttl "IP_RECVTTL asked, want TTL 64: ${TTL_MISSING[*]}"
	fi
}

# leastloaded, which needs to know who waits in accept(): a member of
# this build says so on the board where its owner reads it
# (BOARD_F_IDLE, shim/ackmem.c), else by IDLE record, as a member of an
# earlier build always does.  A member of the owner's build takes one
# connection and stays away with it (a slow request: nothing queued to
# it, not waiting either); then, one at a time, each connection made
# while the other build's member sleeps in accept() must go to that
# one: an owner that did not learn who waits would take turns.
LEAST_ROUNDS=8
c_tcp_least() {
	local s w i c
	MEMBER_ENV=(REUSEPORT_SHIM_POLICY=leastloaded)
	MEMBERS=()
	member s1 A "$NEW_BUILD/examples/prefork" -n 1 -d 60000 -p 0 || return
	server_up s1 1 || return
	MEMBERS+=(s1)
	owner_is_a || return
	s=${READY[0]}
	if ! exec {c}<>"/dev/tcp/127.0.0.1/$PORT"; then
		fail "cannot connect to port $PORT"
		return
	fi
	if ! poll_until 3000 took_one "$s"; then
		fail "the first member ($s) did not take the first connection: $(stat_text | tr '\n' '|')"
		return
	fi
	member w1 B "$NEW_BUILD/examples/prefork" -n 1 -p "$PORT" || return
	server_up w1 1 || return
	MEMBERS+=(w1)
	w=${READY[1]}
	check_stat_members tcp || return
	for ((i = 1; i <= LEAST_ROUNDS; i++)); do
		if ! poll_until 5000 asleep "$w"; then
			fail "the waiting member $w never slept in accept()"
			break
		fi
		# One request of the owner's, which reads what is pending.
		stat_text >/dev/null
		run_load "r$i" 127.0.0.1 "$PORT" 1 1
		check_answered "r$i" 1 || break
		if ! grep -qx "pid $w 1" "$TDIR/r$i.load"; then
			fail "round $i answered by $(load_counts "r$i"), want the waiting member $w ($LABEL_B)"
			break
		fi
	done
	[ "$(member_field "$s" unacked)" = 0 ] ||
	    fail "connections queued to the busy member $s: $(member_field "$s" unacked)"
	exec {c}<&-
	stop_members
}
took_one() {
	[ "$(member_field "$1" delivered)" = 1 ] && [ "$(member_field "$1" unacked)" = 0 ]
}
# Its scheduler state is S: it sleeps (in accept, here).
asleep() {
	[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = S ]
}

# A rolling restart: four members of build A (A's owner); one at a time
# a member of build B joins and an A member is stopped (SIGTERM, the
# one that started the group first), under continuous load, until only
# B's are left, served by A's owner still (it lives while the group has
# a member).  Nothing lost.
c_rolling() {
	local i port=0 lpid answered failed_n rounds
	MEMBERS=()
	for i in 1 2 3 4; do
		member "a$i" A "$NEW_BUILD/examples/evloop" -p "$port" || return
		server_up "a$i" 1 || return
		port=$PORT
		MEMBERS+=("a$i")
		if [ "$i" = 1 ]; then
			owner_is_a || return
		fi
	done
	check_stat_members tcp || return
	# Load until told to stop, 100 connections a round.
	(
		while [ ! -e "$TDIR/roll.stop" ]; do
			"$NEW_BUILD/tests/loadclient" -a 127.0.0.1 -p "$PORT" \
			    -n 100 -c 4 -t 15000 2>>"$TDIR/roll.err" |
			    awk '$1 == "answered"'
		done
	) >"$TDIR/roll.load" &
	lpid=$!
	READY=()
	for i in 1 2 3 4; do
		member "b$i" B "$NEW_BUILD/examples/evloop" -p "$PORT" || break
		server_up "b$i" 1 || break
		MEMBERS=("${MEMBERS[@]:1}" "b$i")
		stop_server "a$i" 0
	done
	: >"$TDIR/roll.stop"
	wait "$lpid"
	read -r rounds answered failed_n < <(awk '{ r++; a += $2; f += $4 }
	    END { print r + 0, a + 0, f + 0 }' "$TDIR/roll.load")
	note "during the roll: $rounds rounds, answered $answered, failed $failed_n"
	failed && return
	[ "$failed_n" = 0 ] && [ "$answered" = $((rounds * 100)) ] ||
	    fail "during the roll: answered $answered, failed $failed_n of $((rounds * 100)) ($(head -3 "$TDIR/roll.err" | tr '\n' ' '))"
	[ "$rounds" -ge 2 ] || fail "the load ran $rounds round(s) during the roll, want at least 2"
	if [ "$(group_field owner pid)" = "$OWNER" ]; then
		note "after the roll: only $LABEL_B members, the owner is still $LABEL_A's (pid $OWNER)"
	else
		fail "the owner changed during the roll: $(stat_text | head -1), was $OWNER"
	fi
	check_stat_members tcp
	run_load after 127.0.0.1 "$PORT" 400 4
	check_answered after 400
	[ "$(awk '$1 == "pid"' "$TDIR/after.load" | wc -l)" = 4 ] ||
	    fail "after the roll $(load_counts after) answered, want the 4 members ${READY[*]}"
	stop_members
}

# The owner killed (-9): its standby, of the owner's build, takes over
# the endpoints of both builds' members; every connection is answered
# before and after, and each member, of either build, still gets some.
TO_N=400
c_takeover() {
	local sb pid count n=0
	four_members "$NEW_BUILD/examples/evloop" || return
	check_stat_members tcp || return
	if ! poll_until 3000 standby_named; then
		fail "no standby named by stat: $(stat_text | head -1)"
		return
	fi
	sb=$(group_field standby pid)
	[ "$(readlink -f "/proc/$sb/exe")" = "$(readlink -f "$BUILD_A/rpshim-owner")" ] ||
	    fail "standby $sb runs '$(readlink -f "/proc/$sb/exe")', want build $LABEL_A's"
	run_load before 127.0.0.1 "$PORT" "$TO_N" 4
	check_answered before "$TO_N" || return
	kill -KILL "$OWNER"
	if ! poll_until 5000 taken_over_by "$sb"; then
		fail "no takeover by the standby ($sb) after the owner ($OWNER) was killed: $(stat_text | head -1)"
		return
	fi
	note "after the takeover: $(stat_text | head -1)"
	run_load after 127.0.0.1 "$PORT" "$TO_N" 4
	note "answered after it, by pid: $(load_counts after)"
	check_answered after "$TO_N"
	for pid in "${READY[@]}"; do
		count=$(awk -v p="$pid" '$1 == "pid" && $2 == p { print $3 }' "$TDIR/after.load")
		[ -n "$count" ] && n=$((n + 1))
	done
	[ "$n" = 4 ] ||
	    fail "after the takeover $n of the 4 members answered ($(load_counts after); members ${READY[*]})"
	check_stat_members tcp
	stop_members
}
standby_named() { [ -n "$(group_field standby pid)" ] && [ "$(group_field standby pid)" != 0 ]; }
taken_over_by() {
	[ "$(group_field owner pid)" = "$1" ] && [ "$(group_field takeovers)" = 1 ] &&
	    standby_named
}

# subresult ok|fail|skip NAME WHY: a result of its own inside a case.
subresult() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$TDIR/sub"; }

if [ "${1:-}" = --case ]; then
	declare -a MEMBERS=() MEMBER_ENV=()
	"$2"
	exit 0
fi

# ================================================================ the runner

N_PASS=0 N_FAIL=0 N_SKIP=0

result() {	# result ok|fail|skip NAME [WHY]
	case $1 in
	ok) echo "ok - $2"; N_PASS=$((N_PASS + 1)) ;;
	fail) echo "FAIL - $2: $3"; N_FAIL=$((N_FAIL + 1)) ;;
	skip) echo "SKIP - $2: $3"; N_SKIP=$((N_SKIP + 1)) ;;
	esac
}

summary() {
	echo "compat: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
	[ "$N_FAIL" = 0 ]
}

# run_case NAME FN OWNER_BUILD OWNER_LABEL OTHER_BUILD OTHER_LABEL
CASE_NO=0
run_case() {
	local name=$1 fn=$2 rc why left st sname swhy
	[ -n "${COMPAT_CASES:-}" ] &&
	    [[ " $COMPAT_CASES " != *" ${name%% *} "* ]] && return 0
	CASE_NO=$((CASE_NO + 1))
	TDIR=$WORK/case$CASE_NO
	mkdir -p "$TDIR"
	: >"$TDIR/servers"
	BUILD_A=$3 LABEL_A=$4 BUILD_B=$5 LABEL_B=$6
	export TDIR BUILD_A LABEL_A BUILD_B LABEL_B
	timeout -k 5 "$CASE_TIMEOUT" bash "$HERE/compat.sh" --case "$fn" \
	    >"$TDIR/log" 2>&1 </dev/null &
	CUR_CASE=$!
	wait "$CUR_CASE"
	rc=$?
	CUR_CASE=""
	reap_servers "$TDIR/servers"
	left=$(check_leftovers)
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		why="timed out after ${CASE_TIMEOUT}s"
		[ -s "$TDIR/fail" ] && why="$why; $(fail_text)"
	elif [ -s "$TDIR/fail" ]; then
		why=$(fail_text)
	elif [ "$rc" != 0 ]; then
		why="the case exited with status $rc"
	else
		why=""
	fi
	[ -n "$left" ] && why="${why:+$why; }$left"
	if [ -n "$why" ]; then
		result fail "$name" "$why"
	elif [ -s "$TDIR/skip" ]; then
		result skip "$name" "$(head -1 "$TDIR/skip")"
	else
		result ok "$name"
	fi
	[ -s "$TDIR/log" ] && head -20 "$TDIR/log" | sed 's/^/    /'
	# A sub-case is judged only where its case ran to the end.
	if [ -s "$TDIR/sub" ] && [ -z "$why" ]; then
		while IFS=$'\t' read -r st sname swhy; do
			result "$st" "$sname ${name#* }" "$swhy"
		done <"$TDIR/sub"
	fi
	return 0
}

cleanup() {
	local st=$? d p
	trap - EXIT INT TERM
	if [ -n "${CUR_CASE:-}" ]; then
		kill -TERM "$CUR_CASE" 2>/dev/null
		wait "$CUR_CASE" 2>/dev/null
	fi
	for d in "$WORK"/case*/; do
		[ -d "$d" ] && reap_servers "$d/servers"
	done
	for p in $(new_owners); do
		# (one of another run's that ended as we looked is not ours)
		proc_alive "$p" || continue
		echo "compat: killing leftover owner $(describe_owners "$p")" >&2
		kill_pid "$p"
	done
	[ -n "${COMPAT_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
	exit "$st"
}

unset LD_PRELOAD "${!REUSEPORT_SHIM_@}"
REVS=${COMPAT_REVS:-${COMPAT_REV:-$DEFAULT_REVS}}
JOBS=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || JOBS=2
# Nothing to run here: say why, and pass.
skip_all() {
	echo "SKIP: $1"
	N_SKIP=$((N_SKIP + 1))
	summary
	exit 0
}
[ -d /proc/self/fd ] ||
    skip_all "no /proc (the cases read processes' fds, state and executables there)"
command -v git >/dev/null ||
    skip_all "git is not installed: no older build to test against"
git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
    skip_all "$ROOT has no git history: no older build to test against"
NEW_BUILD=$ROOT/build
NEW_TREE=$ROOT
missing=""
for f in libreuseport_shim.so rpshim-owner reuseport-shim examples/prefork \
    examples/evloop tests/loadclient; do
	[ -e "$NEW_BUILD/$f" ] || missing="$missing build/$f"
done
if [ -n "$missing" ]; then
	result fail build "missing$missing (run make all)"
	summary
	exit 1
fi

PYTHON=""
if py=$(command -v python3) && [ -n "$py" ]; then
	# The interpreter itself, not a wrapper script, as lib.sh's suite_init.
	PYTHON=$("$py" -c 'import sys; print(sys.executable)' 2>/dev/null) || PYTHON=""
fi


WORK=$(mktemp -d "${TMPDIR:-/tmp}/rpshim-compat.XXXXXX") || exit 1
SHIMDIR=$WORK/rv
mkdir -m 700 "$SHIMDIR" || exit 1
BASE_OWNERS=$(all_owners | tr '\n' ' ')
CUR_CASE=""
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export ROOT HERE WORK SHIMDIR BASE_OWNERS PYTHON NEW_BUILD NEW_TREE \
    READ_TIMEOUT BUILD=$NEW_BUILD

# An older build: its tree from git, built as make all builds (CC passed
# on; none of the caller's make variables, which would reach it through
# MAKEFLAGS).
build_rev() {
	local rev=$1 sha dir=$WORK/old-$1
	if ! sha=$(git -C "$ROOT" rev-parse --verify --quiet "$rev^{commit}"); then
		echo "SKIP: revision $rev is not in this clone (a shallow clone? git fetch --unshallow): no build $rev to test against"
		N_SKIP=$((N_SKIP + 1))
		return 1
	fi
	mkdir -p "$dir"
	if ! git -C "$ROOT" archive "$sha" | tar -x -C "$dir"; then
		result fail "build $rev" "git archive $sha failed"
		return 1
	fi
	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    make -C "$dir" -j"$JOBS" ${CC:+CC="$CC"} all >"$dir.log" 2>&1; then
		result fail "build $rev" "make all failed: $(tail -3 "$dir.log" | tr '\n' ' ')"
		return 1
	fi
	echo "# built $rev (${sha:0:12}) in $dir"
}

for rev in $REVS; do
	build_rev "$rev" || continue
	OLD=$WORK/old-$rev/build
	export OLD_TREE=$WORK/old-$rev
	for dir in old new; do
		if [ "$dir" = old ]; then
			set -- "$OLD" "$rev" "$NEW_BUILD" new
			how="$rev owner, new joins"
		else
			set -- "$NEW_BUILD" new "$OLD" "$rev"
			how="new owner, $rev joins"
		fi
		run_case "tcp-roundrobin [$how]" c_tcp_rr "$@"
		run_case "tcp-kill [$how]" c_tcp_kill "$@"
		run_case "tcp-leastloaded [$how]" c_tcp_least "$@"
		run_case "udp-hash [$how]" c_udp_hash "$@"
		run_case "takeover [$how]" c_takeover "$@"
		run_case "rolling [$how]" c_rolling "$@"
	done
	# The library upgraded in place: a process that loaded the old one
	# binds after the install, and starts the rpshim-owner now beside it.
	mixed=$WORK/inplace-$rev
	mkdir -p "$mixed"
	cp "$OLD/libreuseport_shim.so" "$mixed/"
	cp "$NEW_BUILD/rpshim-owner" "$NEW_BUILD/reuseport-shim" "$mixed/"
	run_case "tcp-inplace [$rev library starts new rpshim-owner, new joins]" \
	    c_tcp_rr "$mixed" "$rev+new-owner" "$NEW_BUILD" new
done

summary
