#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review (issue 6 "stall the broker"; issue 7 "a broker that never
# stalls"): one worker call must not hold the broker's b->lock for long.
# wcall.c's map.dump walks the map under b->lock, and a slot whose lookup
# fails ("deleted meanwhile") costs none of the reply budget: an empty
# fd-array (here a CGROUP_ARRAY of 3.3 M slots, 38 MiB in the broker's
# estimate, within a 40 MiB policy; the default --max-cube-map-bytes is
# 256 MiB) is walked whole in one call.  Meanwhile every other service's
# shows (counters read under b->lock) and map calls wait.  A show of a
# simpleforwarder cube must answer within 2 s (it takes milliseconds), and its worker must not be
# killed for a timeout it did not cause.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evilstall.so")
broker_start

cub_ok simpleforwarder add sf1
cub_ok evilstall add e1
cub_ok sf1 show >/dev/null
sfpid=$(worker_pid simpleforwarder)

# The attack, in the background: one map.dump of the empty array.
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 60000 \
	e1 debug bpfobj object=dumpstall >"$T/attack.out" 2>&1 </dev/null &
attack=$!
# Let it load its object and start the dump.
for _ in $(seq 1 100); do
	[ -e "$T/pins/e1/evstall" ] && break
	sleep 0.05
done
[ -e "$T/pins/e1/evstall" ] || fail "the evstall map was not loaded: $(cat "$T/attack.out")"
sleep 0.5

t0=$(date +%s%N)
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 60000 sf1 show \
	>"$T/show.out" 2>&1 </dev/null &
show=$!
sleep 0.2
# The show's request thread now waits for b->lock holding b->state_lock,
# which the main loop needs for every client: a built-in 'services' too.
s0=$(date +%s%N)
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 60000 services \
	>"$T/services.out" 2>&1 </dev/null || true
s1=$(date +%s%N)
sms=$(((s1 - s0) / 1000000))
wait "$show" || true
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
cub_log "sf1 show took $ms ms, a built-in 'services' $sms ms, while evilstall dumped"
t0=$(date +%s%N)
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 60000 \
	sf1 ports add p1 >"$T/add.out" 2>&1 </dev/null || true
t1=$(date +%s%N)
ams=$(((t1 - t0) / 1000000))
cub_log "sf1 ports add took $ams ms: $(tr '\n' ' ' <"$T/add.out")"
wait "$attack" || true
cub_log "attack: $(tr '\n' ' ' <"$T/attack.out")"
[ "$ms" -lt 2000 ] ||
	fail "a show of another service's cube waited $ms ms for evilstall's map.dump (b->lock)"
[ "$sms" -lt 2000 ] ||
	fail "a built-in 'services' (main loop) waited $sms ms: the whole broker stalled"
[ "$ams" -lt 2000 ] ||
	fail "a port add of another service's cube waited $ams ms for evilstall's map.dump"
[ "$(worker_pid simpleforwarder)" = "$sfpid" ] ||
	fail "simpleforwarder's worker was killed while evilstall held b->lock"
cub_log "no stall"
