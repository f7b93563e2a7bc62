# Faults the owner must survive without losing or doubling a connection
# (issue 12): each case failed before its fix.

# A member that breaks the protocol (a stray write on its listener) with
# connections queued: they stay its own; the next goes to another member.
t_eject_once() {
	local out want="second-member-first 8 first-member-took 0 1 2 3 4 5 6 7"
	need_python
	out=$(timeout 50 "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults.py" eject \
	    "$BUILD/reuseport-shim" 2>"$TDIR/eject.err")
	note "$out"
	[ "$out" = "$want" ] || fail "got '$out', want '$want'"
}

# stat of a large group lists every member (it stopped at a few hundred).
t_stat_many() {
	local out
	need_python
	out=$(timeout 50 "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults.py" many \
	    "$BUILD/reuseport-shim" 2000 2>"$TDIR/many.err")
	case $out in
	rlimit*) skip "RLIMIT_NOFILE too low for 2000 members ($out)" ;;
	esac
	note "$out"
	[ "$out" = "members 2000" ] || fail "stat: '$out', want 'members 2000'"
}

# A peer that connects to the rendezvous and never says HELLO does not
# keep the group (and its port) after the last member.
PY_SILENT='
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("connected", flush=True)
s.recv(1)
'

t_silent_peer() {
	local sock
	need_python
	start_server sp "${SHIM[@]}" "$BUILD/examples/prefork" -n 1 || return
	server_up sp 1 || return
	sock=$(dir_sockets | head -1)
	[ -n "$sock" ] || { fail "no rendezvous socket"; return; }
	start_server quiet "$PYTHON" -c "$PY_SILENT" "$sock" || return
	read_line quiet line || { fail "silent peer: $READ_WHY"; return; }
	stop_server sp 0
	poll_until 6000 nothing_left ||
	    fail "the owner stayed with a silent peer: $(describe_owners $(new_owners))"
}

# The rendezvous name removed (a /tmp cleaner): the owner makes it again,
# and a new member can still join.
PY_JOIN='
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(8)
    print("joined")
except OSError as e:
    print("error", e.errno)
'

t_rv_heal() {
	local sock out
	need_python
	start_server rh "${SHIM[@]}" "$BUILD/examples/prefork" -n 1 || return
	server_up rh 1 || return
	sock=$(dir_sockets | head -1)
	[ -n "$sock" ] || { fail "no rendezvous socket"; return; }
	rm -f "$sock"
	poll_until 6000 test -S "$sock" ||
	    { fail "the rendezvous socket was not made again"; return; }
	out=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_JOIN" "$PORT" 2>&1)
	[ "$out" = joined ] || fail "a member after the removal: $out"
	stop_server rh 0
}
