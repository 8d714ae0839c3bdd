#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 19 (router): the fast path learns the sender of every ARP
# packet for a port's address whatever address it claims
# (plugins/router/router.bpf.c rt_arp_in() -> rt_learn(), no check that
# spa is on the in-port's networks), and learned neighbours never age
# (README "Not yet").  One host behind p1 sends 65536 ARP requests for
# p1's address claiming 65536 addresses on no port's network
# (198.19.0.0/16): rt_arp (RT_ARP_MAX 65536, a HASH) is full for good,
# and no neighbour the router has not met yet is ever learned: h2,
# which speaks only afterwards, is not in rt_arp after pings both ways,
# and each packet to it goes through the worker's queue (the slow path
# counter grows per packet) instead of the fast path.  The router
# should learn only senders on the in-port's networks (and age or
# evict learned entries).
# r1 (TC): p1 = veth1 (h1), p2 = veth2 (h2).
. "$(dirname "$0")/../lib/netns.sh"
need python3
need bpftool

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

ip netns exec h1 python3 - "$P1MAC" "$H1MAC" <<'PY'
import errno, socket, sys, time
m = lambda s: bytes(int(x, 16) for x in s.split(":"))
dst, src = m(sys.argv[1]), m(sys.argv[2])
base = int.from_bytes(socket.inet_aton("198.19.0.0"), "big")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
i = 0
while i < 65536:
    arp = bytes([0, 1, 8, 0, 6, 4, 0, 1]) + src + (base + i).to_bytes(4, "big") + \
        b"\0" * 6 + socket.inet_aton("198.18.1.254")
    try:
        s.send(dst + src + b"\x08\x06" + arp)
    except OSError as e:
        if e.errno == errno.ENOBUFS:
            time.sleep(0.001)
            continue
        raise
    i += 1
PY
sleep 0.5
n=$(bpftool -j map dump pinned "$T/pins/r1/rt_arp" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
cub_log "rt_arp holds $n entries after h1's 65536 requests"

s0=$(port_counter r1 p1 slowpath)
ip netns exec h1 ping -c 5 -i 0.3 -W 2 198.18.2.1 >"$T/ping.out" 2>&1 || true
ip netns exec h2 ping -c 2 -i 0.3 -W 2 198.18.1.1 >/dev/null 2>&1 || true
s1=$(port_counter r1 p1 slowpath)
bad=
[ "$n" -le 1000 ] || bad="rt_arp holds $n entries: 198.19.0.0/16 (no port's network) learned from p1"
bpftool map lookup pinned "$T/pins/r1/rt_arp" key 198 18 2 1 >/dev/null 2>&1 ||
	bad="$bad; h2 (198.18.2.1) never learned after pings both ways (pings: $(grep transmitted "$T/ping.out"))"
[ $((s1 - s0)) -le 2 ] || bad="$bad; p1's slowpath counter grew by $((s1 - s0)) over h1's 5 pings to h2 (each through the worker)"
[ -z "$bad" ] || fail "${bad#; }"
