#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review14 (issue 8: "`cubicle services` shows why a worker is not
# running"): a new author's first mistakes leave `cubicle services`
# saying "starting ... last worker exited with 1", restarting forever;
# the reason the worker printed (and the broker logged) is not shown:
#   noentry.so   exports no cub_plugin_entry (forgot the symbol)
#   undef.so     an undefined symbol (a library not linked)
#   misnamed.so  simpleforwarder.so copied as misnamed.so (the .so not
#                named after .name)
#   junk.so      not an ELF object at all
# The test waits until each has restarted 3 times, then wants its "why"
# in `cubicle services -o json` to carry the worker's own reason.
. "$(dirname "$0")/../lib/netns.sh"
need cc python3
PLUGINS=()
mkdir -p "$T/plugins"
echo 'int x;' >"$T/n.c"
cc -shared -fPIC -o "$T/plugins/noentry.so" "$T/n.c"
echo 'extern int nothere(void); int y(void) { return nothere(); }' >"$T/u.c"
cc -shared -fPIC -o "$T/plugins/undef.so" "$T/u.c"
cp "$CUB_BUILD/plugins/simpleforwarder/simpleforwarder.so" "$T/plugins/misnamed.so"
echo "not an elf" >"$T/plugins/junk.so"
"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
field() { # SERVICE FIELD
	cub services -o json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == sys.argv[1]:
        print(s.get(sys.argv[2], ""))' "$1" "$2"
}
for _ in $(seq 1 300); do
	ok=1
	for s in noentry undef misnamed junk; do
		[ "$(field $s restarts || echo 0)" -ge 3 ] 2>/dev/null || ok=
	done
	[ -n "$ok" ] && break
	sleep 0.1
done
[ -n "$ok" ] || fail "the services did not restart 3 times: $(cub services)"
cub_log "restarts: noentry $(field noentry restarts), undef $(field undef restarts), misnamed $(field misnamed restarts), junk $(field junk restarts)"
bad=
check() { # SERVICE WHAT-THE-WORKER-SAID
	local why st
	why=$(field "$1" why)
	st=$(field "$1" status)
	grep -q "worker $1\[[0-9]*\]: .*$2" "$T/broker.log" ||
		fail "the worker of $1 did not say '$2' (the case under test)"
	grep -qF "$2" <<<"$why" || bad+=" $1: status '$st', why '$why' (the worker said '$2');"
}
check noentry "no symbol cub_plugin_entry"
check undef "undefined symbol: nothere"
check misnamed "declares service 'simpleforwarder', started as 'misnamed'"
check junk "file too short"
[ -z "$bad" ] || fail "cubicle services does not say why:$bad"
