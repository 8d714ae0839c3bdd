#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# 1000 concurrent TCP flows through SNAT all complete, in the cube's world
# and in the nft twin (tests/lib/nat.sh): 1000 connections from in% to
# out%'s server opened together, then each sends a line and must get it
# back.  The natting table then lists 1000 tcp sessions of the snat rule,
# on 1000 distinct external ports.  Two inside sources on the same source
# port to the same server (a second address of in%) get two external
# ports: the second is moved off the port the first holds (both worlds),
# and neither counts as run out.
. "$(dirname "$0")/../lib/netns.sh"
need python3 nft
. "$CUB_LIB/nat.sh"

PLUGINS+=("$CUB_BUILD/plugins/nat/nat.so")
nat_world_cube
nat_world_twin <<'NFT'
table ip nat {
	chain post {
		type nat hook postrouting priority 100;
		oifname "vout" ip saddr 198.18.1.0/24 snat to 198.19.0.100
	}
}
NFT
broker_start
ulimit -n 8192
cub_ok nat add nat1
cub_ok attach nat1 vout
cub_ok nat1 rule snat entry add 1 internal-net=198.18.1.0/24 external-ip=198.19.0.100
for w in 1 2; do
	nat_server out$w tcp 7000
	nat_server out$w udp 7001
	ip -n in$w addr add 198.18.1.2/24 dev eth0
done

for w in 1 2; do
	n=$(nat_py in$w many 198.18.2.1 7000 1000) || fail "world $w: $n"
	[ "$n" = 1000 ] || fail "world $w: $n of 1000 flows got their echo"
	cub_log "world $w: 1000 of 1000 flows echoed"
done
cub nat1 natting-table show -o json >"$T/tab.json"
python3 - "$T/tab.json" <<'PY' || fail "natting-table after 1000 flows"
import json, sys
t = json.load(open(sys.argv[1]))
rows = [r for r in t["entry"] if r["proto"] == "tcp" and r["internal-dport"] == 7000]
ports = {r["external-port"] for r in rows}
assert len(rows) >= 1000, "%d tcp sessions" % len(rows)
assert t["total"] >= len(t["entry"]) >= 1000, "total %s" % t["total"]
assert len(ports) == len(rows), "%d sessions on %d ports" % (len(rows), len(ports))
assert all(r["originating-rule"] == "snat" and r["external-ip"] == "198.19.0.100" for r in rows)
PY

# Two sources, one source port, one server: two external ports.
for w in 1 2; do
	a=$(nat_py in$w udp 198.18.2.1 7001 40020) || fail "world $w: $a"
	b=$(ip netns exec in$w python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.1.2", 40020)); s.settimeout(3)
for _ in range(3):
    s.sendto(b"x", ("198.18.2.1", 7001))
    try:
        print(s.recvfrom(100)[0].decode()); sys.exit(0)
    except socket.timeout:
        pass
sys.exit("no answer")') || fail "world $w, second source: $b"
	[ "$a" = 198.19.0.100:40020 ] || fail "world $w: the first source got $a"
	case $b in
	198.19.0.100:40020) fail "world $w: the second source got the port the first holds" ;;
	198.19.0.100:*) cub_log "world $w: second source on $b" ;;
	*) fail "world $w: the second source got $b" ;;
	esac
done
[ "$(cub nat1 stats show port-exhausted)" = 0 ] || fail "stats: $(cub nat1 stats show)"
cub_ok nat1 del
