# io: the calls that move data, and connect, on a member (issue 13).  A
# member's fd is its endpoint, a Unix socket to the group's owner; the
# application must get the kernel's answer for a TCP socket with no
# connection (shim/io.c), and nothing it sends may reach the owner.

# Every data call on a member, bound and then listening: the errno and
# whether SIGPIPE came (blocked, then read from the pending set, so the
# answer is exact).  The C library's own entry points through ctypes
# (glibc's fortified __read_chk, __recv_chk, __recvfrom_chk; lengths the
# kernel judges before the socket).  Then the listener still serves, and
# connect(AF_UNSPEC) ends its listening, as Linux does.
PY_IO_ANSWERS='
import ctypes, errno, os, signal, socket, sys
fam, host = socket.AF_INET, "127.0.0.1"
if sys.argv[1:] == ["-6"]:
    fam, host = socket.AF_INET6, "::1"
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
def pipe():
    if signal.SIGPIPE not in signal.sigpending():
        return ""
    signal.sigtimedwait({signal.SIGPIPE}, 0)
    return " SIGPIPE"
def c(fn, *args):
    ctypes.set_errno(0)
    r = fn(*args)
    if r < 0:
        raise OSError(ctypes.get_errno(), "")
    return r
def call(name, fn):
    try:
        r = "ok %r" % (fn(),)
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    print("%s %s: %s%s" % (state, name, r, pipe()))
def calls(s):
    fd, buf = s.fileno(), ctypes.create_string_buffer(8)
    empty = iovec(ctypes.cast(buf, ctypes.c_void_p), 0)
    call("send", lambda: s.send(b"x"))
    call("send NOSIGNAL", lambda: s.send(b"x", socket.MSG_NOSIGNAL))
    call("send DONTWAIT", lambda: s.send(b"x", socket.MSG_DONTWAIT))
    call("send 0", lambda: s.send(b""))
    call("sendto", lambda: s.sendto(b"x", (host, 9)))
    call("sendmsg", lambda: s.sendmsg([b"x"]))
    call("sendmsg NOSIGNAL", lambda: s.sendmsg([b"x"], [], socket.MSG_NOSIGNAL))
    call("write", lambda: os.write(fd, b"x"))
    call("writev", lambda: os.writev(fd, [b"x", b"y"]))
    call("recv", lambda: s.recv(1))
    call("recv DONTWAIT", lambda: s.recv(1, socket.MSG_DONTWAIT))
    call("recv PEEK", lambda: s.recv(1, socket.MSG_PEEK))
    call("recv WAITALL", lambda: s.recv(1, socket.MSG_WAITALL))
    call("recv OOB", lambda: s.recv(1, socket.MSG_OOB))
    call("recvfrom", lambda: s.recvfrom(1))
    call("recvmsg", lambda: s.recvmsg(1))
    call("read", lambda: os.read(fd, 1))
    call("readv", lambda: os.readv(fd, [bytearray(1)]))
    call("__read_chk", lambda: c(libc.__read_chk, fd, buf, 1, 8))
    call("__recv_chk", lambda: c(libc.__recv_chk, fd, buf, 1, 8, 0))
    call("__recvfrom_chk",
         lambda: c(libc.__recvfrom_chk, fd, buf, 1, 8, 0, None, None))
    call("edge read 0", lambda: c(libc.read, fd, buf, 0))
    call("edge readv 0", lambda: c(libc.readv, fd, None, 0))
    call("edge writev empty",
         lambda: c(libc.writev, fd, ctypes.byref(empty), 1))
    call("edge sendmsg NULL", lambda: c(libc.sendmsg, fd, None, 0))
    call("edge recv ERRQUEUE", lambda: c(libc.recv, fd, buf, 1, 0x2000))
    s.setblocking(False)
    call("nonblocking recv", lambda: s.recv(1))
    call("nonblocking read", lambda: os.read(fd, 1))
    call("nonblocking send", lambda: s.send(b"x"))
    s.setblocking(True)
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((host, 0)); port = s.getsockname()[1]
state = "bound"; calls(s)
s.listen(8)
state = "listening"; calls(s)
call("connect", lambda: s.connect((host, port)))
cl = socket.create_connection((host, port), timeout=5)
s.settimeout(5); a, _ = s.accept()
print("served", a.getsockname()[1] == port)
a.close(); cl.close()
state = "unspec"
unspec = ctypes.create_string_buffer(28)
call("connect", lambda: c(libc.connect, s.fileno(), unspec, 28))
print("unspec acceptconn:",
      s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
s.setblocking(False)
call("accept", lambda: s.accept()[0].close())
'

# What Linux prints that illumos answers otherwise (shim/platform.c):
# ENOTCONN and no SIGPIPE for the send calls, ENOTCONN for MSG_OOB on a
# socket that does not listen (and no MSG_ERRQUEUE), a count of 0 goes
# to the socket, readv of none is EINVAL, connect on a listener is
# EOPNOTSUPP, and AF_UNSPEC is no address.
io_as_illumos() {
	sed -e 's/: EPIPE\( SIGPIPE\)*$/: ENOTCONN/' \
	    -e 's/^\(bound recv OOB\): EINVAL$/\1: ENOTCONN/' \
	    -e 's/^\([a-z]* edge recv ERRQUEUE\): EAGAIN$/\1: ENOTCONN/' \
	    -e 's/^\([a-z]* edge read 0\): ok 0$/\1: ENOTCONN/' \
	    -e 's/^\([a-z]* edge readv 0\): ok 0$/\1: EINVAL/' \
	    -e 's/^\([a-z]* edge writev empty\): ok 0$/\1: ENOTCONN/' \
	    -e 's/^\(listening connect\): EISCONN$/\1: ENOTSUP/' \
	    -e 's/^\(unspec connect\): ok 0$/\1: EAFNOSUPPORT/' \
	    -e 's/^\(unspec acceptconn:\) 0$/\1 1/' \
	    -e 's/^\(unspec accept\): EINVAL$/\1: EAGAIN/'
}

# io_oracle TAG SCRIPT ARGS...: the script natively and under the shim;
# the shim must print what the kernel prints (in the illumoslike suite,
# what illumos would).
io_oracle() {
	local tag=$1 script=$2 native shim
	shift 2
	native=$(timeout 20 "$PYTHON" -c "$script" "$@" 2>&1)
	shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$script" "$@" \
	    2>"$TDIR/$tag.err")
	[ "$SUITE" = illumoslike ] && native=$(echo "$native" | io_as_illumos)
	echo "$native" >"$TDIR/$tag.native"
	echo "$shim" >"$TDIR/$tag.shim"
	if [ "$shim" != "$native" ]; then
		fail "$tag: the shim's answers differ from the kernel's"
		echo "--- $tag: native (-) vs shim (+)"
		diff -u "$TDIR/$tag.native" "$TDIR/$tag.shim" | sed 1,2d |
		    grep -v '^ ' | head -40
		[ -s "$TDIR/$tag.err" ] && head -5 "$TDIR/$tag.err"
		return 1
	fi
	note "$tag: $(echo "$shim" | wc -l | tr -d ' ') lines identical"
}

t_io_answers() {
	need_python
	io_oracle io-4 "$PY_IO_ANSWERS"
	# have_ipv6_loopback: t_balance.sh
	if have_ipv6_loopback; then
		io_oracle io-6 "$PY_IO_ANSWERS" -6
	else
		note "no IPv6 loopback: IPv4 only"
	fi
}

# Stray calls on a member's listener (the application's bug, or a library
# that writes to every fd), then connections: the group must go on
# serving every member.  "sole": the only member (a byte of its would
# end the group); "pair": two members, the second one stray (its
# endpoint would be ended).  Under the shim, round-robin gives each of
# the pair a share (PAIR_BOTH); the kernel's hash may not, so natively
# only the totals count.
PY_IO_STRAY='
import errno, os, select, socket
host = "127.0.0.1"
def member(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port)); s.listen(8)
    return s
def stray(s):
    out = []
    for fn in (lambda: os.write(s.fileno(), b"GET / HTTP/1.0\r\n\r\n"),
               lambda: s.send(b"\0" * 64, socket.MSG_NOSIGNAL),
               lambda: s.sendmsg([b"\1" * 32]),
               lambda: os.read(s.fileno(), 64),
               lambda: s.recv(64, socket.MSG_DONTWAIT)):
        try:
            fn(); out.append("ok")
        except OSError as e:
            out.append(errno.errorcode.get(e.errno, str(e.errno)))
    return " ".join(out)
def serve(lsocks, port, n):
    got = dict((s, 0) for s in lsocks)
    for i in range(n):
        c = socket.create_connection((host, port), timeout=5)
        r, _, _ = select.select(lsocks, [], [], 5)
        for s in r:
            x, _ = s.accept(); x.close(); got[s] += 1
        c.close()
    return got
a = member(0); port = a.getsockname()[1]
print("sole stray", stray(a))
got = serve([a], port, 2)
print("sole served", got[a])
b = member(port)
print("pair stray", stray(b))
got = serve([a, b], port, 8)
print("pair served", got[a] + got[b])
print("PAIR_BOTH", got[a] > 0 and got[b] > 0)
'

t_io_stray() {
	local native shim want
	need_python
	native=$(timeout 30 "$PYTHON" -c "$PY_IO_STRAY" 2>&1)
	shim=$(timeout 30 "${SHIM[@]}" "$PYTHON" -c "$PY_IO_STRAY" \
	    2>"$TDIR/stray.err")
	note "shim: $(echo "$shim" | tr '\n' ' ')"
	want="sole stray EPIPE EPIPE EPIPE ENOTCONN ENOTCONN
sole served 2
pair stray EPIPE EPIPE EPIPE ENOTCONN ENOTCONN
pair served 8"
	[ "$(echo "$native" | grep -v PAIR_BOTH)" = "$want" ] ||
	    fail "natively: '$(echo "$native" | tr '\n' ' ')'"
	[ "$SUITE" = illumoslike ] &&
	    want=$(echo "$want" | sed 's/EPIPE/ENOTCONN/g')
	[ "$(echo "$shim" | grep -v PAIR_BOTH)" = "$want" ] ||
	    fail "after stray calls: '$(echo "$shim" | tr '\n' ' ')', want '$(echo "$want" | tr '\n' ' ')' ($(head -2 "$TDIR/stray.err" | tr '\n' ' '))"
	echo "$shim" | grep -qx "PAIR_BOTH True" ||
	    fail "the stray member took no connection after its stray calls"
}

# connect() on a member bound and not listening (client-side use of a
# shared port): EADDRINUSE under the shim, as documented (the port is the
# group's listener's; the kernel would connect from it).  The member can
# still listen and serve afterwards.
PY_IO_CONNECT='
import errno, socket
host = "127.0.0.1"
peer = socket.socket(); peer.bind((host, 0)); peer.listen(1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((host, 0)); port = s.getsockname()[1]
try:
    s.connect(peer.getsockname()); r = "connected"
except OSError as e:
    r = errno.errorcode.get(e.errno, str(e.errno))
print("connect", r)
s.listen(8)
c = socket.create_connection((host, port), timeout=5)
s.settimeout(5); a, _ = s.accept()
print("served", a.getsockname()[1] == port)
'

t_io_connect() {
	local shim
	need_python
	shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_IO_CONNECT" \
	    2>"$TDIR/connect.err")
	note "shim: $(echo "$shim" | tr '\n' ' ')"
	[ "$shim" = "connect EADDRINUSE
served True" ] ||
	    fail "connect on a bound member: '$(echo "$shim" | tr '\n' ' ')', want EADDRINUSE, then served ($(head -2 "$TDIR/connect.err" | tr '\n' ' '))"
}
