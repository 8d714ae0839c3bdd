#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# ddosmitigator with real traffic (Polycube's S14, pcn-ddosmitigator
# test1), on the hook given (TC or XDP_DRV): d1 attached to veth1, the
# test namespace's end of ca's link; the test namespace pings ca, so
# the echo replies come in on veth1 from 198.18.0.1 to 198.18.0.2.
# blacklist-src 198.18.0.1 stops the ping, del lets it through,
# blacklist-dst 198.18.0.1 does not (the replies go to .2), blacklist-dst
# 198.18.0.2 does; stats pkts and the entry's drop-pkts count it.  Then a
# prefix entry (198.18.0.0/24) drops and counts; 0.0.0.0/0 in both lists
# still lets ARP through (non-IPv4 passes); bad entries are refused with
# their error and change nothing.  Last, d2 in front of a simpleforwarder
# sf1 (cc <-> cd): on TC attached to the cube port sf1:p1, on XDP to
# vethc, the netdev of sf1's p1 (an XDP transparent cube attaches to a
# netdev only: the dispatcher runs it, then sf1).
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/ddosmitigator/ddosmitigator.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
netns_hosts "$HOOK" cc:vethc:198.18.2.1 cd:vethd:198.18.2.2
static_arp cc 198.18.2.1 cd 198.18.2.2
broker_start

# ping_ok NS ADDR N: N pings all answered, of three tries (a loaded
# machine loses the odd one with no cube at all).
ping_ok() {
	local try
	for try in 1 2 3; do
		ip netns exec "$1" ping -c "$3" -i 0.05 -W 5 "$2" >"$T/ping.out" 2>&1 &&
			grep -q " 0% packet loss" "$T/ping.out" && return 0
	done
	return 1
}
host_pings() { # N: from this namespace to ca, all answered?
	local try
	for try in 1 2 3; do
		ping -c "$1" -i 0.05 -W 5 198.18.0.1 >"$T/ping.out" 2>&1 &&
			grep -q " 0% packet loss" "$T/ping.out" && return 0
	done
	return 1
}
host_nopings() { ! ping -c "$1" -i 0.05 -W 1 198.18.0.1 >/dev/null 2>&1; }
cd_nopings() { ! ip netns exec cc ping -c "$1" -i 0.05 -W 1 198.18.2.2 >/dev/null 2>&1; }
drops() { cub "$1" "$2" "$3" show drop-pkts; }
pkts() { cub "$1" stats show pkts; }

# ---- S14 on a netdev ----
host_pings 2 || fail "no ping before anything is attached"
cub_ok ddosmitigator add d1 type="$HOOK"
cub_ok attach d1 veth1
host_pings 5 || fail "ping through d1 with empty lists failed"
[ "$(pkts d1)" = 0 ] || fail "d1 dropped $(pkts d1) with empty lists"

cub_ok d1 blacklist-src add 198.18.0.1
host_nopings 3 || fail "ping passed with 198.18.0.1 in blacklist-src"
n=$(drops d1 blacklist-src 198.18.0.1)
[ "$n" -ge 3 ] || fail "blacklist-src 198.18.0.1 drop-pkts $n, expected >= 3"
[ "$(pkts d1)" -ge 3 ] || fail "stats pkts $(pkts d1), expected >= 3"
cub_ok d1 blacklist-src del 198.18.0.1
host_pings 3 || fail "ping failed after blacklist-src del"

cub_ok d1 blacklist-dst add 198.18.0.1
host_pings 3 || fail "ping failed with 198.18.0.1 (not the replies' destination) in blacklist-dst"
[ "$(drops d1 blacklist-dst 198.18.0.1)" = 0 ] || fail "blacklist-dst 198.18.0.1 counted drops"
cub_ok d1 blacklist-dst add 198.18.0.2
p0=$(pkts d1)
host_nopings 3 || fail "ping passed with 198.18.0.2 in blacklist-dst"
n=$(drops d1 blacklist-dst 198.18.0.2)
[ "$n" -ge 3 ] || fail "blacklist-dst 198.18.0.2 drop-pkts $n, expected >= 3"
[ "$(pkts d1)" -ge $((p0 + 3)) ] || fail "stats pkts $(pkts d1), expected >= $((p0 + 3))"
out=$(cub d1 stats show -o json)
python3 - "$out" <<'PY' || fail "stats: $out"
import json, sys
s = json.loads(sys.argv[1])
assert s["pkts"] > 0 and "pps" in s, s
PY
cub_log "S14 ($HOOK): $(pkts d1) dropped, blacklist-dst 198.18.0.2 $n"
cub_ok d1 blacklist-dst del 198.18.0.2
cub_ok d1 blacklist-dst del 198.18.0.1
host_pings 3 || fail "ping failed with blacklist-dst empty again"

# ---- a prefix entry ----
cub_ok d1 blacklist-src add 198.18.0.0/24
host_nopings 3 || fail "ping passed with 198.18.0.0/24 in blacklist-src"
n=$(drops d1 blacklist-src 198.18.0.0/24)
[ "$n" -ge 3 ] || fail "blacklist-src 198.18.0.0/24 drop-pkts $n, expected >= 3"
cub_ok d1 blacklist-src del 198.18.0.0/24
host_pings 3 || fail "ping failed after the prefix's del"
# A wider and a narrower prefix: the longest match counts.
cub_ok d1 blacklist-src add 198.18.0.0/16
cub_ok d1 blacklist-src add 198.18.0.0/25
host_nopings 2 || fail "ping passed with 198.18.0.0/16 and /25 in blacklist-src"
[ "$(drops d1 blacklist-src 198.18.0.0/25)" -ge 2 ] || fail "/25 did not count"
[ "$(drops d1 blacklist-src 198.18.0.0/16)" = 0 ] || fail "/16 counted a /25 match"
cub_ok d1 blacklist-src del 198.18.0.0/25
cub_ok d1 blacklist-src del 198.18.0.0/16
host_pings 2 || fail "ping failed with the prefixes gone"

# ---- non-IPv4 passes: ARP through a cube that drops every IPv4 ----
cub_ok d1 blacklist-src add 0.0.0.0/0
cub_ok d1 blacklist-dst add 0.0.0.0/0
ip neigh del 198.18.0.1 dev veth1
host_nopings 2 || fail "ping passed with 0.0.0.0/0 in both lists"
ip neigh show 198.18.0.1 dev veth1 | grep -qE "REACHABLE|STALE|DELAY" ||
	fail "ARP did not pass d1: $(ip neigh show 198.18.0.1 dev veth1)"
[ "$(drops d1 blacklist-src 0.0.0.0/0)" -ge 2 ] || fail "0.0.0.0/0 did not count"
cub_ok d1 blacklist-src del 0.0.0.0/0
cub_ok d1 blacklist-dst del 0.0.0.0/0
host_pings 2 || fail "ping failed with the lists empty"

# ---- bad entries: a clear error, nothing changes ----
cub_ok d1 blacklist-src add 198.18.0.7
snapshot() { cub d1 show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d.get("blacklist-src"), d.get("blacklist-dst"))'; }
before=$(snapshot)
refused_unchanged "'198.18.0.300' is not an IPv4 address or prefix" d1 blacklist-src add 198.18.0.300
refused_unchanged "'not-an-ip' is not an IPv4 address or prefix" d1 blacklist-src add not-an-ip
refused_unchanged "prefix length 33 is over 32" d1 blacklist-dst add 198.18.0.0/33
refused_unchanged "'198.18.0.1/24' has host bits set: the prefix is 198.18.0.0/24" d1 blacklist-src add 198.18.0.1/24
refused_unchanged "write a /32 as the address, 198.18.0.1" d1 blacklist-src add 198.18.0.1/32
refused_unchanged "no leading zeros" d1 blacklist-src add 198.018.0.1
# A body with one bad entry among good ones: none goes in.
printf '{"blacklist-src": [{"ip": "198.18.0.20"}, {"ip": "198.18.0.21/24"}, {"ip": "198.18.0.22"}]}\n' >"$T/mixed.json"
refused_unchanged "'198.18.0.21/24' has host bits set" d1 set --file "$T/mixed.json"
# A creation with a bad entry creates nothing.
printf '{"blacklist-dst": [{"ip": "198.18.0.20"}, {"ip": "198.18.0.1/33"}]}\n' >"$T/bad.json"
err=$(cub_refused 2 ddosmitigator add d9 --file "$T/bad.json")
grep -q "prefix length 33 is over 32" <<<"$err" || fail "creation with a bad entry: $err"
cub_refused 2 d9 show >/dev/null
cub_ok d1 blacklist-src del 198.18.0.7

# ---- in front of a cube ----
cub_ok simpleforwarder add sf1 type="$HOOK"
cub_ok sf1 ports add p1 peer=vethc
cub_ok sf1 ports add p2 peer=vethd
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
ping_ok cc 198.18.2.2 3 || fail "no ping through sf1"
cub_ok ddosmitigator add d2 type="$HOOK"
if [ "$HOOK" = TC ]; then
	cub_ok attach d2 sf1:p1
	where=sf1:p1
else
	err=$(cub_refused 2 attach d2 sf1:p1)
	grep -q "attaches to a netdev, not to a cube port" <<<"$err" ||
		fail "XDP d2 on sf1:p1: $err"
	cub_ok attach d2 vethc
	where="vethc (sf1's p1)"
fi
ping_ok cc 198.18.2.2 3 || fail "no ping through d2 and sf1"
cub_ok d2 blacklist-src add 198.18.2.1
cd_nopings 3 || fail "ping through sf1 passed with 198.18.2.1 in d2's blacklist-src"
[ "$(drops d2 blacklist-src 198.18.2.1)" -ge 3 ] || fail "d2 blacklist-src did not count"
cub_ok d2 blacklist-src del 198.18.2.1
ping_ok cc 198.18.2.2 3 || fail "ping through sf1 failed after del"
cub_ok d2 blacklist-dst add 198.18.2.0/24
cd_nopings 3 || fail "ping through sf1 passed with 198.18.2.0/24 in d2's blacklist-dst"
[ "$(drops d2 blacklist-dst 198.18.2.0/24)" -ge 3 ] || fail "d2 blacklist-dst prefix did not count"
[ "$(pkts d2)" -ge 6 ] || fail "d2 stats pkts $(pkts d2), expected >= 6"
cub_ok d2 blacklist-dst del 198.18.2.0/24
ping_ok cc 198.18.2.2 3 || fail "ping through sf1 failed after the prefix's del"
cub_log "d2 on $where: $(pkts d2) dropped"
