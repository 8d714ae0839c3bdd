#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's -m set (plugins/fwcore/bpf/fw_post.bpf.h) with real traffic
# through an iptcube, hook mode $1 (TC or XDP_DRV): ca (port p1) pings cb
# (198.18.0.2, p2) from several sources.  Set "big", hash:ip, holds
# 100000 addresses (198.18.0.0/16 and 198.19.0.0-198.19.134.159, each one
# entry, as ipset add expands them); "nets", hash:net, 198.19.150.0/24;
# "svc", hash:ip,port, 198.18.0.2,udp:5353.  Listed sources are dropped
# (198.18.0.1, and 198.19.134.159, the last of the 100000), unlisted ones
# pass (198.19.134.160, just after it; 198.19.200.1), 198.19.150.7 is
# dropped by the net; UDP to 5353 is dropped, to 5354 answered.  A
# ruleset naming a missing set is refused, naming it, and changes
# nothing.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/testing/iptcube.so")
need python3 ping
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
if [ "$HOOK" != TC ]; then
	# An XDP redirect between veths carries a partial checksum as it is,
	# and the receiver drops it: checksums in full (as fw-ct-xdp).
	for ns in ca cb; do
		ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null ||
			fail "ethtool -K eth0 tx off failed in $ns"
	done
fi
SRCS="198.19.134.159 198.19.134.160 198.19.150.7 198.19.200.1"
mac=$(ip -n ca -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
for a in $SRCS; do
	ip -n ca addr add "$a/32" dev eth0
	ip -n cb neigh replace "$a" lladdr "$mac" dev eth0 nud permanent
done
ip -n cb route add 198.19.0.0/16 dev eth0
broker_start

cub_ok iptcube add c1 type="$HOOK"
cub_ok c1 ports add p1 peer=vetha
cub_ok c1 ports add p2 peer=vethb
for p in p1 p2; do
	for _ in $(seq 1 100); do
		[ "$(cub c1 ports $p show status)" = UP ] && break
		sleep 0.1
	done
	[ "$(cub c1 ports $p show status)" = UP ] || fail "port $p not UP"
done

RULES='*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -s 198.18.0.2 -j ACCEPT
-A FORWARD -m set --match-set big src -j DROP
-A FORWARD -m set --match-set nets src -j DROP
-A FORWARD -p udp -m set --match-set svc dst,dst -j DROP
-A FORWARD -j ACCEPT
COMMIT
'
python3 - "$RULES" "$T" <<'PY'
import json, sys
rules, t = sys.argv[1], sys.argv[2]
sets = [{"name": "big", "type": "hash:ip",
         "members": "198.18.0.0/16 198.19.0.0-198.19.134.159"},
        {"name": "nets", "type": "hash:net", "members": "198.19.150.0/24"},
        {"name": "svc", "type": "hash:ip,port", "members": "198.18.0.2,udp:5353"}]
json.dump({"ruleset": rules, "sets": sets}, open(t + "/cfg.json", "w"))
json.dump({"ruleset": rules.replace("--match-set nets", "--match-set nope")},
          open(t + "/bad.json", "w"))
json.dump({"ruleset": rules.replace("-j ACCEPT\nCOMMIT", "-j ACCEPT --bogus\nCOMMIT")},
          open(t + "/badsyntax.json", "w"))
json.dump({"sets": sets[:2] + [{"name": "svc", "type": "hash:ip,port",
                                "members": "198.18.0.2"}]},
          open(t + "/badmember.json", "w"))
PY
t0=$(date +%s.%N)
cub_ok c1 set --file "$T/cfg.json"
t1=$(date +%s.%N)
cub_log "100000-entry hash:ip set and ruleset applied in $(echo "$t1 - $t0" | bc -l) s"

# reach SRC: 0 if 2 pings from SRC get an answer.
reach() { ip netns exec ca ping -n -q -c 2 -i 0.2 -W 1 -I "$1" 198.18.0.2 >/dev/null 2>&1; }
reach 198.18.0.1 && fail "198.18.0.1 (in big) got through"
reach 198.19.134.159 && fail "198.19.134.159 (the last of big) got through"
reach 198.19.134.160 || fail "198.19.134.160 (not in big) was dropped"
reach 198.19.150.7 && fail "198.19.150.7 (in nets) got through"
reach 198.19.200.1 || fail "198.19.200.1 (in no set) was dropped"
cub_log "hash:ip of 100000: listed sources dropped, unlisted pass; hash:net drops"

# UDP to cb: 5353 is in svc (dropped), 5354 is not (answered).
ip netns exec cb python3 -c '
import socket, threading
def srv(p):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("198.18.0.2", p))
    while True:
        d, a = u.recvfrom(100); u.sendto(d, a)
for p in (5353, 5354):
    threading.Thread(target=srv, args=(p,), daemon=True).start()
threading.Event().wait()
' &
sleep 0.5
udp() {
	ip netns exec ca python3 -c '
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("198.19.200.1", 0))
u.settimeout(1)
for _ in range(3):
    u.sendto(b"x", ("198.18.0.2", int(sys.argv[1])))
    try:
        u.recvfrom(100); sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)' "$1"
}
udp 5353 && fail "udp to 198.18.0.2:5353 (in svc) was answered"
udp 5354 || fail "udp to 198.18.0.2:5354 (not in svc) was not answered"
cub_log "hash:ip,port dst,dst: 5353 dropped, 5354 answered"

# A missing set: refused with its name, nothing changed.
err=$(cub_refused 2 c1 set --file "$T/bad.json")
grep -q "set 'nope': no such set" <<<"$err" || fail "missing set: message '$err'"
reach 198.19.150.7 && fail "after the refused ruleset, 198.19.150.7 got through"
reach 198.19.200.1 || fail "after the refused ruleset, 198.19.200.1 was dropped"
cub_log "a ruleset naming a missing set is refused: $err"
err=$(cub_refused 2 c1 set --file "$T/badsyntax.json")
grep -q "ruleset: .*bogus" <<<"$err" || fail "bad syntax: message '$err'"
err=$(cub_refused 2 c1 set --file "$T/badmember.json")
grep -q "set 'svc': member '198.18.0.2' is not" <<<"$err" || fail "bad member: message '$err'"
reach 198.19.150.7 && fail "after the refused configs, 198.19.150.7 got through"
reach 198.19.200.1 || fail "after the refused configs, 198.19.200.1 was dropped"
udp 5353 && fail "after the refused configs, udp to 5353 was answered"
cub_log "refused too: $err"
