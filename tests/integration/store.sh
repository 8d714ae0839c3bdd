#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A change the broker cannot write to its store is refused (exit 2, a
# message naming the store and the errno) and rolled back: the cube list,
# the configuration, the kernel state and the forwarding stay as they were,
# and after a restart the broker has exactly what it acknowledged.  Two
# ways to make a save fail: a full file system (a tiny tmpfs as the state
# dir), where the journal cannot grow; and a directory in the way of the
# snapshot's temporary file, which refuses the changes that write a
# snapshot (a deletion) while the journaled ones go on.
. "$(dirname "$0")/../lib/netns.sh"

# The tmpfs must go before the harness removes $T; set +e, or the
# failing status handed on to cub_cleanup would end the trap at once.
trap 'rc=$?; set +e; umount -l "$T/st" 2>/dev/null; (exit $rc); cub_cleanup' EXIT

netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
ip link add vethx type veth peer name vethy
mkdir -p "$T/st"
mount -t tmpfs -o size=256k,mode=0700 cubicle-state "$T/st"
broker_start
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vetha action=drop
cub_ok sf1 ports add p2 peer=vethb action=forward outport=p1
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports add p3 peer=vethx
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "no forwarding"
# A clean stop compacts: the journal is empty after the restart, so the
# full file system leaves it no room at all (tmpfs allocates by page).
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
[ "$(stat -c %s "$T/st/state.journal")" = 0 ] ||
	fail "the journal is not empty after a clean stop and a start"

snapshot() {
	cub show cubes -o json
	cub sf1 show -o json | grep -vE '_packets|_bytes|drops|slowpath'
	tc filter show dev vetha ingress
	tc filter show dev vethb ingress
	tc filter show dev vethx ingress
	tc qdisc show dev vethx
	ls -R "$T/pins"
}
before=$(snapshot)
stored=$(sha256sum <"$T/st/state.db")
journal=$(sha256sum <"$T/st/state.journal")

# refused REGEX ARGS...: exit 2, a message matching, nothing changed,
# the store file untouched, and packets still flow as before.
refused() {
	local re=$1 err
	shift
	err=$(cub_refused 2 "$@")
	grep -qE -- "$re" <<<"$err" ||
		fail "cubicle $*: message '$err' does not match /$re/"
	[ "$(snapshot)" = "$before" ] || fail "refused 'cubicle $*' changed state"
	[ "$(sha256sum <"$T/st/state.db")" = "$stored" ] ||
		fail "refused 'cubicle $*' changed the store"
	[ "$(sha256sum <"$T/st/state.journal")" = "$journal" ] ||
		fail "refused 'cubicle $*' changed the journal"
	ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null ||
		fail "refused 'cubicle $*': forwarding stopped"
	cub_log "refused as expected: cubicle $* -> $err"
}

# every_change REGEX: add, set (one that would stop forwarding), delete.
every_change() {
	refused "$1" simpleforwarder add sf2
	cub_refused 2 sf2 show >/dev/null
	refused "$1" simpleforwarder add sf3 --file "$T/body.json"
	refused "$1" sf1 ports p1 set action=drop
	refused "$1" sf1 ports add p4 peer=vethy
	refused "$1" sf1 ports p3 set peer=
	refused "$1" sf1 ports del p3
	refused "$1" sf1 del
}
printf '{"ports":[{"name":"q1","peer":"vethy"}]}' >"$T/body.json"

# 1. The file system is full.
dd if=/dev/zero of="$T/st/fill" bs=4k 2>/dev/null || true
every_change "state store $T/st/state.db: .*No space left on device"
rm -f "$T/st/fill"

# 2. A directory where the snapshot's temporary file goes: a deletion
# writes a snapshot, and is refused; a set is one journal record, and is
# acknowledged without touching the snapshot.
mkdir "$T/st/state.db.tmp"
refused "state store $T/st/state.db: .*state.db.tmp.*Is a directory" sf1 del
cub_ok sf1 ports p1 set action=drop
[ "$(sha256sum <"$T/st/state.db")" = "$stored" ] || fail "a journaled set wrote the snapshot"
[ "$(sha256sum <"$T/st/state.journal")" != "$journal" ] || fail "a journaled set wrote no journal record"
cub_ok sf1 ports p1 set action=forward outport=p2
[ "$(snapshot)" = "$before" ] || fail "setting p1's action back did not restore the state"
rmdir "$T/st/state.db.tmp"

# 3. After a restart the broker has what it acknowledged, and adopts it.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
[ "$(snapshot)" = "$before" ] || fail "state after restart differs from the acknowledged state"
ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null ||
	fail "no forwarding after restart"

# 4. With room again, changes are acknowledged and kept.
cub_ok sf1 ports p1 set action=drop
cub_ok simpleforwarder add sf2
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
grep -q '"sf2"' <<<"$(cub show cubes -o json)" || fail "acknowledged add lost"
[ "$(cub sf1 ports p1 show action)" = drop ] || fail "acknowledged set lost"
cub_ok sf2 del
cub_ok sf1 ports p1 set action=forward outport=p2
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
grep -q '"sf2"' <<<"$(cub show cubes -o json)" && fail "acknowledged delete lost"
ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null ||
	fail "no forwarding after the last restart"

# 5. A torn last record (kill -9 mid-append) is cut off at the start even
# when the compaction after the replay fails (state.db.tmp in the way):
# the next record does not follow it, so the start after that does not
# take the journal for damaged.
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
printf 'CUBJ\x10\x00\x00\x00torn' >>"$T/st/state.journal"
mkdir "$T/st/state.db.tmp"
broker_start
grep -q "dropped a torn last record" "$T/broker.log" || fail "the torn record was not reported"
cub_ok sf1 ports p1 set action=drop
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
rmdir "$T/st/state.db.tmp"
broker_start
[ "$(cub sf1 ports p1 show action)" = drop ] || fail "the change after a torn record was lost"
true
