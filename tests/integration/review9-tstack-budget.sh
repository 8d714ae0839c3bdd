#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 9 (transparent cubes, docs "Stacks are data" and "Tail-call
# budget"): even a cube that lets its packets go the proper way,
# cub_pass_tc(), skips the cubes after it if it first spends the chain's
# tail calls on its own (its own PROG_ARRAY, statically filled, which a
# cube object may declare).  evil_tburn's BURN action tail-calls itself
# 31 times, then cub_pass_tc() (the 33rd tail call); tstack_next's tail
# call to th1 is the 34th, which the kernel refuses, and tstack_run()
# takes a failed tail call for an empty slot, the end of the stack: on a
# netdev TC_ACT_OK.  th1 (after ev1 on ingress, DROP) must still drop
# every packet; on the current code pings pass and th1 counts nothing.
# (Fail closed: a failed tail call to a slot the stack holds must drop.)
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so"
	"$CUB_BUILD/plugins/testing/evil_tburn.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

pings() { # N: N pings from ca to the test's namespace, all answered?
	ip netns exec ca ping -c "$1" -i 0.05 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out"
}
pings 2 || fail "no ping before anything is attached"
cub_ok transparenthelloworld add th1
cub_ok th1 set ingress-action=DROP
cub_ok attach th1 veth1
pings 3 && fail "ping passed with th1 dropping: the test is wrong"
cub_ok evil_tburn add ev1
cub_ok ev1 set ingress-action=BURN
cub_ok attach ev1 veth1 position=first
cub_log "$(cub topology show veth1)"
i0=$(cub th1 show ingress-packets)
e0=$(cub ev1 show ingress-packets)
if pings 5; then
	i1=$(cub th1 show ingress-packets)
	e1=$(cub ev1 show ingress-packets)
	fail "with ev1 first in veth1's stack, spending the tail-call budget before cub_pass_tc(), th1 (after it, DROP) was skipped: pings pass; ev1 counted $((e1 - e0)) in, th1 $((i1 - i0))"
fi
cub_log "a stacked cube cannot skip the cubes after it"
