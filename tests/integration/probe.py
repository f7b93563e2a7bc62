#!/usr/bin/env python3
"""probe.py: SO_REUSEPORT observations made by an ordinary Python program.

The Python counterpart of probe.c, and like it ignorant of the shim: run
natively on Linux, the kernel's own SO_REUSEPORT gives the reference
output; run under LD_PRELOAD, the shim must give the same bytes.  Python
reaches the kernel by its own routes (sockets are created with
SOCK_CLOEXEC, setblocking() uses ioctl(FIONBIO), accept() is accept4(),
socket(fileno=...) asks SO_DOMAIN/SO_TYPE/SO_PROTOCOL, os.dup() is
F_DUPFD_CLOEXEC), which is why it is worth running as well.

Every line is "scenario.step: value" and deterministic: results, errno
names, option values and yes/no comparisons, never ports, pids or fds.
The probe never judges; a mismatch is for the caller's diff to find.

usage: probe.py [-6] SCENARIO... | probe.py [-6] all
exit:  0 ran to the end, 1 a scenario could not set itself up, 2 usage
"""

import errno
import fcntl
import os
import select
import socket
import sys
import time

POLL_MS = 5000      # bound on every wait for a connection
FREE_TRIES = 200    # 200 x 10 ms: an emulation's owner exits asynchronously

FAMILY = socket.AF_INET
LOOPBACK = "127.0.0.1"
scn = ""
failed = False
opened = []         # every socket a scenario opens, closed by the runner

# Aliases Linux gives the same number; print the name the C probe prints.
ALIASES = {"EWOULDBLOCK": "EAGAIN", "ENOTSUP": "EOPNOTSUPP"}


class Abort(Exception):
    """A setup step failed: the rest of the scenario would only be noise."""


def errname(e):
    if e is None:
        return "no_errno"
    name = errno.errorcode.get(e, "errno_%d" % e)
    return ALIASES.get(name, name)


def out(step, value):
    print("%s.%s: %s" % (scn, step, value))


def yn(b):
    return "yes" if b else "no"


def res(step, fn, *args):
    """Call fn; print "ok" or the errno name; return (ok, result)."""
    try:
        r = fn(*args)
    except OSError as e:
        out(step, errname(e.errno))
        return False, None
    out(step, "ok")
    return True, r


def fail(step, e):
    global failed
    out("aborted", "%s: %s" % (step, errname(getattr(e, "errno", None))))
    failed = True
    raise Abort()


def keep(s):
    opened.append(s)
    return s


def drop(s):
    if s in opened:
        opened.remove(s)
    s.close()


def addr(port):
    return (LOOPBACK, port)


def mksock(reuseport):
    """A TCP socket of the probe's family, optionally with SO_REUSEPORT."""
    try:
        s = keep(socket.socket(FAMILY, socket.SOCK_STREAM))
        if reuseport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError as e:
        fail("socket", e)
    return s


def first_bind(step, s):
    """Bind to port 0; the kernel's port is returned, never printed."""
    ok, _ = res(step, s.bind, addr(0))
    if not ok:
        fail(step, None)
    port = s.getsockname()[1]
    if port == 0:
        fail("getsockname after bind", None)
    return port


def port_of(s):
    try:
        return s.getsockname()[1]
    except OSError:
        return 0


def same_name(step, s, ref):
    try:
        a = s.getsockname()
    except OSError as e:
        out(step, errname(e.errno))
        return
    out(step, yn(a == ref.getsockname()))


def type_name(v):
    try:
        return socket.SocketKind(v).name
    except ValueError:
        return "type_%d" % v


def family_name(v):
    try:
        return socket.AddressFamily(v).name
    except ValueError:
        return "family_%d" % v


def proto_name(v):
    return {socket.IPPROTO_TCP: "IPPROTO_TCP",
            socket.IPPROTO_UDP: "IPPROTO_UDP", 0: "0"}.get(v, "proto_%d" % v)


def show_opt(step, s, level, opt, fmt=str):
    try:
        out(step, fmt(s.getsockopt(level, opt)))
    except OSError as e:
        out(step, errname(e.errno))


def show_fdflags(prefix, fd):
    """The kernel's view of the descriptor, not Python's cached timeout."""
    try:
        out(prefix + ".FD_CLOEXEC",
            yn(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC))
    except OSError as e:
        out(prefix + ".FD_CLOEXEC", errname(e.errno))
    try:
        out(prefix + ".O_NONBLOCK",
            yn(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK))
    except OSError as e:
        out(prefix + ".O_NONBLOCK", errname(e.errno))


def wait_readable(step, s):
    p = select.poll()
    p.register(s, select.POLLIN)
    try:
        ev = p.poll(POLL_MS)
    except OSError as e:
        out(step, errname(e.errno))
        return
    if not ev:
        out(step, "timeout")
        return
    r = ev[0][1]
    names = [n for n in ("POLLIN", "POLLPRI", "POLLOUT", "POLLERR",
                         "POLLHUP", "POLLNVAL")
             if r & getattr(select, n)]
    out(step, "|".join(names) or "0")


def client(step, port):
    """A blocking client connected to port, or None (result printed)."""
    c = keep(socket.socket(FAMILY, socket.SOCK_STREAM))
    ok, _ = res(step, c.connect, addr(port))
    if not ok:
        drop(c)
        return None
    return c


# ---- scenarios ----

def dump_opts(who, stage, s):
    SOL = socket.SOL_SOCKET
    for name, opt, fmt in (("SO_REUSEPORT", socket.SO_REUSEPORT, str),
                           ("SO_REUSEADDR", socket.SO_REUSEADDR, str),
                           ("SO_TYPE", socket.SO_TYPE, type_name),
                           ("SO_DOMAIN", socket.SO_DOMAIN, family_name),
                           ("SO_PROTOCOL", socket.SO_PROTOCOL, proto_name),
                           ("SO_ACCEPTCONN", socket.SO_ACCEPTCONN, str),
                           ("SO_ERROR", socket.SO_ERROR, str)):
        show_opt("%s.%s.%s" % (who, stage, name), s, SOL, opt, fmt)


def short_optlen(step, s, buflen):
    """getsockopt with a buffer: the kernel copies min(buflen, 4) bytes."""
    ok, b = res(step, s.getsockopt, socket.SOL_SOCKET, socket.SO_REUSEPORT,
                buflen)
    if not ok:
        return
    want = (1).to_bytes(4, sys.byteorder)
    out(step + ".optlen", len(b))
    out(step + ".bytes_match_value", yn(b == want[:len(b)]))


def sc_sockopt():
    SOL, TCP = socket.SOL_SOCKET, socket.IPPROTO_TCP
    a = mksock(False)
    res("a.set_SO_REUSEPORT", a.setsockopt, SOL, socket.SO_REUSEPORT, 1)
    res("a.set_SO_REUSEADDR", a.setsockopt, SOL, socket.SO_REUSEADDR, 1)
    dump_opts("a", "before_bind", a)
    port = first_bind("a.bind", a)
    out("a.port", "nonzero")
    dump_opts("a", "after_bind", a)
    res("a.set_SO_KEEPALIVE", a.setsockopt, SOL, socket.SO_KEEPALIVE, 1)
    res("a.set_TCP_NODELAY", a.setsockopt, TCP, socket.TCP_NODELAY, 1)
    res("a.listen", a.listen, 16)
    dump_opts("a", "after_listen", a)
    show_opt("a.after_listen.SO_KEEPALIVE", a, SOL, socket.SO_KEEPALIVE)
    show_opt("a.after_listen.TCP_NODELAY", a, TCP, socket.TCP_NODELAY)

    # A second member that sets SO_REUSEPORT but not SO_REUSEADDR.
    b = mksock(False)
    res("b.set_SO_REUSEPORT", b.setsockopt, SOL, socket.SO_REUSEPORT, 1)
    dump_opts("b", "before_bind", b)
    res("b.bind", b.bind, addr(port))
    out("b.same_port_as_a", yn(port_of(b) == port))
    dump_opts("b", "after_bind", b)
    res("b.listen", b.listen, 16)
    dump_opts("b", "after_listen", b)

    short_optlen("a.get_SO_REUSEPORT_optlen_2", a, 2)
    short_optlen("a.get_SO_REUSEPORT_optlen_8", a, 8)

    # Programs re-assert options on live listeners; that must still work.
    res("a.set_SO_REUSEPORT_after_listen", a.setsockopt, SOL,
        socket.SO_REUSEPORT, 1)
    res("a.set_SO_REUSEPORT_optlen_2", a.setsockopt, SOL,
        socket.SO_REUSEPORT, (1).to_bytes(2, sys.byteorder))
    show_opt("a.final.SO_REUSEPORT", a, SOL, socket.SO_REUSEPORT)
    res("b.close", drop, b)
    res("a.close", drop, a)


def sc_name():
    a = mksock(True)
    port = first_bind("a.bind", a)
    ok, n = res("a.getsockname", a.getsockname)
    if ok:
        out("a.family", family_name(a.getsockopt(socket.SOL_SOCKET,
                                                 socket.SO_DOMAIN)))
        out("a.addr", n[0])
        out("a.port", "nonzero" if n[1] else "zero")
    b = mksock(True)
    res("b.bind", b.bind, addr(port))
    same_name("b.same_name_as_a.bound", b, a)
    res("b.getpeername.bound", b.getpeername)
    res("a.listen", a.listen, 16)
    res("b.listen", b.listen, 16)
    same_name("b.same_name_as_a.listening", b, a)
    out("a.port_after_listen", "same" if port_of(a) == port else "changed")
    res("b.getpeername.listening", b.getpeername)
    res("b.close", drop, b)
    res("a.close", drop, a)


def raw_bind(step, s, port, length, junk, flow):
    """bind() from raw bytes: junk in sin_zero or a flow label, a length
    the caller chose (a whole sockaddr_storage, RFC 2133's 24 bytes)."""
    import ctypes
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    if FAMILY == socket.AF_INET:
        raw = struct.pack("=HH4s8s", socket.AF_INET, socket.htons(port),
                          socket.inet_pton(socket.AF_INET, LOOPBACK),
                          b"\xaa" * 8 if junk else bytes(8))
    else:
        raw = struct.pack("=HHI16sI", socket.AF_INET6, socket.htons(port),
                          socket.htonl(0x12345) if flow else 0,
                          socket.inet_pton(socket.AF_INET6, LOOPBACK),
                          0x5a5a5a5a if junk else 0)
    buf = ctypes.create_string_buffer((raw + b"\xa5" * 128)[:128], 128)
    rc = libc.bind(s.fileno(), buf, ctypes.c_uint(length or len(raw)))
    out(step, "ok" if rc == 0 else errname(ctypes.get_errno()))


def raw_name(step, s):
    """getsockname into a storage-sized buffer: its length and bytes."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(b"\x77" * 128, 128)
    ln = ctypes.c_uint(128)
    if libc.getsockname(s.fileno(), buf, ctypes.byref(ln)) != 0:
        out(step, errname(ctypes.get_errno()))
        return
    raw = bytearray(buf.raw[:ln.value])
    raw[2:4] = b"PP"    # the port is the kernel's choice: never printed
    out(step, "%d %s" % (ln.value, raw.hex()))


def sc_rawname():
    a = mksock(True)
    port = first_bind("a.bind", a)
    res("a.listen", a.listen, 16)
    six = FAMILY == socket.AF_INET6
    for tag, length, junk, flow in (
            ("junk", 0, True, True),
            ("storage", 128, True, False),
            ("rfc2133", 24 if six else 0, False, False)):
        b = mksock(True)
        raw_bind("%s.bind" % tag, b, port, length, junk, flow)
        raw_name("%s.getsockname" % tag, b)
        res("%s.listen" % tag, b.listen, 16)
        raw_name("%s.getsockname.listening" % tag, b)
        res("%s.close" % tag, drop, b)
    res("a.close", drop, a)


def sc_inuse():
    SOL = socket.SOL_SOCKET
    a = mksock(True)
    port = first_bind("group.a.bind", a)
    b = mksock(True)
    res("group.b.bind", b.bind, addr(port))
    res("group.a.listen", a.listen, 16)
    res("group.b.listen", b.listen, 16)

    c = mksock(False)
    res("plain_binds_group_port", c.bind, addr(port))
    drop(c)
    c = mksock(False)
    c.setsockopt(SOL, socket.SO_REUSEADDR, 1)
    res("reuseaddr_only_binds_group_port", c.bind, addr(port))
    drop(c)

    # A plain listener: SO_REUSEPORT on the newcomer alone isn't enough.
    p = mksock(False)
    plainport = first_bind("plain.bind", p)
    res("plain.listen", p.listen, 16)
    d = mksock(True)
    res("reuseport_binds_plain_port", d.bind, addr(plainport))
    drop(d)

    # SO_REUSEPORT set and then cleared counts as never set.
    e = mksock(True)
    res("reset.set_SO_REUSEPORT_0", e.setsockopt, SOL, socket.SO_REUSEPORT, 0)
    show_opt("reset.SO_REUSEPORT", e, SOL, socket.SO_REUSEPORT)
    res("reset.binds_group_port", e.bind, addr(port))
    drop(e)

    # The failures above left the group intact.
    show_opt("group.a.SO_ACCEPTCONN", a, SOL, socket.SO_ACCEPTCONN)
    c = client("group.client_connect", port)
    if c is not None:
        drop(c)
    drop(p)
    drop(b)
    drop(a)


def sc_accept():
    SOL, TCP = socket.SOL_SOCKET, socket.IPPROTO_TCP
    lst = mksock(True)
    port = first_bind("l.bind", lst)
    # setblocking() is ioctl(FIONBIO) in CPython, not fcntl(F_SETFL).
    res("l.set_O_NONBLOCK", lst.setblocking, False)
    res("l.set_TCP_NODELAY", lst.setsockopt, TCP, socket.TCP_NODELAY, 1)
    res("l.set_SO_KEEPALIVE", lst.setsockopt, SOL, socket.SO_KEEPALIVE, 1)
    res("l.listen", lst.listen, 16)
    res("l.accept_empty", lst.accept)

    # A member that joined but never listened can't accept.
    m = mksock(True)
    m.setblocking(False)
    res("m.bind", m.bind, addr(port))
    res("m.accept_unlistened", m.accept)
    drop(m)

    c = client("c1.connect", port)
    if c is None:
        return
    wait_readable("l.poll1", lst)
    ok, r = res("l.accept", lst.accept)
    if ok:
        s, peer = r
        keep(s)
        show_fdflags("s1", s.fileno())
        out("s1.peer_family", family_name(s.getsockopt(SOL,
                                                       socket.SO_DOMAIN)))
        out("s1.peer_addr", peer[0])
        out("s1.peer_is_client", yn(peer == c.getsockname()))
        out("s1.getpeername_is_client",
            yn(s.getpeername() == c.getsockname()))
        same_name("s1.local_is_listener", s, lst)
        # Options the kernel copies from the listener to the child.
        show_opt("s1.TCP_NODELAY", s, TCP, socket.TCP_NODELAY)
        show_opt("s1.SO_KEEPALIVE", s, SOL, socket.SO_KEEPALIVE)
        show_opt("s1.SO_ACCEPTCONN", s, SOL, socket.SO_ACCEPTCONN)
        show_opt("s1.SO_REUSEPORT", s, SOL, socket.SO_REUSEPORT)
        # The connection carries data both ways.
        res("c1.send", c.sendall, b"y")
        wait_readable("s1.poll", s)
        ok, data = res("s1.recv", s.recv, 1)
        out("s1.recv_bytes", data.decode() if ok and data else "?")
        res("s1.send", s.sendall, b"z")
        ok, data = res("c1.recv", c.recv, 1)
        out("c1.recv_bytes", data.decode() if ok and data else "?")
        drop(s)
    drop(c)

    res("l.accept_drained", lst.accept)
    show_fdflags("l", lst.fileno())
    drop(lst)


def sc_dup():
    SOL = socket.SOL_SOCKET
    lst = mksock(True)
    port = first_bind("l.bind", lst)
    res("l.listen", lst.listen, 16)
    fd = lst.fileno()

    def free_fd_from(n):
        while True:
            try:
                os.fstat(n)
            except OSError:
                return n
            n += 1

    t2 = free_fd_from(300)
    t3 = free_fd_from(t2 + 1)
    dups = []

    def add(name, make, check=None):
        ok, s = res(name, make)
        if ok:
            keep(s)
            dups.append((name, s))
            if check:
                out(name + "." + check[0], yn(check[1](s)))

    add("sock_dup", lst.dup)
    add("os_dup", lambda: socket.socket(fileno=os.dup(fd)))
    add("dup2", lambda: socket.socket(
        fileno=os.dup2(fd, t2, inheritable=True)),
        ("is_target", lambda s: s.fileno() == t2))
    add("dup3_cloexec", lambda: socket.socket(
        fileno=os.dup2(fd, t3, inheritable=False)),
        ("is_target", lambda s: s.fileno() == t3))
    add("dupfd_100", lambda: socket.socket(
        fileno=fcntl.fcntl(fd, fcntl.F_DUPFD, 100)),
        ("at_least_100", lambda s: s.fileno() >= 100))
    add("dupfd_cloexec_200", lambda: socket.socket(
        fileno=fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 200)),
        ("at_least_200", lambda s: s.fileno() >= 200))
    add("fromfd", lambda: socket.fromfd(fd, FAMILY, socket.SOCK_STREAM))

    for name, s in dups:
        # socket(fileno=) learns these from SO_DOMAIN/SO_TYPE/SO_PROTOCOL.
        out(name + ".family", family_name(s.family))
        out(name + ".type", type_name(s.type))
        same_name(name + ".same_name", s, lst)
        show_opt(name + ".SO_ACCEPTCONN", s, SOL, socket.SO_ACCEPTCONN)
        out(name + ".FD_CLOEXEC", yn(not os.get_inheritable(s.fileno())))

    # The listener lives on in its duplicates once the original goes.
    res("l.close", drop, lst)
    for name, s in dups:
        c = client(name + ".client_connect", port)
        if c is None:
            continue
        wait_readable(name + ".poll", s)
        ok, r = res(name + ".accept", s.accept)
        if ok:
            drop(keep(r[0]))
        drop(c)
    for _, s in dups:
        drop(s)


def bind_freed(s, port):
    """Bind s to a port just let go of; the OSError, or None.  The one
    permitted wait: an emulation may release the port a little after the
    last close.  Bounded, and retried only on EADDRINUSE."""
    err = None
    for _ in range(FREE_TRIES):
        try:
            s.bind(addr(port))
            return None
        except OSError as e:
            err = e
            if e.errno != errno.EADDRINUSE:
                break
            time.sleep(0.01)
    return err


def sc_free():
    a = mksock(True)
    port = first_bind("a.bind", a)
    b = mksock(True)
    res("b.bind", b.bind, addr(port))
    res("a.listen", a.listen, 16)
    res("b.listen", b.listen, 16)
    res("a.close", drop, a)
    res("b.close", drop, b)

    c = mksock(False)
    err = bind_freed(c, port)
    out("plain_binds_freed_port", "ok" if err is None else errname(err.errno))
    if err is None:
        res("plain.listen", c.listen, 16)
    drop(c)


SCENARIOS = {
    "sockopt": sc_sockopt,
    "name": sc_name,
    "rawname": sc_rawname,
    "inuse": sc_inuse,
    "accept": sc_accept,
    "dup": sc_dup,
    "free": sc_free,
}


def run(name):
    global scn
    scn = name
    try:
        SCENARIOS[name]()
    except Abort:
        pass
    while opened:
        opened.pop().close()
    out("done", "yes")


def usage():
    sys.stderr.write("usage: probe.py [-6] SCENARIO... | probe.py [-6] all\n"
                     "scenarios: %s\n" % " ".join(SCENARIOS))
    sys.exit(2)


def main(argv):
    global FAMILY, LOOPBACK
    args = argv[1:]
    if args and args[0] == "-6":
        FAMILY, LOOPBACK = socket.AF_INET6, "::1"
        args = args[1:]
    # Validate everything before running anything.
    if not args or any(a != "all" and a not in SCENARIOS for a in args):
        usage()
    # Line buffering, so a crash loses no observation already made.
    sys.stdout.reconfigure(line_buffering=True)
    for a in args:
        for name in (SCENARIOS if a == "all" else [a]):
            run(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
