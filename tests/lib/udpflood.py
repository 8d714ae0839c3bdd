#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""udpflood.py DST MIN STOPFILE PORTS [PORT0] [PAUSE_MS]: UDP datagrams to
DST, destination ports PORT0 .. PORT0+PORTS-1 in turn, as fast as the
socket takes them, until at least MIN were sent and STOPFILE exists (MIN
0: exactly PORTS datagrams, one a port, PAUSE_MS apart).  Prints
sent=N: the datagrams the kernel accepted (send errors are not counted;
ENOBUFS is retried)."""
import errno
import os
import socket
import sys
import time


def main():
    dst, least, stop, ports = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    port0 = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    pause = (int(sys.argv[6]) if len(sys.argv) > 6 else 0) / 1000.0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * 18
    sent = 0
    i = 0
    while True:
        if least == 0 and sent >= ports:
            break
        if least and sent >= least and sent % 1000 == 0 and os.path.exists(stop):
            break
        try:
            s.sendto(payload, (dst, port0 + i))
        except OSError as e:
            if e.errno in (errno.ENOBUFS, errno.EAGAIN):
                time.sleep(0.001)
                continue
            raise
        sent += 1
        i = (i + 1) % ports
        if pause:
            time.sleep(pause)
    print("sent=%d" % sent, flush=True)


if __name__ == "__main__":
    main()
