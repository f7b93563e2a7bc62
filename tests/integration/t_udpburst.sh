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
owner = None
if tool and takeover:
    # The standby must learn the buffer of each member from the owner.
    until(lambda: stat().get("standby_pid"), "standby")
    os.kill(stat()["owner_pid"], signal.SIGKILL)
    until(lambda: stat().get("takeovers") == 1, "takeover")
if tool:
    owner = stat()["owner_pid"]
    os.kill(owner, signal.SIGSTOP)
try:
    cs = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(100)]
    for k in range(BURST):
        # Every 100th as large as UDP allows: more than a Unix datagram
        # takes on illumos with the header of the shim (its payload goes
        # in a file), held like the others while its member queue is full.
        d = b"burst-%d" % k
        if big and k % 100 == 50:
            d = d.ljust(65507, b".")
        elif takeover:
            d = d.ljust(1000, b".")     # more than a default buffer each
        cs[k % len(cs)].sendto(d, ("127.0.0.1", port))
finally:
    if owner:
        os.kill(owner, signal.SIGCONT)
n = 0
while n < BURST:
    ready, _, _ = select.select(members, [], [], 5)
    if not ready:
        break
    for m in ready:
        try:
            while m.recv(64):
                n += 1
        except BlockingIOError:
            pass
print("received %d of %d" % (n, BURST))
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
# datagrams, which the shared way's one socket does not hold as four
# would: it takes the largest buffer asked, not their sum).
udp_burst() {
	[ "$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)" -ge \
	    1048576 ] || skip "rmem_max below 1 MB (or unknown): one socket" \
	    "cannot take the members' sum unprivileged"
	burst_oracle udpburst "received 1500 of 1500" "$PY_UDPBURST" \
	    "REUSEPORT_SHIM_UDP=$1" -- "$2" + "$BUILD/reuseport-shim"
}
t_udp_burst() { udp_burst hash before+big; }
t_udp_burst_after() { udp_burst hash after+big; }
t_udp_burst_shared() { udp_burst shared before; }
# After a takeover: the new owner holds for each member what the old one
# would, which it learns from the standby (SB_O_RCVBUF); each member is
# sent more than a default-sized socket holds.
t_udp_burst_takeover() { udp_burst hash after+big+takeover; }
