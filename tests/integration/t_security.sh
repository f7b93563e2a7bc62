# Hostile input and other users: what a member may send the owner, and
# what another user may do to a group.

# Garbage to an owner from a client of the same user: bad magic, a wrong
# version, a truncated record, a valid record carrying an fd, a record
# from the wrong direction.  Each client is dropped; the owner stays up
# and keeps serving the group.
PY_GARBAGE='
import os, socket, struct, sys, array
path = sys.argv[1]
def rec(rtype, magic=0x48535052, version=1, seq=0, arg=0):
    b = struct.pack("=IBBHIi", magic, version, rtype, 0, seq, arg)
    return b + bytes(96 - len(b))
cases = {
    "bad-magic": [rec(1, magic=0xdeadbeef)],
    "bad-version": [rec(1, version=99)],
    "bad-type": [rec(200)],
    "truncated": [rec(1)[:40]],
    "ack-before-hello": [rec(6, seq=1)],
    "hello-then-garbage": [rec(1, arg=os.getpid()), b"\xff" * 96],
    "unknown-ack": [rec(1, arg=os.getpid()), rec(6, seq=123456)],
    "fd-attached": "fd",
    "conn-from-member": [rec(1, arg=os.getpid()), rec(5, seq=1)],
}
for name, msgs in cases.items():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(5)
    if msgs == "fd":
        r, w = os.pipe()
        s.sendmsg([rec(1, arg=os.getpid())], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
        os.close(r); os.close(w)
    else:
        for m in msgs:
            s.sendall(m)
    if name == "truncated":
        s.shutdown(socket.SHUT_WR)
    # The owner closes a client that sent something invalid: read to EOF
    # (a WELCOME may come first for those that said HELLO correctly).
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
        print(name, "closed-by-owner", flush=True)
    except socket.timeout:
        print(name, "still-open", flush=True)
    s.close()
'

t_garbage() {
	local sock out
	need_python
	start_server a "${SHIM[@]}" REUSEPORT_SHIM_LOG=error "$BUILD/examples/evloop" -p 0 || return
	server_up a 1 || return
	sock=$(dir_sockets | head -1)
	[ -n "$sock" ] || { fail "no rendezvous socket"; return; }
	out=$(timeout 40 "$PYTHON" -c "$PY_GARBAGE" "$sock" 2>&1)
	note "$(echo "$out" | tr '\n' ' ')"
	if echo "$out" | grep -qv 'closed-by-owner$'; then
		fail "owner kept a client that sent garbage: $out"
	fi
	[ "$(echo "$out" | wc -l)" = 9 ] || fail "garbage client: $out"
	[ -n "$(new_owners)" ] || fail "owner gone after garbage"
	run_load after 127.0.0.1 "$PORT" 300 4
	check_answered after 300
	grep -q "invalid record\|sent a file descriptor" "$TDIR/a.err" ||
	    fail "owner logged nothing about the garbage: $(head -3 "$TDIR/a.err")"
	stop_server a 0
}

# Another user (nobody) and a group of ours: its bind of the port gets
# EADDRINUSE, as from the kernel; connecting to our rendezvous directly
# (made reachable for the test: directory 0711, socket 0777) is refused
# by the owner's credential check; and no connection reaches it.
PY_OTHER_BIND='
import errno, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(8)
    print("bound", flush=True)
except OSError as e:
    print(errno.errorcode[e.errno], flush=True)
'
PY_OTHER_HELLO='
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect-refused", e.errno, flush=True); sys.exit(0)
b = struct.pack("=IBBHIi", 0x48535052, 1, 1, 0, 0, os.getpid())
try:
    # The owner may have closed us already: then the send fails.
    s.sendall(b + bytes(96 - len(b)))
    d = s.recv(96)
    print("welcomed" if d else "closed-by-owner", flush=True)
except OSError as e:
    print("closed-by-owner", e.errno, flush=True)
'

t_other_user() {
	local dir out sock py
	need_nobody
	py=$NOBODY_PY
	# A directory another user may traverse but not write, and sockets
	# anyone may connect to: only the owner's own check stands in the way.
	dir=$(mktemp -d "${TMPDIR:-/tmp}/rpshim-sec.XXXXXX")
	chmod 711 "$dir"
	start_server a env "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$SHIMLIB" \
	    REUSEPORT_SHIM_MODE=emulate "REUSEPORT_SHIM_DIR=$dir" \
	    REUSEPORT_SHIM_LOG=warn \
	    sh -c 'umask 0; exec "$@"' sh "$BUILD/examples/evloop" -p 0 || return
	server_up a 1 || return
	sock=$(find "$dir" -type s | head -1)

	# nobody, under the shim, with its own directory: EADDRINUSE.
	out=$("${AS_NOBODY[@]}" env "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$SHIMLIB" \
	    REUSEPORT_SHIM_MODE=emulate REUSEPORT_SHIM_DIR=/tmp/rpshim-nobody-$$ \
	    "$py" -c "$PY_OTHER_BIND" "$PORT" 2>"$TDIR/nobody1.err")
	note "nobody's bind with its own directory: $out"
	[ "$out" = EADDRINUSE ] || fail "another user's bind: '$out', want EADDRINUSE"
	# nobody pointed at our directory: refused (owned by root), EADDRINUSE.
	out=$("${AS_NOBODY[@]}" env "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$SHIMLIB" \
	    REUSEPORT_SHIM_MODE=emulate "REUSEPORT_SHIM_DIR=$dir" \
	    "$py" -c "$PY_OTHER_BIND" "$PORT" 2>"$TDIR/nobody2.err")
	note "nobody's bind through our directory: $out; $(head -1 "$TDIR/nobody2.err")"
	[ "$out" = EADDRINUSE ] || fail "another user through our directory: '$out', want EADDRINUSE"
	grep -q "refusing rendezvous directory" "$TDIR/nobody2.err" ||
	    fail "no message naming the refused directory: $(head -2 "$TDIR/nobody2.err")"
	# nobody speaking the protocol to the owner directly: closed.
	out=$("${AS_NOBODY[@]}" "$py" -c "$PY_OTHER_HELLO" "$sock" 2>&1)
	note "nobody's HELLO to the owner: $out"
	case $out in
	closed-by-owner*) ;;
	*) fail "owner answered another user: '$out'" ;;
	esac
	grep -q "refused a member: another user" "$TDIR/a.err" ||
	    fail "owner did not log the refusal: $(head -3 "$TDIR/a.err")"
	# And the group still serves, all of it by our member.
	run_load after 127.0.0.1 "$PORT" 200 4
	check_answered after 200
	[ "$(awk '$1 == "pid"' "$TDIR/after.load" | wc -l)" = 1 ] ||
	    fail "connections reached someone else: $(load_counts after)"
	stop_server a 0
	poll_until "$GONE_MS" eval "[ -z \"\$(find '$dir' -type s)\" ]" ||
	    fail "socket left in $dir"
	rm -rf "$dir" "/tmp/rpshim-nobody-$$"
}

# The rendezvous directory refused: a symlink, one writable by others, one
# owned by another user.  Each is named in one line, and a second member
# gets EADDRINUSE (the shim behaves as a kernel without the option).
t_bad_dir() {
	local base out d why
	need_python
	base=$(mktemp -d "${TMPDIR:-/tmp}/rpshim-dirs.XXXXXX")
	mkdir -m 700 "$base/real"
	ln -s "$base/real" "$base/link"
	mkdir -m 777 "$base/open"
	mkdir -m 700 "$base/theirs"
	if [ "$(id -u)" = 0 ]; then
		chown 65534 "$base/theirs"
	fi
	for d in link open theirs; do
		if [ "$d" = theirs ] && [ "$(id -u)" != 0 ]; then
			note "theirs: not tested (needs root to chown)"
			continue
		fi
		out=$(env "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$SHIMLIB" \
		    REUSEPORT_SHIM_MODE=emulate "REUSEPORT_SHIM_DIR=$base/$d" \
		    "$PYTHON" -c '
import errno, socket
a = socket.socket(); b = socket.socket()
for s in (a, b):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind(("127.0.0.1", 0)); a.listen(4)
try:
    b.bind(("127.0.0.1", a.getsockname()[1])); print("second-bound")
except OSError as e:
    print(errno.errorcode[e.errno])
' 2>"$TDIR/$d.err")
		why=$(grep -c "refusing rendezvous directory: $base/$d" "$TDIR/$d.err")
		note "$d: $out; $(head -1 "$TDIR/$d.err" | sed 's/.*refusing/refusing/')"
		[ "$out" = EADDRINUSE ] || fail "$d: second member '$out', want EADDRINUSE"
		[ "$why" = 1 ] || fail "$d: want one line naming the directory, got: $(cat "$TDIR/$d.err")"
	done
	rm -rf "$base"
}

# The member limit (4096 per group): the next bind is refused with
# EADDRINUSE and a line saying why, never skipped silently; the group
# carries on.  4097 joins are as many round trips to the owner, each
# waiting for the scheduler twice: on a busy 2-CPU machine (load 13) 32 s,
# 40 s under ASan, and once past the old bound of 50 s.  The bound (here,
# and the case's own in run.sh) only ends a hang.
PY_LIMIT='
import errno, resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 2 * 4096 + 64	# a member holds 2 fds until it listens
if hard != resource.RLIM_INFINITY and hard < want:
    print("rlimit", hard); sys.exit(0)
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
socks = []
def member(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    socks.append(s)
    return s
first = member(0); port = first.getsockname()[1]
for i in range(4095):
    try:
        member(port)
    except OSError as e:
        print("member", i + 2, errno.errorcode[e.errno]); sys.exit(0)
try:
    member(port); print("bound-4097")
except OSError as e:
    print("4097th", errno.errorcode[e.errno])
    sys.stdout.flush()
socks.pop().close()
member(port); print("after-one-left ok")
'

t_member_limit() {
	local out
	need_python
	out=$(timeout 170 "${SHIM[@]}" "$PYTHON" -c "$PY_LIMIT" 2>"$TDIR/limit.err")
	case $out in rlimit*) skip "RLIMIT_NOFILE too low for 4097 sockets: $out" ;; esac
	note "$(echo "$out" | tr '\n' ' '); $(grep -m1 'group full' "$TDIR/limit.err" | sed 's/.*: error: //')"
	[ "$out" = "4097th EADDRINUSE
after-one-left ok" ] || fail "member limit: '$out' ($(head -3 "$TDIR/limit.err" | tr '\n' ' '))"
	grep -q "group full (4096 members)" "$TDIR/limit.err" ||
	    fail "the owner did not say the group was full"
	grep -q "refused to take another member" "$TDIR/limit.err" ||
	    fail "the member did not say why its bind failed"
}

# A program that closes every fd it does not know (between bind and
# listen, where the shim holds connections of its own): the shim's fds
# answer EBADF, and both members still get connections.  N connections
# (argv), each accepted by whichever member it came to.
PY_CLOSE_ALL='
import os, select, socket, sys
n = int(sys.argv[1])
a = socket.socket(); a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
b = socket.socket(); b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
b.bind(("127.0.0.1", port))
keep = {0, 1, 2, a.fileno(), b.fileno()}
for fd in range(3, 1024):
    if fd not in keep:
        try:
            os.close(fd)
        except OSError:
            pass
a.listen(8); b.listen(8)
got = {}
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    r, _, _ = select.select([a, b], [], [], 5)
    for name, s in (("a", a), ("b", b)):
        if s in r:
            x, _ = s.accept(); x.close(); got[name] = got.get(name, 0) + 1
    c.close()
print(sorted(got.items()))
'

t_close_all() {
	local native shim
	need_python
	shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_CLOSE_ALL" 4 2>&1)
	# The kernel hashes: no exact shares, but every connection accepted,
	# and with 40 each listener gets some (all to one: 2 in 2^40).
	native=$(timeout 20 "$PYTHON" -c "$PY_CLOSE_ALL" 40 2>&1)
	note "shim: $shim (native, hashed: $native)"
	[ "$shim" = "[('a', 2), ('b', 2)]" ] ||
	    fail "after closing every other fd: '$shim', want both members served"
	[[ $native =~ ^\[\(\'a\',\ ([0-9]+)\),\ \(\'b\',\ ([0-9]+)\)\]$ ]] &&
	    [ $((BASH_REMATCH[1] + BASH_REMATCH[2])) = 40 ] ||
	    fail "natively: '$native', want 40 connections, each listener some"
}
