#!/usr/bin/env python3
"""udpflow.py: a UDP SO_REUSEPORT member and its client, for compat.sh.

It knows nothing of the shim: an ordinary program, run under the library
of one build or the other.

  udpflow.py serve [-p PORT] [--ttl before|after]
      One socket with SO_REUSEPORT and IP_PKTINFO bound to
      127.0.0.1:PORT (0: the kernel picks); with --ttl, IP_RECVTTL too,
      set before or after the bind (a member of a newer build tells its
      owner in HELLO, or later with a record of its own).  Prints
      "port P", then "ready PID".  Answers each datagram D with
      "PID DST TTL D": DST the destination IP_PKTINFO reported ("none"
      without one), TTL the one IP_RECVTTL reported ("none").  The
      answer leaves by sendmsg with the IP_PKTINFO it got (a DNS
      server's way: reply from the address asked).  SIGTERM: exit 0.

  udpflow.py client PORT [-n COUNT] [-c FLOWS] [-w WINDOW]
      COUNT datagrams from FLOWS sockets (flows) in turn, at most WINDOW
      unanswered at once; stops when all are answered or nothing came
      for 3 s.  Prints "answered A of N", "dups D", "wrong W",
      "affinity ok" or "affinity broken K" (flows answered by more than
      one process), then per answering process
      "member PID COUNT FLOWS DSTS TTLS" (DSTS, TTLS: the values its
      answers carried, comma-separated).  Exit 0 if it could run.
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL_CMSG = 2                     # the cmsg type of a received TTL
STALL_S = 3.0


def say(line):
    os.write(1, (line + "\n").encode())


def serve(args):
    ap = argparse.ArgumentParser(prog="udpflow.py serve")
    ap.add_argument("-p", type=int, default=0, dest="port")
    ap.add_argument("--ttl", choices=("before", "after"))
    o = ap.parse_args(args)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    if o.ttl == "before":
        s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    s.bind(("127.0.0.1", o.port))
    if o.ttl == "after":
        s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    say("port %d" % s.getsockname()[1])
    say("ready %d" % os.getpid())
    me = os.getpid()
    while True:
        try:
            d, anc, _, src = s.recvmsg(2048, 256)
        except InterruptedError:
            continue
        dst, ttl, info = "none", "none", None
        for level, typ, data in anc:
            if level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                info = data
                dst = socket.inet_ntoa(data[8:12])
            elif level == socket.IPPROTO_IP and typ == IP_TTL_CMSG:
                ttl = str(struct.unpack("=i", data[:4])[0])
        reply = b"%d %s %s " % (me, dst.encode(), ttl.encode()) + d
        anc_out = [(socket.IPPROTO_IP, IP_PKTINFO, info)] if info else []
        try:
            s.sendmsg([reply], anc_out, 0, src)
        except OSError as e:
            sys.stderr.write("sendmsg: %s\n" % e)


def client(args):
    ap = argparse.ArgumentParser(prog="udpflow.py client")
    ap.add_argument("port", type=int)
    ap.add_argument("-n", type=int, default=256, dest="count")
    ap.add_argument("-c", type=int, default=64, dest="flows")
    ap.add_argument("-w", type=int, default=8, dest="window")
    o = ap.parse_args(args)
    cs = []
    for _ in range(o.flows):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.1", 0))
        c.setblocking(False)
        cs.append(c)
    fdmap = {c.fileno(): k for k, c in enumerate(cs)}
    p = select.poll()
    for c in cs:
        p.register(c, select.POLLIN)
    answered, outstanding = {}, {}
    dups = wrong = 0
    per_flow = {}                   # flow -> pids that answered it
    per_pid = {}                    # pid -> [count, flows, dsts, ttls]
    nxt = 0
    stall = time.monotonic() + STALL_S
    while (nxt < o.count or outstanding) and time.monotonic() < stall:
        while nxt < o.count and len(outstanding) < o.window:
            k = nxt % o.flows
            cs[k].sendto(b"q%d" % nxt, ("127.0.0.1", o.port))
            outstanding[nxt] = k
            nxt += 1
        for fd, _ in p.poll(max(0, (stall - time.monotonic()) * 1000)):
            k = fdmap[fd]
            while True:
                try:
                    d, src = cs[k].recvfrom(2048)
                except BlockingIOError:
                    break
                w = d.split(b" ", 3)
                if (len(w) != 4 or not w[3].startswith(b"q") or
                        src != ("127.0.0.1", o.port)):
                    wrong += 1
                    continue
                q = int(w[3][1:])
                if q in answered:
                    dups += 1
                    continue
                if outstanding.get(q) != k:
                    wrong += 1
                    continue
                del outstanding[q]
                pid = int(w[0])
                answered[q] = pid
                per_flow.setdefault(k, set()).add(pid)
                m = per_pid.setdefault(pid, [0, set(), set(), set()])
                m[0] += 1
                m[1].add(k)
                m[2].add(w[1].decode())
                m[3].add(w[2].decode())
                stall = time.monotonic() + STALL_S
    print("answered %d of %d" % (len(answered), o.count))
    print("dups %d" % dups)
    print("wrong %d" % wrong)
    split = sum(1 for v in per_flow.values() if len(v) > 1)
    print("affinity %s" % ("ok" if split == 0 else "broken %d" % split))
    for pid in sorted(per_pid):
        m = per_pid[pid]
        print("member %d %d %d %s %s" % (pid, m[0], len(m[1]),
                                         ",".join(sorted(m[2])),
                                         ",".join(sorted(m[3]))))
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "serve":
        return serve(argv[2:])
    if len(argv) >= 3 and argv[1] == "client":
        return client(argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
