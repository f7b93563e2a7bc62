# A member socket is a listener in every way the kernel's is (issue 13):
# each scenario of listener.py, natively and under the shim, must print
# the same bytes (oracle, t_oracle.sh).

# listener_oracle SCENARIO
listener_oracle() {
	need_python
	oracle "listener-$1" "$PYTHON" "$TI_HERE/listener.py" "$1"
}

t_listener_opts_after() { listener_oracle opts-after; }
t_listener_opts_joiner() { listener_oracle opts-joiner; }
t_listener_first_leak() { listener_oracle first-leak; }
t_listener_rcvtimeo() { listener_oracle rcvtimeo; }
t_listener_async() { listener_oracle async; }
t_listener_validate() { listener_oracle validate; }
t_listener_defer() { listener_oracle defer; }
t_listener_exec() { listener_oracle exec; }
t_listener_epoll_before() { listener_oracle epoll-before; }
# illumos answers stray I/O on a listener its own way (ENOTCONN, no
# SIGPIPE), and the like-illumos build does so too: io-answers (t_io.sh)
# checks those answers there.
t_listener_io() {
	[ "$SUITE" = illumoslike ] &&
	    skip "illumos's answers differ from Linux's; io-answers checks them"
	listener_oracle io
}
t_listener_shutrd() { listener_oracle shutrd; }
t_listener_timewait() { listener_oracle timewait; }
t_listener_addrany_wf() { listener_oracle addrany-wf; }
t_listener_addrany_sf() { listener_oracle addrany-sf; }
t_listener_dualstack_6f() { listener_oracle dualstack-6f; }
t_listener_dualstack_4f() { listener_oracle dualstack-4f; }
