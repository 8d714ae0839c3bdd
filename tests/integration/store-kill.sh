#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# kill -9 of the broker during a stream of changes: the state the next
# broker loads is the last acknowledged one or the one after it (the
# change in flight), never a mix, never older, never unreadable.  Twenty
# cubes of 128 ports make every save a few hundred kilobytes, so the
# kills land inside saves too.
. "$(dirname "$0")/../lib/netns.sh"

python3 -c '
import json
print(json.dumps({"ports": [{"name": "p%d" % i} for i in range(128)]}))' >"$T/body.json"
broker_start
for i in $(seq 1 20); do
	cub_ok simpleforwarder add "bulk$i" --file "$T/body.json"
done
cub_ok simpleforwarder add sf0

# The stream: add q1..q60, then delete the oldest and add the next, so
# sf0 stays under its 128 ports.  OPS[n] is change n; the state after n
# changes is q(max(1, a-59))..qa with a the number of adds among them.
OPS=()
for i in $(seq 1 60); do OPS+=("add q$i"); done
for i in $(seq 61 2000); do OPS+=("del q$((i - 60))" "add q$i"); done
expected() {
	local n=$1 a
	if [ "$n" -le 60 ]; then a=$n; else a=$((60 + (n - 60) / 2)); fi
	[ "$a" -gt 0 ] || return 0
	lo=$((a - 59))
	[ "$n" -gt 60 ] && [ $(((n - 60) % 2)) = 1 ] && lo=$((lo + 1))
	[ "$lo" -ge 1 ] || lo=1
	seq -f 'q%g' "$lo" "$a" | tr '\n' ' '
}
q_ports() {
	cub sf0 show -o json | grep -oE '"name": "q[0-9]+"' | grep -oE 'q[0-9]+' |
		sort -V | tr '\n' ' '
}

done_ops=0
for round in 1 2 3 4 5; do
	echo "$done_ops" >"$T/acked"
	(
		n=$done_ops
		while [ "$n" -lt "${#OPS[@]}" ]; do
			# shellcheck disable=SC2086
			cub sf0 ports ${OPS[$n]} >/dev/null 2>&1 || exit 0
			n=$((n + 1))
			# A rename: a reader never sees the file empty.
			echo "$n" >"$T/acked.new"
			mv -f "$T/acked.new" "$T/acked"
		done
	) &
	loop=$!
	# Kill once 10 to 39 more changes are acknowledged (a count, not a
	# time: the machine is shared), at whatever point of the next one.
	target=$((done_ops + 10 + RANDOM % 30))
	for _ in $(seq 1 3000); do
		[ "$(cat "$T/acked")" -ge "$target" ] && break
		kill -0 "$loop" 2>/dev/null || fail "round $round: the stream stopped: $(cat "$T/acked")"
		sleep 0.02
	done
	[ "$(cat "$T/acked")" -ge "$target" ] || fail "round $round: $target changes not reached in 60 s"
	kill -9 "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	wait "$loop" || true
	acked=$(cat "$T/acked")
	broker_start
	got=$(q_ports)
	if [ "$got" = "$(expected "$acked")" ]; then
		done_ops=$acked
	elif [ "$got" = "$(expected $((acked + 1)))" ]; then
		done_ops=$((acked + 1))
	else
		fail "round $round: after $acked acknowledged changes sf0 has" \
			"'$got', neither '$(expected "$acked")' nor" \
			"'$(expected $((acked + 1)))'"
	fi
	[ "$(cub show cubes -o json | grep -c '"simpleforwarder"')" = 21 ] ||
		fail "round $round: cubes lost: $(cub show cubes)"
	cub_log "round $round: $acked changes acknowledged, state after $done_ops loaded"
done
true
