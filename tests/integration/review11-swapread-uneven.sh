#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 11: a hostile worker's swap.read past the bound of one answer.
# docs "Reader side": "A set whose maps could not fit one answer (2 x
# entries x (key + value) over 2 MiB) is refused before anything changes
# (limit)".  rjob_prepare() (broker/mapswap.c) computes that from the
# copy the read flips TO (copy t), then rjob_run() reads the copy it
# LEAVES (j->acopy) with that copy's own max_entries.  An ARRAY_OF_MAPS
# whose inner maps carry BPF_F_INNER_MAP may hold copies of different
# sizes, and set_get() never compares them: the swapread plugin's object
# 3 (swapread.bpf.c, SR_BENCH=3) has set ev with copy 0 (active) of 4 Mi
# u64 entries and copy 1 of one.  `bench which=ev n=1` reads twice: the
# first read (flipping to copy 1) is not refused: the broker allocates
# and reads all 4 Mi entries (keys, values, shadow, merge, the bins) on
# the service's call thread and keeps the 48 MiB shadow afterwards (seen:
# RSS 8 -> 57 MiB, peak 8 -> 204 MiB from one call); only the second
# (flipping to copy 0) is refused for its size.  Wanted: the first
# refused with 'limit' too (the bound over every copy, or copies of
# unequal size refused at set_get()), the broker's memory unchanged.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/swapread.so")
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 120000"
broker_start
cub_ok swapread add sr1 >/dev/null
out=$(cub --timeout 120000 -o json sr1 debug benchload n=3 2>&1) ||
	fail "loading the uneven object was refused (nothing to test): $out"
rss0=$(awk '/^VmRSS/{print $2}' "/proc/$BROKER_PID/status")
hwm0=$(awk '/^VmHWM/{print $2}' "/proc/$BROKER_PID/status")
rc=0
out=$(cub --timeout 120000 -o json sr1 debug bench which=ev n=1 2>&1) || rc=$?
rss1=$(awk '/^VmRSS/{print $2}' "/proc/$BROKER_PID/status")
hwm1=$(awk '/^VmHWM/{print $2}' "/proc/$BROKER_PID/status")
cub_log "read of set ev: exit $rc: $(head -c 400 <<<"$out")"
cub_log "broker RSS ${rss0} -> ${rss1} kB, peak ${hwm0} -> ${hwm1} kB"
kill -0 "$BROKER_PID" || fail "the broker died"
[ "$rc" != 0 ] && grep -qE 'one answer|copies must be alike' <<<"$out" ||
	fail "swap.read of a set whose active copy holds 4 Mi entries was not refused for its size (exit $rc)"
[ "$hwm1" -lt $((hwm0 + 16384)) ] ||
	fail "one swap.read past the bound grew the broker's peak memory by $((hwm1 - hwm0)) kB (RSS left +$((rss1 - rss0)) kB)"
