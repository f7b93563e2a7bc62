#!/usr/bin/env python3
"""listener.py: a member socket observed as a listener (issue 13).

One scenario per row of issue 13: options set after listen() and by a
joiner, what the first binder's settings leak, SO_RCVTIMEO on accept(),
O_ASYNC, the kernel's validation of option values, TCP_DEFER_ACCEPT, a
listener inherited across exec, an epoll registration made before
listen(), I/O on a member, shutdown(SHUT_RD), a restart next to
TIME_WAIT, and wildcard, specific and dual-stack groups on one port.

Like probe.py (whose helpers it uses) it knows nothing of the shim: run
natively, the kernel's SO_REUSEPORT gives the reference; run under
LD_PRELOAD the shim must print the same bytes.  Every line is
"scenario.step: value" and deterministic (errno names, option values,
yes/no), never a port, pid or fd.  A call that may hang under a broken
emulation is bounded by alarm() and prints "hung"; a watchdog ends the
whole probe ("watchdog: hung") should anything else hang.

-6 runs the single-family scenarios over IPv6 (::1); addrany-* and
dualstack-* choose their own families and ignore it.

usage: listener.py [-6] SCENARIO
       (exec re-runs this script as "listener.py [-6] _exec-child FD FD")
exit:  0 ran to the end, 1 a scenario could not set itself up, 2 usage
"""

import errno
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402
from probe import (Abort, drop, errname, fail, first_bind, keep,  # noqa: E402
                   mksock, out, res, yn)

SOL, TCP = socket.SOL_SOCKET, socket.IPPROTO_TCP
SO_MAX_PACING_RATE = getattr(socket, "SO_MAX_PACING_RATE", 47)
TV = struct.Struct("@ll")           # struct timeval
LINGER = struct.Struct("@ii")       # struct linger
POLL_MS = probe.POLL_MS
HANG_S = 3                          # alarm() bound on a call that may hang
WATCHDOG_S = 40                     # the whole probe (TEST_TIMEOUT is 60)


def v6():
    return probe.FAMILY == socket.AF_INET6


# ---- helpers ----

class Hung(Exception):
    """SIGALRM during a guarded call."""


def _on_alarm(signum, frame):
    raise Hung()


def guarded(step, fn, *args, secs=HANG_S):
    """fn(*args) under alarm(secs): print "ok", the errno name or "hung"."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(secs)
    try:
        r = fn(*args)
    except Hung:
        out(step, "hung")
        return False, None
    except OSError as e:
        out(step, errname(e.errno))
        return False, None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    out(step, "ok")
    return True, r


def start_watchdog():
    """A thread that ends a hung probe; it blocks every signal, so that
    SIGIO and SIGALRM go to the main thread."""
    def fire():
        sys.stdout.write("%s.watchdog: hung\n" % probe.scn)
        sys.stdout.flush()
        os._exit(1)
    t = threading.Timer(WATCHDOG_S, fire)
    t.daemon = True
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        t.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


POLL_NAMES = ("POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP",
              "POLLNVAL")


def events(s, ms):
    """poll() on s for POLLIN, up to ms: the events (0: none)."""
    p = select.poll()
    p.register(s, select.POLLIN)
    try:
        ev = p.poll(ms)
    except OSError:
        return select.POLLNVAL
    return ev[0][1] if ev else 0


def readable(s, ms):
    return bool(events(s, ms) & select.POLLIN)


def accept_one(step, lst, ms=POLL_MS):
    """Wait (bounded) for lst to be readable, then accept: the accepted
    socket, or None (the reason printed)."""
    ev = events(lst, ms)
    if not ev & select.POLLIN:
        out(step, "timeout" if not ev else "|".join(
            n for n in POLL_NAMES if ev & getattr(select, n)))
        return None
    ok, r = guarded(step, lst.accept)
    return keep(r[0]) if ok else None


def client_to(step, family, ip, port):
    c = keep(socket.socket(family, socket.SOCK_STREAM))
    ok, _ = res(step, c.connect, (ip, port))
    if not ok:
        drop(c)
        return None
    return c


def peer_event(step, c, ms=POLL_MS):
    """What a client's recv() sees: data, "eof", the errno, "timeout"."""
    if not events(c, ms):
        out(step, "timeout")
        return
    try:
        d = c.recv(16, socket.MSG_DONTWAIT)
    except OSError as e:
        out(step, errname(e.errno))
        return
    out(step, "eof" if d == b"" else "data %s" % d.decode(errors="replace"))


def owner_of(fd):
    try:
        v = fcntl.fcntl(fd, fcntl.F_GETOWN)
    except OSError as e:
        return errname(e.errno)
    return "self" if v == os.getpid() else "0" if v == 0 else "other"


def bind_port(s, ip=None):
    """Bind ip (the probe's loopback) port 0: the kernel's port."""
    ip = probe.LOOPBACK if ip is None else ip
    try:
        s.bind((ip, 0))
        port = s.getsockname()[1]
    except OSError as e:
        fail("bind", e)
    if port == 0:
        fail("getsockname after bind", None)
    return port


# ---- options: (name, level, optname, kind, value) ----

def _words(path):
    try:
        with open(path) as f:
            return f.read().split()
    except OSError:
        return []


def pick_cc():
    """A congestion control other than the default (one an unprivileged
    user may set, if there is one), else the default."""
    d = "/proc/sys/net/ipv4/tcp_"
    avail = _words(d + "available_congestion_control")
    allowed = _words(d + "allowed_congestion_control")
    default = (_words(d + "congestion_control") or ["cubic"])[0]
    for pool in (allowed, avail):
        alts = sorted(c for c in pool if c != default and c in avail)
        if alts:
            return alts[0]
    return default


CC = pick_cc()


def ip_opts(tos, ttl):
    if v6():
        return [("IPV6_TCLASS", socket.IPPROTO_IPV6, socket.IPV6_TCLASS,
                 "int", tos),
                ("IPV6_UNICAST_HOPS", socket.IPPROTO_IPV6,
                 socket.IPV6_UNICAST_HOPS, "int", ttl)]
    return [("IP_TOS", socket.IPPROTO_IP, socket.IP_TOS, "int", tos),
            ("IP_TTL", socket.IPPROTO_IP, socket.IP_TTL, "int", ttl)]


def opt_table():
    return ip_opts(32, 33) + [
        ("TCP_MAXSEG", TCP, socket.TCP_MAXSEG, "int", 1000),
        ("TCP_USER_TIMEOUT", TCP, socket.TCP_USER_TIMEOUT, "int", 12345),
        ("TCP_CONGESTION", TCP, socket.TCP_CONGESTION, "cc", CC),
        ("TCP_NOTSENT_LOWAT", TCP, socket.TCP_NOTSENT_LOWAT, "int", 16384),
        ("TCP_WINDOW_CLAMP", TCP, socket.TCP_WINDOW_CLAMP, "int", 40000),
        ("TCP_LINGER2", TCP, socket.TCP_LINGER2, "int", 30),
        ("SO_RCVTIMEO", SOL, socket.SO_RCVTIMEO, "tv", (3, 500000)),
        ("SO_SNDTIMEO", SOL, socket.SO_SNDTIMEO, "tv", (2, 200000)),
        ("SO_PRIORITY", SOL, socket.SO_PRIORITY, "int", 5),
        ("SO_RCVLOWAT", SOL, socket.SO_RCVLOWAT, "int", 7),
        ("SO_MAX_PACING_RATE", SOL, SO_MAX_PACING_RATE, "int", 1000000),
        ("SO_KEEPALIVE", SOL, socket.SO_KEEPALIVE, "int", 1),
        ("TCP_NODELAY", TCP, socket.TCP_NODELAY, "int", 1),
        ("TCP_KEEPIDLE", TCP, socket.TCP_KEEPIDLE, "int", 77),
        ("TCP_KEEPINTVL", TCP, socket.TCP_KEEPINTVL, "int", 11),
        ("TCP_KEEPCNT", TCP, socket.TCP_KEEPCNT, "int", 4),
        ("SO_LINGER", SOL, socket.SO_LINGER, "linger", (1, 3)),
    ]


def set_opt(step, s, level, opt, kind, value):
    if kind == "tv":
        value = TV.pack(*value)
    elif kind == "linger":
        value = LINGER.pack(*value)
    elif kind == "cc":
        value = value.encode()
    return res(step, s.setsockopt, level, opt, value)[0]


def show(step, s, level, opt, kind="int"):
    try:
        if kind in ("tv", "linger"):
            st = TV if kind == "tv" else LINGER
            b = s.getsockopt(level, opt, st.size)
            v = ("%d.%06d" if kind == "tv" else "%d %d") % st.unpack(b) \
                if len(b) == st.size else "optlen %d" % len(b)
        elif kind == "cc":
            got = s.getsockopt(level, opt, 16).split(b"\0")[0].decode()
            v = "set %s" % yn(got == CC)
        else:
            v = str(s.getsockopt(level, opt))
    except OSError as e:
        v = errname(e.errno)
    out(step, v)


def set_all(prefix, s, table):
    for name, level, opt, kind, value in table:
        set_opt("%s.%s" % (prefix, name), s, level, opt, kind, value)


def show_all(prefix, s, table):
    for name, level, opt, kind, _ in table:
        show("%s.%s" % (prefix, name), s, level, opt, kind)


# ---- scenarios ----

def opts_sole(before_bind):
    """Options set on a sole member, before bind() or once it listens,
    reach it and its connections."""
    t = opt_table()
    lst = mksock(True)
    if before_bind:
        set_all("l.set", lst, t)
    port = first_bind("l.bind", lst)
    res("l.listen", lst.listen, 16)
    if not before_bind:
        set_all("l.set", lst, t)
    show_all("l", lst, t)
    c = probe.client("c.connect", port)
    if c is None:
        return
    a = accept_one("l.accept", lst)
    if a is not None:
        show_all("accepted", a, t)
        drop(a)
    drop(c)
    drop(lst)


def sc_opts_joiner():
    """A joiner's options, set before listen(), are its own."""
    t = opt_table()
    a = mksock(True)
    port = first_bind("a.bind", a)
    res("a.listen", a.listen, 16)
    b = mksock(True)
    ok, _ = res("b.bind", b.bind, probe.addr(port))
    if not ok:
        fail("b.bind", None)
    set_all("b.set", b, t)
    show_all("b.bound", b, t)
    res("b.listen", b.listen, 16)
    show_all("b.listening", b, t)
    res("a.close", drop, a)
    c = probe.client("c.connect", port)
    if c is None:
        return
    s = accept_one("b.accept", b)
    if s is not None:
        # TCP_MAXSEG is the listener's own (the MSS its SYN-ACK offers):
        # under the shim the group's one listener has it only while
        # every member asks for it, and a, which did not, left an
        # instant ago (README: "What it does not reach").
        show_all("accepted", s, [o for o in t if o[0] != "TCP_MAXSEG"])
        drop(s)
    drop(c)
    drop(b)


def sc_first_leak():
    """The first binder's settings stay its own once it has left."""
    tos = ip_opts(16, 0)[0]
    a = mksock(True)
    set_opt("a.set_" + tos[0], a, *tos[1:])
    res("a.set_TCP_DEFER_ACCEPT", a.setsockopt, TCP, socket.TCP_DEFER_ACCEPT,
        5)
    res("a.F_SETOWN", fcntl.fcntl, a.fileno(), fcntl.F_SETOWN, os.getpid())
    port = first_bind("a.bind", a)
    res("a.listen", a.listen, 16)
    b = mksock(True)
    ok, _ = res("b.bind", b.bind, probe.addr(port))
    if not ok:
        fail("b.bind", None)
    res("b.listen", b.listen, 16)
    res("a.close", drop, a)
    show("b." + tos[0], b, tos[1], tos[2])
    show("b.TCP_DEFER_ACCEPT", b, TCP, socket.TCP_DEFER_ACCEPT)
    out("b.F_GETOWN", owner_of(b.fileno()))
    c = probe.client("c.connect", port)
    if c is None:
        return
    # b does not defer: the connection is there before any data.
    out("b.readable_before_data", yn(readable(b, 300)))
    res("c.send", c.sendall, b"x")
    s = accept_one("b.accept", b)
    if s is not None:
        show("accepted." + tos[0], s, tos[1], tos[2])
        out("accepted.F_GETOWN", owner_of(s.fileno()))
        drop(s)
    out("b.F_GETOWN_after_accept", owner_of(b.fileno()))
    drop(c)
    drop(b)


def sc_rcvtimeo():
    """SO_RCVTIMEO bounds a blocking accept()."""
    lst = mksock(True)
    first_bind("l.bind", lst)
    set_opt("l.set_SO_RCVTIMEO", lst, SOL, socket.SO_RCVTIMEO, "tv",
            (0, 200000))
    res("l.listen", lst.listen, 16)
    show("l.SO_RCVTIMEO", lst, SOL, socket.SO_RCVTIMEO, "tv")
    t0 = time.monotonic()
    ok, r = guarded("l.accept", lst.accept, secs=10)
    waited = time.monotonic() - t0
    if ok:
        drop(keep(r[0]))
    out("l.accept_waited_0.1_to_5s", yn(0.1 <= waited <= 5))
    drop(lst)


def bound_member(who, joiner):
    """lst, a socket with SO_REUSEPORT bound to a port of its own, or
    joiner: bound next to a, a first member that listens.  (a or None,
    lst, port)."""
    a = None
    if joiner:
        a = mksock(True)
        port = first_bind(who + ".a.bind", a)
        res(who + ".a.listen", a.listen, 16)
        lst = mksock(True)
        ok, _ = res(who + ".l.bind", lst.bind, probe.addr(port))
        if not ok:
            fail(who + ".l.bind", None)
    else:
        lst = mksock(True)
        port = first_bind(who + ".l.bind", lst)
    return a, lst, port


def async_part(who, joiner):
    """F_SETOWN and O_ASYNC after bind, before listen(); the connection
    must raise SIGIO.  joiner: on a second member, the first gone."""
    a, lst, port = bound_member(who, joiner)
    fd = lst.fileno()
    res(who + ".l.F_SETOWN", fcntl.fcntl, fd, fcntl.F_SETOWN, os.getpid())
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    res(who + ".l.set_O_ASYNC", fcntl.fcntl, fd, fcntl.F_SETFL,
        fl | os.O_ASYNC)
    res(who + ".l.listen", lst.listen, 16)
    if a is not None:
        res(who + ".a.close", drop, a)
    out(who + ".l.F_GETOWN", owner_of(fd))
    try:
        out(who + ".l.O_ASYNC",
            yn(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ASYNC))
    except OSError as e:
        out(who + ".l.O_ASYNC", errname(e.errno))
    out(who + ".sigio_before_connect",
        yn(signal.sigtimedwait({signal.SIGIO}, 0)))
    c = probe.client(who + ".c.connect", port)
    if c is None:
        return
    out(who + ".sigio", yn(signal.sigtimedwait({signal.SIGIO}, 5)))
    s = accept_one(who + ".l.accept", lst)
    if s is not None:
        drop(s)
    drop(c)
    drop(lst)
    while signal.sigtimedwait({signal.SIGIO}, 0):
        pass


def sc_async():
    """O_ASYNC and F_SETOWN set before listen() give SIGIO on a
    connection."""
    signal.signal(signal.SIGIO, lambda *a: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGIO})
    try:
        async_part("sole", False)
        async_part("joiner", True)
    finally:
        for s in list(probe.opened):
            drop(s)
        while signal.sigtimedwait({signal.SIGIO}, 0):
            pass
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGIO})
        signal.signal(signal.SIGIO, signal.SIG_IGN)


def sc_validate():
    """setsockopt on a member is validated and clamped as the kernel
    does."""
    # The reference: a plain socket, no SO_REUSEPORT, never bound.
    ref = keep(socket.socket(probe.FAMILY, socket.SOCK_STREAM))
    refbuf = {}
    for name, opt in (("SO_RCVBUF", socket.SO_RCVBUF),
                      ("SO_SNDBUF", socket.SO_SNDBUF)):
        try:
            ref.setsockopt(SOL, opt, 1 << 30)
            refbuf[name] = ref.getsockopt(SOL, opt)
        except OSError as e:
            fail("reference " + name, e)
    drop(ref)

    a = mksock(True)
    port = first_bind("a.bind", a)
    res("a.listen", a.listen, 16)
    b = mksock(True)
    ok, _ = res("b.bind", b.bind, probe.addr(port))
    if not ok:
        fail("b.bind", None)
    res("b.listen", b.listen, 16)
    tos, ttl = ip_opts(0, 0)
    for who, s in (("a", a), ("b", b)):
        def try_set(what, level, opt, value, kind="int", then=None):
            set_opt("%s.set_%s" % (who, what), s, level, opt, kind, value)
            if then:
                show("%s.%s.reads" % (who, what), s, level, opt, then)
        try_set("TCP_KEEPIDLE_0", TCP, socket.TCP_KEEPIDLE, 0, then="int")
        try_set("TCP_KEEPIDLE_40000", TCP, socket.TCP_KEEPIDLE, 40000,
                then="int")
        try_set("TCP_KEEPINTVL_0", TCP, socket.TCP_KEEPINTVL, 0, then="int")
        try_set("TCP_KEEPCNT_0", TCP, socket.TCP_KEEPCNT, 0, then="int")
        try_set("TCP_MAXSEG_10", TCP, socket.TCP_MAXSEG, 10, then="int")
        try_set("TCP_USER_TIMEOUT_-1", TCP, socket.TCP_USER_TIMEOUT, -1,
                then="int")
        try_set("TCP_LINGER2_1000", TCP, socket.TCP_LINGER2, 1000,
                then="int")
        try_set("TCP_WINDOW_CLAMP_1", TCP, socket.TCP_WINDOW_CLAMP, 1,
                then="int")
        try_set("TCP_CONGESTION_nosuch", TCP, socket.TCP_CONGESTION,
                b"nosuch_cc")
        try_set(tos[0] + "_0x13", tos[1], tos[2], 0x13, then="int")
        try_set(ttl[0] + "_0", ttl[1], ttl[2], 0)
        try_set(ttl[0] + "_256", ttl[1], ttl[2], 256, then="int")
        try_set("SO_RCVLOWAT_0", SOL, socket.SO_RCVLOWAT, 0, then="int")
        try_set("SO_LINGER_short", SOL, socket.SO_LINGER,
                (1).to_bytes(4, sys.byteorder), then="linger")
        try_set("SO_RCVTIMEO_short", SOL, socket.SO_RCVTIMEO,
                (1).to_bytes(4, sys.byteorder), then="tv")
        try_set("SO_RCVTIMEO_usec_2e6", SOL, socket.SO_RCVTIMEO, (0, 2000000),
                kind="tv", then="tv")
        for name, opt in (("SO_RCVBUF", socket.SO_RCVBUF),
                          ("SO_SNDBUF", socket.SO_SNDBUF)):
            step = "%s.%s_1G" % (who, name)
            if not set_opt(step + ".set", s, SOL, opt, "int", 1 << 30):
                continue
            try:
                v = s.getsockopt(SOL, opt)
            except OSError as e:
                out(step + ".reads", errname(e.errno))
                continue
            out(step + ".positive", yn(v > 0))
            out(step + ".as_plain_socket", yn(v == refbuf[name]))

    # IPV6_V6ONLY is fixed once an IPv6 socket is bound.
    V6 = socket.IPPROTO_IPV6, socket.IPV6_V6ONLY
    x = keep(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
    x.setsockopt(SOL, socket.SO_REUSEPORT, 1)
    res("v6.x.set_V6ONLY_1_before_bind", x.setsockopt, *V6, 1)
    res("v6.x.set_V6ONLY_0_before_bind", x.setsockopt, *V6, 0)
    p6 = bind_port(x, "::1")
    res("v6.x.set_V6ONLY_1_bound", x.setsockopt, *V6, 1)
    y = keep(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
    y.setsockopt(SOL, socket.SO_REUSEPORT, 1)
    ok, _ = res("v6.y.bind", y.bind, ("::1", p6))
    res("v6.y.set_V6ONLY_1_bound", y.setsockopt, *V6, 1)
    res("v6.x.listen", x.listen, 16)
    if ok:
        res("v6.y.listen", y.listen, 16)
    res("v6.x.set_V6ONLY_1_listening", x.setsockopt, *V6, 1)
    res("v6.y.set_V6ONLY_1_listening", y.setsockopt, *V6, 1)
    show("v6.x.V6ONLY", x, *V6)
    show("v6.y.V6ONLY", y, *V6)
    drop(y)
    drop(x)
    drop(b)
    drop(a)


def sc_defer():
    """TCP_DEFER_ACCEPT on a member: no accept() before data."""
    lst = mksock(True)
    port = first_bind("l.bind", lst)
    res("l.listen", lst.listen, 16)
    res("l.set_TCP_DEFER_ACCEPT_5", lst.setsockopt, TCP,
        socket.TCP_DEFER_ACCEPT, 5)
    show("l.TCP_DEFER_ACCEPT", lst, TCP, socket.TCP_DEFER_ACCEPT)
    c = probe.client("c.connect", port)
    if c is None:
        return
    out("l.readable_without_data", yn(readable(lst, 300)))
    res("c.send", c.sendall, b"d")
    out("l.readable_after_data", yn(readable(lst, POLL_MS)))
    a = accept_one("l.accept", lst)
    if a is not None:
        peer_event("accepted.recv", a)
        drop(a)
    drop(c)
    drop(lst)


EXEC_OPTS = (("SO_KEEPALIVE", SOL, socket.SO_KEEPALIVE),
             ("TCP_NODELAY", TCP, socket.TCP_NODELAY),
             ("TCP_KEEPIDLE", TCP, socket.TCP_KEEPIDLE),
             ("SO_ACCEPTCONN", SOL, socket.SO_ACCEPTCONN),
             ("SO_REUSEPORT", SOL, socket.SO_REUSEPORT))


def exec_listener(who, joiner):
    """A listening member with EXEC_OPTS set, not close-on-exec.
    joiner: a second member, the first gone before the exec."""
    a, lst, _ = bound_member(who, joiner)
    res(who + ".l.set_SO_KEEPALIVE", lst.setsockopt, SOL,
        socket.SO_KEEPALIVE, 1)
    res(who + ".l.set_TCP_NODELAY", lst.setsockopt, TCP, socket.TCP_NODELAY,
        1)
    res(who + ".l.set_TCP_KEEPIDLE", lst.setsockopt, TCP,
        socket.TCP_KEEPIDLE, 77)
    res(who + ".l.listen", lst.listen, 16)
    if a is not None:
        res(who + ".a.close", drop, a)
    res(who + ".l.set_inheritable", os.set_inheritable, lst.fileno(), True)
    for name, level, opt in EXEC_OPTS:
        show(who + ".l." + name, lst, level, opt)
    return lst


def sc_exec():
    """Listeners inherited across exec keep their options: a sole member,
    and a joiner whose first member left before the exec."""
    fds = [exec_listener(who, j).fileno()
           for who, j in (("sole", False), ("joiner", True))]
    me = os.path.abspath(__file__)
    argv = [sys.executable, me] + (["-6"] if v6() else []) + \
        ["_exec-child"] + [str(fd) for fd in fds]
    sys.stdout.flush()
    try:
        os.execv(sys.executable, argv)
    except OSError as e:
        fail("execv", e)


def exec_child_part(who, fd):
    try:
        lst = keep(socket.socket(fileno=fd))
    except OSError as e:
        out(who + ".socket_from_fd", errname(e.errno))
        return
    for name, level, opt in EXEC_OPTS:
        show(who + ".l." + name, lst, level, opt)
    try:
        port = lst.getsockname()[1]
    except OSError as e:
        out(who + ".l.getsockname", errname(e.errno))
        return
    c = probe.client(who + ".c.connect", port)
    if c is None:
        return
    a = accept_one(who + ".l.accept", lst)
    if a is not None:
        for name, level, opt in EXEC_OPTS:
            show(who + ".accepted." + name, a, level, opt)
        drop(a)
    drop(c)
    drop(lst)


def sc_exec_child(fds):
    for who, fd in zip(("child.sole", "child.joiner"), fds):
        exec_child_part(who, fd)


def epoll_fired(ep, fd):
    try:
        ev = ep.poll(POLL_MS / 1000)
    except OSError as e:
        return errname(e.errno)
    return yn(any(f == fd and e & select.EPOLLIN for f, e in ev))


def sc_epoll_before():
    """An epoll registration made between bind() and listen() fires."""
    # A sole member.
    lst = mksock(True)
    port = first_bind("sole.bind", lst)
    ep = keep(select.epoll())
    res("sole.epoll_add", ep.register, lst.fileno(), select.EPOLLIN)
    res("sole.listen", lst.listen, 16)
    c = probe.client("sole.c.connect", port)
    if c is not None:
        out("sole.fired", epoll_fired(ep, lst.fileno()))
        a = accept_one("sole.accept", lst)
        if a is not None:
            drop(a)
        drop(c)
    drop(ep)
    drop(lst)

    # A joiner, the first member gone before the connection.
    a = mksock(True)
    port = first_bind("joiner.a.bind", a)
    res("joiner.a.listen", a.listen, 16)
    b = mksock(True)
    ok, _ = res("joiner.b.bind", b.bind, probe.addr(port))
    if not ok:
        fail("joiner.b.bind", None)
    ep = keep(select.epoll())
    res("joiner.epoll_add", ep.register, b.fileno(), select.EPOLLIN)
    res("joiner.b.listen", b.listen, 16)
    res("joiner.a.close", drop, a)
    c = probe.client("joiner.c.connect", port)
    if c is not None:
        out("joiner.fired", epoll_fired(ep, b.fileno()))
        s = accept_one("joiner.accept", b)
        if s is not None:
            drop(s)
        drop(c)
    drop(ep)
    drop(b)


def io_ops(prefix, s):
    fd = s.fileno()
    res(prefix + ".send_MSG_NOSIGNAL", s.send, b"x", socket.MSG_NOSIGNAL)
    guarded(prefix + ".recv_MSG_DONTWAIT", s.recv, 1, socket.MSG_DONTWAIT)
    guarded(prefix + ".write", os.write, fd, b"x")
    guarded(prefix + ".read", os.read, fd, 1)


def accepts(step, lst, port):
    c = probe.client(step + ".connect", port)
    if c is None:
        return
    a = accept_one(step + ".accept", lst)
    out(step + ".accepted", yn(a is not None))
    if a is not None:
        drop(a)
    drop(c)


def sc_io():
    """send/recv/write/read on a member: the kernel's errors, and the
    listener goes on."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    lst = mksock(True)
    port = first_bind("l.bind", lst)
    res("l.listen", lst.listen, 16)
    io_ops("l", lst)
    accepts("sole", lst, port)
    b = mksock(True)
    ok, _ = res("b.bind", b.bind, probe.addr(port))
    if not ok:
        fail("b.bind", None)
    io_ops("b", b)
    accepts("with_b", lst, port)
    res("b.listen", b.listen, 16)
    drop(b)
    accepts("after_b", lst, port)
    drop(lst)


def sc_shutrd():
    """shutdown(SHUT_RD) of the last listener with a connection queued."""
    lst = mksock(True)
    port = first_bind("l.bind", lst)
    res("l.listen", lst.listen, 16)
    c = probe.client("c.connect", port)
    if c is None:
        return
    out("l.queued", yn(readable(lst, POLL_MS)))
    res("l.shutdown_SHUT_RD", lst.shutdown, socket.SHUT_RD)
    show("l.SO_ACCEPTCONN", lst, SOL, socket.SO_ACCEPTCONN)
    peer_event("c.recv", c)
    ok, r = guarded("l.accept_after_shutdown", lst.accept)
    if ok:
        drop(keep(r[0]))
    drop(c)
    drop(lst)


def time_wait_on(port):
    """A TIME_WAIT connection with local port `port` (/proc/net/tcp*)."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    w = line.split()
                    if w[3] == "06" and int(w[1].split(":")[1], 16) == port:
                        return True
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return False


def sc_timewait():
    """A restart with SO_REUSEPORT alone next to TIME_WAIT."""
    lst = mksock(True)                  # SO_REUSEPORT only
    port = first_bind("l.bind", lst)
    res("l.listen", lst.listen, 16)
    c = probe.client("c.connect", port)
    if c is None:
        return
    s = accept_one("l.accept", lst)
    if s is None:
        return
    res("s.close", drop, s)             # the server closes first
    peer_event("c.recv", c)
    res("c.close", drop, c)
    # The server side enters TIME_WAIT when the client's FIN arrives.
    tw = False
    for _ in range(probe.FREE_TRIES):
        tw = time_wait_on(port)
        if tw:
            break
        time.sleep(0.01)
    out("server_port_time_wait", yn(tw))
    res("l.close", drop, lst)

    n = mksock(True)                    # SO_REUSEPORT only
    err = probe.bind_freed(n, port)
    out("n.bind", "ok" if err is None else errname(err.errno))
    if err is not None:
        return
    res("n.listen", n.listen, 16)
    accepts("n", n, port)
    drop(n)


def pick_ready(step, members, ms=POLL_MS):
    """Accept the connection from whichever member is readable; print its
    group's label."""
    socks = [s for _, s in members]
    try:
        r, _, _ = select.select(socks, [], [], ms / 1000)
    except OSError as e:
        out(step, errname(e.errno))
        return
    if not r:
        out(step, "timeout")
        return
    label = next(lab for lab, s in members if s is r[0])
    ok, acc = guarded(step + ".accept", r[0].accept)
    if ok:
        drop(keep(acc[0]))
    out(step, label if len(r) == 1 else "%s (%d ready)" % (label, len(r)))


def groups(order):
    """order: [(label, family, ip, v6only)]; two members each, the first
    binding port 0, all listening.  Returns ([(label, sock)], port)."""
    members, port = [], 0
    for label, family, ip, v6only in order:
        for i in (1, 2):
            s = keep(socket.socket(family, socket.SOCK_STREAM))
            step = "%s%d" % (label, i)
            try:
                s.setsockopt(SOL, socket.SO_REUSEPORT, 1)
                if v6only is not None:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                                 v6only)
            except OSError as e:
                fail(step + ".setsockopt", e)
            if port == 0:
                port = bind_port(s, ip)
                out(step + ".bind", "ok")
            else:
                ok, _ = res(step + ".bind", s.bind, (ip, port))
                if not ok:
                    drop(s)
                    continue
            members.append((label, step, s))
    for _, step, s in members:
        res(step + ".listen", s.listen, 16)
    return [(label, s) for label, _, s in members], port


def addrany(order):
    members, port = groups(order)
    for n, ip in enumerate(["127.0.0.1"] * 4 + ["127.0.0.2"], 1):
        step = "conn%d.%s" % (n, ip)
        c = client_to(step + ".connect", socket.AF_INET, ip, port)
        if c is None:
            continue
        pick_ready(step + ".group", members)
        drop(c)
    for _, s in members:
        drop(s)


WILD = ("wildcard", socket.AF_INET, "0.0.0.0", None)
SPEC = ("specific", socket.AF_INET, "127.0.0.1", None)


def sc_addrany_wf():
    """A wildcard and a specific group on one port, wildcard first."""
    addrany([WILD, SPEC])


def sc_addrany_sf():
    """The same, the specific group first."""
    addrany([SPEC, WILD])


def dualstack(order):
    members, port = groups(order)
    for n, (family, ip) in enumerate([(socket.AF_INET, "127.0.0.1")] * 2 +
                                     [(socket.AF_INET6, "::1")] * 2, 1):
        step = "conn%d.%s" % (n, ip)
        c = client_to(step + ".connect", family, ip, port)
        if c is None:
            continue
        pick_ready(step + ".listener", members)
        drop(c)
    for _, s in members:
        drop(s)


INET6 = ("inet6", socket.AF_INET6, "::", 0)
INET = ("inet", socket.AF_INET, "0.0.0.0", None)


def sc_dualstack_6f():
    """A dual-stack [::] group and a 0.0.0.0 group, the IPv6 one first."""
    dualstack([INET6, INET])


def sc_dualstack_4f():
    """The same, the IPv4 group first."""
    dualstack([INET, INET6])


SCENARIOS = {
    "opts-after": lambda: opts_sole(False),
    "opts-prebind": lambda: opts_sole(True),
    "opts-joiner": sc_opts_joiner,
    "first-leak": sc_first_leak,
    "rcvtimeo": sc_rcvtimeo,
    "async": sc_async,
    "validate": sc_validate,
    "defer": sc_defer,
    "exec": sc_exec,
    "epoll-before": sc_epoll_before,
    "io": sc_io,
    "shutrd": sc_shutrd,
    "timewait": sc_timewait,
    "addrany-wf": sc_addrany_wf,
    "addrany-sf": sc_addrany_sf,
    "dualstack-6f": sc_dualstack_6f,
    "dualstack-4f": sc_dualstack_4f,
}


def run(name, fn, *args):
    probe.scn = name
    try:
        fn(*args)
    except Abort:
        pass
    finally:
        while probe.opened:
            probe.opened.pop().close()
    out("done", "yes")
    return 1 if probe.failed else 0


def usage():
    sys.stderr.write("usage: listener.py [-6] SCENARIO\n"
                     "scenarios: %s\n" % " ".join(SCENARIOS))
    sys.exit(2)


def main(argv):
    args = argv[1:]
    if args and args[0] == "-6":
        probe.FAMILY, probe.LOOPBACK = socket.AF_INET6, "::1"
        args = args[1:]
    # Line buffering, so a crash loses no observation already made.
    sys.stdout.reconfigure(line_buffering=True)
    if len(args) == 3 and args[0] == "_exec-child" and \
            all(a.isdigit() for a in args[1:]):
        start_watchdog()
        return run("exec", sc_exec_child, [int(a) for a in args[1:]])
    if len(args) != 1 or args[0] not in SCENARIOS:
        usage()
    start_watchdog()
    return run(args[0], SCENARIOS[args[0]])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
