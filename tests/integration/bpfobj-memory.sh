#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6 point 10: one worker cannot pin unbounded kernel memory.  A big
# map renamed on every load leaves one pin, not one per load; a per-CPU map
# counts once per possible CPU; --max-service-map-bytes bounds a service's
# cubes together; --max-cube-map-bytes caps what a hello may declare.
# Review F5: a USER_RINGBUF, a preallocated hash's element headers and
# buckets, a map-in-map's inner template all count.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool

PLUGINS=("$CUB_BUILD/plugins/testing/evil.so")

# memlock PINDIR: the kernel's bytes_memlock summed over a directory's pins.
memlock() {
	local f sum=0 n
	for f in "$1"/*; do
		n=$(bpftool -j map show pinned "$f" 2>/dev/null |
			grep -oE '"bytes_memlock":[0-9]+' | cut -d: -f2) || continue
		sum=$((sum + ${n:-0}))
	done
	echo "$sum"
}

broker_start
cub_ok evil add e3

# 1. A big map renamed on every load: one pin, the old maps freed.
cub_ok e3 debug bpfobj object=big n=1
[ -e "$T/pins/e3/evbig_0001" ] || fail "no pin for evbig_0001: $(ls "$T/pins/e3")"
old_id=$(bpftool -j map show pinned "$T/pins/e3/evbig_0001" | grep -oE '"id":[0-9]+' | cut -d: -f2)
pins1=$(ls "$T/pins/e3" | wc -l)
mem1=$(memlock "$T/pins/e3")
for n in 2 3 4 5 6 7 8; do
	cub_ok e3 debug bpfobj object=big n=$n
done
pins8=$(ls "$T/pins/e3" | wc -l)
mem8=$(memlock "$T/pins/e3")
cub_log "after 1 load: $pins1 pins, $mem1 bytes; after 8: $pins8 pins, $mem8 bytes"
[ "$pins8" -le "$pins1" ] || fail "8 renamed loads left $pins8 pins (1 load: $pins1): $(ls "$T/pins/e3")"
[ "$mem8" -le "$mem1" ] || fail "8 renamed loads pin $mem8 bytes (1 load: $mem1)"
[ "$(ls "$T/pins/e3" | grep -c '^evbig_')" = 1 ] || fail "old big maps still pinned: $(ls "$T/pins/e3")"
# Freed once its last reference goes (the old program's, after an RCU
# grace period): wait up to 5 s.
for _ in $(seq 1 100); do
	bpftool map show id "$old_id" >/dev/null 2>&1 || break
	sleep 0.05
done
! bpftool map show id "$old_id" >/dev/null 2>&1 || fail "the first big map (id $old_id) is still alive"

# 2. A per-CPU map within 4 MiB once, over it times the possible CPUs.
ncpus=$(( $(cut -d- -f2 /sys/devices/system/cpu/possible) + 1 ))
if [ "$ncpus" -ge 2 ]; then
	err=$(cub_refused 2 e3 debug bpfobj object=pcpu)
	grep -q "maps need [0-9]* bytes.*over the limit" <<<"$err" || fail "pcpu: $err"
	cub_log "per-CPU map on $ncpus CPUs refused: $err"
else
	cub_log "one possible CPU: per-CPU part skipped"
fi

# 2b. Maps the kernel charges more for than key + value per entry, under
# the evil policy's 4 MiB: refused before the kernel creates them, with
# the map named; nothing of them pinned.  An honest small object loads.
for o in uring:evuring:user_ringbuf hash:evhash:hash inner:evouter:array_of_maps; do
	IFS=: read -r obj map type <<<"$o"
	err=$(cub_refused 2 e3 debug bpfobj object=$obj)
	grep -q "maps need [0-9]* bytes.*map '$map' ($type), [0-9]* bytes), over the limit of 4194304" <<<"$err" ||
		fail "$obj: not refused as over 4 MiB: $err"
	[ ! -e "$T/pins/e3/$map" ] || fail "$obj: refused map $map is pinned"
	cub_log "$obj refused: $err"
done
# A map-in-map's inner template is created too: its type must be declared.
err=$(cub_refused 2 e3 debug bpfobj object=itype)
grep -q "map 'evitype' has inner maps of type lru_hash, not declared by service 'evil'" <<<"$err" ||
	fail "itype: an undeclared inner map type was not refused: $err"
cub_ok e3 debug bpfobj object=small
[ -e "$T/pins/e3/evsmall" ] || fail "the small object's map is not pinned: $(ls "$T/pins/e3")"
small=$(memlock "$T/pins/e3")
cub_log "small object loaded: $small bytes memlock"
grep -q "cube 'e3': program cub_ingress_tc loaded (id [0-9]*, [0-9]* maps, [0-9]* bytes)" "$T/broker.log" ||
	fail "no load record for the small object"
cub_ok e3 del

# 3. --max-service-map-bytes: the service's cubes together.
broker_stop
CUB_BROKER_ARGS="--max-service-map-bytes 5000000"
broker_start
cub_ok evil add e4
cub_ok evil add e5
cub_ok e4 debug bpfobj object=big n=1
err=$(cub_refused 2 e5 debug bpfobj object=big n=2)
grep -q "service 'evil'.*--max-service-map-bytes" <<<"$err" || fail "service cap: $err"
cub_log "second big cube refused: $err"
# Reloading the first cube replaces its maps: not counted twice.
cub_ok e4 debug bpfobj object=big n=3
cub_ok e4 del
cub_ok e5 debug bpfobj object=big n=4
cub_ok e5 del

# 3b. What the kernel charged, checked after the load: a cap between the
# estimate of evil's object and its memlock (a RINGBUF costs its data
# area plus pages of metadata) refuses it after the kernel created the
# maps, and the maps it pinned are removed.
cub_ok evil add e6
charged=$(memlock "$T/pins/e6")
cub_ok e6 del
broker_stop
CUB_BROKER_ARGS="--max-service-map-bytes 4096"
broker_start
err=$(cub_refused 2 evil add e6)
est=$(grep -oE "would hold [0-9]+ bytes" <<<"$err" | grep -oE '[0-9]+')
cub_log "evil's object: estimated $est bytes, charged $charged"
[ -n "$est" ] && [ -n "$charged" ] || fail "no estimate ($err) or charge"
if [ "$charged" -gt "$est" ]; then
	broker_stop
	CUB_BROKER_ARGS="--max-service-map-bytes $(((est + charged) / 2))"
	broker_start
	err=$(cub_refused 2 evil add e6)
	grep -q "would hold [0-9]* bytes .*as the kernel charged them.*nothing was loaded" <<<"$err" ||
		fail "a load over the cap as charged was not refused: $err"
	[ -z "$(ls "$T/pins/e6" 2>/dev/null)" ] || fail "the refused object left pins: $(ls "$T/pins/e6")"
	cub_log "refused after the load: $err"
else
	cub_log "the kernel charged no more than the estimate: post-load part skipped"
fi

# 4. A hello that declares more than --max-cube-map-bytes is refused.
broker_stop
for bad in abc 0 -5 99999999999999999999999; do
	rc=0
	out=$("$CUB_BUILD/broker/cubicled" --max-cube-map-bytes "$bad" 2>&1) || rc=$?
	[ "$rc" = 1 ] && grep -q -- "--max-cube-map-bytes: '$bad'" <<<"$out" ||
		fail "--max-cube-map-bytes $bad: exit $rc: $out"
done
CUB_BROKER_ARGS="--max-cube-map-bytes 1048576"
mkdir -p "$T/s" "$T/st"
"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" \
	$CUB_BROKER_ARGS >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
want="hello refused by broker: .*max_map_bytes 4194304.*--max-cube-map-bytes 1048576"
for _ in $(seq 1 100); do
	grep -q "$want" "$T/broker.log" && break
	sleep 0.05
done
grep -q "$want" "$T/broker.log" || fail "a hello over --max-cube-map-bytes was not refused"
cub_log "$(grep -m1 "hello refused by broker" "$T/broker.log")"
