#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 19 (router): echo requests to the router's own address that are
# not a plain 20-byte header in one frame.
# - IP options (ping -R, record route: ihl 9): rt_echo()
#   (plugins/router/router.bpf.c) recomputes the header checksum over 20
#   bytes whatever ihl says, so the reply's checksum is wrong and the
#   host drops it: no answer.  The same ping through the router to h2
#   is answered (forwarding updates the checksum incrementally).
# - A fragmented request (ping -s 2000, two fragments): rt_echo() turns
#   the first fragment alone into a "reply" (MF still set, the ICMP
#   checksum adjusted for the whole datagram) and reads the second
#   fragment's payload as an ICMP header; no whole reply ever comes.
#   A host or Linux router answers both; the router should answer them
#   (checksum over ihl * 4 bytes; fragments to itself reassembled by
#   the worker or dropped, not half-answered).
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
ip netns exec h1 ping -c 2 -i 0.2 -W 3 198.18.2.1 >/dev/null || fail "h1 cannot ping h2"
ip netns exec h1 ping -c 1 -W 2 198.18.1.254 >/dev/null || fail "h1 cannot ping the router"
# Through the router, the same odd pings are answered (h2 is Linux).
ip netns exec h1 ping -R -c 1 -W 2 198.18.2.1 >/dev/null || fail "ping -R through the router to h2"
ip netns exec h1 ping -s 2000 -c 1 -W 2 198.18.2.1 >/dev/null || fail "ping -s 2000 through the router to h2"

bad=
ip netns exec h1 ping -R -c 2 -i 0.3 -W 2 198.18.1.254 >"$T/rr.out" 2>&1 ||
	bad="ping -R (IP options) to 198.18.1.254 unanswered: $(grep -E 'transmitted' "$T/rr.out")"
ip netns exec h1 ping -s 2000 -c 2 -i 0.3 -W 2 198.18.1.254 >"$T/big.out" 2>&1 ||
	bad="$bad; ping -s 2000 (two fragments) to 198.18.1.254 unanswered: $(grep -E 'transmitted' "$T/big.out")"
[ -z "$bad" ] || fail "${bad#; }"
