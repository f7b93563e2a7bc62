# More faults the owner must survive (issue 12), in the style of
# t_faults.sh; the cases themselves are in faults2.py.  Each fails on the
# owner before its fix (see the comment of each).

# The owner inherits the RLIMIT_NOFILE of the process that started the
# group, and each member costs it an fd.  Out of fds it once stopped
# watching the listener and the rendezvous for good: nothing served, and
# a joiner's bind() hung.  Now it raises its soft limit to the hard one
# and admits only as many members as leave room for connections: a join
# beyond is refused (EADDRINUSE, and the member's line says the owner
# refused it: not a join that timed out), and the group serves on, also
# after clients fill the owner's fds while no member accepts.  The
# starter has hard limit 48; the joiner (another process, with room of
# its own) joins until refused.  With every member admitted (the owner
# before the fix, or fd_budget's limit taken away) the joins exhaust the
# owner's fds: the bind that fails is one that waited for an owner that
# cannot accept (at 4aeb974, before joins were bounded: it hangs, and
# the `timeout` ends it), and no client is served.
FDLIMIT=48

t_fd_budget() {
	local out want
	need_python
	[ -d /proc/self/fd ] || skip "no /proc to count the owner's fds with"
	start_server starter sh -c 'ulimit -n '"$FDLIMIT"' && exec "$@"' sh \
	    "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults2.py" starter \
	    "$BUILD/reuseport-shim" || return
	expect_port starter || return
	out=$(timeout 50 "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults2.py" fdlimit \
	    "$BUILD/reuseport-shim" "$PORT" "$FDLIMIT" 2>"$TDIR/fdlimit.err")
	[ $? = 124 ] && out="$out(killed after 50 s: a bind or an accept hung)"
	case $out in
	rlimit*) skip "RLIMIT_NOFILE too low for the clients ($out)" ;;
	esac
	note "$out; $(grep -m1 'group full' "$TDIR/starter.err" | sed 's/.*: error: //')"
	# How many joined is the owner's business (its fd reserve, owner.c
	# fd_budget): some.
	want="joined [0-9]+ refused EADDRINUSE owner full served 100 of 100 then 20 of 20 rejoined"
	[[ $out =~ ^$want$ ]] ||
	    fail "got '$out', want '$want' ($(grep -v 'refused to take' "$TDIR/fdlimit.err" | head -3 | tr '\n' ' '))"
	grep -q "refused to take another member" "$TDIR/fdlimit.err" ||
	    fail "the failed bind was not the owner's refusal: $(head -3 "$TDIR/fdlimit.err" | tr '\n' ' ')"
	grep -q "group full" "$TDIR/starter.err" ||
	    fail "the owner did not say the group was full"
	stop_server starter 0
}

# One stray write into the ack board (shared memory every member maps):
# a member whose slot holds a value it cannot move had its acks never
# seen again, so the owner kept its copy of every later connection and
# the clients never saw end of stream after the server closed.  The
# member here writes 2^30 past every slot's sequence word (the layout is
# in faults2.py), then: its connections are accepted and each client sees
# end of stream after the server's close, a member joining later is
# served alike, and so after a second scribble that also marks every
# slot as written; last, a member in another process holding connections
# it never accepted scribbles and exits: the owner must not take its slot
# for "took them all" (they would be lost) but hand them on: all served.
t_board_scribble() {
	local out want
	need_python
	[ -r /proc/self/maps ] || skip "no /proc/self/maps to find the board in"
	out=$(timeout 50 "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults2.py" board \
	    "$BUILD/reuseport-shim" 2>"$TDIR/board.err")
	note "$out; $(grep -m1 '^board via' "$TDIR/board.err")"
	want="scribbled 4096 slots: served 8 of 8; with a new member 8 of 8; marked too 8 of 8; a member scribbled and left holding some: served 8 of 8"
	[ "$out" = "$want" ] ||
	    fail "got '$out', want '$want' ($(grep -v '^board via' "$TDIR/board.err" | head -3 | tr '\n' ' '))"
}

# The same cap for the UDP owner (also the owner of a TCP group of the
# shared way).  Each member costs it two fds, its connection and its
# queue (one where shared), and it took joiners until its fds ran out;
# then it paused its rendezvous, and the next joiner's bind failed only
# when it gave up waiting (JOIN_WAIT_MS, 2.5 s).  Now it admits as many
# as its limit allows (util_fd_members) and refuses the next at once, as
# the TCP owner does: EADDRINUSE, the member's line says the owner
# refused it, the owner's names the fd limit.  The starter has soft
# limit 32 and hard limit FDLIMIT (the owner raises the one to the
# other); each joiner is a process of its own, with room of its own.
# For a dispatched way and for shared: join until refused, promptly;
# the starter and the joiners are as many as the cap the owner's line
# gives; every datagram is answered; one member leaves and a joiner
# takes its room; all stop, and nothing is left.  With the cap taken
# away the joins exhaust the owner's fds, and the bind that fails is not
# a refusal (at 3204037: EEXIST, a stale errno: the owner welcomed the
# joiner, had no fds for its queue, and dropped it).
FDSOFT_UDP=32
# The owner's refusal (sed): its cap, and the pid refused.
FDB_FULL='.*group full (\([0-9]*\) members, as many as the owner.s fd limit allows): refusing pid \([0-9]*\).*'

# fdb_join NAME: a member in a process of its own (udp.py _serve) joins
# PORT: JOIN is "ok", or the errno name its bind failed with.
fdb_join() {
	local line
	start_server "$1" "${SHIM[@]}" "$PYTHON" "$UDP_PY" _serve -n 1 \
	    -p "$PORT" || return 1
	if ! read_line "$1" line; then
		fail "$1: no first line: $READ_WHY$(server_err "$1")"
		return 1
	fi
	case $line in
	"port $PORT")
		JOIN=ok
		expect_ready "$1" 1 ;;
	"bind "*)
		JOIN=${line#bind }
		stop_server "$1" 1 ;;
	*)
		fail "$1: got '$line'$(server_err "$1")"
		return 1 ;;
	esac
}

# fdb_refused NAME: NAME's join was the owner's refusal, and prompt.
# Prompt is what the joiner's own log says, not a time: a join that
# waits for an owner out of fds ends only at its deadline (JOIN_WAIT_MS,
# 2.5 s), with the line that the owner "did not answer" or "took no
# connection" and no refusal; refused, the bind fails on the owner's
# answer and says so.
fdb_refused() {
	[ "$JOIN" = EADDRINUSE ] || {
		fail "$1: bind gave $JOIN, want EADDRINUSE (the owner's refusal)$(server_err "$1")"
		return 1
	}
	grep -q "refused to take another member" "$TDIR/$1.err" ||
	    fail "$1: the failed bind was not the owner's refusal:$(server_err "$1")"
	! grep -q "stopped, or out of file descriptors" "$TDIR/$1.err" ||
	    fail "$1: the join waited for the owner until its deadline, not refused at once:$(server_err "$1")"
	! failed
}

# fdb_rejoin: one more joiner (FDB_WAY-rFDB_TRY); it joined, or 1.
fdb_rejoin() {
	FDB_TRY=$((FDB_TRY + 1))
	fdb_join "$FDB_WAY-r$FDB_TRY" && [ "$JOIN" = ok ]
}

# fd_budget_udp_round WAY
fd_budget_udp_round() {
	local way=$1 k n cap rpid gone names=() keep=() p
	READY=()
	start_server "$way" sh -c 'ulimit -Sn '"$FDSOFT_UDP"' &&
	    ulimit -Hn '"$FDLIMIT"' && exec "$@"' sh "${SHIM[@]}" \
	    "REUSEPORT_SHIM_UDP=$way" "$PYTHON" "$UDP_PY" _serve -n 1 ||
	    return 1
	server_up "$way" 1 || return 1
	for ((k = 1; k <= 64; k++)); do
		fdb_join "$way-$k" || return 1
		[ "$JOIN" = ok ] || break
		names+=("$way-$k")
	done
	[ "$JOIN" = ok ] &&
	    { fail "$way: 64 joined, none refused"; return 1; }
	fdb_refused "$way-$k" || return 1
	# The owner's line: its cap, and the pid it refused.
	read -r cap rpid < <(sed -n "s/$FDB_FULL/\\1 \\2/p" "$TDIR/$way.err" |
	    head -1)
	[ -n "$cap" ] || {
		fail "$way: the owner did not say the group was full for its fd limit$(server_err "$way")"
		return 1
	}
	[ "$rpid" = "${SRV_PID[$way-$k]}" ] ||
	    fail "$way: the owner refused pid $rpid, the joiner was ${SRV_PID[$way-$k]}"
	[ "$k" = "$cap" ] ||
	    fail "$way: the starter and $((k - 1)) joiners are members, the owner's cap is $cap"
	note "$way: $cap members (hard limit $FDLIMIT), the next refused"
	# Still full, still prompt.
	fdb_join "$way-again" || return 1
	fdb_refused "$way-again" || return 1
	n=$((cap * 16))
	udp_client "$way" "$PORT" -n "$n" -c "$((cap * 4))" -w 8
	udp_check "$way" "$n" || return 1
	[ "$way" = shared ] || udp_all_answered "$way" "${READY[@]}"
	# A member leaves: its room is a joiner's (the owner sees the leave
	# asynchronously: a refusal before that is no error).
	gone=${SRV_PID[$way-1]}
	stop_server "$way-1" 0
	for p in "${READY[@]}"; do
		[ "$p" = "$gone" ] || keep+=("$p")
	done
	READY=("${keep[@]}")
	FDB_WAY=$way FDB_TRY=0
	# Each try is a python's start: 20 s bounds a hang, never a pace.
	poll_until 20000 fdb_rejoin ||
	    { fail "$way: no joiner took the room of one that left in 20 s"; return 1; }
	names=("${names[@]:1}" "$way-r$FDB_TRY")
	udp_client "$way-after" "$PORT" -n "$n" -c "$((cap * 4))" -w 8
	udp_check "$way-after" "$n" || return 1
	for p in "${names[@]}"; do
		stop_server "$p" 0
	done
	stop_server "$way" 0
	poll_until "$GONE_MS" nothing_left ||
	    fail "$way: left behind: $(describe_owners $(new_owners)) $(dir_sockets)"
}

t_fd_budget_udp() {
	need_python
	fd_budget_udp_round roundrobin || return
	fd_budget_udp_round shared
}
