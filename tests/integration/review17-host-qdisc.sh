#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 10): after a broker restart, deleting the host-wide
# cubes leaves behind the clsact qdiscs the broker created for them.
# host_hook_() (broker/tcube.c) records "the broker created the qdisc"
# only in memory (struct hostdev.qdisc); host_sync() at a restart finds
# the qdisc there and records "not ours", so host_unhook_() never
# removes it.  Without the restart the deletion removes it (control), as
# a netdev's own stack does across restarts (its qdisc flag is stored).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/hostth.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

clsact() { tc qdisc show dev "$1" | grep -q clsact; }
until_ok() {
	local _
	for _ in $(seq 1 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

clsact veth1 && fail "veth1 has a clsact qdisc before any cube: the test is wrong"
cub_ok hostth add h1
clsact veth1 || fail "h1 is on veth1 without a clsact qdisc?"
cub_ok h1 del
until_ok eval '! clsact veth1' || fail "control: h1 deleted, its clsact qdisc stays on veth1 (no restart)"

cub_ok hostth add h1
clsact veth1 || fail "h1 is on veth1 without a clsact qdisc?"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
wait_log 2 "service 'hostth': worker ready"
cub_ok h1 del
until_ok eval '! tc filter show dev veth1 ingress | grep -q 0xc0c0' || fail "h1 deleted, its filters stay"
sleep 0.5
clsact veth1 &&
	fail "h1 deleted after a restart: the clsact qdisc the broker created for it stays on veth1: $(tc qdisc show dev veth1 | grep clsact)"
cub_log "the host-wide cubes' qdiscs go with them across a restart"
