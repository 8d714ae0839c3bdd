#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Polycube's dynmon tools as cubicle verbs (sdk/cli/tools.c):
#   cubicle dynmon inject CUBE TARGET FILE [type=...]   create or update,
#       attach or re-attach, set the dataplane-config, in one command;
#       bad input (a file that does not parse, a wrong shape, code that
#       does not compile, a netdev that does not exist, a cube of another
#       service or type) changes nothing: no cube created, nothing
#       attached, the old program running;
#   cubicle dynmon extract CUBE [ingress|egress|all] [NAME] [--save FILE]
#       the metrics as JSON, to stdout or a file (a failed read leaves the
#       file as it was);
#   cubicle mon1 set dataplane-config --file F   (Polycube's spelling);
# and pcn_log end to end: NTP-style code's "%I:%P\t-> %I:%P" lines are in
# `cubicle mon1 log show` (and the broker's log) at DEBUG and TRACE, not
# at INFO.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need bpftool python3

CLI="$CUB_BUILD/sdk/cubicle"
CUB_BROKER_ARGS="$DM_ARGS"
broker_start
host_peer ns1 veth1 198.18.0.2 198.18.0.1
host_peer ns2 veth2 198.18.1.2 198.18.1.1

# counter CUBE MAP: the sum of the map's values (every entry, every CPU).
counter() {
	bpftool map dump pinned "$T/pins/$1/$2" -j | python3 -c '
import json, sys
def s(v):
    if isinstance(v, list): return sum(s(x) for x in v)
    if isinstance(v, dict): return sum(s(x) for x in v.values())
    return int(v)
t = 0
for e in json.load(sys.stdin):
    if "formatted" in e: e = e["formatted"]
    t += s(e.get("value", e.get("values")))
print(t)'
}
pings() { # NS ADDR N: N pings, all answered?
	ip netns exec "$1" ping -c "$3" -i 0.05 -W 1 "$2" >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out"
}
# attached CUBE: where `show topology` says CUBE is attached ("" if not,
# "missing" if there is no such cube).
attached() {
	cub show topology -o json | python3 -c '
import json, sys
c = [c for c in json.load(sys.stdin)["cubes"] if c["name"] == sys.argv[1]]
print(c[0].get("attached", "") if c else "missing")' "$1"
}
# refused CODE WHAT ARGS...: the CLI fails with exit CODE and its message
# matches the extended regex WHAT.
refused() {
	local code=$1 what=$2 err
	shift 2
	err=$(cub_refused "$code" "$@")
	grep -qE -- "$what" <<<"$err" || fail "cubicle $*: '$err' does not say '$what'"
	cub_log "refused as it should: $(head -1 <<<"$err")"
}
# canon: JSON without the empty containers and lists the tree fills in.
canon() { dm_canon; }
dpshow() { cub "$1" dataplane-config show -o json | canon; }
conf() { dm_conf "$@"; }
# nothing_made: no cube mon1, nothing attached to veth1 or veth2.
nothing_made() {
	[ "$(attached mon1)" = missing ] || fail "$1: mon1 exists: $(cub show topology)"
	cub show topology -o json | python3 -c '
import json, sys
assert not json.load(sys.stdin)["netdevs"], "an attach point"' ||
		fail "$1: something is attached: $(cub show topology)"
}

# ---- bad input: nothing created, nothing attached ----
printf '{"ingress-path": {"code": "x"' >"$T/trunc.json"
refused 1 "trunc.json: JSON: " dynmon inject mon1 veth1 "$T/trunc.json"
nothing_made "a truncated file"
echo '{"ingress": {"code": "return RX_OK;"}}' >"$T/shape.json"
refused 1 'not "ingress"' dynmon inject mon1 veth1 "$T/shape.json"
nothing_made "a wrong key"
refused 1 "no-such.json: No such file" dynmon inject mon1 veth1 "$T/no-such.json"
refused 1 "type 'XDP'" dynmon inject mon1 veth1 "$EX/packet_counter.json" type=XDP
refused 2 "no netdev 'veth9'" dynmon inject mon1 veth9 "$EX/packet_counter.json"
nothing_made "a missing netdev"
cat >"$T/broken.c" <<'EOF'
BPF_ARRAY(PKT_COUNTER, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	u64 *v = PKT_COUNTER.lookup(&k);
	return RX_OK;
}
EOF
conf "$T/broken.json" "$T/broken.c" PKT_COUNTER
refused 2 "ingress: line 4:[0-9]+: error: use of undeclared identifier 'k'" \
	dynmon inject mon1 veth1 "$T/broken.json"
nothing_made "code that does not compile"
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1
refused 2 "cube 'sf1' is a simpleforwarder cube, not dynmon" \
	dynmon inject sf1 veth1 "$EX/packet_counter.json"
refused 2 "target 'sf1:p9': cube 'sf1' has no port 'p9'" \
	dynmon inject mon1 sf1:p9 "$EX/packet_counter.json"
nothing_made "a missing port"

# An attach the broker refuses after the add (lo has no native XDP):
# the new cube is deleted again.
refused 2 "cube 'mon3' deleted again" \
	dynmon inject mon3 lo "$EX/packet_counter.json" type=XDP_DRV
[ "$(attached mon3)" = missing ] || fail "mon3 left behind: $(cub show topology)"

# ---- inject: created, attached, counting ----
t0=$(date +%s%N)
out=$(cub_ok dynmon inject mon1 veth1 "$EX/packet_counter.json")
t1=$(date +%s%N)
cub_log "inject of a new cube (add with compile and load, attach): $(((t1 - t0) / 1000000)) ms"
grep -qx "mon1: created, dataplane-config set" <<<"$out" &&
	grep -qx "mon1: attached to veth1" <<<"$out" || fail "inject said: $out"
[ "$(attached mon1)" = veth1 ] || fail "mon1 attached to '$(attached mon1)'"
[ "$(dpshow mon1)" = "$(canon <"$EX/packet_counter.json")" ] ||
	fail "the injected dataplane-config: $(dpshow mon1)"
pings ns1 198.18.0.1 10 || fail "ping through the injected counter"
[ "$(counter mon1 i_PKT_COUNTER)" -ge 10 ] ||
	fail "the injected counter: $(counter mon1 i_PKT_COUNTER) of 10"
cub_log "inject: created, attached to veth1, counting"

# Again, the same target: only the dataplane-config (a new object).
cat >"$T/count2.c" <<'EOF'
BPF_ARRAY(PKTS2, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	PKTS2.atomic_increment(0);
	return RX_OK;
}
EOF
conf "$T/count2.json" "$T/count2.c" PKTS2
out=$(cub_ok dynmon inject mon1 veth1 "$T/count2.json")
grep -qx "mon1: already attached to veth1" <<<"$out" || fail "inject said: $out"
pings ns1 198.18.0.1 5 || fail "ping through the second program"
[ "$(counter mon1 i_PKTS2)" -ge 5 ] || fail "PKTS2: $(counter mon1 i_PKTS2) of 5"

# Refused on an existing cube: the old program keeps running, attached.
refused 2 "error: use of undeclared identifier 'k'" \
	dynmon inject mon1 veth2 "$T/broken.json"
[ "$(attached mon1)" = veth1 ] || fail "a refused inject moved mon1 to '$(attached mon1)'"
[ "$(dpshow mon1)" = "$(canon <"$T/count2.json")" ] || fail "a refused inject changed the config"
c0=$(counter mon1 i_PKTS2)
pings ns1 198.18.0.1 5 || fail "ping after a refused inject"
[ $(($(counter mon1 i_PKTS2) - c0)) -ge 5 ] || fail "the old program stopped counting"
refused 2 "cube 'mon1' is of type TC, not XDP_DRV" \
	dynmon inject mon1 veth2 "$EX/packet_counter.json" type=XDP_DRV
[ "$(attached mon1)" = veth1 ] || fail "a refused type moved mon1"

# Another target: detached from veth1, attached to veth2.
t0=$(date +%s%N)
out=$(cub_ok dynmon inject mon1 veth2 "$EX/packet_counter.json" type=tc)
t1=$(date +%s%N)
cub_log "inject onto another target (set, detach, attach): $(((t1 - t0) / 1000000)) ms"
grep -qx "mon1: detached from veth1" <<<"$out" &&
	grep -qx "mon1: attached to veth2" <<<"$out" || fail "re-attach said: $out"
[ "$(attached mon1)" = veth2 ] || fail "mon1 attached to '$(attached mon1)', not veth2"
c0=$(counter mon1 i_PKT_COUNTER)
pings ns2 198.18.1.1 5 || fail "ping through veth2"
[ $(($(counter mon1 i_PKT_COUNTER) - c0)) -ge 5 ] || fail "no count on veth2"
# A port of another cube as the target, a new cube, from stdin.
"$CLI" --socket-dir "$T/s" dynmon inject mon2 sf1:p1 - <"$EX/packet_counter.json" >"$T/out" ||
	fail "inject from stdin to sf1:p1: $(cat "$T/out")"
[ "$(attached mon2)" = sf1:p1 ] || fail "mon2 attached to '$(attached mon2)'"
cub_log "inject: re-attached to veth2; mon2 from stdin on sf1:p1"

# ---- Polycube's spelling: set first, then the container ----
cub_ok mon1 set dataplane-config --file "$T/count2.json"
[ "$(dpshow mon1)" = "$(canon <"$T/count2.json")" ] ||
	fail "mon1 set dataplane-config --file: $(dpshow mon1)"
"$CLI" --socket-dir "$T/s" mon1 set dataplane-config <"$EX/packet_counter.json" ||
	fail "mon1 set dataplane-config from stdin"
[ "$(dpshow mon1)" = "$(canon <"$EX/packet_counter.json")" ] ||
	fail "mon1 set dataplane-config (stdin): $(dpshow mon1)"
cub_log "mon1 set dataplane-config: --file and stdin"

# ---- pcn_log end to end: NTP-style %I:%P lines at DEBUG, not at INFO ----
cat >"$T/ntp.c" <<'EOF'
BPF_ARRAY(NTP_PACKETS, u64, 1);
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = data + sizeof(*eth) + sizeof(*ip);

	if ((void *)(udp + 1) > data_end || eth->h_proto != htons(ETH_P_IP) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return RX_OK;
	if (udp->dest != htons(123) && udp->source != htons(123))
		return RX_OK;
	pcn_log(ctx, LOG_DEBUG, "%I:%P\t-> %I:%P", ip->saddr, udp->source, ip->daddr, udp->dest);
	NTP_PACKETS.atomic_increment(0);
	return RX_OK;
}
EOF
conf "$T/ntp.json" "$T/ntp.c" NTP_PACKETS
cub_ok dynmon inject mon1 veth2 "$T/ntp.json" >/dev/null
# ntp N: N datagrams 198.18.1.2:40123 -> 198.18.1.1:123 from ns2.
ntp() {
	ip netns exec ns2 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.1.2", 40123))
for i in range(int(sys.argv[1])):
    s.sendto(b"\x1b" + b"\0" * 47, ("198.18.1.1", 123))' "$1"
}
want='ingress:15: 198.18.1.2:40123\t-> 198.18.1.1:123'
nlines() { cub mon1 log show -o json | python3 -c '
import json, sys
print(sum(l["message"] == sys.argv[1] and l["source"] == "bpf" and l["level"] == "DEBUG"
          for l in json.load(sys.stdin)["lines"]))' "$want"; }
wait_nlines() {
	local i
	for i in $(seq 1 100); do
		[ "$(nlines)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "fewer than $1 lines '$want': $(cub mon1 log show | tail -5)"
}
ntp 3
for _ in $(seq 1 50); do
	[ "$(counter mon1 i_NTP_PACKETS)" -ge 3 ] && break
	sleep 0.1
done
[ "$(counter mon1 i_NTP_PACKETS)" -ge 3 ] || fail "NTP counter: $(counter mon1 i_NTP_PACKETS) of 3"
sleep 0.5
[ "$(nlines)" = 0 ] || fail "DEBUG lines kept at INFO: $(cub mon1 log show | tail -3)"
cub_ok mon1 set loglevel=DEBUG
ntp 3
wait_nlines 3
grep -qF "cube 'mon1' DEBUG (bpf): $want" "$T/broker.log" ||
	fail "no pcn_log line in the broker's log"
cub_ok mon1 set loglevel=TRACE
ntp 2
wait_nlines 5
cub_ok mon1 set loglevel=INFO
ntp 3
for _ in $(seq 1 50); do
	[ "$(counter mon1 i_NTP_PACKETS)" -ge 11 ] && break
	sleep 0.1
done
sleep 0.5
[ "$(nlines)" = 5 ] || fail "$(nlines) lines after INFO again, not 5"
cub_log "pcn_log: '$want' 5 times at DEBUG and TRACE, none at INFO"

# ---- extract: all, one path, one metric, --save ----
cub_ok dynmon inject mon1 veth2 "$EX/packet_counter.json" >/dev/null
pings ns2 198.18.1.1 5 || fail "ping before extract"
cub dynmon extract mon1 >"$T/all.json" || fail "extract all: $(cat "$T/all.json")"
python3 - "$T/all.json" <<'EOF' || fail "extract all: $(cat "$T/all.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"ingress-metrics", "egress-metrics"}, d
m = [x for x in d["ingress-metrics"] if x["name"] == "packets_total"]
assert len(m) == 1 and m[0]["value"][0] >= 5 and m[0]["timestamp"] > 0, d
assert d["egress-metrics"] == [], d
EOF
cub dynmon extract mon1 ingress >"$T/in.json" || fail "extract ingress"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and [x["name"] for x in d] == ["packets_total"], d' "$T/in.json" ||
	fail "extract ingress: $(cat "$T/in.json")"
out=$(cub dynmon extract mon1 ingress packets_total --save "$T/one.json") ||
	fail "extract --save: $out"
[ -z "$out" ] || fail "extract --save wrote to stdout: $out"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "packets_total" and isinstance(d["value"], list), d' "$T/one.json" ||
	fail "extract --save: $(cat "$T/one.json")"
echo keep >"$T/keep.json"
refused 2 "no-such" dynmon extract mon1 ingress no-such --save "$T/keep.json"
[ "$(cat "$T/keep.json")" = keep ] || fail "a failed extract changed the --save file"
refused 2 "nothing written" dynmon extract mon1 --save "$T/no/dir/m.json"
refused 1 "needs its path" dynmon extract mon1 all packets_total
cub_log "extract: all, ingress, one metric, --save: $(tr -d ' \n' <"$T/one.json" | head -c 120)"
