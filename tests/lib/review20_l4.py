#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""review20_l4.py IFACE DSTMAC SRC DST udp|tcp PORT good|bad: one UDP
datagram or TCP SYN from SRC:40000 to DST:PORT out of IFACE (AF_PACKET),
its L4 checksum right or wrong (bad: off by one), then for 2 s prints what
answers it: "icmp T/C from A" (an ICMP error quoting PORT) or "rst F from
A" (a TCP segment with RST from PORT, its flags in hex)."""
import socket
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    iface, dmac, src, dst, proto, port, good = sys.argv[1:8]
    port = int(port)
    sa, da = socket.inet_aton(src), socket.inet_aton(dst)
    pnum = 17 if proto == "udp" else 6
    if proto == "udp":
        l4 = struct.pack("!HHHH", 40000, port, 16, 0) + b"x" * 8
        ck_off = 6
    else:
        l4 = struct.pack("!HHIIBBHHH", 40000, port, 12345, 0, 5 << 4, 0x02, 65535, 0, 0)
        ck_off = 16
    ph = sa + da + struct.pack("!BBH", 0, pnum, len(l4))
    c = csum(ph + l4) or 0xFFFF
    if good != "good":
        c = (c + 1) & 0xFFFF or 1
    l4 = l4[:ck_off] + struct.pack("!H", c) + l4[ck_off + 2:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 7, 0, 64, pnum, 0, sa, da)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    smac = open("/sys/class/net/%s/address" % iface).read().strip()
    frame = (bytes(int(x, 16) for x in dmac.split(":")) +
             bytes(int(x, 16) for x in smac.split(":")) + b"\x08\x00" + ip + l4)
    ri = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    rt = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    ri.setblocking(False)
    rt.setblocking(False)
    p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    p.bind((iface, 0))
    p.send(frame)
    end = time.time() + 2
    while time.time() < end:
        got = False
        for r in (ri, rt):
            try:
                f = r.recv(2048)
            except BlockingIOError:
                continue
            got = True
            ihl = (f[0] & 15) * 4
            frm = socket.inet_ntoa(f[12:16])
            if r is ri and f[ihl] == 3 and len(f) >= ihl + 8 + 24:
                q = f[ihl + 8:]
                qi = (q[0] & 15) * 4
                if struct.unpack("!H", q[qi + 2:qi + 4])[0] == port:
                    print("icmp %d/%d from %s" % (f[ihl], f[ihl + 1], frm))
            elif r is rt and len(f) >= ihl + 14:
                sp = struct.unpack("!H", f[ihl:ihl + 2])[0]
                if sp == port and f[ihl + 13] & 0x04:
                    print("rst %02x from %s" % (f[ihl + 13], frm))
        if not got:
            time.sleep(0.02)


main()
