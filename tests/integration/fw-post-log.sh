#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's LOG (plugins/fwcore/bpf/fw_log.bpf.h) with real traffic
# through an iptcube, hook mode $1 (TC or XDP_DRV): ca (198.18.0.1, p1)
# pings cb (198.18.0.2, p2) through
#   -p icmp -j LOG --log-prefix "PING 100%d: " then -j ACCEPT
# Each echo request and reply is a line in `cubicle c1 log show` with
# the prefix as written (a '%' is not a conversion) and the packet's
# addresses, and matching goes on (the pings are answered, the ACCEPT
# counts them).  Then 300 pings at -i 0.002 (600 packets): the cube's
# log bucket (50 lines/s, burst 100) writes at most 100 + 50 * the
# flood's time + 5 lines and counts the rest in log-suppressed.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/testing/iptcube.so")
need python3 ping
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
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
python3 -c 'import json, sys; json.dump({"ruleset": sys.argv[1]}, open(sys.argv[2], "w"))' \
	'*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p icmp -j LOG --log-prefix "PING 100%d: "
-A FORWARD -p icmp -j ACCEPT
COMMIT
' "$T/rules.json"
cub_ok c1 set --file "$T/rules.json"

ip netns exec ca ping -n -c 3 -i 0.2 -W 2 198.18.0.2 >"$T/ping" ||
	fail "ping through LOG then ACCEPT: $(tail -2 "$T/ping")"

# log_lines: the messages of the cube's log that came from BPF.
log_lines() {
	cub c1 log show -o json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for l in doc.get("lines", []):
    if l.get("source") == "bpf":
        print(l["message"])'
}
for _ in $(seq 1 50); do
	[ "$(log_lines | grep -c '^PING 100%d: ')" -ge 6 ] && break
	sleep 0.1
done
log_lines >"$T/log"
req=$(grep -cE '^PING 100%d: IN=[0-9]+ OUT=[0-9]+ SRC=198\.18\.0\.1 DST=198\.18\.0\.2 LEN=98 PROTO=1 SPT=8 DPT=0$' "$T/log" || true)
rep=$(grep -cE '^PING 100%d: IN=[0-9]+ OUT=[0-9]+ SRC=198\.18\.0\.2 DST=198\.18\.0\.1 LEN=98 PROTO=1 SPT=0 DPT=0$' "$T/log" || true)
[ "$req" = 3 ] && [ "$rep" = 3 ] ||
	fail "log: $req request and $rep reply lines, expected 3 and 3: $(cat "$T/log")"
acc=$(cub c1 rules show -o json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
rows = doc.get("rules", doc) if isinstance(doc, dict) else doc
print([r["pkts"] for r in rows if r["chain"] == "FORWARD" and r["num"] == 2][0])')
[ "$acc" = 6 ] || fail "the ACCEPT after LOG counted $acc, expected 6"
cub_log "LOG: $(sed -n 1p "$T/log")"

# The rate limit.
lines0=$(cub c1 show log-lines)
t0=$(date +%s.%N)
ip netns exec ca ping -n -q -c 300 -i 0.002 -W 1 198.18.0.2 >/dev/null 2>&1 || true
t1=$(date +%s.%N)
lines=$(($(cub c1 show log-lines) - lines0))
supp=$(cub c1 show log-suppressed)
secs=$(echo "$t1 - $t0" | bc -l)
python3 -c 'import sys; n, s = int(sys.argv[1]), float(sys.argv[2]); sys.exit(not (n <= 100 + 50 * s + 5))' "$lines" "$secs" ||
	fail "flood: $lines lines in $secs s, more than the bucket allows"
[ "$supp" -ge $((600 - lines - 20)) ] || fail "flood: $lines lines, only $supp suppressed"
cub_log "flood of 600 packets in $secs s: $lines lines, $supp suppressed"
