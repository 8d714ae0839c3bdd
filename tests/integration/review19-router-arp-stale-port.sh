#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 19 (router): a neighbour learned on a port outlives the port
# (plugins/router/router.c rt_write() deletes only the static entries
# that went; learned ones are the dataplane's and never age), and
# forwarding (router.bpf.c rt_ingress()) uses an rt_arp entry whatever
# port it was learned on.  h3 (198.18.3.1) is learned behind p3; p3 is
# deleted; a new port p4 on another wire (veth4) gets p3's network, and
# a new host h4 there has the address 198.18.3.1.  h1's pings to
# 198.18.3.1 go out of p4 to h3's old MAC: h4 never answers (it would
# only be relearned once h4 itself sends to the router).  Linux flushes
# a device's neighbours when its address or the device goes; the router
# should drop the neighbours of a port that goes (or changes network).
# r1 (TC): p1 = veth1 (h1), p3 = veth3 (h3), then p4 = veth4 (h4).
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/router/router.so")
netns_hosts TC h1:veth1:198.18.1.1 h3:veth3:198.18.3.1 h4:veth4:198.18.3.1
ip -n h1 route add default via 198.18.1.254
ip -n h3 route add default via 198.18.3.254
broker_start

cub_ok router add r1 type=TC
cub_ok r1 ports add p1 peer=veth1 ip=198.18.1.254/24
cub_ok r1 ports add p3 peer=veth3 ip=198.18.3.254/24
ip netns exec h1 ping -c 2 -i 0.2 -W 3 198.18.3.1 >/dev/null || fail "h1 cannot ping h3"
grep -q '198.18.3.1 ' <<<"$(cub r1 arp-table show)" || fail "h3 not learned: $(cub r1 arp-table show)"
cub_ok r1 ports del p3
after=$(cub r1 arp-table show)
cub_log "arp-table after p3 went: $after"
cub_ok r1 ports add p4 peer=veth4 ip=198.18.3.254/24
ip -n h4 route add default via 198.18.3.254
bad=
grep -q '198.18.3.1 ' <<<"$after" && bad="198.18.3.1, learned behind p3, is still a neighbour after p3 went"
ip netns exec h1 ping -c 3 -i 0.3 -W 2 198.18.3.1 >"$T/ping.out" 2>&1 ||
	bad="$bad; h1 cannot reach 198.18.3.1 (now h4, behind the new p4): $(grep transmitted "$T/ping.out")"
# Control: once h4 speaks to the router, p4 works.
ip netns exec h4 ping -c 1 -W 2 198.18.3.254 >/dev/null || fail "h4 cannot ping p4 (the control)"
ip netns exec h1 ping -c 1 -W 2 198.18.3.1 >/dev/null || fail "h1 cannot reach h4 even after h4 spoke (the control)"
[ -z "$bad" ] || fail "${bad#; }"
