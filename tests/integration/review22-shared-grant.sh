#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): a netdev two tenants' patterns both grant is a
# way in front of the other's cube.  ta's netdevs=veth* and tb's vethb+
# both cover vethb0; ta's XDP cube a1 has a port on it.  tb may not put
# a port of its own there ("'vethb0' is already the peer of a port of a
# cube that is not yours": cube.c ports_prepare()), but an XDP
# transparent cube of tb's attaches there: tcube.c do_attach() checks
# the grant (api_netdev_granted()) and netdev_hooks_ok() the XDP mode,
# nothing of whose cube holds the netdev.  tbx then runs first in
# vethb0's XDP dispatcher, in front of a1:p1: it counts every frame a1
# gets from vethb0 (here the pings sent into vethb1), and may drop or
# rewrite them.  Wanted: the attach refused as the port is (a netdev
# another tenant's cube port holds is not tb's to stand on), so that a1's
# traffic stays out of tb's reach.
. "$(dirname "$0")/../lib/netns.sh"
PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
R22_TA_NETDEVS='veth*'
. "$(dirname "$0")/../lib/review22.sh"
r22_start

ok ta simpleforwarder add a1 type=XDP_SKB
ok ta a1 ports add p1 peer=vethb0
ok tb simpleforwarder add b1 type=XDP_SKB
out=$(tb b1 ports add p1 peer=vethb0 2>&1) &&
	fail "tb's port on vethb0, a1:p1's netdev, was taken"
cub_log "tb: a port on vethb0 refused: $out"
ok tb transparenthelloworld add tbx type=XDP_SKB
if out=$(tb attach tbx vethb0 2>&1); then
	# Frames into a1:p1 (vethb1 -> vethb0) cross tbx first now.
	ip addr add 198.18.22.1/24 dev vethb1
	ping -c 3 -i 0.2 -W 1 -I vethb1 198.18.22.2 >/dev/null 2>&1 || true
	fail "tb's transparent cube tbx attached in front of ta's a1:p1 on vethb0 (admin's topology: $(cub show topology vethb0 | tr '\n' ';'); tbx counted $(tb tbx show ingress-packets) of a1's frames)"
fi
cub_log "tb: attach to vethb0 refused: $out"
