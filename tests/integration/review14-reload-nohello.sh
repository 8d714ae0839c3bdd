#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review14 (issue 8, `cubicle services reload`): a reload whose new plugin
# cannot even start (an undefined symbol: a library the new build forgot
# to link; the worker exits at dlopen, before its hello) is answered
# "reload failed", and then leaves the service down: "starting ... last
# worker exited with 1", restarting for ever from the broken file; its
# cubes cannot be changed ("service 'upgrade' is not running").  A failed
# reload is to bring back a worker speaking the accepted schema, from a
# copy of the file it replaced (docs/architecture.md, "A failed reload";
# reload-fail.sh), which the broker holds (good_fd): here only a hello
# refused for its schema gets that.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"
need cc
install_plugin v1
broker_start
cub_ok upgrade add u1 color=red
echo 'extern int nothere(void); int y(void) { return nothere(); }' >"$T/u.c"
cc -shared -fPIC -o "$T/plugins/.upgrade.so.new" "$T/u.c"
mv -f "$T/plugins/.upgrade.so.new" "$T/plugins/upgrade.so"
rc=0
out=$(cub services reload upgrade -o json 2>&1) || rc=$?
cub_log "reload: rc $rc: $out"
[ "$rc" != 0 ] || fail "the reload to a plugin that cannot start succeeded: $out"
grep -q "worker upgrade\[[0-9]*\]: .*undefined symbol: nothere" "$T/broker.log" ||
	fail "the new worker did not fail at dlopen (the case under test)"
# Give the broker time to fall back (a fallback worker starts at once in
# reload-fail.sh).
for _ in $(seq 1 100); do
	[ "$(svc status)" = running ] && break
	sleep 0.1
done
st=$(svc status) why=$(svc why) n=$(svc restarts)
rc=0
out=$(cub u1 set color=blue 2>&1) || rc=$?
[ "$st" = running ] && [ "$rc" = 0 ] ||
	fail "after the failed reload: service '$st' ($why, $n restarts), 'u1 set color=blue': rc $rc: $out"
