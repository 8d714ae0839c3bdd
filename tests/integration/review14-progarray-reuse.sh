#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 14 (issue 6): a cube's prog array is never the one a reload
# fills.  libbpf fills a statically initialised PROG_ARRAY at load, before
# the broker's checks on the final instructions; a reused (pinned) one
# handed the running program's tail calls to the new, unchecked program
# while the checks ran, and a refusal then emptied those slots, so the
# running program's own tail calls failed.
# j1 (service evil_tjmp) runs BURN: two tail calls through its own
# evil_jmp, then cub_pass_tc(); a failed tail call drops.  Its plugin is
# replaced by the same service built from an object that also calls
# bpf_throw (refused after load), and its worker killed: the replay's load
# is refused and j1's running program keeps its prog array (same map, its
# own program in slot 0) and passes every ping.  On the code before, the
# refused load left j1's evil_jmp empty: 100% loss.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool python3

install_tjmp() { # VARIANT: replace evil_tjmp.so as a package manager does
	cp "$CUB_BUILD/plugins/testing/$1.so" "$T/plugins/.evil_tjmp.so.new"
	mv -f "$T/plugins/.evil_tjmp.so.new" "$T/plugins/evil_tjmp.so"
}
pings() { # N: N pings from ca, all answered?
	ip netns exec ca ping -c "$1" -i 0.05 -W 2 198.18.0.2 >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out"
}
# jmp_map: "ID SLOT0-PROG-ID" of j1's pinned evil_jmp
jmp_map() {
	local pin
	pin=$(find "$T/pins" -path '*j1*' -name evil_jmp | head -1)
	[ -n "$pin" ] || { echo "none"; return; }
	bpftool -j map show pinned "$pin" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"], end=" ")'
	bpftool -j map dump pinned "$pin" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d[0]["value"] if d and isinstance(d[0]["value"], int) else
      int.from_bytes(bytes(int(x, 16) for x in d[0]["value"]), "little") if d else "empty")'
}

mkdir -p "$T/plugins"
install_tjmp evil_tjmp
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start
cub_ok evil_tjmp add j1
cub_ok j1 set ingress-action=BURN
cub_ok attach j1 veth1
pings 5 || fail "no ping through j1 (BURN, 2 hops): $(cat "$T/ping.out")"
before=$(jmp_map)
case "$before" in none|*empty) fail "j1's evil_jmp: '$before'";; esac
cub_log "j1 runs; evil_jmp (map id, slot 0): $before"

install_tjmp evil_tjmpbad
n0=$(grep -c "cube 'j1'.*bpf_throw\|cube 'j1'.*kfunc" "$T/broker.log" || true)
kill -9 "$(worker_pid evil_tjmp)"
for _ in $(seq 1 300); do
	n=$(grep -c "cube 'j1'.*bpf_throw\|cube 'j1'.*kfunc" "$T/broker.log" || true)
	[ "$n" -gt "$n0" ] && break
	sleep 0.1
done
[ "$n" -gt "$n0" ] || fail "the bad object's load was not refused: $(tail -20 "$T/broker.log")"
cub_log "refused: $(grep "cube 'j1'.*bpf_throw\|cube 'j1'.*kfunc" "$T/broker.log" | tail -1)"
after=$(jmp_map)
[ "$after" = "$before" ] ||
	fail "j1's evil_jmp changed under a refused load: '$before' -> '$after'"
pings 10 || fail "j1 drops after a refused reload (its tail calls fail): $(cat "$T/ping.out")"

# The good plugin back: the replay loads nothing new, j1 goes on.
install_tjmp evil_tjmp
kill -9 "$(worker_pid evil_tjmp)"
for _ in $(seq 1 100); do
	[ -n "$(worker_pid evil_tjmp)" ] && cub show cubes | grep -E '^j1 ' | grep -qv refused && break
	sleep 0.1
done
pings 5 || fail "no ping after the good plugin is back"
cub_log "a refused reload left j1's prog array and traffic alone"
