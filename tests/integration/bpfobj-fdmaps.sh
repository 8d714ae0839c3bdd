#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6 point 5: map values that are file descriptors or interfaces.  A
# service that declares an ARRAY_OF_MAPS gets its object loaded, but every
# write a worker makes into it (update, batch update, delete, batch delete)
# is refused with a clear error, so no fd of the broker's table lands in
# it; a policy that declares a DEVMAP is refused at hello.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/victim.sh"
need bpftool

# A victim whose sf_actions has the inner maps' shape.
victim_start

err=$(cub_refused 2 e1 debug bpfobj object=fdmap)
grep -q "map 'evmaps'.*array_of_maps.*only the broker writes" <<<"$err" ||
	fail "fdmap: unclear error or a write got through: $err"
cub_log "fdmap writes refused: $err"
# Nothing is in the outer map.
id=$(bpftool -j map show pinned "$T/pins/e1/evmaps" | grep -oE '"id":[0-9]+' | cut -d: -f2)
[ -n "$id" ] || fail "no evmaps map pinned"
[ -z "$(bpftool -j map dump id "$id" | grep -oE '"inner_map_id":')" ] ||
	fail "an inner map got into evmaps: $(bpftool map dump id "$id")"
ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null || fail "v1 stopped forwarding"
# Review F9: writes are allowed into plain-data map types only: a
# CGROUP_ARRAY's or a PERF_EVENT_ARRAY's values are fds too.
cub_ok e1 del
for o in cgarr:cgroup_array perf:perf_event_array; do
	IFS=: read -r obj type <<<"$o"
	cub_ok evil add e$obj
	err=$(cub_refused 2 e$obj debug bpfobj object=$obj)
	grep -q "map 'evmaps' is a $type: its values are file descriptors.*only the broker writes" <<<"$err" ||
		fail "$obj: unclear error or a write got through: $err"
	cub_log "$obj writes refused: $err"
	cub_ok e$obj del
done
cub_ok v1 del

# A policy declaring a DEVMAP (ifindex values) is refused at hello.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" || true
BROKER_PID=
PLUGINS=("$CUB_BUILD/plugins/testing/evildev.so")
rm -f "$T/plugins/"*
mkdir -p "$T/plugins" "$T/s" "$T/st"
ln -sf "${PLUGINS[0]}" "$T/plugins/"
"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" \
	${CUB_BROKER_ARGS:-} >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 100); do
	grep -q "hello refused by broker: .*devmap" "$T/broker.log" && break
	sleep 0.05
done
grep -q "hello refused by broker: .*devmap" "$T/broker.log" ||
	fail "a policy with a DEVMAP was not refused at hello"
cub_log "$(grep -m1 "hello refused by broker" "$T/broker.log")"
