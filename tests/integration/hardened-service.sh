#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cubicled --unhardened-service, in the hook mode $1 (TC or XDP_DRV): the
# service it names verifies and loads with CAP_PERFMON, so Polycube's
# data + 14 + 4 * ihl (hl4_arith) loads, forwards and counts probes
# behind IP options by their L4 header; hl4_arith2, the very same object
# under another service name, is still refused, with an error naming the
# option; `cubicle services` and the broker log say which service is
# unhardened.  A name that is no service stops the broker at start; a
# restart without the option retires the adopted cube's unhardened
# program (its reload is refused): it no longer forwards.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/testing/hl4_arith.so"
	"$CUB_BUILD/plugins/testing/hl4_arith2.so")
need python3 bpftool

# Bad input first: no such service; nothing is started.
mkdir -p "$T/bad/plugins"
ln -s "$CUB_BUILD/plugins/testing/hl4_arith.so" "$T/bad/plugins/"
rc=0
timeout 60 "$CUB_BUILD/broker/cubicled" --socket-dir "$T/bad/s" \
	--state-dir "$T/bad/st" --pin-root "$T/bad/pins" \
	--plugin-dir "$T/bad/plugins" --worker "$CUB_BUILD/workers/cubicle-worker" \
	--unhardened-service hl4_arith --unhardened-service hl4_nosuch \
	>"$T/bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "--unhardened-service hl4_nosuch: exit $rc: $(tail -3 "$T/bad.log")"
grep -qF "unhardened-service 'hl4_nosuch': no such service" "$T/bad.log" ||
	fail "no error naming hl4_nosuch: $(cat "$T/bad.log")"
[ ! -e "$T/bad/s" ] && [ ! -e "$T/bad/st" ] && [ ! -e "$T/bad/pins" ] ||
	fail "a broker with a bad --unhardened-service made its directories"
cub_log "refused at start: $(grep -F hl4_nosuch "$T/bad.log")"
# A plugin file whose name is no service (a reserved word): skipped by the
# scan, so refused after it.
ln -s "$CUB_BUILD/plugins/testing/hl4_arith.so" "$T/bad/plugins/cubes.so"
rc=0
timeout 60 "$CUB_BUILD/broker/cubicled" --socket-dir "$T/bad/s" \
	--state-dir "$T/bad/st" --pin-root "$T/bad/pins" \
	--plugin-dir "$T/bad/plugins" --worker "$CUB_BUILD/workers/cubicle-worker" \
	--unhardened-service cubes >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -qF "unhardened-service 'cubes': no such service" "$T/bad.log" ||
	fail "--unhardened-service cubes: exit $rc: $(tail -3 "$T/bad.log")"
! grep -q "ready:" "$T/bad.log" || fail "a broker with --unhardened-service cubes got ready"
umount "$T/bad/pins" 2>/dev/null || true

netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
CUB_BROKER_ARGS="--unhardened-service hl4_arith ${CUB_BROKER_ARGS:-}"
broker_start

grep -qF "service 'hl4_arith' is unhardened (--unhardened-service)" "$T/broker.log" ||
	fail "the log does not name the unhardened service"
! grep -qF "service 'hl4_arith2' is unhardened" "$T/broker.log" ||
	fail "hl4_arith2 logged as unhardened"
svcs=$(cub services -o json)
hardened() { # SERVICE: its "hardened" in cubicle services
	awk -v s="\"$1\"" '/"name"/ { n = $2; sub(",", "", n) }
		/"hardened"/ { h = $2; sub(",", "", h); if (n == s) print h }' <<<"$svcs"
}
[ "$(hardened hl4_arith)" = false ] && [ "$(hardened hl4_arith2)" = true ] &&
	[ "$(hardened simpleforwarder)" = true ] ||
	fail "services hardened: arith '$(hardened hl4_arith)' arith2 '$(hardened hl4_arith2)': $svcs"

# The other service's identical object: refused, the option named.
err=$(cub_refused 2 hl4_arith2 add b1 type="$HOOK")
for want in "pointer arithmetic with it prohibited for !root" \
	"--unhardened-service hl4_arith2"; do
	grep -qF -- "$want" <<<"$err" || fail "arith2: '$want' not in: $err"
done
! cub b1 show >/dev/null 2>&1 || fail "b1 exists after its refusal"
cub_log "hl4_arith2 refused: $err"

# The named service's: loaded, forwarding, counting by the L4 header.
cub_ok hl4_arith add a1 type="$HOOK"
grep -qF "cube 'a1': verified and loaded with CAP_PERFMON (--unhardened-service hl4_arith)" \
	"$T/broker.log" || fail "a1's load not logged as unhardened"
cub_ok a1 ports add p1 peer=vetha
cub_ok a1 ports add p2 peer=vethb
ip netns exec ca ping -c 5 -i 0.05 -W 10 198.18.0.2 >"$T/ping.out" ||
	fail "ping through a1 ($HOOK): $(tail -2 "$T/ping.out")"
ip netns exec ca ping -R -c 4 -i 0.05 -W 10 198.18.0.2 >"$T/ping.out" ||
	fail "ping -R through a1 ($HOOK): $(tail -2 "$T/ping.out")"
grep -q '^RR:' "$T/ping.out" || fail "no record route: $(cat "$T/ping.out")"
ip netns exec ca python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([1] * 11 + [0]))
for _ in range(3):
    s.sendto(b"p" * 48, ("198.18.0.2", 4242))
'
got=
for n in 5 6 7 8 9 10 11 12 13 14 15; do
	got+="$n:$(cub a1 show "ihl$n") "
done
want="5:5 6:0 7:0 8:3 9:0 10:0 11:0 12:0 13:0 14:0 15:4 "
[ "$got" = "$want" ] || fail "probes by ihl '$got', expected '$want'"
[ "$(port_counter a1 p1 probes)" = 12 ] && [ "$(port_counter a1 p2 probes)" = 0 ] ||
	fail "port probes $(port_counter a1 p1 probes) $(port_counter a1 p2 probes)"
id=$(bpftool -j net show dev vetha | grep -oE '"id":[0-9]+' | sed -n 1p | cut -d: -f2)
nospec=$(bpftool prog dump xlated id "$id" | grep -c nospec || true)
[ "$nospec" = 0 ] || fail "the unhardened program has $nospec nospec"
cub_log "hl4_arith ($HOOK) unhardened: forwards, probes by ihl $got, 0 nospec"

# Removing the option unloads what runs: after a restart without it, the
# adopted cube's reload is refused, and its program, verified with
# CAP_PERFMON, is retired: off vetha, no forwarding.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" || true
CUB_BROKER_ARGS=${CUB_BROKER_ARGS#--unhardened-service hl4_arith }
broker_start
for _ in $(seq 1 100); do
	grep -qE "cube 'a1': program id [0-9]+ retired" "$T/broker.log" && break
	sleep 0.1
done
grep -qE "cube 'a1': program id [0-9]+ retired" "$T/broker.log" ||
	fail "a1's unhardened program not retired: $(tail -20 "$T/broker.log")"
[ "$(cub services -o json | grep -c '"hardened": false')" = 0 ] ||
	fail "a service unhardened after the restart without the option"
ip netns exec ca ping -c 2 -i 0.2 -W 1 198.18.0.2 >/dev/null &&
	fail "a1 still forwards with its unhardened program"
left=$(bpftool -j net show dev vetha | grep -oE '"id":[0-9]+' || true)
[ -z "$left" ] || fail "vetha still runs a program: $(bpftool net show dev vetha)"
cub_ok a1 del
cub_log "restarted without the option: a1's reload refused, its program retired; deleted"
