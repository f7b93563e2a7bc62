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

mode=${1:-both}
rc=0
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
