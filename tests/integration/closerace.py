"""closerace.py race TOOL ROUNDS: close() racing another thread's
accept() (issue 12), under the shim with slowrecv.so preloaded after it.
TOOL is the reuseport-shim command (stat --json reads the group).

This process is one member (M1), a child process (M2, "closerace.py serve
TOOL PORT") the other; clients send a unique id on each connection, and
each server reports the ids it got (it peeks, so that two servers of one
connection would both see it).  Each round: M1 listens, a thread of it
blocks in accept(), slowrecv is armed, the listener is closed under that
thread (Linux lets its accept go on), clients connect until the thread's
recvmsg has a connection (slowrecv holds it there, before the shim
acknowledges it); the recvmsg held the endpoint's last reference, so the
owner sees the endpoint end and hands on what it had not seen
acknowledged, the held connection too: we wait (bounded poll on stat)
until M1 has left the group, then let the thread go on.  Acknowledging
now is too late: it must not return that connection, or it is served
twice.

Prints one line: "rounds R served-twice D lost L m1 <what M1's accepts
gave>".  Every wait is a bounded poll or a socket timeout, never a sleep
standing in for synchronisation."""
import ctypes, errno, os, socket, subprocess, sys, threading

from faults import group, poll   # this folder; it reads TOOL from argv[2]

TOOL = sys.argv[2]


def member(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    return s


def peek_id(c):
    c.settimeout(5)
    try:
        return c.recv(32, socket.MSG_PEEK).split(b"\n")[0].decode()
    except OSError:
        return "?"


def serve(port):
    s = member(port)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        print("got", peek_id(c), flush=True)
        c.close()


def acceptor(lst, out):
    try:
        c, _ = lst.accept()
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e)))
        return
    out.append("got " + peek_id(c))
    c.close()


def main(rounds):
    lib = ctypes.CDLL(None)
    if not hasattr(lib, "slowrecv_arm"):
        return "setup: slowrecv.so is not preloaded"
    first = member(0)
    port = first.getsockname()[1]
    m2 = subprocess.Popen([sys.executable, __file__, "serve", TOOL,
                           str(port)], stdout=subprocess.PIPE, text=True)
    m2_got = []
    try:
        if m2.stdout.readline().strip() != "ready":
            return "setup: the second member did not start"
        reader = threading.Thread(target=lambda: m2_got.extend(
            line.split()[1] for line in m2.stdout if line.startswith("got")),
            daemon=True)
        reader.start()
        first.close()   # M2 holds the group from here
        return race(lib, port, rounds, m2_got)
    finally:
        m2.terminate()
        m2.wait(10)


def race(lib, port, rounds, m2_got):
    clients, sent, m1 = [], [], []

    def client():
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"%d\n" % len(sent))
        sent.append(str(len(sent)))
        clients.append(c)

    def members():
        return len((group(port) or {}).get("members", []))

    for r in range(rounds):
        if not poll(lambda: members() == 1):
            return "round %d: the group never came back to one member" % r
        lst = member(port)
        out = []
        t = threading.Thread(target=acceptor, args=(lst, out))
        t.start()
        if not poll(lambda: lib.slowrecv_inside() >= 1):
            return "round %d: accept never waited in recvmsg" % r
        lib.slowrecv_arm()
        os.close(lst.detach())      # the application's close, under it
        # Round-robin: one of the next two is M1's, and the thread's.
        if not poll(lambda: lib.slowrecv_held() == 1 or client()):
            return "round %d: the closed listener got no connection" % r
        # The held recvmsg dropped the endpoint's last reference.
        left = poll(lambda: members() == 1)
        lib.slowrecv_go()
        t.join(10)
        if not left:
            return "round %d: the owner never saw the endpoint end" % r
        m1.append(out[0] if out else "nothing")
    # Everything sent is served by someone (M2 gets what was handed on).
    poll(lambda: len(set(m2_got) | {x[4:] for x in m1
                                    if x.startswith("got ")}) >= len(sent))
    got = [x[4:] for x in m1 if x.startswith("got ")] + list(m2_got)
    twice = sorted({i for i in got if got.count(i) > 1}, key=int)
    lost = [i for i in sent if i not in got]
    for c in clients:
        c.close()
    return "rounds %d served-twice %d lost %d m1 %s%s" % (
        rounds, len(twice), len(lost), " ".join(m1),
        " (twice: %s)" % " ".join(twice) if twice else "")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[3]))
    else:
        print(main(int(sys.argv[3])), flush=True)
