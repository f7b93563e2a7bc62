# Joining a group: an owner that does not answer makes a bind fail in
# bounded time, never hang; the default rendezvous directory cannot be
# taken from us by another user; a join leaves errno as the kernel does.

# One member's bind of 127.0.0.1:PORT; "signals": SIGALRM every 20 ms
# meanwhile (the handler does nothing), so each wait is interrupted often.
PY_JOIN_BIND='
import errno, signal, socket, sys
port, mode = int(sys.argv[1]), sys.argv[2]
if mode == "signals":
    signal.signal(signal.SIGALRM, lambda *a: None)
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind(("127.0.0.1", port))
    print("bound", flush=True)
except OSError as e:
    print(errno.errorcode[e.errno], flush=True)
'

# join_probe TAG PORT MODE: PY_JOIN_BIND under the shim, with a hard
# bound; its line in OUT, its exit status in RC.
join_probe() {
	OUT=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_JOIN_BIND" "$2" "$3" \
	    2>"$TDIR/$1.err")
	RC=$?
}

# check_one_line TAG PATH WHAT: the probe's stderr is one line of ours,
# an error naming the rendezvous PATH and saying WHAT.
check_one_line() {
	local n
	n=$(grep -c 'reuseport-shim' "$TDIR/$1.err")
	[ "$n" = 1 ] ||
	    fail "$1: want one log line, got $n: $(head -3 "$TDIR/$1.err" | tr '\n' ' ')"
	grep 'reuseport-shim' "$TDIR/$1.err" | grep -F ': error: ' |
	    grep -F "$2" | grep -qF "$3" ||
	    fail "$1: the line does not name $2 and '$3': $(head -1 "$TDIR/$1.err")"
}

# The owner stopped (SIGSTOP): another member's bind gets EADDRINUSE and
# one line, rather than waiting for as long as the owner stays stopped;
# signals arriving all along do not extend the wait.  Once the owner
# runs again the group serves as before and takes new members.
t_join_stopped() {
	local owner sock mode
	need_python
	start_server a "${SHIM[@]}" "$BUILD/examples/evloop" -p 0 || return
	server_up a 1 || return
	owner=$(the_owners)
	[ "$(echo "$owner" | wc -w)" = 1 ] || { fail "want one owner, have '$owner'"; return; }
	sock=$(dir_sockets)
	kill -STOP "$owner"
	# (the runner kills a stopped owner too, should this process die)
	trap 'kill -CONT '"$owner"' 2>/dev/null' EXIT
	for mode in quiet signals; do
		join_probe "$mode" "$PORT" "$mode"
		note "$mode: bind against a stopped owner: '$OUT' (exit $RC)"
		if [ "$RC" = 124 ]; then
			fail "$mode: bind still waiting for the stopped owner after 20 s"
			continue
		fi
		[ "$OUT" = EADDRINUSE ] ||
		    fail "$mode: bind against a stopped owner: '$OUT', want EADDRINUSE"
		check_one_line "$mode" "$sock" "did not answer"
	done
	kill -CONT "$owner"
	trap - EXIT
	# The abandoned joiners are dropped; the group carries on.
	join_probe after "$PORT" quiet
	[ "$OUT" = bound ] ||
	    fail "after SIGCONT: a new member's bind: '$OUT', want bound ($(head -1 "$TDIR/after.err"))"
	run_load after 127.0.0.1 "$PORT" 100 4
	check_answered after 100
	stop_server a 0
}

# A rendezvous socket whose listener never accepts and whose backlog is
# full (an owner out of fds, the same while stopped once many joiners
# queued): the connect itself must give up too.
PY_DEAF_OWNER='
import os, signal, socket, sys
t = socket.socket()
t.bind(("127.0.0.1", 0)); t.listen(8)
port = t.getsockname()[1]
path = "%s/tcp4-127.0.0.1-%d" % (sys.argv[1], port)
u = socket.socket(socket.AF_UNIX)
u.bind(path); u.listen(0)
def bye(*a):
    os.unlink(path); os._exit(0)
signal.signal(signal.SIGTERM, bye)
fill = []
while True:
    c = socket.socket(socket.AF_UNIX); c.setblocking(False)
    try:
        c.connect(path)
    except BlockingIOError:
        c.close(); break
    fill.append(c)
print("port", port, flush=True)
print("ready", os.getpid(), flush=True)
while True:
    signal.pause()
'

t_join_backlog_full() {
	need_python
	start_server deaf "$PYTHON" -c "$PY_DEAF_OWNER" "$SHIMDIR" || return
	server_up deaf 1 || return
	join_probe deaf "$PORT" quiet
	note "bind against an owner that takes no connections: '$OUT' (exit $RC)"
	if [ "$RC" = 124 ]; then
		fail "bind still waiting to connect after 20 s"
	else
		[ "$OUT" = EADDRINUSE ] ||
		    fail "bind against a full backlog: '$OUT', want EADDRINUSE"
		check_one_line deaf "$SHIMDIR/tcp4-127.0.0.1-$PORT" "took no connection"
	fi
	stop_server deaf 0
	rm -f "$SHIMDIR/tcp4-127.0.0.1-$PORT"
}

# A bind that joins returns 0 with errno untouched, as the kernel's does
# (the shim's refused claim of the port must not show through).
PY_JOIN_ERRNO='
import ctypes, errno, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
a = socket.socket()
a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind(("127.0.0.1", 0)); a.listen(8)
port = a.getsockname()[1]
b = socket.socket()
b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
sin = struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + \
    socket.inet_aton("127.0.0.1") + bytes(8)
ctypes.set_errno(0)
rc = libc.bind(b.fileno(), sin, len(sin))
e = ctypes.get_errno()
print("bind", rc, "errno", errno.errorcode.get(e, e) if e else 0)
'

t_join_errno() {
	local native shim
	need_python
	native=$(timeout 20 "$PYTHON" -c "$PY_JOIN_ERRNO" 2>&1)
	shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_JOIN_ERRNO" 2>&1)
	note "native: $native; shim: $shim"
	[ "$native" = "bind 0 errno 0" ] || fail "native: '$native'"
	[ "$shim" = "$native" ] || fail "a bind that joins: '$shim', want '$native'"
}

# The default directory when another user got to /tmp/reuseport-shim-<uid>
# first: members still meet, under $HOME/.reuseport-shim.  Run in a mount
# namespace with a /tmp of its own, so the real /tmp is never touched;
# HOME is a directory in it.  KIND: none (nobody there: the /tmp name is
# used), link (a symbolic link planted there), theirs (a directory of
# another uid: needs real root to chown).
SQUAT_SH='
set -e
kind=$1
shift
mount -t tmpfs -o mode=1777 rpshim-test /tmp
uid=$(id -u)
mkdir -m 700 /tmp/home
case $kind in
link)	mkdir -m 700 /tmp/elsewhere
	ln -s /tmp/elsewhere "/tmp/reuseport-shim-$uid" ;;
theirs)	mkdir -m 700 "/tmp/reuseport-shim-$uid"
	chown 65534 "/tmp/reuseport-shim-$uid" ;;
esac
HOME=/tmp/home exec "$@"
'
PY_SQUAT='
import errno, os, socket, subprocess, sys
def member(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    return s
a = member(0); port = a.getsockname()[1]
try:
    b = member(port)
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit(0)
name = "tcp4-127.0.0.1-%d" % port
def count(d):
    try:
        return sum(1 for f in os.listdir(d) if f == name)
    except OSError:
        return 0
env = dict((k, v) for k, v in os.environ.items() if k != "LD_PRELOAD")
st = subprocess.run([sys.argv[1], "stat"], env=env, capture_output=True,
    text=True).stdout
print("joined in-tmp", count("/tmp/reuseport-shim-%d" % os.geteuid()),
    "in-home", count(os.environ["HOME"] + "/.reuseport-shim"),
    "stat", "sees-it" if (":%d" % port) in st else "blind")
'

tagged_owners() {
	local p
	for p in $(all_owners); do
		{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
		    grep -qxF "RPSHIM_TEST_TAG=$1" && echo "$p"
	done
}

no_tagged_owners() { [ -z "$(tagged_owners "$1")" ]; }

t_dir_squatted() {
	local ns kind out want left p
	need_python
	[ -d /proc/self ] || skip "no /proc to find the namespace's owner"
	if [ "$(id -u)" = 0 ]; then
		ns=(unshare -m --propagation private)
	else
		ns=(unshare -r -m --propagation private)
	fi
	command -v unshare >/dev/null && "${ns[@]}" true 2>/dev/null ||
	    skip "no mount namespace of our own (needs root or user namespaces)"
	# The namespace's /tmp hides the real one's files.
	for p in "$SHIMLIB" "$BUILD" "$PYTHON"; do
		case $p in /tmp/*) skip "$p is under /tmp, which the test replaces" ;; esac
	done
	for kind in none link theirs; do
		if [ "$kind" = theirs ] && [ "$(id -u)" != 0 ]; then
			note "theirs: not tested (needs root to chown)"
			continue
		fi
		out=$(timeout 30 "${ns[@]}" bash -c "$SQUAT_SH" _ "$kind" \
		    env -u REUSEPORT_SHIM_DIR -u XDG_RUNTIME_DIR \
		    "LD_PRELOAD=${TEST_PRELOAD:+$TEST_PRELOAD }$SHIMLIB" \
		    REUSEPORT_SHIM_MODE=emulate REUSEPORT_SHIM_LOG=warn \
		    "RPSHIM_TEST_TAG=$TDIR/$kind" \
		    "$PYTHON" -c "$PY_SQUAT" "$BUILD/reuseport-shim" \
		    2>"$TDIR/$kind.err")
		note "$kind: $out; $(grep -m1 'rendezvous' "$TDIR/$kind.err" | sed 's/.*: warn: //')"
		case $kind in
		none) want="joined in-tmp 1 in-home 0 stat sees-it" ;;
		*) want="joined in-tmp 0 in-home 1 stat sees-it" ;;
		esac
		[ "$out" = "$want" ] || fail "$kind: '$out', want '$want' ($(head -2 "$TDIR/$kind.err" | tr '\n' ' '))"
		if [ "$kind" = none ]; then
			grep -q 'rendezvous directory' "$TDIR/$kind.err" &&
			    fail "none: a line about the directory: $(head -1 "$TDIR/$kind.err")"
		else
			grep -q "the rendezvous directory is /tmp/home/.reuseport-shim instead" \
			    "$TDIR/$kind.err" ||
			    fail "$kind: no line saying where the directory went: $(head -2 "$TDIR/$kind.err" | tr '\n' ' ')"
		fi
		# Its members are gone, so is its owner (and the namespace).
		if ! poll_until "$GONE_MS" no_tagged_owners "$TDIR/$kind"; then
			left=$(tagged_owners "$TDIR/$kind")
			fail "$kind: owner(s) $left still there"
			for p in $left; do kill_pid "$p"; done
		fi
	done
}
