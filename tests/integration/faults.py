"""faults.py CASE TOOL [ARGS]: a fault case run under the shim, one
process playing members and clients; prints one line for the test to
compare.  TOOL is the reuseport-shim command (stat --json reads the
group's state; REUSEPORT_SHIM_DIR comes from the environment).  Waits
are bounded polls on that state, never sleeps standing in for it."""
import ctypes, errno, json, os, resource, socket, subprocess, sys, time

TOOL = sys.argv[2]


def member(port, listen=True, backlog=64):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind(("127.0.0.1", port))
        if listen:
            s.listen(backlog)
    except OSError:
        s.close()
        raise
    return s


def group(port):
    out = subprocess.run([TOOL, "stat", "--json"], capture_output=True,
                         text=True, timeout=10).stdout
    for g in json.loads(out or "[]"):
        if g.get("port") == port and not g.get("stale"):
            return g
    return None


def poll(fn, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.02)
    return fn()


def client(port, ident):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"%d\n" % ident)
    return c


def try_accept(s):
    """What accept() gives: "accepted", or the errno's name."""
    try:
        s.accept()
        return "accepted"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))


def ident(s):
    s.settimeout(5)
    return int(s.recv(16).split(b"\n")[0])


def eject():
    # Everything queued to a live member that then breaks the protocol
    # stays its own: handed on as well, it would be served twice.
    n = 8
    a = member(0)
    port = a.getsockname()[1]
    b = member(port, listen=False)
    cs = [client(port, i) for i in range(n)]
    if not poll(lambda: any(m["unacked"] == n
                            for m in (group(port) or {}).get("members", []))):
        return "setup: the connections never reached the first member"
    b.listen(64)
    # Stray bytes on its listener where no wrapper sees them (the C
    # library's write gets the kernel's EPIPE there, shim/io.c): glibc's
    # own name for write, which the shim does not take, as a raw system
    # call would be.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.__write(a.fileno(), b"\0" * 96, 96) != 96:
        return "setup: the stray write did not reach the endpoint"
    if not poll(lambda: len((group(port) or {}).get("members", [])) == 1):
        return "the owner kept the member that broke the protocol"
    cs.append(client(port, n))
    b.settimeout(5)
    s, _ = b.accept()
    first = ident(s)
    took = []
    a.settimeout(2)
    try:
        while len(took) < n:
            t, _ = a.accept()
            took.append(ident(t))
    except OSError as e:
        took.append(errno.errorcode.get(e.errno, str(e)))
    return "second-member-first %d first-member-took %s" % (
        first, " ".join(str(x) for x in took))


def many():
    # stat lists every member, however many.
    n = int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * n + 64
    if hard != resource.RLIM_INFINITY and hard < want:
        return "rlimit %d" % hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks = [member(0)]
    port = socks[0].getsockname()[1]
    socks += [member(port) for _ in range(n - 1)]
    g = group(port)
    return "members %d" % (len(g["members"]) if g else -1)


def refs():
    # Two groups, each member holding back its connections until told
    # (SIGUSR1): with this user's fds in flight past its RLIMIT_NOFILE,
    # the kernel refuses the second owner's sends (ETOOMANYREFS).  That
    # is the owner's trouble, not the member's: all are served later.
    import signal
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    x = member(0)
    y = member(0)
    print("ports %d %d" % (x.getsockname()[1], y.getsockname()[1]),
          flush=True)
    signal.sigwait([signal.SIGUSR1])
    out = []
    for s in (x, y):
        s.settimeout(5)
        got = set()
        try:
            while len(got) < int(sys.argv[3]):
                t, _ = s.accept()
                got.add(ident(t))
                t.close()
            out.append(str(len(got)))
        except OSError as e:
            out.append("%d-then-%s" % (len(got), errno.errorcode.get(
                e.errno, str(e))))
    return "served " + " ".join(out)


def emfile():
    # Out of fds at accept: EMFILE, as from the kernel, and the
    # connection is still there for the next accept (it hung before).
    a = member(0)
    port = a.getsockname()[1]
    c = client(port, 7)
    fill = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = max(int(f) for f in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (top + 1, hard))
    try:
        while True:
            fill.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    a.settimeout(5)
    first = try_accept(a)
    for f in fill:
        os.close(f)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        t, _ = a.accept()
        second = "got %d" % ident(t)
    except OSError as e:
        second = errno.errorcode.get(e.errno, str(e))
    c.close()
    return "first %s then %s" % (first, second)


def linger():
    # A close that blocks (SO_LINGER, data the peer will not read) on a
    # socket the shim tracks must not hold up the shim's other calls in
    # the process: they used to wait on the table lock for it.
    import struct, threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)   # tracked
    c.connect(srv.getsockname())
    peer, _ = srv.accept()
    c.setblocking(False)
    try:
        while True:
            c.send(b"x" * 65536)
    except BlockingIOError:
        pass
    c.setblocking(True)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 20))
    fd = c.detach()
    t = threading.Thread(target=os.close, args=(fd,))
    t.start()
    # Until the closing thread is inside close(2) (syscall 3 on x86-64,
    # 57 on aarch64).
    path = "/proc/self/task/%d/syscall" % t.native_id
    def in_close():
        try:
            with open(path) as f:
                return f.read().split()[0] in ("3", "57")
        except OSError:
            return False
    if not poll(in_close, 10):
        peer.close()
        t.join()
        return "setup: the close never blocked"
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    done = "other call done while the close blocks" if t.is_alive() else \
        "other call waited for the close"
    peer.close()        # the lingering close ends with a reset
    t.join()
    other.close()
    return done


def gone():
    # The group ended (reuseport-shim stop; the owner's death is the
    # same to a member): accept() fails with EINVAL, as on a socket that
    # does not listen, and the listener is never readable again, so an
    # event loop waits instead of spinning on the end of stream.
    import select
    a = member(0)
    port = a.getsockname()[1]
    subprocess.run([TOOL, "stop", str(port)], capture_output=True,
                   timeout=10, check=True)
    a.settimeout(5)
    first = try_accept(a)
    p = select.poll()
    p.register(a.fileno(), select.POLLIN)
    woken = sum(1 for _ in range(3) if p.poll(300))
    a.settimeout(None)      # a blocking accept: it must not wait
    last = try_accept(a)
    return "first %s, then readable %d of 3, then %s" % (first, woken, last)


if __name__ == "__main__":
    print({"eject": eject, "many": many, "refs": refs, "emfile": emfile,
           "linger": linger, "gone": gone}[sys.argv[1]](), flush=True)
