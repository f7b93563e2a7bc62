# no-leftovers: a group's owner goes, and its rendezvous socket with it,
# once its last member is gone: after a clean exit, and after a kill -9
# of the only member.  The runner checks the same after every test, but
# kills and removes what it finds (the test that left it fails); here it
# is the subject: an owner that stays, or a socket file left behind,
# fails this test.  It runs last, in a suite where every earlier test
# was cleaned up after, so the rendezvous dir starts empty.

# leftover_round TAG HOW CMD...: the group of server TAG (one owner, one
# socket file while it runs); the server ends by HOW (stop: SIGTERM,
# kill: SIGKILL to its group); then both must go within GONE_MS.
leftover_round() {
	local tag=$1 how=$2 owner sock
	shift 2
	# What a process ending just now may still show goes first.
	poll_until "$GONE_MS" nothing_left ||
	    { fail "$tag: not clean before: $(describe_owners $(new_owners)) $(dir_sockets)"; return; }
	start_server "$tag" "${SHIM[@]}" "$@" || return
	server_up "$tag" 2 || return
	owner=$(the_owners)
	sock=$(dir_sockets)
	[ "$(echo $owner | wc -w)" = 1 ] && [ "$(echo $sock | wc -w)" = 1 ] ||
	    { fail "$tag: want one owner and one socket while it runs, have '$owner' and '$sock'"; return; }
	if [ "$how" = stop ]; then
		stop_server "$tag" 0
	else
		# (disowned: bash says nothing of a job it no longer has)
		disown "${SRV_PID[$tag]}" 2>/dev/null
		kill -KILL -- "-${SRV_PID[$tag]}"
		poll_until "$GONE_MS" group_gone "${SRV_PID[$tag]}" ||
		    { fail "$tag: members outlived kill -9"; return; }
		exec {SRV_FD[$tag]}<&-
	fi
	poll_until "$GONE_MS" proc_gone "$owner" ||
	    fail "$tag: owner $owner still there ${GONE_MS} ms after the last member ($how)"
	poll_until "$GONE_MS" eval '[ ! -e "$sock" ]' ||
	    fail "$tag: ${sock#$SHIMDIR/} still there ${GONE_MS} ms after the last member ($how)"
	failed || note "$tag ($how): owner $owner and ${sock#$SHIMDIR/} gone"
}

t_no_leftovers() {
	leftover_round clean stop "$BUILD/examples/prefork" -n 2
	failed && return
	leftover_round killed kill "$BUILD/examples/bindfork" -n 2
}
