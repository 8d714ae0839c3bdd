# SPDX-License-Identifier: BSD-2-Clause
# Helpers of the plugin-upgrade tests (services-reload.sh, reload-store.sh,
# reload-fail.sh), sourced after netns.sh: the service "upgrade", built
# from plugins/testing/upgrade.c in several variants.
UPG_SO="$CUB_BUILD/plugins/testing"
PLUGINS=()
mkdir -p "$T/plugins"
# install_plugin VARIANT: replace upgrade.so as a package manager does
# (rename).
install_plugin() {
	cp "$UPG_SO/upgrade_$1.so" "$T/plugins/.upgrade.so.new"
	mv -f "$T/plugins/.upgrade.so.new" "$T/plugins/upgrade.so"
}
# svc FIELD: the field of service upgrade in 'cubicle services -o json'.
svc() {
	cub services -o json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == "upgrade":
        print(s.get(sys.argv[1], ""))' "$1"
}
# wait_status STATUS: poll (30 s by the clock) until the service shows
# STATUS.
wait_status() {
	local end=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(svc status)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "service upgrade not $1 after 30 s: $(cub services)"
}
# broker_kill: kill -9 the broker and wait for its workers to die with it.
broker_kill() {
	local workers _
	workers=$(worker_pid upgrade)
	kill -9 "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	for _ in $(seq 1 100); do
		[ -n "$workers" ] && kill -0 $workers 2>/dev/null || break
		sleep 0.1
	done
}
