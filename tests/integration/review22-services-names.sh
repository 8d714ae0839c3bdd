#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): 'services' tells a tenant another tenant's cube
# names.  list_services() counts a tenant's own cubes only, but hands it
# the service's reload_error and why as the supervisor wrote them
# (supervisor.c: "reload failed: the new worker died on the replay of
# cube '%s'"), whoever's cube that is.  Here ta's cube a1 of service
# upgrade is what kills the new plugin (review16_crash.so aborts on each
# create) when the admin reloads it: tb, which has no upgrade cube at
# all, reads "...on the replay of cube 'a1'" in its 'services'.
# Wanted: tb's services names no cube of ta's (a neutral "a cube").
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"
need python3
. "$(dirname "$0")/../lib/review22.sh"
install_plugin v1
r22_start

ok ta upgrade add a1 color=red
cp "$UPG_SO/review16_crash.so" "$T/plugins/.upgrade.so.new"
mv -f "$T/plugins/.upgrade.so.new" "$T/plugins/upgrade.so"
rc=0
out=$(timeout 60 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" services reload upgrade 2>&1 </dev/null) || rc=$?
cub_log "admin's reload: rc $rc: $out"
wait_log 1 "service 'upgrade': worker [0-9]+ killed by signal 6"
for _ in $(seq 1 100); do
	grep -q "replay of cube" <<<"$(cub services -o json)" && break
	sleep 0.1
done
grep -q "replay of cube 'a1'" <<<"$(cub services -o json)" ||
	fail "the admin's services does not say which cube: $(cub services -o json)"
out=$(tb services -o json | python3 -c '
import json, sys
print(json.dumps([s for s in json.load(sys.stdin) if s["name"] == "upgrade"]))')
grep -q '"cubes": 0' <<<"$out" || fail "tb's services counts ta's cubes: $out"
if grep -q "'a1'" <<<"$out"; then
	fail "tb's services names ta's cube a1: $out"
fi
cub_log "tb's services: $out"
