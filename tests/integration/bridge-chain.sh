#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Two 802.1Q bridges chained by a trunk between cube ports (TC): br1 has
# n1 (VLAN 10) and n2 (VLAN 20), br2 has n3 (VLAN 10) and n4 (VLAN 20);
# br1:t and br2:t are trunks allowing 10 and 20, connected to each
# other.  The tag crosses the cube link as the skb's: pings cross within
# a VLAN and never across; a broadcast from each access host reaches the
# other bridge's host of its VLAN alone, untagged; each bridge learns the
# far hosts on its trunk in their VLAN; a VLAN one trunk does not allow
# stops there.
. "$(dirname "$0")/../lib/netns.sh"
need python3 ping

PLUGINS+=("$CUB_BUILD/plugins/bridge/bridge.so")
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 \
	n3:veth3:198.18.0.3 n4:veth4:198.18.0.4
broker_start
. "$CUB_LIB/l2.sh"
VLAN_N=4
. "$CUB_LIB/vlan.sh"
fdb_port() { # fdb_port BRIDGE VLAN MAC: "port type", "" when absent
	cub "$1" fdb entry "$2" "$3" show -o json 2>/dev/null | python3 -c '
import json, sys
e = json.load(sys.stdin)
print(e["port"], e.get("type", ""))' 2>/dev/null || true
}

for b in br1 br2; do
	cub_ok bridge add $b
	cub_ok $b ports add t
	cub_ok $b ports t set mode=trunk
	cub_ok $b ports t trunk allowed add 10
	cub_ok $b ports t trunk allowed add 20
done
cub_ok br1 ports add a peer=veth1
cub_ok br1 ports add b peer=veth2
cub_ok br2 ports add a peer=veth3
cub_ok br2 ports add b peer=veth4
for b in br1 br2; do
	cub_ok $b ports a access set vlanid=10
	cub_ok $b ports b access set vlanid=20
done
cub_ok connect br1:t br2:t
M1=$(mac_of n1) M4=$(mac_of n4)

ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.3 >/dev/null || fail "n1 cannot ping n3 (VLAN 10, across the trunk)"
ip netns exec n2 ping -c 2 -i 0.2 -W 2 198.18.0.4 >/dev/null || fail "n2 cannot ping n4 (VLAN 20, across the trunk)"
ip netns exec n1 ping -c 2 -i 0.2 -W 1 198.18.0.4 >/dev/null && fail "n1 (VLAN 10) pinged n4 (VLAN 20)"
ip netns exec n2 ping -c 2 -i 0.2 -W 1 198.18.0.3 >/dev/null && fail "n2 (VLAN 20) pinged n3 (VLAN 10)"
[ "$(fdb_port br2 10 "$M1")" = "t dynamic" ] || fail "br2 fdb (10, n1): '$(fdb_port br2 10 "$M1")'"
[ "$(fdb_port br1 20 "$M4")" = "t dynamic" ] || fail "br1 fdb (20, n4): '$(fdb_port br1 20 "$M4")'"
[ -z "$(fdb_port br2 20 "$M1")" ] || fail "br2 learned n1 in VLAN 20"

B=ff:ff:ff:ff:ff:ff
got=$(probe 02:00:00:00:10:01 n1 $B 0 20)
[ "$got" = "none | none | -:20 | none" ] || fail "20 broadcasts from n1 (VLAN 10): $got"
got=$(probe 02:00:00:00:20:04 n4 $B 0 15)
[ "$got" = "none | -:15 | none | none" ] || fail "15 broadcasts from n4 (VLAN 20): $got"
# A tagged frame on an access port stays out of both.
got=$(probe 02:00:00:00:10:01 n1 $B 10 5)
[ "$got" = "none | none | none | none" ] || fail "5 tagged broadcasts on br1's access port: $got"

# br2's trunk no longer allows 20: VLAN 20 stops at br2, counted there.
cub_ok br2 ports t trunk allowed del 20
v0=$(cub br2 ports t show vlan_drops)
got=$(probe 02:00:00:00:20:02 n2 $B 0 9)
[ "$got" = "none | none | none | none" ] || fail "9 broadcasts from n2 with br2's trunk not in VLAN 20: $got"
[ $(($(cub br2 ports t show vlan_drops) - v0)) = 9 ] || fail "br2 t vlan_drops +$(($(cub br2 ports t show vlan_drops) - v0)), expected +9"
got=$(probe 02:00:00:00:10:01 n1 $B 0 6)
[ "$got" = "none | none | -:6 | none" ] || fail "6 broadcasts from n1 after VLAN 20 went from br2's trunk: $got"

cub_ok br1 del
cub_ok br2 del
