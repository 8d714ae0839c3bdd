#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 10): a netdev renamed while the broker is down, to the
# name a cube port peers with, keeps the host-wide filters after the
# restart.  host_sync() (broker/tcube.c) only unhooks netdevs listed in
# tp->hd, which a restart starts empty; a netdev a port now owns is
# skipped ("owned") but its filters at handle 0xc0c0 prio 2, the same
# adopted programs, stay: the host-wide cubes see what a port's netdev
# carries (egress: the port's program is on ingress only).
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
# A port whose peer, pp, is gone (the port keeps its peer's name).
ip link add pp type veth peer name pq
ip link set pp up
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=pp
ip link del pp
sleep 0.5
# Control, with the broker up: vx renamed pp is taken from h1.
ip link set vx down
ip link set vx name pp
ip link set pp up
until_ok eval '! host_on pp' || fail "control: h1 still on pp (sf1:p1's) with the broker up"
ip link set pp down
ip link set pp name vx
ip link set vx up
until_ok host_on vx || fail "control: h1 not back on vx after the rename back"

kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
ip link set vx down
ip link set vx name pp
ip link set pp up
broker_start
sleep 1
cub sf1 show >/dev/null || fail "sf1 lost across the restart"
if host_on pp; then
	fail "pp (renamed from vx while the broker was down) is owned by sf1:p1, yet the host-wide filters stay on it after the restart: $(tc filter show dev pp egress | grep 0xc0c0)"
fi
cub_log "a netdev renamed into a port's peer while the broker is down is not the host-wide cubes'"
