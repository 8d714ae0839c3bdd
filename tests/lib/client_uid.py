#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Connections of one uid against those of another, for client-uidcap.sh.

  client_uid.py SOCKDIR hold PROCS CONNS CHURN
      PROCS processes each open CONNS idle client connections; then CHURN
      more are dialed, each from a fresh short-lived child that hands the
      fd over (every one a new pid).  Prints "held N" when all were
      dialed (N: those still open), then sleeps until killed.
  client_uid.py SOCKDIR legit GOFILE
      open one client connection, print "open", wait until GOFILE exists,
      then send "show cubes" on it: prints "answered" or "closed (...)".
  client_uid.py SOCKDIR pipeline CUBE ROUNDS
      on one connection, send ROUNDS x (CUBE ports p1 set action=drop,
      set action=slowpath, show action) without waiting, then read every
      reply: each must come back in the order sent and every show must
      see the set sent just before it.  Prints "in order N" or "out of
      order: ...".
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_client import (REQ0, client_path, hold_in_children, mp,
                            mp_decode, raise_nofile, sp_connect, sp_frame,
                            sp_recv)


def still_open(s):
    """False once the broker closed s (EOF readable)."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def cmd_hold(sockdir, procs, conns, churn):
    raise_nofile()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def dial():
        try:
            return sp_connect(client_path(sockdir), REQ0, timeout=30)
        except (ConnectionError, OSError):
            return None

    kids, _ = hold_in_children(procs, conns, dial)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    held = []
    for _ in range(int(churn)):
        pid = os.fork()
        if pid == 0:
            try:
                s = sp_connect(client_path(sockdir), REQ0, timeout=30)
                socket.send_fds(a, [b"x"], [s.fileno()])
            except (ConnectionError, OSError):
                a.send(b"-")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        _, fds, _, _ = socket.recv_fds(b, 1, 1)
        if fds:
            held.append(socket.socket(fileno=fds[0]))
    time.sleep(0.5)
    print("held %d" % sum(still_open(s) for s in held), flush=True)
    try:
        time.sleep(3600)
    finally:
        for k in kids:
            os.kill(k, 9)


def cmd_legit(sockdir, gofile):
    s = sp_connect(client_path(sockdir), REQ0, timeout=30)
    print("open", flush=True)
    while not os.path.exists(gofile):
        time.sleep(0.05)
    try:
        s.sendall(sp_frame(7, mp([0, 7, "request",
                                  {"words": ["show", "cubes"]}])))
        frame, _ = mp_decode(sp_recv(s)[4:])
        print("answered %r" % (frame,), flush=True)
    except (ConnectionError, OSError) as e:
        print("closed (%s)" % e, flush=True)


def cmd_pipeline(sockdir, cube, rounds):
    s = sp_connect(client_path(sockdir), REQ0, timeout=60)
    sent, msgid, tag = [], 0, "%d-%d" % (os.getpid(), int(time.time()))
    out = b""
    for r in range(int(rounds)):
        for action in ("slowpath", "drop"):
            msgid += 1
            p = {"words": [cube, "ports", "p1", "set"],
                 "args": {"action": action}, "rid": "pl-%s-%d" % (tag, msgid)}
            out += sp_frame(msgid, mp([0, msgid, "request", p]))
            sent.append((msgid, None))
        msgid += 1
        out += sp_frame(msgid, mp([0, msgid, "request",
                                   {"words": [cube, "ports", "p1", "show",
                                              "action"]}]))
        sent.append((msgid, "drop"))
    s.sendall(out)
    for want_id, want in sent:
        frame, _ = mp_decode(sp_recv(s)[4:])
        if frame[1] != want_id or frame[2] is not None:
            print("out of order: expected reply %d, got %r" % (want_id, frame))
            return
        if want is not None and frame[3] != want:
            print("out of order: show %d saw %r, not %r" % (want_id, frame[3],
                                                             want))
            return
    print("in order %d" % len(sent), flush=True)


def main():
    sockdir, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"hold": cmd_hold, "legit": cmd_legit,
     "pipeline": cmd_pipeline}[cmd](sockdir, *args)


if __name__ == "__main__":
    main()
