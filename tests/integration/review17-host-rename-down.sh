#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 10): host-wide filters left on a netdev a port owns
# when the broker starts again.  host_sync() (broker/tcube.c) only
# unhooked the netdevs in its in-memory list, which a restart starts
# empty: a port's netdev that carries the host stack's (adopted)
# programs at a start kept them, and the host-wide cubes saw what the
# port's netdev carries.  The reviewer's way there was a rename while the
# broker was down, under name ownership; ports own their netdev by
# ifindex now (review17-host-rename-owned, -stale-port), so the state is
# made directly: the host stack's programs put on the port's netdev
# while the broker is down (a crash between a port's attach and the
# release), then a start: host_sync() takes them off.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool python3

PLUGINS+=("$CUB_BUILD/plugins/testing/hostth.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
ip link add vx type veth peer name vy
ip link set vx up
ip link set vy up
broker_start

host_on() {
	tc filter show dev "$1" ingress | grep -q 'handle 0xc0c0' ||
		tc filter show dev "$1" egress | grep -q 'handle 0xc0c0'
}
until_ok() {
	local _
	for _ in $(seq 1 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

cub_ok hostth add h1
until_ok host_on vx || fail "h1 is not on vx: the test is wrong"
ip link add pp type veth peer name pq
ip link set pp up
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=pp
until_ok eval '! host_on pp' || fail "control: h1 still on pp (sf1:p1's) with the broker up"

kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
tc filter add dev pp egress prio 2 handle 0xc0c0 bpf da \
	pinned "$T/pins/_tstack/:host/egress" ||
	fail "cannot put the host stack's program on pp"
host_on pp || fail "the host stack's program is not on pp: the test is wrong"
broker_start
sleep 1
cub sf1 show >/dev/null || fail "sf1 lost across the restart"
until_ok eval '! host_on pp' ||
	fail "pp is sf1:p1's, yet the host-wide filters stay on it after the restart: $(tc filter show dev pp egress | grep 0xc0c0)"
host_on vx || fail "h1 is not on vx after the restart"
cub_log "a port's netdev carrying the host stack at a start loses it"
