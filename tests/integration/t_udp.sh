# UDP groups: a UDP socket with SO_REUSEPORT (or a udp: rule of
# REUSEPORT_SHIM_PORTS) is a member; the group's owner holds the one real
# socket.  The oracle: each scenario of udp.py prints the same bytes
# natively (the kernel's SO_REUSEPORT) and under the shim with
# REUSEPORT_SHIM_UDP=hash, in both families.  Then what the kernel has
# no counterpart for: the shared, roundrobin and srcip ways, forced
# ports, members in several processes, a member killed, and nothing left
# behind.  Clients (udp.py _client) never run under the shim.

UDP_PY=$TI_HERE/udp.py
# The interface: options, names, every receive and send call, truncation,
# MSG_PEEK, MSG_DONTWAIT, empty datagrams, IP_PKTINFO, readiness, who may
# bind, the hash's flow affinity, members leaving, dup, fork, shutdown,
# FIONREAD, the receive reports (TOS/class, TTL/hops, timestamps), a
# member's own send options (TOS/class, TTL/hops, UDP_SEGMENT),
# recvmmsg's timeout, long vectors, a dual-stack member's IPv4 options,
# the reports asked for before bind.
UDP_SCENARIOS="opts name recv trunc peek dontwait zero pktinfo poll send
inuse proto affinity leave dup fork shutdown fionread cmsgs sendopts
mmsgtime iovs dualopts cmsgspre"
# Beyond it, one test each (t_udp_x_*), of departures the README lists,
# not run by the suite: UDP_GRO, a member across exec.

# udp_kernel_sockets PORT: how many UDP sockets the kernel has bound to
# PORT (distinct inodes in /proc/net/udp and udp6).
udp_kernel_sockets() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/udp /proc/net/udp6 2>/dev/null |
	    awk -v h=":$hex" 'substr($2, length($2) - 4) == h { s[$10] = 1 }
		END { n = 0; for (i in s) n++; print n }'
}

# udp_takes_groups [-6] [VAR=VAL...]: two members of one process under the
# shim must leave the kernel one socket on the port (the owner's), where
# natively it has two; else the shim does not take UDP groups and every
# comparison with the kernel would pass for nothing.
udp_takes_groups() {
	local fam="" got
	[ "${1:-}" = -6 ] && { fam=-6; shift; }
	got=$("${SHIM[@]}" "$@" "$PYTHON" "$UDP_PY" $fam _count 2 2>"$TDIR/count.err" |
	    awk '$1 == "kernel_sockets" { print $2 }')
	if [ "$got" != 1 ]; then
		fail "two UDP members under the shim ($*${fam:+ $fam}): the kernel has ${got:-?} sockets on the port, want 1 (the owner's): UDP not emulated$(head -2 "$TDIR/count.err" | tr '\n' ' ')"
		return 1
	fi
}

# udp_oracle FAM [SCENARIO...]: the scenarios (default: UDP_SCENARIOS)
# natively twice (a probe that is not deterministic proves nothing), then
# under the shim (hash); one process each, compared scenario by scenario.
udp_oracle() {
	local fam=$1 tag sc rn rs
	shift
	need_python
	[ -n "$fam" ] && ! have_ipv6_loopback && skip "no IPv6 loopback (::1)"
	udp_takes_groups $fam REUSEPORT_SHIM_UDP=hash || return
	set -- ${*:-$UDP_SCENARIOS}
	tag=udp$fam
	"$PYTHON" "$UDP_PY" $fam "$@" >"$TDIR/$tag.native" 2>"$TDIR/$tag.native.err"
	rn=$?
	"$PYTHON" "$UDP_PY" $fam "$@" >"$TDIR/$tag.native2" 2>&1
	"${SHIM[@]}" REUSEPORT_SHIM_UDP=hash "$PYTHON" "$UDP_PY" $fam "$@" \
	    >"$TDIR/$tag.shim" 2>"$TDIR/$tag.shim.err"
	rs=$?
	if [ "$rn" != 0 ]; then
		fail "$tag: exit $rn natively, the probe could not set up ($(head -2 "$TDIR/$tag.native.err" | tr '\n' ' '))"
		return
	fi
	if ! cmp -s "$TDIR/$tag.native" "$TDIR/$tag.native2"; then
		fail "$tag: two native runs differ"
		diff "$TDIR/$tag.native" "$TDIR/$tag.native2" | head -10
		return
	fi
	for sc in "$@"; do
		grep "^$sc\." "$TDIR/$tag.native" >"$TDIR/$tag.$sc.native"
		grep "^$sc\." "$TDIR/$tag.shim" >"$TDIR/$tag.$sc.shim"
		if ! cmp -s "$TDIR/$tag.$sc.native" "$TDIR/$tag.$sc.shim"; then
			fail "udp-$sc$fam: output under the shim differs from the kernel's"
			echo "--- udp-$sc$fam: native (-) vs shim (+)"
			diff -u "$TDIR/$tag.$sc.native" "$TDIR/$tag.$sc.shim" |
			    sed 1,2d | grep -v '^ ' | head -30
		else
			note "udp-$sc$fam: $(wc -l <"$TDIR/$tag.$sc.native" | tr -d ' ') lines identical"
		fi
	done
	if [ -s "$TDIR/$tag.shim.err" ] && failed; then
		echo "shim stderr:"
		head -5 "$TDIR/$tag.shim.err"
	fi
	[ "$rs" = "$rn" ] || failed ||
	    fail "$tag: exit $rs under the shim, $rn natively"
}

t_udp_oracle4() { udp_oracle ""; }
t_udp_oracle6() { udp_oracle -6; }

udp_oracle46() {
	udp_oracle "" "$1"
	failed && return
	have_ipv6_loopback && udp_oracle -6 "$1"
}
t_udp_x_gro() { udp_oracle46 gro; }
t_udp_x_exec() { udp_oracle46 exec; }

# ---------------------------------------------------------------- servers

# udp_serve NAME PROCS [VAR=VAL...] [-- SERVE-ARGS...]: udp.py _serve
# under the shim with PROCS processes; PORT and READY are set.
udp_serve() {
	local name=$1 procs=$2 env=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		env+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	start_server "$name" "${SHIM[@]}" "${env[@]}" "$PYTHON" "$UDP_PY" \
	    ${UDP_FAM:-} _serve -n "$procs" "$@" || return 1
	server_up "$name" "$procs"
}

# udp_client TAG PORT ARGS...: the client, natively, into $TDIR/TAG.client.
udp_client() {
	local tag=$1
	shift
	timeout 20 "$PYTHON" "$UDP_PY" ${UDP_FAM:-} _client "$@" \
	    >"$TDIR/$tag.client" 2>"$TDIR/$tag.clienterr"
	UC_RC=$?
}

uc_get() { awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$TDIR/$1.client"; }
uc_pids() { awk '$1 == "pid" { print $2 }' "$TDIR/$1.client"; }
uc_counts() { awk '$1 == "pid" { printf "%s%s:%s", s, $2, $3; s = " " }' "$TDIR/$1.client"; }

# udp_check TAG N: every one of N datagrams answered exactly once, the
# answer right and from the group's port, only by READY processes.
udp_check() {
	local tag=$1 n=$2 a pid
	a=$(uc_get "$tag" answered)
	if [ "$UC_RC" != 0 ] || [ "$a" != "$n of $n" ]; then
		fail "$tag: answered ${a:-?} (want $n of $n; client exit $UC_RC; $(head -3 "$TDIR/$tag.clienterr" | tr '\n' ' '))"
		return 1
	fi
	[ "$(uc_get "$tag" dups)" = 0 ] ||
	    fail "$tag: $(uc_get "$tag" dups) datagrams answered twice"
	[ "$(uc_get "$tag" wrong)" = 0 ] ||
	    fail "$tag: $(uc_get "$tag" wrong) wrong answers"
	[ "$(uc_get "$tag" from_group_port)" = yes ] ||
	    fail "$tag: answers from another port than the group's"
	for pid in $(uc_pids "$tag"); do
		case " ${READY[*]} " in
		*" $pid "*) ;;
		*) fail "$tag: pid $pid answered, not one of the members (${READY[*]})" ;;
		esac
	done
	failed && return 1
	note "$tag: $n answered ($(uc_counts "$tag"))"
}

# udp_all_answered TAG PID...: each PID answered at least once.
udp_all_answered() {
	local tag=$1 pid
	shift
	for pid in "$@"; do
		uc_pids "$tag" | grep -qx "$pid" ||
		    fail "$tag: member pid $pid answered none ($(uc_counts "$tag"))"
	done
}

udp_kernel_one() {
	local n
	n=$(udp_kernel_sockets "$PORT")
	[ "$n" = 1 ] ||
	    fail "$1: the kernel has $n UDP sockets on the port, want 1 (the owner's)"
}

# ---------------------------------------------------------------- tests

# The shim takes UDP groups, in each way and family; natively the kernel
# has one socket per member (the probe itself is sound).
t_udp_emulated() {
	local way n
	need_python
	n=$("$PYTHON" "$UDP_PY" _count 3 | awk '$1 == "kernel_sockets" { print $2 }')
	[ "$n" = 3 ] || { fail "natively, 3 members give ${n:-?} kernel sockets, want 3"; return; }
	for way in hash srcip roundrobin shared; do
		udp_takes_groups "REUSEPORT_SHIM_UDP=$way"
		have_ipv6_loopback && udp_takes_groups -6 "REUSEPORT_SHIM_UDP=$way"
	done
}

# shared: every member's fd is the one real socket; whoever reads first
# gets the datagram: each answered exactly once.
t_udp_shared() {
	need_python
	READY=()
	udp_serve sh 4 REUSEPORT_SHIM_UDP=shared || return
	udp_kernel_one shared
	udp_client shared "$PORT" -n 400 -c 40 -w 8
	udp_check shared 400
	stop_server sh 0
}

# roundrobin: exact rotation, one datagram at a time (the order), and
# with 8 in flight from 20 clients (the counts).
t_udp_roundrobin() {
	local want="" i pid c
	need_python
	READY=()
	udp_serve rr 4 REUSEPORT_SHIM_UDP=roundrobin || return
	udp_kernel_one roundrobin
	udp_client seq "$PORT" -n 40 -c 2 -w 1 --seq
	udp_check seq 40 || return
	for ((i = 0; i < 10; i++)); do want="$want m0 m1 m2 m3"; done
	[ "$(uc_get seq seq)" = "${want# }" ] ||
	    fail "roundrobin: answered in the order '$(uc_get seq seq)', want '${want# }'"
	udp_client many "$PORT" -n 200 -c 20 -w 8
	udp_check many 200 || return
	while read -r _ pid c; do
		[ "$c" = 50 ] || fail "roundrobin: pid $pid answered $c of 200, want 50 ($(uc_counts many))"
	done < <(awk '$1 == "pid"' "$TDIR/many.client")
	[ "$(uc_pids many | wc -l)" = 4 ] ||
	    fail "roundrobin: $(uc_pids many | wc -l) members answered, want 4 ($(uc_counts many))"
	stop_server rr 0
}

# hash (the default): each client's datagrams to one member, and the
# clients spread over the 4 processes.
t_udp_hash() {
	local n
	need_python
	READY=()
	udp_serve hs 4 || return
	udp_kernel_one hash
	udp_client hash "$PORT" -n 256 -c 64 -w 8
	udp_check hash 256 || return
	[ "$(uc_get hash affinity)" = ok ] ||
	    fail "hash: a client's datagrams went to more than one member ($(uc_get hash affinity))"
	n=$(uc_pids hash | wc -l)
	[ "$n" -ge 2 ] || fail "hash: 64 clients all went to $n member(s) of 4"
	stop_server hs 0
}

# srcip: one member per client address, whatever its ports.
t_udp_srcip() {
	local src="" i
	need_python
	for ((i = 1; i <= 8; i++)); do src="$src,127.0.0.$i"; done
	"$PYTHON" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("127.0.0.8", 0))' 2>/dev/null ||
	    skip "cannot bind 127.0.0.8 (no 127/8 loopback)"
	READY=()
	udp_serve si 4 REUSEPORT_SHIM_UDP=srcip || return
	udp_kernel_one srcip
	udp_client srcip "$PORT" -n 128 -c 32 -w 8 --src "${src#,}"
	udp_check srcip 128 || return
	[ "$(uc_get srcip members_per_source)" = "1 1 1 1 1 1 1 1" ] ||
	    fail "srcip: members per source address '$(uc_get srcip members_per_source)', want 1 each"
	[ "$(uc_pids srcip | wc -l)" -ge 2 ] ||
	    fail "srcip: 8 addresses all went to one member"
	stop_server si 0
}

# Several processes each bind the port (each a server of its own): each
# answers, and the kernel holds one socket.
t_udp_separate() {
	local p1
	need_python
	READY=()
	udp_serve s1 1 || return
	p1=$PORT
	udp_serve s2 1 -- -p "$p1" || return
	udp_serve s3 1 -- -p "$p1" || return
	PORT=$p1
	udp_kernel_one separate
	udp_client sep "$PORT" -n 192 -c 64 -w 8
	udp_check sep 192 || return
	udp_all_answered sep "${READY[@]}"
	stop_server s2 0
	udp_client sep2 "$PORT" -n 64 -c 32 -w 8
	READY=("${READY[0]}" "${READY[2]}")
	udp_check sep2 64
	stop_server s1 0
	stop_server s3 0
}

# A member's process is killed: the others answer everything sent after.
t_udp_killed() {
	local dead
	need_python
	READY=()
	udp_serve k1 1 || return
	udp_serve k2 1 -- -p "$PORT" || return
	udp_serve k3 1 -- -p "$PORT" || return
	udp_kernel_one killed
	udp_client before "$PORT" -n 96 -c 48 -w 8
	udp_check before 96 || return
	udp_all_answered before "${READY[@]}"
	dead=${SRV_PID[k2]}
	disown "$dead" 2>/dev/null
	kill -KILL -- "-$dead"
	poll_until "$GONE_MS" group_gone "$dead" ||
	    { fail "k2 outlived kill -9"; return; }
	exec {SRV_FD[k2]}<&-
	READY=("${READY[0]}" "${READY[2]}")
	udp_client after "$PORT" -n 96 -c 48 -w 8
	udp_check after 96 || return
	udp_all_answered after "${READY[@]}"
	stop_server k1 0
	stop_server k3 0
}

# The owner is no single point of failure here either: kill -9 it and
# its standby takes over with the members and their queues; every
# datagram after is answered, by the same members, stat says so, and
# there is a standby again.
udp_has_standby() { stat_line | grep -q 'standby pid [0-9]'; }
udp_taken_over() { stat_line | grep -q 'takeovers 1' && udp_has_standby; }

t_udp_standby() {
	local owner
	need_python
	READY=()
	udp_serve s1 1 || return
	udp_serve s2 1 -- -p "$PORT" || return
	poll_until 3000 udp_has_standby ||
	    { fail "no standby: $(stat_line)"; return; }
	owner=$(the_owners)
	udp_client before "$PORT" -n 64 -c 16 -w 4
	udp_check before 64 || return
	kill -KILL "$owner"
	poll_until 5000 udp_taken_over ||
	    { fail "no takeover after the owner ($owner) was killed: $(stat_line)"; return; }
	udp_client after "$PORT" -n 64 -c 16 -w 4
	udp_check after 64 || return
	udp_all_answered after "${READY[@]}"
	stop_server s1 0
	stop_server s2 0
}

# A dispatched member survives fork and exec (nginx's binary upgrade of
# its QUIC listeners): the new program receives on it, from the group,
# and answers from the group's port; natively and under the shim alike.
# (Python's subprocess execs from a vfork child, which carries nothing:
# udp.py's exec scenario, a known gap.)
t_udp_exec() {
	local n s
	need_python
	cat >"$TDIR/exec.py" <<'PY'
import os, select, socket, sys
if len(sys.argv) > 1:
    fd, port = int(sys.argv[1]), int(sys.argv[2])
    s = socket.socket(fileno=fd)
    print("child:", s.type == socket.SOCK_DGRAM, s.family == socket.AF_INET,
          s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT),
          s.getsockname()[1] == port)
    if select.select([s], [], [], 5)[0]:
        d, anc, _, a = s.recvmsg(100, 256)
        s.sendto(b"exec:" + d, a)
        print("child got", d.decode(), "pktinfo",
              [(l, t) for l, t, _ in anc] == [(socket.IPPROTO_IP, 8)])
    # A report the new program asks for comes with what arrives after
    # (the owner's socket gives it only while a member asks: told).
    s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
        b"after", ("127.0.0.1", port))
    if select.select([s], [], [], 5)[0]:
        d, anc, _, a = s.recvmsg(100, 256)
        print("child got", d.decode(), "tos",
              (socket.IPPROTO_IP, socket.IP_TOS) in
              [(l, t) for l, t, _ in anc])
    sys.exit(0)
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind(("127.0.0.1", 0))
# IP_PKTINFO (8), asked before the exec: illumos cannot read it back, so
# the shim carries it (REUSEPORT_SHIM_PKT4; the like-illumos build too).
a.setsockopt(socket.IPPROTO_IP, 8, 1)
port = a.getsockname()[1]
os.set_inheritable(a.fileno(), True)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.sendto(b"before", ("127.0.0.1", port))
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, sys.argv[0], str(a.fileno()),
                              str(port)])
os.waitpid(pid, 0)
c.settimeout(5)
d, src = c.recvfrom(100)
print("client got", d.decode(), src[1] == port)
PY
	n=$("$PYTHON" "$TDIR/exec.py" 2>&1)
	s=$("${SHIM[@]}" "$PYTHON" "$TDIR/exec.py" 2>&1)
	note "native: $(echo "$n" | tr '\n' '|')"
	[ "$n" = "$(printf 'child: True True 1 True\nchild got before pktinfo True\nchild got after tos True\nclient got exec:before True')" ] ||
	    { fail "natively: $n"; return; }
	[ "$s" = "$n" ] || fail "under the shim: $(echo "$s" | tr '\n' '|')"
}

# REUSEPORT_SHIM_PORTS with udp: rules, for programs that never set the
# option (--plain); TCP's rules (a bare port, tcp:) do not cover UDP.
udp_plain_bind() {
	local got
	got=$(timeout 5 "${SHIM[@]}" "$@" "$PYTHON" "$UDP_PY" ${UDP_FAM:-} \
	    _serve --plain -p "$PORT" 2>&1 | head -1)
	echo "${got:-no output}"
}

t_udp_forced() {
	local got rule p
	need_python
	READY=()
	udp_serve a 1 || return
	p=$PORT
	for rule in "$p" "tcp:$p" "udp:127.0.0.2:$p"; do
		got=$(udp_plain_bind "REUSEPORT_SHIM_PORTS=$rule")
		[ "$got" = "bind EADDRINUSE" ] ||
		    fail "forced: a plain bind with rule '$rule' gave '$got', want EADDRINUSE"
	done
	got=$(udp_plain_bind)
	[ "$got" = "bind EADDRINUSE" ] ||
	    fail "forced: a plain bind with no rule gave '$got', want EADDRINUSE"
	udp_serve b 1 "REUSEPORT_SHIM_PORTS=udp:127.0.0.1:$p" -- --plain -p "$p" || return
	udp_serve c 1 "REUSEPORT_SHIM_PORTS=8080,udp:$p" -- --plain -p "$p" || return
	udp_client joined "$p" -n 192 -c 64 -w 8
	udp_check joined 192 || return
	udp_all_answered joined "${READY[@]}"
	stop_server a 0
	stop_server b 0
	stop_server c 0
	poll_until "$GONE_MS" nothing_left ||
	    { fail "forced: the group outlived its members"; return; }
	# The first binder forced, on the port the kernel gave above.
	READY=()
	udp_serve d 1 "REUSEPORT_SHIM_PORTS=udp:$p" -- --plain -p "$p" || return
	udp_serve e 1 "REUSEPORT_SHIM_PORTS=udp:$p" -- --plain -p "$p" || return
	udp_kernel_one forced-first
	udp_client first "$p" -n 128 -c 64 -w 8
	udp_check first 128 || return
	udp_all_answered first "${READY[@]}"
	stop_server d 0
	stop_server e 0
	# IPv6: udp:[::1]:PORT.
	have_ipv6_loopback || { note "no IPv6 loopback: IPv4 only"; return; }
	UDP_FAM=-6
	READY=()
	udp_serve a6 1 || return
	p=$PORT
	udp_serve b6 1 "REUSEPORT_SHIM_PORTS=udp:[::1]:$p" -- --plain -p "$p" || return
	udp_client joined6 "$p" -n 128 -c 64 -w 8
	udp_check joined6 128 || return
	udp_all_answered joined6 "${READY[@]}"
	stop_server a6 0
	stop_server b6 0
}

# connect() on a member: EOPNOTSUPP (a documented departure: a member
# does not become a connected socket of its own), and the member goes on
# receiving.
PY_UDP_CONNECT='
import errno, socket, sys
fam, host = socket.AF_INET, "127.0.0.1"
if sys.argv[1:] == ["-6"]:
    fam, host = socket.AF_INET6, "::1"
a = socket.socket(fam, socket.SOCK_DGRAM)
a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind((host, 0))
c = socket.socket(fam, socket.SOCK_DGRAM)
c.bind((host, 0))
try:
    a.connect(c.getsockname())
    r = "ok"
except OSError as e:
    r = errno.errorcode.get(e.errno, str(e.errno))
print("connect", {"ENOTSUP": "EOPNOTSUPP"}.get(r, r))
c.sendto(b"still", a.getsockname())
a.settimeout(5)
print("recv", a.recv(16).decode())
'

t_udp_connect() {
	local got fam
	need_python
	for fam in "" -6; do
		[ -n "$fam" ] && ! have_ipv6_loopback && continue
		got=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_UDP_CONNECT" $fam 2>&1 | tr '\n' ' ')
		[ "$got" = "connect EOPNOTSUPP recv still " ] ||
		    fail "connect on a member$fam: '$got', want 'connect EOPNOTSUPP recv still'"
	done
}

# REUSEPORT_SHIM_UDP=bogus: one error line naming the ways, EINVAL.
t_udp_bad_way() {
	need_python
	bad_value REUSEPORT_SHIM_UDP hash srcip roundrobin shared
}

# A UDP group holds 256 members, as the illumos patch's: one more is
# refused at once, though every slot is taken (the owner reads its HELLO
# all the same, and says why), and a status client of the full group is
# still answered, and a stop obeyed.
t_udp_full() {
	local hard
	need_python
	# 256 members keep 4 fds each here, the owner 2 each and its reserve.
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || [ "$hard" -ge 2048 ] ||
	    skip "hard fd limit $hard: 256 members need about 1100 fds"
	"${SHIM[@]}" REUSEPORT_SHIM_UDP=hash "$PYTHON" "$UDP_PY" _full 256 \
	    "$BUILD/reuseport-shim" "$SHIMDIR" >"$TDIR/full.out" \
	    2>"$TDIR/full.err"
	grep -qx "extra.bind EADDRINUSE" "$TDIR/full.out" ||
	    fail "the 257th member's bind: $(grep extra "$TDIR/full.out"), want EADDRINUSE"
	grep -q "group full (256 members): refusing pid" "$TDIR/full.err" ||
	    fail "the owner did not refuse the 257th member: $(grep -v joined "$TDIR/full.err" | tail -2 | tr '\n' ' ')"
	grep -qx "stat 0 members 256" "$TDIR/full.out" ||
	    fail "stat of the full group: $(grep '^stat ' "$TDIR/full.out"), want 256 members"
	grep -q "^stop 0 " "$TDIR/full.out" &&
	    grep -qx "stat_after_stop [0-9]* members 0" "$TDIR/full.out" ||
	    fail "stop of the full group: $(grep '^stop\|^stat_after' "$TDIR/full.out" | tr '\n' ' ')"
}

# The owner goes, and its rendezvous socket with it, once the last member
# is gone: a clean exit and a kill -9 (leftover_round: t_leftovers.sh).
t_udp_leftovers() {
	need_python
	leftover_round udpclean stop "$PYTHON" "$UDP_PY" _serve -n 2
	failed && return
	leftover_round udpkilled kill "$PYTHON" "$UDP_PY" _serve -n 2
	failed && return
	leftover_round udpshared stop env REUSEPORT_SHIM_UDP=shared \
	    "$PYTHON" "$UDP_PY" _serve -n 2
}
