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
