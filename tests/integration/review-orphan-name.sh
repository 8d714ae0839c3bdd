#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review (issue 6 point 1, "a map name picks no path", and "lost or wrong
# state"): the cube of a service that is not installed any more (an
# upgrade, a plugin removed for a while) is kept in the store with its
# pins and dataplane (persist.c, "orphans").  Its name is still taken:
# cube_create() looks at live cubes only, so another service's cube of
# that name is accepted, pins into the orphan's directory, and libbpf
# reuses the orphan's pinned maps: the new service's worker then writes
# maps of a cube of another service (uid).  The store then holds two
# cubes of one name.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
broker_start
cub_ok evil add x1
cub_ok x1 ports add p1
id0=$(bpftool -j map show pinned "$T/pins/x1/sf_actions" | grep -oE '"id":[0-9]+' | cut -d: -f2)
[ -n "$id0" ] || fail "no sf_actions pinned for x1"
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=

# evil is not installed for a while: x1 is an orphan, kept.
rm -f "$T/plugins/evil.so"
PLUGINS=("$CUB_BUILD/plugins/simpleforwarder/simpleforwarder.so")
broker_start
out=$(cub simpleforwarder add x1 2>&1) && took=1 || took=0
cub_log "simpleforwarder add x1 with an orphan x1 of evil: $took: $out"
if [ "$took" = 1 ]; then
	id1=$(bpftool -j map show pinned "$T/pins/x1/sf_actions" | grep -oE '"id":[0-9]+' | cut -d: -f2)
	[ "$id1" != "$id0" ] ||
		fail "simpleforwarder's new x1 reuses evil's orphaned x1 map sf_actions (id $id0)"
	fail "a cube named like a kept cube of an uninstalled service was accepted"
fi
cub_log "the orphan's name stays taken"

# The error names the kept cube and its service.
grep -q "held by a kept cube of service 'evil', not installed" <<<"$out" ||
	fail "the refusal does not name the kept cube: $out"

# A store that names one cube twice (written by a broker with the defect
# above, or by hand): the later record is not loaded (two cubes of one
# name would share one pin directory), it is kept untouched, and the
# broker says so.
cub_ok simpleforwarder add d1
cub_ok d1 ports add p1
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
python3 - "$T/st/state.db" <<'PY' || fail "could not duplicate d1's record"
import struct, sys, zlib
path = sys.argv[1]
buf = open(path, "rb").read()
magic, version, crc, length = struct.unpack("<8sIIQ", buf[:24])
assert magic == b"CUBSTATE" and version == 2, (magic, version)
payload = buf[24:24 + length]
recs, off = [], 0
while off < len(payload):
    n, = struct.unpack("<I", payload[off:off + 4])
    recs.append(payload[off:off + 4 + n])
    off += 4 + n
dup = [r for r in recs[1:] if b"\xa2d1" in r]
assert len(dup) == 1, len(dup)
payload = b"".join(recs + dup)
hdr = struct.pack("<8sIIQ", magic, version, zlib.crc32(payload), len(payload))
open(path, "wb").write(hdr + payload)
PY
broker_start
n=$(cub show cubes -o json | grep -c '"d1"')
[ "$n" = 1 ] || fail "a store naming d1 twice loaded $n cubes named d1: $(cub show cubes)"
grep -q "cube 'd1' (service 'simpleforwarder'): the store has another cube of that name" "$T/broker.log" ||
	fail "the duplicate record of d1 was not reported"
cub_ok d1 ports add p2
cub_ok d1 show >/dev/null
out=$(cub simpleforwarder add x1 2>&1) && fail "x1 was taken after a restart: $out"
cub_log "a store naming a cube twice loads it once"
