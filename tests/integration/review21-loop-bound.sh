#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6 (review 15's open point): one run of a cube's program may hold
# its CPU only so long.  The verifier follows every round of a bounded
# loop, but a bpf_loop() callback runs up to 8 Mi times and the broker
# took any: review15_tslow (8 Mi rounds of 32 clock reads) held a packet
# for seconds, and with it the CPU and every RCU grace period of the
# host.  The broker now bounds each program's rounds x callback cost
# (broker/loopcheck.h, cubicled --max-loop-cost, default 2^30):
#   - review15_tslow (cost about 4.6e9) is refused by default, naming the
#     bound and the option, and nothing of it is left (no cube, no pins);
#   - review21_tcount (rounds read from a map: not bounded by the code)
#     and review21_iptloop (iptcube with fwcore's classifier scanning 8
#     words a round, as it did: a loop inside the callback) are refused;
#   - review15_tslow is taken under --max-loop-cost 2^50 (the option works
#     and the rest of the load is not what refused it);
#   - the default bound takes what Cubicle ships: firewall and iptables
#     (fwcore's classifier, 131074 rounds) and nat (16 rounds).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/firewall/firewall.so"
	"$CUB_BUILD/plugins/iptables/iptables.so"
	"$CUB_BUILD/plugins/nat/nat.so")
mkdir -p "$T/plugins" # the service is the file's name

# with VARIANT [BROKER ARGS...]: a fresh broker (store and pins emptied)
# whose transparenthelloworld (iptcube for review21_iptloop) is the
# testing plugin VARIANT.
with() {
	local as=transparenthelloworld
	if [ -n "$BROKER_PID" ]; then broker_stop 10; fi
	rm -f "$T/plugins/iptcube.so" "$T/plugins/transparenthelloworld.so"
	rm -rf "$T/st"
	if [ -d "$T/pins" ]; then
		find "$T/pins" -mindepth 1 -maxdepth 1 ! -name '*.debug' -exec rm -rf {} +
	fi
	[ "$1" = review21_iptloop ] && as=iptcube
	cp "$CUB_BUILD/plugins/testing/$1.so" "$T/plugins/$as.so"
	shift
	CUB_BROKER_ARGS="$*"
	broker_start
}

# refused VARIANT REGEX [SERVICE]: adding s1 fails naming REGEX, and
# leaves nothing.
refused() {
	local err
	err=$(cub_refused 2 "${3:-transparenthelloworld}" add s1)
	grep -qE -- "$2" <<<"$err" || fail "$1: refused for another reason: $err"
	if cub show cubes | grep -qw s1; then fail "$1: a refused s1 is listed"; fi
	if [ -e "$T/pins/s1" ]; then fail "$1: a refused s1 left pins: $(ls "$T/pins/s1")"; fi
	cub_log "$1 refused: $err"
}

with review15_tslow
refused review15_tslow "bpf_loop at insn [0-9]+ runs its callback .* up to 8388608 times: .* over the broker's bound of 1073741824 \(cubicled --max-loop-cost\)"
grep -q "over the broker's bound" "$T/broker.log" || fail "the refusal is not in the broker's log"

with review21_tcount
refused review21_tcount "bpf_loop at insn [0-9]+: its count \(r1\) is not bounded by the code"

with review21_iptloop
refused review21_iptloop "a loop at insn [0-9]+, in code a callback runs: the callback's cost is not bounded" iptcube

with review15_tslow --max-loop-cost 1125899906842624
cub_ok transparenthelloworld add s1
cub show cubes | grep -qw s1 || fail "s1 not listed under --max-loop-cost 2^50"
grep -q "cube 's1': program 'cub_ingress_tc': loops cost [0-9]* of 1125899906842624" "$T/broker.log" ||
	fail "the broker did not log s1's loop cost"

with review15_tslow
cub_ok firewall add fw1
cub_ok iptables add ipt0
cub_ok nat add nat1
for c in fw1 ipt0 nat1; do
	grep -q "cube '$c': program '[a-z_]*': loops cost [0-9]* of 1073741824" "$T/broker.log" ||
		fail "$c: no loop cost logged"
done
cub_log "$(grep -o "cube '[a-z0-9]*': program '[a-z_]*': loops cost [0-9]* of [0-9]*" "$T/broker.log" | sort -u | tr '\n' ';')"
