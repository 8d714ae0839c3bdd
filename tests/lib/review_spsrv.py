#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Attacks on the broker's own SP server (broker/spsrv.c, clients.c), for
the review-spsrv-*.sh tests.

  review_spsrv.py SOCKDIR partial PROCS CONNS MIB
      PROCS processes, each opening CONNS client connections that declare
      a message of MIB MiB and send all of it but its last byte, then hold
      them; prints "partial: N held" once all are sent, then sleeps.
  review_spsrv.py SOCKDIR lockout FILL EXTRA
      fill the client table with FILL connections, each dialed by its own
      short-lived process (one per pid: no per-process cap applies), open a
      legitimate connection, then dial EXTRA more from fresh pids; the
      legitimate connection then sends "show cubes".  Prints "lockout: answered"
      or "lockout: closed".
  review_spsrv.py SOCKDIR svcflood PROCS CONNS DEPTH SECONDS
      keep PROCS x CONNS x DEPTH "simpleforwarder show" requests in
      flight, reading every reply, for SECONDS.
  review_spsrv.py SOCKDIR bigreply PROCS CONNS REQS SIZE / onebig SIZE
      requests with a SIZE-byte unknown word (probes; the decoder caps
      words, so the reply stays small).
"""
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_client import (REQ0, client_path, die_with_parent,
                            hold_in_children, hold_until_killed, mp,
                            mp_decode, raise_nofile, sp_connect, sp_frame,
                            sp_recv)


def cmd_partial(sockdir, procs, conns, mib):
    raise_nofile()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    n = int(mib) << 20
    body = b"\x00" * (n - 1)

    def dial():
        s = sp_connect(client_path(sockdir), REQ0, timeout=30)
        s.sendall(b"\x01" + struct.pack(">Q", n) + body)
        return s

    kids, got = hold_in_children(procs, conns, dial)
    print("partial: %d held" % (got * int(conns)), flush=True)
    hold_until_killed(kids)


def dial_from_new_pid(sockdir, a):
    """Dial from a fresh child process, which hands the fd over and exits."""
    pid = os.fork()
    if pid == 0:
        try:
            s = sp_connect(client_path(sockdir), REQ0)
            socket.send_fds(a, [b"x"], [s.fileno()])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    _, fds, _, _ = socket.recv_fds(b, 1, 1)
    return socket.socket(fileno=fds[0])


def cmd_lockout(sockdir, fill, extra):
    global b
    raise_nofile()
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    held = [dial_from_new_pid(sockdir, a) for _ in range(int(fill))]
    time.sleep(0.5)
    legit = sp_connect(client_path(sockdir), REQ0)
    for _ in range(int(extra)):
        held.append(dial_from_new_pid(sockdir, a))
    time.sleep(0.5)
    try:
        legit.sendall(sp_frame(7, mp([0, 7, "request", {"words": ["show", "cubes"]}])))
        frame, _ = mp_decode(sp_recv(legit)[4:])
        print("lockout: answered %r" % (frame,))
    except (ConnectionError, OSError) as e:
        print("lockout: closed (%s)" % e)


def big_request(msgid, size):
    """[0, msgid, "request", {"words": [a str of size bytes]}]."""
    return (b"\x94\x00" + mp(msgid) + mp("request") + b"\x81" + mp("words") +
            b"\x91\xdb" + struct.pack(">I", size) + b"x" * size)


def cmd_bigreply(sockdir, procs, conns, reqs, size):
    """PROCS processes x CONNS connections, each sending REQS requests
    whose unknown first word is SIZE bytes (the error reply repeats it)
    and never reading a reply; prints "bigreply: N sent", then holds."""
    raise_nofile()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    frame = sp_frame(1, big_request(1, int(size)))

    def dial():
        s = sp_connect(client_path(sockdir), REQ0, timeout=30)
        for _ in range(int(reqs)):
            s.sendall(frame)
        return s

    kids, got = hold_in_children(procs, conns, dial)
    print("bigreply: %d connections sent" % (got * int(conns)), flush=True)
    hold_until_killed(kids)


def cmd_onebig(sockdir, size):
    s = sp_connect(client_path(sockdir), REQ0, timeout=30)
    s.sendall(sp_frame(1, big_request(1, int(size))))
    print("onebig: reply of %d bytes" % len(sp_recv(s)))


def cmd_svcflood(sockdir, procs, conns, depth, seconds):
    """PROCS processes x CONNS connections, each keeping DEPTH requests
    "simpleforwarder show" in flight (it reads each reply and sends the
    next, 2 ms apart: well under the rate limit and the reply queue), for
    SECONDS."""
    import threading
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    frame = sp_frame(1, mp([0, 1, "request",
                            {"words": ["simpleforwarder", "show"]}]))

    def loop(end):
        while time.time() < end:
            try:
                s = sp_connect(client_path(sockdir), REQ0, timeout=10)
                for _ in range(int(depth)):
                    s.sendall(frame)
                while time.time() < end:
                    sp_recv(s)
                    s.sendall(frame)
                    time.sleep(0.002)
            except (ConnectionError, OSError):
                time.sleep(0.01)

    kids = []
    for _ in range(int(procs)):
        pid = os.fork()
        if pid == 0:
            die_with_parent()
            end = time.time() + float(seconds)
            ts = [threading.Thread(target=loop, args=(end,))
                  for _ in range(int(conns))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            os._exit(0)
        kids.append(pid)
    try:
        for k in kids:
            os.waitpid(k, 0)
    finally:
        for k in kids:
            try:
                os.kill(k, 9)
            except ProcessLookupError:
                pass


def main():
    sockdir, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"partial": cmd_partial, "lockout": cmd_lockout,
     "bigreply": cmd_bigreply, "onebig": cmd_onebig,
     "svcflood": cmd_svcflood}[cmd](sockdir, *args)


if __name__ == "__main__":
    main()
