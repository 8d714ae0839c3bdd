#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review16 (issue 8, `cubicle services reload` falls back to the accepted
# plugin file): only a new worker that dies before its hello, or whose
# hello is refused, brings the accepted plugin back.  A new version that
# says hello (the same schema: accepted) and then dies on the replay of
# the cubes the old version stored (review16_crash.so: its apply() aborts
# on create; an upgrade that cannot read its predecessor's documents) is
# never fallen back from: the hello made its file good_fd, reload_take()
# took its schema, and the service restarts from it for ever ("last
# worker killed by signal 6"); the reload's reply waits on a replay that
# never ends, and u1 cannot be changed.  Wanted: the reload answered
# "failed", and the service back to running on upgrade_v1 (u1 settable).
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"
need python3
install_plugin v1
broker_start
cub_ok upgrade add u1 color=red
cp "$UPG_SO/review16_crash.so" "$T/plugins/.upgrade.so.new"
mv -f "$T/plugins/.upgrade.so.new" "$T/plugins/upgrade.so"
rc=0
out=$(timeout 60 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" services reload upgrade -o json 2>&1 </dev/null) || rc=$?
cub_log "reload: rc $rc: $(tr -d "\n" <<<"$out")"
wait_log 1 "service 'upgrade': worker [0-9]+ killed by signal 6"
# A fallback worker would be running by now (it starts at once); give a
# loaded machine 10 s more.
for _ in $(seq 1 100); do
	[ "$(svc status)" = running ] && break
	sleep 0.1
done
st=$(svc status) why=$(svc why) n=$(svc restarts)
rc2=0
out2=$(timeout 60 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" u1 set color=blue 2>&1 </dev/null) || rc2=$?
bad=
[ "$rc" = 124 ] && bad+=" the reload was not answered in 60 s;"
[ "$rc" = 0 ] && bad+=" the reload succeeded: $(tr -d "\n " <<<"$out");"
[ "$st" = running ] && [ "$rc2" = 0 ] ||
	bad+=" after it, service '$st' ($why, $n restarts), 'u1 set color=blue': rc $rc2: $out2;"
cub_log "after: status $st, why $why, restarts $n, set: rc $rc2: $out2"
[ -z "$bad" ] || fail "a reload whose new worker dies on its replay does not fall back:$bad"
