#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 10, a break of issue 7 defect 3 ("the way out of a cube is the
# framework's"), expected to fail (tests/meson.build, should_fail) until
# it is fixed.  bpfobj.c check_insns() refuses redirect helpers, helpers
# outside the networking set and kfuncs, but reads only the main function
# of the hook's program as libbpf holds it before load; the subprograms
# libbpf appends at load are never read.  evil's "redirect-sub" object
# (evil_redirsub.bpf.c) calls bpf_redirect() towards vethc, which no cube
# was given, from a static noinline subprogram: the broker loads it and
# e1's traffic from vetha leaves by vethc.  What the test asks (egress.sh's
# claim): the object is refused and vethc receives nothing.
# With $1 = redirect-dup (review10-dup-prog): evil_dup.bpf.o holds two
# programs named cub_ingress_tc, the first redirects, the second drops;
# check_object() keeps the last one of the name as the one it checks
# (check_insns()), install() attaches bpf_object__find_program_by_name()'s,
# the first, and check_exits() (transparent only) would have seen both.
. "$(dirname "$0")/../lib/netns.sh"

OBJ=${1:-redirect-sub}
PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
netns_hosts TC ca:vetha:198.18.0.1 cb:vethb:198.18.0.2 cc:vethc:198.18.0.3
broker_start

cub_ok evil add e1 type=TC
cub_ok e1 ports add p1 peer=vetha action=drop
cub_ok e1 ports add p2 peer=vethb action=forward outport=p1
cub_ok e1 ports p1 set action=forward outport=p2
ip netns exec ca ping -c 2 -i 0.1 -W 10 198.18.0.2 >/dev/null || fail "e1 does not forward"

packets() { # DEV [NETNS]: "rx tx"
	ip ${2:+-n "$2"} -s -j link show "$1" | grep -oE '"packets":[0-9]+' |
		sed -n '1,2s/.*://p' | tr '\n' ' '
}
injected() {
	local rx tx peer_rx peer_tx
	read -r rx tx <<<"$(packets vethc)"
	read -r peer_rx peer_tx <<<"$(packets eth0 cc)"
	echo $((tx + peer_rx))
}
idx=$(ip -j link show vethc | grep -oE '"ifindex":[0-9]+' | cut -d: -f2)
before=$(injected)
rc=0
err=$(cub e1 debug egress object="$OBJ" ifindex="$idx" 2>&1 >/dev/null) || rc=$?
cub_log "$OBJ: exit $rc: $err"
ip netns exec ca ping -c 5 -i 0.05 -W 1 198.18.0.2 >/dev/null || true
now=$(injected)
id=$(bpftool -j net show dev vetha 2>/dev/null | grep -oE '"id":[0-9]+' | sed -n 1p | cut -d: -f2)
[ -n "$id" ] && cub_log "vetha's program $id calls: $(bpftool prog dump xlated id "$id" | grep -oE 'call bpf_[a-z_]+#[0-9]+' | sort -u | tr '\n' ' ')"
[ "$now" = "$before" ] ||
	fail "BREAK: vethc, which no cube was given, received $((now - before)) packets ($err)"
[ "$rc" = 2 ] || fail "$OBJ: exit $rc, expected 2 (refused): $err"
cub_log "$OBJ refused and vethc received nothing"
