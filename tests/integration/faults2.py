"""faults2.py CASE TOOL [ARGS]: more fault cases (issue 12), run under the
shim; one process plays members and clients and prints one line for the
test to compare (see t_faults2.sh).  Every wait is a bounded poll or a
socket timeout that only a broken group reaches, never a sleep standing
in for synchronisation.

  starter           bind a member (no listen), print "port N", wait for
                    SIGTERM: run with a low RLIMIT_NOFILE, it starts the
                    group, and its owner inherits that limit.
  fdlimit PORT LIM  join PORT until a bind fails; then fill the owner's
                    fds (LIM, its hard limit) with clients while the
                    members do not accept; then serve them all.
  board             scribble over the ack board, then serve.
  scribbler PORT    (board's helper) a member in a process of its own that
                    scribbles over the board and leaves.
"""
import ctypes, errno, json, mmap, os, resource, select, signal, socket
import subprocess, sys, time

from faults import client, group, ident, poll   # this folder: faults.py
import faults

TOOL = sys.argv[2]


def name(e):
    return errno.errorcode.get(e, str(e))


def member(port, listen=True):
    return faults.member(port, listen, backlog=128)


def eof(c, limit=5.0):
    """The client's end sees end of stream within limit s (the server
    closed its socket; the owner's copy must be gone too)."""
    c.settimeout(limit)
    try:
        return c.recv(16) == b""
    except socket.timeout:
        return False
    finally:
        c.close()


def drain(members, cs, limit=20.0):
    """Every member serves from one poll loop until the clients cs (id:
    socket) are all served: each accepted connection is read and closed,
    then its client must see end of stream.  The ids served, or a
    failure line."""
    got = set()
    end = time.monotonic() + limit
    for m in members:
        m.setblocking(False)
    try:
        while cs and time.monotonic() < end:
            r, _, _ = select.select(members, [], [], 0.2)
            for m in r:
                try:
                    t, _ = m.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                t.setblocking(True)
                k = ident(t)
                t.close()
                got.add(k)
                if k in cs and not eof(cs.pop(k)):
                    return "connection %d: no end of stream within 5 s " \
                        "after the server closed it" % k
    finally:
        for c in cs.values():
            c.close()
    return got


def serve(port, members, n, base):
    """n new clients (ids base..), drained."""
    return drain(members, {base + i: client(port, base + i)
                           for i in range(n)})


# ------------------------------------------------------------ fds

def starter():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
    s = member(0, listen=False)
    print("port %d" % s.getsockname()[1], flush=True)
    signal.sigwait([signal.SIGTERM])
    return None


def owner_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def owner_pid(port):
    return (group(port) or {}).get("owner_pid")


def fdlimit():
    port, lim = int(sys.argv[3]), int(sys.argv[4])
    nclients = 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * nclients + 2 * 200 + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            return "rlimit %d" % hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    owner = owner_pid(port)
    if owner is None:
        return "setup: no group on port %d" % port
    # Join until the owner refuses (it must, long before 200: the
    # starter's limit is LIM).
    ms = []
    why = "no refusal in 200 joins"
    for _ in range(200):
        try:
            ms.append(member(port))
        except OSError as e:
            why = name(e.errno)
            break
    out = ["joined %d refused %s" % (len(ms), why)]
    if why != "EADDRINUSE" or not ms:
        return out[0]
    # Clients while no member accepts: the owner takes them (one fd each
    # until a member says it has it) until its fds run out.
    cs = {i: client(port, i) for i in range(nclients)}
    if not poll(lambda: owner_fds(owner) >= lim):
        for c in cs.values():
            c.close()
        return out[0] + " setup: the owner never filled its %d fds " \
            "(has %d)" % (lim, owner_fds(owner))
    out.append("owner full")
    # Now the members accept: everything is served.
    got = drain(ms, cs)
    if isinstance(got, str):
        return " ".join(out + [got])
    out.append("served %d of %d" % (len(got), nclients))
    if len(got) != nclients:
        return " ".join(out)
    # And after: new clients served, each sees its end of stream.
    got = serve(port, ms, 20, 1000)
    if isinstance(got, str):
        return " ".join(out + [got])
    out.append("then %d of 20" % len(got))
    # A member leaves: its room is a joiner's again (the owner sees the
    # leave asynchronously: a refusal before that is no error).
    ms.pop().close()
    again = []

    def rejoin():
        try:
            again.append(member(port))
            return True
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                again.append(name(e.errno))
                return True
            return False
    poll(rejoin)
    out.append("rejoined" if again and not isinstance(again[0], str)
               else "rejoin %s" % (again[0] if again else "refused"))
    return " ".join(out)


# ------------------------------------------------------------ ack board
#
# shim/ackmem.c, 64-byte cache lines (_Alignas(64)), 4-byte atomic_uint:
#
#   struct ackmem_board {
#     0  uint32_t magic;              0x72706b31 ("rpk1")
#     4  uint32_t nslots;             ACKMEM_SLOTS (4096)
#    64  atomic_uint sleeping;        _Alignas(64)
#   128  atomic_uint dirty[nslots/32];_Alignas(64): a bit per slot
#   S    struct slot slot[nslots];    S = roundup(128 + nslots/8, 64) = 640
#   };
#   struct slot {                     64 bytes each (_Alignas(64))
#     0  atomic_uint seq;             the member's ack: "all up to seq"
#     4  atomic_uint busy;
#     8  atomic_int pid;
#   };
#
# so slot i's sequence word is at S + 64 * i.

BOARD_MAGIC = 0x72706b31
LINE = 64


def roundup(x, n):
    return (x + n - 1) // n * n


class Board:
    """The board's bytes: an fd of ours mapped afresh, or (the shim keeps
    no fd: it maps the board and closes it) our own mapping of it, which
    /proc/self/maps lists by the shared object's name."""

    def __init__(self):
        self.how = None
        for f in os.listdir("/proc/self/fd"):
            try:
                link = os.readlink("/proc/self/fd/" + f)
            except OSError:
                continue
            if "rpshim-acks" in link:
                size = os.fstat(int(f)).st_size
                self.mm = mmap.mmap(int(f), size)
                self.size = size
                self.base = ctypes.addressof(
                    ctypes.c_char.from_buffer(self.mm))
                self.how = "fd (%s)" % link
                return
        with open("/proc/self/maps") as maps:
            for line in maps:
                f = line.split()
                if len(f) >= 6 and "rpshim-acks" in f[5] and "s" in f[1] \
                        and "w" in f[1]:
                    lo, hi = (int(x, 16) for x in f[0].split("-"))
                    self.base, self.size = lo, hi - lo
                    self.how = "our mapping (%s)" % " ".join(f[5:])
                    return

    def u32(self, off):
        assert 0 <= off and off + 4 <= self.size
        return ctypes.c_uint32.from_address(self.base + off)

    def check(self):
        if self.how is None:
            return "no board among our fds or mappings"
        if self.size < 8 or self.u32(0).value != BOARD_MAGIC:
            return "%s: no board magic" % self.how
        n = self.u32(4).value
        self.nslots = n
        self.dirty = 2 * LINE
        self.slots = roundup(self.dirty + n // 8, LINE)
        if n == 0 or n % 32 or self.slots + LINE * n > self.size:
            return "%s: nslots %d does not fit %d bytes" % (
                self.how, n, self.size)
        return None

    def scribble(self, dirty):
        """Every slot's sequence word 2^30 ahead of what it holds: to a
        member that only moves it forward, everything is acked already.
        With dirty, every slot is marked as written too (a stray write
        over the whole board)."""
        for i in range(self.nslots):
            w = self.u32(self.slots + LINE * i)
            w.value = (w.value + 0x40000000) & 0xffffffff
        if dirty:
            for k in range(self.nslots // 32):
                self.u32(self.dirty + 4 * k).value = 0xffffffff


def board():
    a = member(0)
    port = a.getsockname()[1]
    out = []
    got = serve(port, [a], 4, 0)
    if isinstance(got, str) or len(got) != 4:
        return "setup: before the scribble: %s" % got
    b = Board()
    why = b.check()
    if why is not None:
        return "setup: " + why
    print("board via %s" % b.how, file=sys.stderr, flush=True)
    # Every slot's sequence word, not the marks: the member's acks then
    # meet a slot it cannot move.
    b.scribble(dirty=False)
    got = serve(port, [a], 8, 100)
    if isinstance(got, str):
        return "after the scribble: " + got
    out.append("scribbled %d slots: served %d of 8" % (b.nslots, len(got)))
    # A member joining after it gets a slot of its own.
    c = member(port)
    got = serve(port, [a, c], 8, 200)
    if isinstance(got, str):
        return " ".join(out) + "; with a new member: " + got
    out.append("with a new member %d of 8" % len(got))
    # Again, the marks too: the owner reads every slot and must not
    # believe what it finds.
    b.scribble(dirty=True)
    got = serve(port, [a, c], 8, 300)
    if isinstance(got, str):
        return " ".join(out) + "; after marking every slot: " + got
    out.append("marked too %d of 8" % len(got))
    # A member that scribbles over the board and goes away with
    # connections it never accepted: the owner must not read its slot as
    # "took them all" (they would be lost), but hand them on.
    c.close()
    x = subprocess.Popen([sys.executable, __file__, "scribbler", TOOL,
                          str(port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        line = x.stdout.readline().split()
        if line[:1] != ["ready"]:
            return " ".join(out) + "; the scribbler said %r" % line
        xpid = int(line[1])

        def queued():
            ms = (group(port) or {}).get("members", [])
            return sum(m["unacked"] for m in ms) == 8 and any(
                m["pid"] == xpid and m["unacked"] > 0 for m in ms) and \
                len(ms) == 2
        cs = {400 + i: client(port, 400 + i) for i in range(8)}
        if not poll(queued):
            for k in cs.values():
                k.close()
            return " ".join(out) + "; setup: the connections never " \
                "reached both members: %s" % group(port)
        held = [m["unacked"] for m in group(port)["members"]
                if m["pid"] == xpid][0]
        x.stdin.write("go\n")
        x.stdin.flush()
        if x.wait(timeout=10) != 0:
            return " ".join(out) + "; the scribbler failed"
    finally:
        if x.poll() is None:
            x.kill()
            x.wait()
    got = drain([a], cs)
    if isinstance(got, str):
        return "; ".join(out) + "; after a member scribbled and left: " + got
    out.append("a member scribbled and left holding %s: served %d of 8" % (
        "some" if held > 0 else "none", len(got)))
    return "; ".join(out)


def scribbler():
    # A member in its own process: it joins, waits, scribbles over every
    # slot (and mark) and leaves without accepting anything.
    m = member(int(sys.argv[3]))
    print("ready %d" % os.getpid(), flush=True)
    sys.stdin.readline()
    b = Board()
    why = b.check()
    if why is not None:
        print(why, file=sys.stderr, flush=True)
        os._exit(1)
    b.scribble(dirty=True)
    os._exit(0)


r = {"starter": starter, "fdlimit": fdlimit, "board": board,
     "scribbler": scribbler}[sys.argv[1]]()
if r is not None:
    print(r, flush=True)
