#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# helloworld, Polycube's two-port sample, in the hook mode given as $1 (TC
# default, XDP_SKB, XDP_DRV): Polycube's S1 steps (create hw0, add ports,
# peer them, delete), pings pass with action FORWARD (any case) and
# counters count them exactly, none pass with DROP, SLOWPATH delivers
# them to the worker (its counter and its cube log), a third port is
# refused with nothing changed.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/helloworld/helloworld.so")
need python3
netns_hosts "$HOOK" ca:veth1:198.18.0.1 cb:veth2:198.18.0.2
broker_start

# S1.1: create, add a port, delete.
cub_ok helloworld add hw0 type="$HOOK"
cub_ok hw0 ports add port1
cub_ok hw0 del
# S1.2: create, port peered, unpeered, deleted, cube deleted.
cub_ok helloworld add hw0 type="$HOOK"
cub_ok hw0 ports add port1 peer=veth1
cub_ok hw0 ports port1 set peer=
cub_ok hw0 ports del port1
cub_ok hw0 del
# S1.3: delete the cube while a port is peered: no program left on veth1.
cub_ok helloworld add hw0 type="$HOOK"
cub_ok hw0 ports add port1 peer=veth1
cub_ok hw0 del
[ -z "$(tc filter show dev veth1 ingress)" ] ||
	fail "veth1 keeps a tc filter after hw0 was deleted"
ip -d link show veth1 | grep -q 'prog/xdp' &&
	fail "veth1 keeps an XDP program after hw0 was deleted"
cub_log "S1: create, add ports, peer, unpeer, delete"

cub_ok helloworld add hw0 type="$HOOK"
cub_ok hw0 ports add port1 peer=veth1
cub_ok hw0 ports add port2 peer=veth2
static_arp ca 198.18.0.1 cb 198.18.0.2
[ "$(cub hw0 show action)" = DROP ] || fail "default action is not DROP: $(cub hw0 show action)"

# A third port: refused, naming the limit; nothing changed.
snapshot() { cub hw0 show -o json | grep -v '_packets\|_bytes\|drops\|slowpath\|packet_ins'; }
before=$(snapshot)
refused_unchanged "at most 2 ports" hw0 ports add port3
# A bad action: refused, naming the field's values.
refused_unchanged -i "action|DROP|FORWARD" hw0 set action=bounce

# counters: rx1 tx2 rx2 tx1 drops1 slow1 pktin1, from one show.
counters() {
	cub hw0 show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = {e["name"]: e for e in d["ports"]}
a, b = p["port1"], p["port2"]
print(a["rx_packets"], b["tx_packets"], b["rx_packets"], a["tx_packets"],
      a["drops"], a["slowpath"], a["packet_ins"])'
}

# DROP: no ping passes, drops counted on port1.
read -r _ _ _ _ d0 _ _ <<<"$(counters)"
ip netns exec ca ping -c 3 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed through hw0 with action DROP"
read -r _ _ _ _ d1 _ _ <<<"$(counters)"
[ $((d1 - d0)) = 3 ] || fail "port1 drops grew by $((d1 - d0)), expected 3"

# FORWARD, spelled in lower case: pings pass, counted exactly.
cub_ok hw0 set action=forward
[ "$(cub hw0 show action)" = FORWARD ] || fail "action shows $(cub hw0 show action)"
read -r rx1 tx2 rx2 tx1 _ _ _ <<<"$(counters)"
N=20
ip netns exec ca ping -c $N -i 0.01 -W 10 198.18.0.2 >"$T/ping.out" ||
	fail "ping through hw0 ($HOOK) failed: $(tail -2 "$T/ping.out")"
grep -q " 0% packet loss" "$T/ping.out" || fail "loss: $(tail -2 "$T/ping.out")"
read -r rx1b tx2b rx2b tx1b _ _ _ <<<"$(counters)"
for c in "port1 rx_packets:$rx1:$rx1b" "port2 tx_packets:$tx2:$tx2b" \
	"port2 rx_packets:$rx2:$rx2b" "port1 tx_packets:$tx1:$tx1b"; do
	IFS=: read -r what a b <<<"$c"
	[ $((b - a)) = $N ] || fail "$what grew by $((b - a)), expected exactly $N"
done
cub_log "FORWARD: $N pings through hw0, counted exactly both ways"

# SLOWPATH: nothing passes; the worker gets every packet (its counter,
# read by the broker, and its log line per packet).
cub_ok hw0 set action=SlowPath
read -r _ _ _ _ _ s0 p0 <<<"$(counters)"
ip netns exec ca ping -c 5 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed through hw0 with action SLOWPATH"
for _ in $(seq 1 200); do
	read -r _ _ _ _ _ s1 p1 <<<"$(counters)"
	[ $((p1 - p0)) -ge 5 ] && break
	sleep 0.1
done
[ $((s1 - s0)) = 5 ] || fail "port1 slowpath grew by $((s1 - s0)), expected 5"
[ $((p1 - p0)) = 5 ] || fail "the worker received $((p1 - p0)) slow-path packets of 5"
n=$(cub hw0 log show -o json | python3 -c '
import json, sys
print(sum("arrived to the slow path" in l["message"] for l in json.load(sys.stdin)["lines"]))')
[ "$n" -ge 5 ] || fail "the cube log has $n slow-path lines, expected 5"
cub_log "SLOWPATH: 5 packets to the worker, none onwards"

# Back to FORWARD: passes again without a reload.
cub_ok hw0 set action=FORWARD
ip netns exec ca ping -c 3 -i 0.05 -W 10 198.18.0.2 >/dev/null ||
	fail "ping failed after FORWARD again"
cub_ok hw0 del
