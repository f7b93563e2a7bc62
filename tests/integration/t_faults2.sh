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
