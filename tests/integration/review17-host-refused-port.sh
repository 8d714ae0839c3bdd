#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 10): a port that is refused its netdev takes the
# netdev from the host-wide cubes anyway.  hook_attach() (broker/
# topology.c) calls tcube_host_release() first, before it finds the
# foreign filter at Cubicle's handle 0xc0be prio 1 and refuses; the port
# add fails (no port owns the netdev), but the host-wide filters are
# gone from it and nothing puts them back: the netdev is unfiltered
# though the promise is "every netdev that no cube port owns".
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/testing/hostth.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
host_peer cb veth2 198.18.1.1 198.18.1.2
broker_start

host_on() {
	tc filter show dev "$1" ingress | grep -q 'handle 0xc0c0' &&
		tc filter show dev "$1" egress | grep -q 'handle 0xc0c0'
}
ping_b() { ip netns exec cb ping -c 1 -W 2 198.18.1.2 >/dev/null; }

cub_ok hostth add h1 ingress-action=DROP
host_on veth2 || fail "h1 is not on veth2: the test is wrong"
ping_b && fail "a ping passed h1 (DROP) on veth2: the test is wrong"
# Someone else's filter at the ports' handle: a port is refused veth2.
tc filter add dev veth2 ingress prio 1 handle 0xc0be bpf bytecode '1,6 0 0 4294967295,' ||
	fail "cannot add the foreign filter"
cub_ok simpleforwarder add sf1
if out=$(cub sf1 ports add p1 peer=veth2 2>&1); then
	cub_log "the port was taken ($out): it is unwired; deleting it"
	cub_ok sf1 ports del p1
else
	cub_log "port refused: $out"
fi
cub sf1 show -o json | grep -q '"p1"' && fail "p1 still exists"
sleep 0.5
host_on veth2 ||
	fail "no port owns veth2 (the port was refused it), yet the host-wide filters are gone from it: $(tc filter show dev veth2 ingress | grep -o 'handle 0x[0-9a-f]*' | tr '\n' ' ')"
# The foreign filter at priority 1 decides before ours (it matches
# everything): once it is gone, the host-wide cube decides again.
tc filter del dev veth2 ingress prio 1 handle 0xc0be bpf
ping_b && fail "a ping passed veth2 with h1 (DROP) host-wide"
cub_log "a port refused its netdev leaves the host-wide cubes on it"
