#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 15 (issue 6): a program checked under rules the broker no longer
# has is retired only if its worker tries a load.  u1 (service "upgrade")
# forwards between two namespaces; then the rules change and the
# service's worker (review15_noload: upgrade_v1's schema, an apply that
# never calls bpf.load, as a buggy or hostile plugin may) replays u1:
#  A. the administrator's side: u1 was loaded by a broker run with
#     --spectre-hardening off (no Spectre v1/v4 barriers); the broker is
#     restarted with the default, on.  The pinned program is adopted, not
#     vetted ("Programs checked under other rules"), and the worker
#     never reloads it: it must not forward on.
#  B. the service's side: 'services reload' to the same worker with a
#     policy too narrow for any cube (max_map_bytes 4096).
# On the current code u1's unvetted program forwards on in both, for as
# long as the worker does not load (bpfobj_retire() runs only at the end
# of a refused bpf.load).  Fixed: with no load, the program is retired at
# --vet-timeout (here 2 s; stopped() polls 10 s).
. "$(dirname "$0")/../lib/netns.sh"
need tc

install_upg() { # SO: install plugins/testing/SO.so as upgrade.so
	cp "$CUB_BUILD/plugins/testing/$1.so" "$T/plugins/.upgrade.so.new"
	mv -f "$T/plugins/.upgrade.so.new" "$T/plugins/upgrade.so"
}
filter_ids() { # the ids of the bpf programs on vetha's ingress
	tc filter show dev vetha ingress | grep -o ' id [0-9]*' | tr -d ' id' | xargs
}
# replayed: the worker of "upgrade" is up and has answered a call after
# its replay (the service's calls are serial).
replayed() {
	local _
	for _ in $(seq 1 300); do
		[ -n "$(worker_pid upgrade)" ] && cub u1 show >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "u1 not back after the worker's start: $(cub services)"
}
# stopped ID: (polled, 10 s) program ID is off vetha and nothing forwards.
stopped() {
	local _
	for _ in $(seq 1 20); do
		[ "$(filter_ids)" != "$1" ] && no_pings && return 0
		sleep 0.5
	done
	return 1
}
broken=()

mkdir -p "$T/plugins"
install_upg upgrade_v1
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2

# A. Loaded without Spectre hardening; restarted with it.
CUB_BROKER_ARGS="--spectre-hardening off" broker_start
cub_ok upgrade add u1 color=red
cub_ok u1 ports add p1 peer=vetha action=drop
cub_ok u1 ports add p2 peer=vethb action=forward outport=p1
cub_ok u1 ports p1 set action=forward outport=p2
pings || fail "no forwarding through u1"
id0=$(filter_ids)
[ -n "$id0" ] || fail "no program on vetha"
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
install_upg review15_noload
CUB_BROKER_ARGS="--vet-timeout 2000" broker_start
replayed
grep -q "cube 'u1': adopted pinned program" "$T/broker.log" ||
	fail "u1's program was not adopted (the case under test): $(tail -20 "$T/broker.log")"
cub_log "A: vetha's program ids: before $id0, now $(filter_ids)"
if ! stopped "$id0"; then
	broken+=("A: u1's program (id $id0), verified with --spectre-hardening off, still runs on vetha under --spectre-hardening on: its worker never reloaded it")
fi

# B. A reload to a narrow policy, same worker.  First upgrade_v1 back:
# its replay reloads u1 under today's rules (vetted again).
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
install_upg upgrade_v1
CUB_BROKER_ARGS="--vet-timeout 2000" broker_start
replayed
for _ in $(seq 1 100); do
	[ "$(filter_ids)" != "$id0" ] && break
	sleep 0.1
done
[ "$(filter_ids)" != "$id0" ] || fail "B: upgrade_v1's replay did not reload u1: $(filter_ids)"
pings || fail "B: no forwarding through u1"
id1=$(filter_ids)
install_upg review15_noloadnarrow
out=$(cub services reload upgrade -o json 2>&1) || true
cub_log "B: reload to the narrow policy: $out"
replayed
cub_log "B: vetha's program ids: before $id1, now $(filter_ids)"
if ! stopped "$id1"; then
	broken+=("B: u1's program (id $id1), loaded under the wide policy, still runs on vetha under max_map_bytes 4096: its worker never reloaded it")
fi

[ "${#broken[@]}" = 0 ] || fail "$(printf '%s; ' "${broken[@]}")"
cub_log "an unvetted program stops running even if its worker never loads"
