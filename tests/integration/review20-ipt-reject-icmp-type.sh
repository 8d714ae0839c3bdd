#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (iptables REJECT, d5f4fb4): Linux sends no ICMP error for an
# ICMP message of a type it does not know (net/ipv4/icmp.c
# __icmp_send(): "if (*itp > NR_ICMP_TYPES || icmp_pointers[*itp].error)
# goto out", NR_ICMP_TYPES 18), as the twin below shows with
# iptables-legacy.  The cube's fw_reject() (plugins/fwcore/bpf/
# fw_reject.bpf.h) leaves out the error types 3, 4, 5, 11 and 12 only:
# an ICMP message of type 42 (or any of 19..255) to a REJECT rule gets a
# port unreachable.  Control: an echo request (type 8) is answered by
# both.
. "$(dirname "$0")/../lib/netns.sh"
need python3 iptables-legacy

PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start
HA=198.18.0.2
# icmp NS SRC DST TYPE: one ICMP message of TYPE (code 0), then the ICMP
# errors quoting it that come back within 2 s, "T/C from A" a line.
icmp() {
	ip netns exec "$1" python3 - "$2" "$3" "$4" <<'PY'
import socket, struct, sys, time
src, dst, typ = sys.argv[1], sys.argv[2], int(sys.argv[3])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.bind((src, 0))
m = struct.pack("!BBHHH", typ, 0, 0, 0x2020, 1) + b"r20-icmp"
m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
r.sendto(m, (dst, 0))
r.settimeout(0.2)
end = time.time() + 2
while time.time() < end:
    try:
        f = r.recv(2048)
    except socket.timeout:
        continue
    ihl = (f[0] & 15) * 4
    if f[ihl] in (3, 4, 5, 11, 12) and len(f) >= ihl + 8 + 28:
        q = f[ihl + 8:]
        qi = (q[0] & 15) * 4
        if q[9] == 1 and q[qi] == typ and q[qi + 4:qi + 6] == b"\x20\x20":
            print("%d/%d from %s" % (f[ihl], f[ihl + 1], socket.inet_ntoa(f[12:16])))
PY
}

ip netns add la
ip netns add lb
NAMESPACES+=(la lb)
ip link add eth0 netns la type veth peer name eth0 netns lb
ip -n la addr add 198.18.2.1/24 dev eth0
ip -n lb addr add 198.18.2.2/24 dev eth0
for ns in la lb; do ip -n $ns link set eth0 up; ip -n $ns link set lo up; done
ip netns exec lb iptables-legacy -A INPUT -p icmp -j REJECT
l8=$(icmp la 198.18.2.1 198.18.2.2 8)
l42=$(icmp la 198.18.2.1 198.18.2.2 42)
cub_log "Linux REJECT: type 8: '$l8'; type 42: '$l42'"
[ -n "$l8" ] || fail "Linux: an echo request to its REJECT rule not answered (the test is wrong)"
[ -z "$l42" ] || fail "Linux answered ICMP type 42: '$l42' (the test's premise is wrong)"

cub_ok iptables add ipt0
cub_ok ipt0 chain add INPUT
cub_ok ipt0 chain INPUT rule add rej spec="-p icmp -j REJECT"
c8=$(icmp ca 198.18.0.1 "$HA" 8)
c42=$(icmp ca 198.18.0.1 "$HA" 42)
cub_log "the cube's REJECT: type 8: '$c8'; type 42: '$c42'"
[ -n "$c8" ] || fail "control: an echo request to the cube's REJECT rule not answered"
[ -z "$c42" ] || fail "the cube's REJECT answers an ICMP message of unknown type 42 ('$c42'); Linux answers none above type 18"
