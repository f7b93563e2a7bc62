# The owner is no single point of failure (issue 15): its standby takes
# over, with the listener, the endpoints and what is queued.

# kill -9 the owner ten times under steady load (tests/chaos.sh owner):
# no client refused or reset beyond what the dead owners held in hand (a
# connection accept() returned as the kill landed), no worker sees an
# error, ten takeovers, one owner and one standby at the end, nothing left
# after.
t_standby_kill() {
	local out rc line failed held
	out=$(CHAOS_CONNS=12000 CHAOS_KILLS=10 bash "$ROOT/tests/chaos.sh" owner 2>&1)
	rc=$?
	line=$(echo "$out" | grep '^owner-kill:')
	note "$line"
	failed=$(echo "$line" | sed -n 's/.* failed \([0-9]*\);.*/\1/p')
	held=$(echo "$line" | sed -n 's/.*held unsent by dead owners \([0-9]*\).*/\1/p')
	echo "$line" | grep -q 'takeovers 10;' ||
	    fail "want 10 takeovers: $line"
	if [ -z "$failed" ] || [ -z "$held" ] || [ "$failed" -gt "$held" ]; then
		fail "lost more than the dead owners held: $line"
	fi
	[ "$rc" = 0 ] ||
	    fail "owner killed under load: $(echo "$out" | grep -v 'took over its' | head -5 | tr '\n' ' ')"
}

# A stopped owner is not dead: 2 s of SIGSTOP under load, nothing lost,
# nothing taken over.
t_standby_stop() {
	local out rc
	out=$(CHAOS_CONNS=6000 CHAOS_STOP=2 bash "$ROOT/tests/chaos.sh" stop 2>&1)
	rc=$?
	note "$(echo "$out" | grep '^owner-stop:')"
	[ "$rc" = 0 ] || fail "owner stopped under load: $(echo "$out" | head -5 | tr '\n' ' ')"
	echo "$out" | grep -q '^owner-stop: answered 6000 failed 0; takeovers 0;' ||
	    fail "want 6000 answered, 0 failed, no takeover: $(echo "$out" | grep '^owner-stop:')"
}

# stat names the standby; after a takeover, the new owner's standby.
t_standby_stat() {
	local p owner sb line
	start_server a "${SHIM[@]}" "$BUILD/examples/prefork" -n 2 || return
	server_up a 2 || return
	p=$PORT
	poll_until 3000 standby_named || { fail "stat names no standby: $(stat_line)"; return; }
	line=$(stat_line)
	owner=$(echo "$line" | sed -n 's/.*owner pid \([0-9]*\).*/\1/p')
	sb=$(echo "$line" | sed -n 's/.*standby pid \([0-9]*\).*/\1/p')
	proc_alive "$sb" || fail "standby $sb named but not running"
	kill -KILL "$owner"
	poll_until 3000 taken_over || { fail "no takeover in stat: $(stat_line)"; return; }
	line=$(stat_line)
	echo "$line" | grep -q "owner pid $sb " ||
	    fail "the standby ($sb) did not become the owner: $line"
	ps -o args= -p "$sb" | grep -q '^rpshim-owner tcp ' ||
	    fail "the new owner shows as: $(ps -o args= -p "$sb")"
	run_load after 127.0.0.1 "$p" 200 4
	check_answered after 200
	note "after the takeover: $line"
	stop_server a 0
}

stat_line() { "$BUILD/reuseport-shim" stat --dir "$SHIMDIR" 2>&1 | head -1; }
standby_named() { stat_line | grep -q 'standby pid [0-9]'; }
taken_over() { stat_line | grep -q 'takeovers 1.*' && standby_named; }
# The group has counted N connections taken (the owner reads the board
# when it runs: a client's answer may come first).
stat_delivered_is() { stat_line | grep -q "  delivered $1  waiting "; }
# "PID COUNT" per member, as stat shows them; and as the clients saw.
stat_counts() {
	"$BUILD/reuseport-shim" stat --dir "$SHIMDIR" 2>&1 |
	    awk '$1 == "pid" && $4 == "delivered" { print $2, $5 }' | sort
}
load_pids() { awk '$1 == "pid" { print $2, $3 }' "$TDIR/$1.load" | sort; }

# stat's counts go on after a takeover (they started again from zero):
# four members take 400 connections (stat agrees with the clients,
# member by member), one leaves, the owner is killed (-9) and its standby
# takes over, 300 more; then each member's count is what stat said
# before plus what its clients saw it take since, and the group's, with
# what the one that left took, 700.
t_standby_counts() {
	local i p owner before want now
	start_server c1 "${SHIM[@]}" "$BUILD/examples/evloop" -p 0 || return
	server_up c1 1 || return
	p=$PORT
	for i in 2 3 4; do
		start_server "c$i" "${SHIM[@]}" "$BUILD/examples/evloop" -p "$p" || return
		server_up "c$i" 1 || return
	done
	poll_until 3000 standby_named || { fail "stat names no standby: $(stat_line)"; return; }
	run_load before 127.0.0.1 "$p" 400 4
	check_answered before 400 || return
	poll_until 3000 stat_delivered_is 400 ||
	    { fail "stat before the kill: $(stat_line)"; return; }
	before=$(stat_counts)
	[ "$before" = "$(load_pids before)" ] ||
	    { fail "stat's counts '$(echo $before)', the clients' '$(echo $(load_pids before))'"; return; }
	stop_server c4 0
	poll_until 3000 eval '[ "$(stat_counts | wc -l)" = 3 ]' ||
	    { fail "c4 still a member: '$(echo $(stat_counts))'"; return; }
	before=$(stat_counts)
	stat_delivered_is 400 || { fail "c4 gone: $(stat_line)"; return; }
	owner=$(stat_line | sed -n 's/.*owner pid \([0-9]*\).*/\1/p')
	kill -KILL "$owner"
	poll_until 3000 taken_over || { fail "no takeover in stat: $(stat_line)"; return; }
	run_load after 127.0.0.1 "$p" 300 4
	check_answered after 300 || return
	poll_until 3000 stat_delivered_is 700 ||
	    { fail "stat after the takeover: $(stat_line); members '$(echo $(stat_counts))', before '$(echo $before)'"; return; }
	want=$(join -a 1 -a 2 -e 0 -o 0,1.2,2.2 <(echo "$before") <(load_pids after) |
	    awk '{ print $1, $2 + $3 }')
	now=$(stat_counts)
	[ "$now" = "$want" ] ||
	    fail "after the takeover: stat '$(echo $now)', want '$(echo $want)' (before '$(echo $before)', since '$(echo $(load_pids after))')"
	note "before $(echo $before); after $(echo $now)"
	for i in 1 2 3; do
		stop_server "c$i" 0
	done
}

# Services (systemd units, SMF services) are cgroups on Linux; restarting
# one kills every process in it (cgroup.kill, what systemd's stop does).
# Members of two services share a group: the owner starts in the first
# one's, its standby must live in the other's, so that restarting the
# first leaves the second serving.
cg2_root() { awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo; }
cg_empty() { [ ! -s "$1/cgroup.procs" ]; }

t_standby_service() {
	local root my cg sb p
	[ -r /proc/self/mountinfo ] || skip "no /proc/self/mountinfo"
	root=$(cg2_root)
	[ -n "$root" ] || skip "no cgroup v2 hierarchy mounted"
	my=$(sed -n 's/^0:://p' /proc/self/cgroup)
	cg=$root${my%/}/rpshim-test-$$
	mkdir "$cg" 2>/dev/null && mkdir "$cg/a" "$cg/b" ||
	    { rmdir "$cg" 2>/dev/null; skip "cannot make cgroups under $root$my"; }
	[ -e "$cg/a/cgroup.kill" ] ||
	    { rmdir "$cg/a" "$cg/b" "$cg"; skip "no cgroup.kill (kernel older than 5.14)"; }
	# Whatever happens, the cgroups go: their processes first.
	trap 'for s in a b; do echo 1 >"'"$cg"'/$s/cgroup.kill" 2>/dev/null; done
	    poll_until 3000 cg_empty "'"$cg"'/a"; poll_until 3000 cg_empty "'"$cg"'/b"
	    rmdir "'"$cg"'/a" "'"$cg"'/b" "'"$cg"'" 2>/dev/null' EXIT
	start_server a "$BASH" -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' \
	    _ "$cg/a" "${SHIM[@]}" "$BUILD/examples/evloop" -p 0 || return
	server_up a 1 || return
	p=$PORT
	start_server b "$BASH" -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' \
	    _ "$cg/b" "${SHIM[@]}" "$BUILD/examples/evloop" -p "$p" || return
	server_up b 1 || return
	# The standby moves to b's service.
	poll_until 3000 eval 'sb=$(the_standbys); [ -n "$sb" ] &&
	    grep -q "rpshim-test-$$/b\$" "/proc/$sb/cgroup"' ||
	    { fail "no standby in b's service: $(for x in $(new_owners); do
		echo "$x $(owner_role $x) $(sed -n 's/^0:://p' /proc/$x/cgroup)"; done | tr '\n' ' ')"; return; }
	note "owner in a's service, standby $(the_standbys) in b's"
	# Restart a's service: a and the owner go; b serves on, all of it.
	echo 1 >"$cg/a/cgroup.kill"
	poll_until 3000 cg_empty "$cg/a" || { fail "a's service did not end"; return; }
	READY=("${READY[1]}")
	run_load after 127.0.0.1 "$p" 200 4
	check_balance after 1 200
	note "after a's service restarted: $(load_counts after); $(stat_line | sed 's/.*\(owner pid\)/\1/')"
	stop_server b 0
}
