#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 10): a netdev that comes back under the name of a port
# that lost it is left with neither the port nor the host-wide cubes.
# sf1:p1's netdev veth2 is deleted (the port stays, DOWN, peer veth2) and
# created again: topology does not wire the port to the new netdev (its
# ifindex is another), but tcube_host_netdev() (broker/tcube.c) sees a
# port that names it (host_owned(): by name) and leaves it alone.  The
# new veth2 carries traffic that no cube sees: a host firewall's hole.
# Either the port takes the new veth2 (its program at 0xc0be) or the
# host-wide cubes do (0xc0c0).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/hostth.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
mkveth2() {
	ip link add veth2 type veth peer name vq
	ip link set veth2 up
	ip link set vq up
}
mkveth2
broker_start
host_on() {
	tc filter show dev "$1" ingress | grep -q 'handle 0xc0c0' &&
		tc filter show dev "$1" egress | grep -q 'handle 0xc0c0'
}
port_on() { tc filter show dev "$1" ingress | grep -q 'handle 0xc0be'; }

cub_ok hostth add h1
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=veth2
sleep 0.5
port_on veth2 || fail "sf1:p1 is not on veth2: the test is wrong"
host_on veth1 || fail "h1 is not on veth1: the test is wrong"
ip link del veth2
sleep 0.5
mkveth2
sleep 1
port_on veth2 || host_on veth2 ||
	fail "veth2 created again: neither sf1:p1 (status $(cub sf1 ports p1 show status 2>&1)) nor the host-wide cubes are on it: $(tc filter show dev veth2 ingress | grep -o 'handle 0x[0-9a-f]*' | tr '\n' ' ')"
cub_log "a netdev back under a port's peer name is the port's or the host's"
