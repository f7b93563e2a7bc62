# Configuration: a bad value is one error line and EINVAL for the call
# that needs it; off and auto (the kernel has SO_REUSEPORT) step aside.

# setsockopt(SO_REUSEPORT) on two sockets: one result per socket.
PY_SETOPT='
import errno, socket
r = []
for i in range(2):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        r.append("ok")
    except OSError as e:
        r.append(errno.errorcode.get(e.errno, str(e.errno)))
    s.close()
print(" ".join(r))
'

# bad_value VAR WORD...: VAR=bogus under the preload.
bad_value() {
	local var=$1 r rc nl w
	shift
	r=$("${SHIM[@]}" "$var=bogus" "$PYTHON" -c "$PY_SETOPT" 2>"$TDIR/$var.err")
	[ "$r" = "EINVAL EINVAL" ] ||
	    fail "$var=bogus: setsockopt(SO_REUSEPORT) gave '${r:-no output}', want EINVAL"
	nl=$(wc -l <"$TDIR/$var.err" | tr -d ' ')
	if [ "$nl" != 1 ]; then
		fail "$var=bogus: $nl lines on stderr, want exactly 1: $(head -3 "$TDIR/$var.err" | tr '\n' '|')"
	else
		for w in "$var" "$@"; do
			grep -q -- "$w" "$TDIR/$var.err" ||
			    fail "$var=bogus: the error does not name '$w': $(cat "$TDIR/$var.err")"
		done
		note "$var=bogus: $(cat "$TDIR/$var.err")"
	fi
	# A program that never asks for SO_REUSEPORT is not disturbed.
	r=$("${SHIM[@]}" "$var=bogus" "$PYTHON" -c 'print(1)' 2>/dev/null)
	rc=$?
	[ "$rc" = 0 ] && [ "$r" = 1 ] ||
	    fail "$var=bogus: python3 -c 'print(1)' gave '$r', exit $rc"
}

t_bad_config() {
	need_python
	bad_value REUSEPORT_SHIM_MODE auto emulate off
	bad_value REUSEPORT_SHIM_POLICY roundrobin hash srcip leastloaded shared
}

# step_aside MODE: prefork under the preload with MODE works with the
# kernel's SO_REUSEPORT: no owner, nothing in the rendezvous dir.
step_aside() {
	start_server pf "${SHIM[@]}" "REUSEPORT_SHIM_MODE=$1" \
	    "$BUILD/examples/prefork" -n 4 || return
	server_up pf 4 || return
	no_new_owners || fail "mode $1: rpshim-owner started: $(describe_owners $(new_owners))"
	dir_empty || fail "mode $1: rendezvous dir not empty: $(ls -A "$SHIMDIR" | tr '\n' ' ')"
	run_load load 127.0.0.1 "$PORT" 400 8
	note "mode $1: $(load_counts load)"
	check_answered load 400
	no_new_owners || fail "mode $1: rpshim-owner after the load: $(describe_owners $(new_owners))"
	dir_empty || fail "mode $1: rendezvous dir not empty after the load: $(ls -A "$SHIMDIR" | tr '\n' ' ')"
	stop_server pf 0
}

t_mode_off() { step_aside off; }

t_mode_auto() {
	[ "$(uname -s)" = Linux ] || skip "auto steps aside only where the kernel has SO_REUSEPORT (Linux)"
	step_aside auto
}
