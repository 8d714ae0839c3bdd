#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): a tenant's dynmon code reads every netdev's IPv4
# addresses.  bpfobj.c gives the broker's cub_host_addrs map (netmon.c:
# each address of each netdev, with its ifindex; meant for host-wide
# cubes, iptables' addrtype) to every cube object that declares a map of
# that name, whoever's cube it is.  dynmon compiles a tenant's own C: a
# declaration its rewriter does not see (SEC() behind a macro: not
# renamed i_...) keeps the name, and a bounded loop looks up every
# address of 198.18.22.0/24 in it, putting each one there and its
# ifindex into a metric (review22-hostaddrs.json; a /15 goes in chunks).  tb's monitor on its own
# vethb1 then shows 198.18.22.1 on ta's vetha1, which 'netdevs show'
# hides from it.  Wanted: a tenant's object does not get the broker's
# map (refused, or an empty one of its own), so tb's metric holds none
# of ta's addresses.
. "$(dirname "$0")/../lib/netns.sh"
need python3 ping
D="$CUB_BUILD/plugins/dynmon"
[ -x "$D/cubicle-dynmon-cc" ] || fail "no cubicle-dynmon-cc"
PLUGINS+=("$CUB_BUILD/plugins/dynmon/dynmon.so")
CUB_BROKER_ARGS="--call-timeout 30000
	--helper dynmon-cc=$D/cubicle-dynmon-cc,service=dynmon,ro=/usr/lib/llvm-14:/usr/include,timeout=20"
. "$(dirname "$0")/../lib/review22.sh"
r22_start

ip addr add 198.18.22.1/24 dev vetha1
! tb netdevs show | grep -q vetha || fail "tb's netdevs show lists ta's veths"
ok tb dynmon add tm1
ok tb attach tm1 vethb1
cp "$(dirname "$0")/review22-hostaddrs.json" "$T/leak.json"
chmod 0644 "$T/leak.json"
rc=0
out=$(tb tm1 set dataplane-config --file "$T/leak.json" 2>&1) || rc=$?
if [ "$rc" != 0 ]; then
	cub_log "tb's code refused: $out"
	grep -q "cub_host_addrs" <<<"$out" && exit 0
	fail "tb's code refused, not for the host's map: $out"
fi
# Frames into vethb1 run tm1's ingress.
ip addr add 198.18.23.1/24 dev vethb0
ping -c 3 -i 0.2 -W 1 -I vethb0 198.18.23.2 >/dev/null 2>&1 || true
out=$(tb tm1 metrics show -o json)
cub_log "tb's metric: $(tr -d ' \n' <<<"$out" | head -c 600)"
python3 - "$out" <<'PY' || fail "tb's dynmon code read ta's vetha1 address out of the broker's host map"
import json, socket, struct, sys
want = struct.unpack("<I", socket.inet_aton("198.18.22.1"))[0]
hits = []
def walk(v):
    if isinstance(v, dict):
        if v.get("key") == want:
            hits.append(v.get("value"))
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(json.loads(sys.argv[1]))
if hits:
    print("leaked: 198.18.22.1 on ifindex", hits, file=sys.stderr)
    sys.exit(1)
PY
