#!/usr/bin/env bash
# The chaos scenario of "nothing lost": 4 workers under continuous load;
# again and again one worker is frozen (SIGSTOP) while it waits for a
# connection (holding none of its own), connections queue behind it, it is
# killed (SIGKILL) and a replacement joins.  Run on the kernel's own SO_REUSEPORT and under the
# shim, with the same load, and print both failure counts.
#
#   tests/chaos.sh [kernel|shim|both]      (default both)
#
# Exit status: 0 if the shim lost no connection (the kernel's figure is
# reported, not judged: it loses the queued ones, which is the point).
#
# The owner, not a worker (the kernel has none; shim only):
#
#   tests/chaos.sh owner    kill -9 the group's owner CHAOS_KILLS times
#                           (default 10) under the same load: its standby
#                           takes over each time
#   tests/chaos.sh stop     SIGSTOP the owner for CHAOS_STOP seconds
#                           (default 2) under load: a stopped owner is
#                           not dead, nothing is taken over
#
# Each prints "LABEL: answered N failed M" and the connections the dead
# owners held unsent (lost by design; the aim is 0), and fails if more
# failed than that, if a worker saw an error, or if the group does not
# end with one owner and one standby and then with nothing left.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=${TEST_BUILD:-$top/build}
WORKERS=4
ROUNDS=${CHAOS_ROUNDS:-6}
CONNS=${CHAOS_CONNS:-15000}
FREEZE=${CHAOS_FREEZE:-0.2}	# seconds a worker stays frozen: the scenario
work=$(mktemp -d "${TMPDIR:-/tmp}/reuseport-chaos.XXXXXX")
chmod 700 "$work"
pgids=()

stop_all() {
	local g
	for g in "${pgids[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
	pgids=()
}
cleanup() {
	stop_all
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_worker PORT ENV...: one evloop in its own process group; sets
# $wpid and $port once it has printed "ready".
start_worker() {
	local p=$1 fifo="$work/fifo.$RANDOM.$RANDOM" line fd; shift
	mkfifo "$fifo"
	setsid env "$@" "$B/examples/evloop" -p "$p" >"$fifo" 2>>"$work/stderr" &
	wpid=$!
	disown "$wpid"	# its SIGKILL is the scenario, not news
	pgids+=("$wpid")
	exec {fd}<"$fifo"
	rm -f "$fifo"
	port=""
	while read -r -t 10 -u "$fd" line; do
		case $line in
		port\ *) port=${line#port } ;;
		ready\ *) break ;;
		esac
	done
	exec {fd}<&-
	[ -n "$port" ]
}

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# freeze_idle PID: stop the worker at a moment it holds no connection of
# its own (its fd count is the idle one): what the application accepted is
# its own to lose, on any kernel; what waits for it is the group's.
freeze_idle() {
	local try
	for try in $(seq 1 500); do
		kill -STOP "$1"
		[ "$(fds "$1")" = "$idle_fds" ] && return 0
		kill -CONT "$1"
	done
	echo "could not catch worker $1 idle" >&2
	return 1
}

# scenario LABEL ENV...: prints "LABEL: answered N failed M".
scenario() {
	local label=$1 first i r victim out; shift
	local -a workers=()
	start_worker 0 "$@" || { echo "$label: worker did not start"; cat "$work/stderr"; return 2; }
	first=$port
	workers+=("$wpid")
	idle_fds=$(fds "$wpid")	# no client yet: its idle set of fds
	for i in $(seq 2 $WORKERS); do
		start_worker "$first" "$@" || { echo "$label: worker did not start"; return 2; }
		workers+=("$wpid")
	done
	"$B/tests/loadclient" -p "$first" -n "$CONNS" -c 8 -t 15000 >"$work/load.out" 2>&1 &
	local lpid=$!
	for r in $(seq 1 "$ROUNDS"); do
		i=$((r % WORKERS))
		victim=${workers[$i]}
		freeze_idle "$victim" || return 2
		sleep "$FREEZE"
		kill -KILL "$victim"
		start_worker "$first" "$@" || { echo "$label: replacement did not start"; return 2; }
		workers[$i]=$wpid
	done
	wait "$lpid"
	out=$(grep "^answered" "$work/load.out")
	grep -q "^loadclient" "$work/load.out" && grep "^loadclient" "$work/load.out" >&2
	echo "$label: ${out:-loadclient printed nothing}"
	stop_all
	# The figure the caller judges.
	failed=$(echo "$out" | awk '{print $4}')
}

shim_env=(LD_PRELOAD="${TEST_PRELOAD:+$TEST_PRELOAD }$B/libreuseport_shim.so"
    REUSEPORT_SHIM_MODE=emulate REUSEPORT_SHIM_DIR="$work/rv"
    REUSEPORT_SHIM_LOG=info)

# The group's owner and standby pids, from stat: "OWNER STANDBY TAKEOVERS".
group_pids() {
	"$B/reuseport-shim" stat --dir "$work/rv" 2>/dev/null | awk '
	    /^tcp / { o = 0; s = 0; t = 0
		for (i = 1; i < NF; i++) {
			if ($i == "owner" && $(i + 1) == "pid") o = $(i + 2)
			if ($i == "standby" && $(i + 1) == "pid") s = $(i + 2)
			if ($i == "takeovers") t = $(i + 1)
		}
		print o, s, t; exit }'
}

# wait_standby NOT_OWNER: until an owner other than NOT_OWNER answers and
# has a standby (bounded: 10 s); sets owner, standby, takeovers.
wait_standby() {
	local try
	for try in $(seq 1 1000); do
		read -r owner standby takeovers < <(group_pids)
		if [ -n "${owner:-}" ] && [ "$owner" != 0 ] &&
		    [ "$owner" != "$1" ] && [ "${standby:-0}" != 0 ]; then
			return 0
		fi
		sleep 0.01
	done
	echo "no owner with a standby after 10 s (owner ${owner:-?}, standby ${standby:-?})" >&2
	return 1
}

# owner_scenario kill|stop: the owner's turn, under the shim only.
owner_scenario() {
	local what=$1 first i lpid out lost
	local -a workers=()
	start_worker 0 "${shim_env[@]}" || { echo "owner: worker did not start"; cat "$work/stderr"; return 2; }
	first=$port
	workers+=("$wpid")
	for i in $(seq 2 $WORKERS); do
		start_worker "$first" "${shim_env[@]}" || { echo "owner: worker did not start"; return 2; }
		workers+=("$wpid")
	done
	wait_standby 0 || return 2
	"$B/tests/loadclient" -p "$first" -n "$CONNS" -c 8 -t 15000 >"$work/load.out" 2>&1 &
	lpid=$!
	if [ "$what" = kill ]; then
		for i in $(seq 1 "${CHAOS_KILLS:-10}"); do
			kill -KILL "$owner"
			wait_standby "$owner" || return 2
		done
	else
		kill -STOP "$owner"
		sleep "${CHAOS_STOP:-2}"	# the scenario: how long it is stopped
		kill -CONT "$owner"
	fi
	wait "$lpid"
	out=$(grep "^answered" "$work/load.out")
	grep -q "^loadclient" "$work/load.out" && grep "^loadclient" "$work/load.out" >&2
	read -r owner standby takeovers < <(group_pids)
	held=$(grep -o '[0-9]* connection(s) it had accepted and not yet sent' "$work/stderr" |
	    awk '{ n += $1 } END { print n + 0 }')
	echo "owner-$what: ${out:-loadclient printed nothing}; takeovers ${takeovers:-?}; held unsent by dead owners ${held}"
	failed=$(echo "$out" | awk '{print $4}')
	lost=0
	for i in "${workers[@]}"; do
		kill -0 "$i" 2>/dev/null || { echo "worker $i died" >&2; lost=1; }
	done
	if grep -E 'accept|owner process is gone' "$work/stderr" |
	    grep -v -e ' info: ' -e 'took over its' >&2; then
		lost=1
	fi
	if [ "$what" = kill ] && [ "${takeovers:-0}" != "${CHAOS_KILLS:-10}" ]; then
		echo "takeovers ${takeovers:-?}, want ${CHAOS_KILLS:-10}" >&2
		lost=1
	fi
	if [ "$what" = stop ] && [ "${takeovers:-0}" != 0 ]; then
		echo "a stopped owner was taken over" >&2
		lost=1
	fi
	[ "$(pgrep -f "rpshim-owner .*$work/rv" | wc -l)" = 2 ] ||
	    { echo "want one owner and one standby: $(pgrep -af "rpshim-owner .*$work/rv")" >&2; lost=1; }
	stop_all
	for i in $(seq 1 300); do
		pgrep -f "rpshim-owner .*$work/rv" >/dev/null || break
		sleep 0.01
	done
	if pgrep -f "rpshim-owner .*$work/rv" >/dev/null; then
		echo "left running: $(pgrep -af "rpshim-owner .*$work/rv")" >&2
		pkill -KILL -f "rpshim-owner .*$work/rv"
		lost=1
	fi
	[ "$lost" = 0 ]
}

mode=${1:-both}
rc=0
case $mode in
owner)
	# What the dead owners held in hand is lost by design; no more.
	owner_scenario kill || exit 1
	[ -n "$failed" ] && [ "$failed" -le "$held" ]
	exit
	;;
stop)
	owner_scenario stop || exit 1
	[ "$failed" = 0 ]
	exit
	;;
esac
if [ "$mode" = kernel ] || [ "$mode" = both ]; then
	scenario "kernel SO_REUSEPORT" || rc=1
fi
if [ "$mode" = shim ] || [ "$mode" = both ]; then
	failed=""
	scenario "reuseport-shim" \
	    LD_PRELOAD="${TEST_PRELOAD:+$TEST_PRELOAD }$B/libreuseport_shim.so" \
	    REUSEPORT_SHIM_MODE=emulate REUSEPORT_SHIM_DIR="$work/rv" || rc=1
	[ "$failed" = 0 ] || rc=1
fi
exit $rc
