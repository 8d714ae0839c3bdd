#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6 point 12 (verifier logs): what a worker makes the broker log is
# truncated and rate-limited.  20 refused loads grow the broker's log by
# less than 20 KiB; the log still names the refusal and says how much was
# suppressed; the worker still gets the verifier's reason.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
broker_start
cub_ok evil add e1

before=$(stat -c %s "$T/broker.log")
for i in $(seq 1 20); do
	err=$(cub_refused 2 e1 debug load object=ptr-leak)
	grep -q "kernel refused the object.*leaks addr" <<<"$err" || fail "load $i: $err"
done
after=$(stat -c %s "$T/broker.log")
grown=$((after - before))
cub_log "20 refused loads grew the log by $grown bytes"
[ "$grown" -lt $((20 * 1024)) ] || fail "20 refused loads grew the log by $grown bytes"
grep -q "cube 'e1': the kernel refused the object.*leaks addr" "$T/broker.log" ||
	fail "the log does not name the refusal"
grep -q "verifier log (last [0-9]* of [0-9]* lines): .*leaks addr" "$T/broker.log" ||
	fail "the log has no verifier tail"
# Once the bucket refills (one record a second), the next record says how
# many were dropped.
sleep 3
cub_refused 2 e1 debug load object=ptr-leak >/dev/null
grep -q "service 'evil': [0-9]* log messages suppressed" "$T/broker.log" ||
	fail "no note of suppressed messages"
cub_ok e1 del
