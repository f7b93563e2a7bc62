#!/usr/bin/env bash
# The side-by-side benchmark: the kernel's SO_REUSEPORT, the shim with
# each policy, one listener shared by the workers, a single acceptor; a
# concurrency sweep of the kernel against each policy with the owner's
# CPU time per connection; and UDP: the kernel's groups against each of
# the shim's ways (REUSEPORT_SHIM_UDP), datagrams/s, flow affinity and
# light-load latency.
# Builds nothing: `make bench` builds, then runs this.
#
# Environment:
#   BENCH_QUICK=1        1 round, short runs (about a minute)
#   BENCH_ROUNDS=N       rounds (default 3, quick 1); setups alternate
#   BENCH_SECS=S         seconds per throughput run (3, quick 1.5)
#   BENCH_STALL_SECS=S   seconds per stalled-worker run (4, quick 2)
#   BENCH_GROW_SECS=S    seconds per growth-curve run (2.5, quick 1)
#   BENCH_CONC=N         client threads for throughput and growth (16)
#   BENCH_WORKERS=N      worker processes (4)
#   BENCH_SWEEP="1 2 8 32"  sweep: client processes in flight, each making
#                        one connection at a time
#   BENCH_SWEEP_SECS=S   seconds per sweep run (1.5, quick 0.7)
#   BENCH_ONLY=sweep     the concurrency sweep alone
#   BENCH_POLICIES="roundrobin hash srcip leastloaded shared"  the shim's
#                        TCP policies in the main and sweep tables
#   BENCH_ONLY=udp       the UDP tables alone (about 75 s, quick about 15)
#   BENCH_UDP_SECS=S     seconds per UDP throughput run (3, quick 1.5)
#   BENCH_UDP_LIGHT_SECS=S  seconds per UDP light-load run (1, quick 0.5)
#   BENCH_UDP_FLOWS=N    UDP flows (client sockets) for throughput (64)
#   BENCH_UDP_WINDOW=N   datagrams in flight per flow (4)
#   BENCH_UDP_THREADS=N  UDP client threads (2)
#   BENCH_UDP_TIMEOUT=MS a datagram unanswered this long is lost (100)
#   BENCH_UDP_SIZE=B     UDP datagram size in bytes (64)
#   BENCH_UDP_WAYS="hash shared roundrobin srcip"  the shim's UDP ways
#   BENCH_MD=FILE        also write the report as a markdown document
#
# All traffic is on 127.0.0.1.  Every worker is in its own process group;
# everything is stopped on exit, and no rpshim-owner of this run may
# outlive it (they are found by their REUSEPORT_SHIM_DIR, private to us).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/build
LIB=$B/libreuseport_shim.so
WB=$B/bench/worker
CB=$B/bench/client
UWB=$B/bench/udpworker
UCB=$B/bench/udpclient

QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
ROUNDS=${BENCH_ROUNDS:-${QUICK:+1}}; ROUNDS=${ROUNDS:-3}
SECS=${BENCH_SECS:-${QUICK:+1.5}}; SECS=${SECS:-3}
STALL_SECS=${BENCH_STALL_SECS:-${QUICK:+2}}; STALL_SECS=${STALL_SECS:-4}
GROW_SECS=${BENCH_GROW_SECS:-${QUICK:+1}}; GROW_SECS=${GROW_SECS:-2.5}
CONC=${BENCH_CONC:-16}
WORKERS=${BENCH_WORKERS:-4}
STALL_CONC=8
STALL_DELAY=100
GROW_SIZES="2 16 128 1024"
GROW_PROCS=2
ALL_POLICIES="roundrobin hash srcip leastloaded shared"
POLICIES=${BENCH_POLICIES:-$ALL_POLICIES}
MAIN_SETUPS="kernel shim-roundrobin shim-hash shim-srcip shim-leastloaded shim-shared shared single"
LIGHT_SETUPS="kernel shim-roundrobin"
LIGHT_SECS=${BENCH_LIGHT_SECS:-${QUICK:+1}}; LIGHT_SECS=${LIGHT_SECS:-2}
SWEEP=${BENCH_SWEEP:-1 2 8 32}
SWEEP_SECS=${BENCH_SWEEP_SECS:-${QUICK:+0.7}}; SWEEP_SECS=${SWEEP_SECS:-1.5}
ONLY=${BENCH_ONLY:-}
case $ONLY in
"" | sweep | udp) ;;
*) echo "bench: BENCH_ONLY=$ONLY: only 'sweep' and 'udp' are known" >&2; exit 2 ;;
esac
UDP_SECS=${BENCH_UDP_SECS:-${QUICK:+1.5}}; UDP_SECS=${UDP_SECS:-3}
UDP_LIGHT_SECS=${BENCH_UDP_LIGHT_SECS:-${QUICK:+0.5}}; UDP_LIGHT_SECS=${UDP_LIGHT_SECS:-1}
UDP_FLOWS=${BENCH_UDP_FLOWS:-64}
UDP_WINDOW=${BENCH_UDP_WINDOW:-4}
UDP_THREADS=${BENCH_UDP_THREADS:-2}
UDP_TIMEOUT=${BENCH_UDP_TIMEOUT:-100}
UDP_SIZE=${BENCH_UDP_SIZE:-64}
UDP_WAYS=${BENCH_UDP_WAYS:-hash shared roundrobin srcip}
UDP_SETUPS="kernel $(for w in $UDP_WAYS; do printf 'shim-%s ' "$w"; done)shared"
TOOL=$B/reuseport-shim
HZ=$(getconf CLK_TCK)
STALL_SETUPS="kernel shim-roundrobin shim-hash shim-srcip shim-leastloaded shared"

for f in "$LIB" "$WB" "$CB" "$UWB" "$UCB" "$TOOL"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "bench: $f missing; run 'make bench'" >&2; exit 1; }
done
# 1024 endpoints, their connections, the owner's copies: plenty of fds.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d "${TMPDIR:-/tmp}/reuseport-bench.XXXXXX")
chmod 700 "$work"
rv=$work/rv
mkdir -m 700 "$rv"
results=$work/results
: >"$results"
pgids=()
wpids=()
slowpids=()
port=0
nfifo=0
leftovers=0

# Owners of this run: comm rpshim-owner and our rendezvous directory in
# their environment (the owner is forked from a worker, without exec).
owners() {
	local p
	for p in $(ps -eo pid=,comm= | awk '$2 == "rpshim-owner" { print $1 }'); do
		{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
			grep -qxF "REUSEPORT_SHIM_DIR=$rv" && echo "$p"
	done
}

# Stop every worker group; then wait (bounded) for the owner to leave.
stop_all() {
	local g i o
	for g in "${pgids[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
	for g in "${pgids[@]}"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 -- "-$g" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL -- "-$g" 2>/dev/null
		wait "$g" 2>/dev/null
	done
	pgids=()
	for ((i = 0; i < 100; i++)); do
		o=$(owners)
		[ -z "$o" ] && break
		sleep 0.05
	done
	if [ -n "$o" ]; then
		echo "bench: rpshim-owner $o of this run outlived its members; killing it" >&2
		leftovers=$((leftovers + 1))
		for g in $o; do kill -KILL "$g" 2>/dev/null; done
	fi
}

cleanup() {
	stop_all
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn NREADY CMD...: one worker process group; reads its stdout until
# NREADY "ready" lines.  Sets $port, appends to wpids and slowpids.
spawn() {
	local nready=$1 fifo fd line got=0 t0=$SECONDS; shift
	fifo=$work/fifo.$((++nfifo))
	mkfifo "$fifo"
	setsid "$@" >"$fifo" 2>>"$work/stderr" &
	pgids+=($!)
	exec {fd}<"$fifo"
	rm -f "$fifo"
	while ((got < nready && SECONDS - t0 < 60)) && read -r -t 30 -u "$fd" line; do
		case $line in
		port\ *) port=${line#port } ;;
		slow\ *) slowpids+=("${line#slow }") ;;
		ready\ *) wpids+=("${line#ready }"); got=$((got + 1)) ;;
		esac
	done
	exec {fd}<&-
	if ((got < nready)); then
		echo "bench: workers did not start: $*" >&2
		tail -n 5 "$work/stderr" >&2
		return 1
	fi
}

shim_env() {
	echo "LD_PRELOAD=$LIB REUSEPORT_SHIM_MODE=emulate REUSEPORT_SHIM_DIR=$rv REUSEPORT_SHIM_POLICY=$1"
}

# start SETUP STALL [ENDPOINTS]: the workers of one setup.  STALL=1: the
# last worker (the first child with -f) takes STALL_DELAY ms per request.
start() {
	local setup=$1 stall=$2 eps=${3:-0} i d envs=()
	port=0 wpids=() slowpids=()
	case $setup in
	kernel | shim-* | grow-kernel | grow-shim | sweep-*)
		case $setup in
		shim-* | sweep-shim-*) read -ra envs <<<"$(shim_env "${setup#*shim-}")" ;;
		grow-shim) read -ra envs <<<"$(shim_env roundrobin)" ;;
		esac
		if [[ $setup == grow-* ]]; then
			for ((i = 0; i < GROW_PROCS; i++)); do
				spawn 1 env "${envs[@]}" "$WB" -p "$port" -n $((eps / GROW_PROCS)) || return 1
			done
		elif [[ $setup == sweep-* ]]; then
			for ((i = 0; i < WORKERS; i++)); do
				spawn 1 env "${envs[@]}" "$WB" -p "$port" -b || return 1
			done
		else
			for ((i = 0; i < WORKERS; i++)); do
				d=()
				((stall && i == WORKERS - 1)) && d=(-d "$STALL_DELAY")
				spawn 1 env "${envs[@]}" "$WB" -p "$port" "${d[@]}" || return 1
			done
		fi ;;
	shared)
		d=()
		((stall)) && d=(-d "$STALL_DELAY" -k 1)
		spawn "$WORKERS" "$WB" -p 0 -f "$WORKERS" "${d[@]}" || return 1 ;;
	single)
		spawn 1 "$WB" -p 0 -n 1 -1 || return 1 ;;
	esac
}

# client CONC SECS: drive the current setup; output in $work/out.
client() {
	"$CB" -p "$port" -c "$1" -t "$2" >"$work/out" 2>>"$work/client.err"
	[ -s "$work/out" ] || echo "conns 0 failed 0 secs 0 rate 0 p50_us 0 p99_us 0 max_us 0" >"$work/out"
}

# Per-worker counts come from the replies; a worker nobody reached is 0.
# prints: rate p50 p99 max maxcount mincount failed slowshare%
summarize() {
	awk -v pids="${wpids[*]}" -v slow="${slowpids[*]:-}" '
	/^conns / { conns = $2; failed = $4; rate = $8; p50 = $10; p99 = $12; mx = $14 }
	/^pid / { c[$2] = $4 }
	END {
		n = split(pids, a, " "); maxc = 0; minc = -1
		for (i = 1; i <= n; i++) {
			v = c[a[i]] + 0
			if (v > maxc) maxc = v
			if (minc < 0 || v < minc) minc = v
		}
		s = (slow != "" && conns > 0) ? 100 * c[slow] / conns : 0
		printf "%s %s %s %s %d %d %s %.3f %d\n", rate, p50, p99, mx, maxc, minc, failed, s, (slow != "") ? c[slow] : 0
	}' "$work/out"
}

progress() { printf '  round %d/%d  %-22s %s\n' "$round" "$ROUNDS" "$1" "$2" >&2; }

# owner_cpu: CPU seconds the owner of this run has used (0 if none).
owner_cpu() {
	local o
	o=$(owners)
	o=${o%%$'\n'*}
	[ -n "$o" ] || { echo 0; return; }
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$o/stat" 2>/dev/null || echo 0
}

# owner_of PORT: the pid of the rpshim-owner of our group on PORT, from
# `reuseport-shim stat --json` on our rendezvous directory (empty if none).
owner_of() {
	"$TOOL" stat --json --dir "$rv" 2>/dev/null | awk -v port="$1" '
	match($0, /"port": [0-9]+/) { cur = substr($0, RSTART + 8, RLENGTH - 8) }
	match($0, /"owner_pid": [0-9]+/) && cur == port { print substr($0, RSTART + 13, RLENGTH - 13); exit }'
}

# ticks PID: user+system clock ticks PID has used (0 if gone or none).
ticks() {
	[ -n "$1" ] || { echo 0; return; }
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

run_main() {
	local s=$1 r cpu
	start "$s" 0 || { stop_all; return; }
	client "$CONC" "$SECS"
	r=$(summarize)
	cpu=$(owner_cpu)
	stop_all
	echo "main $s $round $r $cpu" >>"$results"
	progress "$s" "$(awk '{print $1 " conn/s"}' <<<"$r")"
}

# One client, one connection at a time: the latency a connection pays for
# the owner's hop, without queueing behind other clients.
run_light() {
	local s=$1 r
	start "$s" 0 || { stop_all; return; }
	client 1 "$LIGHT_SECS"
	r=$(summarize)
	stop_all
	echo "light $s $round $r" >>"$results"
	progress "light $s" "$(awk '{print "p50 " $2 " us"}' <<<"$r")"
}

run_stall() {
	local s=$1 r
	start "$s" 1 || { stop_all; return; }
	client "$STALL_CONC" "$STALL_SECS"
	r=$(summarize)
	stop_all
	echo "stall $s $round $r" >>"$results"
	progress "stalled $s" "$(awk '{print $2 "/" $3 "/" $4 " us, slow " $8 "%"}' <<<"$r")"
}

run_grow() {
	local kind=$1 eps=$2 r rss= o cpu=0
	start "grow-$kind" 0 "$eps" || { stop_all; return; }
	client "$CONC" "$GROW_SECS"
	r=$(summarize)
	if [ "$kind" = shim ]; then
		o=$(owners)
		[ -n "$o" ] && rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/${o%%$'\n'*}/status" 2>/dev/null)
		cpu=$(owner_cpu)
	fi
	stop_all
	echo "grow $eps $kind $round $(awk '{print $1, $7}' <<<"$r") ${rss:-0} $cpu" >>"$results"
	progress "growth $kind $eps" "$(awk '{print $1 " conn/s"}' <<<"$r")${rss:+, owner ${rss} kB}"
}

# The concurrency sweep of one round: the kernel's and every policy's
# WORKERS blocking-accept workers all start at once (on their own ports;
# the ones not driven wait in accept() and cost nothing), then for each
# number of client processes in flight a kernel run comes before, between
# every two and after the shim runs, the policies' order rotating.  Each
# shim run is later divided by the mean of the kernel runs either side.
declare -A sport sowner
run_sweep() {
	local s p n li=0 seq i
	sport=() sowner=()
	for s in kernel $POLICIES; do
		[ "$s" = kernel ] || s=shim-$s
		start "sweep-$s" 0 || { stop_all; return; }
		sport[$s]=$port
		[ "$s" = kernel ] || sowner[$s]=$(owner_of "$port")
		if [ "$s" != kernel ] && [ -z "${sowner[$s]}" ]; then
			echo "bench: sweep: no owner found for $s on port $port" >&2
		fi
	done
	for n in $SWEEP; do
		seq=0 i=0
		sweep_one kernel "$n"
		for p in $(rotate "$POLICIES" $((round - 1 + li))); do
			sweep_one "shim-$p" "$n"
			((++i % 2 == 0)) && sweep_one kernel "$n"
		done
		((i % 2)) && sweep_one kernel "$n"
		li=$((li + 1))
	done
	stop_all
}

# sweep_one SETUP N: N client processes, one connection at a time each.
sweep_one() {
	local s=$1 n=$2 o=${sowner[$1]:-} t0 t1 r
	port=${sport[$s]}
	t0=$(ticks "$o")
	"$CB" -p "$port" -c 1 -P "$n" -t "$SWEEP_SECS" >"$work/out" 2>>"$work/client.err"
	t1=$(ticks "$o")
	[ -s "$work/out" ] || echo "conns 0 failed 0 secs 0 rate 0" >"$work/out"
	r=$(awk '/^conns / { print $8, $2, $4; exit }' "$work/out")
	[ -n "$o" ] || t1=-1 t0=0
	echo "sweep $n $round $((seq++)) $s $r $((t1 - t0))" >>"$results"
	progress "sweep $n $s" "$(awk -v t=$((t1 - t0)) -v hz="$HZ" '{
		printf "%s conn/s", $1
		if (t >= 0 && $2 > 0) printf ", owner %.1f us/conn", t * 1e6 / hz / $2 }' <<<"$r")"
}

# rotate LIST N: LIST starting at its N-th element (alternation across rounds).
rotate() {
	local -a a=($1)
	local n=${#a[@]} i
	for ((i = 0; i < n; i++)); do echo "${a[(i + $2) % n]}"; done
}

# --- UDP ----------------------------------------------------------------
# start_udp SETUP: WORKERS udpworker processes, each its own process group
# and its own SO_REUSEPORT socket on one port (the first learns it):
# kernel, or shim-WAY under the shim with REUSEPORT_SHIM_UDP=WAY; or
# shared: one socket bound before fork, WORKERS children reading it.
start_udp() {
	local setup=$1 i envs=()
	port=0 wpids=() slowpids=()
	case $setup in
	shared) spawn "$WORKERS" "$UWB" -p 0 -f "$WORKERS"; return ;;
	shim-*) envs=(LD_PRELOAD="$LIB" REUSEPORT_SHIM_MODE=emulate
		REUSEPORT_SHIM_DIR="$rv" REUSEPORT_SHIM_UDP="${setup#shim-}") ;;
	esac
	for ((i = 0; i < WORKERS; i++)); do
		spawn 1 env "${envs[@]}" "$UWB" -p "$port" || return 1
	done
}

# owners_ticks: user+system clock ticks of this run's owners (the
# standby's too, if any: it sleeps); -1 if there is none.
owners_ticks() {
	local o p sum=0
	o=$(owners)
	[ -n "$o" ] || { echo -1; return; }
	for p in $o; do sum=$((sum + $(ticks "$p"))); done
	echo "$sum"
}

# udp_client FLOWS WINDOW THREADS SECS: output in $work/out; prints
# rate p50 p99 max lost late affinity maxcount mincount sent (per-member
# counts from the answers' pids; a worker nobody reached is 0).
udp_client() {
	"$UCB" -p "$port" -f "$1" -w "$2" -c "$3" -t "$4" -T "$UDP_TIMEOUT" \
	    -s "$UDP_SIZE" >"$work/out" 2>>"$work/udpclient.err"
	awk -v pids="${wpids[*]}" '
	/^dgrams / { for (i = 1; i < NF; i += 2) v[$i] = $(i + 1); ok = 1 }
	/^pid / { c[$2] = $4 }
	END {
		if (!ok) { print "0 0 0 0 0 0 0 0 0 0"; exit }
		n = split(pids, a, " "); maxc = 0; minc = -1
		for (i = 1; i <= n; i++) {
			x = c[a[i]] + 0
			if (x > maxc) maxc = x
			if (minc < 0 || x < minc) minc = x
		}
		print v["rate"], v["p50_us"], v["p99_us"], v["max_us"], v["lost"], v["late"],
		    v["affinity"], maxc, minc, v["sent"]
	}' "$work/out"
}

# One setup's workers serve the light-load run (1 flow, 1 datagram in
# flight), then the throughput run; the owners' CPU over the latter.
run_udp() {
	local s=$1 l r t0 t1
	start_udp "$s" || { stop_all; return; }
	l=$(udp_client 1 1 1 "$UDP_LIGHT_SECS")
	t0=$(owners_ticks)
	r=$(udp_client "$UDP_FLOWS" "$UDP_WINDOW" "$UDP_THREADS" "$UDP_SECS")
	t1=$(owners_ticks)
	stop_all
	((t0 < 0 || t1 < 0)) && t0=0 t1=-1
	# udp SETUP ROUND rate p50 p99 max lost late aff maxc minc sent ticks
	#   lrate l50 l99 lmax llost llate laff lmaxc lminc lsent
	echo "udp $s $round $r $((t1 - t0)) $l" >>"$results"
	progress "udp $s" "$(awk '{ printf "%s dgram/s, affinity %.2f%%, lost %d", $1, 100 * $7, $5 }' <<<"$r"), $(awk '{ print "light p50 " $2 " us" }' <<<"$l")"
}

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
t_start=$SECONDS
echo "reuseport-shim benchmark: $ROUNDS round(s), running..." >&2
for ((round = 1; round <= ROUNDS; round++)); do
	if [ -z "$ONLY" ]; then
		for s in $(rotate "$MAIN_SETUPS" $((round - 1))); do run_main "$s"; done
		for s in $(rotate "$STALL_SETUPS" $((round - 1))); do run_stall "$s"; done
		for s in $(rotate "$LIGHT_SETUPS" $((round - 1))); do run_light "$s"; done
		for e in $GROW_SIZES; do
			if ((round % 2)); then run_grow kernel "$e"; run_grow shim "$e"
			else run_grow shim "$e"; run_grow kernel "$e"; fi
		done
	fi
	[ "$ONLY" = udp ] || run_sweep
	if [ "$ONLY" != sweep ]; then
		for s in $(rotate "$UDP_SETUPS" $((round - 1))); do run_udp "$s"; done
	fi
done
elapsed=$((SECONDS - t_start))
left=$(ls -A "$rv" 2>/dev/null | wc -l)

report() {
	echo "reuseport-shim benchmark, $started (took ${elapsed}s)"
	echo "machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -sr)"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ -z "$ONLY" ]; then
		echo "settings: $ROUNDS round(s); throughput ${SECS}s per run, $WORKERS workers, $CONC client threads;"
		echo "  stalled: $STALL_CONC closed-loop clients, ${STALL_SECS}s, 1 of $WORKERS workers sleeps ${STALL_DELAY} ms per request;"
		echo "  growth: $GROW_PROCS processes share the endpoints (epoll), $CONC client threads, ${GROW_SECS}s, shim policy roundrobin"
		echo "  figures are medians over rounds; latency is connect() to reply"
		echo "  owner CPU: the rpshim-owner's user+system time over the run, in % of one CPU"
	else
		echo "settings: $ROUNDS round(s), the $([ "$ONLY" = udp ] && echo UDP tables || echo concurrency sweep) only; figures are medians over rounds"
	fi
	if [ "$ONLY" != udp ]; then
		echo "  sweep: $(echo $SWEEP | sed 's/ /, /g') client processes in flight, one connection at a time each, ${SWEEP_SECS}s per run,"
		echo "    $WORKERS workers in blocking accept(); a kernel run before, between every two and after the shim runs"
	fi
	if [ "$ONLY" != sweep ]; then
		echo "  udp: $WORKERS workers, each its own SO_REUSEPORT socket, blocking recvfrom()/sendto(); ${UDP_SIZE}-byte datagrams echoed;"
		echo "    throughput ${UDP_SECS}s per run, $UDP_FLOWS flows (client sockets) from $UDP_THREADS threads, $UDP_WINDOW datagrams in flight per flow;"
		echo "    light load ${UDP_LIGHT_SECS}s per run, 1 flow, 1 datagram in flight; lost: unanswered after ${UDP_TIMEOUT} ms"
	fi
	awk -v main="$MAIN_SETUPS" -v stall="$STALL_SETUPS" -v light="$LIGHT_SETUPS" -v grow="$GROW_SIZES" -v secs="$SECS" -v gsecs="$GROW_SECS" \
	    -v sweep="$SWEEP" -v pols="$POLICIES" -v hz="$HZ" -v only="$ONLY" -v udp="$UDP_SETUPS" -v usecs="$UDP_SECS" '
	function med(key,   n, i, j, t, a) {
		n = cnt[key]
		if (n == 0) return "-"
		for (i = 1; i <= n; i++) a[i] = val[key, i]
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function put(key, v) { val[key, ++cnt[key]] = v + 0 }
	function lat(us) { return us == "-" ? "-" : us >= 10000 ? sprintf("%.0f ms", us / 1000) : sprintf("%.0f us", us) }
	$1 == "main" {
		k = $2; put("r" k, $4); put("p50" k, $5); put("p99" k, $6); put("max" k, $7)
		put("mm" k, $9 > 0 ? $8 / $9 : 1e12); put("min" k, $9); put("maxc" k, $8); fail[k] += $10
		put("cpu" k, $13 / secs)
	}
	$1 == "stall" {
		k = $2; put("sr" k, $4); put("s50" k, $5); put("s99" k, $6); put("smax" k, $7)
		put("share" k, $11); put("nslow" k, $12); sfail[k] += $10
	}
	$1 == "light" { k = $2; put("l50" k, $5); put("l99" k, $6); put("lr" k, $4) }
	$1 == "grow" { put("g" $3 $2, $5); gfail[$3 $2] += $6; if ($3 == "shim") { put("rss" $2, $7); put("gcpu" $2, $8 / gsecs) } }
	# sweep N ROUND SEQ SETUP rate conns failed ticks
	$1 == "sweep" {
		sw[$2, $3, $4] = $5; swr[$2, $3, $4] = $6; swn[$2, $3] = $4 + 1; swfail[$2] += $8
		if ($5 == "kernel") put("wk" $2, $6)
		else if ($9 >= 0 && $7 > 0) put("wus" $2 $5, $9 * 1e6 / hz / $7)
	}
	# udp SETUP ROUND rate p50 p99 max lost late affinity maxc minc sent ticks
	#   and the light-load run: rate p50 p99 max lost late affinity maxc minc sent
	$1 == "udp" {
		k = $2; put("ur" k, $4); put("u50" k, $5); put("u99" k, $6)
		ulost[k] += $8; ulate[k] += $9; usent[k] += $13
		put("uaff" k, $10); put("umm" k, $12 > 0 ? $11 / $12 : 1e12); put("umaxc" k, $11); put("uminc" k, $12)
		if ($14 >= 0) put("ucpu" k, $14 / hz / usecs)
		put("ulr" k, $15); put("ul50" k, $16); put("ul99" k, $17); ullost[k] += $19
	}
	END {
		# Each shim run over the mean of the kernel runs either side of it.
		for (key in sw) {
			split(key, f, SUBSEP); n = f[1]; r = f[2]; q = f[3]
			if (sw[key] == "kernel") continue
			ks = 0; kn = 0
			for (j = q - 1; j >= 0; j--) if (sw[n, r, j] == "kernel") { ks += swr[n, r, j]; kn++; break }
			for (j = q + 1; j < swn[n, r]; j++) if (sw[n, r, j] == "kernel") { ks += swr[n, r, j]; kn++; break }
			if (kn > 0 && ks > 0) put("wr" n sw[key], swr[key] / (ks / kn))
		}
		if (only == "") {
			kr = med("rkernel")
			print ""
			print "Throughput (open loop, as fast as the clients go)"
			printf "%-18s | %9s | %8s | %-22s | %8s | %8s | %8s | %6s | %s\n", "setup", "conn/s", "/kernel", "max/min per worker", "p50", "p99", "max", "failed", "owner CPU"
			n = split(main, m, " ")
			for (i = 1; i <= n; i++) {
				k = m[i]; r = med("r" k)
				mm = med("mm" k)
				mms = (mm == "-") ? "-" : (mm >= 1e12 ? "inf" : sprintf("%.2f", mm))
				mms = sprintf("%s (%d/%d)", mms, med("maxc" k), med("min" k))
				if (k == "single") mms = "- (1 worker)"
				cpu = (k ~ /^shim/) ? sprintf("%.0f%%", 100 * med("cpu" k)) : "-"
				printf "%-18s | %9.0f | %8s | %-22s | %8s | %8s | %8s | %6d | %s\n", k, r,
				    (kr > 0 && r != "-") ? sprintf("%.2f", r / kr) : "-", mms,
				    lat(med("p50" k)), lat(med("p99" k)), lat(med("max" k)), fail[k], cpu
			}
			print ""
			print "Stalled worker (8 closed-loop clients; 1 worker of 4 takes 100 ms per request)"
			printf "%-18s | %9s | %8s | %8s | %8s | %-19s | %s\n", "setup", "conn/s", "p50", "p99", "max", "to the slow worker", "failed"
			n = split(stall, m, " ")
			for (i = 1; i <= n; i++) {
				k = m[i]
				printf "%-18s | %9.0f | %8s | %8s | %8s | %6.2f%% (%6d) | %d\n", k, med("sr" k),
				    lat(med("s50" k)), lat(med("s99" k)), lat(med("smax" k)), med("share" k), med("nslow" k), sfail[k]
			}
			print ""
			print "Latency at light load (1 client, one connection at a time)"
			printf "%-18s | %9s | %8s | %8s | %s\n", "setup", "conn/s", "p50", "p99", "p50 over the kernel"
			n = split(light, m, " "); k50 = med("l50kernel")
			for (i = 1; i <= n; i++) {
				k = m[i]
				printf "%-18s | %9.0f | %8s | %8s | %s\n", k, med("lr" k), lat(med("l50" k)), lat(med("l99" k)),
				    (k == "kernel" || k50 == "-") ? "-" : sprintf("%+.0f us", med("l50" k) - k50)
			}
			print ""
			print "Growth (endpoints in one group; shim policy roundrobin)"
			printf "%-9s | %13s | %11s | %11s | %12s | %9s | %s\n", "endpoints", "kernel conn/s", "shim conn/s", "shim/kernel", "owner VmRSS", "owner CPU", "failed kernel/shim"
			n = split(grow, m, " ")
			for (i = 1; i <= n; i++) {
				e = m[i]; a = med("gkernel" e); b = med("gshim" e)
				printf "%-9s | %13.0f | %11.0f | %11s | %9s kB | %8.0f%% | %d/%d\n", e, a, b,
				    (a > 0) ? sprintf("%.2f", b / a) : "-", med("rss" e), 100 * med("gcpu" e), gfail["kernel" e], gfail["shim" e]
			}
		}
		if (only != "udp") {
			print ""
			print "Concurrency sweep (client processes in flight, one connection at a time each)"
			np = split(pols, pl, " ")
			printf "%-9s | %13s", "", "kernel"
			for (i = 1; i <= np; i++) printf " | %-24s", pl[i]
			printf " |\n"
			printf "%-9s | %13s", "in flight", "conn/s"
			for (i = 1; i <= np; i++) printf " | %7s %7s %8s", "/kernel", "us/conn", "1 thread"
			printf " | %s\n", "failed"
			n = split(sweep, m, " ")
			for (i = 1; i <= n; i++) {
				c = m[i]; k = med("wk" c)
				printf "%-9s | %13s", c, (k == "-") ? "-" : sprintf("%.0f", k)
				for (j = 1; j <= np; j++) {
					p = "shim-" pl[j]; x = med("wr" c p); u = med("wus" c p)
					printf " | %7s %7s %8s", (x == "-") ? "-" : sprintf("%.2f", x),
					    (u == "-") ? "-" : sprintf("%.1f", u), (u == "-" || u <= 0) ? "-" : sprintf("%.0f", 1e6 / u)
				}
				printf " | %d\n", swfail[c]
			}
			print "  /kernel: the shim'"'"'s rate over the mean of the kernel runs either side, same round (median);"
			print "  us/conn: the rpshim-owner'"'"'s user+system CPU time over the run per connection answered;"
			print "  1 thread: 1e6 / us/conn, the connection rate one owner thread could carry at 100% of a CPU"
		}
		if (only != "sweep") {
			kr = med("urkernel"); k50 = med("ul50kernel")
			print ""
			print "UDP throughput (echoed datagrams, many flows in flight)"
			printf "%-18s | %9s | %8s | %8s | %-22s | %8s | %8s | %-16s | %s\n", "setup", "dgram/s", "/kernel", "affinity", "max/min per member", "p50", "p99", "lost", "owner CPU"
			n = split(udp, m, " ")
			for (i = 1; i <= n; i++) {
				k = m[i]; r = med("ur" k)
				if (r == "-") { printf "%-18s | did not run (see the stderr lines below)\n", k; continue }
				mm = med("umm" k)
				mms = sprintf("%s (%d/%d)", mm >= 1e12 ? "inf" : sprintf("%.2f", mm), med("umaxc" k), med("uminc" k))
				c = med("ucpu" k)
				printf "%-18s | %9.0f | %8s | %7.2f%% | %-22s | %8s | %8s | %-16s | %s\n", k, r,
				    (kr != "-" && kr > 0) ? sprintf("%.2f", r / kr) : "-", 100 * med("uaff" k), mms,
				    lat(med("u50" k)), lat(med("u99" k)),
				    sprintf("%d (%.3f%%)", ulost[k], usent[k] > 0 ? 100 * ulost[k] / usent[k] : 0),
				    (k ~ /^shim/ && c != "-") ? sprintf("%.0f%%", 100 * c) : "-"
			}
			print "  dgram/s: datagrams answered per second (one in to a member, one back out from the group'"'"'s port);"
			print "  affinity: of the answers each flow got, the share from the member that answered it first;"
			print "  lost: datagrams not answered within the timeout, over all rounds (and of all sent)"
			print ""
			print "UDP latency at light load (1 flow, 1 datagram in flight)"
			printf "%-18s | %13s | %8s | %8s | %-19s | %s\n", "setup", "round trips/s", "p50", "p99", "p50 over the kernel", "lost"
			for (i = 1; i <= n; i++) {
				k = m[i]; r = med("ulr" k)
				if (r == "-") { printf "%-18s | did not run\n", k; continue }
				x = med("ul50" k)
				printf "%-18s | %13.0f | %8s | %8s | %-19s | %d\n", k, r, lat(x), lat(med("ul99" k)),
				    (k == "kernel" || k50 == "-") ? "-" : sprintf("%+.0f us", x - k50), ullost[k]
			}
		}
	}' "$results"
	echo ""
	if ((leftovers == 0 && left == 0)); then
		echo "cleanup: no rpshim-owner of this run outlived its workers; rendezvous directory empty"
	else
		echo "cleanup: $leftovers owner(s) had to be killed; $left file(s) left in the rendezvous directory"
	fi
	if [ -s "$work/client.err" ]; then
		echo "client failures (per run, as reported):"
		sort "$work/client.err" | uniq -c | sort -rn | head -n 10 | sed 's/^/  /'
	fi
	if grep -qv '^udpclient: lost' "$work/udpclient.err" 2>/dev/null; then
		echo "UDP client errors (first lines):"
		grep -v '^udpclient: lost' "$work/udpclient.err" | sort | uniq -c | sort -rn | head -n 10 | sed 's/^/  /'
	fi
	if [ -s "$work/stderr" ]; then
		echo "worker/shim stderr (first lines):"
		head -n 10 "$work/stderr" | sed 's/^/  /'
	fi
}

report >"$work/report.txt"
cat "$work/report.txt"

# The record is of full runs only: a quick or partial one overwrote it.
if [ -n "${BENCH_MD:-}" ] && [ -n "$ONLY" ]; then
	echo "bench: BENCH_ONLY=$ONLY is a partial run; $BENCH_MD not written" >&2
elif [ -n "${BENCH_MD:-}" ] && { [ -n "$QUICK" ] || [ "$POLICIES" != "$ALL_POLICIES" ]; }; then
	echo "bench: a quick run or BENCH_POLICIES; $BENCH_MD not written" >&2
elif [ -n "${BENCH_MD:-}" ]; then
	{
		cat <<'EOF'
# reuseport-shim benchmark

Written by `make bench` (`bench/run.sh`; `BENCH_QUICK=1` for a short run).
Every figure below comes from one run on the machine named in the table
header, with all setups alternating round by round, on 127.0.0.1 only.
Client and servers share the same CPUs, so absolute rates say more about
this machine than about the shim; the ratios are the point.

The setups, all serving the same tiny protocol (`bench/worker.c`: reply
`<pid>\n`, close) to the same load generator (`bench/client.c`: threads, or
processes, that connect, read the reply, close, again and again):

- **kernel**: 4 worker processes, each with its own `SO_REUSEPORT` socket;
  Linux spreads connections by a hash of the 4-tuple.  The reference.
- **shim-POLICY**: the same 4 processes under `LD_PRELOAD` of the shim in
  `emulate` mode with `REUSEPORT_SHIM_POLICY=POLICY`: one `rpshim-owner`
  process accepts every connection and passes it to a worker over a Unix
  socket (`SCM_RIGHTS`), which acknowledges it.
- **shared**: one ordinary listener bound before `fork`, 4 children blocked
  in `accept()` on it (the classic prefork server; the kernel wakes one idle
  acceptor per connection).
- **single**: one process, one listener, no spreading at all.

How to read it:

- `conn/s` is answered connections per second with 16 client threads going
  as fast as they can; `/kernel` divides by the kernel row (1.00 = as fast
  as the kernel, 0.50 = half its rate).
- `max/min per worker` is the busiest worker's connection count over the
  idlest one's (1.00 = perfectly even; `inf` = some worker got nothing).
  All clients come from 127.0.0.1, so `srcip` (affinity by client address)
  is expected to send everything to one worker.
- The stalled-worker table is closed loop (8 clients, each starts its next
  request when the last one is answered), below what the 3 fast workers
  can serve.  A policy that avoids a stuck worker shows a low p99 and a
  small share to the slow worker; one that ignores load gives it 25% and
  lets clients queue behind it (p99 of several hundred ms).
- The light-load table has one client making one connection at a time:
  no queueing, so `p50 over the kernel` is what the owner's hop adds to a
  connection (the throughput table's latencies are mostly queueing).
- The growth table opens 2 to 1024 `SO_REUSEPORT` sockets on one port in
  2 processes that serve them with epoll; `owner VmRSS` is the resident
  memory of the shim's owner process at that size, measured after the load.
- The concurrency sweep runs 1, 2, 8 and 32 client processes
  (`client -P N -c 1`), each making one connection at a time (blocking
  connect, read, close), against 4 workers that each have their own
  `SO_REUSEPORT` socket and wait in a blocking `accept()` (`worker -b`, a
  prefork server's loop).  The kernel's group and each policy's run side by
  side, with a kernel run before, between every two and after the shim
  runs; `/kernel` is a shim run's rate over the mean of the kernel runs
  either side of it (median over rounds).  `us/conn` is the owner's CPU
  time (user+system from `/proc/PID/stat`, counted in clock ticks, so a
  short run is good to a few percent) per connection answered, and
  `1 thread` is 1e6 over it: the connection rate one owner thread could
  carry at 100% of a CPU, the ceiling the owner puts on a group however
  many CPUs its workers have.
- The UDP tables: 4 `bench/udpworker` processes, each with its own UDP
  socket that sets `SO_REUSEPORT` before `bind()`, echo every datagram
  back to its sender with their pid written in (blocking `recvfrom()` and
  `sendto()`).  **kernel** is Linux's own groups (a hash of the 4-tuple);
  **shim-WAY** the same processes under the shim in `emulate` mode with
  `REUSEPORT_SHIM_UDP=WAY`: `shared` gives every member the one real
  socket; `hash`, `roundrobin` and `srcip` have the owner read the real
  socket and forward each datagram to a member, which answers directly
  from the group's port.  `bench/udpclient` runs 64 flows (each its own
  connected socket, so its own 4-tuple) from 2 threads, each flow with 4
  datagrams in flight, replacing each as it is answered; a datagram not
  answered within 100 ms is `lost` (and replaced).  `dgram/s` is
  datagrams answered per second; `affinity` the share of each flow's
  answers that came from the member that answered its first datagram
  (100% for the kernel's hash; about 25% for roundrobin over 4 members);
  `max/min per member` as for TCP (all flows come from 127.0.0.1, so
  `srcip` sends them all to one member).  **shared** (no shim) is one
  socket bound before `fork`, read by 4 children: what the shim's
  `shared` way amounts to, without the shim.  The light-load table has 1
  flow with 1 datagram in flight: `p50 over the kernel` is what the
  owner's hop adds to a round trip.

Where the shim's time goes, and what was tried: [PROFILE.md](PROFILE.md).

```text
EOF
		cat "$work/report.txt"
		echo '```'
	} >"$BENCH_MD"
	echo "bench: wrote $BENCH_MD" >&2
fi
