#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A worker does not inherit the broker's stdin (the admin's terminal when
# cubicled runs in one): its fd 0 is /dev/null, read-only, and what is
# typed to the broker never reaches a plugin.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
# The broker's stdin: a FIFO this test holds open for writing.
mkfifo "$T/stdin"
exec 3<>"$T/stdin"
# broker_start, with the FIFO as the broker's stdin (a background job
# would get /dev/null otherwise).
mkdir -p "$T/plugins" "$T/s" "$T/st"
for p in "${PLUGINS[@]}"; do ln -sf "$p" "$T/plugins/"; done
"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" \
	${CUB_BROKER_ARGS:-} <"$T/stdin" >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
broker_wait_ready
# Once ready: before that, the forked shell may not have applied the
# redirection yet.
fd0=$(readlink /proc/$BROKER_PID/fd/0)
[ "$fd0" = "$T/stdin" ] || fail "the broker's stdin is $fd0"
echo "admin secret typed here" >&3

for svc in simpleforwarder evil; do
	pid=$(worker_pid $svc)
	[ -n "$pid" ] && [ "$pid" != 0 ] || fail "no worker for $svc"
	fd0=$(readlink /proc/$pid/fd/0) || fail "$svc: no fd 0"
	[ "$fd0" = /dev/null ] || fail "$svc: fd 0 is $fd0, not /dev/null"
	flags=$(awk '/^flags:/ { print $2 }' /proc/$pid/fdinfo/0)
	# O_ACCMODE of the octal flags: 0 = O_RDONLY.
	[ $((8#$flags & 3)) = 0 ] || fail "$svc: fd 0 flags $flags, not read-only"
	cub_log "$svc worker $pid: fd 0 is /dev/null, flags $flags"
done
# The plugin reads end-of-file (/dev/null), not the admin's input.
cub_ok evil add e1
r=$(cub e1 debug stdin -o json) || fail "debug stdin: $r"
grep -qF '"stdin": "eof"' <<<"$r" || fail "the plugin read its stdin: $r"
cub_log "the plugin reads: $(tr -d '\n' <<<"$r")"
# The line is still unread in the FIFO: no worker took it.
line=$(timeout 2 head -n 1 <&3) || fail "the broker's input was consumed"
[ "$line" = "admin secret typed here" ] || fail "input changed: $line"
exec 3>&-
cub_log "the input sent to the broker's stdin stayed unread"
