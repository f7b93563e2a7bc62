#!/usr/bin/env bash
# make demo: four copies of an ordinary SO_REUSEPORT server share one port,
# first under the shim (emulate mode: the kernel never sees the option),
# then on the kernel's own SO_REUSEPORT; the same client drives both and
# the table shows who got what.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/build
N=4
CONNS=${DEMO_CONNS:-4000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/reuseport-demo.XXXXXX")
chmod 700 "$dir"
pgids=()

cleanup() {
	for g in "${pgids[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
	for g in "${pgids[@]}"; do
		for _ in $(seq 50); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.02; done
		kill -KILL -- "-$g" 2>/dev/null
	done
	pgids=()
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server FIFO ARGS...: one evloop in its own process group; sets $port.
# (Not in a $(...) subshell: the process group must be recorded here.)
start_server() {
	local fifo=$1 line; shift
	port=
	mkfifo "$fifo"
	setsid "$@" >"$fifo" 2>>"$dir/stderr" &
	pgids+=($!)
	exec {fd}<"$fifo"
	while read -r -t 10 -u "$fd" line; do
		case $line in
		port\ *) port=${line#port } ;;
		ready\ *) break ;;
		esac
	done
	exec {fd}<&-
	[ -n "$port" ] || { echo "demo: a server did not start:" >&2; cat "$dir/stderr" >&2; exit 1; }
}

# run LABEL ENV...: start N servers with ENV, drive CONNS connections, tabulate.
run() {
	local label=$1 first i out; shift
	start_server "$dir/s0" env "$@" "$B/examples/evloop" -p 0
	first=$port
	for i in $(seq 1 $((N - 1))); do
		start_server "$dir/s$i" env "$@" "$B/examples/evloop" -p "$first"
	done
	out=$("$B/tests/loadclient" -p "$port" -n "$CONNS" -c 8) || true
	printf '\n%s, port %s, %d connections:\n' "$label" "$port" "$CONNS"
	printf '  %-8s %8s %7s\n' pid conns share
	echo "$out" | awk -v total="$CONNS" '
		/^pid / { printf "  %-8s %8d %6.1f%%\n", $2, $3, 100 * $3 / total;
			  if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 }
		/^answered/ { ans = $2; fail = $4 }
		END { printf "  answered %d, failed %d, max/min %.3f\n", ans, fail,
			  (min > 0 ? max / min : 0) }'
	for g in "${pgids[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
	for g in "${pgids[@]}"; do
		for _ in $(seq 100); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.02; done
	done
	pgids=()
	rm -f "$dir"/s*
}

echo "reuseport-shim demo: $N separate evloop processes on one port (127.0.0.1)"
run "under the shim (REUSEPORT_SHIM_MODE=emulate, round-robin)" \
	LD_PRELOAD="$B/libreuseport_shim.so" REUSEPORT_SHIM_MODE=emulate \
	REUSEPORT_SHIM_DIR="$dir/rv"
run "the kernel's own SO_REUSEPORT (no shim)"
