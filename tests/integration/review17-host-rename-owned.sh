#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 10): a netdev a port owns, renamed, gets the host-wide
# filters while the port keeps it.  Ports follow their netdev by ifindex
# (netmon.c port_uses(); topology.c does not unwire on a rename): after
# `ip link set veth2 name vz`, sf1:p1's program is still vz's tc filter
# at 0xc0be and the port forwards through it.  tcube_host_netdev()
# (broker/tcube.c) asks host_owned(), which compares port peers by name
# only, so vz counts as no port's and gets the host-wide filters at 0xc0c0
# too: the host-wide cubes see (and, on egress, filter) what a port's
# netdev carries.  One or the other: the port lets vz go (and the host
# takes it), or vz stays the port's (and the host stays off).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/hostth.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
host_peer cb veth2 198.18.1.1 198.18.1.2
broker_start

host_on() {
	tc filter show dev "$1" ingress | grep -q 'handle 0xc0c0' ||
		tc filter show dev "$1" egress | grep -q 'handle 0xc0c0'
}
port_on() { tc filter show dev "$1" ingress | grep -q 'handle 0xc0be'; }

cub_ok hostth add h1
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=veth2
sleep 0.5
host_on veth2 && fail "h1 is on veth2, which sf1:p1 owns: the test is wrong"
port_on veth2 || fail "sf1:p1's program is not on veth2: the test is wrong"
ip link set veth2 name vz
sleep 1
if port_on vz && host_on vz; then
	fail "veth2 renamed vz: sf1:p1's program is still on it (the port follows the ifindex) and the host-wide filters were put on it too: $(tc filter show dev vz ingress | grep -o 'handle 0x[0-9a-f]*' | tr '\n' ' ')"
fi
port_on vz || host_on vz || fail "veth2 renamed vz: neither the port nor the host-wide cubes are on it"
cub_log "a port's netdev renamed is the port's or the host's, not both"
