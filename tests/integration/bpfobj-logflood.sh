#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review F6: a worker cannot make the broker log without limit.  A second
# hello is refused; 3000 hellos and 200 reloads of two alternating
# objects grow broker.log by a bounded amount, which still says what was
# dropped; the service keeps working.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
broker_start
cub_ok evil add e1
start=$(stat -c %s "$T/broker.log")

out=$(cub_ok e1 debug bpfobj object=hello n=3000)
grep -qE 'accepted +0$' <<<"$out" ||
	fail "extra hellos accepted: $out"
grep -q "already said hello" <<<"$out" || fail "no clear error for a second hello: $out"
out=$(cub_ok e1 debug bpfobj object=reload n=200)
grep -qE 'accepted +200$' <<<"$out" || fail "reloads failed: $out"
# One more record after the bucket refilled says how many were dropped.
sleep 2
cub_ok e1 debug bpfobj object=reload n=1 >/dev/null

grown=$(($(stat -c %s "$T/broker.log") - start))
cub_log "broker.log grew by $grown bytes"
[ "$grown" -lt 65536 ] || fail "broker.log grew by $grown bytes: $(tail -5 "$T/broker.log")"
grep -q "service 'evil': worker said hello twice; refused" "$T/broker.log" ||
	fail "the refused hello is not logged"
grep -q "service 'evil': [0-9]* log messages suppressed" "$T/broker.log" ||
	fail "no note of the suppressed messages"
cub_log "$(grep -m1 "log messages suppressed" "$T/broker.log")"

# The service still works.
cub_ok e1 del
cub_ok simpleforwarder add v1
cub_ok evil add e2
cub_ok v1 ports add p1 peer=vetha action=drop
cub_ok v1 ports add p2 peer=vethb action=forward outport=p1
cub_ok v1 ports p1 set action=forward outport=p2
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "v1 does not forward"
cub_ok e2 debug bpfobj object=small
cub_ok e2 del
cub_ok v1 del
