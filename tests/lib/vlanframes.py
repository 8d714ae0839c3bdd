#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""vlanframes.py: 802.1Q frames by hand (this kernel has no VLAN netdevs).

  vlanframes.py send IFACE DST SRC COUNT VLAN
      COUNT frames out of IFACE, tagged VLAN (0: untagged), ethertype
      0x88b5 (IEEE's local experimental one), 46 bytes of payload.
  vlanframes.py recv IFACE SRC DONE READY
      the frames of ethertype 0x88b5 from SRC that IFACE receives until
      the file DONE exists (at most 30 s; READY is created once the
      socket listens), and those queued then; prints how many
      came untagged and with each tag: "-:N 10:M", or "none".  A tag the
      stack took out of the bytes (skb->vlan_tci) is read from the
      socket's PACKET_AUXDATA, one left in the bytes from the frame.
"""
import errno
import os
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 1 << 4
ETYPE = 0x88B5


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def send(iface, dst, src, count, vlan):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    tag = struct.pack("!HH", 0x8100, vlan) if vlan else b""
    frame = mac(dst) + mac(src) + tag + struct.pack("!H", ETYPE) + b"\0" * 46
    sent = 0
    while sent < count:
        try:
            s.send(frame)
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                time.sleep(0.001)
                continue
            raise
        sent += 1
    print("sent=%d" % sent)


def recv(iface, src, seconds, ready):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((iface, 0))
    open(ready, "w").close()
    want = mac(src)
    got = {}
    end = time.monotonic() + 30
    done = False
    while True:
        if not done and (os.path.exists(seconds) or time.monotonic() > end):
            done = True
            s.setblocking(False)
        if not done:
            s.settimeout(0.05)
        try:
            data, anc, _flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(32))
        except (socket.timeout, BlockingIOError):
            if done:
                break
            continue
        if addr[2] == socket.PACKET_OUTGOING or data[6:12] != want:
            continue
        vlan = None
        for level, kind, body in anc:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(body) >= 20:
                status, _l, _sl, _m, _n, tci, _tpid = struct.unpack("IIIHHHH", body[:20])
                if status & TP_STATUS_VLAN_VALID:
                    vlan = tci & 0xFFF
        rest = data[12:]
        if vlan is None and rest[:2] == b"\x81\x00":
            vlan = struct.unpack("!H", rest[2:4])[0] & 0xFFF
            rest = rest[4:]
        if rest[:2] != struct.pack("!H", ETYPE):
            continue
        k = "-" if vlan is None else str(vlan)
        got[k] = got.get(k, 0) + 1
    print(" ".join("%s:%d" % (k, got[k]) for k in sorted(got)) or "none")


def main():
    a = sys.argv
    if a[1] == "send":
        send(a[2], a[3], a[4], int(a[5]), int(a[6]))
    elif a[1] == "recv":
        recv(a[2], a[3], a[4], a[5])
    else:
        sys.exit("usage: vlanframes.py send|recv ...")


main()
