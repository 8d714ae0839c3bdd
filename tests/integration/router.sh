#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# router in the hook mode given as $1 (TC, XDP_SKB or XDP_DRV): three
# hosts h1..h3 on networks 198.18.1-3.0/24 behind r1's ports p1..p3.
# Pings cross (the router answers ARP, resolves its next hops through
# the worker's queue: the first ping is not lost); the router answers
# echo on every address it has; TTL 1 gets a time exceeded and a
# network no route covers a net unreachable, from the in-port's
# address; static routes, a secondary address, static neighbours; the
# route and arp-table shows; bad input refused, nothing changed; 100k
# routes loaded and one of them routed to; a route changed under a ping
# every 10 ms loses nothing; kill -9 of the worker and of the broker
# under traffic loses nothing; a next hop that never answers ARP gets
# its packets' sources a host unreachable.
. "$(dirname "$0")/../lib/netns.sh"
need python3

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/router/router.so")
netns_hosts "$HOOK" h1:veth1:198.18.1.1 h2:veth2:198.18.2.1 h3:veth3:198.18.3.1
for i in 1 2 3; do ip -n h$i route add default via 198.18.$i.254; done
broker_start

cub_ok router add r1 type="$HOOK"
cub_ok r1 ports add p1 peer=veth1 ip=198.18.1.254/24
cub_ok r1 ports add p2 ip=198.18.2.254/24
cub_ok connect r1:p2 veth2
cub_ok r1 ports add p3 peer=veth3 ip=198.18.3.254/24 mac=02:00:00:00:03:fe

# The first ping of each pair is answered: the router queues it while
# it asks for the next hop's MAC.
ip netns exec h1 ping -c 1 -W 3 198.18.2.1 >/dev/null || fail "h1's first ping to h2 lost"
ip netns exec h1 ping -c 1 -W 3 198.18.3.1 >/dev/null || fail "h1's first ping to h3 lost"
ip netns exec h2 ping -c 2 -i 0.2 -W 3 198.18.3.1 >/dev/null || fail "h2 -> h3"
for a in 198.18.1.254 198.18.2.254 198.18.3.254; do
	ip netns exec h1 ping -c 1 -W 2 $a >/dev/null || fail "h1 cannot ping the router's $a"
done
[ "$(ip -n h3 neigh show 198.18.3.254 | grep -o '02:00:00:00:03:fe')" = 02:00:00:00:03:fe ] ||
	fail "p3's mac is not what h3 learned: $(ip -n h3 neigh show)"

# TTL 1: time exceeded from the in-port's address; no route: net
# unreachable.
out=$(ip netns exec h1 ping -c 1 -t 1 -W 2 198.18.2.1 2>&1 || true)
grep -q "From 198.18.1.254 .*Time to live exceeded" <<<"$out" || fail "TTL 1: $out"
out=$(ip netns exec h1 ping -c 1 -W 2 198.18.99.1 2>&1 || true)
grep -q "From 198.18.1.254 .*Destination Net Unreachable" <<<"$out" || fail "no route: $out"
[ "$(port_counter r1 p1 icmp_out)" -ge 2 ] || fail "p1 icmp_out $(port_counter r1 p1 icmp_out)"
# A next hop that never answers ARP: the queued packets expire (3 s)
# and their source gets a host unreachable from the router.  The ping
# (6 echoes, 1 s apart, as before) is stopped once that answer is in
# its output, not run out to its end.
ip netns exec h1 ping -c 6 -i 1 -W 1 198.18.2.99 >"$T/unreach.out" 2>&1 &
pp=$!
while kill -0 "$pp" 2>/dev/null &&
	! grep -q "From 198.18.1.254 .*Destination Host Unreachable" "$T/unreach.out"; do
	sleep 0.1
done
kill "$pp" 2>/dev/null || true
wait "$pp" 2>/dev/null || true
out=$(cat "$T/unreach.out")
grep -q "From 198.18.1.254 .*Destination Host Unreachable" <<<"$out" ||
	fail "no answer for 198.18.2.99: $out"

# Shows: the connected routes and the learned neighbours.
routes=$(cub r1 route show)
for n in 198.18.1.0/24 198.18.2.0/24 198.18.3.0/24; do
	grep -q "$n" <<<"$routes" || fail "route show lacks $n: $routes"
done
arp=$(cub r1 arp-table show)
for a in 198.18.1.1 198.18.2.1 198.18.3.1; do
	grep -qE "$a .*dynamic" <<<"$arp" || fail "arp-table lacks $a: $arp"
done
h2if=$(cub r1 arp-table show -o json | python3 -c '
import json, sys
print(" ".join(e["interface"] for e in json.load(sys.stdin) if e["address"] == "198.18.2.1"))')
[ "$h2if" = p2 ] || fail "arp-table: h2 (198.18.2.1) shown behind '$h2if', not p2: $arp"

# A static route, to a network on h3's loopback.
ip -n h3 addr add 198.18.30.1/24 dev lo
cub_ok r1 route add 198.18.30.0/24 198.18.3.1
ip netns exec h1 ping -c 1 -W 2 198.18.30.1 >/dev/null || fail "static route to 198.18.30.0/24"
grep -qE "198.18.30.0/24 +198.18.3.1 .*p3" <<<"$(cub r1 route show)" ||
	fail "route show: $(cub r1 route show)"

# A secondary address: h1 speaks from 198.18.11.1.
cub_ok r1 ports p1 secondaryip add 198.18.11.254/24
ip -n h1 addr add 198.18.11.1/24 dev eth0
ip netns exec h1 ping -c 1 -W 2 -I 198.18.11.1 198.18.2.1 >/dev/null || fail "from a secondary network"
ip netns exec h1 ping -c 1 -W 2 198.18.11.254 >/dev/null || fail "the secondary address does not answer"

# A static neighbour.
cub_ok r1 arp-table add 198.18.2.77 mac=02:00:00:00:02:77
grep -qE "198.18.2.77 .*static" <<<"$(cub r1 arp-table show)" || fail "static neighbour: $(cub r1 arp-table show)"

# Bad input: named, nothing changed.
snapshot() { cub r1 show -o json | grep -vE '_packets|_bytes|drops|slowpath|icmp_out|dynamic|"mac": "[0-9a-f:]+",?$'; }
snapshot() { cub r1 show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d["arp-table"] = [e for e in d.get("arp-table", []) if e.get("type") == "static"]
for p in d.get("ports", []):
    for k in list(p):
        if k.endswith(("_packets", "_bytes")) or k in ("drops", "slowpath", "icmp_out", "status"):
            del p[k]
print(json.dumps(d, sort_keys=True))'; }
before=$(snapshot)
refused_unchanged "no port's network" r1 route add 198.18.40.0/24 198.18.50.1
refused_unchanged "host bits" r1 route add 198.18.40.1/24 198.18.3.1
refused_unchanged "exists" r1 route add 198.18.30.0/24 198.18.3.1
refused_unchanged "198.18.1.254.*p1.*p4|on port" r1 ports add p4 ip=198.18.1.254/24
refused_unchanged "no port's network" r1 arp-table add 198.18.60.1 mac=02:00:00:00:00:01
refused_unchanged "network or broadcast" r1 ports add p4 ip=198.18.5.0/24
refused_unchanged "out of range" r1 route add 198.18.41.0/24 198.18.3.1 pathcost=0
for n in 12 13 14 15; do cub_ok r1 ports p1 secondaryip add 198.18.$n.254/24; done
before=$(snapshot)
refused_unchanged "at most 5" r1 ports p1 secondaryip add 198.18.16.254/24
for n in 12 13 14 15; do cub_ok r1 ports p1 secondaryip del 198.18.$n.254/24; done

# A route changed under a ping every 10 ms: nothing lost.  Two ways to
# 198.18.30.0/24: h3 (cost 1) and h2 (cost 5, the same address on its
# loopback); the first goes, the second takes over in one map update.
ip -n h2 addr add 198.18.30.1/24 dev lo
cub_ok r1 route add 198.18.30.0/24 198.18.2.1 pathcost=5
ip netns exec h1 ping -c 1 -W 2 198.18.30.1 >/dev/null
ip netns exec h1 ping -i 0.01 -c 300 -W 1 198.18.30.1 >"$T/ping1.out" 2>&1 &
pp=$!
sleep 1
cub_ok r1 route del 198.18.30.0/24 198.18.3.1
wait $pp || true
grep -q " 0% packet loss" "$T/ping1.out" || fail "route change under ping: $(tail -2 "$T/ping1.out")"
grep -qE "198.18.30.0/24 +198.18.2.1" <<<"$(cub r1 route show)" || fail "the cost-5 route did not take over"

# 100k routes (Polycube: 256): /32s from 198.18.64.0 via h3; one of
# them answers on h3.
python3 - "$T/routes.json" <<'PY'
import ipaddress, json, sys
base = int(ipaddress.IPv4Address("198.18.64.0"))
for part in range(2):  # a body is at most 4 MiB: two of 50k
    routes = [{"network": "%s/32" % ipaddress.IPv4Address(base + i), "nexthop": "198.18.3.1"}
              for i in range(part * 50000, (part + 1) * 50000)]
    json.dump({"route": routes}, open("%s.%d" % (sys.argv[1], part), "w"))
PY
ip -n h3 addr add 198.19.100.7/32 dev lo
cub_ok r1 set --file "$T/routes.json.0"
cub_ok r1 set --file "$T/routes.json.1"
page=$(cub r1 route show limit=2 after="198.19.198.158/32 198.18.3.1" -o json)
grep -q '198.19.198.159/32' <<<"$page" || fail "route 100000 not in the document: $page"
# The /32s are in rt_host (a hash), the rest in the rt_routes trie.
entries() {
	bpftool -j map dump pinned "$T/pins/r1/$1" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}
n=$(entries rt_host)
[ "$n" = 100000 ] || fail "rt_host holds $n entries, not the 100000 /32 routes"
n=$(entries rt_routes)
[ "$n" -ge 3 ] && [ "$n" -lt 100 ] || fail "rt_routes holds $n entries, not the connected and static networks"
ip netns exec h1 ping -c 1 -W 2 198.19.100.7 >/dev/null || fail "route 59,000-odd of 100k"
cub_log "100k routes: rt_host has 100000 entries, rt_routes $n"
cub_ok r1 route 198.19.100.7/32 198.18.3.1 set pathcost=3
ip netns exec h1 ping -c 1 -W 2 198.19.100.7 >/dev/null || fail "after a change among 100k routes"
# A /32 deleted is gone from the dataplane (net unreachable), and back.
cub_ok r1 route del 198.19.100.7/32 198.18.3.1
out=$(ip netns exec h1 ping -c 1 -W 2 198.19.100.7 2>&1 || true)
grep -q "Destination Net Unreachable" <<<"$out" || fail "a deleted /32 route still routes: $out"
[ "$(entries rt_host)" = 99999 ] || fail "rt_host after a /32 deleted: $(entries rt_host)"
cub_ok r1 route add 198.19.100.7/32 198.18.3.1
ip netns exec h1 ping -c 1 -W 2 198.19.100.7 >/dev/null || fail "a /32 route added back"

# kill -9 of the worker, then of the broker, under a ping every 10 ms.
ip netns exec h1 ping -i 0.01 -c 400 -W 1 198.18.3.1 >"$T/ping2.out" 2>&1 &
pp=$!
sleep 0.5
kill -9 "$(worker_pid router)"
sleep 1
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
wait $pp || true
grep -q " 0% packet loss" "$T/ping2.out" || fail "pings across the kills: $(tail -2 "$T/ping2.out")"
ip netns exec h1 ping -c 1 -W 2 198.19.100.7 >/dev/null || fail "100k routes after the restart"
cub_ok r1 del
