#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 19 (router): IPv4 packets to the router's MAC that a router
# must not answer (RFC 1812; Linux does not).  plugins/router/router.bpf.c
# rt_ingress() never verifies the header checksum, and rt_icmp_error()
# checks the source address but not the destination:
# - an echo request to 198.18.1.254 with a bad IP header checksum is
#   answered (rt_echo() writes a fresh, valid checksum: a corrupted
#   header is answered, to whatever its bytes now say) - RFC 1812
#   5.2.2: a router MUST verify the checksum and drop;
# - a UDP datagram to 224.1.2.3 (multicast) or to 255.255.255.255
#   (limited broadcast), no route covering it, gets an ICMP net
#   unreachable - RFC 1812 4.3.2.7 / RFC 1122 3.2.2: no ICMP error
#   about a datagram to a broadcast or multicast address;
# - with TTL 1, the same multicast datagram gets a time exceeded.
# The control: a well-formed echo request is answered.
# r1 (TC): p1 = veth1 (h1), p2 = veth2 (h2).
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/router/router.so")
netns_hosts TC h1:veth1:198.18.1.1 h2:veth2:198.18.2.1
for i in 1 2; do ip -n h$i route add default via 198.18.$i.254; done
broker_start

cub_ok router add r1 type=TC
cub_ok r1 ports add p1 peer=veth1 ip=198.18.1.254/24
cub_ok r1 ports add p2 peer=veth2 ip=198.18.2.254/24
ip netns exec h1 ping -c 1 -W 3 198.18.1.254 >/dev/null || fail "h1 cannot ping p1"
P1MAC=$(ip -n h1 neigh show 198.18.1.254 | grep -oE '([0-9a-f]{2}:){5}[0-9a-f]{2}')
H1MAC=$(ip -n h1 -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)

# probe KIND: sends one crafted frame to p1's MAC, prints the ICMP type
# the router sent back within 2 s ("none" if nothing came).
cat >"$T/probe.py" <<'PY'
import socket, struct, sys, time
m = lambda s: bytes(int(x, 16) for x in s.split(":"))
kind, dst, src = sys.argv[1], m(sys.argv[2]), m(sys.argv[3])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def ip(daddr, proto, payload, ttl=64, bad=False):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0, ttl, proto, 0,
                    socket.inet_aton("198.18.1.1"), socket.inet_aton(daddr))
    c = csum(h) ^ (0x5555 if bad else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload
echo = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + b"review19" * 4
echo = echo[:2] + struct.pack("!H", csum(echo)) + echo[4:]
udp = struct.pack("!HHHH", 40000, 40001, 8 + 16, 0) + b"x" * 16
pkt = {"echo": ip("198.18.1.254", 1, echo),
       "echo-badsum": ip("198.18.1.254", 1, echo, bad=True),
       "mcast": ip("224.1.2.3", 17, udp),
       "bcast": ip("255.255.255.255", 17, udp),
       "mcast-ttl1": ip("224.1.2.3", 17, udp, ttl=1)}[kind]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("eth0", 0))
s.settimeout(0.2)
s.send(dst + src + b"\x08\x00" + pkt)
end = time.time() + 2
got = "none"
while time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    if len(f) >= 14 + 20 + 8 and f[6:12] == dst and f[14 + 9] == 1 and \
            f[14 + 12:14 + 16] == socket.inet_aton("198.18.1.254") and f[0:6] == src:
        ihl = (f[14] & 15) * 4
        t = f[14 + ihl]
        if t in (0, 3, 11):
            got = {0: "echo-reply", 3: "unreachable", 11: "time-exceeded"}[t]
            break
print(got)
PY
probe() { ip netns exec h1 python3 "$T/probe.py" "$1" "$P1MAC" "$H1MAC"; }
ctl=$(probe echo)
[ "$ctl" = echo-reply ] || fail "control: a well-formed echo request got '$ctl'"
bad=
for k in echo-badsum mcast bcast mcast-ttl1; do
	got=$(probe $k)
	cub_log "$k: $got"
	[ "$got" = none ] || bad="$bad; $k got $got"
done
[ -z "$bad" ] || fail "answered what a router must not: ${bad#; }"
