# A burst to a dispatched UDP group while its owner cannot read (busy, or
# descheduled on a loaded machine): the kernel's group holds it in its
# members' sockets, each as large as its member asked (NSD asks 1 MB);
# the shim's one socket must hold the sum of theirs, or the kernel drops
# what it cannot before the owner reads (NSD lost half of a 1000-query
# burst).  The owner is stopped (SIGSTOP) for the burst, so that only the
# socket's size decides; natively the same program sends to four plain
# SO_REUSEPORT sockets.  The burst is more than four default-sized
# sockets hold, so that the members' own asks must count: made before
# bind (told at join), or after it (told by setsockopt).  What the owner
# forwards fills the members' queues (on illumos, and in the like-illumos
# build, a Unix datagram pair holds about 21 KB): the rest must be held
# for them, up to their buffers, large datagrams too.  Not run where
# the kernel would not let one socket, unprivileged, take their sum
# (rmem_max below 1 MB).

# (PY_BURSTLIB: lib.sh)
PY_UDPBURST=$PY_BURSTLIB'
BURST = 1500    # datagrams: more than four default-sized sockets hold
when = sys.argv[1]                          # SO_RCVBUF "before" or "after" bind
big = "+big" in when                        # and large datagrams among them
takeover = "+takeover" in when              # to an owner that took over
when = when.split("+")[0]

members = []
for i in range(4):
    m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    m.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if when == "before":
        m.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    m.bind(("127.0.0.1", members[0].getsockname()[1] if members else 0))
    if when == "after":
        m.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    m.setblocking(False)
    members.append(m)
port = members[0].getsockname()[1]
# Each reads back its own buffer, as a socket of its own keeps it.
ref = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ref.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
own = all(m.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) ==
          ref.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) for m in members)
owner = None
if tool and takeover:
    take_over(2)
if tool:
    owner = stat()["owner_pid"]
    os.kill(owner, signal.SIGSTOP)


def datagram(k):
    # Every 100th as large as UDP allows: more than a Unix datagram
    # takes on illumos with the header of the shim (its payload goes in
    # a file), held like the others while its member queue is full.
    d = b"burst-%d-" % k
    if big and k % 100 == 50:
        return d.ljust(65507, b"%c" % (97 + k % 26))
    if takeover:
        return d.ljust(1000, b".")      # more than a default buffer each
    return d


try:
    cs = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(100)]
    for k in range(BURST):
        cs[k % len(cs)].sendto(datagram(k), ("127.0.0.1", port))
finally:
    if owner:
        os.kill(owner, signal.SIGCONT)
# Each whole, and each flow in the order it was sent, on whichever member.
n = disorder = corrupt = 0
last = {}
while n < BURST:
    ready, _, _ = select.select(members, [], [], 5)
    if not ready:
        break
    for m in ready:
        try:
            while True:
                d, src = m.recvfrom(65536)
                n += 1
                try:
                    k = int(d.split(b"-")[1])
                except (IndexError, ValueError):
                    corrupt += 1
                    continue
                corrupt += d != datagram(k)
                disorder += last.get((m, src), -1) > k
                last[(m, src)] = k
        except BlockingIOError:
            pass
print("received %d of %d, %d out of order, %d corrupt, own buffers %s" %
      (n, BURST, disorder, corrupt, "yes" if own else "no"))
'

# burst_oracle NAME WANT SCRIPT [VAR=VAL...] [-- ARG... [+ ARG...]]:
# SCRIPT natively, given the ARGs before "+", which must print WANT (else
# SKIP: the kernel's own did not hold the burst), then under the shim
# with the VAR=VALs, given all the ARGs; it must print the same.
burst_oracle() {
	local name=$1 want=$2 script=$3 n s envs=() natargs=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	# The ARGs up to a "+" go to the native run as well.
	while [ $# -gt 0 ] && [ "$1" != + ]; do natargs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	need_python
	printf '%s' "$script" >"$TDIR/$name.py"
	n=$(timeout 60 "$PYTHON" "$TDIR/$name.py" "${natargs[@]}" 2>&1)
	[ "$n" = "$want" ] ||
	    skip "natively the kernel's own did not hold the burst: $n"
	s=$(timeout 60 "${SHIM[@]}" "${envs[@]}" "$PYTHON" "$TDIR/$name.py" \
	    "${natargs[@]}" "$@" 2>&1)
	note "native: $n; shim: $s"
	[ "$s" = "$n" ] || fail "under the shim: $s (natively: $n)"
}

# udp_burst WAY WHEN: the burst in that way (shared: the members read
# the one socket themselves, which must hold what their four would),
# the buffers asked for WHEN (before or after bind; +big: with large
# datagrams among them).
udp_burst() {
	[ "$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)" -ge \
	    1048576 ] || skip "rmem_max below 1 MB (or unknown): one socket" \
	    "cannot take the members' sum unprivileged"
	burst_oracle udpburst \
	    "received 1500 of 1500, 0 out of order, 0 corrupt, own buffers yes" \
	    "$PY_UDPBURST" \
	    "REUSEPORT_SHIM_UDP=$1" -- "$2" + "$BUILD/reuseport-shim"
}
t_udp_burst() { udp_burst hash before+big; }
t_udp_burst_after() { udp_burst hash after+big; }
t_udp_burst_shared() { udp_burst shared before+big; }
# Asked after bind, a shared member's buffer is set on the one socket of
# all: the sum must hold, the last one asked must not win.
t_udp_burst_shared_after() { udp_burst shared after+big; }
# After two takeovers: the new owner holds for each member what the old
# one would, which it learns from the standby (SB_O_RCVBUF: the first
# standby from the members' tells, the second from the first owner that
# took over); each member is sent more than a default-sized socket
# holds.  (The like-illumos build's small queues make the held path run:
# on Linux's own, each takes the burst without it.)
t_udp_burst_takeover() { udp_burst hash after+big+takeover; }

# Members that left while the owner could not read (stopped, as a busy
# or descheduled one): what came for them goes to the one left, and a
# member that joins after is given nothing that came before it (one
# left's datagrams were once held in its freed slot and given to the
# next member there).  Then a member that shut its queue down for
# reading (where that shuts a UDP socket: Linux): what comes for it is
# seen to, not held for ever (the owner was woken for room at each
# turn).  Under the shim only: natively a closed socket's queue is lost,
# so the counts differ.
PY_UDPLEFT=$PY_BURSTLIB'
OLD = 60


def member(port=0):
    m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    m.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    m.bind(("127.0.0.1", port))
    return m


def drain(m, got):
    m.setblocking(False)
    try:
        while True:
            got.append(m.recv(64))
    except BlockingIOError:
        pass


def seen(n, *ms):
    # The owner has seen to n: delivered (read by now) or dropped.
    for m, got in ms:
        drain(m, got)
    return sum(len(got) for _, got in ms) + stat()["drops"] >= n


def send(tag, n):
    for k in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.sendto(b"%s-%d" % (tag, k), ("127.0.0.1", port))
        c.close()


a = member()
port = a.getsockname()[1]
b, c = member(port), member(port)
owner = stat()["owner_pid"]
os.kill(owner, signal.SIGSTOP)
try:
    send(b"old", OLD)
    a.close()
    b.close()
finally:
    os.kill(owner, signal.SIGCONT)
cgot, dgot, egot = [], [], []
until(lambda: seen(OLD, (c, cgot)), "old ones seen to")
# Two join: into the slots the two that left had.
d, e = member(port), member(port)
send(b"new", 2 * OLD)
until(lambda: seen(3 * OLD, (c, cgot), (d, dgot), (e, egot)),
      "new ones seen to")
print("left: the one left got %d old; the joiners got %d old" %
      (sum(x.startswith(b"old") for x in cgot),
       sum(x.startswith(b"old") for x in dgot + egot)))
# A member that will not read (Linux says ENOTCONN, and shuts it).
d.close()
e.close()
try:
    c.shutdown(socket.SHUT_RD)
except OSError:
    pass
drain(c, cgot)
# Shut, it polls readable with nothing to read (Linux); illumos refuses.
shut = bool(select.select([c], [], [], 0)[0])
if shut:
    base = stat()["delivered"] + stat()["drops"]
    send(b"shut", OLD)
    until(lambda: stat()["delivered"] + stat()["drops"] >= base + OLD,
          "datagrams to a member shut for reading seen to")
print("shut: %s" % ("seen to" if shut else "not shut here"))
'

t_udp_left_burst() {
	local out
	need_python
	printf '%s' "$PY_UDPLEFT" >"$TDIR/left.py"
	# roundrobin: which chain of a batch goes first does not depend on
	# the clients' ports, so the freed slot is met every time.
	out=$(timeout 90 "${SHIM[@]}" REUSEPORT_SHIM_UDP=roundrobin "$PYTHON" \
	    "$TDIR/left.py" x "$BUILD/reuseport-shim" 2>&1)
	note "$out"
	grep -qx "left: the one left got 60 old; the joiners got 0 old" \
	    <<<"$out" || fail "members that left under a stopped owner: $out"
	grep -qx "shut: seen to" <<<"$out" ||
	    { [ -n "$TEST_LIKE_ILLUMOS" ] &&
	    grep -qx "shut: not shut here" <<<"$out"; } ||
	    fail "a member shut for reading: $out"
}

# A shared member's SO_RCVBUF asked with no fd left to spare: the kernel
# takes it (the shim must make no fd for it: its own buffer's socket
# was made at join).
PY_RCVBUF_NOFD='
import errno, os, resource, socket
m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
m.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
m.bind(("127.0.0.1", 0))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
top = max(int(f) for f in os.listdir("/proc/self/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (top + 8, hard))
held = []
try:
    while True:
        held.append(os.open("/dev/null", os.O_RDONLY))
except OSError:
    pass
try:
    m.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    print("set: ok")
except OSError as e:
    print("set:", errno.errorcode.get(e.errno, e.errno))
'

# shared_oracle NAME FIRST SCRIPT: SCRIPT natively, whose first line
# must be FIRST, then under the shim in the shared way: the same output.
# A 30 s bound on each run (one blocked where it must not be).
shared_oracle() {
	local n s
	need_python
	printf '%s' "$3" >"$TDIR/$1.py"
	n=$(timeout 30 "$PYTHON" "$TDIR/$1.py" 2>&1)
	s=$(timeout 30 "${SHIM[@]}" REUSEPORT_SHIM_UDP=shared "$PYTHON" \
	    "$TDIR/$1.py" 2>&1)
	note "native: $(echo "$n" | tr '\n' '|')"
	[ "$(echo "$n" | head -1)" = "$2" ] || { fail "natively: $n"; return; }
	[ "$s" = "$n" ] || fail "under the shim: $(echo "${s:-nothing (blocked)}" |
	    tr '\n' '|')"
}

t_udp_shared_rcvbuf_nofd() {
	[ -d /proc/self/fd ] || skip "no /proc/self/fd to count open fds by"
	shared_oracle nofd "set: ok" "$PY_RCVBUF_NOFD"
}

# A shared member's buffer is one socket's, as natively: what a forked
# child sets its parent reads, and a program it execs reads it too.
PY_RCVBUF_FORK='
import os, socket, sys
if len(sys.argv) > 1:
    s = socket.socket(fileno=int(sys.argv[1]))
    print("exec reads", s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 50000)
    print("exec set, reads", s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    sys.exit(0)
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind(("127.0.0.1", 0))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
b.bind(("127.0.0.1", a.getsockname()[1]))
b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 100000)
print("start reads", a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) ==
      socket.socket(socket.AF_INET, socket.SOCK_DGRAM).getsockopt(
          socket.SOL_SOCKET, socket.SO_RCVBUF))
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 150000)
    os._exit(0)
os.waitpid(pid, 0)
print("after the child set, reads", a.getsockopt(socket.SOL_SOCKET,
                                                 socket.SO_RCVBUF))
print("the other reads", b.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
sys.stdout.flush()
os.set_inheritable(a.fileno(), True)
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, sys.argv[0], str(a.fileno())])
os.waitpid(pid, 0)
print("after the exec, reads", a.getsockopt(socket.SOL_SOCKET,
                                            socket.SO_RCVBUF))
'

t_udp_shared_rcvbuf_fork() {
	shared_oracle fork "start reads True" "$PY_RCVBUF_FORK"
}

# The first member of a shared group gives the one socket its file
# status flags (O_NONBLOCK); an owner that takes buffer tells marks its
# WELCOME, which must not make the first member look like a later one.
PY_SHARED_FIRST='
import socket
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind(("127.0.0.1", 0))
try:
    a.recv(16)
    print("first member: got something")
except BlockingIOError:
    print("first member: EAGAIN")
'

t_udp_shared_first() {
	shared_oracle first "first member: EAGAIN" "$PY_SHARED_FIRST"
}
