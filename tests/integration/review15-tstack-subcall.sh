#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 15 (issue 6): a transparent cube runs the rest of its stack from
# a subprogram, gets the verdict back, and passes what a cube after it
# dropped.  On x86-64 a tail call made in a subprogram replaces that
# subprogram's frame only: the chained programs return into the caller.
# a1 (review15_tsub: a transparenthelloworld) calls r15_rest(), which
# tail-calls cub_egress slot 0 (tstack_next): d1 (evil_tburn, ingress
# DROP) runs and returns TC_ACT_SHOT into a1's main function, with the
# stack's position on d1; a1 then calls cub_pass_tc(), whose tstack_next
# goes on after d1: the end, TC_ACT_OK.  Every exit of a1's main
# function returns TC_ACT_SHOT, and its subprogram calls only
# bpf_tail_call: the exit check and the helper check pass it.  Passes
# only if a1 is refused, or no ping passes d1 while it drops.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil_tburn.so")
mkdir -p "$T/plugins" # the service is the file's name
cp "$CUB_BUILD/plugins/testing/review15_tsub.so" "$T/plugins/transparenthelloworld.so"
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

ip netns exec ca ping -c 2 -i 0.05 -W 10 198.18.0.2 >/dev/null ||
	fail "no ping before anything is attached"
cub_ok evil_tburn add d1 ingress-action=DROP
cub_ok attach d1 veth1
ip netns exec ca ping -c 3 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed with d1 dropping: the test is wrong"

rc=0
err=$(cub transparenthelloworld add a1 2>&1 >/dev/null) || rc=$?
if [ "$rc" != 0 ]; then
	cub_log "a1 refused ($rc): $err"
	exit 0
fi
cub_log "a1 LOADED: the checks passed it"
cub_ok attach a1 veth1 position=first
cub topology show veth1 | grep -qE "ingress service chain: a1 ---> d1" ||
	fail "veth1's stack is not a1 then d1: $(cub topology show veth1)"
d0=$(cub d1 show ingress-drops)
ip netns exec ca ping -c 10 -i 0.05 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 || true
d1=$(cub d1 show ingress-drops)
cub_log "d1 dropped $((d1 - d0)): $(grep -E 'packet loss' "$T/ping.out")"
grep -q " 100% packet loss" "$T/ping.out" ||
	fail "BREAK: with a1 before d1 (DROP), pings passed: $(grep -E 'packet loss' "$T/ping.out"); d1 dropped $((d1 - d0)) of them first"
cub_log "a cube cannot undo the verdict of a cube after it"
