# A member of the shared way survives exec as a member (nginx's binary
# upgrade with the shared policy): its connection to the owner goes
# along with the group's socket, so the group does not end when the old
# program's image does, and a later bind of the port joins it.  Before,
# the member left the group at exec; once it had been the last, the
# next bind found no group and (on illumos) the port taken.

# The member: binds (and listens, TCP), then execs itself in place (the
# same pid) keeping the socket; the new image starts a second member in
# another process and reads `reuseport-shim stat` until the owner has
# seen that one.  That stat is taken after the exec, so the owner has
# by then also seen the first member's connection close, if it closed.
# A second stat after it: the pids of the group's members, the one that
# exec'd marked.  Then, the second member gone, one connection (TCP) or
# datagram (UDP) from a client is answered by the one that exec'd.
PY_SHAREDEXEC='
import json, os, socket, subprocess, sys, time

proto, tool = sys.argv[1], sys.argv[2]
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
    out = subprocess.run([tool, "stat", "--json"], capture_output=True,
                         text=True).stdout
    got = json.loads(out) if out.strip() else []
    return sorted(m["pid"] for g in got for m in g["members"])

if len(sys.argv) == 3:
    s = member(0)
    os.set_inheritable(s.fileno(), True)
    os.execv(sys.executable, [sys.executable, sys.argv[0], proto, tool,
             str(s.fileno()), str(s.getsockname()[1])])

s = socket.socket(fileno=int(sys.argv[3]))
port = int(sys.argv[4])
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

# sharedexec_case PROTO VAR: the scenario in the shared way (VAR: the
# policy variable that chooses it).
sharedexec_case() {
	local out
	need_python
	printf '%s' "$PY_SHAREDEXEC" >"$TDIR/sharedexec.py"
	out=$(timeout 20 "${SHIM[@]}" "$2=shared" "REUSEPORT_SHIM_DIR=$SHIMDIR" \
	    "$PYTHON" "$TDIR/sharedexec.py" "$1" "$BUILD/reuseport-shim" \
	    2>"$TDIR/sharedexec.err")
	note "$1: $(echo "$out" | tr '\n' '|')"
	[ "$out" = "$(printf 'second member: bound\nmembers: exec second\nanswered by the exec'"'"'d member: True')" ] ||
	    fail "$1: want both members in the group after the exec, got: $(echo "$out" | tr '\n' '|') $(head -3 "$TDIR/sharedexec.err" | tr '\n' ' ')"
}

t_sharedexec_tcp() { sharedexec_case tcp REUSEPORT_SHIM_POLICY; }
t_sharedexec_udp() { sharedexec_case udp REUSEPORT_SHIM_UDP; }
