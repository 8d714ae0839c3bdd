#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# nat on a cube port: a router r1 between in1 (p1, 198.18.1.254) and out1
# (p2, 198.18.2.254), nat1 attached to r1:p2 (what leaves the router by
# p2 is egress).  SNAT 198.18.1.0/24 -> 198.19.0.100 and port forwarding
# 198.19.0.20:8080 -> 198.18.1.1:80: out1 has no route to the inside, so
# each answer proves a translation both ways.  Masquerade takes the
# router port's ip (the platform hands a cube attached to a port the
# port's fields, attached.fields) and follows a change of it.  The
# natting table lists the sessions of each rule.
. "$(dirname "$0")/../lib/netns.sh"
need python3
. "$CUB_LIB/nat.sh"

PLUGINS+=("$CUB_BUILD/plugins/nat/nat.so" "$CUB_BUILD/plugins/router/router.so")
nat_peer in1 vin 198.18.1.1 198.18.1.254
netns_host out1 vout 198.18.2.1
ip -n out1 route add 198.19.0.0/24 via 198.18.2.254
broker_start
cub_ok router add r1
cub_ok r1 ports add p1 peer=vin ip=198.18.1.254/24
cub_ok r1 ports add p2 peer=vout ip=198.18.2.254/24
cub_ok nat add nat1
cub_ok attach nat1 r1:p2
cub_ok nat1 rule snat entry add 1 internal-net=198.18.1.0/24 external-ip=198.19.0.100
cub_ok nat1 rule port-forwarding entry add 1 external-ip=198.19.0.20 \
	external-port=8080 internal-ip=198.18.1.1 internal-port=80 proto=tcp
nat_server out1 tcp 7000
nat_server in1 tcp 80

ip netns exec in1 ping -c 1 -W 3 198.18.1.254 >/dev/null || fail "in1 cannot reach r1"
p=$(nat_py in1 tcp 198.18.2.1 7000 40001) || fail "SNAT through r1:p2: $p"
[ "$p" = 198.19.0.100:40001 ] || fail "SNAT through r1:p2: the server saw $p"
ip netns exec in1 ping -c 2 -i 0.2 -W 2 198.18.2.1 >/dev/null || fail "ping through r1:p2"
p=$(nat_py out1 tcp 198.19.0.20 8080 40003) || fail "port forwarding through r1:p2: $p"
[ "$p" = 198.18.2.1:40003 ] || fail "port forwarding through r1:p2: the server saw $p"
# Masquerade takes the router port's address, and follows its change.
cub_ok nat1 rule snat entry del 1
cub_ok nat1 rule masquerade set enabled=true
[ "$(cub nat1 rule masquerade show address)" = 198.18.2.254 ] ||
	fail "masquerade on r1:p2: $(cub nat1 rule masquerade show)"
p=$(nat_py in1 tcp 198.18.2.1 7000 40004) || fail "masquerade through r1:p2: $p"
[ "$p" = 198.18.2.254:40004 ] || fail "masquerade through r1:p2: the server saw $p"
cub_ok r1 ports p2 set ip=198.18.2.253/24
for _ in $(seq 1 100); do
	[ "$(cub nat1 rule masquerade show address)" = 198.18.2.253 ] && break
	sleep 0.1
done
[ "$(cub nat1 rule masquerade show address)" = 198.18.2.253 ] ||
	fail "masquerade did not follow r1:p2's ip: $(cub nat1 rule masquerade show)"
ip -n out1 route replace 198.19.0.0/24 via 198.18.2.253
p=$(nat_py in1 tcp 198.18.2.1 7000 40005) || fail "masquerade after the port's change: $p"
[ "$p" = 198.18.2.253:40005 ] || fail "masquerade after the port's change: the server saw $p"
tab=$(cub nat1 natting-table show -o json)
grep -q '"originating-rule": "snat"' <<<"$tab" || fail "no snat session: $tab"
grep -q '"originating-rule": "portforwarding"' <<<"$tab" || fail "no port forwarding session: $tab"
grep -q '"originating-rule": "masquerade"' <<<"$tab" || fail "no masquerade session: $tab"
cub_ok nat1 del
cub_ok r1 del
