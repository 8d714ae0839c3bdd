#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6 (found by a review: a hostile client cannot exhaust the broker's memory;
# the broker's own SP server): each connection may hold one partly sent
# message of up to twice CUB_MSG_MAX (8 MiB), malloc'd at its declared
# length and filled as it arrives, with no deadline and no total budget.
# 8 processes x 30 connections (under both caps), each sending all but the
# last byte of an 8 MiB message, pin about 1.9 GiB in the broker for as
# long as they like.  The broker must bound what partial input costs in
# all (here: grow by less than 512 MiB).
. "$(dirname "$0")/../lib/netns.sh"

need python3
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
broker_start
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$BROKER_PID/status"; }
before=$(rss_kib)
python3 "$(dirname "$0")/../lib/review_spsrv.py" "$T/s" partial 8 30 8 \
	>"$T/partial.out" 2>&1 &
atk=$!
for _ in $(seq 1 600); do
	grep -q '^partial:' "$T/partial.out" && break
	kill -0 "$atk" 2>/dev/null || break
	sleep 0.1
done
cub_log "attacker: $(cat "$T/partial.out")"
sleep 1
after=$(rss_kib)
cub_ok show cubes >/dev/null
kill "$atk" 2>/dev/null
wait "$atk" 2>/dev/null || true
grow=$(((after - before) / 1024))
cub_log "broker RSS: ${before} KiB before, ${after} KiB with the partial messages held (+${grow} MiB)"
[ "$grow" -lt 512 ] ||
	fail "240 partial 8 MiB messages grew the broker by ${grow} MiB: no total bound on buffered input"
cub_log "partial input bounded"
grep -q "hold [0-9]* bytes of unfinished messages (at most" "$T/broker.log" ||
	fail "the broker did not say why it closed the partial senders"
