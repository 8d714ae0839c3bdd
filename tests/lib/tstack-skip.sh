#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 10's stack-skip attacks (sourced, after tests/lib/netns.sh):
# tstack_skip_attack PLUGIN adds a cube of PLUGIN (a hostile build of
# transparenthelloworld whose PASS ends the tc run with TC_ACT_OK some
# way the exit check misses), attaches th1 (DROP) on veth1 and the
# hostile cube first before it, and pings through.  Passes only if the
# add is refused, or every ping is lost with th1 dropping them.
tstack_skip_attack() {
	local plugin=$1 rc=0 err p0 p1 d0 d1
	PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so"
		"$CUB_BUILD/plugins/testing/$plugin.so")
	host_peer ca veth1 198.18.0.1 198.18.0.2
	broker_start

	ip netns exec ca ping -c 2 -i 0.05 -W 10 198.18.0.2 >/dev/null ||
		fail "no ping before anything is attached"
	cub_ok transparenthelloworld add th1
	cub_ok th1 set ingress-action=DROP
	cub_ok attach th1 veth1
	ip netns exec ca ping -c 3 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
		fail "ping passed with th1 dropping: the test is wrong"

	err=$(cub "$plugin" add ev1 2>&1 >/dev/null) || rc=$?
	if [ "$rc" != 0 ]; then
		cub_log "$plugin add ev1 refused ($rc): $err"
		return 0
	fi
	cub_log "$plugin add ev1 LOADED: the exit check passed it"
	cub_ok attach ev1 veth1 position=first
	cub topology show veth1 | grep -qE "ingress service chain: ev1 ---> th1" ||
		fail "veth1's stack is not ev1 then th1: $(cub topology show veth1)"
	p0=$(cub ev1 show ingress-packets)
	d0=$(cub th1 show ingress-drops)
	ip netns exec ca ping -c 10 -i 0.05 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 || true
	p1=$(cub ev1 show ingress-packets)
	d1=$(cub th1 show ingress-drops)
	cub_log "ev1 saw $((p1 - p0)) packets, th1 after it dropped $((d1 - d0)): $(grep -E 'packet loss' "$T/ping.out")"
	grep -q " 100% packet loss" "$T/ping.out" ||
		fail "BREAK: with $plugin's ev1 before th1 (DROP), pings passed: $(grep -E 'packet loss' "$T/ping.out"); th1 dropped $((d1 - d0)) of the $((p1 - p0)) packets ev1 saw"
	[ $((d1 - d0)) -ge $((p1 - p0)) ] ||
		fail "BREAK: th1 dropped $((d1 - d0)) of the $((p1 - p0)) packets ev1 saw: skipped"
}
