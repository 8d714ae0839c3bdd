#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 10): a store edited (an unlucky operator, a bad
# restore) to say that a cube of a transparent service that is NOT
# host-wide is attached to ":host" makes it host-wide at the next start:
# tcube_restore() (broker/tcube.c) checks stored_transparent only, and
# tp_restore(":host") builds the host stack, which host_sync() puts on
# every netdev.  A cube of a service without CUB_PLUGIN_F_HOSTWIDE must
# not be on every netdev (it cannot be attached there by hand either);
# the start should refuse that attachment with a clear error, as it does
# for a cube whose service is not transparent in the store.
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
host_peer cb veth2 198.18.1.1 198.18.1.2
broker_start

host_on() {
	tc filter show dev "$1" ingress | grep -q 'handle 0xc0c0' ||
		tc filter show dev "$1" egress | grep -q 'handle 0xc0c0'
}

cub_ok transparenthelloworld add t1
cub_ok attach t1 veth1
# By hand, ":host" is refused.
cub attach t1 veth2 >/dev/null 2>&1 && fail "t1 attached twice"
out=$(cub attach t1 :host 2>&1) && fail "attach t1 :host was taken: $out"
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
python3 - "$T/st/state.db" <<'PY' || fail "could not rewrite the store"
import struct, sys, zlib
path = sys.argv[1]
buf = open(path, "rb").read()
magic, version, crc, length = struct.unpack("<8sIIQ", buf[:24])
assert magic == b"CUBSTATE" and version == 2, (magic, version)
payload = buf[24:24 + length]
old, new = b"\xa6target\xa5veth1", b"\xa6target\xa5:host"
assert payload.count(old) == 1, payload.count(old)
payload = payload.replace(old, new)
hdr = struct.pack("<8sIIQ", magic, version, zlib.crc32(payload), len(payload))
open(path, "wb").write(hdr + payload)
PY
[ ! -s "$T/st/state.journal" ] || fail "the journal is not empty after a clean stop: the edit would be replayed over"
broker_start
sleep 1
cub t1 show >/dev/null || fail "t1 lost across the restart"
for d in veth1 veth2 lo; do
	host_on "$d" &&
		fail "t1 (transparenthelloworld, not host-wide) is on $d at tc handle 0xc0c0 after a start from a store that says it is attached to ':host': $(cub topology show 2>&1 | grep -i host | head -3)"
done
cub_log "a stored ':host' attachment of a cube that is not host-wide is refused"
