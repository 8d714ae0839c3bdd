#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The standard-cube path of an upgrade (review10-upgrade-adopt covers
# the stacked one): a broker restarted with what refuses the service's
# hello (here --max-cube-map-bytes under the policy simpleforwarder
# declares) keeps a standard cube's adopted program running on its
# ports until --vet-timeout (default 120 s, longer than this test; at it
# the program is retired: policy-narrow.sh, step 5): traffic is still
# forwarded and counted by it, and the cube's
# document is kept, store included: once the hello is taken again, the
# cube is as it was and its counters went on counting meanwhile.
. "$(dirname "$0")/../lib/netns.sh"

# pings N: N pings through sf1, each answered (of up to 3 tries).
pings() {
	local i n
	for n in $(seq 1 "$1"); do
		for i in 1 2 3; do
			ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null && continue 2
		done
		return 1
	done
}
# doc: sf1's document without its counters and status (they move).
doc() {
	cub sf1 show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for p in d.get("ports", []):
    for k in ("status", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
              "drops", "slowpath", "packet_ins"):
        p.pop(k, None)
print(json.dumps(d, sort_keys=True))'
}
svc_status() {
	cub services -o json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == "simpleforwarder":
        print(s["status"], s.get("why", ""))'
}

netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
broker_start
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vetha action=drop
cub_ok sf1 ports add p2 peer=vethb action=forward outport=p1
cub_ok sf1 ports p1 set action=forward outport=p2
pings 5 || fail "no forwarding through sf1"
rx0=$(port_counter sf1 p1 rx_packets)
[ "$rx0" -ge 5 ] || fail "sf1 p1 counted $rx0 of 5 pings"
doc0=$(doc)
prog0=$(ip -d link show vetha | grep -o 'id [0-9]*' | head -1 || true)

# The broker restarted with a cap that refuses the service's hello.
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
# (Not broker_start: a service whose hello is refused this way never
# becomes ready, so the broker never says every service is settled.)
"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" \
	--max-cube-map-bytes 1048576 >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
want="hello refused by broker: .*max_map_bytes 4194304.*--max-cube-map-bytes 1048576"
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ]; do
	grep -q "$want" "$T/broker.log" && break
	sleep 0.1
done
grep -q "$want" "$T/broker.log" || fail "the hello was not refused"
st=$(svc_status)
case "$st" in running*) fail "the service runs: $st" ;; esac
cub_log "service: $st"
# A policy refusal counts like a schema refusal: the service stops after
# its third refused hello instead of restarting for ever, and says why.
end=$((SECONDS + 90))
while [ "$SECONDS" -lt "$end" ]; do
	case "$(svc_status)" in stopped*) break ;; esac
	sleep 0.2
done
st=$(svc_status)
case "$st" in
stopped*max_map_bytes*) cub_log "service: $st" ;;
*) fail "a service whose hello the policy cap refuses did not stop: $st" ;;
esac
# Its program still runs: pings forwarded, the netdev's program the same.
pings 10 || fail "sf1 stopped forwarding when its service's hello was refused"
[ "$(ip -d link show vetha | grep -o 'id [0-9]*' | head -1 || true)" = "$prog0" ] ||
	fail "vetha's program changed: $(ip -d link show vetha)"
cub show cubes | grep -q "^sf1 " || fail "sf1 not kept: $(cub show cubes)"

# The cap lifted: the hello is taken; sf1's document is the one it had,
# and its counters counted the pings of the refused run too.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ]; do
	case "$(svc_status)" in running*) break ;; esac
	sleep 0.2
done
case "$(svc_status)" in running*) ;; *) fail "not running again: $(svc_status)" ;; esac
[ "$(doc)" = "$doc0" ] || fail "sf1's document changed: $(doc), was $doc0"
rx1=$(port_counter sf1 p1 rx_packets)
[ "$rx1" -ge $((rx0 + 10)) ] || fail "sf1 p1 counted $rx0 -> $rx1: the refused run's 10 pings not counted"
cub_log "rx_packets $rx0 -> $rx1 across the refused run"
pings 2 || fail "no forwarding at the end"
