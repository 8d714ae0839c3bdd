#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A program loaded under a wider policy does not run on under a narrower
# one (issues 6 and 8).  Service "upgrade" (a simpleforwarder) has u1
# forwarding between two namespaces; its plugin is replaced by one whose
# policy is too narrow for any cube (max_map_bytes 4096):
#  - by 'cubicle services reload upgrade': u1's reload is refused, and
#    its program, checked under the old policy, is retired: off vetha's
#    tc hook, unpinned, no forwarding; u1's document stays;
#  - back to a wide policy by a reload: u1 loads again and forwards;
#  - while the broker is down: the start adopts u1's pinned program, the
#    first hello brings the narrow policy, u1's reload (the same bytes,
#    which passed under the old one) is refused and the adopted program
#    retired; a kill -9 and a start adopt nothing;
#  - the wide policy back while down: forwarding again;
#  - a lowered --max-cube-map-bytes that refuses the service's hello (no
#    load ever comes): retired at --vet-timeout, back once lifted.
# On a main that skipped the load of the same bytes (or kept what runs
# when a reload was refused) u1 forwarded on under the narrow policy.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"
need tc

# wait_retired N: the log says u1's program was retired N times.
wait_retired() {
	local n=0 _
	for _ in $(seq 1 300); do
		n=$(grep -c "cube 'u1': program id [0-9]* retired" "$T/broker.log" || true)
		[ "$n" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "u1 not retired ($n of $1): $(tail -20 "$T/broker.log")"
}
prog_pinned() {
	[ -n "$(find "$T/pins" -path '*u1*' -name prog 2>/dev/null)" ]
}
retired() {
	no_pings || fail "$1: u1 still forwards under the narrow policy"
	[ "$(filters)" = 0 ] || fail "$1: vetha still has u1's filter: $(tc filter show dev vetha ingress)"
	prog_pinned && fail "$1: u1's retired program is still pinned: $(find "$T/pins" -path '*u1*')"
	cub u1 show -o json | grep -q '"color": "red"' ||
		fail "$1: u1's document lost: $(cub u1 show -o json)"
	cub show cubes | grep -E '^u1 ' | grep -q refused ||
		fail "$1: show cubes does not say u1 is refused: $(cub show cubes)"
	true
}

install_plugin v1
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
broker_start
cub_ok upgrade add u1 color=red
cub_ok u1 ports add p1 peer=vetha action=drop
cub_ok u1 ports add p2 peer=vethb action=forward outport=p1
cub_ok u1 ports p1 set action=forward outport=p2
cub_ok upgrade add u2
pings || fail "no forwarding through u1"
[ "$(filters)" = 1 ] || fail "no filter on vetha: $(tc filter show dev vetha ingress)"
prog_pinned || fail "u1's program not pinned: $(find "$T/pins")"

# 1. A reload to the narrow policy.
install_plugin defnarrow
out=$(cub services reload upgrade -o json 2>&1) || true
cub_log "reload to the narrow policy: $out"
wait_retired 1
cub_log "show cubes: $(cub show cubes | grep -E "^u1 ")"
retired "after the reload"
out=$(cub upgrade add u3 2>&1) && fail "u3 added under max_map_bytes 4096: $out"
grep -q "over the limit of 4096" <<<"$out" || fail "u3's refusal: $out"

# 2. A wide policy back, by a reload: u1 runs again.
install_plugin defpol
out=$(cub services reload upgrade -o json) || fail "reload to defpol: $out"
pings || fail "u1 does not forward again after the wide reload: $(cub show cubes)"
[ "$(filters)" = 1 ] || fail "vetha's filter not back: $(tc filter show dev vetha ingress)"
prog_pinned || fail "u1's program not pinned again"
cub show cubes | grep -E '^u1 ' | grep -q refused &&
	fail "u1 still refused: $(cub show cubes)"

# 3. The narrow policy while the broker is down: what is pinned is
# adopted at the start, then retired once the hello brings the policy.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
install_plugin defnarrow
a0=$(grep -c "cube 'u1': adopted pinned program" "$T/broker.log" || true)
broker_start
wait_retired 2
[ "$(grep -c "cube 'u1': adopted pinned program" "$T/broker.log")" -gt "$a0" ] ||
	fail "u1's program was not adopted first (the case under test)"
retired "after a start under the narrow policy"
broker_kill
broker_start
sleep 2
retired "after a kill -9 and a start"

# 4. The wide policy back while down.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
install_plugin defpol
broker_start
for _ in $(seq 1 100); do pings && break; sleep 0.2; done
pings || fail "u1 does not forward after a start on the wide policy: $(cub show cubes)"
[ "$(filters)" = 1 ] || fail "vetha's filter not back after the start"
cub_log "narrowed: u1 retired at a reload and at a start, back with the wide policy"

# 5. A rule that keeps the worker from loading anything: cubicled
# restarted with --max-cube-map-bytes under the service's policy (its
# hello is refused, so no load comes, passed or refused).  What runs was
# checked under the old cap: it forwards until --vet-timeout, then is
# retired; the cap lifted, it loads and forwards again.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
n0=$(grep -c "cube 'u1': program id [0-9]* retired" "$T/broker.log" || true)
a0=$(grep -c "cube 'u1': adopted pinned program" "$T/broker.log" || true)
CUB_BROKER_ARGS="--max-cube-map-bytes 1048576 --vet-timeout 3000" broker_start
[ "$(grep -c "cube 'u1': adopted pinned program" "$T/broker.log")" -gt "$a0" ] ||
	fail "u1 not adopted at the start under the lowered cap"
wait_retired $((n0 + 1))
grep -q "cube 'u1'.*no load passed them within --vet-timeout 3000 ms" "$T/broker.log" ||
	fail "u1's retirement does not name the deadline: $(grep "cube 'u1'" "$T/broker.log" | tail -3)"
no_pings || fail "u1 forwards after its deadline under the lowered cap"
[ "$(filters)" = 0 ] || fail "vetha keeps u1's filter after its deadline"
prog_pinned && fail "u1's program pinned after its deadline"
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
CUB_BROKER_ARGS= broker_start
for _ in $(seq 1 100); do pings && break; sleep 0.2; done
pings || fail "u1 does not forward once the cap is lifted: $(cub show cubes)"
cub_log "a hello refused under a lowered cap: u1 retired at --vet-timeout, back once lifted"
