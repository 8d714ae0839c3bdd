#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# A load balancer test's client (lbrp.sh, lbrp-multi.sh); the VIP and
# the source address from LB_VIP (198.19.0.1) and LB_SRC (198.18.1.1).
# flows N BASE: N short TCP connections from source ports BASE..: one
#   line "sport name" each ("sport -" when it failed).
# udp N BASE: the same over UDP; "sport name" or "sport -" (no answer,
#   or an answer from elsewhere than the VIP).
# hold N BASE: N connections kept open; then, for each line "check" on
#   stdin, one line "sport:name ..." (name "-" for a dead one); "close"
#   closes them.
import os, socket, struct, sys
from concurrent.futures import ThreadPoolExecutor
VIP = os.environ.get("LB_VIP", "198.19.0.1")
SRC = os.environ.get("LB_SRC", "198.18.1.1")
mode, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def conn(sport):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(5)
    s.bind((SRC, sport))
    s.connect((VIP, 80))
    f = s.makefile("r")
    return s, f, f.readline().strip()
def flow(sport):
    for attempt in range(3):
        try:
            s, f, name = conn(sport)
            s.close()
            return "%d %s" % (sport, name or "-")
        except OSError:
            pass
    return "%d -" % sport
def uflow(sport):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((SRC, sport))
    s.settimeout(2)
    for attempt in range(3):
        try:
            s.sendto(b"hi", (VIP, 53))
            data, addr = s.recvfrom(100)
            s.close()
            if addr != (VIP, 53):
                return "%d -" % sport
            return "%d %s" % (sport, data.decode())
        except OSError:
            pass
    return "%d -" % sport
if mode in ("flows", "udp"):
    with ThreadPoolExecutor(32) as ex:
        for line in ex.map(flow if mode == "flows" else uflow,
                           range(base, base + n)):
            print(line)
    sys.exit(0)
held = {}
for sport in range(base, base + n):
    held[sport] = conn(sport)
print(" ".join("%d:%s" % (p, c[2]) for p, c in held.items()), flush=True)
for cmd in sys.stdin:
    if cmd.strip() == "close":
        break
    out = []
    for p, (s, f, _) in held.items():
        try:
            s.sendall(b"x\n")
            out.append("%d:%s" % (p, f.readline().strip() or "-"))
        except OSError:
            out.append("%d:-" % p)
    print(" ".join(out), flush=True)
for s, f, _ in held.values():
    s.close()
