#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10 (piece "hostwide"): a host-wide service's cube
# (CUB_PLUGIN_F_HOSTWIDE; hostth, transparenthelloworld built with the
# flag) is on every netdev of the broker's namespace that no cube port
# owns, tc ingress and egress, from its creation: netdevs that appear
# later, netdevs a port lets go, a netdev's own transparent cubes before
# it, a broker restart, 4096 netdevs, and its deletion takes it off all.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool python3
# $1: how many netdevs step 7 makes (4096 in suite 'scale'; 64 else).
N=${1:-64}

PLUGINS+=("$CUB_BUILD/plugins/testing/hostth.so"
	"$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
host_peer cb veth2 198.18.1.1 198.18.1.2
broker_start

ping_a() { ip netns exec ca ping -c 1 -W 2 198.18.0.2 >/dev/null; }
ping_b() { ip netns exec cb ping -c 1 -W 2 198.18.1.2 >/dev/null; }
# host_on DEV: the host-wide filters (handle 0xc0c0) are on DEV, both ways.
# (Outputs read whole: grep -q closing a pipe early fails it under
# pipefail.)
host_in() { local f; f=$(tc filter show dev "$1" "$2"); grep -q 'handle 0xc0c0' <<<"$f"; }
host_on() { host_in "$1" ingress && host_in "$1" egress; }
host_off() { ! host_in "$1" ingress && ! host_in "$1" egress; }
# until CMD...: polled for 10 s.
until_ok() {
	local _
	for _ in $(seq 1 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# The host stack's entry program id, and how many netdevs run it.
host_id() { bpftool -j prog show pinned "$T/pins/_tstack/:host/ingress" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
host_count() {
	bpftool -j net show | python3 -c '
import json, sys
want = int(sys.argv[1])
print(sum(1 for ns in json.load(sys.stdin) for t in ns.get("tc", [])
          if t.get("id", t.get("prog_id")) == want and t.get("kind", "").endswith("ingress")))' "$1"
}

ping_a || fail "no ping before any cube"
ping_b || fail "no ping before any cube (cb)"

# 1. Created dropping: every netdev drops, with nothing attached by hand.
cub_ok hostth add h1 ingress-action=DROP
host_on veth1 || fail "h1 is not on veth1: $(tc filter show dev veth1 ingress)"
host_on veth2 || fail "h1 is not on veth2"
host_on lo || fail "h1 is not on lo"
ping_a && fail "a ping passed h1 (ingress DROP) on veth1"
ping_b && fail "a ping passed h1 (ingress DROP) on veth2"
[ "$(cub h1 show ingress-drops)" -ge 2 ] || fail "h1 dropped $(cub h1 show ingress-drops)"
cub_ok h1 set ingress-action=PASS egress-action=DROP
ping_a && fail "a ping passed h1 (egress DROP): the replies go out through it"
cub_ok h1 set egress-action=PASS
ping_a || fail "no ping through h1 (PASS)"
[ "$(cub h1 show egress-packets)" -ge 1 ] || fail "h1 saw no egress packet"

# 2. Not attached or detached by hand.
out=$(cub_refused 2 attach h1 veth1)
grep -q "host-wide" <<<"$out" || fail "attach h1: $out"
out=$(cub_refused 2 detach h1 ":host")
grep -q "host-wide" <<<"$out" || fail "detach h1: $out"

# 3. A netdev that appears later is filtered too.
cub_ok h1 set ingress-action=DROP
host_peer cc veth3 198.18.2.1 198.18.2.2
until_ok host_on veth3 || fail "h1 is not on veth3, created after it"
ip netns exec cc ping -c 1 -W 2 198.18.2.2 >/dev/null &&
	fail "a ping passed h1 on veth3"

# 4. A port that takes a netdev takes it from the host-wide cubes; it is
# theirs again when the port lets it go.
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=veth2
until_ok host_off veth2 || fail "h1 still on veth2, which sf1:p1 owns: $(tc filter show dev veth2 ingress)"
host_on veth1 || fail "h1 left veth1 too"
cub_ok sf1 ports del p1
until_ok host_on veth2 || fail "h1 not back on veth2 after the port went"
cub_ok sf1 del

# 5. A netdev's own transparent cubes run first, then the host's.
cub_ok transparenthelloworld add t1
cub_ok attach t1 veth1
ping_a && fail "a ping passed h1 (DROP) behind t1 on veth1"
[ "$(cub t1 show ingress-packets)" -ge 1 ] || fail "t1 saw nothing before h1"
cub_ok h1 set ingress-action=PASS
ping_a || fail "no ping through t1 and h1"
cub_ok h1 set ingress-action=DROP

# 6. A broker kill -9 and a new broker: the same programs stay on the
# netdevs, enforcing all along, nothing doubled.
id=$(host_id)
n_before=$(host_count "$id")
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
ping_a && fail "a ping passed with the broker down"
broker_start
[ "$(host_id)" = "$id" ] || fail "the host stack was reloaded: $(host_id), was $id"
[ "$(host_count "$id")" = "$n_before" ] || fail "host filters: $(host_count "$id"), were $n_before"
ping_a && fail "a ping passed after the restart"
[ "$(tc filter show dev veth1 ingress | grep -c 'handle 0xc0c0')" = 1 ] ||
	fail "veth1's filters: $(tc filter show dev veth1 ingress)"

# 7. N netdevs (N/2 veth pairs): 3/4 of them before a second cube's
# stack is made, the rest after, then half of the first ones removed.
cub_ok h1 del
until_ok host_off veth1 || fail "h1 deleted, its filters stay on veth1"
host_off lo || fail "h1 deleted, its filters stay on lo"
ping_a || fail "no ping after h1 went"
pairs=$((N / 2)) first=$((N * 3 / 8))
for i in $(seq 1 "$first"); do echo "link add hd$i type veth peer name he$i"; done | ip -batch -
cub_ok hostth add h2
id=$(host_id)
want=$(ip -o link show | wc -l)
[ "$(host_count "$id")" = "$want" ] || fail "h2 is on $(host_count "$id") of $want netdevs"
for i in $(seq $((first + 1)) "$pairs"); do echo "link add hd$i type veth peer name he$i"; done | ip -batch -
want=$(ip -o link show | wc -l)
until_ok eval '[ "$(host_count "$id")" = "$want" ]' || fail "h2 is on $(host_count "$id") of $want netdevs after $((2 * (pairs - first))) more"
[ "$want" -ge "$N" ] || fail "only $want netdevs"
cub_log "h2 on $want netdevs"
for i in $(seq 1 $((first / 2))); do echo "link del hd$i"; done | ip -batch -
want=$(ip -o link show | wc -l)
until_ok eval '[ "$(host_count "$id")" = "$want" ]' || fail "h2 is on $(host_count "$id") of $want netdevs after $first went"
cub_ok h2 del
until_ok eval '[ "$(host_count "$id")" = 0 ]' || fail "h2 deleted, $(host_count "$id") netdevs still run it"
cub_log "host-wide cubes follow netdevs and ports, survive a restart, and scale to $N netdevs"
