#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10 (piece "hostwide"): the host's IPv4 addresses for host-wide
# cubes (cub_host_addrs, hostaddr.bpf.h): one broker map (not pinned:
# nothing left in the pin root), kept from address events, given to
# every cube object that declares it (hostth counts the ingress packets
# it finds addressed to the host), and taken over by a new broker from
# the programs it adopts.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool python3

PLUGINS+=("$CUB_BUILD/plugins/testing/hostth.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start
# The map's id: the one h1's program reads (by its name).
map_of() {
	local id
	for id in $(bpftool -j prog show pinned "$T/pins/$1/prog" | python3 -c '
import json, sys
print(" ".join(str(i) for i in json.load(sys.stdin).get("map_ids", [])))'); do
		bpftool -j map show id "$id" | grep -q '"name":"cub_host_addrs"' && { echo "$id"; return; }
	done
}

# addrs: "address=ifindex/kind" lines of the map, sorted.
addrs() {
	bpftool -j map dump id "$MID" | python3 -c '
import json, socket, sys
b = lambda v: bytes(int(x, 16) for x in v)
out = []
for e in json.load(sys.stdin):
    v = b(e["value"])
    out.append("%s=%d/%d" % (socket.inet_ntoa(b(e["key"])),
        int.from_bytes(v[:4], "little"), int.from_bytes(v[4:8], "little")))
print("\n".join(sorted(out)))'
}
has() { local a; a=$(addrs); grep -qx "$1" <<<"$a"; }
until_ok() {
	local _
	for _ in $(seq 1 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# to_host: h1's ingress packets addressed to the host (th_stats[0].slowpath).
to_host() {
	bpftool -j map lookup pinned "$T/pins/h1/th_stats" key 0 0 0 0 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(int.from_bytes(bytes(int(x, 16) for x in v["value"][24:32]), "little")
          for v in d["values"]))'
}

cub_ok hostth add h1
MID=$(map_of h1)
[ -n "$MID" ] || fail "h1's program reads no map named cub_host_addrs"
[ ! -e "$T/pins/h1/cub_host_addrs" ] || fail "h1 pinned a map of its own"
v1=$(ip -o link show veth1 | cut -d: -f1)
lo=$(ip -o link show lo | cut -d: -f1)
has "198.18.0.2=$v1/1" || fail "veth1's address missing: $(addrs | tr '\n' ' ')"
has "198.18.0.255=$v1/2" || fail "veth1's broadcast missing: $(addrs | tr '\n' ' ')"
has "127.0.0.1=$lo/1" || fail "lo's address missing: $(addrs | tr '\n' ' ')"

ip addr add 198.18.0.77/24 dev veth1
until_ok has "198.18.0.77=$v1/1" || fail "an added address is not in the map: $(addrs | tr '\n' ' ')"
ip addr del 198.18.0.77/24 dev veth1
until_ok eval '! has "198.18.0.77=$v1/1"' || fail "a removed address stays in the map"
has "198.18.0.2=$v1/1" || fail "removing one address took another"

# A second cube reads the same map.
cub_ok hostth add h2
[ "$(map_of h2)" = "$MID" ] || fail "h2 reads map $(map_of h2), h1 map $MID"
cub_ok h2 del
n0=$(to_host)
ip netns exec ca ping -c 3 -i 0.2 -W 2 198.18.0.2 >/dev/null || fail "no ping through h1"
n1=$(to_host)
[ "$n1" -ge $((n0 + 3)) ] || fail "h1 counted $((n1 - n0)) pings to the host, not 3"
# To an address that is not the host's: not counted.
ip -n ca route add 198.18.9.0/24 via 198.18.0.2
ip netns exec ca ping -c 3 -i 0.2 -W 1 198.18.9.9 >/dev/null || true
[ "$(to_host)" = "$n1" ] || fail "h1 counted packets to 198.18.9.9 as the host's"

# A new broker adopts the map (h1's program keeps using it) and keeps it.
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
ip addr add 198.18.0.88/24 dev veth1
broker_start
[ "$(map_of h1)" = "$MID" ] || fail "h1's program reads $(map_of h1), was $MID"
until_ok has "198.18.0.88=$v1/1" || fail "an address added while the broker was down is missing"
ip addr add 198.18.0.99/24 dev veth1
until_ok has "198.18.0.99=$v1/1" || fail "an address added after the restart is missing"
n0=$(to_host)
ip netns exec ca ping -c 2 -i 0.2 -W 2 198.18.0.99 >/dev/null || fail "no ping to 198.18.0.99"
[ "$(to_host)" -ge $((n0 + 2)) ] || fail "h1 does not see 198.18.0.99 as the host's"
cub_log "the host's addresses follow address events, shared by host-wide cubes, across a restart"
cub_ok h1 del
# A bpffs holds only the kernel's maps.debug and progs.debug when empty.
left=$(ls -A "$T/pins" | grep -vxE '(maps|progs)\.debug' || true)
[ -z "$left" ] || fail "pins left: $left"
