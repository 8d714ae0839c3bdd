#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# ddosmitigator at 1M entries through the normal path: blacklist-src
# gets 1,000,000 addresses by `cubicle d1 set --file` bodies of 50,000
# entries each (a body of 1M is over the wire's element cap), the times
# and the store's size are logged.  A sample of listed addresses is
# dropped and of unlisted ones passed by the loaded program
# (BPF_PROG_TEST_RUN, bpftool prog run: 2 = TC_ACT_SHOT), with the hash
# holding 1M keys; real pings: the replies of 198.18.0.1 (listed) are
# dropped, those of 198.18.0.3 (ca's second address, unlisted) pass.
# A prefix entry (100.128.0.0/16) among them keeps its counter slot.
# All of it again after a worker kill -9 (the replay reconciles: the
# entry's drop-pkts survives) and after a broker restart (the store).
# The bulk entries are in 100.64.0.0/10: they are list data only, never
# an interface's address (198.18.0.0/15 has 131,072 addresses, not 1M).
. "$(dirname "$0")/../lib/netns.sh"

need bpftool python3
N=1000000
CHUNK=50000
PLUGINS+=("$CUB_BUILD/plugins/ddosmitigator/ddosmitigator.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
ip -n ca addr add 198.18.0.3/24 dev eth0
mac_ns=$(ip -n ca -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
ip neigh replace 198.18.0.3 lladdr "$mac_ns" dev veth1 nud permanent
broker_start

# The bodies: 198.18.0.1 and N - 1 addresses of 100.64.0.0/10 (every
# 4th: the ones between are the unlisted sample); the samples.
python3 - "$T" "$N" "$CHUNK" <<'PY'
import json, random, sys
t, n, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = 100 << 24 | 64 << 16
def a(x):
    return "%d.%d.%d.%d" % (x >> 24, x >> 16 & 255, x >> 8 & 255, x & 255)
ips = ["198.18.0.1"] + [a(base + 4 * i) for i in range(n - 1)]
for k in range(0, n, chunk):
    json.dump({"blacklist-src": [{"ip": s} for s in ips[k:k + chunk]]},
              open("%s/chunk%03d.json" % (t, k // chunk), "w"))
random.seed(10)
listed = [base + 4 * random.randrange(n - 1) for _ in range(100)]
unlisted = [base + 4 * random.randrange(n - 1) + 1 + random.randrange(3)
            for _ in range(100)] + [base + 4 * (n + 5)]
listed.append(100 << 24 | 128 << 16 | 5 << 8 | 5)  # in 100.128.0.0/16
def pkt(src):
    ip = (bytes([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]) +
          src.to_bytes(4, "big") + bytes([198, 18, 0, 2]))
    return (b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip +
            b"\0\x35\0\x35\0\x08\0\0")
for name, addrs in (("listed", listed), ("unlisted", unlisted)):
    for i, x in enumerate(addrs):
        open("%s/%s%03d.pkt" % (t, name, i), "wb").write(pkt(x))
open(t + "/sample1", "w").write(a(listed[0]))
PY

cub_ok ddosmitigator add d1
cub_ok attach d1 veth1
start=$(date +%s.%N)
for f in "$T"/chunk*.json; do
	cub_ok d1 set --file "$f"
done
end=$(date +%s.%N)
# and a prefix: its counter slot must survive the replays too
cub_ok d1 blacklist-src add 100.128.0.0/16
store=$(du -sb "$T/st" | cut -f1)
cub_log "$N entries in $(ls "$T"/chunk*.json | wc -l) sets of $CHUNK:" \
	"$(python3 -c "print('%.1f s' % ($end - $start))"), store $store bytes"
id=$(cub show topology -o json | grep -oE '"prog_id": [0-9]+' | head -1 | grep -oE '[0-9]+')
[ -n "$id" ] || fail "no program for d1: $(cub show topology)"
mem=$(bpftool map show | awk '/ name ddos_/ { getline; for (i = 1; i <= NF; i++) if ($i == "memlock") { sub("B", "", $(i + 1)); s += $(i + 1) } } END { print s }')
cub_log "d1's maps: $mem bytes of memlock (bpftool)"

# keys MAP: the number of keys of the map named MAP (bpftool dump).
keys() {
	bpftool map dump name "$1" | grep -c '^key:\|"key":' || true
}

# check WHEN: the sample through the program, the hash's size, pings.
# Listed packets: TC_ACT_SHOT (2) and one count each in stats pkts;
# unlisted ones: no count (what a pass returns under BPF_PROG_TEST_RUN
# is the broker's stack program's business: the tail call it makes).
check() {
	local f rv bad=0 n c0 c1
	c0=$(cub d1 stats show pkts)
	for f in "$T"/listed*.pkt; do
		rv=$(bpftool prog run id "$id" data_in "$f" repeat 1 | grep -oE 'Return value: [0-9]+')
		[ "$rv" = "Return value: 2" ] || { bad=$((bad + 1)); cub_log "$1: $(basename "$f"): $rv"; }
	done
	c1=$(cub d1 stats show pkts)
	[ "$bad" = 0 ] || fail "$1: $bad of the 101 listed packets passed"
	[ $((c1 - c0)) = 101 ] || fail "$1: 101 listed packets counted $((c1 - c0)) drops"
	for f in "$T"/unlisted*.pkt; do
		bpftool prog run id "$id" data_in "$f" repeat 1 >/dev/null
	done
	c0=$(cub d1 stats show pkts)
	[ "$c0" = "$c1" ] || fail "$1: 101 unlisted packets counted $((c0 - c1)) drops"
	n=$(keys ddos_src_addrs)
	[ "$n" = "$N" ] || fail "$1: ddos_src_addrs holds $n keys, not $N"
	ping -c 2 -i 0.05 -W 1 198.18.0.1 >/dev/null 2>&1 && fail "$1: ping to 198.18.0.1 (listed) answered"
	ping -c 3 -i 0.05 -W 5 198.18.0.3 >/dev/null 2>&1 || fail "$1: ping to 198.18.0.3 (unlisted) not answered"
	cub_log "$1: 101 listed dropped, 101 unlisted passed, $n keys, pings ok"
}
check "loaded"
s1=$(cat "$T/sample1")
d0=$(cub d1 blacklist-src "$s1" show drop-pkts)
[ "$d0" -ge 1 ] || fail "the sampled entry $s1 shows drop-pkts $d0"
x0=$(cub d1 blacklist-src 100.128.0.0/16 show drop-pkts)
[ "$x0" = 1 ] || fail "100.128.0.0/16 shows drop-pkts $x0 after one sampled packet"
p0=$(cub d1 blacklist-src 198.18.0.1 show drop-pkts)
[ "$p0" -ge 2 ] || fail "198.18.0.1 shows drop-pkts $p0 after 2 dropped pings"

# One entry more and one less on the 1M list, through the normal path.
start=$(date +%s.%N)
cub_ok d1 blacklist-src add 198.18.0.200
cub_ok d1 blacklist-src del 198.18.0.200
end=$(date +%s.%N)
cub_log "one add and one del on the 1M list: $(python3 -c "print('%.0f ms' % (($end - $start) * 1000))")"

# A worker kill -9: the replay reconciles, the counters stay.
old=$(worker_pid ddosmitigator)
start=$(date +%s.%N)
kill -9 "$old"
for i in $(seq 1 1200); do
	new=$(worker_pid ddosmitigator)
	[ -n "$new" ] && [ "$new" != "$old" ] &&
		cub d1 stats show pkts >/dev/null 2>&1 &&
		cub services -o json | grep -q '"status": "running"' && break
	sleep 0.1
done
wait_log 1 "d1.*replayed|1 cube\(s\) re-synced"
end=$(date +%s.%N)
cub_log "worker kill -9: replayed in $(python3 -c "print('%.1f s' % ($end - $start))")"
check "after a worker kill -9"
d1=$(cub d1 blacklist-src "$s1" show drop-pkts)
[ "$d1" -ge $((d0 + 1)) ] || fail "drop-pkts of $s1 went from $d0 to $d1 over the replay and a sample"
x1=$(cub d1 blacklist-src 100.128.0.0/16 show drop-pkts)
[ "$x1" = 2 ] || fail "100.128.0.0/16 drop-pkts went from $x0 to $x1 over the replay and a sample, not to 2"

# A broker restart: the store brings the 1M entries back.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
start=$(date +%s.%N)
broker_start
for i in $(seq 1 1200); do
	[ "$(cub d1 blacklist-src 198.18.0.1 show drop-pkts 2>/dev/null)" != "" ] && break
	sleep 0.1
done
end=$(date +%s.%N)
cub_log "broker restart: d1 answers after $(python3 -c "print('%.1f s' % ($end - $start))")"
check "after a broker restart"
x2=$(cub d1 blacklist-src 100.128.0.0/16 show drop-pkts)
[ "$x2" = 3 ] || fail "100.128.0.0/16 drop-pkts $x2 after the broker restart and a third sample, not 3"
n=$(cub d1 blacklist-src show limit=1 -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$n" = 1 ] || fail "a page of the list after the restart: $n entries"
