#!/usr/bin/env python3
"""least.py: leastloaded passes over a member busy with a request.

Run under the shim with REUSEPORT_SHIM_POLICY=leastloaded.  Two listeners
of one group: the one that takes the first connection then stays away
(a worker stuck in a slow request: nothing queued to it, but not
waiting either); a child process serves the other.  Before each of the
next connections the test waits until the child sleeps in accept(),
having said so to the owner, then connects.  Every one must reach the
child and none the stuck listener's queue: both have nothing unaccepted,
so an owner that did not know who waits would take turns between them.

Prints "served N of N, stuck listener: empty" or what went wrong.
exit: 0 ran, 1 could not set up
"""

import os
import select
import signal
import socket
import sys
import time

ROUNDS = 8
WAIT_S = 20          # bound on any one wait: a failure, never a pace


def fail(msg):
    print(msg)
    sys.exit(1)


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


def serve(w):
    """The child: accept, answer a byte, close, for ever."""
    while True:
        c, _ = w.accept()
        c.sendall(b"w")
        c.close()


def state(pid):
    """Its scheduler state: S while it sleeps (in accept, here)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_asleep(pid):
    deadline = time.monotonic() + WAIT_S
    while state(pid) != "S":
        if time.monotonic() > deadline:
            fail("the serving child never slept in accept()")
        time.sleep(0.001)


def main():
    if not os.path.exists("/proc/self/stat"):
        print("SKIP: no /proc to see a process sleep")
        return
    a = listener(0)
    b = listener(a.getsockname()[1])
    port = a.getsockname()[1]
    c0 = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
    ready, _, _ = select.select([a, b], [], [], WAIT_S)
    if not ready:
        fail("the first connection reached neither listener")
    stuck = ready[0]
    other = b if stuck is a else a
    held, _ = stuck.accept()        # and never accepts again
    pid = os.fork()
    if pid == 0:
        try:
            stuck.close()
            serve(other)
        finally:
            os._exit(0)
    served = 0
    try:
        for _ in range(ROUNDS):
            wait_asleep(pid)
            c = socket.create_connection(("127.0.0.1", port),
                                         timeout=WAIT_S)
            ready, _, _ = select.select([c, stuck], [], [], WAIT_S)
            if stuck in ready:
                print("served %d of %d, stuck listener: got one" %
                      (served, ROUNDS))
                return
            if c not in ready or c.recv(1) != b"w":
                fail("a connection was not answered")
            served += 1
            c.close()
        print("served %d of %d, stuck listener: empty" % (served, ROUNDS))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        held.close()
        c0.close()


if __name__ == "__main__":
    signal.alarm(4 * WAIT_S)        # the whole test, should anything hang
    main()
