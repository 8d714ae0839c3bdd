#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 11: a worker's swap.read {wait: true} empties a copy under
# b->lock.  sw_read_grace() (broker/mapswap.c) calls clear_map() on the
# copy take_copy() picked, when it is dirty (a fast read left data in it,
# or a fresh set), with b->lock held and no size bound, for as long as
# the map's batches take.  Every other service's worker calls and the
# main loop's `services` (service_why() takes b->lock) wait meanwhile:
# one worker stalls the whole broker.  Here: the swapread plugin's object
# 4 (swapread.bpf.c SR_BENCH=4: set ev, two copies of 5 Mi u64 alike,
# since uneven copies are refused), fresh, so copy 1 is dirty; its first
# read with wait: true empties copy 1 while another client times
# `cubicle services`.
# Wanted: `services` answering within a second throughout.
# Still failing after the emptying moved off the lock (dup'd fds, the set
# marked reading, as swap.begin's clear): 2498 ms became about 1350 ms.
# Not confirmed what remains: the SDK then reads and zeroes the 5 Mi
# entries in 4096-entry map.batch calls, each taking b->lock, which the
# main loop may lose to that loop again and again.
# Not in the suite: after the fix it passed in one fresh-clone CI (the
# slowest 'services' under 1 s) and failed in a run beside another
# (1349 ms): a timing outcome either way.  Run it by hand:
#   CUB_BUILD=$PWD/build tests/integration/review11-swapread-lockstall.sh
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/swapread.so")
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 120000"
broker_start
cub_ok swapread add sr1 >/dev/null
out=$(cub --timeout 120000 -o json sr1 debug benchload n=4 2>&1) ||
	fail "loading the object was refused (nothing to test): $out"
t0=$(date +%s%N)
cub services >/dev/null
cub_log "'cubicle services' before: $((($(date +%s%N) - t0) / 1000000)) ms"
# The grace read, in the background; `services` timed meanwhile.
cub --timeout 120000 -o json sr1 debug bench which=ev n=1 grace=1 \
	>"$T/grace.out" 2>&1 &
RD=$!
worst=0
while kill -0 "$RD" 2>/dev/null; do
	t0=$(date +%s%N)
	cub --timeout 120000 services >/dev/null 2>&1 || true
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -gt "$worst" ] && worst=$ms
done
wait "$RD" || true
cub_log "grace read: $(head -c 300 "$T/grace.out")"
cub_log "slowest 'cubicle services' during it: $worst ms"
[ "$worst" -lt 1000 ] ||
	fail "'cubicle services' took $worst ms while a worker's swap.read {wait: true} emptied its copy under b->lock"
