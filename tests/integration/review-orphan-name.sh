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
