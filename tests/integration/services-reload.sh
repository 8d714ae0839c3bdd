#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A plugin upgraded in place (issue 8): its .so is replaced by one whose
# schema adds a field, then by one that drops a field, then by one whose
# policy is wider.
#  - A restarted worker alone cannot take the new schema: its hello is
#    refused, the service backs off and stops (no restart loop) and says
#    why in 'cubicle services'.
#  - 'cubicle services reload upgrade' takes the new schema: the new field
#    is settable.
#  - Cubes the next schema refuses are kept (store, document, program:
#    they still forward) and reported in 'cubicle services' and 'cubicle
#    show cubes'; the others are replayed.  A broker kill -9 and restart
#    still has them, and a schema that takes them again revives them.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"


install_plugin v1
# Readers connect (a group of their own), only admins reload.
need setpriv
READERS=64902
chmod 0711 "$T"
CUB_BROKER_ARGS="--socket-group $READERS"
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
[ "$(svc schema)" = 1 ] || fail "schema version: $(cub services)"

# Bad input changes nothing.
err=$(cub_refused 2 services reload nosuch)
grep -q "no service named 'nosuch'" <<<"$err" || fail "reload nosuch: $err"
err=$(cub_refused 2 services reload)
grep -q "usage: services reload <service>" <<<"$err" || fail "reload: $err"
err=$(setpriv --reuid=65534 --regid=$READERS --clear-groups \
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" services reload upgrade 2>&1 </dev/null) &&
	fail "a reader reloaded: $err"
grep -q "may not 'services reload upgrade': changes need role admin" <<<"$err" ||
	fail "a reader's reload: $err"
[ "$(svc status)" = running ] || fail "a refused reload changed the service"
[ "$(svc restarts)" = 0 ] || fail "a refused reload restarted the worker"

# 1. A field added; a worker restart alone does not take it.
install_plugin add
old=$(worker_pid upgrade)
kill -9 "$old"
wait_status stopped
r1=$(svc restarts)
[ "$r1" -le $((1 + 3)) ] || fail "restarted $r1 times before stopping"
why=$(svc why)
grep -q "schema changed: run cubicle services reload upgrade" <<<"$why" ||
	fail "services does not say why: $why"
# Exit 1 after the refusal (a sanitizer build's exit handlers make a
# system call the sandbox forbids: SIGSYS).
grep -qE "^(exited with 1|killed by signal 31 .*)$" <<<"$(svc last_exit)" ||
	fail "no last exit: $(cub services)"
grep -q "schema changed: run cubicle services reload upgrade" <<<"$(cub services)" ||
	fail "the table does not say why: $(cub services)"
grep -q "hello refused: the schema or policy of .* differs" "$T/broker.log" ||
	fail "no clear log line for the refused hello"
# Stopped means stopped: no restart in 10 s.
sleep 10
r2=$(svc restarts)
[ "$r2" = "$r1" ] || fail "restart loop: $r1 restarts, then $r2 10 s later"
pings || fail "u1 stopped forwarding while its service is stopped"
err=$(cub_refused 2 u1 set color=blue)
grep -q "service 'upgrade' is stopped.*cubicle services reload upgrade" <<<"$err" ||
	fail "a change while stopped: $err"

# 2. The reload takes it.
out=$(cub services reload upgrade -o json) || fail "reload: $out"
grep -q '"schema": 2' <<<"$out" || fail "reload answer: $out"
[ "$(svc status)" = running ] || fail "not running after reload: $(cub services)"
[ "$(svc schema)" = 2 ] || fail "schema version after reload: $(cub services)"
cub_ok u1 set tag=blue
[ "$(cub u1 show tag)" = blue ] || fail "new field not set: $(cub u1 show)"
cub_ok u2 set loglevel=DEBUG
pings || fail "no forwarding after the reload"

# 3. A field dropped: u1 (color, tag set) is refused and kept; u2 replayed.
install_plugin drop
out=$(cub services reload upgrade -o json) || fail "reload: $out"
grep -A3 '"refused"' <<<"$out" | grep -q '"u1"' || fail "reload did not report u1: $out"
check_refused() {
	local cubes
	cubes=$(cub show cubes)
	grep -qE "u1 .*refused by schema v$1: .*unknown field '(color|tag)'" <<<"$cubes" ||
		fail "show cubes does not report u1: $cubes"
	grep -E "u2 " <<<"$cubes" | grep -q refused && fail "u2 reported refused: $cubes"
	[ "$(svc refused)" = 1 ] || fail "services: $(cub services)"
	grep -q "1 cube(s) refused by schema v$1" <<<"$(svc why)" ||
		fail "services why: $(svc why)"
	cub u1 show -o json | grep -q '"color": "red"' || fail "u1's document changed: $(cub u1 show -o json)"
	pings || fail "refused u1 stopped forwarding"
	err=$(cub_refused 2 u1 ports p1 set action=drop)
	grep -q "refused by schema v$1.*services reload upgrade" <<<"$err" ||
		fail "a change of refused u1: $err"
	pings || fail "a refused change reached u1"
	cub u2 show >/dev/null || fail "u2 not served"
}
check_refused 3
grep -q '"u1"' <<<"$out" && ! grep -q '"u2"' <<<"$(grep -A3 '"refused"' <<<"$out")" ||
	fail "reload answer: $out"

# 4. Broker kill -9 and restart: u1 still stored, still refused, still
# forwarding.
broker_kill
broker_start
# The version is the store's (reload-store.sh): v3 still.
check_refused 3

# 5. A schema that takes u1 again: replayed, changeable.
install_plugin add
out=$(cub services reload upgrade -o json) || fail "reload: $out"
grep -q '"refused": \[\]' <<<"$out" || fail "u1 still refused: $out"
cub show cubes | grep -q refused && fail "still reported refused: $(cub show cubes)"
cub_ok u1 ports p1 set action=drop
no_pings || fail "u1 not served after the reload took it back"
cub_ok u1 ports p1 set action=forward
pings || fail "no forwarding at the end"

# 6. The same schema, a wider policy: a restart alone cannot take it
# either; the reload does.
v=$(svc schema)
install_plugin policy
kill -9 "$(worker_pid upgrade)"
wait_status stopped
grep -q "schema changed: run cubicle services reload upgrade" <<<"$(svc why)" ||
	fail "a wider policy: $(svc why)"
pings || fail "no forwarding while stopped for a policy"
out=$(cub services reload upgrade -o json) || fail "reload: $out"
grep -q "\"schema\": $((v + 1))" <<<"$out" || fail "the policy reload: $out"
[ "$(svc status)" = running ] || fail "not running after the policy reload"
cub_ok u1 set tag=wide
pings || fail "no forwarding at the end"
true
