# A second real DNS server, with a demanding socket pattern: NSD with
# "reuseport: yes" and "server-count: 4".  Seen with strace (NSD 4.6.1):
# the first process opens 4 UDP sockets with SO_REUSEPORT (one per
# server) and one TCP listener (also SO_REUSEPORT; NSD makes one TCP
# listener for all servers), becomes "nsd: xfrd" and forks "nsd: main",
# which forks the 4 "nsd: server N"; each server closes the 3 UDP
# sockets it does not serve; xfrd and main keep all of them.  main forks
# a new server when one dies, and replaces all four on every
# `nsd-control stats` (that is how it collects their counters).  Under
# the shim: 4 members of one group bound in one process, fork, closes in
# the children, restarts.
#
# Run natively (the oracle), then under the shim, same config: every
# query answered right (UDP from many source ports through PY_DNS of
# t_dns.sh, TCP with its length prefix through PY_NSD), also 1000 UDP
# queries sent at once; the servers' own counters (nsd-control over a
# Unix socket) show more than one server answering; what waits for a
# stopped server is answered once it is killed (-9) and main has forked
# its successor (its socket, the member, stays open in main and xfrd),
# and every query asked after is answered; no server dies but the one
# killed.  What must match (answers, servers, restarts, deaths, exit
# status) is compared between the two runs.  Under the shim also: the
# UDP group has 4 members throughout and more than one was given
# datagrams, the TCP group has NSD's one member and stat names NSD's
# servers as accepting on it, the kernel has one socket of each kind on
# the port, and no owner is left.

# PY_NSD tcp PORT CONNS: CONNS connections from 4 threads, each asking
# a.test A (192.0.2.1), nope.test A (NXDOMAIN) and who.test TXT in turn,
# each query with its 2-byte length, the answer read before the next.
# PY_NSD burst PORT COUNT [PID]: COUNT UDP queries (the same three in
# turn) from COUNT sockets (at most 250, taking turns), sent all at once;
# then wait for the answers until 3 s pass without one.  No retries.
# With PID: stop it (SIGSTOP) first, and once no answer came for 0.5 s
# kill -9 it, then wait for the rest.
# Both print "answered N of TOTAL" and "wrong N" (first reasons on
# stderr); burst with PID also "before N", answered before the kill.
PY_NSD="$PY_DNS_WIRE"'
import os, select, signal, socket, struct, sys, threading, time

KINDS = [("a.test", 1, lambda rc, rrs: rc == 0 and rrs == [(1, bytes([192, 0, 2, 1]))]),
         ("nope.test", 1, lambda rc, rrs: rc == 3 and not rrs),
         ("who.test", 16, lambda rc, rrs: rc == 0 and len(rrs) == 1 and rrs[0][0] == 16)]
BAD = (OSError, EOFError, ValueError, IndexError, struct.error)
lock = threading.Lock()
res = {"answered": 0, "wrong": 0}
why = []

def bad(msg):
    with lock:
        res["wrong"] += 1
        why.append(msg)

def good():
    with lock:
        res["answered"] += 1

def read_msg(s):
    buf = b""
    while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
        d = s.recv(4096)
        if not d:
            raise EOFError("connection closed after %d bytes" % len(buf))
        buf += d
    return buf[2:]

def tcp_worker(port, first, n):
    for c in range(first, first + n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError as e:
            for _ in KINDS:
                bad("connect: %s" % e)
            continue
        with s:
            for k, (name, qtype, ok) in enumerate(KINDS):
                qid = (c * 3 + k) & 0xFFFF
                q = query(qid, name, qtype)
                try:
                    s.sendall(struct.pack("!H", len(q)) + q)
                    got, rc, rrs = answer(read_msg(s))
                except BAD as e:
                    bad("%s: %s: %s" % (name, type(e).__name__, e))
                    continue
                if got != qid or not ok(rc, rrs):
                    bad("%s: id %d (want %d) rcode %d %r" % (name, got, qid, rc, rrs))
                    continue
                good()

def tcp(port, conns):
    ts = [threading.Thread(target=tcp_worker,
                           args=(port, i * conns // 4, (i + 1) * conns // 4 - i * conns // 4))
          for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return 3 * conns

def stopped(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "tT"
    except OSError:
        return False

def burst(port, count, pid):
    if pid:
        os.kill(pid, signal.SIGSTOP)
        t = time.monotonic() + 5
        while not stopped(pid) and time.monotonic() < t:
            time.sleep(0.01)
    cs, p, fdk = clients(min(count, 250))
    for k in range(count):
        cs[k % len(cs)].sendto(query(k, *KINDS[k % 3][:2]), ("127.0.0.1", port))
    out = set(range(count))
    before = None if pid else 0
    quiet = time.monotonic() + 0.5
    stall = time.monotonic() + 3
    while out and time.monotonic() < stall:
        if before is None and time.monotonic() >= quiet:
            before = res["answered"]
            os.kill(pid, signal.SIGKILL)
            stall = time.monotonic() + 3
        end = quiet if before is None else stall
        for fd, ev in p.poll(max(0, (end - time.monotonic()) * 1000)):
            c = fdk[fd]
            try:
                m, src = cs[c].recvfrom(4096)
                k, rc, rrs = answer(m)
            except BlockingIOError:
                continue
            except BAD as e:
                bad("unparsable: %s" % e)
                continue
            if k not in out or k % len(cs) != c or src[1] != port:
                bad("id %d on socket %d or source %r not expected" % (k, c, src))
                continue
            out.discard(k)
            name, qtype, ok = KINDS[k % 3]
            if not ok(rc, rrs):
                bad("%s: rcode %d %r" % (name, rc, rrs))
                continue
            good()
            quiet = time.monotonic() + 0.5
            stall = time.monotonic() + 3
    if pid:
        if before is None:
            before = res["answered"]
            os.kill(pid, signal.SIGKILL)
        print("before %d" % before)
    return count

mode, port = sys.argv[1], int(sys.argv[2])
if mode == "tcp":
    total = tcp(port, int(sys.argv[3]))
else:
    total = burst(port, int(sys.argv[3]), int(sys.argv[4]) if sys.argv[4:] else 0)
print("answered %d of %d" % (res["answered"], total))
print("wrong %d" % res["wrong"])
for w in why[:5]:
    sys.stderr.write(w + "\n")
'

# A port free for both UDP and TCP on 127.0.0.1, chosen by the kernel
# (UDP bound to 0, then TCP bound to the same port, both closed); NSD
# takes its port from its config, so the window in between is the
# accepted race (as for unbound in t_dns.sh).
nsd_free_port() {
	"$PYTHON" -c '
import socket
for _ in range(20):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break
'
}

# nsd_conf DIR PORT: config, zone and every file NSD writes in DIR: the
# current user, no chroot, no database, log in DIR, control on a Unix
# socket in DIR (no keys), no rate limiting (all queries come from
# 127.0.0.1).
nsd_conf() {
	local dir=$1
	mkdir -p "$dir"
	cat >"$dir/test.zone" <<'EOF'
$ORIGIN test.
$TTL 300
@	IN SOA ns.test. host.test. 1 3600 900 86400 300
@	IN NS ns.test.
ns	IN A 192.0.2.53
a	IN A 192.0.2.1
who	IN TXT "nsd"
EOF
	cat >"$dir/nsd.conf" <<EOF
server:
	server-count: 4
	reuseport: yes
	ip-address: 127.0.0.1@$2
	do-ip4: yes
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: "$dir"
	database: ""
	zonelistfile: "$dir/zone.list"
	xfrdfile: "$dir/xfrd.state"
	xfrdir: "$dir"
	pidfile: "$dir/nsd.pid"
	logfile: "$dir/nsd.log"
	cookie-secret-file: "$dir/cookiesecrets.txt"
	verbosity: 1
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: yes
	control-interface: $dir/nsd.ctl
zone:
	name: "test."
	zonefile: "$dir/test.zone"
EOF
}

NSD_DIR=""	# the current run's directory
NSD_NAME=""	# its start_server name
NSD_WANT=""	# "udp N tcp N": the kernel's sockets on the port natively

# Processes of the current run's group: "pid comm..." lines.
nsd_procs() { ps -o pid=,comm= -g "${SRV_PID[$NSD_NAME]}" 2>/dev/null; }
# The server children, "N:pid" sorted by N.
nsd_servers() {
	nsd_procs | awk '$2 == "nsd:" && $3 == "server" { print $4 " " $1 }' |
	    sort -n | awk '{ printf "%s%s:%s", sep, $1, $2; sep = " " }'
}
nsd_nservers() { nsd_servers | wc -w; }
nsd_four() { [ "$(nsd_nservers)" = 4 ]; }

# nsd_settled "N:PID ...": four servers, none of the PIDs among them.
nsd_settled() {
	local now p
	now=" $(nsd_servers) "
	[ "$(wc -w <<<"$now")" = 4 ] || return 1
	for p in $1; do
		case $now in *":${p#*:} "*) return 1 ;; esac
	done
}

nsd_ctx() {
	local l
	l=$(grep -vE 'notice: nsd (starting|started)|info: ' "$NSD_DIR/nsd.log" 2>/dev/null |
	    tail -3 | tr '\n' ' ')
	[ -n "$l" ] && printf ' [nsd.log: %s]' "$l"
	server_err "$NSD_NAME"
}

# On any exit of the test: no nsd outlives it (by pid file, then by
# process group; the runner kills the groups too).
nsd_cleanup() {
	local d p
	for d in "$TDIR"/nsd-*/; do
		[ -s "$d/nsd.pid" ] && read -r p <"$d/nsd.pid" && [ -n "$p" ] || continue
		# (only an nsd: the file outlives the process, the pid may not)
		case $(ps -o comm= -p "$p" 2>/dev/null) in
		nsd*) kill -KILL "$p" 2>/dev/null ;;
		esac
	done
	for p in "${SRV_PID[@]}"; do
		disown "$p" 2>/dev/null
		kill -KILL -- "-$p" 2>/dev/null
	done
	return 0
}

# nsd_tcp TAG PORT CONNS: PY_NSD tcp into $TDIR/TAG.tcp; all answered,
# none wrong.
nsd_tcp() {
	local got want=$(($3 * 3))
	timeout 30 "$PYTHON" -c "$PY_NSD" tcp "$2" "$3" \
	    >"$TDIR/$1.tcp" 2>"$TDIR/$1.tcperr"
	got=$(awk '$1 == "answered" { print $2 " of " $4 }' "$TDIR/$1.tcp")
	[ "$got" = "$want of $want" ] && grep -qx 'wrong 0' "$TDIR/$1.tcp" && return 0
	fail "$1: TCP answered ${got:-?}, want $want of $want, $(grep '^wrong' "$TDIR/$1.tcp"): $(head -3 "$TDIR/$1.tcperr" | tr '\n' ' ')$(nsd_ctx)"
	return 1
}

# nsd_burst TAG PORT COUNT: PY_NSD burst into $TDIR/TAG.dns; all
# answered, none wrong.  The failure says how many datagrams the kernel
# dropped meanwhile for want of room in a socket's receive buffer (Udp
# RcvbufErrors in /proc/net/snmp; system-wide: other programs' too).
nsd_udp_rcvbuf_errors() {
	awk '$1 == "Udp:" && ++n == 1 { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i }
	    $1 == "Udp:" && n == 2 { print $c + 0 }' /proc/net/snmp 2>/dev/null
}
nsd_burst() {
	local e0 e1
	e0=$(nsd_udp_rcvbuf_errors)
	timeout 30 "$PYTHON" -c "$PY_NSD" burst "$2" "$3" \
	    >"$TDIR/$1.dns" 2>"$TDIR/$1.err"
	e1=$(nsd_udp_rcvbuf_errors)
	grep -qx "answered $3 of $3" "$TDIR/$1.dns" && grep -qx 'wrong 0' "$TDIR/$1.dns" && return 0
	fail "$1: $3 UDP queries sent at once: $(tr '\n' ' ' <"$TDIR/$1.dns")(kernel UDP receive-buffer drops meanwhile: $((${e1:-0} - ${e0:-0})))$(head -2 "$TDIR/$1.err" | tr '\n' ' ')"
	return 1
}

# nsd_stats TAG: the servers' query counters (nsd-control stats_noreset,
# which makes NSD 4.6 replace its servers) into $TDIR/TAG.stats; prints
# "N:queries ..." for the servers that answered any.
nsd_stats() {
	nsd-control -c "$NSD_DIR/nsd.conf" stats_noreset >"$TDIR/$1.stats" 2>&1 ||
	    { fail "$1: nsd-control stats_noreset: $(head -2 "$TDIR/$1.stats" | tr '\n' ' ')"; return 1; }
	awk -F'[.=]' '$1 ~ /^server[0-9]+$/ && $2 == "queries" && $3 > 0 {
		printf "%s%s:%s", sep, substr($1, 7), $3; sep = " " }' "$TDIR/$1.stats"
}

# nsd_kernel_sockets PORT: "udp N tcp N", the kernel's UDP sockets and
# TCP listeners on 127.0.0.1:PORT.
nsd_kernel_sockets() {
	local h
	h=$(printf '0100007F:%04X' "$1")
	printf 'udp %s tcp %s' \
	    "$(awk -v h="$h" '$2 == h { s[$10] = 1 } END { print length(s) }' /proc/net/udp)" \
	    "$(awk -v h="$h" '$2 == h && $4 == "0A" { s[$10] = 1 } END { print length(s) }' /proc/net/tcp)"
}

# nsd_shim_stat TAG PORT: under the shim, stat --json: "udp MEMBERS
# GIVEN tcp MEMBERS" (GIVEN: members given any datagram); the UDP
# members' "id:datagrams" in $TDIR/TAG.members, the pids stat names as
# accepting on the TCP member in $TDIR/TAG.accepting, and as receiving on
# the UDP ones in $TDIR/TAG.receiving.
nsd_shim_stat() {
	REUSEPORT_SHIM_DIR=$SHIMDIR "$BUILD/reuseport-shim" stat --json \
	    >"$TDIR/$1.stat" 2>&1 || { fail "$1: reuseport-shim stat failed: $(head -2 "$TDIR/$1.stat")"; return 1; }
	"$PYTHON" -c '
import json, sys
port, pre = int(sys.argv[1]), sys.argv[3]
out = {"udp": [0, 0], "tcp": [0, 0]}
files = {"members": [], "accepting": set(), "receiving": set()}
for g in json.load(open(sys.argv[2])):
    if g["port"] != port or g.get("stale"):
        continue
    ms = g["members"]
    out[g["protocol"]] = [len(ms), sum(1 for m in ms if (m["delivered"] or 0) > 0)]
    for m in ms:
        if g["protocol"] == "udp":
            files["members"].append("%s:%s" % (m["id"], m["delivered"]))
            files["receiving"].update(m["receiving"])
        else:
            files["accepting"].update(m["accepting"])
print("udp %d %d tcp %d" % (out["udp"][0], out["udp"][1], out["tcp"][0]))
for k, v in files.items():
    v = v if k == "members" else sorted(v)
    open(pre + "." + k, "w").write(" ".join(str(x) for x in v) + "\n")
' "$2" "$TDIR/$1.stat" "$TDIR/$1"
}

# nsd_check_shim TAG PORT [SERVERS]: the groups have as many members as
# the kernel had sockets natively (NSD_WANT: "udp 4 tcp 1"), more than one
# UDP member was given datagrams, and the pids stat names as accepting on
# the TCP members are among SERVERS ("N:pid ...").
nsd_check_shim() {
	local got um ug tm p
	got=$(nsd_shim_stat "$1" "$2") || return 1
	read -r _ um ug _ tm <<<"$got"
	if [ "udp $um tcp $tm" != "$NSD_WANT" ] || [ "$ug" -lt 2 ]; then
		fail "$1: stat: UDP group $um members ($(cat "$TDIR/$1.members")), $ug of them given datagrams; TCP group $tm members; want $NSD_WANT members as natively, and more than one UDP member given datagrams$(nsd_ctx)"
		return 1
	fi
	if [ -n "${3:-}" ]; then
		[ -s "$TDIR/$1.accepting" ] && [ -n "$(cat "$TDIR/$1.accepting")" ] ||
		    fail "$1: stat names no process accepting on NSD's TCP member"
		for p in $(cat "$TDIR/$1.accepting"); do
			case " $3 " in *":$p "*) ;; *)
				fail "$1: stat says pid $p accepts on NSD's TCP member; the servers are $3" ;;
			esac
		done
	fi
	# Shown, not asserted: stat's "receiving" (UDP's "accepting") should
	# name the servers, but names the process that bound the members,
	# NSD's xfrd, which never receives (the UDP owner does not learn who
	# does).
	note "$1: UDP members id:datagrams $(cat "$TDIR/$1.members"); stat: accepting (TCP) $(cat "$TDIR/$1.accepting"), receiving (UDP) $(cat "$TDIR/$1.receiving")"
}

# nsd_run MODE: one run of NSD, native or shim; what must be the same
# for both goes to $TDIR/MODE.sum.
nsd_run() {
	local mode=$1 port pre=() victim old spread sum=$TDIR/$1.sum i
	NSD_NAME=nsd-$mode
	NSD_DIR=$TDIR/$NSD_NAME
	[ "$mode" = shim ] && pre=("${SHIM[@]}")
	port=$(nsd_free_port)
	[ -n "$port" ] || { fail "$mode: no free port"; return 1; }
	nsd_conf "$NSD_DIR" "$port"
	nsd-checkconf "$NSD_DIR/nsd.conf" >"$TDIR/$mode.checkconf" 2>&1 ||
	    { fail "nsd-checkconf: $(head -2 "$TDIR/$mode.checkconf" | tr '\n' ' ')"; return 1; }
	: >"$sum"

	# -d: in the foreground, so in start_server's process group.
	start_server "$NSD_NAME" "${pre[@]}" "$NSD" -d -c "$NSD_DIR/nsd.conf" || return 1
	if ! poll_until 10000 nsd_four || ! dns_wait_who "$port" nsd; then
		[ "$mode" = native ] &&
		    skip "nsd does not run here: $(nsd_procs | wc -l) processes, $(nsd_nservers) servers, no answer on $port$(nsd_ctx)"
		fail "$mode: nsd not serving within 10 s: $(nsd_nservers) servers, who.test $(dns_who "$port")$(nsd_ctx)"
		return 1
	fi
	echo "servers $(nsd_nservers)" >>"$sum"
	nsd_kernel_sockets "$port" >"$TDIR/$mode.kernel"
	if [ "$mode" = native ]; then
		NSD_WANT=$(cat "$TDIR/native.kernel")
		case $NSD_WANT in
		"udp 4 tcp "[1-9]*) ;;
		*) fail "native: the kernel has $NSD_WANT sockets on the port, want 4 UDP (reuseport: yes, server-count: 4) and TCP listener(s)"
		   return 1 ;;
		esac
	fi

	# Many source ports over UDP, and TCP.
	dns_run "$mode-udp1" "$port" 600 120 || return 1
	nsd_tcp "$mode-tcp1" "$port" 40 || return 1
	echo "udp1 all 600 tcp1 all 120" >>"$sum"
	old=$(nsd_servers)
	[ "$mode" = shim ] && { nsd_check_shim "$mode-stat1" "$port" "$old" || return 1; }

	# A burst: 1000 queries from 250 source ports sent at once, as a
	# server may get them; the sockets' receive buffers (NSD asks 1 MB
	# for each) hold what the servers have not read yet.  (Not stopped
	# at a failure: what follows is worth seeing too.)
	nsd_burst "$mode-burst" "$port" 1000 && echo "burst all 1000" >>"$sum"
	spread=$(nsd_stats "$mode-stats1") || return 1
	[ "$(wc -w <<<"$spread")" -ge 2 ] ||
	    fail "$mode: want more than one server answering, got server:queries '$spread'"
	echo "spread1 >1" >>"$sum"
	note "$mode: servers N:queries after 1600 UDP (600 paced, 1000 at once) + 120 TCP queries: $spread"
	# NSD 4.6 replaces its servers to collect their counters: whether it
	# did must be the same natively and under the shim.
	if poll_until 3000 nsd_settled "$old"; then
		echo "stats replaced the servers" >>"$sum"
	else
		echo "stats kept the servers: $(nsd_nservers)" >>"$sum"
	fi

	# A server stopped (SIGSTOP), 200 UDP queries from 200 source ports
	# (few enough for the default receive buffer of one socket):
	# those for the others are answered, those for it wait in its socket
	# (the member); then kill -9 of it: main forks a new server, which
	# inherits the socket from main (it stays open there and in xfrd) and
	# answers what waited.  Nothing is lost, natively and under the shim.
	victim=$(nsd_servers | tr ' ' '\n' | awk -F: '$1 == 2 { print $2 }')
	[ -n "$victim" ] || { fail "$mode: no server 2: $(nsd_servers)$(nsd_ctx)"; return 1; }
	timeout 30 "$PYTHON" -c "$PY_NSD" burst "$port" 200 "$victim" \
	    >"$TDIR/$mode-kill.dns" 2>"$TDIR/$mode-kill.err"
	# (if the client failed before it killed it)
	[ "$(ps -o comm= -p "$victim" 2>/dev/null)" = "nsd: server 2" ] &&
	    kill -KILL "$victim" 2>/dev/null
	read -r i < <(awk '$1 == "before" { print $2 }' "$TDIR/$mode-kill.dns")
	if ! grep -qx 'answered 200 of 200' "$TDIR/$mode-kill.dns" ||
	    ! grep -qx 'wrong 0' "$TDIR/$mode-kill.dns"; then
		fail "$mode: server 2 stopped, 200 queries, server 2 killed: $(tr '\n' ' ' <"$TDIR/$mode-kill.dns")$(head -3 "$TDIR/$mode-kill.err" | tr '\n' ' ')$(nsd_ctx)"
		return 1
	fi
	# (none waiting for the stopped server: the test proved nothing)
	[ "${i:-200}" -lt 200 ] ||
	    fail "$mode: all 200 answered while server 2 was stopped: did it get none?"
	echo "stopped server killed: 200 of 200" >>"$sum"
	note "$mode: server 2 ($victim) stopped: $i of 200 answered; killed: the rest answered by its successor"
	# Then: every query asked once the new server is up is answered.
	poll_until 10000 nsd_settled "$victim" ||
	    { fail "$mode: server 2 ($victim) not restarted within 10 s: $(nsd_servers)$(nsd_ctx)"; return 1; }
	echo "restarted $(nsd_nservers)" >>"$sum"
	dns_run "$mode-udp2" "$port" 300 60 || return 1
	nsd_tcp "$mode-tcp2" "$port" 20 || return 1
	echo "udp2 all 300 tcp2 all 60" >>"$sum"
	[ "$mode" = shim ] && { nsd_check_shim "$mode-stat2" "$port" || return 1; }
	spread=$(nsd_stats "$mode-stats2") || return 1
	[ "$(wc -w <<<"$spread")" -ge 2 ] ||
	    fail "$mode: after the restart, want more than one server answering, got '$spread'"
	note "$mode: after the restart 300 UDP + 60 TCP: servers N:queries $spread"

	# Stop as an operator does: SIGTERM to the pid file's process.
	read -r i <"$NSD_DIR/nsd.pid"
	[ "$i" = "${SRV_PID[$NSD_NAME]}" ] ||
	    fail "$mode: pid file says $i, started ${SRV_PID[$NSD_NAME]}"
	stop_server "$NSD_NAME" 0
	echo "exit $SRV_STATUS" >>"$sum"

	# main restarts a server that crashes: the log must show the one
	# death we caused, no other (a crash under the shim would otherwise
	# go unseen), and nothing of the shim's or a sanitizer's on stderr.
	i=$(grep -c 'died unexpectedly' "$NSD_DIR/nsd.log")
	echo "servers died: $i" >>"$sum"
	[ "$i" = 1 ] ||
	    fail "$mode: nsd.log has $i servers that died, want 1 (the one killed): $(grep -E 'died|terminated' "$NSD_DIR/nsd.log" | head -4 | tr '\n' ' ')"
	if grep -qE 'reuseport-shim|Sanitizer|runtime error' "$TDIR/$NSD_NAME.err"; then
		fail "$mode: on nsd's stderr: $(grep -E 'reuseport-shim|Sanitizer|runtime error' "$TDIR/$NSD_NAME.err" | head -3 | tr '\n' ' ')"
	fi
}

t_dns_nsd() {
	local k
	need_python
	NSD=$(command -v nsd 2>/dev/null)
	[ -z "$NSD" ] && [ -x /usr/sbin/nsd ] && NSD=/usr/sbin/nsd
	[ -n "$NSD" ] || skip "nsd is not installed (apt-get install nsd)"
	PATH=$PATH:${NSD%/nsd}
	command -v nsd-control >/dev/null && command -v nsd-checkconf >/dev/null ||
	    skip "nsd-control or nsd-checkconf missing beside $NSD"
	trap nsd_cleanup EXIT

	nsd_run native || return
	nsd_run shim || { nsd_cleanup; return; }
	k=$(cat "$TDIR/shim.kernel")
	[ "$k" = "udp 1 tcp 1" ] ||
	    fail "shim: $k on the port, want one UDP socket and one listener (the owners'); natively $(cat "$TDIR/native.kernel")"
	poll_until "$GONE_MS" no_new_owners ||
	    fail "owner left after nsd stopped: $(describe_owners $(new_owners))"
	if ! diff -u "$TDIR/native.sum" "$TDIR/shim.sum" >"$TDIR/sum.diff"; then
		fail "native and shim differ: $(tail -n +3 "$TDIR/sum.diff" | grep '^[-+]' | tr '\n' ' ')"
	fi
	note "the kernel's sockets on the port: native $(cat "$TDIR/native.kernel"); shim $k"
}
