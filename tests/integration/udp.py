#!/usr/bin/env python3
"""udp.py: UDP SO_REUSEPORT groups observed by an ordinary program.

Like probe.py and listener.py (whose helpers it uses) it knows nothing of
the shim: run natively, the kernel's own SO_REUSEPORT gives the reference;
run under LD_PRELOAD (REUSEPORT_SHIM_MODE=emulate, REUSEPORT_SHIM_UDP=hash)
the shim must print the same bytes.  Every line is "scenario.step: value"
and deterministic (data, lengths, flags, errno names, yes/no), never a
port, pid or fd, nor which member of a group a datagram reached: the
kernel's hash picks it, and only what holds for every pick is printed
(one member got it; a client's datagrams all went to one member).

Group members are sockets of this one process (the kernel allows that);
clients are plain UDP sockets bound to the loopback.  Every wait is a
poll() bounded by POLL_MS; a call that may hang under a broken emulation
is bounded by alarm() and prints "hung"; a watchdog ends the probe
("watchdog: hung") should anything else hang.

Natively, Linux may give a SO_REUSEPORT socket's bind to port 0 a port
that compatible reuseport sockets of another program of the same user
hold (it counts such a port as free): the first member then checks that
the port holds its socket alone, and the scenario runs again if not
(Collision), its lines so far discarded.

-6 runs every scenario over IPv6 (::1).

usage: udp.py [-6] SCENARIO... | udp.py [-6] all
       udp.py [-6] _count N            (N members; the kernel's sockets)
       udp.py [-6] _full N TOOL DIR    (N members, one more; stat, stop)
       udp.py [-6] _serve [options]    (a server for t_udp.sh)
       udp.py [-6] _client PORT [options]
       (exec re-runs this script as "udp.py [-6] _exec-child FD PORT CPORT")
exit:  0 ran to the end, 1 a scenario could not set itself up, 2 usage
"""

import argparse
import ctypes
import errno
import hashlib
import io
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402
from probe import Abort, drop, errname, fail, keep, out, res, yn  # noqa: E402

SOL = socket.SOL_SOCKET
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
SIOCINQ = 0x541B                    # FIONREAD
MSG_WAITFORONE = 0x10000
POLL_MS = probe.POLL_MS
HANG_S = 3
WATCHDOG_S = 40                     # the whole probe (TEST_TIMEOUT is 60)

libc = ctypes.CDLL(None, use_errno=True)


def v6():
    return probe.FAMILY == socket.AF_INET6


# ---- helpers ----

class Hung(Exception):
    """SIGALRM during a guarded call."""


def _on_alarm(signum, frame):
    raise Hung()


def guarded(step, fn, *args, secs=HANG_S, show_ok=True):
    """fn(*args) under alarm(secs): (True, result), or (False, None) with
    the errno name or "hung" printed."""
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
    if show_ok:
        out(step, "ok")
    return True, r


def start_watchdog():
    def fire():
        buf = CUR["buf"]
        if buf is not None:
            sys.__stdout__.write(buf.getvalue())
        sys.__stdout__.write("%s.watchdog: hung\n" % probe.scn)
        sys.__stdout__.flush()
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


def ev_names(ev):
    return "|".join(n for n in POLL_NAMES if ev & getattr(select, n)) or "0"


def events(s, mask, ms):
    p = select.poll()
    p.register(s, mask)
    try:
        ev = p.poll(ms)
    except OSError:
        return select.POLLNVAL
    return ev[0][1] if ev else 0


def readable(s, ms=0):
    return bool(events(s, select.POLLIN, ms) & select.POLLIN)


def recv_or_timeout(s, n):
    """The next datagram on s (at most n bytes) as text, or "timeout"."""
    return s.recv(n).decode() if readable(s, POLL_MS) else "timeout"


def mksock(reuseport=True):
    """A UDP socket of the probe's family, optionally with SO_REUSEPORT."""
    try:
        s = keep(socket.socket(probe.FAMILY, socket.SOCK_DGRAM))
        if reuseport:
            s.setsockopt(SOL, socket.SO_REUSEPORT, 1)
    except OSError as e:
        fail("socket", e)
    return s


class Collision(Exception):
    """The kernel gave the first member a port that a reuseport socket of
    another process of ours already had (Linux's bind to port 0 treats a
    port held only by compatible SO_REUSEPORT sockets of the same uid as
    free): the scenario joined a stranger's group, so it runs again."""


def bind0(step, s):
    """The first member's bind to port 0: the kernel's port, never
    printed.  Natively the port must then hold this one socket (under
    the shim: the owner's one)."""
    port = probe.first_bind(step, s)
    if len(kernel_sockets(port)) > 1:
        raise Collision()
    return port


def group(prefix, n):
    """n members: the first bound to port 0, the others to its port.
    (members, port); every bind printed."""
    a = mksock()
    port = bind0(prefix + "0.bind", a)
    members = [a]
    for i in range(1, n):
        m = mksock()
        ok, _ = res("%s%d.bind" % (prefix, i), m.bind, probe.addr(port))
        if not ok:
            fail("%s%d.bind" % (prefix, i), None)
        members.append(m)
    return members, port


def client(step="c"):
    """A plain UDP socket bound to the loopback (never a member)."""
    c = keep(socket.socket(probe.FAMILY, socket.SOCK_DGRAM))
    try:
        c.bind(probe.addr(0))
    except OSError as e:
        fail(step + ".bind", e)
    return c


def send(step, c, data, port):
    """c sends data to the group; printed only when it fails."""
    try:
        n = c.sendto(data, probe.addr(port))
    except OSError as e:
        out(step, errname(e.errno))
        return False
    if n != len(data):
        out(step, "short %d" % n)
        return False
    return True


def arrive(step, members, ms=POLL_MS):
    """Wait for a datagram on any member: that member, or None ("timeout"
    printed).  Prints whether exactly one member has something."""
    p = select.poll()
    for m in members:
        p.register(m, select.POLLIN)
    try:
        ev = p.poll(ms)
    except OSError as e:
        out(step, errname(e.errno))
        return None
    ready = [m for m in members if any(f == m.fileno() and e & select.POLLIN
                                       for f, e in ev)]
    if not ready:
        out(step, "timeout")
        return None
    if len(members) > 1:
        out(step + ".on_one_member", yn(len(ready) == 1))
    return ready[0]


def same_src(a, c):
    """a (an address as received) is c's bound name."""
    return yn(a == c.getsockname())


def lo_index():
    try:
        return socket.if_nametoindex("lo")
    except OSError:
        return -1


def drain(members):
    """Read whatever is queued on members, without waiting."""
    for m in members:
        while True:
            try:
                m.recv(65536, socket.MSG_DONTWAIT)
            except OSError:
                break


# ---- ctypes: recvmmsg, sendmmsg, fortified entry points ----

class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint),
                ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p),
                ("controllen", ctypes.c_size_t), ("flags", ctypes.c_int)]


class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]


def sa_parse(raw):
    """A sockaddr's bytes as Python gives addresses: (host, port[, ...])."""
    fam = struct.unpack_from("=H", raw)[0]
    if fam == socket.AF_INET:
        port = struct.unpack_from("!H", raw, 2)[0]
        return (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
    if fam == socket.AF_INET6:
        port, flow = struct.unpack_from("!HI", raw, 2)
        scope = struct.unpack_from("=I", raw, 24)[0]
        return (socket.inet_ntop(socket.AF_INET6, raw[8:24]), port, flow,
                scope)
    return ("family_%d" % fam,)


def sa_make(host, port, family=None):
    if (family or probe.FAMILY) == socket.AF_INET6:
        return struct.pack("=H", socket.AF_INET6) + struct.pack(
            "!HI", port, 0) + socket.inet_pton(socket.AF_INET6, host) + \
            struct.pack("=I", 0)
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + \
        socket.inet_pton(socket.AF_INET, host) + bytes(8)


def c_call(fn, *args):
    ctypes.set_errno(0)
    r = fn(*args)
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r


def cbuf_call(fn, size=64):
    """fn(buffer) of the C library, a count or -1: the bytes it read."""
    b = ctypes.create_string_buffer(size)
    n = c_call(fn, b)
    return b.raw[:n]


class timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


def recvmmsg(s, vlen, size, flags, timeout=None):
    """recvmmsg(2): [(data, source, msg_flags), ...]; with a timeout
    (sec, nsec), also what the call left of it."""
    vec = (mmsghdr * vlen)()
    bufs = [ctypes.create_string_buffer(size) for _ in range(vlen)]
    names = [ctypes.create_string_buffer(128) for _ in range(vlen)]
    iovs = (iovec * vlen)()
    for i in range(vlen):
        iovs[i].base = ctypes.cast(bufs[i], ctypes.c_void_p)
        iovs[i].len = size
        vec[i].hdr.name = ctypes.cast(names[i], ctypes.c_void_p)
        vec[i].hdr.namelen = 128
        vec[i].hdr.iov = ctypes.pointer(iovs[i])
        vec[i].hdr.iovlen = 1
    ts = timespec(*timeout) if timeout is not None else None
    n = c_call(libc.recvmmsg, s.fileno(), vec, vlen, flags,
               ctypes.byref(ts) if ts is not None else None)
    got = [(bufs[i].raw[:min(vec[i].len, size)],
            sa_parse(names[i].raw[:vec[i].hdr.namelen]), vec[i].hdr.flags)
           for i in range(n)]
    return got if ts is None else (got, (ts.sec, ts.nsec))


def sendmmsg(s, datas, host, port):
    """sendmmsg(2) of datas to (host, port): the count sent."""
    vlen = len(datas)
    vec = (mmsghdr * vlen)()
    keepalive = []
    name = ctypes.create_string_buffer(sa_make(host, port))
    iovs = (iovec * vlen)()
    for i, d in enumerate(datas):
        b = ctypes.create_string_buffer(d, max(len(d), 1))
        keepalive.append(b)
        iovs[i].base = ctypes.cast(b, ctypes.c_void_p)
        iovs[i].len = len(d)
        vec[i].hdr.name = ctypes.cast(name, ctypes.c_void_p)
        vec[i].hdr.namelen = len(name.raw) - 1
        vec[i].hdr.iov = ctypes.pointer(iovs[i])
        vec[i].hdr.iovlen = 1
    return c_call(libc.sendmmsg, s.fileno(), vec, vlen, 0)


def flag_names(f):
    names = [n for n, v in (("MSG_TRUNC", socket.MSG_TRUNC),
                            ("MSG_CTRUNC", socket.MSG_CTRUNC),
                            ("MSG_EOR", socket.MSG_EOR),
                            ("MSG_ERRQUEUE", socket.MSG_ERRQUEUE))
             if f & v]
    rest = f & ~(socket.MSG_TRUNC | socket.MSG_CTRUNC | socket.MSG_EOR |
                 socket.MSG_ERRQUEUE)
    if rest:
        names.append("0x%x" % rest)
    return "|".join(names) or "0"


def show_opt(step, s, level, opt, fmt=str):
    try:
        out(step, fmt(s.getsockopt(level, opt)))
    except OSError as e:
        out(step, errname(e.errno))


def pktinfo_opt():
    if v6():
        return ("IPV6_RECVPKTINFO", socket.IPPROTO_IPV6, IPV6_RECVPKTINFO)
    return ("IP_PKTINFO", socket.IPPROTO_IP, IP_PKTINFO)


def tos_opt():
    if v6():
        return ("IPV6_TCLASS", socket.IPPROTO_IPV6, socket.IPV6_TCLASS)
    return ("IP_TOS", socket.IPPROTO_IP, socket.IP_TOS)


def show_cmsgs(step, anc):
    """Each control message: its level and type, and for packet info the
    destination address and whether the interface is the loopback."""
    if not anc:
        out(step, "none")
        return
    for level, typ, data in anc:
        if level == socket.IPPROTO_IP and typ == IP_PKTINFO and \
                len(data) >= 12:
            ifx, spec, dst = struct.unpack("=i4s4s", data[:12])
            out(step, "IP_PKTINFO len %d ifindex_lo %s spec_dst %s addr %s"
                % (len(data), yn(ifx == lo_index()),
                   socket.inet_ntop(socket.AF_INET, spec),
                   socket.inet_ntop(socket.AF_INET, dst)))
        elif level == socket.IPPROTO_IPV6 and typ == IPV6_PKTINFO and \
                len(data) >= 20:
            dst, ifx = struct.unpack("=16si", data[:20])
            out(step, "IPV6_PKTINFO len %d ifindex_lo %s addr %s"
                % (len(data), yn(ifx == lo_index()),
                   socket.inet_ntop(socket.AF_INET6, dst)))
        else:
            out(step, "level %d type %d len %d" % (level, typ, len(data)))


# ---- scenarios ----

def sc_opts():
    """Options of a member, before and after bind, the kernel's clamping,
    and a joiner's own."""
    fmt = {"SO_TYPE": probe.type_name, "SO_DOMAIN": probe.family_name,
           "SO_PROTOCOL": probe.proto_name}

    def dump(who, s):
        for name, opt in (("SO_REUSEPORT", socket.SO_REUSEPORT),
                          ("SO_REUSEADDR", socket.SO_REUSEADDR),
                          ("SO_TYPE", socket.SO_TYPE),
                          ("SO_DOMAIN", socket.SO_DOMAIN),
                          ("SO_PROTOCOL", socket.SO_PROTOCOL),
                          ("SO_ACCEPTCONN", socket.SO_ACCEPTCONN),
                          ("SO_ERROR", socket.SO_ERROR),
                          ("SO_BROADCAST", socket.SO_BROADCAST)):
            show_opt("%s.%s" % (who, name), s, SOL, opt,
                     fmt.get(name, str))
        if v6():
            show_opt(who + ".IPV6_V6ONLY", s, socket.IPPROTO_IPV6,
                     socket.IPV6_V6ONLY)

    fresh = mksock(False)
    default_rcvbuf = fresh.getsockopt(SOL, socket.SO_RCVBUF)
    drop(fresh)
    a = mksock()
    dump("a.before_bind", a)
    port = bind0("a.bind", a)
    dump("a.after_bind", a)
    out("a.SO_RCVBUF_default", yn(a.getsockopt(SOL, socket.SO_RCVBUF) ==
                                  default_rcvbuf))
    res("a.set_SO_RCVBUF", a.setsockopt, SOL, socket.SO_RCVBUF, 32768)
    show_opt("a.SO_RCVBUF", a, SOL, socket.SO_RCVBUF)
    res("a.set_SO_SNDBUF", a.setsockopt, SOL, socket.SO_SNDBUF, 16384)
    show_opt("a.SO_SNDBUF", a, SOL, socket.SO_SNDBUF)
    pk = pktinfo_opt()
    show_opt("a." + pk[0] + "_default", a, pk[1], pk[2])
    res("a.set_" + pk[0], a.setsockopt, pk[1], pk[2], 1)
    show_opt("a." + pk[0], a, pk[1], pk[2])
    tos = tos_opt()
    res("a.set_" + tos[0], a.setsockopt, tos[1], tos[2], 32)
    show_opt("a." + tos[0], a, tos[1], tos[2])
    res("a.set_SO_RCVTIMEO", a.setsockopt, SOL, socket.SO_RCVTIMEO,
        struct.pack("@ll", 1, 500000))
    try:
        out("a.SO_RCVTIMEO", "%d.%06d" % struct.unpack(
            "@ll", a.getsockopt(SOL, socket.SO_RCVTIMEO, 16)))
    except OSError as e:
        out("a.SO_RCVTIMEO", errname(e.errno))
    res("a.set_SO_RCVBUF_negative", a.setsockopt, SOL, socket.SO_RCVBUF, -1)
    show_opt("a.SO_RCVBUF_after_negative", a, SOL, socket.SO_RCVBUF)
    res("a.set_bad_optlen", a.setsockopt, SOL, socket.SO_RCVBUF, b"\1")
    res("a.set_unknown", a.setsockopt, SOL, 9999, 1)

    b = mksock()
    ok, _ = res("b.bind", b.bind, probe.addr(port))
    if not ok:
        fail("b.bind", None)
    dump("b.after_bind", b)
    out("b.SO_RCVBUF_default", yn(b.getsockopt(SOL, socket.SO_RCVBUF) ==
                                  default_rcvbuf))
    show_opt("b." + pk[0] + "_default", b, pk[1], pk[2])
    show_opt("b." + tos[0] + "_default", b, tos[1], tos[2])
    res("b.set_SO_RCVBUF", b.setsockopt, SOL, socket.SO_RCVBUF, 8192)
    show_opt("b.SO_RCVBUF", b, SOL, socket.SO_RCVBUF)
    show_opt("a.SO_RCVBUF_after_b", a, SOL, socket.SO_RCVBUF)
    res("a.set_SO_REUSEPORT_again", a.setsockopt, SOL, socket.SO_REUSEPORT,
        1)
    show_opt("a.SO_REUSEPORT_final", a, SOL, socket.SO_REUSEPORT)
    res("b.close", drop, b)
    res("a.close", drop, a)


def sc_name():
    """getsockname after bind to port 0 and after a join; getpeername."""
    a = mksock()
    port = bind0("a.bind", a)
    ok, n = res("a.getsockname", a.getsockname)
    if ok:
        out("a.addr", n[0])
        out("a.port", "nonzero" if n[1] else "zero")
        if v6():
            out("a.flow_scope", "%d %d" % (n[2], n[3]))
    probe.raw_name("a.raw_getsockname", a)
    res("a.getpeername", a.getpeername)
    b = mksock()
    res("b.getsockname_unbound", b.getsockname)
    res("b.bind", b.bind, probe.addr(port))
    probe.same_name("b.same_name_as_a", b, a)
    probe.raw_name("b.raw_getsockname", b)
    res("b.getpeername", b.getpeername)
    res("b.bind_again", b.bind, probe.addr(port))
    res("b.bind_again_port0", b.bind, probe.addr(0))
    res("a.close", drop, a)
    probe.same_name("b.name_after_a_closed", b, b)
    out("b.port_after_a_closed", yn(probe.port_of(b) == port))
    res("b.close", drop, b)


def sc_recv():
    """Every receive call on a member: data and source address."""
    ms, port = group("m", 2)
    c = client()
    fd_calls = [
        ("recv", lambda s: (s.recv(64), None, None)),
        ("recvfrom", lambda s: s.recvfrom(64) + (None,)),
        ("recvmsg", lambda s: (lambda r: (r[0], r[3], (r[1], r[2])))(
            s.recvmsg(64))),
        ("recv_into", lambda s: (lambda b: (bytes(b[:s.recv_into(b)]),
                                            None, None))(bytearray(64))),
        ("recvfrom_into", lambda s: (lambda b: (lambda r: (
            bytes(b[:r[0]]), r[1], None))(s.recvfrom_into(b)))(
                bytearray(64))),
        ("recvmsg_into", lambda s: (lambda b: (lambda r: (
            bytes(b[:r[0]]), r[3], (r[1], r[2])))(s.recvmsg_into([b])))(
                bytearray(64))),
        ("read", lambda s: (os.read(s.fileno(), 64), None, None)),
        ("readv", lambda s: (lambda b: (bytes(b[:os.readv(s.fileno(), [b])]),
                                        None, None))(bytearray(64))),
        ("readv_split", lambda s: (lambda b1, b2: (lambda n: (
            bytes((b1 + b2)[:n]), None, None))(
                os.readv(s.fileno(), [b1, b2])))(bytearray(3),
                                                 bytearray(61))),
        ("libc_recv", lambda s: (cbuf_call(
            lambda b: libc.recv(s.fileno(), b, 64, 0)), None, None)),
        ("__recv_chk", lambda s: (cbuf_call(
            lambda b: libc.__recv_chk(s.fileno(), b, 64, 64, 0)), None,
            None)),
        ("__recvfrom_chk", lambda s: (cbuf_call(
            lambda b: libc.__recvfrom_chk(s.fileno(), b, 64, 64, 0, None,
                                          None)), None, None)),
        ("__read_chk", lambda s: (cbuf_call(
            lambda b: libc.__read_chk(s.fileno(), b, 64, 64)), None, None)),
    ]
    for i, (name, call) in enumerate(fd_calls):
        data = ("%s-%d" % (name, i)).encode()
        if not send(name + ".send", c, data, port):
            continue
        m = arrive(name + ".arrived", ms)
        if m is None:
            continue
        ok, r = guarded(name, call, m, show_ok=False)
        if not ok:
            continue
        got, src, extra = r
        out(name + ".data", "same" if got == data else "differs %r" % got[:24])
        if src is not None:
            out(name + ".source", "%s %s" % (src[0], same_src(src, c)))
        if extra is not None:
            out(name + ".anc_flags", "%d %s" % (len(extra[0]),
                                                flag_names(extra[1])))
        out(name + ".then_empty", yn(not any(readable(x) for x in ms)))

    # recvmmsg: one datagram queued, then none.
    if send("recvmmsg.send", c, b"mm-1", port):
        m = arrive("recvmmsg.arrived", ms)
        if m is not None:
            ok, r = guarded("recvmmsg", recvmmsg, m, 4, 64,
                            socket.MSG_DONTWAIT, show_ok=False)
            if ok:
                out("recvmmsg.count", len(r))
                for d, src, fl in r:
                    out("recvmmsg.msg", "%s %s %s %s" % (
                        d.decode(), src[0], same_src(src, c),
                        flag_names(fl)))
            guarded("recvmmsg.empty", recvmmsg, m, 4, 64,
                    socket.MSG_DONTWAIT)
    # recvmmsg gathering three datagrams of one client (one member: the
    # kernel's hash), however many each call returns.
    sent = [b"mm-a", b"mm-bb", b"mm-ccc"]
    if all(send("recvmmsg3.send", c, d, port) for d in sent):
        m = arrive("recvmmsg3.arrived", ms)
        got = []
        while m is not None and len(got) < 3:
            if not readable(m, POLL_MS):
                out("recvmmsg3.more", "timeout")
                break
            ok, r = guarded("recvmmsg3", recvmmsg, m, 4, 64,
                            MSG_WAITFORONE, show_ok=False)
            if not ok:
                break
            got += r
        out("recvmmsg3.data", " ".join(d.decode() for d, _, _ in got))
        out("recvmmsg3.sources", yn(all(s == c.getsockname()
                                        for _, s, _ in got)))
        out("recvmmsg3.lengths", " ".join(str(len(d)) for d, _, _ in got))

    # Order: ten datagrams of one client, on one member, in order.
    for k in range(10):
        send("order.send", c, b"o%d" % k, port)
    m = arrive("order.arrived", ms)
    got = []
    while m is not None and len(got) < 10 and readable(m, POLL_MS):
        got.append(m.recv(64).decode())
    out("order.data", " ".join(got))
    out("order.others_empty", yn(not any(readable(x) for x in ms)))

    # A datagram as large as UDP allows, each way.
    big = hashlib.sha256(b"big").digest() * 2048
    big = big[:65527 if v6() else 65507]
    if send("big.send", c, big, port):
        m = arrive("big.arrived", ms)
        if m is not None:
            # A peek leaves it whole, however its bytes came; a short
            # one is cut (and says so with MSG_TRUNC).
            ok, r = guarded("big.peek", m.recv, 70000, socket.MSG_PEEK)
            if ok:
                out("big.peek_same", yn(r == big))
            ok, r = guarded("big.peek_short", m.recvmsg, 100, 0,
                            socket.MSG_PEEK)
            if ok:
                out("big.peek_short_same", yn(r[0] == big[:100]))
                out("big.peek_short_trunc", yn(r[2] & socket.MSG_TRUNC))
            # Into three buffers, each filled in turn.
            bufs = [bytearray(1000), bytearray(30000), bytearray(40000)]
            ok, r = guarded("big.peek_into", m.recvmsg_into, bufs, 0,
                            socket.MSG_PEEK)
            if ok:
                out("big.peek_into_same",
                    yn(bytes(b"".join(bufs))[:r[0]] == big))
            ok, r = guarded("big.recvfrom", m.recvfrom, 70000)
            if ok:
                out("big.len_same", yn(len(r[0]) == len(big)))
                out("big.data_same", yn(r[0] == big))
                out("big.source", same_src(r[1], c))
            res("big.reply", m.sendto, big, c.getsockname())
            if readable(c, POLL_MS):
                d, src = c.recvfrom(70000)
                out("big.reply_same", yn(d == big))
                out("big.reply_from_group", yn(src[1] == port))
            else:
                out("big.reply", "timeout")
    # Two clients: each datagram's own source.
    c2 = client("c2")
    send("two.send", c2, b"from-c2", port)
    m = arrive("two.arrived", ms)
    if m is not None:
        d, src = m.recvfrom(64)
        out("two.data", d.decode())
        out("two.source_c2", same_src(src, c2))


def sc_trunc():
    """Truncation: MSG_TRUNC in msg_flags, MSG_TRUNC as an input flag,
    and the rest of a truncated datagram is gone."""
    ms, port = group("m", 2)
    c = client()
    steps = [
        ("recv4", lambda s: (s.recv(4), None)),
        ("recvfrom4", lambda s: (lambda r: (r[0], same_src(r[1], c)))(
            s.recvfrom(4))),
        ("recvmsg4", lambda s: (lambda r: (r[0], flag_names(r[2])))(
            s.recvmsg(4))),
        ("recvmsg_into4", lambda s: (lambda b: (lambda r: (
            bytes(b[:r[0]]), "%d %s" % (r[0], flag_names(r[2]))))(
                s.recvmsg_into([b])))(bytearray(4))),
        ("recv_into_MSG_TRUNC", lambda s: (lambda b: (lambda n: (
            bytes(b), "returned %d" % n))(
                s.recv_into(b, 4, socket.MSG_TRUNC)))(bytearray(4))),
        ("recvfrom_into_MSG_TRUNC", lambda s: (lambda b: (lambda r: (
            bytes(b), "returned %d %s" % (r[0], same_src(r[1], c))))(
                s.recvfrom_into(b, 4, socket.MSG_TRUNC)))(bytearray(4))),
        ("recvmsg_MSG_TRUNC", lambda s: (lambda b: (lambda r: (
            bytes(b), "returned %d %s" % (r[0], flag_names(r[2]))))(
                s.recvmsg_into([b], 0, socket.MSG_TRUNC)))(bytearray(4))),
        ("recv0", lambda s: (s.recv(0), None)),
        ("recv0_MSG_TRUNC", lambda s: (None, "returned %d" % c_call(
            libc.recv, s.fileno(), None, 0, socket.MSG_TRUNC))),
        ("read4", lambda s: (os.read(s.fileno(), 4), None)),
        ("recvmmsg4", lambda s: (lambda r: (r[0][0], flag_names(r[0][2])))(
            recvmmsg(s, 2, 4, socket.MSG_DONTWAIT))),
    ]
    for name, call in steps:
        if not send(name + ".send", c, b"0123456789", port):
            continue
        m = arrive(name + ".arrived", ms)
        if m is None:
            continue
        ok, r = guarded(name, call, m, show_ok=False)
        if not ok:
            continue
        d, extra = r
        out(name + ".result", "%s%s" % (
            "-" if d is None else d.decode(errors="replace") or "''",
            "" if extra is None else " " + extra))
        ok, _ = guarded(name + ".rest", m.recv, 64, socket.MSG_DONTWAIT)
    # The next datagram is whole after a truncated one.
    send("next.send", c, b"abcdefgh", port)
    send("next.send2", c, b"XY", port)
    m = arrive("next.arrived", ms)
    if m is not None:
        out("next.first", m.recv(3).decode())
        out("next.second", recv_or_timeout(m, 10))


def sc_peek():
    """MSG_PEEK leaves the datagram; recv then takes it."""
    ms, port = group("m", 2)
    c = client()
    send("send", c, b"peekdata", port)
    m = arrive("arrived", ms)
    if m is None:
        return
    ok, d = guarded("recv_PEEK", m.recv, 64, socket.MSG_PEEK, show_ok=False)
    out("recv_PEEK.data", d.decode() if ok else "-")
    ok, r = guarded("recvfrom_PEEK", m.recvfrom, 64, socket.MSG_PEEK,
                    show_ok=False)
    if ok:
        out("recvfrom_PEEK.data", "%s %s" % (r[0].decode(),
                                             same_src(r[1], c)))
    ok, r = guarded("recvmsg_PEEK4", m.recvmsg, 4, 0, socket.MSG_PEEK,
                    show_ok=False)
    if ok:
        out("recvmsg_PEEK4.data", "%s %s %s" % (
            r[0].decode(), flag_names(r[2]), same_src(r[3], c)))
    b = bytearray(2)
    ok, n = guarded("recv_into_PEEK_TRUNC", m.recv_into, b, 2,
                    socket.MSG_PEEK | socket.MSG_TRUNC, show_ok=False)
    if ok:
        out("recv_into_PEEK_TRUNC.data", "%d %s" % (n, bytes(b).decode()))
    out("still_readable", yn(readable(m)))
    ok, d = guarded("recv", m.recv, 64, show_ok=False)
    out("recv.data", d.decode() if ok else "-")
    guarded("recv_empty", m.recv, 64, socket.MSG_DONTWAIT)
    out("readable_after", yn(readable(m)))
    # Peek with two datagrams queued: the first each time.
    send("two.send1", c, b"one", port)
    send("two.send2", c, b"two", port)
    m = arrive("two.arrived", ms)
    if m is None:
        return
    out("two.peek1", m.recv(64, socket.MSG_PEEK).decode())
    out("two.peek2", m.recv(64, socket.MSG_PEEK).decode())
    out("two.recv1", m.recv(64).decode())
    if readable(m, POLL_MS):
        out("two.peek3", m.recv(64, socket.MSG_PEEK).decode())
        out("two.recv2", m.recv(64).decode())
    else:
        out("two.second", "timeout")


def sc_dontwait():
    """Nothing queued: EAGAIN for non-blocking reads, SO_RCVTIMEO."""
    ms, port = group("m", 2)
    a = ms[0]
    fd = a.fileno()
    guarded("recv_DONTWAIT", a.recv, 64, socket.MSG_DONTWAIT)
    guarded("recvfrom_DONTWAIT", a.recvfrom, 64, socket.MSG_DONTWAIT)
    guarded("recvmsg_DONTWAIT", a.recvmsg, 64, 0, socket.MSG_DONTWAIT)
    guarded("recvmmsg_DONTWAIT", recvmmsg, a, 2, 64, socket.MSG_DONTWAIT)
    guarded("libc_recv_DONTWAIT", lambda: c_call(
        libc.recv, fd, ctypes.create_string_buffer(8), 8,
        socket.MSG_DONTWAIT))
    res("setblocking_false", a.setblocking, False)
    probe.show_fdflags("nonblocking", fd)
    guarded("nb.recv", a.recv, 64)
    guarded("nb.recvfrom", a.recvfrom, 64)
    guarded("nb.recvmsg", a.recvmsg, 64)
    guarded("nb.read", os.read, fd, 64)
    guarded("nb.recvmmsg", recvmmsg, a, 2, 64, 0)
    res("setblocking_true", a.setblocking, True)
    probe.show_fdflags("blocking", fd)
    # Blocking receive with SO_RCVTIMEO: EAGAIN, not a hang.
    b = ms[1]
    res("set_SO_RCVTIMEO", b.setsockopt, SOL, socket.SO_RCVTIMEO,
        struct.pack("@ll", 0, 200000))
    guarded("rcvtimeo.recv", b.recv, 64)
    guarded("rcvtimeo.recvfrom", b.recvfrom, 64)
    guarded("rcvtimeo.read", os.read, b.fileno(), 64)
    # A blocking recv wakes for a datagram sent meanwhile.
    c = client()
    res("set_SO_RCVTIMEO_long", b.setsockopt, SOL, socket.SO_RCVTIMEO,
        struct.pack("@ll", 0, 0))
    res("set_SO_RCVTIMEO_long_a", a.setsockopt, SOL, socket.SO_RCVTIMEO,
        struct.pack("@ll", 0, 0))
    t = threading.Thread(target=lambda: send("blocking.send", c, b"wake",
                                             port))
    t.start()
    m = arrive("blocking.arrived", ms)
    t.join()
    if m is not None:
        ok, d = guarded("blocking.recv", m.recv, 64, show_ok=False)
        out("blocking.data", d.decode() if ok else "-")
    guarded("after.recv_DONTWAIT", a.recv, 64, socket.MSG_DONTWAIT)


def sc_zero():
    """A zero-length datagram is a datagram."""
    ms, port = group("m", 2)
    c = client()
    out("before.readable", yn(any(readable(m) for m in ms)))
    send("send", c, b"", port)
    m = arrive("arrived", ms)
    if m is None:
        return
    ok, r = guarded("recvfrom", m.recvfrom, 64, show_ok=False)
    if ok:
        out("recvfrom.data", "%d %s" % (len(r[0]), same_src(r[1], c)))
    out("after.readable", yn(readable(m)))
    send("send2", c, b"", port)
    m = arrive("arrived2", ms)
    if m is not None:
        ok, r = guarded("recvmsg", m.recvmsg, 64, 64, show_ok=False)
        if ok:
            out("recvmsg.data", "%d %d %s %s" % (
                len(r[0]), len(r[1]), flag_names(r[2]), same_src(r[3], c)))
    send("send3", c, b"", port)
    send("send3b", c, b"after-empty", port)
    m = arrive("arrived3", ms)
    if m is not None:
        ok, d = guarded("read", os.read, m.fileno(), 64, show_ok=False)
        out("read.len", len(d) if ok else "-")
        out("read.next", recv_or_timeout(m, 64))
    send("send4", c, b"", port)
    m = arrive("arrived4", ms)
    if m is not None:
        ok, r = guarded("recvmmsg", recvmmsg, m, 2, 64, socket.MSG_DONTWAIT,
                        show_ok=False)
        if ok:
            out("recvmmsg.data", " ".join("%d:%s" % (len(d), same_src(s, c))
                                          for d, s, _ in r))
    # A member sends one back.
    res("reply", ms[0].sendto, b"", c.getsockname())
    if readable(c, POLL_MS):
        d, src = c.recvfrom(64)
        out("reply.data", "%d %s" % (len(d), yn(src[1] == port)))
    else:
        out("reply.data", "timeout")


def sc_pktinfo():
    """IP_PKTINFO / IPV6_RECVPKTINFO: the destination address, as the
    member asked for it; MSG_CTRUNC when the buffer is too small."""
    ms, port = group("m", 2)
    c = client()
    name, level, opt = pktinfo_opt()
    anc = socket.CMSG_SPACE(64)

    def one(step, data, ancsize):
        if not send(step + ".send", c, data, port):
            return
        m = arrive(step + ".arrived", ms)
        if m is None:
            return
        ok, r = guarded(step + ".recvmsg", m.recvmsg, 64, ancsize,
                        show_ok=False)
        if not ok:
            return
        out(step + ".data", "%s %s %s" % (r[0].decode(), flag_names(r[2]),
                                          same_src(r[3], c)))
        show_cmsgs(step + ".cmsg", r[1])

    one("off", b"no-info", anc)
    for m in ms:
        res("set_" + name, m.setsockopt, level, opt, 1)
    one("on", b"info", anc)
    one("on_small", b"small", 4)
    one("on_none", b"none", 0)
    # The source-address cmsg a DNS server sends back with (the
    # destination it was asked at): the reply leaves from it.
    if send("reply.send", c, b"ask", port):
        m = arrive("reply.arrived", ms)
        if m is not None:
            d, anc_r, fl, src = m.recvmsg(64, anc)
            info = [x for x in anc_r if x[0] == level]
            if info:
                ok, _ = res("reply.sendmsg_pktinfo", m.sendmsg, [b"answer"],
                            [(level, IPV6_PKTINFO if v6() else IP_PKTINFO,
                              info[0][2])], 0, src)
                if ok and readable(c, POLL_MS):
                    d, s2 = c.recvfrom(64)
                    out("reply.got", "%s %s %s" % (d.decode(), s2[0],
                                                   yn(s2[1] == port)))
                elif ok:
                    out("reply.got", "timeout")
            else:
                out("reply", "no cmsg")
    for m in ms:
        res("clear_" + name, m.setsockopt, level, opt, 0)
    one("cleared", b"cleared", anc)


def sc_poll():
    """poll, select and epoll follow queued datagrams."""
    ms, port = group("m", 2)
    both = select.POLLIN | select.POLLOUT
    for i, m in enumerate(ms):
        out("m%d.before" % i, ev_names(events(m, both, 0)))
        out("m%d.before_in" % i, ev_names(events(m, select.POLLIN, 0)))
    ep = keep(select.epoll())
    for m in ms:
        ep.register(m.fileno(), select.EPOLLIN)
    out("epoll.before", len(ep.poll(0)))
    r, w, x = select.select(ms, ms, ms, 0)
    out("select.before", "%d %d %d" % (len(r), len(w), len(x)))
    c = client()
    send("send", c, b"ping", port)
    m = arrive("arrived", ms)
    if m is None:
        return
    other = [x for x in ms if x is not m][0]
    out("got.events", ev_names(events(m, both, 0)))
    out("other.events", ev_names(events(other, both, 0)))
    ev = ep.poll(POLL_MS / 1000)
    out("epoll.ready", " ".join(
        "%s:%s" % ("got" if f == m.fileno() else "other",
                   "EPOLLIN" if e & select.EPOLLIN else hex(e))
        for f, e in sorted(ev, key=lambda x: x[0] != m.fileno())))
    r, w, x = select.select(ms, [], [], 0)
    out("select.ready", "%d %s" % (len(r), yn(r == [m])))
    out("still.events", ev_names(events(m, both, 0)))
    m.recv(64)
    out("after.events", ev_names(events(m, both, 0)))
    out("epoll.after", len(ep.poll(0)))
    # Edge-triggered: each datagram is an edge.
    ep2 = keep(select.epoll())
    ep2.register(m.fileno(), select.EPOLLIN | select.EPOLLET)
    out("et.idle", len(ep2.poll(0)))
    send("et.send1", c, b"e1", port)
    out("et.first", len(ep2.poll(POLL_MS / 1000)))
    out("et.no_new_edge", len(ep2.poll(0)))
    send("et.send2", c, b"e2", port)
    out("et.second", len(ep2.poll(POLL_MS / 1000)))
    got = []
    while len(got) < 2 and readable(m, POLL_MS):
        got.append(m.recv(64).decode())
    out("et.data", " ".join(got))
    out("et.after", len(ep2.poll(0)))
    res("epoll.close", drop, ep)
    res("epoll2.close", drop, ep2)


def sc_send():
    """A member's sends leave from the group's address and port."""
    ms, port = group("m", 2)
    c = client()
    dst = c.getsockname()

    def got(step):
        if not readable(c, POLL_MS):
            out(step, "timeout")
            return
        d, src = c.recvfrom(64)
        out(step, "%s %s %s" % (d.decode(), src[0], yn(src[1] == port)))

    for i, m in enumerate(ms):
        w = "m%d" % i
        ok, n = res(w + ".sendto", m.sendto, b"st-" + w.encode(), dst)
        got(w + ".sendto.got")
        res(w + ".sendto_DONTWAIT", m.sendto, b"sd-" + w.encode(),
            socket.MSG_DONTWAIT, dst)
        got(w + ".sendto_DONTWAIT.got")
        ok, n = res(w + ".sendmsg", m.sendmsg, [b"sm-", w.encode()], [], 0,
                    dst)
        got(w + ".sendmsg.got")
        ok, n = guarded(w + ".sendmmsg", sendmmsg, m,
                        [b"mm1-" + w.encode(), b"mm2-" + w.encode()],
                        dst[0], dst[1], show_ok=False)
        out(w + ".sendmmsg.count", n if ok else "-")
        got(w + ".sendmmsg.got1")
        got(w + ".sendmmsg.got2")
        guarded(w + ".libc_sendto", lambda: c_call(
            libc.sendto, m.fileno(), b"ls", 2, 0, sa_make(*dst[:2]),
            len(sa_make(*dst[:2]))))
        got(w + ".libc_sendto.got")
    # Unconnected: the calls without an address.
    a = ms[0]
    guarded("send", a.send, b"x")
    guarded("sendmsg_noaddr", a.sendmsg, [b"x"])
    guarded("write", os.write, a.fileno(), b"x")
    guarded("writev", os.writev, a.fileno(), [b"x"])
    # To a closed port: no error now, none later (unconnected).
    dead = mksock(False)
    dead.bind(probe.addr(0))
    dport = dead.getsockname()[1]
    drop(dead)
    res("to_closed_port", a.sendto, b"void", probe.addr(dport))
    res("to_closed_port_twice", a.sendto, b"void", probe.addr(dport))
    guarded("after_closed.recv", a.recv, 64, socket.MSG_DONTWAIT)
    show_opt("after_closed.SO_ERROR", a, SOL, socket.SO_ERROR)
    # Bad destinations: the kernel's errors.
    other = sa_make("127.0.0.1", 9, socket.AF_INET) if v6() else \
        sa_make("::1", 9, socket.AF_INET6)
    guarded("sendto_other_family", lambda: c_call(
        libc.sendto, a.fileno(), b"x", 1, 0, other, len(other)))
    guarded("sendto_port0", a.sendto, b"x", probe.addr(0))
    guarded("sendto_too_big", a.sendto, b"x" * 70000, dst)
    # A ping-pong: the client's datagram, the member's answer.
    send("pingpong.send", c, b"ping", port)
    m = arrive("pingpong.arrived", ms)
    if m is not None:
        d, src = m.recvfrom(64)
        m.sendto(b"pong:" + d, src)
        got("pingpong.got")


def sc_inuse():
    """Who may bind the group's port: members only."""
    ms, port = group("m", 1)
    plain = mksock(False)
    res("plain.bind", plain.bind, probe.addr(port))
    ra = mksock(False)
    ra.setsockopt(SOL, socket.SO_REUSEADDR, 1)
    res("reuseaddr_only.bind", ra.bind, probe.addr(port))
    both = mksock(False)
    both.setsockopt(SOL, socket.SO_REUSEADDR, 1)
    both.setsockopt(SOL, socket.SO_REUSEPORT, 1)
    res("reuseaddr_and_port.bind", both.bind, probe.addr(port))
    # The plain socket whose bind failed asks for the option and binds.
    res("plain.set_SO_REUSEPORT", plain.setsockopt, SOL,
        socket.SO_REUSEPORT, 1)
    res("plain.bind_again", plain.bind, probe.addr(port))
    b = mksock()
    res("b.bind", b.bind, probe.addr(port))
    plain2 = mksock(False)
    res("plain_with_two.bind", plain2.bind, probe.addr(port))
    res("m0.close", drop, ms[0])
    plain3 = mksock(False)
    res("plain_after_m0_left.bind", plain3.bind, probe.addr(port))
    res("b.close", drop, b)
    res("plain.close", drop, plain)
    res("both.close", drop, both)
    c = mksock(False)
    err = probe.bind_freed(c, port)
    out("plain_binds_freed_port", "ok" if err is None else errname(err.errno))


def sc_proto():
    """A TCP group and a UDP group on one port number are two groups."""
    t = keep(socket.socket(probe.FAMILY, socket.SOCK_STREAM))
    t.setsockopt(SOL, socket.SO_REUSEPORT, 1)
    port = probe.first_bind("tcp0.bind", t)
    res("tcp0.listen", t.listen, 8)
    u = mksock()
    try:
        u.bind(probe.addr(port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise Collision()       # another program's UDP port: again
        fail("udp0.bind", e)
    if len(kernel_sockets(port)) > 1:
        raise Collision()
    out("udp0.bind", "ok")
    u2 = mksock()
    res("udp1.bind", u2.bind, probe.addr(port))
    t2 = keep(socket.socket(probe.FAMILY, socket.SOCK_STREAM))
    t2.setsockopt(SOL, socket.SO_REUSEPORT, 1)
    res("tcp1.bind", t2.bind, probe.addr(port))
    res("tcp1.listen", t2.listen, 8)
    for kind, typ in (("udp", socket.SOCK_DGRAM), ("tcp", socket.SOCK_STREAM)):
        x = keep(socket.socket(probe.FAMILY, typ))
        res("plain_%s.bind" % kind, x.bind, probe.addr(port))
        drop(x)
    c = client()
    send("c.send", c, b"dgram", port)
    m = arrive("udp.arrived", [u, u2])
    if m is not None:
        d, src = m.recvfrom(64)
        out("udp.data", "%s %s" % (d.decode(), same_src(src, c)))
    out("tcp.readable", yn(readable(t) or readable(t2)))
    k = keep(socket.socket(probe.FAMILY, socket.SOCK_STREAM))
    res("tcp.connect", k.connect, probe.addr(port))
    p = select.poll()
    p.register(t, select.POLLIN)
    p.register(t2, select.POLLIN)
    ev = p.poll(POLL_MS)
    out("tcp.listener_readable", yn(bool(ev)))
    out("udp.readable_after_connect", yn(readable(u) or readable(u2)))
    for name, x in (("tcp0", t), ("tcp1", t2)):
        res(name + ".close", drop, x)
    send("c.send2", c, b"after-tcp-left", port)
    m = arrive("udp.arrived2", [u, u2])
    if m is not None:
        out("udp.data2", m.recv(64).decode())


def recv_all(ms, total):
    """Receive until total datagrams have come (bounded): [(member index,
    data, source)]."""
    p = select.poll()
    for m in ms:
        p.register(m, select.POLLIN)
    got = []
    deadline = time.monotonic() + POLL_MS / 1000
    while len(got) < total:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, ev in p.poll(left * 1000):
            i = [m.fileno() for m in ms].index(fd)
            while True:
                try:
                    d, src = ms[i].recvfrom(64, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                got.append((i, d, src))
    return got


def affinity(step, ms, port, nclients, each):
    cs = [client("%s.c%d" % (step, k)) for k in range(nclients)]
    for r in range(each):
        for k, c in enumerate(cs):
            send(step + ".send", c, b"%d:%d" % (k, r), port)
    got = recv_all(ms, nclients * each)
    out(step + ".received", "%d of %d" % (len(got), nclients * each))
    names = {c.getsockname(): k for k, c in enumerate(cs)}
    by = {}
    bad = 0
    for i, d, src in got:
        k = names.get(src)
        if k is None or not d.startswith(b"%d:" % k):
            bad += 1
            continue
        by.setdefault(k, set()).add(i)
    out(step + ".sources_right", yn(bad == 0))
    split = sorted(k for k, s in by.items() if len(s) > 1)
    out(step + ".affinity", "ok" if not split else "broken for clients %s"
        % " ".join(map(str, split)))
    # In order, per client.
    seq = {}
    for i, d, src in got:
        k, r = d.split(b":")
        seq.setdefault(int(k), []).append(int(r))
    out(step + ".in_order", yn(all(v == sorted(v) for v in seq.values())))
    out(step + ".then_empty", yn(not any(readable(m) for m in ms)))
    for c in cs:
        drop(c)


def sc_affinity():
    """The kernel's hash: every datagram of one client address and port
    goes to one member while membership is unchanged."""
    ms, port = group("m", 4)
    affinity("four", ms, port, 8, 4)
    affinity("again", ms, port, 8, 3)


def sc_leave():
    """Members leave and join: the rest get everything."""
    ms, port = group("m", 3)
    res("m1.close", drop, ms[1])
    res("m2.close", drop, ms[2])
    affinity("alone", [ms[0]], port, 6, 2)
    b = mksock()
    res("b.bind", b.bind, probe.addr(port))
    affinity("with_b", [ms[0], b], port, 8, 3)
    res("m0.close", drop, ms[0])
    affinity("b_alone", [b], port, 6, 2)
    # A datagram queued for b, then b closes and a new member comes: it
    # gets only what was sent after it joined.
    c = client()
    send("queued.send", c, b"lost-with-b", port)
    if readable(b, POLL_MS):
        res("b.close_with_queued", drop, b)
    else:
        out("queued.arrived", "timeout")
        drop(b)
    n = mksock()
    err = probe.bind_freed(n, port)
    out("n.bind_after_all_left", "ok" if err is None else errname(err.errno))
    if err is None:
        send("fresh.send", c, b"fresh", port)
        out("fresh.data", recv_or_timeout(n, 64))


def sc_dup():
    """A dup'ed member receives; the group lives while a dup does."""
    ms, port = group("m", 1)
    a = ms[0]
    c = client()
    d = keep(a.dup())
    send("send", c, b"to-dup", port)
    if readable(d, POLL_MS):
        ok, r = guarded("dup.recvfrom", d.recvfrom, 64, show_ok=False)
        if ok:
            out("dup.data", "%s %s" % (r[0].decode(), same_src(r[1], c)))
    else:
        out("dup.readable", "timeout")
    probe.same_name("dup.same_name", d, a)
    show_opt("dup.SO_REUSEPORT", d, SOL, socket.SO_REUSEPORT)
    res("a.close", drop, a)
    send("send2", c, b"after-close", port)
    out("dup.data2", recv_or_timeout(d, 64))
    res("dup.sendto", d.sendto, b"from-dup", c.getsockname())
    if readable(c, POLL_MS):
        x, src = c.recvfrom(64)
        out("c.got", "%s %s" % (x.decode(), yn(src[1] == port)))
    else:
        out("c.got", "timeout")
    fd2 = os.dup(d.fileno())
    os.dup2(fd2, 200)
    os.close(fd2)
    e = keep(socket.socket(fileno=200))
    out("dup2.type", "%s %s" % (probe.type_name(e.type),
                                probe.family_name(e.family)))
    send("send3", c, b"to-dup2", port)
    out("dup2.data", recv_or_timeout(e, 64))


def sc_fionread():
    """FIONREAD (SIOCINQ): the size of the next datagram, 0 when none."""
    import fcntl
    ms, port = group("m", 2)
    c = client()

    def inq(m):
        b = bytearray(4)
        try:
            fcntl.ioctl(m.fileno(), SIOCINQ, b)
        except OSError as e:
            return errname(e.errno)
        return str(struct.unpack("=i", b)[0])

    out("empty", inq(ms[0]))
    send("send", c, b"seven!!", port)
    send("send2", c, b"abc", port)
    m = arrive("arrived", ms)
    if m is None:
        return
    # Both from one client: one member.  Wait for the second too.
    m.recv(64, socket.MSG_PEEK)
    out("first", inq(m))
    m.recv(64)
    if readable(m, POLL_MS):
        out("second", inq(m))
        m.recv(64)
    out("after", inq(m))
    send("send0", c, b"", port)
    m = arrive("arrived0", ms)
    if m is not None:
        out("zero", inq(m))
        m.recv(64)


IP_RECVTTL, IP_TTL_CMSG = 12, 2
IPV6_RECVHOPLIMIT, IPV6_HOPLIMIT = 51, 52
IPV6_RECVTCLASS = getattr(socket, "IPV6_RECVTCLASS", 66)
SO_TIMESTAMP, SO_TIMESTAMPNS = 29, 35
SOL_UDP, UDP_SEGMENT, UDP_GRO = 17, 103, 104


def recv_opts():
    """(name, level, opt) a receiver sets to learn TOS/class and TTL/hops."""
    if v6():
        return [("IPV6_RECVTCLASS", socket.IPPROTO_IPV6, IPV6_RECVTCLASS),
                ("IPV6_RECVHOPLIMIT", socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT)]
    return [("IP_RECVTOS", socket.IPPROTO_IP, socket.IP_RECVTOS),
            ("IP_RECVTTL", socket.IPPROTO_IP, IP_RECVTTL)]


def cmsg_text(anc):
    """Control messages as deterministic text: TOS/class and TTL/hops by
    value, timestamps by presence and length, UDP_GRO by value."""
    words = []
    for level, typ, data in anc:
        if level == socket.IPPROTO_IP and typ == socket.IP_TOS:
            words.append("IP_TOS=%d" % data[0])
        elif level == socket.IPPROTO_IP and typ == IP_TTL_CMSG:
            words.append("IP_TTL=%d" % struct.unpack("=i", data[:4])[0])
        elif level == socket.IPPROTO_IPV6 and typ == socket.IPV6_TCLASS:
            words.append("IPV6_TCLASS=%d" % struct.unpack("=i", data[:4])[0])
        elif level == socket.IPPROTO_IPV6 and typ == IPV6_HOPLIMIT:
            words.append("IPV6_HOPLIMIT=%d" % struct.unpack("=i",
                                                            data[:4])[0])
        elif level == SOL and typ in (SO_TIMESTAMP, SO_TIMESTAMPNS):
            sec = struct.unpack("=q", data[:8])[0]
            words.append("%s(len %d, within a minute %s)" % (
                "SCM_TIMESTAMP" if typ == SO_TIMESTAMP else
                "SCM_TIMESTAMPNS", len(data), yn(abs(sec - time.time()) < 60)))
        elif level == SOL_UDP and typ == UDP_GRO:
            words.append("UDP_GRO=%d" % struct.unpack("=H", data[:2])[0])
        else:
            words.append("level%d/type%d/len%d" % (level, typ, len(data)))
    return " ".join(words) or "none"


def sc_cmsgs():
    """What a member asks to learn of each datagram: the TOS (ECN, as
    QUIC servers ask) and TTL, the arrival time."""
    ms, port = group("m", 2)
    c = client()
    tos = tos_opt()
    res("c.set_" + tos[0], c.setsockopt, tos[1], tos[2], 0x22)
    for name, level, opt in recv_opts():
        for i, m in enumerate(ms):
            res("m%d.set_%s" % (i, name), m.setsockopt, level, opt, 1)
            show_opt("m%d.%s" % (i, name), m, level, opt)

    def one(step):
        send(step + ".send", c, step.encode(), port)
        m = arrive(step + ".arrived", ms)
        if m is None:
            return
        ok, r = guarded(step + ".recvmsg", m.recvmsg, 64, 256,
                        show_ok=False)
        if ok:
            out(step + ".data", "%s %s" % (r[0].decode(), flag_names(r[2])))
            out(step + ".cmsg", cmsg_text(r[1]))

    one("tos_ttl")
    for i, m in enumerate(ms):
        res("m%d.set_SO_TIMESTAMP" % i, m.setsockopt, SOL, SO_TIMESTAMP, 1)
    one("timestamp")
    for i, m in enumerate(ms):
        res("m%d.set_SO_TIMESTAMPNS" % i, m.setsockopt, SOL,
            SO_TIMESTAMPNS, 1)
    one("timestampns")
    for name, level, opt in recv_opts():
        for i, m in enumerate(ms):
            res("m%d.clear_%s" % (i, name), m.setsockopt, level, opt, 0)
    for i, m in enumerate(ms):
        m.setsockopt(SOL, SO_TIMESTAMPNS, 0)
        m.setsockopt(SOL, SO_TIMESTAMP, 0)
    one("cleared")


def sc_iovs():
    """Long vectors: a datagram spread over many buffers, up to the
    kernel's limit, 1024 (with the shim's header, its last entries share
    a buffer: the tail case puts the datagram in them); past it,
    recvmsg's and readv's errors."""
    ms, port = group("m", 1)
    m = ms[0]
    c = client()
    data = bytes(range(200))
    tail = [bytearray(0) for _ in range(1022)] + [bytearray(150),
                                                   bytearray(100)]
    for n, bufs in ((100, None), (300, None), (1023, None), (1024, None),
                    ("tail", tail)):
        send("send%s" % n, c, data, port)
        if not readable(m, POLL_MS):
            out("into%s" % n, "timeout")
            continue
        bufs = bufs or [bytearray(1) for _ in range(n)]
        ok, r = guarded("into%s" % n, m.recvmsg_into, bufs, show_ok=False)
        if ok:
            out("into%s" % n, "%d %s %s" % (r[0], flag_names(r[2]), yn(
                b"".join(bytes(b) for b in bufs)[:r[0]] == data[:r[0]])))
    send("send_over", c, data, port)
    readable(m, POLL_MS)
    guarded("into1025", m.recvmsg_into, [bytearray(1) for _ in range(1025)])
    if hasattr(os, "readv"):
        guarded("readv1025", os.readv, m.fileno(),
                [bytearray(1) for _ in range(1025)])
    out("still_there", yn(readable(m, POLL_MS) and m.recv(256) == data))


def sc_mmsgtime():
    """recvmmsg's timeout, as Linux keeps it: checked after each
    datagram (a zero one stops after the first), what is left of it
    written back, a bad one refused before anything is read."""
    ms, port = group("m", 1)
    m = ms[0]
    c = client()
    for d in (b"t-1", b"t-22", b"t-333"):
        send("send", c, d, port)
    # Blocking: without the timeout it would wait for all three.
    ok, r = guarded("zero", recvmmsg, m, 3, 64, 0, (0, 0), show_ok=False)
    if ok:
        got, left = r
        out("zero.got", " ".join(d.decode() for d, _, _ in got))
        out("zero.left", "%d %d" % left)
    ok, r = guarded("five", recvmmsg, m, 2, 64, 0, (5, 0), show_ok=False)
    if ok:
        got, left = r
        out("five.got", " ".join(d.decode() for d, _, _ in got))
        out("five.left_within", yn((0, 0) <= left <= (5, 0)))
    guarded("bad_nsec", recvmmsg, m, 2, 64, socket.MSG_DONTWAIT,
            (0, 1000000000))
    guarded("bad_sec", recvmmsg, m, 2, 64, socket.MSG_DONTWAIT, (-1, 0))
    # Nothing came: nothing written back, the call's own errno.
    guarded("none", recvmmsg, m, 2, 64, socket.MSG_DONTWAIT, (1, 0))


def recv_cmsgs(step, s):
    """The next datagram on s, and its control messages, or "timeout"."""
    if readable(s, POLL_MS):
        d, anc, fl, src = s.recvmsg(64, 256)
        out(step, "%s %s" % (d.decode(), cmsg_text(anc)))
    else:
        out(step, "timeout")


def sc_cmsgspre():
    """The TTL and TOS reports asked for before bind: the first datagram
    after it comes with them; a member that joins later and did not ask
    gets none."""
    m = mksock()
    for name, level, opt in recv_opts():
        res("m.set_" + name, m.setsockopt, level, opt, 1)
    port = bind0("m.bind", m)
    c = client()
    tos = tos_opt()
    c.setsockopt(tos[1], tos[2], 0x22)
    send("send", c, b"pre", port)
    recv_cmsgs("m.cmsg", m)
    m.close()
    n = mksock()
    err = probe.bind_freed(n, port)
    out("n.bind", "ok" if err is None else errname(err.errno))
    if err is None:
        send("send2", c, b"plain", port)
        recv_cmsgs("n.cmsg", n)


def sc_sendopts():
    """Options of a member apply to what it sends: TOS/class, TTL/hops,
    UDP_SEGMENT (GSO, as QUIC servers send); a member without them sends
    with the defaults."""
    ms, port = group("m", 2)
    c = client()
    for name, level, opt in recv_opts():
        c.setsockopt(level, opt, 1)
    dst = c.getsockname()
    tos = tos_opt()
    ttl = ("IPV6_UNICAST_HOPS", socket.IPPROTO_IPV6,
           socket.IPV6_UNICAST_HOPS) if v6() else \
        ("IP_TTL", socket.IPPROTO_IP, socket.IP_TTL)

    def got(step, n=1):
        for k in range(n):
            if not readable(c, POLL_MS):
                out(step, "timeout")
                return
            d, anc, fl, src = c.recvmsg(4096, 256)
            out(step, "%d %s %s" % (len(d), yn(src[1] == port),
                                    cmsg_text(anc)))
        out(step + ".then_empty", yn(not readable(c)))

    a, b = ms
    res("a.set_" + tos[0], a.setsockopt, tos[1], tos[2], 0x48)
    res("a.set_" + ttl[0], a.setsockopt, ttl[1], ttl[2], 33)
    res("a.sendto", a.sendto, b"from-a", dst)
    got("a.got")
    res("b.sendto", b.sendto, b"from-b", dst)
    got("b.got")
    res("a.sendmsg", a.sendmsg, [b"from-a2"], [], 0, dst)
    got("a.got2")
    # Per call: a TOS/class cmsg on sendmsg.
    ok, _ = res("b.sendmsg_tos_cmsg", b.sendmsg, [b"b-cmsg"],
                [(tos[1], tos[2], struct.pack("=i", 0x88))], 0, dst)
    if ok:
        got("b.got_cmsg")
    # The call's own cmsg over the socket's option; the others still go.
    ok, _ = res("a.sendmsg_tos_cmsg", a.sendmsg, [b"a-cmsg"],
                [(tos[1], tos[2], struct.pack("=i", 0x88))], 0, dst)
    if ok:
        got("a.got_cmsg")
    # A vector of nothing sends nothing (writev's own answer).
    if hasattr(os, "writev"):
        res("a.writev_nothing", os.writev, a.fileno(), [b""])
        got("a.got_writev_nothing")
    # sendmmsg: each message carries them.
    ok, n = guarded("a.sendmmsg", sendmmsg, a, [b"mm-1", b"mm-22"], dst[0],
                    dst[1])
    out("a.sendmmsg.count", n if ok else "-")
    got("a.got_mmsg", 2)
    res("a.set_" + ttl[0] + "_default", a.setsockopt, ttl[1], ttl[2], -1)
    res("a.sendto_ttl_default", a.sendto, b"a-ttl", dst)
    got("a.got_ttl_default")
    # GSO: 250 bytes in segments of 100.
    ok, _ = res("a.set_UDP_SEGMENT", a.setsockopt, SOL_UDP, UDP_SEGMENT, 100)
    show_opt("a.UDP_SEGMENT", a, SOL_UDP, UDP_SEGMENT)
    if ok:
        res("a.sendto_gso", a.sendto, b"g" * 250, dst)
        got("a.got_gso", 3)
        res("a.clear_UDP_SEGMENT", a.setsockopt, SOL_UDP, UDP_SEGMENT, 0)
    ok, _ = res("b.sendmsg_gso_cmsg", b.sendmsg, [b"h" * 250],
                [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", 120))], 0, dst)
    if ok:
        got("b.got_gso_cmsg", 3)


def sc_dualopts():
    """A dual-stack IPv6 member's IPv4 options (TOS, TTL) apply to what
    it sends to IPv4-mapped peers, as Linux takes them; its IPv6 ones do
    not.  IPv6 only."""
    if not v6():
        return
    ms = [mksock() for _ in range(2)]
    ok, _ = res("a.bind_any", ms[0].bind, ("::", 0))
    if not ok:
        return
    port = ms[0].getsockname()[1]
    res("b.bind_any", ms[1].bind, ("::", port))
    c = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    c.bind(("127.0.0.1", 0))
    c.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
    c.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    a = ms[0]
    res("a.set_IP_TOS", a.setsockopt, socket.IPPROTO_IP, socket.IP_TOS,
        0x20)
    res("a.set_IP_TTL", a.setsockopt, socket.IPPROTO_IP, socket.IP_TTL, 17)
    res("a.set_IPV6_TCLASS", a.setsockopt, socket.IPPROTO_IPV6,
        socket.IPV6_TCLASS, 0x48)
    dst = ("::ffff:127.0.0.1", c.getsockname()[1])
    res("a.sendto_mapped", a.sendto, b"mapped", dst)
    recv_cmsgs("c.got", c)


def sc_gro():
    """UDP_GRO on the members: a client's GSO burst arrives as one read
    with the segment size in a cmsg; without it, as datagrams."""
    ms, port = group("m", 2)
    c = client()
    ok, _ = res("c.set_UDP_SEGMENT", c.setsockopt, SOL_UDP, UDP_SEGMENT, 100)
    if not ok:
        return

    def burst(step, reads):
        send(step + ".send", c, b"x" * 250, port)
        m = arrive(step + ".arrived", ms)
        for k in range(reads):
            if m is None or not readable(m, POLL_MS):
                out(step + ".read%d" % k, "timeout")
                return
            d, anc, fl, src = m.recvmsg(4096, 64)
            out(step + ".read%d" % k, "%d %s %s %s" % (
                len(d), flag_names(fl), same_src(src, c), cmsg_text(anc)))
        out(step + ".then_empty", yn(not any(readable(x) for x in ms)))

    burst("plain", 3)
    for i, m in enumerate(ms):
        res("m%d.set_UDP_GRO" % i, m.setsockopt, SOL_UDP, UDP_GRO, 1)
        show_opt("m%d.UDP_GRO" % i, m, SOL_UDP, UDP_GRO)
    burst("gro", 1)


def sc_shutdown():
    """shutdown() of an unconnected member: ENOTCONN, yet the kernel
    marks it (a trick to wake a thread blocked in recv)."""
    ms, port = group("m", 2)
    a = ms[0]
    res("a.shutdown_SHUT_RD", a.shutdown, socket.SHUT_RD)
    out("a.events", ev_names(events(a, select.POLLIN | select.POLLOUT, 0)))
    guarded("a.recv_DONTWAIT", a.recv, 64, socket.MSG_DONTWAIT)
    guarded("a.recv_blocking", a.recv, 64)
    res("a.shutdown_SHUT_WR", a.shutdown, socket.SHUT_WR)
    c = client()
    guarded("a.sendto_after_SHUT_WR", a.sendto, b"x", c.getsockname())
    b = ms[1]
    res("b.shutdown_SHUT_RDWR", b.shutdown, socket.SHUT_RDWR)
    out("b.events", ev_names(events(b, select.POLLIN | select.POLLOUT, 0)))


def answered_then_parent(a, c, port, data):
    """After a child served member a: what client c got back (and from
    the group's port?), then that a, the parent's, still receives."""
    if readable(c, POLL_MS):
        d, src = c.recvfrom(64)
        out("c.got", "%s %s" % (d.decode(), yn(src[1] == port)))
    else:
        out("c.got", "timeout")
    send("send2", c, data, port)
    out("parent.data", recv_or_timeout(a, 64))


def sc_fork():
    """A member inherited by a forked child: the child reads what the
    group gets, and answers from the group's port."""
    ms, port = group("m", 1)
    a = ms[0]
    c = client()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if readable(a, POLL_MS):
                d, src = a.recvfrom(64)
                a.sendto(b"child:" + d, src)
                msg = "child got %s %s" % (d.decode(), same_src(src, c))
            else:
                msg = "child timeout"
        except BaseException as e:  # noqa: BLE001
            msg = "child %s" % type(e).__name__
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    send("send", c, b"to-child", port)
    msg = b""
    while True:
        if not select.select([r], [], [], POLL_MS / 1000)[0]:
            break
        x = os.read(r, 256)
        if not x:
            break
        msg += x
    os.close(r)
    os.waitpid(pid, 0)
    out("child", msg.decode() or "nothing")
    answered_then_parent(a, c, port, b"to-parent")


def sc_exec():
    """A member inherited across exec: the new program receives on it and
    answers from the group's port (udp.py _exec-child)."""
    ms, port = group("m", 1)
    a = ms[0]
    c = client()
    os.set_inheritable(a.fileno(), True)
    send("send", c, b"before-exec", port)
    if not readable(a, POLL_MS):
        out("arrived", "timeout")
        return
    import subprocess
    args = [sys.executable, os.path.abspath(__file__)] + \
        (["-6"] if v6() else []) + \
        ["_exec-child", str(a.fileno()), str(port), str(c.getsockname()[1])]
    try:
        p = subprocess.run(args, pass_fds=[a.fileno()], timeout=20,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in p.stdout.decode().splitlines():
            out("child", line)
        out("child.exit", p.returncode)
    except subprocess.TimeoutExpired:
        out("child", "hung")
    answered_then_parent(a, c, port, b"after-exec")


def cmd_exec_child(args):
    fd, port, cport = (int(x) for x in args)
    try:
        s = socket.socket(fileno=fd)
        print("type %s %s" % (probe.type_name(s.type),
                              probe.family_name(s.family)))
        print("SO_REUSEPORT %d" % s.getsockopt(SOL, socket.SO_REUSEPORT))
        name = s.getsockname()
        print("same_port %s" % yn(isinstance(name, tuple) and
                                  name[1] == port))
        if readable(s, POLL_MS):
            d, src = s.recvfrom(64)
            print("got %s %s" % (d.decode(), yn(src[1] == cport)))
            s.sendto(b"exec:" + d, src)
        else:
            print("got timeout")
        s.detach()
    except Exception as e:      # noqa: BLE001 (a line to compare)
        print("exception %s %s" % (type(e).__name__, errname(
            getattr(e, "errno", None)) if isinstance(e, OSError) else ""))
        return 1
    return 0


SCENARIOS = {
    "opts": sc_opts,
    "name": sc_name,
    "recv": sc_recv,
    "trunc": sc_trunc,
    "peek": sc_peek,
    "dontwait": sc_dontwait,
    "zero": sc_zero,
    "pktinfo": sc_pktinfo,
    "poll": sc_poll,
    "send": sc_send,
    "inuse": sc_inuse,
    "proto": sc_proto,
    "affinity": sc_affinity,
    "leave": sc_leave,
    "dup": sc_dup,
    "fionread": sc_fionread,
    "cmsgs": sc_cmsgs,
    "sendopts": sc_sendopts,
    "mmsgtime": sc_mmsgtime,
    "iovs": sc_iovs,
    "dualopts": sc_dualopts,
    "cmsgspre": sc_cmsgspre,
    "gro": sc_gro,
    "shutdown": sc_shutdown,
    "fork": sc_fork,
    "exec": sc_exec,
}


CUR = {"buf": None}       # the running attempt's output (the watchdog's)
TRIES = 5


def run(name):
    """Run a scenario, its lines kept until it ends, so that an attempt
    that met a Collision leaves no trace."""
    real = sys.stdout
    for attempt in range(TRIES):
        buf = CUR["buf"] = io.StringIO()
        sys.stdout = buf
        again = False
        probe.scn = name
        try:
            SCENARIOS[name]()
        except Abort:
            pass
        except Collision:
            again = attempt < TRIES - 1
            if not again:
                out("aborted", "every port given was shared (Collision)")
                probe.failed = True
        except Exception as e:      # noqa: BLE001 (a diff line, not a crash)
            out("exception", "%s %s" % (type(e).__name__, errname(
                getattr(e, "errno", None)) if isinstance(e, OSError) else ""))
            probe.failed = True
        finally:
            sys.stdout = real
            CUR["buf"] = None
            while probe.opened:
                s = probe.opened.pop()
                try:
                    s.close()
                except OSError:
                    pass
        if not again:
            break
    real.write(buf.getvalue())
    out("done", "yes")


# ---- helpers for t_udp.sh: a kernel view, a server, a client ----

def kernel_sockets(port):
    """Inodes of the kernel's UDP sockets bound to port."""
    inodes = set()
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    w = line.split()
                    if int(w[1].split(":")[1], 16) == port:
                        inodes.add(w[9])
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return inodes


def cmd_count(args):
    """N members of one process; print the kernel's sockets on the port
    (natively N, under the shim the owner's one)."""
    n = int(args[0])
    probe.scn = "count"
    for _ in range(TRIES):
        try:
            ms, port = group("m", n)
            break
        except Collision:
            while probe.opened:
                probe.opened.pop().close()
    else:
        return 1
    print("kernel_sockets %d" % len(kernel_sockets(port)))
    for m in ms:
        m.close()
    return 0


def cmd_full(args):
    """N members of one process, then one more: how its bind ends; then,
    the N still there, TOOL's stat and stop (rendezvous directory DIR)
    of the full group, and its stat again: each one's exit status and
    how many members it shows."""
    n, tool, rdir = int(args[0]), args[1], args[2]
    probe.scn = "full"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Each member keeps four fds here (its queue, shadow, connection,
    # the group's socket).
    if soft != resource.RLIM_INFINITY and soft < 8 * n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(8 * n, hard), hard))
    ms, port = group("m", n)
    extra = mksock()
    try:
        extra.bind(probe.addr(port))
        print("extra.bind ok")
    except OSError as e:
        print("extra.bind %s" % errname(e.errno))

    def run(step, *what):
        r = subprocess.run([tool, what[0], "--dir", rdir] + list(what[1:]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20)
        shown = sum(1 for line in r.stdout.decode().splitlines()
                    if line.lstrip().startswith("pid "))
        print("%s %d members %d" % (step, r.returncode, shown))

    run("stat", "stat")
    run("stop", "stop", "udp:%d" % port)
    run("stat_after_stop", "stat")
    for m in ms:
        m.close()
    return 0


def cmd_serve(args):
    """A UDP server: -n PROCS processes (the first forks the others after
    its bind), each with -s SOCKS sockets on one port (-p PORT, else the
    first binds port 0); --plain: without SO_REUSEPORT.  Prints "port P",
    then "ready PID" per process, or "bind ERRNO" and exits 1.  Answers
    every datagram D with "PID IDX D" from the socket that read it.
    SIGTERM ends it (and its children), status 0."""
    ap = argparse.ArgumentParser(prog="udp.py _serve")
    ap.add_argument("-n", type=int, default=1, dest="procs")
    ap.add_argument("-s", type=int, default=1, dest="socks")
    ap.add_argument("-p", type=int, default=0, dest="port")
    ap.add_argument("--plain", action="store_false", dest="reuse")
    o = ap.parse_args(args)
    procs, socks, port, reuse = o.procs, o.socks, o.port, o.reuse

    def say(line):
        os.write(1, (line + "\n").encode())

    def bind_all(port):
        ss = []
        for k in range(socks):
            s = socket.socket(probe.FAMILY, socket.SOCK_DGRAM)
            if reuse:
                s.setsockopt(SOL, socket.SO_REUSEPORT, 1)
            try:
                s.bind(probe.addr(port))
            except OSError as e:
                say("bind %s" % errname(e.errno))
                os._exit(1)
            port = s.getsockname()[1]
            ss.append(s)
        return ss, port

    class Stop(Exception):
        pass

    def on_term(*a):
        raise Stop()
    signal.signal(signal.SIGTERM, on_term)
    ss, port = bind_all(port)
    say("port %d" % port)
    kids = []
    for k in range(1, procs):
        pid = os.fork()
        if pid == 0:
            for s in ss:
                s.close()
            kids = []
            ss, _ = bind_all(port)
            break
        kids.append(pid)
    say("ready %d" % os.getpid())
    me = os.getpid()
    p = select.poll()
    for s in ss:
        p.register(s, select.POLLIN)
    fds = [s.fileno() for s in ss]
    try:
        serve_loop(p, ss, fds, me)
    except Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for pid in kids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    for pid in kids:
        os.waitpid(pid, 0)
    return 0


def serve_loop(p, ss, fds, me):
    while True:
        for fd, ev in p.poll():
            k = fds.index(fd)
            try:
                d, src = ss[k].recvfrom(2048, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                continue        # shared: another member read it first
            except OSError as e:
                # (a member that cannot read any more would spin)
                sys.stderr.write("recvfrom: %s\n" % errname(e.errno))
                if ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    p.unregister(fd)
                continue
            try:
                ss[k].sendto(b"%d %d %s" % (me, k, d), src)
            except OSError as e:
                sys.stderr.write("sendto: %s\n" % errname(e.errno))


def cmd_client(args):
    """Send -n COUNT datagrams from -c CLIENTS sockets (in turn) to PORT,
    at most -w WINDOW unanswered at a time (1: each waits for its
    answer); --src HOST,HOST...: the clients' addresses in turn.  Prints
    "answered A of N", "dups D", "wrong W", "from_group_port yes/no",
    "pid PID COUNT" and "member PID:IDX COUNT" lines, "affinity ok" (or
    "affinity broken K"), "sources_per_member ..." and with --seq
    "seq ..." (who answered each, in order, as m0 m1 ... by first
    appearance).  Exit 0 when it could run."""
    ap = argparse.ArgumentParser(prog="udp.py _client")
    ap.add_argument("port", type=int)
    ap.add_argument("-n", type=int, default=10, dest="count")
    ap.add_argument("-c", type=int, default=1, dest="nclients")
    ap.add_argument("-w", type=int, default=1, dest="window")
    ap.add_argument("--seq", action="store_true")
    ap.add_argument("--src", type=lambda v: v.split(","))
    o = ap.parse_args(args)
    port, count, nclients, window = o.port, o.count, o.nclients, o.window
    seq, srcs = o.seq, o.src
    cs = []
    for k in range(nclients):
        c = socket.socket(probe.FAMILY, socket.SOCK_DGRAM)
        c.bind((srcs[k % len(srcs)] if srcs else probe.LOOPBACK, 0))
        c.setblocking(False)
        cs.append(c)
    fdmap = {c.fileno(): k for k, c in enumerate(cs)}
    p = select.poll()
    for c in cs:
        p.register(c, select.POLLIN)
    answered = {}          # id -> (pid, idx)
    outstanding = {}       # id -> client
    dups = wrong = badport = 0
    order = []
    per_client = {}
    nxt = 0
    stall = time.monotonic() + POLL_MS / 1000
    while (nxt < count or outstanding) and time.monotonic() < stall:
        while nxt < count and len(outstanding) < window:
            k = nxt % nclients
            try:
                cs[k].sendto(b"q%d" % nxt, (probe.LOOPBACK, port))
            except OSError as e:
                sys.stderr.write("sendto: %s\n" % errname(e.errno))
                return 1
            outstanding[nxt] = k
            nxt += 1
        for fd, ev in p.poll(max(0, (stall - time.monotonic()) * 1000)):
            k = fdmap[fd]
            while True:
                try:
                    d, src = cs[k].recvfrom(2048)
                except BlockingIOError:
                    break
                if src[1] != port:
                    badport += 1
                w = d.split(b" ", 2)
                if len(w) != 3 or not w[2].startswith(b"q"):
                    wrong += 1
                    continue
                q = int(w[2][1:])
                who = (int(w[0]), int(w[1]))
                if q in answered:
                    dups += 1
                    continue
                if outstanding.get(q) != k:
                    wrong += 1
                    continue
                del outstanding[q]
                answered[q] = who
                order.append(who)
                per_client.setdefault(k, set()).add(who)
                stall = time.monotonic() + POLL_MS / 1000
    print("answered %d of %d" % (len(answered), count))
    print("dups %d" % dups)
    print("wrong %d" % wrong)
    print("from_group_port %s" % yn(badport == 0))
    pids, members = {}, {}
    for pid, idx in answered.values():
        pids[pid] = pids.get(pid, 0) + 1
        members[(pid, idx)] = members.get((pid, idx), 0) + 1
    for pid in sorted(pids):
        print("pid %d %d" % (pid, pids[pid]))
    for (pid, idx) in sorted(members):
        print("member %d:%d %d" % (pid, idx, members[(pid, idx)]))
    split = sum(1 for v in per_client.values() if len(v) > 1)
    print("affinity %s" % ("ok" if split == 0 else "broken %d" % split))
    if srcs:
        # Per source address: the members that answered it.
        by_addr = {}
        for k, who in per_client.items():
            by_addr.setdefault(srcs[k % len(srcs)], set()).update(who)
        print("members_per_source %s" % " ".join(
            str(len(by_addr[a])) for a in sorted(by_addr)))
    if seq:
        names = {}
        for who in order:
            names.setdefault(who, "m%d" % len(names))
        print("seq %s" % " ".join(names[w] for w in order))
    return 0


def usage():
    sys.stderr.write("usage: udp.py [-6] SCENARIO... | udp.py [-6] all\n"
                     "scenarios: %s\n" % " ".join(SCENARIOS))
    sys.exit(2)


def main(argv):
    args = argv[1:]
    if args and args[0] == "-6":
        probe.FAMILY, probe.LOOPBACK = socket.AF_INET6, "::1"
        args = args[1:]
    sys.stdout.reconfigure(line_buffering=True)
    if args and args[0] == "_count" and len(args) == 2:
        return cmd_count(args[1:])
    if args and args[0] == "_full" and len(args) == 4:
        return cmd_full(args[1:])
    if args and args[0] == "_exec-child" and len(args) == 4:
        return cmd_exec_child(args[1:])
    if args and args[0] == "_serve":
        return cmd_serve(args[1:])
    if args and args[0] == "_client" and len(args) >= 2:
        return cmd_client(args[1:])
    if not args or any(a != "all" and a not in SCENARIOS for a in args):
        usage()
    start_watchdog()
    for a in args:
        for name in (SCENARIOS if a == "all" else [a]):
            run(name)
    return 1 if probe.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
