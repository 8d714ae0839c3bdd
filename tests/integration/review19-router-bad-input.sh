#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 19 (router): input the router takes although it can never work
# (plugins/router/router.c parse_routes(), parse_arp() check only that an
# address is on some port's network).  Each is accepted today:
# - a route whose next hop is the router's own address (Linux: "Nexthop
#   has invalid gateway"): packets to the network are queued, the
#   worker ARPs for its own address, they are dropped after 3 s;
# - a next hop that is its network's network or broadcast address;
# - a static neighbour for the router's own address, or for a network's
#   broadcast address;
# - a static neighbour with a multicast MAC (a port's own mac= refuses
#   one: "is a multicast address").
# Each should be refused with an error naming what is wrong, nothing
# changed.
# r1 (TC): p1 = veth1 (h1), p3 = veth3 (h3).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/router/router.so")
netns_hosts TC h1:veth1:198.18.1.1 h3:veth3:198.18.3.1
broker_start

cub_ok router add r1 type=TC
cub_ok r1 ports add p1 peer=veth1 ip=198.18.1.254/24
cub_ok r1 ports add p3 peer=veth3 ip=198.18.3.254/24
bad=
try() {
	local out
	if out=$(cub "$@" 2>&1); then
		bad="$bad; accepted: $*"
	else
		cub_log "refused: $*: $out"
	fi
}
try r1 route add 198.18.40.0/24 198.18.3.254
try r1 route add 198.18.41.0/24 198.18.3.255
try r1 route add 198.18.42.0/24 198.18.3.0
try r1 arp-table add 198.18.3.254 mac=02:00:00:00:00:09
try r1 arp-table add 198.18.3.255 mac=02:00:00:00:00:0a
try r1 arp-table add 198.18.3.9 mac=01:00:5e:00:00:01
[ -z "$bad" ] || fail "${bad#; }"
