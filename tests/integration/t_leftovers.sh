# no-leftovers: after everything, no owner of ours and no socket remain
# (each test is checked the same way by the runner).

t_no_leftovers() {
	poll_until "$GONE_MS" no_new_owners ||
	    fail "owners left: $(describe_owners $(new_owners))"
	poll_until "$GONE_MS" no_dir_sockets ||
	    fail "sockets left in the rendezvous dir: $(dir_sockets | tr '\n' ' ')"
	note "no owner, no socket left"
}
