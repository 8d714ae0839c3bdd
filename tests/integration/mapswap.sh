#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Atomic map transactions (issue 7): swap sets under a continuous stream
# of packets (tests/swapdrive: BPF_PROG_TEST_RUN from one thread a CPU on
# the cube's pinned program, whose slow path between the reads of the two
# members of a set lasts about 40 ms; plugins/testing/swap.bpf.c).
#  1. 100 swaps of set ver (3 copies) and 100 of ver2 (2 copies) while
#     traffic flows: 0 packets saw a mixture of copies.
#  2. Swap-on-read: 50 reads while traffic flows, then one after it
#     stopped: the reads sum to the packets the program counted outside
#     the set, and to the runs the driver made (exact).
#  3. Batches: 100k entries by one update_batch and one lookup_batch,
#     every value back; a delete_batch that stops part way says where.
#  4. What a worker may not do: write the index map, unknown or badly
#     named sets, a commit a later begin ended; objects whose swap set is
#     malformed (copy counts that differ, an index programs could write)
#     are refused and the cube keeps its set.
#  5. The same broker with CUBICLED_TEST_SWAP_NO_GRACE=1 (copies reused
#     without the grace period): the same swaps (rounds of 100 of each
#     set, up to 10) now show mismatches, so test 1 would catch a missing
#     wait.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/swaptest.so")
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 120000"
DRIVE="$CUB_BUILD/tests/swapdrive"
DRIVER=
broker_start

# field JSON NAME: the number NAME has in a one-level JSON answer.
field() {
	sed -n "s/.*\"$2\": *\(-\?[0-9a-z]*\).*/\1/p" <<<"$1" | head -n 1
}

act() {
	local out
	out=$(cub --timeout 120000 -o json sw1 debug "$@" 2>&1) ||
		fail "sw1 debug $*: $out"
	printf '%s\n' "$out"
}

show() {
	cub sw1 show "$1"
}

drive_start() {
	local i
	rm -f "$T/stop"
	"$DRIVE" "$T/pins/sw1/prog" "$T/stop" >"$T/drive.out" 2>"$T/drive.err" &
	DRIVER=$!
	for i in $(seq 1 300); do
		[ "$(show packets)" -gt 0 ] && return 0
		kill -0 "$DRIVER" 2>/dev/null || fail "swapdrive: $(cat "$T/drive.err")"
		sleep 0.1
	done
	fail "no packets 30 s after swapdrive started"
}

drive_stop() {
	touch "$T/stop"
	wait "$DRIVER" || fail "swapdrive: $(cat "$T/drive.err")"
	DRIVER=
	runs=$(sed -n 's/^runs=//p' "$T/drive.out")
}

cub_ok swaptest add sw1
for _ in $(seq 1 100); do
	[ -e "$T/pins/sw1/prog" ] && break
	sleep 0.1
done
[ -e "$T/pins/sw1/prog" ] || fail "sw1's program is not pinned"
act loops n=4000000 >/dev/null

# 1. 100 swaps under a continuous stream.
act reset >/dev/null
drive_start
# Rounds of 100 until at least 100 packets ran meanwhile (a loaded
# machine may starve the driver for a round).
p0=$(show packets)
for round in $(seq 1 10); do
	out=$(act swaps n=100)
	[ "$(field "$out" swaps)" = 100 ] || fail "swaps: $out"
	out2=$(act swaps n=100 copies=2)
	[ "$(field "$out2" swaps)" = 100 ] || fail "swaps copies=2: $out2"
	p1=$(show packets)
	[ $((p1 - p0)) -ge 100 ] && break
done
mm=$(show mismatches)
cub_log "$round x 100 swaps of each set, the last of ver: $(tr -d '\n' <<<"$out"); $((p1 - p0)) packets meanwhile, $mm mismatches"
[ $((p1 - p0)) -ge 100 ] || fail "only $((p1 - p0)) packets during $round x 100 swaps"
[ "$mm" = 0 ] || fail "$mm packets saw a mixture of two copies of set ver"

# 2. Swap-on-read: exact totals over successive reads.
drive_stop
act reads n=2 >/dev/null # drain what the swaps' traffic counted
act reset >/dev/null
drive_start
out=$(act reads n=50 interval_ms=20)
sum1=$(field "$out" sum)
[ "$(field "$out" reads)" = 50 ] || fail "reads: $out"
drive_stop
out=$(act reads n=2)
sum2=$(field "$out" sum)
packets=$(show packets)
cub_log "reads: $sum1 during traffic + $sum2 after; program counted $packets, driver ran $runs"
[ "$packets" = "$runs" ] || fail "the program counted $packets packets, the driver ran $runs"
[ $((sum1 + sum2)) = "$packets" ] ||
	fail "50 reads summed $sum1 + $sum2 = $((sum1 + sum2)), not the $packets packets sent"
[ "$sum1" -gt 0 ] || fail "the reads during traffic saw nothing"

# 3. Batches at 100k entries, and a partial failure.
out=$(act batch n=100000)
cub_log "batch: $(tr -d '\n' <<<"$out")"
[ "$(field "$out" looked_up)" = 100000 ] && [ "$(field "$out" values_ok)" = true ] ||
	fail "batch of 100000: $out"
out=$(act partial)
[ "$(field "$out" deleted)" = 5000 ] && [ "$(field "$out" delete_r)" = -2 ] ||
	fail "a delete_batch that meets a missing key at 5000: $out"

# 4. Refusals.
out=$(act hostile)
[ "$(field "$out" index_found)" = 0 ] && [ "$(field "$out" index_write)" -lt 0 ] ||
	fail "a worker wrote the index map: $out"
for k in no_set bad_name stale_commit; do
	[ "$(field "$out" "$k")" -lt 0 ] || fail "hostile $k accepted: $out"
done
# begin with .clear: the copy an abort handed back comes back emptied.
[ "$(field "$out" stamp_before_clear)" -gt 0 ] &&
	[ "$(field "$out" stamp_after_clear)" = 0 ] ||
	fail "begin with clear did not empty the copy: $out"

# Objects with a bad swap set are refused, and change nothing.
err=$(cub sw1 debug badload n=1 2>&1) && fail "members of 3 and 2 copies loaded"
grep -qE "swap set 'ver': member 'ver__[ab]' must be an ARRAY_OF_MAPS of 2 to 8 copies, as many as the other members" <<<"$err" ||
	fail "badload 1: $err"
err=$(cub sw1 debug badload n=2 2>&1) && fail "a writable index map loaded"
grep -q "map 'cub_sw_ver' is not as CUB_SWAP_SET() declares it" <<<"$err" ||
	fail "badload 2: $err"
out=$(act swaps n=3)
[ "$(field "$out" swaps)" = 3 ] || fail "swaps after refused loads: $out"

# 5. Without the grace period, the same test sees mixtures.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
export CUBICLED_TEST_SWAP_NO_GRACE=1
broker_start
unset CUBICLED_TEST_SWAP_NO_GRACE
act reset >/dev/null
drive_start
mm=0
for round in $(seq 1 10); do
	act swaps n=100 copies=2 >/dev/null
	act swaps n=100 >/dev/null
	mm=$(show mismatches)
	[ "$mm" -gt 0 ] && break
done
drive_stop
cub_log "without the grace period: $mm mismatches after $round x 100 swaps of each set"
[ "$mm" -gt 0 ] || fail "no mismatch without the grace period: the test cannot catch a missing wait"
grep -q "CUBICLED_TEST_SWAP_NO_GRACE=1" "$T/broker.log" ||
	fail "the broker did not say it ran without grace periods"
