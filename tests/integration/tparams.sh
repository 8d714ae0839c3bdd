#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Transparent cubes learn their parent's parameters (issue 7): a
# transparenthelloworld on veth1 gets a new apply when veth1's addresses,
# MAC or mtu change; one on sf1:p2 when p2's peer changes and when that
# peer netdev's addresses do, and "not attached" when sf1 is deleted; a
# burst of 2000 address adds keeps the broker responsive and yields a
# bounded number of applies, the last with the final addresses; `netdevs
# show` lists the attachment in used_by; a worker that does not take an
# apply is logged, restarted, and its replay has the parameters.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
for d in veth1 vethc vethd vethe; do
	ip link add "$d" type veth peer name "${d}p"
	ip link set "$d" up
	ip link set "${d}p" up
done
broker_start

# log_has CUBE TEXT [SECONDS]: the cube's last log line has TEXT within
# the deadline (default 30 s), else the test fails.
log_has() {
	local i
	for i in $(seq 1 $((${3:-30} * 10))); do
		cub "$1" log show | tail -1 | grep -qF -- "$2" && return 0
		sleep 0.1
	done
	fail "$1's last log line has no '$2': $(cub "$1" log show | tail -3)"
}
applies() { # CUBE: its "configuration changed" lines so far
	cub "$1" log show | grep -c "configuration changed" || true
}

# ---- on a netdev ----
cub_ok transparenthelloworld add th1
cub_ok attach th1 veth1
log_has th1 "attached to veth1"
ip addr add 198.18.9.1/24 dev veth1
log_has th1 "1 addresses: 198.18.9.1/24"
ip link set veth1 address 02:00:00:00:09:01
log_has th1 "mac 02:00:00:00:09:01"
ip link set veth1 mtu 1400
log_has th1 "mtu 1400"
ip addr del 198.18.9.1/24 dev veth1
log_has th1 "0 addresses:"
cub netdevs show | grep -F veth1 | grep -qF "tcube th1 (ingress/egress stack position 1)" ||
	fail "netdevs show lists no th1 on veth1: $(cub netdevs show)"
cub_ok transparenthelloworld add th0
cub_ok attach th0 veth1 position=first
grep -qF "tcube th0 (ingress/egress stack position 1),tcube th1 (ingress/egress stack position 2)" <<<"$(cub netdevs show -o json)" ||
	fail "netdevs show -o json lists not th0 then th1: $(cub netdevs show -o json)"
cub_ok detach th0 veth1
cub_ok th0 del

# ---- a burst of 2000 address adds ----
a0=$(applies th1)
for i in $(seq 0 1999); do
	echo "addr add 198.19.$((i / 250)).$((i % 250 + 1))/32 dev veth1"
done >"$T/burst"
ip -batch "$T/burst" &
burst=$!
# The broker answers while the burst runs (and after).
for i in 1 2 3; do
	timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" show cubes \
		</dev/null >/dev/null || fail "show cubes took over 5 s during the burst"
done
wait "$burst" || fail "ip -batch failed"
log_has th1 "2000 addresses:" 60
a1=$(applies th1)
n=$((a1 - a0))
cub_log "2000 address adds made $n applies"
[ "$n" -ge 1 ] && [ "$n" -lt 200 ] || fail "$n applies for a burst of 2000 address adds"
# No line was lost to the log's size or rate: the count is every apply.
j=$(cub th1 log show -o json)
grep -qE '"dropped": 0\b' <<<"$j" || fail "th1's log dropped lines: $(grep -E '"(dropped|suppressed|held)"' <<<"$j")"
grep -qE '"suppressed": 0\b' <<<"$j" || fail "th1's log suppressed lines"
sleep 1 # nothing more comes after the final state
[ "$(applies th1)" = "$a1" ] || fail "applies went on after the final state"
timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" show cubes </dev/null >/dev/null ||
	fail "show cubes took over 5 s after the burst"

# ---- on a cube port ----
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vethc
cub_ok sf1 ports add p2 peer=vethd
cub_ok transparenthelloworld add th2
cub_ok attach th2 sf1:p2
log_has th2 "peer vethd"
cub_ok sf1 ports p2 set peer=vethe
log_has th2 "peer vethe"
ip addr add 198.18.9.5/24 dev vethe
log_has th2 "1 addresses: 198.18.9.5/24"
grep -qF "sf1:p2" <<<"$(cub show topology)" || fail "show topology lists no sf1:p2"
cub_ok sf1 del
log_has th2 "not attached"
grep -qF "sf1:p2" <<<"$(cub show topology)" && fail "show topology still lists sf1:p2"
grep -qF "veth1" <<<"$(cub show topology)" || fail "show topology lost veth1's stack"
# th1 is still told: its worker and the broker are fine.
ip link set veth1 mtu 1450
log_has th1 "mtu 1450"

# A worker that does not take the apply: logged, not fatal; the worker is
# restarted (--call-timeout) and its replay carries the parameters.
pid=$(worker_pid transparenthelloworld)
[ -n "$pid" ] || fail "no transparenthelloworld worker"
kill -STOP "$pid"
ip link set veth1 mtu 1460
for i in $(seq 1 600); do
	grep -qF "cube 'th1': its worker did not take the new parameters" "$T/broker.log" && break
	sleep 0.1
done
grep -qF "cube 'th1': its worker did not take the new parameters" "$T/broker.log" ||
	fail "no warning of the apply the stopped worker did not take"
log_has th1 "mtu 1460" 60
[ "$(worker_pid transparenthelloworld)" != "$pid" ] || fail "the stopped worker was not replaced"
timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" show cubes </dev/null >/dev/null ||
	fail "show cubes took over 5 s after the worker's restart"
exit 0
