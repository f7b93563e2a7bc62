# lib.sh: helpers for the integration tests.
#
# Sourced twice over: by run.sh (the runner: suite set-up, one test at a
# time, cleanup, leftover checks) and by the bash process each test case
# runs in (under `timeout`), which uses the server and load helpers.
#
# Synchronisation: a server's stdout is a FIFO, and the test reads its
# "port <n>" / "ready <pid>" lines with `read -t`, so it knows the server
# listens.  The only waits are bounded polls (20 ms steps) for things that
# end asynchronously: a process exiting, an owner going, a port freed.

READ_TIMEOUT=${READ_TIMEOUT:-10}	# s, for each line a server prints
TEST_TIMEOUT=${TEST_TIMEOUT:-60}	# s, for a whole test case
GONE_MS=3000				# bound on every asynchronous exit

# ---------------------------------------------------------------- time, polls

now_ms() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local t=${EPOCHREALTIME/[.,]/}
		echo $((t / 1000))
	else
		date +%s%3N
	fi
}

# poll_until MS CMD...: run CMD every 20 ms until it succeeds (0) or MS
# milliseconds have passed (1).
poll_until() {
	local limit=$1 end
	shift
	end=$(($(now_ms) + limit))
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.02
	done
}

# ---------------------------------------------------------------- processes

# A process that exited but was not reaped yet (state Z) counts as gone.
proc_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [[ $st != Z* ]]
}

proc_gone() { ! proc_alive "$1"; }

group_alive() {
	ps -eo pgid=,stat= 2>/dev/null |
	    awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

group_gone() { ! group_alive "$1"; }

# kill_group PGID: TERM, then KILL after a bounded wait.
kill_group() {
	group_alive "$1" || return 0
	kill -TERM -- "-$1" 2>/dev/null
	poll_until 2000 group_gone "$1" && return 0
	kill -KILL -- "-$1" 2>/dev/null
	poll_until 1000 group_gone "$1"
}

# kill_pid PID: the same for one process (an owner runs in its own session).
kill_pid() {
	proc_alive "$1" || return 0
	kill -TERM "$1" 2>/dev/null
	poll_until 2000 proc_gone "$1" && return 0
	kill -KILL "$1" 2>/dev/null
	poll_until 1000 proc_gone "$1"
}

# ---------------------------------------------------------------- owners, dir

# Every live rpshim-owner of our uid.
all_owners() {
	ps -eo pid=,uid=,stat=,comm= 2>/dev/null |
	    awk -v u="$(id -u)" '$2 == u && $3 !~ /^Z/ && $4 == "rpshim-owner" { print $1 }'
}

# Owners this run started: not there when the run began, and (where the
# environment can be read) forked from a program we gave our rendezvous
# dir, so that another suite running at the same time is not blamed on us.
new_owners() {
	local p
	for p in $(all_owners); do
		case " $BASE_OWNERS " in *" $p "*) continue ;; esac
		if [ -r "/proc/$p/environ" ]; then
			# (it may exit meanwhile: then it is not a leftover)
			{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
			    grep -qxF "REUSEPORT_SHIM_DIR=$SHIMDIR" || continue
		elif [ -d /proc/self ] && [ ! -e "/proc/$p" ]; then
			# It exited between ps and here (another suite's
			# owner, most likely): gone, so not a leftover, and
			# not ours to name.  Only an environ we may not read
			# of a process still there counts it as ours.
			continue
		fi
		echo "$p"
	done
}

no_new_owners() { [ -z "$(new_owners)" ]; }

# Of those, the groups' owners, and their standbys (standby.h): a standby
# runs as "rpshim-owner standby ..." until it takes over.
owner_role() { ps -o args= -p "$1" 2>/dev/null | awk '{ print $2 }'; }
is_standby() { case $(owner_role "$1") in standby | udpstandby) return 0 ;; esac; return 1; }
# rpshim-owner's first process forks the owner and exits: on a busy
# machine it may not have run its _exit yet, and is then the parent of
# an owner, not one (two owners were named, and a test killed both).
launcher() {
	local q
	for q in $2; do
		[ "$q" != "$1" ] && ! is_standby "$q" &&
		    [ "$(ps -o ppid= -p "$q" 2>/dev/null | tr -d ' ')" = "$1" ] &&
		    return 0
	done
	return 1
}
the_owners() {
	local p all
	all=$(new_owners)
	for p in $all; do
		is_standby "$p" || launcher "$p" "$all" || echo "$p"
	done
}
the_standbys() {
	local p
	for p in $(new_owners); do
		is_standby "$p" && echo "$p"
	done
}

dir_sockets() { find "$SHIMDIR" -type s 2>/dev/null; }

no_dir_sockets() { [ -z "$(dir_sockets)" ]; }

dir_empty() { [ -z "$(ls -A "$SHIMDIR" 2>/dev/null)" ]; }

nothing_left() { no_new_owners && no_dir_sockets; }

describe_owners() {
	local p sep=""
	for p in "$@"; do
		printf '%sowner %s (%s)' "$sep" "$p" \
		    "$(ps -o args= -p "$p" 2>/dev/null | cut -c1-60)"
		sep="; "
	done
}

# check_leftovers: wait (bounded) for owners to go and sockets to vanish;
# whatever is still there is described on stdout, killed or removed, and
# the return status is 1.
check_leftovers() {
	local owners socks p
	poll_until "$GONE_MS" nothing_left && return 0
	owners=$(new_owners)
	socks=$(dir_sockets)
	printf 'leftover after 3 s: %s%s%s' "$(describe_owners $owners)" \
	    "${owners:+${socks:+; }}" \
	    "${socks:+socket(s) $(echo $socks | sed "s|$SHIMDIR/||g")}"

	for p in $owners; do kill_pid "$p"; done
	for p in $socks; do rm -f "$p"; done
	return 1
}

# ---------------------------------------------------------------- test outcome
# (in the test's process)

fail() { printf '%s\n' "$*" >>"$TDIR/fail"; }
failed() { [ -s "$TDIR/fail" ]; }
skip() { printf '%s\n' "$*" >"$TDIR/skip"; exit 0; }
note() { printf '# %s\n' "$*"; }

need_python() {
	[ -n "$PYTHON" ] || skip "python3 not found"
}

# need_nobody: a second user to run things as, or SKIP with the reason.
# Sets AS_NOBODY (the command prefix) and NOBODY_PY (a python3 that user
# can run: ours may sit under /root).
need_nobody() {
	local p
	need_python
	[ "$(id -u)" = 0 ] || skip "needs root to run a second user (nobody) with setpriv"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups
	    --inh-caps=-all --bounding-set=-all --)
	# A clone in a private directory (/root, a 0700 home): nobody
	# cannot load the library from there, which is no finding of ours.
	"${AS_NOBODY[@]}" test -r "$SHIMLIB" ||
	    skip "user nobody cannot read $SHIMLIB (a private directory)"
	NOBODY_PY=""
	for p in "$PYTHON" /usr/bin/python3; do
		if "${AS_NOBODY[@]}" env "$p" -c pass 2>/dev/null; then
			NOBODY_PY=$p
			return 0
		fi
	done
	skip "no python3 that user nobody can run"
}

# ---------------------------------------------------------------- servers
# (in the test's process)

declare -A SRV_PID SRV_FD
READY=()

# The programs under the shim: "${SHIM[@]}" prog args.  Later VAR=VAL
# arguments override these (env applies them in order).
child_init() {
	SHIM=(env "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$SHIMLIB" REUSEPORT_SHIM_MODE=emulate
	    "REUSEPORT_SHIM_DIR=$SHIMDIR")
}

# start_server NAME CMD...: CMD in a session (and process group) of its
# own, stdout on a FIFO that we read, stderr in $TDIR/NAME.err.  The runner
# kills every group listed in $TDIR/servers after the test.
start_server() {
	local name=$1 fifo fd pid
	shift
	fifo=$TDIR/$name.out
	rm -f "$fifo"
	mkfifo "$fifo" || { fail "mkfifo $fifo failed"; return 1; }
	# Not a group leader (no job control here), so setsid(1) calls
	# setsid() in place: $! is the session and process group id.
	setsid "$@" >"$fifo" 2>"$TDIR/$name.err" </dev/null &
	pid=$!
	echo "$pid" >>"$TDIR/servers"
	exec {fd}<"$fifo"
	SRV_PID[$name]=$pid
	SRV_FD[$name]=$fd
}

server_err() {
	[ -s "$TDIR/$1.err" ] &&
	    printf ' [stderr: %s]' "$(head -3 "$TDIR/$1.err" | tr '\n' ' ')"
}

# read_line NAME VAR: the server's next stdout line, within READ_TIMEOUT.
# On failure READ_WHY says why.
read_line() {
	local _l _rc
	IFS= read -r -t "$READ_TIMEOUT" -u "${SRV_FD[$1]}" _l
	_rc=$?
	if [ "$_rc" -gt 128 ]; then
		READ_WHY="nothing within ${READ_TIMEOUT}s"
		return 1
	elif [ "$_rc" != 0 ]; then
		READ_WHY="end of output (exited?)"
		return 1
	fi
	printf -v "$2" '%s' "$_l"
}

# expect_port NAME: "port <n>" into PORT.
expect_port() {
	local line
	if ! read_line "$1" line; then
		fail "$1: no 'port' line: $READ_WHY$(server_err "$1")"
		return 1
	fi
	case $line in
	"port "[0-9]*) PORT=${line#port } ;;
	*) fail "$1: expected 'port <n>', got '$line'$(server_err "$1")"
	   return 1 ;;
	esac
	if [ "$(ps -o sid= -p "${SRV_PID[$1]}" | tr -d ' ')" != "${SRV_PID[$1]}" ]; then
		fail "$1: not in a session of its own"
		return 1
	fi
}

# expect_ready NAME N: N "ready <pid>" lines; the pids are added to READY.
expect_ready() {
	local line i
	for ((i = 0; i < $2; i++)); do
		if ! read_line "$1" line; then
			fail "$1: $i of $2 'ready' lines, then $READ_WHY$(server_err "$1")"
			return 1
		fi
		case $line in
		"ready "[0-9]*) READY+=("${line#ready }") ;;
		*) fail "$1: expected 'ready <pid>', got '$line'$(server_err "$1")"
		   return 1 ;;
		esac
	done
}

# server_up NAME N: "port" then N "ready" lines.
server_up() { expect_port "$1" && expect_ready "$1" "$2"; }

# stop_server NAME [STATUS]: SIGTERM to the server's main process, a
# bounded wait for it to exit (else KILL its group), its exit status in
# SRV_STATUS, checked against STATUS if given; then nothing of its process
# group may remain.
stop_server() {
	local name=$1 pid=${SRV_PID[$1]} killed=""
	kill -TERM "$pid" 2>/dev/null
	if ! poll_until "$GONE_MS" proc_gone "$pid"; then
		killed=" (no exit within ${GONE_MS} ms of SIGTERM; killed)"
		kill -KILL -- "-$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	SRV_STATUS=$?
	exec {SRV_FD[$name]}<&-
	if ! poll_until 1000 group_gone "$pid"; then
		killed="$killed (processes of its group outlived it)"
		kill_group "$pid"
	fi
	if [ -n "$killed" ]; then
		fail "$name: stop$killed$(server_err "$name")"
	elif [ -n "${2:-}" ] && [ "$SRV_STATUS" != "$2" ]; then
		fail "$name: exit status $SRV_STATUS after SIGTERM, want $2$(server_err "$name")"
	fi
}

# ---------------------------------------------------------------- load

# run_load TAG ADDR PORT COUNT CONC: loadclient (never under the shim)
# into $TDIR/TAG.load, status in LOAD_RC.
run_load() {
	"$BUILD/tests/loadclient" -a "$2" -p "$3" -n "$4" -c "$5" \
	    >"$TDIR/$1.load" 2>"$TDIR/$1.loaderr"
	LOAD_RC=$?
}

load_counts() {
	awk '$1 == "pid" { printf "%s%s:%s", sep, $2, $3; sep = " " }' "$TDIR/$1.load"
}

# check_answered TAG TOTAL
check_answered() {
	local a f
	read -r a f < <(awk '$1 == "answered" { print $2, $4 }' "$TDIR/$1.load")
	if [ "$LOAD_RC" != 0 ] || [ "${a:-}" != "$2" ] || [ "${f:-}" != 0 ]; then
		fail "$1: answered ${a:-?} failed ${f:-?} of $2 (loadclient exit $LOAD_RC; $(head -3 "$TDIR/$1.loaderr" | tr '\n' ' '))"
		return 1
	fi
}

# check_balance TAG N TOTAL: all answered, by exactly N pids, all of them
# in READY, each within +-10% of TOTAL/N.
check_balance() {
	local tag=$1 n=$2 total=$3 pids=0 pid count lo hi
	check_answered "$tag" "$total" || return 1
	lo=$((total * 9 / (n * 10)))
	hi=$(((total * 11 + n * 10 - 1) / (n * 10)))
	while read -r _ pid count; do
		pids=$((pids + 1))
		case " ${READY[*]} " in
		*" $pid "*) ;;
		*) fail "$tag: pid $pid answered but is not one of the ready workers (${READY[*]})" ;;
		esac
		if [ "$count" -lt "$lo" ] || [ "$count" -gt "$hi" ]; then
			fail "$tag: pid $pid got $count connections, want $lo..$hi"
		fi
	done < <(awk '$1 == "pid"' "$TDIR/$tag.load")
	[ "$pids" -eq "$n" ] ||
	    fail "$tag: $pids pids answered, want $n ($(load_counts "$tag"))"
}

# ---------------------------------------------------------------- runner
# (in run.sh's process)

suite_init() {
	local py
	unset LD_PRELOAD "${!REUSEPORT_SHIM_@}"
	# make test-asan: another build, and the sanitizer runtime preloaded
	# ahead of the library (TEST_PRELOAD).
	BUILD=${TEST_BUILD:-$ROOT/build}
	# TEST_LIKE_ILLUMOS=1: the build takes illumos's paths where Linux can
	# (platform.c, PLAT_LIKE_ILLUMOS); the oracle then expects illumos's
	# answers where the two kernels differ.
	SUITE=integration
	[ "${TEST_LIKE_ILLUMOS:-0}" = 1 ] && SUITE=illumoslike
	SHIMLIB=$BUILD/libreuseport_shim.so
	# The interpreter itself, not a wrapper script (pyenv...): a wrapper
	# would run under the preload too and say everything twice.
	PYTHON=""
	if py=$(command -v python3) && [ -n "$py" ]; then
		PYTHON=$("$py" -c 'import sys; print(sys.executable)' 2>/dev/null) ||
		    PYTHON=""
	fi
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/rpshim-it.XXXXXX") || exit 1
	SHIMDIR=$(mktemp -d "${TMPDIR:-/tmp}/rpshim-rv.XXXXXX") || exit 1
	chmod 700 "$SHIMDIR"
	BASE_OWNERS=$(all_owners | tr '\n' ' ')
	export TI_HERE ROOT BUILD SUITE SHIMLIB PYTHON WORK SHIMDIR BASE_OWNERS TEST_PRELOAD \
	    READ_TIMEOUT TEST_TIMEOUT
	N_PASS=0 N_FAIL=0 N_SKIP=0
	CUR_TEST_PID=""
	trap suite_exit EXIT
	trap 'suite_signal 130' INT
	trap 'suite_signal 143' TERM
}

# Kill every server group a test started (they outlive its bash process).
reap_servers() {
	local pid
	[ -f "$1" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] && kill_group "$pid"
	done <"$1"
}

fail_text() {
	awk '{ printf "%s%s", sep, $0; sep = "; " }' "$TDIR/fail"
}

# run_test NAME FUNCTION [SECS].  TESTS="name ..." in the environment runs
# only those (for working on one case; the total counts only what ran).
# SECS: the case's own bound instead of TEST_TIMEOUT, for one whose work
# is many round trips to an owner, which a busy machine makes slower in
# proportion (a bound on a hang, never a pace).
run_test() {
	local name=$1 fn=$2 secs=${3:-$TEST_TIMEOUT} rc why left
	[ -n "${TESTS:-}" ] && [[ " $TESTS " != *" $name "* ]] && return 0
	TDIR=$WORK/$name
	mkdir -p "$TDIR"
	: >"$TDIR/servers"
	export TDIR
	timeout -k 5 "$secs" bash -c '
		. "$TI_HERE/lib.sh"
		for f in "$TI_HERE"/t_*.sh; do . "$f"; done
		child_init
		"$1"' _ "$fn" >"$TDIR/log" 2>&1 </dev/null &
	CUR_TEST_PID=$!
	wait "$CUR_TEST_PID"
	rc=$?
	CUR_TEST_PID=""

	reap_servers "$TDIR/servers"
	left=$(check_leftovers)

	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		why="timed out after ${secs}s"
		[ -s "$TDIR/fail" ] && why="$why; $(fail_text)"
	elif [ -s "$TDIR/fail" ]; then
		why=$(fail_text)
	elif [ -s "$TDIR/skip" ] && [ "$rc" = 0 ]; then
		why=""
	elif [ "$rc" != 0 ]; then
		why="test exited with status $rc"
	else
		why=""
	fi
	[ -n "$left" ] && why="${why:+$why; }$left"

	if [ -n "$why" ]; then
		echo "FAIL $name: $why"
		N_FAIL=$((N_FAIL + 1))
	elif [ -s "$TDIR/skip" ]; then
		echo "SKIP $name: $(head -1 "$TDIR/skip")"
		N_SKIP=$((N_SKIP + 1))
	else
		echo "ok $name"
		N_PASS=$((N_PASS + 1))
	fi
	# What the test said (counts, diffs), indented under its result.
	[ -s "$TDIR/log" ] && head -60 "$TDIR/log" | sed 's/^/    /'
	return 0
}

suite_finish() {
	echo "$SUITE: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
	[ "$N_FAIL" -eq 0 ]
}

# Interrupted: stop the running test (timeout passes the signal on to its
# process group), then leave through the EXIT trap.
suite_signal() {
	trap - INT TERM
	if [ -n "$CUR_TEST_PID" ]; then
		kill -TERM "$CUR_TEST_PID" 2>/dev/null
		wait "$CUR_TEST_PID" 2>/dev/null
	fi
	exit "$1"
}

# On any exit: kill whatever servers and owners are left, remove the dirs.
suite_exit() {
	local st=$? d p
	trap - EXIT INT TERM
	for d in "$WORK"/*/; do
		reap_servers "$d/servers"
	done
	for p in $(new_owners); do
		echo "integration: killing leftover owner $p" >&2
		kill_pid "$p"
	done
	rm -rf "$WORK" "$SHIMDIR"
	exit "$st"
}

# What the burst scripts (t_udpburst.sh, t_tcpburst.sh) share: the tool
# (reuseport-shim, under the shim only) as their second argument, its
# stat of the group, and a wait.
PY_BURSTLIB='
import json, os, select, signal, socket, subprocess, sys, time

tool = sys.argv[2] if len(sys.argv) > 2 else None


def stat():
    # {} while the owner does not answer (one taking over, a loaded host).
    try:
        return json.loads(subprocess.run(
            [tool, "stat", "--json"], capture_output=True, text=True).stdout)[0]
    except (ValueError, IndexError):
        return {}


def take_over(n):
    # The owner killed, n times: each standby must know what the owner
    # it replaces knew, the second one from the first that took over.
    for k in range(n):
        until(lambda: stat().get("standby_pid"), "standby")
        dead = stat()["owner_pid"]
        os.kill(dead, signal.SIGKILL)
        until(lambda: stat().get("owner_pid") not in (None, dead) and
              stat().get("takeovers") == k + 1, "takeover %d" % (k + 1))


def until(cond, what):
    # 20 s bounds a hang; the normal path ends as soon as cond holds.
    end = time.monotonic() + 20
    while not cond():
        if time.monotonic() > end:
            sys.exit("no " + what + ": " + json.dumps(stat()))
        time.sleep(0.05)
'
