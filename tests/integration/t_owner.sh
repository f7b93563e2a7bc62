# The owner as a program of its own (rpshim-owner beside the library), and
# the fork it falls back to where that program is missing.

# owner_exe PID: the basename of the program the owner runs.
owner_exe() { basename "$(readlink "/proc/$1/exe" 2>/dev/null)"; }

t_owner_prog() {
	local o env
	[ -d /proc/self ] || skip "no /proc to read the owner's program from"
	start_server op "${SHIM[@]}" "$BUILD/examples/prefork" -n 2 || return
	server_up op 2 || return
	o=$(the_owners)
	[ -n "$o" ] || { fail "no rpshim-owner while the group listens"; return; }
	[ "$(owner_exe $o)" = rpshim-owner ] ||
	    fail "owner $o runs $(owner_exe $o), not rpshim-owner"
	# Whose group it is, first: what ps and pgrep -f show.
	case $(ps -o args= -p "$o") in
	"rpshim-owner tcp 127.0.0.1:$PORT "*) ;;
	*) fail "owner's command line: $(ps -o args= -p "$o")" ;;
	esac
	note "owner $o: $(ps -o args= -p "$o" 2>/dev/null | cut -c1-40)"
	# pidof of the daemon must not find the owner.
	pidof prefork 2>/dev/null | tr ' ' '\n' | grep -qx "$o" &&
	    fail "pidof prefork lists the owner $o"
	env=$(tr '\0' '\n' <"/proc/$o/environ")
	echo "$env" | grep -q '^LD_PRELOAD=' &&
	    fail "the owner runs with LD_PRELOAD: a second shim inside it"
	run_load op 127.0.0.1 "$PORT" 200 4
	check_balance op 2 200
	stop_server op 0
}

# What operators send a daemon's processes by name (kill -USR1 to reopen
# logs) reaches the owner too: it must change nothing.  (It closed the
# port and left the workers spinning.)
t_owner_deaf() {
	local o sb s
	start_server od "${SHIM[@]}" "$BUILD/examples/prefork" -n 2 || return
	server_up od 2 || return
	o=$(the_owners)
	sb=$(the_standbys)
	[ -n "$o" ] && [ -n "$sb" ] ||
	    { fail "want an owner and a standby, have '$o' and '$sb'"; return; }
	# To the owner and its standby alike: the owner hears none; the
	# standby goes on TERM (its service may be stopping: it can live in
	# another member's) and the owner starts another.
	for s in HUP INT QUIT TERM USR1 USR2 WINCH ALRM; do
		kill -s "$s" $o $sb 2>/dev/null || proc_alive "$o" ||
		    fail "kill -$s $o"
	done
	# Signals arrive before the next connection is taken; all served.
	run_load od 127.0.0.1 "$PORT" 200 4
	check_balance od 2 200
	proc_alive "$o" || fail "owner $o died of a signal"
	poll_until 5000 eval '[ -n "$(the_standbys)" ]' ||
	    fail "no standby again after the signals"
	stop_server od 0
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

# reuseport-shim stop ends a group on purpose (its owner is deaf to
# signals): the owner goes, with its socket, and the port is free.
t_owner_stop() {
	local o out
	start_server os "${SHIM[@]}" "$BUILD/examples/prefork" -n 2 || return
	server_up os 2 || return
	o=$(the_owners)
	[ -n "$o" ] || { fail "no rpshim-owner while the group listens"; return; }
	out=$("$BUILD/reuseport-shim" stop --dir "$SHIMDIR" 1 2>&1) &&
	    fail "stop of a port with no group: '$out', exit 0"
	out=$("$BUILD/reuseport-shim" stop --dir "$SHIMDIR" "$PORT" 2>&1) ||
	    fail "stop $PORT: '$out'"
	[ "$out" = "stopped tcp 127.0.0.1:$PORT" ] || fail "stop said '$out'"
	poll_until "$GONE_MS" proc_gone "$o" || fail "owner $o still there"
	poll_until "$GONE_MS" no_new_owners ||
	    fail "left running: $(describe_owners $(new_owners))"
	poll_until "$GONE_MS" no_dir_sockets ||
	    fail "socket left: $(dir_sockets)"
	stop_server os
}

# stat names the processes that accept, not the one that bound: nginx's
# pattern (bind in the master, accept in forked workers).  And a program
# waiting in poll() reads as idle once nothing sent to it is waiting.
t_stat_pids() {
	local js got
	need_python
	start_server sb "${SHIM[@]}" "$BUILD/examples/bindfork" -n 2 || return
	server_up sb 2 || return
	run_load sb 127.0.0.1 "$PORT" 200 4
	check_answered sb 200
	js=$(REUSEPORT_SHIM_DIR=$SHIMDIR "$BUILD/reuseport-shim" stat --json)
	got=$("$PYTHON" -c '
import json, sys
port = int(sys.argv[1])
for g in json.loads(sys.stdin.read()):
    if g["port"] == port:
        print(" ".join(sorted(str(p) for m in g["members"]
                              for p in m["accepting"])))
' "$PORT" <<<"$js")
	[ "$got" = "$(printf '%s\n' "${READY[@]}" | sort | tr '\n' ' ' | sed 's/ $//')" ] ||
	    fail "accepting pids '$got', workers ${READY[*]}"
	note "workers ${READY[*]}; accepting $got"
	stop_server sb 0

	READY=()
	start_server se "${SHIM[@]}" "$BUILD/examples/evloop" || return
	server_up se 1 || return
	run_load se 127.0.0.1 "$PORT" 50 2
	check_answered se 50
	js=$(REUSEPORT_SHIM_DIR=$SHIMDIR "$BUILD/reuseport-shim" stat --json)
	got=$("$PYTHON" -c '
import json, sys
port = int(sys.argv[1])
for g in json.loads(sys.stdin.read()):
    if g["port"] == port:
        print(" ".join(str(m["idle"]) for m in g["members"]))
' "$PORT" <<<"$js")
	[ "$got" = True ] || fail "a poll() server after its load: idle '$got'"
	stop_server se 0
}
