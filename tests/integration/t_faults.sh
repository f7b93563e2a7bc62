# Faults the owner must survive without losing or doubling a connection
# (issue 12): each case failed before its fix.

# A member that breaks the protocol (stray bytes on its listener, written
# where no wrapper sees them) with connections queued: they stay its own;
# the next goes to another member.
t_eject_once() {
	local out want="second-member-first 8 first-member-took 0 1 2 3 4 5 6 7"
	need_python
	out=$(timeout 50 "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults.py" eject \
	    "$BUILD/reuseport-shim" 2>"$TDIR/eject.err")
	note "$out"
	[ "$out" = "$want" ] || fail "got '$out', want '$want'"
}

# A member out of fds at accept(): EMFILE, as the kernel says it, and the
# connection goes back to the owner for the next accept (it hung before).
t_emfile_return() {
	local out want="first EMFILE then got 7"
	need_python
	[ -d /proc/self/fd ] || skip "no /proc/self/fd to count fds with"
	out=$(timeout 30 "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults.py" emfile \
	    "$BUILD/reuseport-shim" 2>"$TDIR/emfile.err")
	note "$out"
	[ "$out" = "$want" ] || fail "got '$out', want '$want'"
	# The kernel's own answer, for the record.
	note "native: $(timeout 30 "$PYTHON" "$TI_HERE/faults.py" emfile \
	    "$BUILD/reuseport-shim" 2>&1)"
}

# A close that blocks (SO_LINGER) on a tracked socket holds up nothing
# else of the shim's: it closed under the table lock before.
t_close_unlocked() {
	local out want="other call done while the close blocks"
	need_python
	[ -r /proc/self/task/$$/syscall ] ||
	    skip "no /proc/PID/task/TID/syscall to see a thread inside close"
	out=$(timeout 60 "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults.py" linger \
	    "$BUILD/reuseport-shim" 2>"$TDIR/linger.err")
	case $out in
	setup:*) skip "$out" ;;
	esac
	[ "$out" = "$want" ] || fail "got '$out', want '$want'"
}

# A group gone for good: accept fails with EINVAL and the listener stops
# being readable (event loops spun on the end of stream: nginx filled its
# error log).  The three polls wait 300 ms each for what must not come.
t_gone_quiet() {
	local out want="first EINVAL, then readable 0 of 3, then EINVAL"
	need_python
	out=$(timeout 30 "${SHIM[@]}" "$PYTHON" "$TI_HERE/faults.py" gone \
	    "$BUILD/reuseport-shim" 2>"$TDIR/gone.err")
	note "$out"
	[ "$out" = "$want" ] || fail "got '$out', want '$want'"
	[ "$(grep -c 'owner process is gone' "$TDIR/gone.err")" -le 1 ] ||
	    fail "more than one log line: $(grep -c 'owner process is gone' "$TDIR/gone.err")"
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

# This user's fds in flight past its RLIMIT_NOFILE: the kernel answers
# the owner's send with ETOOMANYREFS (not for root: the case runs as
# nobody).  That is the owner's trouble: it once dropped every member of
# the group for it, and the port closed.
PY_CLIENTS='
import socket, sys
port, n, base = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cs = []
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"%d\n" % (base + i))
    cs.append(c)
print("connected", flush=True)
'

refused_or_dropped() {
	grep -q 'Too many references' "$TDIR/refs.err" && return 0
	grep -q 'left (' "$TDIR/refs.err"
}

t_toomanyrefs() {
	local d
	need_nobody
	# nobody's own rendezvous directory, removed whatever happens.
	d=$(mktemp -d "${TMPDIR:-/tmp}/rpshim-refs.XXXXXX") || return
	chown 65534 "$d"
	toomanyrefs "$d"
	[ -n "${SRV_PID[refs]:-}" ] && stop_server refs
	rm -rf "$d"
}

toomanyrefs() {
	local n=50 px py line
	# Both limits at 64, for the members and the owners they start.
	start_server refs sh -c 'ulimit -n 64 && exec "$@"' sh \
	    "${AS_NOBODY[@]}" env "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$SHIMLIB" \
	    REUSEPORT_SHIM_MODE=emulate "REUSEPORT_SHIM_DIR=$1" \
	    REUSEPORT_SHIM_LOG=info "$NOBODY_PY" "$TI_HERE/faults.py" refs \
	    "$BUILD/reuseport-shim" "$n" || return
	read_line refs line ||
	    { fail "no ports line: $READ_WHY$(server_err refs)"; return; }
	set -- $line
	px=$2 py=$3
	# Clients connect, send their number and go; the data waits.
	"$PYTHON" -c "$PY_CLIENTS" "$px" "$n" 0 </dev/null >/dev/null ||
	    { fail "clients of the first group"; return; }
	"$PYTHON" -c "$PY_CLIENTS" "$py" "$n" 1000 </dev/null >/dev/null ||
	    { fail "clients of the second group"; return; }
	poll_until 10000 refused_or_dropped ||
	    skip "the kernel never refused a send (no ETOOMANYREFS here)"
	kill -USR1 "${SRV_PID[refs]}"
	read_line refs line ||
	    { fail "no result: $READ_WHY$(server_err refs)"; return; }
	note "$line; $(grep -m1 -E 'Too many|left \(' "$TDIR/refs.err")"
	[ "$line" = "served $n $n" ] || fail "$line, want served $n $n"
}
