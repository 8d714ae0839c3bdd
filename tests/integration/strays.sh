#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The store is the truth at a start.  A cube pinned but not in the store
# (created by a broker killed before the save, or a store restored from
# before) is a stray: its tc filter and XDP program are detached and its
# pins removed, and the cubes of the store keep forwarding.  With no
# store at all and cubes pinned, the broker refuses to start, naming
# them, and leaves everything in place; --discard-strays starts it empty,
# detached and unpinned.
. "$(dirname "$0")/../lib/netns.sh"

netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
netns_host cc vethc 198.18.1.1
netns_host cd vethd 198.18.1.2
napi_on cc
napi_on cd
broker_start
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vetha
cub_ok sf1 ports add p2 peer=vethb action=forward outport=p1
cub_ok sf1 ports p1 set action=forward outport=p2
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "no forwarding through sf1"
stop() {
	kill -TERM "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	BROKER_PID=
}
stop
cp "$T/st/state.db" "$T/old.db"

# 1. Strays next to a store: sf2 (tc) and sf3 (XDP) are not in old.db.
broker_start
cub_ok simpleforwarder add sf2
cub_ok sf2 ports add p1 peer=vethc
cub_ok simpleforwarder add sf3 type=XDP_DRV
cub_ok sf3 ports add p1 peer=vethd
grep -q bpf <<<"$(tc filter show dev vethc ingress)" || fail "sf2 not attached"
grep -q xdp <<<"$(ip link show vethd)" || fail "sf3 not attached"
stop
cp "$T/old.db" "$T/st/state.db"
broker_start
[ "$(cub show cubes -o json | grep -c '"name"')" = 1 ] || fail "not sf1 alone: $(cub show cubes)"
for c in sf2 sf3; do
	[ -e "$T/pins/$c" ] && fail "stray $c still pinned: $(ls "$T/pins/$c")"
	grep -q "stray cube '$c'" "$T/broker.log" || fail "stray $c not logged"
done
[ -z "$(tc filter show dev vethc ingress)" ] || fail "stray sf2's filter left on vethc"
grep -q xdp <<<"$(ip link show vethd)" && fail "stray sf3's XDP program left on vethd"
ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null || fail "sf1 stopped forwarding"
# A stray's name is free again.
cub_ok simpleforwarder add sf2
cub_ok sf2 del
stop

# 2. No store, sf1 pinned: refused, nothing touched.
mv "$T/st/state.db" "$T/sf1.db"
rc=0
out=$(timeout -k 1 10 "$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" \
	--state-dir "$T/st" --pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" 2>&1) || rc=$?
printf '%s\n' "$out" >>"$T/broker.log"
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "cubicled did not refuse (exit $rc): $out"
grep -q "state store $T/st/state.db is missing.*(sf1).*--discard-strays" <<<"$out" ||
	fail "the refusal does not name the store, sf1 and --discard-strays: $out"
[ -e "$T/pins/sf1/prog" ] || fail "sf1's pins were touched"
ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null ||
	fail "forwarding stopped after a refused start"
[ ! -e "$T/st/state.db" ] || fail "a refused start wrote a store"

# 3. --discard-strays: empty, detached, unpinned.
CUB_BROKER_ARGS=--discard-strays broker_start
[ "$(cub show cubes -o json | tr -d ' \n')" = "[]" ] || fail "cubes: $(cub show cubes)"
[ -e "$T/pins/sf1" ] && fail "sf1 still pinned"
for d in vetha vethb; do
	[ -z "$(tc filter show dev $d ingress)" ] || fail "filter left on $d"
done
ip netns exec ca ping -c 1 -W 1 198.18.0.2 >/dev/null 2>&1 &&
	fail "packets still forwarded by the discarded sf1"
true
