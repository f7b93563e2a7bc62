# The group's life and its edges: the port is freed when the last member
# goes, and sockets outside the group get EADDRINUSE as from the kernel.

# bind ADDR PORT REUSEPORT(0|1): prints "<result> <waits>", result "ok" or
# an errno name; waits, how many times the process blocked in bind()
# alone (voluntary context switches: each sleep, poll or blocking read),
# a count that a busy machine leaves as it is, unlike a time.
PY_BIND='
import errno, resource, socket, sys
addr, port, reuse = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
if reuse:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
w = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
try:
    s.bind((addr, port))
    r = "ok"
except OSError as e:
    r = errno.errorcode.get(e.errno, str(e.errno))
print(r, resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - w)
'

# Poll (20 ms steps, 3 s at most) until a plain socket, no SO_REUSEPORT,
# binds and listens on ADDR PORT: prints "free <ms>" or "busy <errno>".
PY_WAIT_FREE='
import errno, socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
t0 = time.monotonic()
while True:
    s = socket.socket()
    try:
        s.bind((addr, port))
        s.listen(1)
        print("free", int((time.monotonic() - t0) * 1000))
        sys.exit(0)
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        if e.errno != errno.EADDRINUSE or time.monotonic() - t0 > 3:
            print("busy", err)
            sys.exit(1)
    finally:
        s.close()
    time.sleep(0.02)
'

# A plain listener, no SO_REUSEPORT: "port <n>", then waits for SIGTERM.
PY_LISTEN='
import signal, socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(8)
print("port", s.getsockname()[1], flush=True)
while True:
    signal.pause()
'

t_port_freed() {
	local r owners
	need_python
	start_server pf "${SHIM[@]}" "$BUILD/examples/prefork" -n 3 || return
	server_up pf 3 || return
	owners=$(new_owners)
	[ -n "$owners" ] || fail "no rpshim-owner while the group listens"
	note "owner(s) while listening: $owners"
	stop_server pf 0
	# No connection was made, so no TIME_WAIT holds the port either.
	r=$("$PYTHON" -c "$PY_WAIT_FREE" 127.0.0.1 "$PORT")
	case $r in
	free*) note "port bindable by a plain socket ${r#free } ms after the stop" ;;
	*) fail "port $PORT still not bindable by a plain socket 3 s after the stop: $r" ;;
	esac
	poll_until "$GONE_MS" no_new_owners ||
	    fail "owner still running 3 s after the stop: $(describe_owners $(new_owners))"
	poll_until "$GONE_MS" dir_empty ||
	    fail "rendezvous dir not empty 3 s after the stop: $(ls -A "$SHIMDIR" | tr '\n' ' ')"
}

t_non_member_inuse() {
	local r waits
	need_python
	# A plain socket under the shim cannot bind a group's port.
	start_server pf "${SHIM[@]}" "$BUILD/examples/prefork" -n 2 || return
	server_up pf 2 || return
	r=$("${SHIM[@]}" "$PYTHON" -c "$PY_BIND" 127.0.0.1 "$PORT" 0 2>"$TDIR/plain.err")
	note "plain socket under the shim on the group's port: ${r%% *}"
	[ "${r%% *}" = EADDRINUSE ] ||
	    fail "plain bind under the shim on a group's port: '${r:-no output}', want EADDRINUSE ($(head -2 "$TDIR/plain.err" | tr '\n' ' '))"
	stop_server pf 0

	# A port held by a program not under the shim: a member's bind fails
	# with EADDRINUSE at once.  "At once" is counted, not timed: the shim
	# looks for a group's name a few times (JOIN_TRIES_NO_NAME, 3, with a
	# short sleep between), then gives up; the bind blocks those 3 times.
	# A shim that waits there for an owner retries up to JOIN_TRIES (50)
	# times, a sleep each, or until JOIN_WAIT_MS: far more than 10.
	start_server pl "$PYTHON" -c "$PY_LISTEN" 127.0.0.1 || return
	expect_port pl || return
	r=$("${SHIM[@]}" "$PYTHON" -c "$PY_BIND" 127.0.0.1 "$PORT" 1 2>"$TDIR/member.err")
	waits=${r#* }
	note "SO_REUSEPORT member under the shim on a native listener's port: ${r%% *}, bind blocked $waits times"
	if [ "${r%% *}" != EADDRINUSE ]; then
		fail "member bind on a port held outside the shim: '${r:-no output}', want EADDRINUSE ($(head -2 "$TDIR/member.err" | tr '\n' ' '))"
	elif ! [[ $waits =~ ^[0-9]+$ ]] || [ "$waits" -gt 10 ]; then
		fail "member bind blocked '$waits' times before it failed with EADDRINUSE, want a few (tries for a group's name), not a wait for an owner"
	fi
	# The same through a C server: it must die at bind.
	timeout 30 "${SHIM[@]}" "$BUILD/examples/evloop" -p "$PORT" \
	    >"$TDIR/ev.out" 2>"$TDIR/ev.err" </dev/null
	r=$?
	if [ "$r" != 1 ] || ! grep -q 'bind: Address already in use' "$TDIR/ev.err"; then
		fail "evloop under the shim on a port held outside it: exit $r, stderr '$(head -2 "$TDIR/ev.err" | tr '\n' ' ')', want exit 1 and bind: Address already in use"
	fi
	stop_server pl
}
