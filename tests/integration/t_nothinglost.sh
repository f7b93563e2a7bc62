# Nothing lost: the group outlives any member, connections queued on a
# member that goes away go to another, an endpoint survives exec, the
# owner lingers when asked, and join/leave loops leak nothing.

# The chaos scenario (tests/chaos.sh): freeze and kill workers under load,
# on the kernel and under the shim; both figures are printed, the shim's
# must be zero.
t_chaos() {
	local out
	out=$(CHAOS_ROUNDS=6 CHAOS_CONNS=12000 bash "$ROOT/tests/chaos.sh" both 2>&1)
	note "$(echo "$out" | head -1)"
	note "$(echo "$out" | sed -n 2p)"
	echo "$out" | grep -q '^reuseport-shim: answered 12000 failed 0$' ||
	    fail "the shim lost connections when workers were killed: $out"
	echo "$out" | grep -q '^kernel SO_REUSEPORT: answered' ||
	    fail "the kernel run did not complete: $out"
}

# Separate members; the first binder (the process that started the group)
# crashes, then another member exits cleanly: the rest serve everything.
t_first_dies() {
	local p
	start_server a "${SHIM[@]}" "$BUILD/examples/evloop" -p 0 || return
	server_up a 1 || return
	p=$PORT
	start_server b "${SHIM[@]}" "$BUILD/examples/evloop" -p "$p" || return
	server_up b 1 || return
	start_server c "${SHIM[@]}" "$BUILD/examples/evloop" -p "$p" || return
	server_up c 1 || return
	start_server d "${SHIM[@]}" "$BUILD/examples/evloop" -p "$p" || return
	server_up d 1 || return
	kill -KILL "${SRV_PID[a]}"
	poll_until "$GONE_MS" proc_gone "${SRV_PID[a]}" || fail "first member did not die"
	stop_server b 0
	READY=("${READY[2]}" "${READY[3]}")
	run_load after 127.0.0.1 "$p" 2000 8
	check_balance after 2 2000
	note "after the first binder crashed and another left: $(load_counts after)"
	stop_server c 0
	stop_server d 0
}

# The nginx shape: the parent that bound every socket is killed; its
# workers keep serving, nothing is refused.
t_parent_dies() {
	start_server bf "${SHIM[@]}" "$BUILD/examples/bindfork" -n 3 || return
	server_up bf 3 || return
	kill -KILL "${SRV_PID[bf]}"
	poll_until "$GONE_MS" proc_gone "${SRV_PID[bf]}" || fail "parent did not die"
	run_load orphans 127.0.0.1 "$PORT" 1500 8
	check_balance orphans 3 1500
	note "workers after their parent was killed: $(load_counts orphans)"
}

# The owner holds its copy of a connection until the member says it took
# it; while it holds it, the server's close() sends no FIN.  With the
# group otherwise idle (nothing else wakes the owner), every client must
# still see the reply and then end of stream: the member wakes a sleeping
# owner (shim/ackmem.h).  On a private endpoint and on endpoints shared
# by two processes after fork (bindfork: the parent keeps them all).
PY_EOF='
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    data = b""
    try:
        while True:
            b = c.recv(64)
            if not b:
                break
            data += b
    except socket.timeout:
        sys.exit("connection %d: no end of stream within 10 s after %r" % (i, data))
    if not data.endswith(b"\n"):
        sys.exit("connection %d: reply %r" % (i, data))
'
t_eof_prompt() {
	local out
	need_python
	start_server ev "${SHIM[@]}" "$BUILD/examples/evloop" -p 0 || return
	server_up ev 1 || return
	out=$("$PYTHON" -c "$PY_EOF" "$PORT" 20 2>&1) ||
	    fail "private endpoint: $out"
	stop_server ev 0
	start_server bf "${SHIM[@]}" "$BUILD/examples/bindfork" -n 2 || return
	server_up bf 2 || return
	out=$("$PYTHON" -c "$PY_EOF" "$PORT" 20 2>&1) ||
	    fail "endpoints shared after fork: $out"
	stop_server bf 0
}

# An endpoint inherited across exec: the new program sees a listener with
# the group's address and accepts from it.
PY_EXEC='
import os, socket, sys
if len(sys.argv) > 2:
    s = socket.socket(fileno=int(sys.argv[1]))
    port = int(sys.argv[2])
    print("family", s.family.name, "type", s.type.name,
        "port-same", s.getsockname()[1] == port,
        "acceptconn", s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),
        "reuseport", s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT),
        flush=True)
    c, _ = s.accept()
    c.sendall(b"from-exec\n")
    c.close()
    sys.exit(0)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
port = s.getsockname()[1]
os.set_inheritable(s.fileno(), True)
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[1],
        str(s.fileno()), str(port)])
s.close()
c = socket.create_connection(("127.0.0.1", port), timeout=10)
print("reply", c.recv(64).decode().strip(), flush=True)
c.close()
_, st = os.waitpid(pid, 0)
print("child-status", st, flush=True)
'

t_exec() {
	local out want
	need_python
	out=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_EXEC" "$PY_EXEC" 2>"$TDIR/exec.err")
	want="family AF_INET type SOCK_STREAM port-same True acceptconn 1 reuseport 1
reply from-exec
child-status 0"
	note "$(echo "$out" | head -1)"
	[ "$out" = "$want" ] ||
	    fail "inherited endpoint after exec: got '$out', want '$want' ($(head -3 "$TDIR/exec.err" | tr '\n' ' '))"
}

# A client that connects and says so, then waits for its reply.
PY_CLIENT='
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print("connected", flush=True)
print("reply", c.recv(64).decode().strip(), flush=True)
'

# REUSEPORT_SHIM_LINGER_MS: the only member stops, a client connects during
# the linger, a new member starts: the client is served by it.
t_linger() {
	local p line
	need_python
	start_server a "${SHIM[@]}" REUSEPORT_SHIM_LINGER_MS=2000 \
	    "$BUILD/examples/evloop" -p 0 || return
	server_up a 1 || return
	p=$PORT
	stop_server a 0
	start_server cl "$PYTHON" -c "$PY_CLIENT" "$p" || return
	read_line cl line && [ "$line" = connected ] ||
	    { fail "client could not connect during the linger: ${line:-$READ_WHY}$(server_err cl)"; return; }
	start_server b "${SHIM[@]}" REUSEPORT_SHIM_LINGER_MS=2000 \
	    "$BUILD/examples/evloop" -p "$p" || return
	server_up b 1 || return
	read_line cl line || { fail "no reply: $READ_WHY$(server_err cl)"; return; }
	[ "$line" = "reply ${READY[1]}" ] ||
	    fail "client connected during the linger got '$line', want 'reply ${READY[1]}'"
	note "connected during the linger, served by the next member: $line"
	stop_server b 0
	# The last member is gone again: the owner lingers, then leaves.
	[ -n "$(new_owners)" ] || fail "no owner during the linger"
	poll_until "$GONE_MS" no_new_owners ||
	    fail "owner still there 3 s after a linger of 2 s"
}

# 1,000 joins and leaves against a living group: the owner's fds come back
# to where they were, and no socket file is left but the group's own.
PY_CHURN='
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    if i % 2:
        s.listen(4)
    s.close()
print("done", n, flush=True)
'

owner_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

t_join_leave() {
	local owner before after out mbefore mafter
	need_python
	[ -d /proc/self/fd ] || skip "no /proc to count the owner's fds"
	start_server a "${SHIM[@]}" "$BUILD/examples/evloop" -p 0 || return
	server_up a 1 || return
	owner=$(the_owners)
	[ "$(echo "$owner" | wc -w)" = 1 ] || { fail "want one owner, have '$owner'"; return; }
	before=$(owner_fds "$owner")
	out=$(timeout 50 "${SHIM[@]}" "$PYTHON" -c "$PY_CHURN" "$PORT" 1000 2>"$TDIR/churn.err")
	[ "$out" = "done 1000" ] ||
	    { fail "churn: '$out' ($(head -3 "$TDIR/churn.err" | tr '\n' ' '))"; return; }
	# The owner sees the last leave asynchronously.
	poll_until "$GONE_MS" eval '[ "$(owner_fds '"$owner"')" -le '"$before"' ]'
	after=$(owner_fds "$owner")
	note "owner fds before 1000 join/leave cycles: $before, after: $after"
	[ "$after" = "$before" ] || fail "owner fds $before before, $after after"
	[ "$(dir_sockets | wc -l)" = 1 ] ||
	    fail "socket files after the churn: $(dir_sockets | tr '\n' ' ')"
	# And 10,000 connections: the owner's and the member's fds come back.
	mbefore=$(owner_fds "${SRV_PID[a]}")
	run_load after 127.0.0.1 "$PORT" 10000 8
	check_answered after 10000
	poll_until "$GONE_MS" eval '[ "$(owner_fds '"$owner"')" -le '"$before"' ]'
	after=$(owner_fds "$owner")
	mafter=$(owner_fds "${SRV_PID[a]}")
	note "after 10000 connections: owner fds $after (was $before), member fds $mafter (was $mbefore)"
	[ "$after" = "$before" ] || fail "owner fds $before before 10000 connections, $after after"
	[ "$mafter" = "$mbefore" ] || fail "member fds $mbefore before 10000 connections, $mafter after"
	stop_server a 0
}

# shutdown(SHUT_RD) of one listener: it gets no more connections, the
# other gets them all; accept on the shut one fails with EINVAL, as on
# Linux, natively and under the shim alike.
PY_SHUT='
import errno, socket, sys
a = socket.socket(); b = socket.socket()
for s in (a, b):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
b.bind(("127.0.0.1", port))
a.listen(16); b.listen(16)
a.shutdown(socket.SHUT_RD)
print("acceptconn", a.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
try:
    a.accept()
    print("accept-after-shutdown ok")
except OSError as e:
    print("accept-after-shutdown", errno.errorcode[e.errno])
got = 0
for i in range(10):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    b.settimeout(5)
    s, _ = b.accept(); s.close(); c.close(); got += 1
print("other-got", got)
'

t_shutdown() {
	local native shim
	need_python
	native=$(timeout 20 "$PYTHON" -c "$PY_SHUT" 2>&1)
	shim=$(timeout 20 "${SHIM[@]}" "$PYTHON" -c "$PY_SHUT" 2>&1)
	note "native: $(echo $native)"
	[ "$native" = "$shim" ] || fail "shutdown of a listener: native '$native', shim '$shim'"
}

# kill -9 of the owner itself: the one failure the group does not survive.
# Members' accept fails with one log line (no hang), the port is released,
# and a new bind starts a new group.
t_owner_killed() {
	local owner sb p
	start_server a "${SHIM[@]}" "$BUILD/examples/prefork" -n 1 || return
	server_up a 1 || return
	p=$PORT
	owner=$(the_owners)
	sb=$(the_standbys)
	[ -n "$sb" ] || fail "no standby beside owner $owner"
	# Owner and standby together (the standby first: it must not take
	# over in between): the group ends as it did without a standby.
	kill -KILL $sb $owner
	poll_until "$GONE_MS" proc_gone "$owner" || fail "owner did not die"
	# The member blocked in accept wakes up with an error (prefork then
	# exits): no hang.  An event loop sees the listener readable and in
	# error (POLLHUP), which a kernel listener never is.
	poll_until "$GONE_MS" proc_gone "${SRV_PID[a]}" ||
	    fail "member still running after its owner was killed"
	grep -q "owner process is gone" "$TDIR/a.err" ||
	    fail "no log line about the owner: $(head -3 "$TDIR/a.err" | tr '\n' ' ')"
	[ "$(grep -c 'reuseport-shim' "$TDIR/a.err")" = 1 ] ||
	    fail "want one log line, got: $(cat "$TDIR/a.err" | tr '\n' ' ')"
	start_server b "${SHIM[@]}" "$BUILD/examples/evloop" -p "$p" || return
	server_up b 1 || return
	run_load after 127.0.0.1 "$p" 100 4
	check_answered after 100
	note "new group after the owner was killed: $(load_counts after)"
	stop_server b 0
	# The dead owner's socket file was replaced by the new group's.
	poll_until "$GONE_MS" no_dir_sockets || fail "stale socket left: $(dir_sockets)"
}

# Binds that race an owner on its way out: each cycle ends the group and
# the next bind comes at once; every bind must succeed (retrying until the
# old owner is gone, then starting the next group), none get EADDRINUSE.
PY_RACE='
import errno, socket, sys
n = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.listen(4); s.close()
bad = 0
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind(("127.0.0.1", port)); s.listen(4)
    except OSError as e:
        bad += 1
        print("cycle", i, errno.errorcode[e.errno], flush=True)
    s.close()
print("failed", bad, "of", n, flush=True)
'

t_exit_race() {
	local out
	need_python
	out=$(timeout 50 "${SHIM[@]}" "$PYTHON" -c "$PY_RACE" 300 2>"$TDIR/race.err")
	note "$(echo "$out" | tail -1)"
	[ "$(echo "$out" | tail -1)" = "failed 0 of 300" ] ||
	    fail "binds racing an exiting owner: $(echo "$out" | head -5 | tr '\n' ' ') ($(head -3 "$TDIR/race.err" | tr '\n' ' '))"
}
