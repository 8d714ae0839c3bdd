#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A failed reload (issue 8): the new plugin's schema is invalid
# (upgrade_bad: a default that does not parse).  The reload is refused
# with the reason, the service stays on the accepted schema and serves
# its cubes with a worker speaking it (a copy of the plugin file the
# reload replaced): changes are taken, the program forwards, 'cubicle
# services' says what happened.  Before, the service was left stopped
# (its next workers' hellos refused as "schema changed").  With no
# plugin file of the accepted schema left (the broker restarted with the
# bad one at the path), it cannot come back, and 'cubicle services'
# says why.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"

# pings: one ping through u1 answered, of up to three.
pings() {
	local i
	for i in 1 2 3; do
		ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null && return 0
	done
	return 1
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
pings || fail "no forwarding through u1"

install_plugin bad
err=$(cub_refused 2 services reload upgrade)
grep -q "reload refused: the new plugin's .*level.*accepted schema v1 stays" <<<"$err" ||
	fail "the reload's refusal: $err"
cub_log "reload refused: $err"
# The service comes back on v1 with a worker of the plugin it replaced.
wait_status running
[ "$(svc schema)" = 1 ] || fail "schema after a failed reload: $(cub services)"
grep -q "reload refused: .*serving schema v1 with the plugin it replaced" <<<"$(svc why)" ||
	fail "services does not say what happened: $(svc why)"
grep -q "reload refused" <<<"$(svc reload_error)" || fail "no reload_error: $(cub services)"
pid=$(worker_pid upgrade)
grep -q "upgrade.accepted.so" "/proc/$pid/cmdline" ||
	fail "the worker does not run the accepted plugin: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
cub_ok u1 set color=blue
cub u1 show -o json | grep -q '"color": "blue"' || fail "u1 not changed: $(cub u1 show -o json)"
cub_ok u1 ports p1 set action=drop
! ip netns exec ca ping -c 2 -i 0.2 -W 1 198.18.0.2 >/dev/null ||
	fail "u1's change did not reach its program"
cub_ok u1 ports p1 set action=forward outport=p2
pings || fail "no forwarding after the failed reload"
# A worker crash comes back on the same plugin, not the bad one.
r0=$(svc restarts)
kill -9 "$pid"
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ]; do
	[ "$(svc restarts)" -gt "$r0" ] && [ "$(svc status)" = running ] && break
	sleep 0.1
done
[ "$(svc status)" = running ] || fail "not running after a worker crash: $(cub services)"
[ "$(svc schema)" = 1 ] || fail "schema after a crash: $(cub services)"

# A good plugin and a reload: v2, the fallback ends.
install_plugin add
out=$(cub services reload upgrade -o json) || fail "reload: $out"
grep -q '"schema": 2' <<<"$out" || fail "reload answer: $out"
[ -z "$(svc reload_error)" ] || fail "reload_error kept: $(cub services)"
grep -q "upgrade.accepted.so" "/proc/$(worker_pid upgrade)/cmdline" &&
	fail "the worker still runs the copy after a good reload"
cub_ok u1 set tag=x

# The bad plugin at the path and a broker restart: its first hello takes
# nothing (invalid), no plugin file of the accepted schema is known; the
# cube keeps forwarding (its pinned program) and services says why.
install_plugin bad
broker_kill
broker_start
wait_status stopped
[ "$(svc status)" = stopped ] || fail "not stopped with an invalid plugin: $(cub services)"
grep -q "schema refused: .*level" <<<"$(svc why)" || fail "services why: $(svc why)"
pings || fail "u1 stopped forwarding"
