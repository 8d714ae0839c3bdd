#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""l2frames.py IFACE DST SRC COUNT [ETHERTYPE]: COUNT Ethernet frames out
of IFACE (AF_PACKET), to DST from SRC (MACs "02:00:00:00:00:01"; SRC
"seq:02:00:00" gives each frame its own source, that prefix then a
24-bit counter from 1), with ETHERTYPE (default 0x88b5, IEEE's local
experimental one: no stack answers it) and 46 bytes of payload.  ENOBUFS
is retried.  Prints sent=N."""
import errno
import socket
import sys
import time


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def main():
    iface, dst, src, count = sys.argv[1], mac(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    etype = int(sys.argv[5], 16) if len(sys.argv) > 5 else 0x88B5
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    seq = src.startswith("seq:")
    base = mac(src[4:]) if seq else mac(src)
    tail = etype.to_bytes(2, "big") + b"\0" * 46
    sent = 0
    while sent < count:
        if seq:
            srcb = base + (sent + 1).to_bytes(3, "big")
        else:
            srcb = base
        try:
            s.send(dst + srcb + tail)
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                time.sleep(0.001)
                continue
            raise
        sent += 1
    print("sent=%d" % sent)


main()
