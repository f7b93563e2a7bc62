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

	# The kernel's SO_REUSEPORT (a hash), for comparison only.
	READY=()
	start_server pfn "$BUILD/examples/prefork" -n 4 || return
	server_up pfn 4 || return
	run_load native 127.0.0.1 "$PORT" "$LOAD_N" "$LOAD_C"
	note "native: $(load_counts native)"
	check_answered native "$LOAD_N"
	stop_server pfn 0
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

# check_busy MIN: the 4 members of the group on $PORT all have a measured
# time per connection of at least MIN us (a lower bound: never flaky).
check_busy() {
	local n=0 pid busy
	while read -r pid busy; do
		n=$((n + 1))
		[ "$busy" -ge "$1" ] ||
		    fail "stat says pid $pid takes ${busy}us per connection, want >= $1"
	done < <(member_busy)
	[ "$n" -eq 4 ] || fail "stat shows $n members on port $PORT, want 4"
}

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
	check_busy 20000
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
# run (16) of each other.
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
	check_busy 1
	stop_server pff 0
}
