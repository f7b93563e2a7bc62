# A member of the shared way survives exec as a member (nginx's binary
# upgrade with the shared policy): its connection to the owner goes
# along with the group's socket, so the group does not end when the old
# program's image does, and a later bind of the port joins it.  Before,
# the member left the group at exec; once it had been the last, the
# next bind found no group and (on illumos) the port taken.

# The member: binds (and listens, TCP), then execs itself in place (the
# same pid) keeping the socket, with its environment ("keep") or with
# none ("empty": nginx's binary upgrade without its env lines, which the
# shim must survive by putting itself back into the environment, as it
# does for a dispatched TCP member's endpoint, or the new image and its
# second member run without it); the new image starts a second member in
# another process and reads `reuseport-shim stat` (of the directory the
# test names: the environment may not) until the owner has seen that one.  That stat is taken after the exec, so the owner has
# by then also seen the first member's connection close, if it closed.
# A second stat after it: the pids of the group's members, the one that
# exec'd marked.  Then, the second member gone, one connection (TCP) or
# datagram (UDP) from a client is answered by the one that exec'd.
PY_SHAREDEXEC='
import json, os, socket, subprocess, sys, time

proto, tool, how, rvdir = sys.argv[1:5]
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM

def member(port):
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    return s

def serve(s):
    if kind == socket.SOCK_STREAM:
        c, _ = s.accept()
        c.sendall(b"%d\n" % os.getpid())
        c.close()
    else:
        d, a = s.recvfrom(100)
        s.sendto(b"%d\n" % os.getpid(), a)

def pids():
    out = subprocess.run([tool, "stat", "--json", "--dir", rvdir],
                         capture_output=True, text=True).stdout
    got = json.loads(out) if out.strip() else []
    return sorted(m["pid"] for g in got for m in g["members"])

if len(sys.argv) == 5:
    s = member(0)
    os.set_inheritable(s.fileno(), True)
    args = [sys.executable, sys.argv[0], proto, tool, how, rvdir,
            str(s.fileno()), str(s.getsockname()[1])]
    if how == "keep":
        os.execv(sys.executable, args)
    os.execve(sys.executable, args, {})

s = socket.socket(fileno=int(sys.argv[5]))
port = int(sys.argv[6])
r, w = os.pipe()
b = os.fork()
if b == 0:
    os.close(r)
    t = member(port)
    os.write(w, b"bound\n")
    serve(t)
    os._exit(0)
os.close(w)
print("second member:", os.read(r, 100).decode().strip())
deadline = time.monotonic() + 10
while b not in pids() and time.monotonic() < deadline:
    time.sleep(0.01)
got = pids()
print("members:", " ".join("exec" if p == os.getpid() else
                           "second" if p == b else "other" for p in got))
os.kill(b, 9)
os.waitpid(b, 0)
c = socket.socket(socket.AF_INET, kind)
c.settimeout(10)
if kind == socket.SOCK_STREAM:
    c.connect(("127.0.0.1", port))
else:
    c.sendto(b"hi", ("127.0.0.1", port))
serve(s)
print("answered by the exec'"'"'d member:", int(c.recv(100)) == os.getpid())
'

# sharedexec_case PROTO VAR=WAY HOW: the scenario in WAY (VAR: the
# variable that chooses it), the exec with HOW's environment.
sharedexec_case() {
	local out
	need_python
	printf '%s' "$PY_SHAREDEXEC" >"$TDIR/sharedexec.py"
	out=$(timeout 20 "${SHIM[@]}" "$2" "REUSEPORT_SHIM_DIR=$SHIMDIR" \
	    "$PYTHON" "$TDIR/sharedexec.py" "$1" "$BUILD/reuseport-shim" "$3" \
	    "$SHIMDIR" 2>"$TDIR/sharedexec.err")
	note "$1 $2 $3: $(echo "$out" | tr '\n' '|')"
	[ "$out" = "$(printf 'second member: bound\nmembers: exec second\nanswered by the exec'"'"'d member: True')" ] ||
	    fail "$1 $2 $3: want both members in the group after the exec, got: $(echo "$out" | tr '\n' '|') $(head -3 "$TDIR/sharedexec.err" | tr '\n' ' ')"
}

t_sharedexec_tcp() { sharedexec_case tcp REUSEPORT_SHIM_POLICY=shared keep; }
t_sharedexec_udp() { sharedexec_case udp REUSEPORT_SHIM_UDP=shared keep; }

# The exec with an empty environment: the shim is put back for a member
# of the shared way, and for a dispatched UDP member (whose fd is its
# queue, no socket with the owner for a peer), as for an endpoint.
# Before, exec looked for endpoints only: the new image ran without the
# shim, and its second member bound the port for itself ("members:
# exec", the shared way; the exec'd one a member still, through its
# connection to the owner, now an fd of its own); the dispatched
# member's datagrams came with the shim's header to a Unix socket, and
# its reply failed.
t_sharedexec_env_tcp() {
	sharedexec_case tcp REUSEPORT_SHIM_POLICY=shared empty
}
t_sharedexec_env_udp() {
	sharedexec_case udp REUSEPORT_SHIM_UDP=shared empty
}
t_sharedexec_env_udphash() {
	sharedexec_case udp REUSEPORT_SHIM_UDP=hash empty
}
