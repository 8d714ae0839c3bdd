#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (iptables REJECT, d5f4fb4): Linux's REJECT sends no ICMP
# error for a datagram that came as a link-layer broadcast or to an IP
# broadcast address (__icmp_send(): "No replies to physical
# multicast/broadcast", skb->pkt_type != PACKET_HOST; rt_flags
# RTCF_BROADCAST), and never sees a frame addressed to another host's
# MAC (ip_rcv drops PACKET_OTHERHOST before INPUT).  The cube's
# fw_reject() (plugins/fwcore/bpf/fw_reject.bpf.h) refuses only
# 0.0.0.0, 224/3 and 255.255.255.255 and looks at no MAC, so a UDP
# datagram from ca to the subnet broadcast 198.18.0.255, as a
# link-layer broadcast (ff:ff:ff:ff:ff:ff) to the host's
# address, or to a stranger's MAC is answered with an ICMP port
# unreachable (from 198.18.0.255 in the first case) which Linux never
# sends: a broadcast-triggered reflector on every wire the cube filters.
# Control: a unicast datagram is answered (the rule works); a twin with
# iptables-legacy answers the unicast one and none of the others.
. "$(dirname "$0")/../lib/netns.sh"
need python3 iptables-legacy

PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start
HA=198.18.0.2
cub_ok iptables add ipt0
for c in INPUT FORWARD; do
	cub_ok ipt0 chain add $c
	cub_ok ipt0 chain $c rule add rej spec="-p udp -m udp --dport 7021 -j REJECT"
done

# send KIND: ca sends one UDP datagram to port 7021 (KIND: unicast,
# subnet-bcast, l2-bcast, otherhost) and prints the ICMP errors that
# come back to it within 2 s, as "type/code from SRC", one a line.
# send [NS SRC DST BCAST] KIND (NS etc. default: ca, 198.18.0.1, the host, 198.18.0.255)
send() {
	local ns=ca src=198.18.0.1 dst=$HA bc=198.18.0.255
	[ $# -gt 1 ] && { ns=$1 src=$2 dst=$3 bc=$4; shift 4; }
	ip netns exec $ns python3 - "$1" "$dst" "$src" "$bc" <<'PY'
import socket, struct, sys, time
kind, ha, me, bc = sys.argv[1:5]
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.settimeout(0.2)
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
if kind == "unicast" or kind == "subnet-bcast":
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    u.bind((me, 40000))
    u.sendto(b"x" * 8, (ha if kind == "unicast" else bc, 7021))
else:
    mac = open("/sys/class/net/eth0/address").read().strip()
    src = bytes(int(x, 16) for x in mac.split(":"))
    dst = b"\xff" * 6 if kind == "l2-bcast" else bytes.fromhex("020000200099")
    udp = struct.pack("!HHHH", 40000, 7021, 16, 0) + b"x" * 8
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(me), socket.inet_aton(ha))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    ph = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    udp = udp[:6] + struct.pack("!H", csum(ph + udp) or 0xffff) + udp[8:]
    p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    p.bind(("eth0", 0))
    p.send(dst + src + b"\x08\x00" + ip + udp)
end = time.time() + 2
while time.time() < end:
    try:
        f = r.recv(2048)
    except socket.timeout:
        continue
    ihl = (f[0] & 15) * 4
    if f[ihl] == 3 and len(f) >= ihl + 8 + 28:
        q = f[ihl + 8:]
        qihl = (q[0] & 15) * 4
        if struct.unpack("!H", q[qihl + 2:qihl + 4])[0] == 7021:
            print("%d/%d from %s" % (f[ihl], f[ihl + 1], socket.inet_ntoa(f[12:16])))
PY
}

# Linux in a twin, the same rule: la (198.18.2.1) -> lb (198.18.2.2).
ip netns add la
ip netns add lb
NAMESPACES+=(la lb)
ip link add eth0 netns la type veth peer name eth0 netns lb
ip -n la addr add 198.18.2.1/24 dev eth0
ip -n lb addr add 198.18.2.2/24 dev eth0
for ns in la lb; do ip -n $ns link set eth0 up; ip -n $ns link set lo up; done
ip netns exec lb iptables-legacy -A INPUT -p udp --dport 7021 -j REJECT
ip -n la neigh replace 198.18.2.2 lladdr "$(ip -n lb -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)" dev eth0 nud permanent
out=$(send la 198.18.2.1 198.18.2.2 198.18.2.255 unicast)
cub_log "Linux: unicast: '$out'"
[ -n "$out" ] || fail "Linux: a unicast datagram to its REJECT rule not answered (the test is wrong)"
for k in subnet-bcast l2-bcast otherhost; do
	out=$(send la 198.18.2.1 198.18.2.2 198.18.2.255 $k)
	cub_log "Linux: $k: '$out'"
	[ -z "$out" ] || fail "Linux answered $k: '$out' (the test's premise is wrong)"
done

out=$(send unicast)
cub_log "unicast datagram to $HA:7021: '$out'"
grep -q "3/3 from $HA" <<<"$out" || fail "control: a unicast datagram to a REJECT rule got no port unreachable: '$out'"

bad=""
for k in subnet-bcast l2-bcast otherhost; do
	out=$(send $k)
	cub_log "$k datagram to port 7021: '$out'"
	[ -z "$out" ] || bad+=" $k: '$out';"
done
[ -z "$bad" ] || fail "REJECT answered what Linux never answers (broadcast, or a frame to another host's MAC):$bad"
