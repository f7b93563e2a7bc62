# fdtab: the shim's own fds and its table of the application's fds, when
# the application reuses numbers behind its back (issue 12): a dup2 onto
# the fd the shim holds for a member's owner connection, closefrom and
# close_range over it, and fds closed where no wrapper sees it.  Each
# program runs natively (the kernel's SO_REUSEPORT) and under the shim,
# and must say the same.

# A member's hidden fd (the one fd its bind added that the program never
# made) taken by dup2 (argv[1]: dup2, or dup3 as os.dup2 does for a
# non-inheritable fd): the program gets its own socket on that number and
# can close it; listen and a connection still work; and no record of the
# shim's reaches the program's socket.  Natively there is no such fd, and
# a free number stands in.  The first line says how many were found.
PY_DUP2_HIDDEN='
import errno, os, socket, sys
def fds():
    out = set()
    for x in os.listdir("/proc/self/fd"):
        try:
            os.fstat(int(x)); out.add(int(x))
        except OSError:
            pass	# the listing'"'"'s own fd, closed by now
    return out
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
before = fds()
s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
hidden = sorted(fds() - before)
print("hidden", len(hidden))
x, y = socket.socketpair()
target = hidden[0] if hidden else 100
r = os.dup2(x.fileno(), target, inheritable=(sys.argv[1] == "dup2"))
print("dup2", r == target, os.fstat(target).st_ino == os.fstat(x.fileno()).st_ino)
y.send(b"ping")
print("own socket", os.read(target, 4))
try:
    s.listen(8)
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(5)
    a, _ = s.accept()
    print("accepted", a.getsockname()[1] == port)
    a.close(); c.close()
except OSError as e:
    print("listen/accept", errno.errorcode.get(e.errno, e))
y.setblocking(False)
try:
    print("records", len(y.recv(1000)))
except BlockingIOError:
    print("no records")
try:
    os.close(target); print("closed")
except OSError as e:
    print("close", errno.errorcode.get(e.errno, e))
'

t_fdtab_dup2_hidden() {
	local how native shim
	need_python
	for how in dup2 dup3; do
		native=$(timeout 20 "$PYTHON" -c "$PY_DUP2_HIDDEN" "$how" 2>&1)
		shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_DUP2_HIDDEN" \
		    "$how" 2>"$TDIR/$how.err")
		note "$how: $(echo "$shim" | tr '\n' ' ')"
		if [ "$(echo "$shim" | head -1)" != "hidden 1" ]; then
			fail "$how: want one fd of the shim's after bind, got '$(echo "$shim" | head -1)'"
			continue
		fi
		[ "$(echo "$shim" | tail -n +2)" = "$(echo "$native" | tail -n +2)" ] ||
		    fail "$how onto the shim's fd: '$(echo "$shim" | tail -n +2 | tr '\n' ' ')', natively '$(echo "$native" | tail -n +2 | tr '\n' ' ')' ($(head -2 "$TDIR/$how.err" | tr '\n' ' '))"
	done
}

# closefrom (argv[1] closefrom: the C library's, through ctypes) or
# close_range (closerange: os.closerange calls it where it exists):
# between bind and listen over the shim's fds, the group still serves
# both members; over a member itself, and over a listener, the number is
# free again and a new socket on it is a plain socket, as from the kernel.
PY_CLOSEFROM='
import ctypes, errno, os, select, socket, sys
how = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
if how == "closefrom" and not hasattr(libc, "closefrom"):
    print("no closefrom"); sys.exit(0)
def close_from(lo, hi=None):
    if how == "closefrom":
        libc.closefrom(lo)
    else:
        os.closerange(lo, hi + 1 if hi is not None else 65536)
def member(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port)); return s
def serve(lsocks, port, n):
    # Each connection is accepted by whichever listener it reaches: one
    # wait on all of them at once, bounded (3 s: a failure, never a
    # pace), not 0.2 s on each in turn, which a hand-off by a busy
    # owner could miss.
    got = 0
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        r, _, _ = select.select(lsocks, [], [], 3)
        if r:
            r[0].settimeout(3)
            x, _ = r[0].accept(); x.close(); got += 1
        c.close()
    return "served %d" % got
def attempt(what, fn):
    try:
        print(what, fn())
    except OSError as e:
        print(what, errno.errorcode.get(e.errno, e))
a = member(0); port = a.getsockname()[1]
b = member(port)
if how == "closerange" and b.fileno() > a.fileno() + 1:
    close_from(a.fileno() + 1, b.fileno() - 1)
close_from(b.fileno() + 1)
def both():
    a.listen(8); b.listen(8); return serve([a, b], port, 4)
attempt("members", both)
a.close(); b.close()
def plain():
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", 0)); t.listen(1)
        return "%s %s" % (t.fileno() == fd, serve([t], t.getsockname()[1], 1))
    finally:
        t.close()
d = member(0); fd = d.fileno()
close_from(fd); d.detach()
attempt("new socket on a member'"'"'s number", plain)
c = member(0); c.listen(8); fd = c.fileno()
close_from(fd); c.detach()
attempt("new socket on a listener'"'"'s number", plain)
'

t_fdtab_closefrom() {
	local how native shim
	need_python
	for how in closefrom closerange; do
		native=$(timeout 20 "$PYTHON" -c "$PY_CLOSEFROM" "$how" 2>&1)
		[ "$native" = "no closefrom" ] && { note "$how: not in this C library"; continue; }
		shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_CLOSEFROM" \
		    "$how" 2>"$TDIR/$how.err")
		note "$how: $(echo "$shim" | tr '\n' ' ')"
		case $native in *"served 4"*) ;; *)
			fail "$how natively: '$(echo "$native" | tr '\n' ' ')'"; continue ;;
		esac
		[ "$shim" = "$native" ] ||
		    fail "$how: '$(echo "$shim" | tr '\n' ' ')', natively '$(echo "$native" | tr '\n' ' ')' ($(head -2 "$TDIR/$how.err" | tr '\n' ' '))"
	done
}

# A member, then a listener, closed where no wrapper sees it (fclose of
# an fdopen, which closes inside the C library): a new socket on the
# number is a plain socket, not taken for the member the table held.
PY_STALE='
import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.fdopen.restype = ctypes.c_void_p
libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
for when in ("member", "listener"):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0))
    if when == "listener":
        s.listen(8)
    fd = s.detach()
    libc.fclose(libc.fdopen(fd, b"r"))
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", 0)); t.listen(1)
        c = socket.create_connection(t.getsockname(), timeout=5)
        t.settimeout(5); x, _ = t.accept(); x.close(); c.close()
        r = "served"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e))
    print(when, t.fileno() == fd, r)
    t.close()
'

t_fdtab_stale() {
	local native shim
	need_python
	native=$(timeout 20 "$PYTHON" -c "$PY_STALE" 2>&1)
	shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_STALE" 2>"$TDIR/stale.err")
	note "shim: $(echo "$shim" | tr '\n' ' ')"
	[ "$native" = "member True served
listener True served" ] || fail "natively: '$(echo "$native" | tr '\n' ' ')'"
	[ "$shim" = "$native" ] ||
	    fail "closed behind the shim: '$(echo "$shim" | tr '\n' ' ')', natively '$(echo "$native" | tr '\n' ' ')' ($(head -2 "$TDIR/stale.err" | tr '\n' ' '))"
}

# subprocess (vfork on Linux since Python 3.10; the child calls
# close_range through the C library, in memory it shares with the
# parent): the child's closing must leave the parent's table alone, so a
# member spawning a program before or after listen still serves.
PY_SPAWN='
import errno, socket, subprocess
for when in ("before listen", "after listen"):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    if when == "after listen":
        s.listen(8)
    rc = subprocess.run(["true"]).returncode
    try:
        if when == "before listen":
            s.listen(8)
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.settimeout(5); x, _ = s.accept(); x.close(); c.close()
        print(when, rc, "served")
    except OSError as e:
        print(when, rc, errno.errorcode.get(e.errno, str(e)))
    s.close()
'

t_fdtab_spawn() {
	local native shim
	need_python
	command -v true >/dev/null || skip "no true(1) on PATH"
	native=$(timeout 20 "$PYTHON" -c "$PY_SPAWN" 2>&1)
	shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_SPAWN" 2>"$TDIR/spawn.err")
	note "shim: $(echo "$shim" | tr '\n' ' ')"
	[ "$native" = "before listen 0 served
after listen 0 served" ] || fail "natively: '$(echo "$native" | tr '\n' ' ')'"
	[ "$shim" = "$native" ] ||
	    fail "after a subprocess: '$(echo "$shim" | tr '\n' ' ')', natively '$(echo "$native" | tr '\n' ' ')' ($(head -2 "$TDIR/spawn.err" | tr '\n' ' '))"
}
