#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's -m limit and -m hashlimit (plugins/fwcore/bpf/fw_post.bpf.h)
# with real traffic through an iptcube, hook mode $1 (TC or XDP_DRV):
# namespaces ca (198.18.0.1 and .11, port p1) and cb (198.18.0.2, p2).
# 100 pings at -i 0.01 through
#   -m limit --limit 5/s --limit-burst 10 -j ACCEPT, then DROP
# get burst + rate * time replies: at least 12 (a bucket that never
# refills gives 10; no limit gives 100) and at most 10 + 5 * the time the
# pings took + 3.  The rule's and the DROP's counters add up to the 100.
# Then -m hashlimit --hashlimit-mode srcip: two sources pinging at once
# each get that many (one shared bucket would give them about half each),
# and --hashlimit-above ... -j DROP passes the same number.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/testing/iptcube.so")
need python3 ping
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
ip -n ca addr add 198.18.0.11/24 dev eth0
static_arp ca 198.18.0.1 cb 198.18.0.2
mac=$(ip -n ca -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
ip -n cb neigh replace 198.18.0.11 lladdr "$mac" dev eth0 nud permanent
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

# ruleset TEXT: the cube's FORWARD chain.
ruleset() {
	python3 -c 'import json, sys; json.dump({"ruleset": "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + sys.argv[1] + "COMMIT\n"}, open(sys.argv[2], "w"))' \
		"$1" "$T/rules.json"
	cub_ok c1 set --file "$T/rules.json"
}

# pings SRC: 100 echo requests at -i 0.01 from SRC; prints "replies secs".
pings_from() {
	local t0 t1 got
	t0=$(date +%s.%N)
	ip netns exec ca ping -n -q -c 100 -i 0.01 -W 1 -I "$1" 198.18.0.2 >"$T/ping.$1" 2>&1 || true
	t1=$(date +%s.%N)
	got=$(grep -oE '[0-9]+ received' "$T/ping.$1" | cut -d' ' -f1)
	echo "${got:-0} $(echo "$t1 - $t0" | bc -l)"
}

# in_range GOT SECS WHAT: 12 <= GOT <= 10 + 5 * SECS + 3.
in_range() {
	python3 -c 'import sys; g, s = int(sys.argv[1]), float(sys.argv[2]); sys.exit(not (12 <= g <= 10 + 5 * s + 3))' "$1" "$2" ||
		fail "$3: $1 replies in $2 s, expected 12 to 10 + 5 * $2 + 3"
}

# rule_pkts NUM: the packets FORWARD rule NUM counted.
rule_pkts() {
	cub c1 rules show -o json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
rows = doc.get("rules", doc) if isinstance(doc, dict) else doc
print([r["pkts"] for r in rows if r["chain"] == "FORWARD" and r["num"] == int(sys.argv[1])][0])' "$1"
}

# ---- -m limit: one bucket for the rule.
ruleset '-A FORWARD -s 198.18.0.2 -j ACCEPT
-A FORWARD -p icmp --icmp-type echo-request -m limit --limit 5/s --limit-burst 10 -j ACCEPT
-A FORWARD -j DROP
'
read -r got secs < <(pings_from 198.18.0.1)
in_range "$got" "$secs" "-m limit"
acc=$(rule_pkts 2)
drop=$(rule_pkts 3)
[ "$acc" = "$got" ] || fail "-m limit rule counted $acc, ping got $got replies"
[ $((acc + drop)) = 100 ] || fail "-m limit $acc + DROP $drop != 100"
cub_log "-m limit 5/s burst 10: $got of 100 replies in $secs s (DROP $drop)"

# ---- -m hashlimit srcip: one bucket per source, two sources at once.
ruleset '-A FORWARD -s 198.18.0.2 -j ACCEPT
-A FORWARD -p icmp --icmp-type echo-request -m hashlimit --hashlimit-upto 5/s --hashlimit-burst 10 --hashlimit-mode srcip --hashlimit-name h1 -j ACCEPT
-A FORWARD -j DROP
'
pings_from 198.18.0.1 >"$T/a.out" &
pa=$!
pings_from 198.18.0.11 >"$T/b.out" &
pb=$!
wait "$pa" "$pb"
read -r ga sa <"$T/a.out"
read -r gb sb <"$T/b.out"
in_range "$ga" "$sa" "hashlimit srcip, 198.18.0.1"
in_range "$gb" "$sb" "hashlimit srcip, 198.18.0.11"
cub_log "-m hashlimit srcip 5/s burst 10: .1 got $ga in $sa s, .11 got $gb in $sb s"

# ---- --hashlimit-above: over the rate matches (DROP), within it passes.
ruleset '-A FORWARD -s 198.18.0.2 -j ACCEPT
-A FORWARD -p icmp -m hashlimit --hashlimit-above 5/s --hashlimit-burst 10 --hashlimit-name h2 -j DROP
-A FORWARD -j ACCEPT
'
# (slots are the rules' positions: slot 2 keeps its count across rulesets)
drop0=$(rule_pkts 2)
read -r got secs < <(pings_from 198.18.0.1)
in_range "$got" "$secs" "--hashlimit-above"
drop=$(($(rule_pkts 2) - drop0))
[ $((got + drop)) = 100 ] || fail "--hashlimit-above: DROP $drop + $got replies != 100"
cub_log "--hashlimit-above 5/s burst 10: $got of 100 replies in $secs s"
