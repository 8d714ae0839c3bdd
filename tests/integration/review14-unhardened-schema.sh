#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review14 (d2ae7f8): the administrator takes --unhardened-service away,
# but a cube whose stored document the service's current schema refuses
# keeps the program verified with CAP_PERFMON (no Spectre sanitation)
# running, pinned, across restarts: the retire runs only from a refused
# load, and a cube refused by the schema is never loaded.
# u1 (service upgrade, color=red) is loaded under --unhardened-service
# upgrade and forwards; the broker stops; the plugin is upgraded to
# upgrade_drop (no "color": u1's document is refused) and the broker
# starts WITHOUT the option.  Promise (docs/architecture.md, "Programs
# checked under other rules"): an option removed, the program it let in
# does not run on.  Fixed: with no load, it is retired at --vet-timeout
# (here 1 s).
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"
need tc bpftool

install_plugin v1
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
CUB_BROKER_ARGS="--unhardened-service upgrade" broker_start
cub_ok upgrade add u1 color=red
cub_ok u1 ports add p1 peer=vetha
cub_ok u1 ports add p2 peer=vethb action=forward outport=p1
cub_ok u1 ports p1 set action=forward outport=p2
pings || fail "no forwarding through u1"
grep -qF "cube 'u1': verified and loaded with CAP_PERFMON" "$T/broker.log" ||
	fail "u1 was not loaded unhardened (the case under test)"
id=$(grep -o "cube 'u1': program cub_ingress_tc loaded (id [0-9]*" "$T/broker.log" | tail -1 | grep -o '[0-9]*$')

kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
install_plugin drop
CUB_BROKER_ARGS="--vet-timeout 1000" broker_start
wait_log 1 "cube 'u1': program id [0-9]+ retired"
cub show cubes | grep -E '^u1 ' | grep -q "refused by schema" ||
	fail "u1 not refused by the new schema (the case under test): $(cub show cubes)"
bad=
no_pings || bad+=" u1 forwards;"
bpftool prog show id "$id" >/dev/null 2>&1 && bad+=" program id $id (loaded with CAP_PERFMON) is still in the kernel;"
[ -n "$(find "$T/pins" -path '*u1*' -name prog)" ] && bad+=" it is still pinned;"
broker_kill
CUB_BROKER_ARGS="--vet-timeout 1000" broker_start
sleep 2
no_pings || bad+=" after a kill -9 and a start it forwards again;"
[ -z "$bad" ] || fail "--unhardened-service removed, its program runs on:$bad"
