# A burst of connections while no member accepts (busy workers, a pause):
# the kernel's group holds them in its members' accept queues, each as
# long as its member's listen() asked; the shim's one listener must hold
# the sum (it held the longest alone, and the SYNs past it were dropped
# where the kernel's group completed them).  The members are sockets of
# the script itself, which never accepts; it counts the connections
# whose handshake completes.

# (PY_BURSTLIB: lib.sh)
PY_TCPBURST=$PY_BURSTLIB'
BURST, BACKLOG = 700, 250   # more than one queue and the in-hand hold
takeover = len(sys.argv) > 1 and sys.argv[1] == "takeover"
if takeover:
    # More than two queues and four in-hand holds (856), well within the
    # four kernel queues (1204: its hash fills one of 251 at times).
    BURST, BACKLOG = 900, 300

members = []
for i in range(4):
    if takeover and i == 2 and tool:
        # Half the group listens, then its owner dies, twice: the one that
        # takes over must still let the listener grow as the others listen.
        take_over(2)
    m = socket.socket()
    m.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    m.bind(("127.0.0.1", members[0].getsockname()[1] if members else 0))
    m.listen(BACKLOG)
    members.append(m)
port = members[0].getsockname()[1]
pending = {}
for _ in range(BURST):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", port))
    pending[c.fileno()] = c
done = 0
p = select.poll()
for fd in pending:
    p.register(fd, select.POLLOUT)
# Until all are done, or none for a while (a dropped SYN waits 1 s and more).
while pending:
    ev = p.poll(3000)
    if not ev:
        break
    for fd, _ in ev:
        c = pending.pop(fd)
        p.unregister(fd)
        if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            done += 1
print("connected %d of %d" % (done, BURST))
'

# (burst_oracle: t_udpburst.sh)
t_tcp_burst() {
	burst_oracle tcpburst "connected 700 of 700" "$PY_TCPBURST"
}
# The same after a takeover between the members' listens (the backlogs
# come with the standby's mirror).
t_tcp_burst_takeover() {
	burst_oracle tcpburst "connected 900 of 900" "$PY_TCPBURST" -- \
	    takeover + "$BUILD/reuseport-shim"
}
