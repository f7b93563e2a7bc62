# A real DNS server on a UDP group: unbound with so-reuseport in two
# processes of two threads each (four members: unbound opens one socket
# per thread), under the shim, answering queries from many source ports,
# every one right.  A tiny stub client (PY_DNS) asks; no dig needed.

# PY_DNS_WIRE: a DNS query's bytes and an answer's records, for the
# stub resolvers here and in t_nsd.sh.
PY_DNS_WIRE='
def query(qid, name, qtype):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, 1)

def skip_name(m, i):
    while True:
        n = m[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n

def answer(m):
    """(id, rcode, [(type, rdata)])"""
    qid, fl, qd, an = struct.unpack_from("!HHHH", m)
    if not fl & 0x8000:
        raise ValueError("not a response")
    i = 12
    for _ in range(qd):
        i = skip_name(m, i) + 4
    rrs = []
    for _ in range(an):
        i = skip_name(m, i)
        t, c, ttl, ln = struct.unpack_from("!HHIH", m, i)
        i += 10
        rrs.append((t, m[i:i + ln]))
        i += ln
    return qid, fl & 0xF, rrs

def clients(n):
    """n non-blocking UDP sockets on 127.0.0.1, a poll of them, and
    the index of each by fd: (sockets, poll, index)"""
    cs, fdk = [], {}
    p = select.poll()
    for k in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        cs.append(s)
        p.register(s, select.POLLIN)
        fdk[s.fileno()] = k
    return cs, p, fdk
'

# PY_DNS PORT COUNT CLIENTS WINDOW: COUNT queries from CLIENTS sockets
# in turn, at most WINDOW unanswered: a.test A (want 192.0.2.1),
# nope.test A (want NXDOMAIN) and who.test TXT (which server answered).
# Prints "answered N of COUNT", "wrong N" (with the first few reasons on
# stderr) and "who NAME:COUNT ...".  No retries: every query must be
# answered once.  PY_DNS PORT who: one who.test query from a fresh
# socket, its TXT or "none".
PY_DNS="$PY_DNS_WIRE"'
import os, random, select, socket, struct, sys, time

KINDS = [("a.test", 1), ("nope.test", 1), ("who.test", 16)]

def check(kind, rcode, rrs):
    """(ok, who or None, why)"""
    name, qtype = KINDS[kind]
    if kind == 0:
        ok = rcode == 0 and [(t, d) for t, d in rrs] == [(1, bytes([192, 0, 2, 1]))]
        return ok, None, "a.test: rcode %d %r" % (rcode, rrs)
    if kind == 1:
        return rcode == 3 and not rrs, None, "nope.test: rcode %d %r" % (rcode, rrs)
    if rcode != 0 or len(rrs) != 1 or rrs[0][0] != 16:
        return False, None, "who.test: rcode %d %r" % (rcode, rrs)
    d = rrs[0][1]
    return True, d[1:1 + d[0]].decode(), ""

port = int(sys.argv[1])
if sys.argv[2] == "who":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.sendto(query(7, "who.test", 16), ("127.0.0.1", port))
    r = select.select([s], [], [], 0.3)[0]
    if not r:
        print("none")
    else:
        qid, rcode, rrs = answer(s.recv(4096))
        ok, who, why = check(2, rcode, rrs)
        print(who if ok and qid == 7 else "wrong")
    sys.exit(0)

count, nclients, window = map(int, sys.argv[2:5])
cs, p, fdk = clients(nclients)
ids = random.Random(port).sample(range(65536), count)
out = {}                        # qid -> (client, kind)
answered = wrong = nxt = 0
who = {}
why = []
stall = time.monotonic() + 5
while (nxt < count or out) and time.monotonic() < stall:
    while nxt < count and len(out) < window:
        k, kind = nxt % nclients, nxt % 3
        cs[k].sendto(query(ids[nxt], *KINDS[kind]), ("127.0.0.1", port))
        out[ids[nxt]] = (k, kind)
        nxt += 1
    for fd, ev in p.poll(max(0, (stall - time.monotonic()) * 1000)):
        k = fdk[fd]
        while True:
            try:
                m, src = cs[k].recvfrom(4096)
            except BlockingIOError:
                break
            try:
                qid, rcode, rrs = answer(m)
            except (ValueError, IndexError, struct.error) as e:
                wrong += 1
                why.append("unparsable: %s" % e)
                continue
            if out.get(qid, (None,))[0] != k or src[1] != port:
                wrong += 1
                why.append("id %d or source %r not expected" % (qid, src))
                continue
            ok, w, reason = check(out.pop(qid)[1], rcode, rrs)
            if not ok:
                wrong += 1
                why.append(reason)
                continue
            answered += 1
            if w is not None:
                who[w] = who.get(w, 0) + 1
            stall = time.monotonic() + 5
print("answered %d of %d" % (answered, count))
print("wrong %d" % wrong)
print("who %s" % " ".join("%s:%d" % (w, who[w]) for w in sorted(who)))
for w in why[:5]:
    sys.stderr.write(w + "\n")
'

# dns_conf NAME PORT: a private unbound config in $TDIR: the current
# user, no chroot, no remote control, no daemon, log on stderr,
# 127.0.0.1 only, UDP only, local data only (nothing asked upstream).
dns_conf() {
	local dir=$TDIR/$1
	mkdir -p "$dir"
	cat >"$dir/unbound.conf" <<EOF
server:
	username: ""
	chroot: ""
	directory: "$dir"
	pidfile: ""
	do-daemonize: no
	use-syslog: no
	logfile: ""
	verbosity: 1
	interface: 127.0.0.1
	port: $2
	do-ip4: yes
	do-ip6: no
	do-udp: yes
	do-tcp: no
	so-reuseport: yes
	num-threads: 2
	access-control: 127.0.0.0/8 allow
	module-config: "iterator"
	do-not-query-localhost: yes
	outgoing-range: 16
	msg-cache-size: 1m
	rrset-cache-size: 1m
	key-cache-size: 1m
	neg-cache-size: 1m
	local-zone: "test." static
	local-data: "a.test. 300 IN A 192.0.2.1"
	local-data: 'who.test. 300 IN TXT "$1"'
remote-control:
	control-enable: no
EOF
	echo "$dir/unbound.conf"
}

dns_who() { "$PYTHON" -c "$PY_DNS" "$1" who 2>/dev/null; }

# dns_wait_who PORT NAME: poll (bounded) until NAME answers who.test,
# from a fresh source port each time (the hash spreads them).
dns_is_who() { [ "$(dns_who "$1")" = "$2" ]; }
dns_wait_who() { poll_until 10000 dns_is_who "$1" "$2"; }

# dns_run TAG PORT COUNT CLIENTS: PY_DNS into $TDIR/TAG.dns; every query
# answered, none wrong.
dns_run() {
	local got
	timeout 30 "$PYTHON" -c "$PY_DNS" "$2" "$3" "$4" 8 \
	    >"$TDIR/$1.dns" 2>"$TDIR/$1.err"
	got=$(awk '$1 == "answered" { print $2 " of " $4 }' "$TDIR/$1.dns")
	[ "$got" = "$3 of $3" ] ||
	    { fail "$1: answered ${got:-?}, want $3 of $3 ($(head -3 "$TDIR/$1.err" | tr '\n' ' '))"; return 1; }
	grep -qx 'wrong 0' "$TDIR/$1.dns" ||
	    { fail "$1: $(grep '^wrong' "$TDIR/$1.dns") wrong answers: $(head -3 "$TDIR/$1.err" | tr '\n' ' ')"; return 1; }
}

t_dns_unbound() {
	local ub port conf1 conf2 got n
	need_python
	ub=$(command -v unbound 2>/dev/null)
	[ -z "$ub" ] && [ -x /usr/sbin/unbound ] && ub=/usr/sbin/unbound
	[ -n "$ub" ] || skip "unbound is not installed (apt-get install unbound)"
	# The one fixed port of the suite: unbound takes its port from its
	# config, so a port the kernel gives (bind to 0, then closed) is
	# handed to it; the window in between is the accepted race.
	port=$("$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
	    { fail "no free port"; return; }
	conf1=$(dns_conf u1 "$port")
	conf2=$(dns_conf u2 "$port")
	"${ub%unbound}unbound-checkconf" "$conf1" >"$TDIR/checkconf" 2>&1 ||
	    [ ! -x "${ub%unbound}unbound-checkconf" ] ||
	    { fail "unbound-checkconf: $(head -2 "$TDIR/checkconf" | tr '\n' ' ')"; return; }

	start_server u1 "${SHIM[@]}" "$ub" -d -c "$conf1" || return
	dns_wait_who "$port" u1 ||
	    { fail "unbound u1 never answered who.test on $port$(server_err u1)"; return; }
	start_server u2 "${SHIM[@]}" "$ub" -d -c "$conf2" || return
	dns_wait_who "$port" u2 ||
	    { fail "unbound u2 (same port) never answered who.test: did its bind fail?$(server_err u2)"; return; }
	n=$(udp_kernel_sockets "$port")
	[ "$n" = 1 ] ||
	    fail "the kernel has $n UDP sockets on the port, want 1 (the owner's; unbound opens 2 per process)"
	[ "$(the_owners | wc -w)" = 1 ] ||
	    fail "want one rpshim-owner for the group, have '$(the_owners | tr '\n' ' ')'"

	dns_run all "$port" 600 120 || return
	got=$(awk '$1 == "who"' "$TDIR/all.dns")
	[[ " $got " == *" u1:"* && " $got " == *" u2:"* ]] ||
	    fail "not both unbound processes answered: $got"
	note "600 queries from 120 source ports: $got"

	# u2 killed: u1 answers everything asked after.
	disown "${SRV_PID[u2]}" 2>/dev/null
	kill -KILL -- "-${SRV_PID[u2]}"
	poll_until "$GONE_MS" group_gone "${SRV_PID[u2]}" ||
	    { fail "unbound u2 outlived kill -9"; return; }
	exec {SRV_FD[u2]}<&-
	dns_run after "$port" 300 60 || return
	got=$(awk '$1 == "who"' "$TDIR/after.dns")
	[ "$got" = "who u1:100" ] ||
	    fail "after u2 was killed: want every who.test from u1, got '$got'"
	note "u2 killed, then 300 queries: $got"
	stop_server u1 0
}
