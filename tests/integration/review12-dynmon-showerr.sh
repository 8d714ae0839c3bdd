#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 12: a show of a metric the cube does not have
# (`mon1 metrics ingress-metrics nosuch show`) came back as
# "counters and state unavailable: ... has no metric 'nosuch'" with the
# code service-unavailable: the broker's show_overlays() turned every
# refusal of the worker's show into an outage, which tells a client (or
# a gateway) to retry what can never work.  Fixed: the worker's own
# refusal (not-found, invalid-value, unknown-command, too-big, limit)
# keeps its code; a worker that does not answer is still unavailable
# (checked: its code with the worker stopped).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/dynmon/dynmon.so")
CUB_BROKER_ARGS="--call-timeout 5000"
broker_start
cub_ok dynmon add mon1 >/dev/null

for w in "ingress-metrics nosuch" "egress-metrics ../x" "ingress-metrics é"; do
	# shellcheck disable=SC2086 # the words
	err=$(cub_refused 2 mon1 metrics $w show)
	grep -q "(not-found)" <<<"$err" || fail "metrics $w show: '$err' is no not-found"
	grep -q "unavailable" <<<"$err" && fail "metrics $w show: '$err' says unavailable"
	grep -q "cube 'mon1': [a-z]" <<<"$err" || fail "metrics $w show: '$err' does not name the cube once"
	grep -q "cube 'mon1': cube 'mon1'" <<<"$err" && fail "metrics $w show: '$err' names the cube twice"
	cub_log "refused as it should: $err"
done
# The known shows still work.
cub_ok mon1 metrics show >/dev/null
cub_ok mon1 open-metrics show >/dev/null

# A worker that is gone is still an outage (the client may retry).
pid=$(worker_pid dynmon)
kill -STOP "$pid"
err=$(cub_refused 2 --timeout 30000 mon1 metrics ingress-metrics nosuch show) || true
kill -CONT "$pid" 2>/dev/null || true # the broker kills a worker that does not answer
cub_log "with the worker stopped: $err"
grep -q "not-found" <<<"$err" && fail "a stopped worker's show: '$err'"
true
