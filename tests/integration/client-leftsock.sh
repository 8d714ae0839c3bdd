#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Found by a review (broker/spsrv.c, clients.c; docs "a non-socket in the way" is
# refused): when the events socket cannot be created (a regular file in
# its place), clients_init() fails after it bound cubicled.sock, and
# main() returns without clients_fini(): the refused start leaves a client
# socket file nobody listens on.  A start that fails creates nothing.
. "$(dirname "$0")/../lib/netns.sh"

mkdir -p "$T/s" "$T/st" "$T/plugins"
echo "not a socket" >"$T/s/events.sock"
rc=0
timeout 20 "$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" >"$T/broker.log" 2>&1 || rc=$?
cub_log "broker with a file at events.sock: exit $rc: $(grep -i 'events.sock' "$T/broker.log" | head -1)"
[ "$rc" = 1 ] || fail "the broker did not refuse to start (exit $rc)"
[ "$(cat "$T/s/events.sock")" = "not a socket" ] || fail "the file at events.sock was changed"
[ ! -e "$T/s/cubicled.sock" ] ||
	fail "a refused start left $(ls -l "$T/s/cubicled.sock")"
cub_log "a refused start leaves nothing behind"
