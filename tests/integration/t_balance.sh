# Connections spread over the workers of the example servers.  Under the
# shim the policy is round-robin, so every worker gets its exact share.

LOAD_N=4000
LOAD_C=8

t_prefork4() {
	start_server pf "${SHIM[@]}" "$BUILD/examples/prefork" -n 4 || return
	server_up pf 4 || return
	run_load shim 127.0.0.1 "$PORT" "$LOAD_N" "$LOAD_C"
	note "shim:   $(load_counts shim)"
	check_balance shim 4 "$LOAD_N"
	stop_server pf 0

	# The kernel's SO_REUSEPORT: a hash of each connection's addresses,
	# not a rotation, so no exact shares; but what the kernel is known
	# to do holds however loaded the machine: every connection answered,
	# by the 4 workers that said ready, each with a fair part (4000
	# hashed over 4 gives each about 1000, a standard deviation of 27:
	# a tenth of its share is 33 of those below).  A harness or example
	# that lost a worker, or counted another run's, fails here.
	READY=()
	start_server pfn "$BUILD/examples/prefork" -n 4 || return
	server_up pfn 4 || return
	run_load native 127.0.0.1 "$PORT" "$LOAD_N" "$LOAD_C"
	note "native: $(load_counts native)"
	check_spread native 4 "$LOAD_N"
	stop_server pfn 0
}

# check_spread TAG N TOTAL: all answered, by exactly N pids, all of them
# in READY, each with at least a tenth of TOTAL/N (a hash's spread: see
# t_prefork4).
check_spread() {
	local tag=$1 n=$2 total=$3 pids=0 pid count lo
	check_answered "$tag" "$total" || return 1
	lo=$((total / (n * 10)))
	while read -r _ pid count; do
		pids=$((pids + 1))
		case " ${READY[*]} " in
		*" $pid "*) ;;
		*) fail "$tag: pid $pid answered but is not one of the ready workers (${READY[*]})" ;;
		esac
		[ "$count" -ge "$lo" ] ||
		    fail "$tag: pid $pid got $count connections, want at least $lo"
	done < <(awk '$1 == "pid"' "$TDIR/$tag.load")
	[ "$pids" -eq "$n" ] ||
	    fail "$tag: $pids pids answered, want $n ($(load_counts "$tag"))"
}

# separate_evloops TAG [-e]: four evloop processes on one port.
separate_evloops() {
	local i
	start_server ev1 "${SHIM[@]}" "$BUILD/examples/evloop" -p 0 "$@" || return
	server_up ev1 1 || return
	for i in 2 3 4; do
		start_server "ev$i" "${SHIM[@]}" "$BUILD/examples/evloop" -p "$PORT" "$@" || return
		server_up "ev$i" 1 || return
	done
	run_load shim 127.0.0.1 "$PORT" "$LOAD_N" "$LOAD_C"
	note "shim: $(load_counts shim)"
	check_balance shim 4 "$LOAD_N"
	for i in 1 2 3 4; do
		stop_server "ev$i" 0
	done
}

t_separate4() { separate_evloops; }

t_epoll4() { separate_evloops -e; }

# REUSEPORT_SHIM_POLICY=shared: four evloop processes accept from the
# group's one listener themselves, no owner in between; the kernel's
# wakeups choose, so no exact shares, but every connection is answered
# by the ready workers, stat says the group is shared, and a member that
# dies loses none of the queue (it is everyone's).
t_shared4() {
	local i line port=0
	for i in 1 2 3 4; do
		start_server "sh$i" "${SHIM[@]}" REUSEPORT_SHIM_POLICY=shared \
		    "$BUILD/examples/evloop" -p "$port" || return
		server_up "sh$i" 1 || return
		port=$PORT
	done
	line=$("$BUILD/reuseport-shim" stat --dir "$SHIMDIR" 2>&1 | head -1)
	case $line in
	*"policy shared"*"members read the socket directly"*) ;;
	*) fail "stat does not say the group is shared: $line" ;;
	esac
	run_load shim 127.0.0.1 "$PORT" "$LOAD_N" "$LOAD_C"
	note "shim: $(load_counts shim)"
	check_answered shim "$LOAD_N"
	stop_server sh1 0
	run_load after 127.0.0.1 "$PORT" 400 "$LOAD_C"
	check_answered after 400
	for i in 2 3 4; do
		stop_server "sh$i" 0
	done
}

# A shared group's owner is no single point of failure either: kill -9
# it, its standby takes over (stat says so), a new member still joins,
# and every connection is answered.
t_shared_standby() {
	local owner i port=0
	for i in 1 2; do
		start_server "ss$i" "${SHIM[@]}" REUSEPORT_SHIM_POLICY=shared \
		    "$BUILD/examples/evloop" -p "$port" || return
		server_up "ss$i" 1 || return
		port=$PORT
	done
	poll_until 3000 shared_has_standby ||
	    { fail "no standby: $(stat_line)"; return; }
	owner=$(the_owners)
	kill -KILL "$owner"
	poll_until 5000 shared_taken_over ||
	    { fail "no takeover after the owner ($owner) was killed: $(stat_line)"; return; }
	start_server ss3 "${SHIM[@]}" REUSEPORT_SHIM_POLICY=shared \
	    "$BUILD/examples/evloop" -p "$port" || return
	server_up ss3 1 || return
	run_load after 127.0.0.1 "$PORT" 400 "$LOAD_C"
	check_answered after 400
	for i in 1 2 3; do
		stop_server "ss$i" 0
	done
}
shared_has_standby() { stat_line | grep -q 'standby pid [0-9]'; }
shared_taken_over() { stat_line | grep -q 'takeovers 1' && shared_has_standby; }

# The shared way, one member at a time: what it set before bind reaches
# its accepted connections (from the group's listener), and its
# shutdown() stops its own listening, not the others'.
t_shared_member() {
	local out
	need_python
	cat >"$TDIR/shared.py" <<'PY'
import socket, subprocess, sys, time
def mk(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s
if len(sys.argv) > 1 and sys.argv[1] == "b":
    s = mk(int(sys.argv[2]))
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        c.send(b"b")
        c.close()
a = mk(0)
port = a.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port), timeout=5)
x, _ = a.accept()
print("accepted KEEPALIVE", x.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
      "NODELAY", x.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
x.close()
c.close()
b = subprocess.Popen([sys.executable, sys.argv[0], "b", str(port)],
                     stdout=subprocess.PIPE, text=True)
try:
    assert b.stdout.readline().strip() == "ready"
    a.shutdown(socket.SHUT_RDWR)
    try:
        a.accept()
        print("a accept: accepted")
    except OSError as e:
        print("a accept:", e.errno)
    a.close()
    got = ""
    for i in range(5):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        got += c.recv(1).decode()
        c.close()
    print("after a's shutdown:", got)
finally:
    b.kill()
    b.wait()
PY
	out=$("$PYTHON" "$TDIR/shared.py" 2>&1)
	note "native: $(echo "$out" | tr '\n' '|')"
	[ "$out" = "$(printf 'accepted KEEPALIVE 1 NODELAY 1\na accept: 22\nafter a'"'"'s shutdown: bbbbb')" ] ||
	    { fail "natively: $out"; return; }
	out=$("${SHIM[@]}" REUSEPORT_SHIM_POLICY=shared "$PYTHON" "$TDIR/shared.py" 2>&1)
	note "shared: $(echo "$out" | tr '\n' '|')"
	[ "$out" = "$(printf 'accepted KEEPALIVE 1 NODELAY 1\na accept: 22\nafter a'"'"'s shutdown: bbbbb')" ] ||
	    fail "under the shim, REUSEPORT_SHIM_POLICY=shared: $out"
}

# leastloaded: a member busy with a request (nothing queued to it, but
# not waiting) gets no connection while another waits in accept()
# (least.py says how; the owner learns who waits from the ack board).
t_least_stalled() {
	local out

	out=$("${SHIM[@]}" REUSEPORT_SHIM_POLICY=leastloaded \
	    "$PYTHON" "$TI_HERE/least.py" 2>&1)
	note "$out"
	case $out in
	SKIP:*) skip "${out#SKIP: }" ;;
	"served 8 of 8, stuck listener: empty") ;;
	*) fail "leastloaded: $out" ;;
	esac
}

t_bindfork4() {
	start_server bf "${SHIM[@]}" "$BUILD/examples/bindfork" -n 4 || return
	server_up bf 4 || return
	run_load shim 127.0.0.1 "$PORT" "$LOAD_N" "$LOAD_C"
	note "shim: $(load_counts shim)"
	check_balance shim 4 "$LOAD_N"
	stop_server bf 0
}

have_ipv6_loopback() {
	if [ -n "$PYTHON" ]; then
		"$PYTHON" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null
	else
		grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null
	fi
}

t_ipv6() {
	have_ipv6_loopback || skip "no IPv6 loopback (::1)"
	start_server pf6 "${SHIM[@]}" "$BUILD/examples/prefork" -a ::1 -n 2 || return
	server_up pf6 2 || return
	run_load shim ::1 "$PORT" 1000 "$LOAD_C"
	note "shim: $(load_counts shim)"
	check_balance shim 2 1000
	stop_server pf6 0
}

# member_busy: "PID BUSY_US" per member of the group on $PORT, from
# reuseport-shim stat (BUSY_US 0: not measured).
member_busy() {
	REUSEPORT_SHIM_DIR=$SHIMDIR "$BUILD/reuseport-shim" stat 2>&1 |
	    awk -v port="$PORT" '
		/^tcp / { ours = $2 ~ (":" port "$") }
		ours && $1 == "pid" {
			busy = 0
			for (i = 3; i < NF; i++)
				if ($i == "busy") busy = $(i + 1) + 0
			print $2, busy
		}'
}

# spread PIDS_COUNTS...: the largest count minus the smallest.
spread() {
	printf '%s\n' "$@" | awk -F: 'NR == 1 || $2 > hi { hi = $2 }
		NR == 1 || $2 < lo { lo = $2 } END { print hi - lo }'
}

# check_busy MIN [MAX]: the 4 members of the group on $PORT all have a
# measured time per connection of at least MIN us, and below MAX us if
# given.
check_busy() {
	local n=0 pid busy
	while read -r pid busy; do
		n=$((n + 1))
		[ "$busy" -ge "$1" ] ||
		    fail "stat says pid $pid takes ${busy}us per connection, want >= $1"
		[ -z "${2:-}" ] || [ "$busy" -lt "$2" ] ||
		    fail "stat says pid $pid takes ${busy}us per connection, want < $2"
	done < <(member_busy)
	[ "$n" -eq 4 ] || fail "stat shows $n members on port $PORT, want 4"
}

# What a slow worker (t_slow_rotates: 20 ms per connection) measures at
# least.
SLOW_US=20000

# Workers that take 20 ms per connection: once measured, round-robin
# stays one at a time for them (a run would queue connections behind a
# busy worker) even when connections come all at once, which is when
# runs are made: 80 clients at once get exactly 20 each.
t_slow_rotates() {
	local pid count
	start_server pfs "${SHIM[@]}" "$BUILD/examples/prefork" -n 4 -d 20 || return
	server_up pfs 4 || return
	run_load warm 127.0.0.1 "$PORT" 12 4
	check_answered warm 12 || return
	check_busy "$SLOW_US"
	failed && return
	run_load shim 127.0.0.1 "$PORT" 80 80
	note "shim: $(load_counts shim)"
	check_answered shim 80 || return
	while read -r _ pid count; do
		[ "$count" -eq 20 ] ||
		    fail "pid $pid got $count of 80 connections, want exactly 20 ($(load_counts shim))"
	done < <(awk '$1 == "pid"' "$TDIR/shim.load")
	stop_server pfs 0
}

# Fast workers under load: every member has a measured time per
# connection, and whatever runs were made, the counts stay within one
# run (16) of each other.  Measured means not 0 (stat's "not measured",
# which leaves a member to strict rotation); and below what the slow
# workers of t_slow_rotates measure at least (20 ms), so stat tells the
# two apart: prefork's reply is a write and a close, tens of us, and
# 20 ms is a moving average over about 8 connections (ackmem.c), which a
# preemption now and then on a loaded machine does not reach.  A member
# that never measures fails it, and so does a gross error in the measure
# (thousands of times too much: the bound is wide, to stay robust).
t_fast_measured() {
	local d
	start_server pff "${SHIM[@]}" "$BUILD/examples/prefork" -n 4 || return
	server_up pff 4 || return
	run_load shim 127.0.0.1 "$PORT" "$LOAD_N" "$LOAD_C"
	note "shim: $(load_counts shim); stat: $(member_busy | tr '\n' ' ')"
	check_balance shim 4 "$LOAD_N"
	d=$(spread $(load_counts shim))
	[ "$d" -le 16 ] ||
	    fail "counts $(load_counts shim) differ by $d, more than one run (16)"
	check_busy 1 "$SLOW_US"
	stop_server pff 0
}
