#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review14 (d2ae7f8): a program checked under a wider policy runs on
# when the upgrade that narrows the policy also changes the schema so
# that the cube's stored document is refused.  Service "upgrade" has u1
# (color=red) forwarding between two namespaces; the plugin is replaced
# by review14_dropnarrow.so: no "color" field (u1's document is refused
# by the new schema: kept and reported) and max_map_bytes 4096 (no cube's
# object passes).  The promise (docs/architecture.md, "Programs checked
# under other rules"): a program checked under rules the broker no longer
# has never keeps running once its reload is refused.  Here no load is
# even tried: u1's old program stays on vetha and forwards on under a
# policy that refuses it, with its pins; a kill -9 and a start adopt it
# again.  Fixed: no load comes, so the program is retired at
# --vet-timeout (here 1 s).
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"
need tc


install_plugin v1
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
CUB_BROKER_ARGS="--vet-timeout 1000"
broker_start
cub_ok upgrade add u1 color=red
cub_ok u1 ports add p1 peer=vetha action=drop
cub_ok u1 ports add p2 peer=vethb action=forward outport=p1
cub_ok u1 ports p1 set action=forward outport=p2
pings || fail "no forwarding through u1"

# The narrow policy, with a schema that refuses u1's document.
cp "$CUB_BUILD/plugins/testing/review14_dropnarrow.so" "$T/plugins/.upgrade.so.new"
mv -f "$T/plugins/.upgrade.so.new" "$T/plugins/upgrade.so"
out=$(cub services reload upgrade -o json 2>&1) || true
cub_log "reload: $out"
# The policy is in force: a new cube is refused for it.
out=$(cub upgrade add u3 2>&1) && fail "u3 added under max_map_bytes 4096: $out"
grep -q "over the limit of 4096" <<<"$out" || fail "u3's refusal: $out"
wait_log 1 "cube 'u1': program id [0-9]+ retired"
cub_log "show cubes: $(cub show cubes | grep -E '^u1 ')"
cub u1 show -o json | grep -q '"color": "red"' || fail "u1's document lost: $(cub u1 show -o json)"
bad=
no_pings || bad+=" u1 still forwards under the narrow policy;"
[ "$(filters)" = 0 ] || bad+=" vetha still has u1's filter;"
[ -n "$(find "$T/pins" -path '*u1*' -name prog 2>/dev/null)" ] &&
	bad+=" u1's program still pinned;"
broker_kill
broker_start
sleep 3
no_pings || bad+=" after a kill -9 and a start u1 forwards again ($(grep -c "cube 'u1': adopted pinned program" "$T/broker.log") adoptions);"
[ -z "$bad" ] || fail "unvetted program kept:$bad"
