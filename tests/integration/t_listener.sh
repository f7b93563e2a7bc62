# A member socket is a listener in every way the kernel's is (issue 13):
# each scenario of listener.py, natively and under the shim, must print
# the same bytes (oracle, t_oracle.sh).

# listener_oracle SCENARIO [-6]: the same bytes natively twice (a probe
# that is not deterministic proves nothing), then under the shim.
listener_oracle() {
	local a b
	need_python
	a=$("$PYTHON" "$TI_HERE/listener.py" ${2:+"$2"} "$1" 2>&1)
	b=$("$PYTHON" "$TI_HERE/listener.py" ${2:+"$2"} "$1" 2>&1)
	if [ "$a" != "$b" ]; then
		fail "listener-$1$2: two native runs differ"
		diff <(echo "$a") <(echo "$b") | head -10
		return
	fi
	oracle "listener-$1$2" "$PYTHON" "$TI_HERE/listener.py" ${2:+"$2"} "$1"
}

# Both families, where the scenario has a choice.
listener_oracle46() {
	listener_oracle "$1"
	listener_oracle "$1" -6
}

t_listener_opts_after() { listener_oracle46 opts-after; }
t_listener_opts_prebind() { listener_oracle46 opts-prebind; }
t_listener_opts_joiner() { listener_oracle46 opts-joiner; }
t_listener_first_leak() { listener_oracle46 first-leak; }
t_listener_rcvtimeo() { listener_oracle46 rcvtimeo; }
t_listener_async() { listener_oracle46 async; }
t_listener_validate() { listener_oracle46 validate; }
t_listener_defer() { listener_oracle46 defer; }
t_listener_exec() { listener_oracle46 exec; }
t_listener_epoll_before() { listener_oracle46 epoll-before; }
# illumos answers stray I/O on a listener its own way (ENOTCONN, no
# SIGPIPE), and the like-illumos build does so too: io-answers (t_io.sh)
# checks those answers there.
t_listener_io() {
	[ "$SUITE" = illumoslike ] &&
	    skip "illumos's answers differ from Linux's; io-answers checks them"
	listener_oracle46 io
}
t_listener_shutrd() { listener_oracle46 shutrd; }
t_listener_timewait() { listener_oracle46 timewait; }
t_listener_addrany_wf() { listener_oracle addrany-wf; }
t_listener_addrany_sf() { listener_oracle addrany-sf; }
t_listener_dualstack_6f() { listener_oracle dualstack-6f; }
t_listener_dualstack_4f() { listener_oracle dualstack-4f; }
