#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Packet-out (issue 7, "Packet-out, packet-in, logs"), in the hook mode
# given as $1 (TC or XDP_DRV).  An evil cube (it forwards like
# simpleforwarder) with p1 on a veth to namespace ca and p2 to cb; its
# worker builds ICMP echo requests in C and sends them with
# cub_cube__packet_out():
#   out of p2: cb's kernel receives exactly 10 (its Icmp InEchos);
#   into the cube's ingress on p1 (p1 forwards to p2): they come out of p2;
#   out of p3, which peers with cube e2's q1 (q1 forwards to q2 on cc):
#   cc receives them; into p2 forwarding to p3: XDP, cc receives them
#   (live frames, real redirects); TC, not followed (documented);
#   a flood of 100,000: about the bucket (64 + 1000/s) sent, the rest
#   dropped and counted (the action's result, 'cubicle services'), and the
#   broker answers 'show cubes' within 5 s throughout;
#   a bad port, a frame too short or too long, a port not connected, a
#   cube of another service: refused, naming what was wrong.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 170000"
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2 cc:vethc:198.18.0.3
broker_start

cub_ok evil add e1 type="$HOOK"
cub_ok e1 ports add p1 peer=vetha
cub_ok e1 ports add p2 peer=vethb
cub_ok e1 ports add p3
cub_ok e1 ports p1 set action=forward outport=p2
P1=$(cub e1 ports p1 show index)
P2=$(cub e1 ports p2 show index)
P3=$(cub e1 ports p3 show index)
MACB=$(ip -n cb -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)

# Echo requests cb's kernel took in.
inechos() {
	ip netns exec "$1" awk '/^Icmp:/ { if (n++) { for (i = 1; i <= NF; i++)
		if (h[i] == "InEchos") print $i } else for (i = 1; i <= NF; i++) h[i] = $i }' \
		/proc/net/snmp
}
# wait_echos NS WANT: poll (20 s) until NS counted WANT echo requests.
wait_echos() {
	local i n
	for i in $(seq 1 200); do
		n=$(inechos "$1")
		[ "$n" -ge "$2" ] && break
		sleep 0.1
	done
	echo "$n"
}

# 1. Out of p2: exactly 10 echo requests reach cb.
e0=$(inechos cb)
out=$(cub e1 debug pktout port="$P2" n=10 dst=198.18.0.2 dmac="$MACB" -o json)
grep -q '"sent": 10' <<<"$out" || fail "pktout out of p2: $out"
e1=$(wait_echos cb $((e0 + 10)))
[ $((e1 - e0)) = 10 ] || fail "cb received $((e1 - e0)) echo requests out of p2, expected 10"
sleep 0.5
[ "$(inechos cb)" = "$e1" ] || fail "cb received more than the 10 sent"
cub_log "out of p2: cb received exactly 10 echo requests"

# 2. Into the cube's ingress as if received on p1: p1 forwards to p2.
e0=$(inechos cb)
out=$(cub e1 debug pktout port="$P1" dir=ingress n=10 dst=198.18.0.2 dmac="$MACB" -o json)
grep -q '"sent": 10' <<<"$out" || fail "pktout into p1: $out"
e1=$(wait_echos cb $((e0 + 10)))
[ $((e1 - e0)) = 10 ] || fail "cb received $((e1 - e0)) echo requests injected on p1, expected 10"
cub_log "into the ingress on p1 (forward to p2): cb received exactly 10"
# With p1 dropping, the same 10 reach nobody: the cube's verdict rules.
cub_ok e1 ports p1 set action=drop
cub_ok e1 debug pktout port="$P1" dir=ingress n=10 dst=198.18.0.2 dmac="$MACB" >/dev/null
sleep 1
[ "$(inechos cb)" = "$e1" ] || fail "frames injected on a dropping p1 reached cb"
cub_ok e1 ports p1 set action=forward outport=p2

# 3. Refusals, each naming what was wrong.
err=$(cub_refused 2 e1 debug pktout port=99)
grep -q "no port with index 99" <<<"$err" || fail "bad port: $err"
err=$(cub_refused 2 e1 debug pktout port="$P2" len=13)
grep -q "a frame of 14 bytes to the port's MTU + 14" <<<"$err" || fail "short frame: $err"
err=$(cub_refused 2 e1 debug pktout port="$P2" len=1515)
grep -q "over port 'p2''s MTU 1500 + 14" <<<"$err" || fail "long frame: $err"
cub_ok e1 debug pktout port="$P2" n=1 len=1514 >/dev/null
err=$(cub_refused 2 e1 debug pktout port="$P3")
grep -q "port 'p3' of cube 'e1' is not connected" <<<"$err" || fail "unconnected port: $err"
cub_ok simpleforwarder add sf1 type="$HOOK"
cub_ok sf1 ports add p1
err=$(cub_refused 2 e1 debug pktout port=0 as_cube=sf1)
grep -q "cube 'sf1' is not a cube of service 'evil'" <<<"$err" ||
	fail "another service's cube: $err"
cub_ok sf1 del
cub_log "refused: bad port, 13 and 1515 bytes, p3 unconnected, another service's cube"

# 4. Out of a port that peers with another cube's port: into that cube's
# ingress on its port (q1 forwards to q2, on cc).
cub_ok evil add e2 type="$HOOK"
cub_ok e2 ports add q1
cub_ok e2 ports add q2 peer=vethc
cub_ok e1 ports p3 set peer=e2:q1
cub_ok e2 ports q1 set peer=e1:p3 action=forward outport=q2
MACC=$(ip -n cc -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
e0=$(inechos cc)
out=$(cub e1 debug pktout port="$P3" n=10 dst=198.18.0.3 dmac="$MACC" -o json)
grep -q '"sent": 10' <<<"$out" || fail "pktout out of p3 (peer e2:q1): $out"
e1=$(wait_echos cc $((e0 + 10)))
[ $((e1 - e0)) = 10 ] || fail "cc received $((e1 - e0)) echo requests through e2, expected 10"
cub_log "out of p3 (peer e2:q1, q1 forwards to q2): cc received exactly 10"
# Into e1's ingress on p2 forwarding to p3: the same, two cubes on.
cub_ok e1 ports p2 set action=forward outport=p3
e0=$(inechos cc)
out=$(cub e1 debug pktout port="$P2" dir=ingress n=10 dst=198.18.0.3 dmac="$MACC" -o json)
grep -q '"sent": 10' <<<"$out" || fail "pktout into p2: $out"
if [ "$HOOK" = TC ]; then
	# A TC run's redirect made past a cube peer is not followed
	# (pktout.c): nothing reaches cc, nothing goes out of e1's own ports.
	sleep 1
	[ "$(inechos cc)" = "$e0" ] || fail "TC: a redirect past a cube peer was followed"
	cub_log "TC: into p2 then on through e2: not followed, as documented"
else
	e1=$(wait_echos cc $((e0 + 10)))
	[ $((e1 - e0)) = 10 ] || fail "cc received $((e1 - e0)) injected on p2 through e2, expected 10"
	cub_log "XDP: into p2, on through e2: cc received exactly 10"
fi
cub_ok e1 ports p2 set action=drop

# 5. A flood of 100,000: bounded, counted, the broker responsive.
N=100000
start=$(date +%s%N)
cub --timeout 170000 e1 debug pktout port="$P2" n=$N dst=198.18.0.2 dmac="$MACB" \
	-o json >"$T/flood.out" 2>&1 &
fpid=$!
rounds=0
while kill -0 "$fpid" 2>/dev/null; do
	timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" show cubes \
		</dev/null >/dev/null || fail "show cubes did not answer within 5 s during the flood"
	rounds=$((rounds + 1))
	sleep 0.2
done
wait "$fpid" || fail "flood: $(cat "$T/flood.out")"
ms=$((($(date +%s%N) - start) / 1000000))
sent=$(grep -oE '"sent": [0-9]+' "$T/flood.out" | grep -oE '[0-9]+$')
dropped=$(grep -oE '"dropped": [0-9]+' "$T/flood.out" | grep -oE '[0-9]+$')
[ $((sent + dropped)) = $N ] || fail "flood: sent $sent + dropped $dropped != $N"
# At most the burst plus the rate over the flood's time (+1 s of slack).
max=$((64 + (ms / 1000 + 1) * 1000))
[ "$sent" -le "$max" ] || fail "flood: $sent sent in $ms ms, over the bucket's $max"
[ "$sent" -ge 64 ] || fail "flood: only $sent sent, less than the burst"
svc=$(cub services -o json | awk '/"name"/ { n = $2 }
	/"pktout_dropped"/ { if (n ~ /"evil"/) { gsub(/,/, "", $2); print $2 } }')
[ "$svc" -ge "$dropped" ] || fail "services shows pktout_dropped $svc, the flood dropped $dropped"
cub_log "flood of $N in $ms ms: $sent sent, $dropped dropped (services: $svc); $rounds show cubes answered"
cub_ok e1 del
