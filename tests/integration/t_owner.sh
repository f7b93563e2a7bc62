# The owner as a program of its own (rpshim-owner beside the library), and
# the fork it falls back to where that program is missing.

# owner_exe PID: the basename of the program the owner runs.
owner_exe() { basename "$(readlink "/proc/$1/exe" 2>/dev/null)"; }

t_owner_prog() {
	local o env
	[ -d /proc/self ] || skip "no /proc to read the owner's program from"
	start_server op "${SHIM[@]}" "$BUILD/examples/prefork" -n 2 || return
	server_up op 2 || return
	o=$(new_owners)
	[ -n "$o" ] || { fail "no rpshim-owner while the group listens"; return; }
	[ "$(owner_exe $o)" = rpshim-owner ] ||
	    fail "owner $o runs $(owner_exe $o), not rpshim-owner"
	case $(ps -o args= -p "$o") in
	rpshim-owner\ *) ;;
	*) fail "owner's command line: $(ps -o args= -p "$o")" ;;
	esac
	# pidof of the daemon must not find the owner.
	pidof prefork 2>/dev/null | tr ' ' '\n' | grep -qx "$o" &&
	    fail "pidof prefork lists the owner $o"
	env=$(tr '\0' '\n' <"/proc/$o/environ")
	echo "$env" | grep -q '^LD_PRELOAD=' &&
	    fail "the owner runs with LD_PRELOAD: a second shim inside it"
	run_load op 127.0.0.1 "$PORT" 200 4
	check_balance op 2 200
	stop_server op 0
	note "owner $o: $(ps -o args= -p "$o" 2>/dev/null | cut -c1-40)"
}

t_owner_fork() {
	local o lib
	[ -d /proc/self ] || skip "no /proc to read the owner's program from"
	# The library alone in a folder: no rpshim-owner beside it.
	mkdir "$TDIR/alone" && cp "$SHIMLIB" "$TDIR/alone/" || return
	lib=$TDIR/alone/$(basename "$SHIMLIB")
	start_server of env "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$lib" \
	    REUSEPORT_SHIM_MODE=emulate "REUSEPORT_SHIM_DIR=$SHIMDIR" \
	    "$BUILD/examples/prefork" -n 2 || return
	server_up of 2 || return
	o=$(new_owners)
	[ -n "$o" ] || { fail "no owner forked without rpshim-owner"; return; }
	[ "$(owner_exe $o)" = prefork ] ||
	    fail "owner $o runs $(owner_exe $o); expected the forked prefork"
	run_load of 127.0.0.1 "$PORT" 200 4
	check_balance of 2 200
	stop_server of 0
}
