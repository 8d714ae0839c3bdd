#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 19 (router): the fast path learns the sender of any ARP packet
# for one of the in-port's addresses (plugins/router/router.bpf.c
# rt_arp_in() -> rt_learn()) whatever network the sender claims, and
# rt_arp is keyed by address alone: forwarding (rt_ingress()) takes the
# neighbour's MAC for the route's out-port and never looks at the
# entry's port.  So h1, behind p1, sends one ARP request for p1's
# address claiming h2's address (198.18.2.1, on p2's network) with its
# own MAC; from then on the router sends everything for h2 out of p2 to
# h1's MAC: h3 can no longer reach h2 (a host on one port takes over a
# neighbour of another).  It should learn a sender only on the in-port's
# networks (or key neighbours by port, as Linux does by device).
# r1 (TC): p1 = veth1 (h1), p2 = veth2 (h2), p3 = veth3 (h3).
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/router/router.so")
netns_hosts TC h1:veth1:198.18.1.1 h2:veth2:198.18.2.1 h3:veth3:198.18.3.1
for i in 1 2 3; do ip -n h$i route add default via 198.18.$i.254; done
broker_start

cub_ok router add r1 type=TC
cub_ok r1 ports add p1 peer=veth1 ip=198.18.1.254/24
cub_ok r1 ports add p2 peer=veth2 ip=198.18.2.254/24
cub_ok r1 ports add p3 peer=veth3 ip=198.18.3.254/24
ip netns exec h3 ping -c 2 -i 0.2 -W 3 198.18.2.1 >/dev/null || fail "h3 cannot ping h2 before"
ip netns exec h1 ping -c 1 -W 3 198.18.1.254 >/dev/null || fail "h1 cannot ping p1"
P1MAC=$(ip -n h1 neigh show 198.18.1.254 | grep -oE '([0-9a-f]{2}:){5}[0-9a-f]{2}')
H1MAC=$(ip -n h1 -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)

# One ARP request for p1's address, "from 198.18.2.1", h1's MAC.
ip netns exec h1 python3 - "$P1MAC" "$H1MAC" <<'PY'
import socket, sys
m = lambda s: bytes(int(x, 16) for x in s.split(":"))
dst, src = m(sys.argv[1]), m(sys.argv[2])
arp = bytes([0, 1, 8, 0, 6, 4, 0, 1]) + src + socket.inet_aton("198.18.2.1") + \
    b"\0" * 6 + socket.inet_aton("198.18.1.254")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send(dst + src + b"\x08\x06" + arp)
PY
sleep 0.3
arp=$(cub r1 arp-table show)
cub_log "arp-table after the forged request: $arp"
bad=
grep -qiE "198.18.2.1 +p1 .*$H1MAC" <<<"$arp" && bad="198.18.2.1 (p2's network) learned with h1's MAC $H1MAC from p1"
ip netns exec h3 ping -c 3 -i 0.2 -W 2 198.18.2.1 >/dev/null ||
	bad="$bad; h3 can no longer ping h2 (198.18.2.1): the router sends h2's packets to h1's MAC"
[ -z "$bad" ] || fail "${bad#; }"
