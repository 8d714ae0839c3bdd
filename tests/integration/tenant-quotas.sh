#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 13, quotas per tenant (docs "Tenants", broker/quota.c): tenant ta
# (uid 60001) hits each of its quotas in turn and gets the typed error
# (quota-exceeded) naming the quota and itself, with nothing changed;
# tenant tb (uid 60002, no quotas) meanwhile gets every answer.
#  - cubes=2: a third cube is refused, and not there (tb makes three);
#  - ports=3: a fourth port (port add, and a cube add whose body holds
#    ports) is refused, its cube unchanged (tb adds its ports);
#  - rps=20: a flood of "a1 show" on 4 connections is refused at once
#    (the refusals name rps; each refused connection is not read again
#    until a token is due), while tb's batch of 300 "b1 show" to the
#    same service all succeed; the CLI prints the error;
#  - pktin-pps=5: 400 packets ta's cube sends to the slow path: at most
#    5 + 5 a second reach its worker, the rest counted as dropped (show
#    tenants, the cube's pktin_dropped and pktin_quota_dropped), while
#    tb's cube's slow-path packets, at the same time, drop none over a
#    quota;
#  - after a restart with programs=2: a third cube's program is refused
#    (the cube is not made); with map-bytes=its use plus half a cube's:
#    a cube whose maps exceed the remainder is refused.
# Malformed quotas refuse the start, naming line and field.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/gateway.sh"

need setpriv python3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
. "$CUB_LIB/tenant_cli.sh"

# 0. A bad quota is refused before anything starts.
printf 'ta uid=%s cubes=2\ntb uid=%s map-bytes=12Q\n' "$A" "$B" >"$T/bad.tenants"
rc=0
err=$("$CUB_BUILD/broker/cubicled" --tenants "$T/bad.tenants" --socket-dir "$T/nb" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -qF "line 2: tenant 'tb': map-bytes '12Q' is not a number" <<<"$err" ||
	fail "a bad map-bytes: exit $rc: $err"
[ ! -e "$T/nb" ] || fail "a refused tenants file created the socket dir"

netns_host ca vetha0 198.18.0.1
netns_host cb vethb0 198.18.0.2

tenants() {
	printf 'ta uid=%s netdevs=vetha* %s\ntb uid=%s netdevs=vethb+\n' "$A" "$1" "$B" >"$T/tenants"
}
tenants "cubes=2 ports=3 rps=20 pktin-pps=5"
CUB_BROKER_ARGS="--tenants $T/tenants"
gateway_broker_args # socket group 65534: the tenants connect as members
broker_start

# quota WHAT QUOTA CMD...: CMD must fail with ta's quota QUOTA named.
quota() {
	local what=$1 q=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" != 0 ] || fail "$what: succeeded: $out"
	grep -qF "tenant 'ta': quota $q reached" <<<"$out" && grep -qF "(quota-exceeded)" <<<"$out" ||
		fail "$what: exit $rc, not quota $q: $out"
	cub_log "$what: $out"
}
cubes_of() { cub show cubes -o json | python3 -c '
import json, sys
print(" ".join(sorted(c["name"] + ":" + str(c["ports"]) for c in json.load(sys.stdin) if c["owner"] == sys.argv[1])))' "$1"; }
# use WHO FIELD: a field of WHO's line in show tenants (as admin).
use() { cub show tenants -o json | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin) if t["name"] == sys.argv[1]][0]
d = t
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$1" "$2"; }

ok tb simpleforwarder add b1
ok tb b1 ports add p1 peer=vethb0

# 1. cubes=2.
ok ta simpleforwarder add a1
ok ta simpleforwarder add a2
quota "ta: a third cube" "cubes=2" ta simpleforwarder add a3
[ "$(cubes_of ta)" = "a1:0 a2:0" ] || fail "after the refused cube: $(cubes_of ta)"
# Per tenant: tb (no quota) makes its third cube meanwhile.
ok tb simpleforwarder add b2
ok tb simpleforwarder add b3
ok tb simpleforwarder del b3
ok tb simpleforwarder del b2

# 2. ports=3 over its cubes.
ok ta a1 ports add p1 peer=vetha0
ok ta a1 ports add p2
ok ta a2 ports add p1
quota "ta: a fourth port" "ports=3" ta a2 ports add p2
[ "$(cubes_of ta)" = "a1:2 a2:1" ] || fail "after the refused port: $(cubes_of ta)"
ok tb b1 ports add p2
ok tb b1 ports add p3
ok tb b1 ports del p3
ok ta simpleforwarder del a2
printf '{"ports": [{"name": "p1"}, {"name": "p2"}]}\n' >"$T/body.json"
chmod 0644 "$T/body.json"
quota "ta: a cube whose body has two ports over the quota" "ports=3" \
	ta -f "$T/body.json" simpleforwarder add a3
[ "$(cubes_of ta)" = "a1:2" ] || fail "after the refused cube with ports: $(cubes_of ta)"
printf '{"ports": [{"name": "p1"}]}\n' >"$T/body.json"
ok ta -f "$T/body.json" simpleforwarder add a2
[ "$(cubes_of ta)" = "a1:2 a2:1" ] || fail "a2 with one port: $(cubes_of ta)"
# A tenant sees its own line only; its use is counted.
out=$(ta show tenants -o json)
python3 - "$out" <<'PY' || fail "ta's show tenants: $out"
import json, sys
t = json.loads(sys.argv[1])
assert [x["name"] for x in t] == ["ta"], t
assert t[0]["use"]["cubes"] == 2 and t[0]["use"]["ports"] == 3, t
assert t[0]["quota"]["cubes"] == 2 and t[0]["quota"]["programs"] == "unlimited", t
assert t[0]["refused"]["cubes"] == 1 and t[0]["refused"]["ports"] == 2, t
PY
[ "$(cub show tenants -o json | grep -c '"name"')" = 2 ] || fail "admin's show tenants: $(cub show tenants)"

# 3. rps=20: ta floods its cube's service; tb's batch on the same
# service all succeed meanwhile, and ta's refusals name rps.
setpriv --reuid=$A --regid=$A --groups=65534 "$PY" "$CUB_LIB/tenant_load.py" "$T/s" \
	flood 4 8 a1 show >"$T/flood.out" 2>&1 &
FLOOD=$!
for _ in $(seq 1 100); do
	[ "$(use ta refused.rps)" -gt 0 ] && break
	sleep 0.05
done
[ "$(use ta refused.rps)" -gt 0 ] || fail "ta's flood is not refused: $(cat "$T/flood.out")"
out=$(setpriv --reuid=$B --regid=$B --groups=65534 "$PY" "$CUB_LIB/tenant_load.py" "$T/s" \
	batch 300 b1 show) || fail "tb's batch: $out"
kill -0 "$FLOOD" 2>/dev/null || fail "ta's flood ended before tb's batch did: $(cat "$T/flood.out")"
grep -q "^batch ok 300 failed 0 " <<<"$out" || fail "tb's batch during ta's flood: $out"
cub_log "tb during ta's flood: $out"
# The CLI prints the quota error (the flood keeps the bucket empty).
got=
for _ in $(seq 1 50); do
	out=$(ta a1 show 2>&1) && continue
	got=$out
	break
done
[ -n "$got" ] || fail "ta's CLI was never refused during its flood"
grep -qF "tenant 'ta': quota rps=20 reached" <<<"$got" && grep -qF "(quota-exceeded)" <<<"$got" ||
	fail "ta's CLI refusal: $got"
wait "$FLOOD" || fail "ta's flood: $(cat "$T/flood.out")"
read -r _ _ okn _ qn _ on <"$T/flood.out"
[ "$qn" -gt 0 ] && [ "$on" = 0 ] || fail "ta's flood: $(cat "$T/flood.out")"
# 8 s at 20 a second, and a burst of 20: the flood's own (and the
# CLI's above) passed no more (the bucket is counted exactly).
[ "$okn" -le $((20 + 20 * 9)) ] || fail "ta's flood passed $okn requests in 8 s at rps=20"
# A refused connection is not read again until a token is due (at
# least 1 ms): 4 connections for 8 s are refused at most 4 x 8000 times
# (without the hold, a flood in step is refused some 30000 times a
# second).
[ "$qn" -le $((4 * 9000)) ] || fail "ta's flood was refused $qn times: its connections were not held"
cub_log "ta's flood: $(head -1 "$T/flood.out")"
sleep 1.1 # its bucket full again
[ "$(cubes_of ta)" = "a1:2 a2:1" ] || fail "the flood changed ta's cubes: $(cubes_of ta)"

# 4. pktin-pps=5: a1 p1 sends what it gets from ca to the slow path;
# so does tb's b1 p1 from cb at the same time (its own bucket: none).
ok ta a1 ports p1 set action=slowpath
ok tb b1 ports p1 set action=slowpath
ip -n ca neigh replace 198.18.0.9 lladdr 02:00:00:00:00:09 dev eth0 nud permanent
ip -n cb neigh replace 198.18.0.9 lladdr 02:00:00:00:00:09 dev eth0 nud permanent
ip netns exec cb ping -q -c 100 -i 0.02 -W 1 198.18.0.9 >/dev/null 2>&1 &
PB=$!
ip netns exec ca ping -q -c 400 -i 0.005 -W 1 198.18.0.9 >/dev/null 2>&1 || true
wait "$PB" || true
dropped=0
for _ in $(seq 1 100); do
	dropped=$(use ta refused.pktin-pps)
	[ "$dropped" -gt 0 ] && break
	sleep 0.05
done
[ "$dropped" -gt 0 ] || fail "no packet-in over pktin-pps counted"
pin=$(port_counter a1 p1 packet_ins)
read -r cdrop qdrop < <(cub show cubes -o json | python3 -c '
import json, sys
c = [c for c in json.load(sys.stdin) if c["name"] == "a1"][0]
print(c["pktin_dropped"], c.get("pktin_quota_dropped", 0))')
dropped2=$(use ta refused.pktin-pps) # a last packet may drain meanwhile
[ "$cdrop" -ge "$qdrop" ] && [ "$qdrop" -ge "$dropped" ] && [ "$qdrop" -le "$dropped2" ] ||
	fail "a1's pktin_dropped $cdrop (over the quota $qdrop), show tenants $dropped then $dropped2"
[ "$((pin + dropped))" -le 400 ] && [ "$pin" -lt 400 ] || fail "a1: $pin packet-ins, $dropped dropped of 400"
cub_log "pktin-pps=5: $pin of 400 packets reached a1's worker, $dropped dropped (a1 pktin_dropped $cdrop)"
ok ta a1 ports p1 set action=forward outport=p2
bq=$(cub show cubes -o json | python3 -c '
import json, sys
c = [c for c in json.load(sys.stdin) if c["name"] == "b1"][0]
print(c.get("pktin_quota_dropped", 0))')
bpin=$(port_counter b1 p1 packet_ins)
[ "$bq" = 0 ] && [ "$bpin" -gt 0 ] || fail "tb's b1: $bpin packet-ins, $bq dropped over a quota (it has none)"
cub_log "tb's b1 meanwhile: $bpin of 100 packet-ins, none dropped over a quota"

# 5. programs=2 (after a restart with it): a third cube's load refused.
broker_stop
tenants "programs=2"
broker_start
quota "ta: a third program" "programs=2" ta simpleforwarder add a3
[ "$(cubes_of ta)" = "a1:2 a2:1" ] || fail "after the refused program: $(cubes_of ta)"
ok tb b1 show

# 6. map-bytes: its use plus half a cube's; a third cube exceeds the
# remainder.
bytes=$(use ta use.map-bytes)
[ "$bytes" -gt 0 ] || fail "ta's map bytes: $bytes"
cap=$((bytes + bytes / 4))
broker_stop
tenants "map-bytes=$cap"
broker_start
quota "ta: maps over the remainder" "map-bytes=$cap" ta simpleforwarder add a3
[ "$(cubes_of ta)" = "a1:2 a2:1" ] || fail "after the refused maps: $(cubes_of ta)"
[ "$(use ta use.map-bytes)" = "$bytes" ] || fail "ta's map bytes changed: $(use ta use.map-bytes)"
ok tb simpleforwarder add b2
ok tb b1 show
cub_log "map-bytes=$cap (ta holds $bytes over 2 cubes): a third cube refused"
