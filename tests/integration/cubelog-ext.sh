#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Extended log records (struct cub_log_xrec, cube_log.bpf.h cub_logx_at())
# through the broker: a real UDP packet's addresses, ports and MACs come
# out of %I %P %M as the packet holds them, after the record's tag and
# line, in `log show` and in the broker's log; at WARN the program writes
# no INFO record.  Hostile extended records: nargs lies (8 at most are
# read), a format and a tag without their NUL are cut at 128 and 12
# bytes, %s %n %p are shown as written, conversions past the arguments as
# '?', control characters and bytes that are not UTF-8 escaped; records
# of neither kind's length and of level 99 are counted as bad.
# $1: the hook, TC (default) or XDP_DRV.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}

need python3
PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
netns_hosts "$HOOK" ca:vetha:198.18.0.1
ip -n ca link set eth0 address 02:00:00:00:00:0a
ip -n ca neigh add 198.18.0.2 lladdr 02:00:00:00:00:0b dev eth0
broker_start

# field CUBE FIELD: a counter of the cube's log.
field() {
	cub "$1" log show -o json | python3 -c '
import json, sys
print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# udp N: N datagrams 198.18.0.1:40000 -> 198.18.0.2:4242 from ca.
udp() {
	ip netns exec ca python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 40000))
for i in range(int(sys.argv[1])):
    s.sendto(b"x" * 8, ("198.18.0.2", 4242))' "$1"
}

# wait_lines CUBE PREFIX N: until the cube's log holds N lines starting
# with PREFIX (20 s).
wait_lines() {
	local i
	for i in $(seq 1 200); do
		[ "$(cub "$1" log show -o json | python3 -c '
import json, sys
print(sum(l["message"].startswith(sys.argv[1]) for l in json.load(sys.stdin)["lines"]))' "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	fail "$1: fewer than $3 lines '$2': $(cub "$1" log show | tail -5)"
}

cub_ok evil add e1 type="$HOOK"
cub_ok e1 ports add p1 peer=vetha
cub_ok e1 debug bpfobj object=logx
udp 3
wait_lines e1 "honest:42: " 3

# The hostile format, as the object holds it (its first 128 bytes).
cub e1 log show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
fmt = (b"%s%n%p|%I|%P|%M|%c|%hhd|%x|%u|%d|%I|\x01\xff|tail-no-nul-"
       + b"a" * 60 + b"a" * 49 + b"NOT-SHOWN")[:128]
assert b"NOT-SHOWN" not in fmt and fmt.endswith(b"a"), fmt
tail = fmt[fmt.index(b"|\x01"):].decode("latin-1")
tail = tail.replace("\x01", r"\x01").replace("\xff", r"\xff")
want = {
    "honest": "honest:42: 198.18.0.1:40000 -> 198.18.0.2:4242 "
              "02:00:00:00:00:0a > 02:00:00:00:00:0b ttl 64 u",
    "hostile": r"\x1b[2Jtag56789:7: %s%n%p|198.18.0.2|10768|"
               r"11:22:33:44:55:66|Z|-1|beefcafe|4294967295|7|?" + tail,
    "past": "198.18.0.1|?|?|?|?",
}
seen = {k: 0 for k in want}
for l in d["lines"]:
    if l["source"] != "bpf":
        continue
    m = l["message"]
    k = ("honest" if m.startswith("honest") else
         "hostile" if m.startswith("\\x1b") else
         "past" if m.startswith("198.") else None)
    assert k, "unexpected line %r" % m
    assert m == want[k], "%s: %r != %r" % (k, m, want[k])
    assert l["level"] == ("CRITICAL" if k == "hostile" else "INFO"), l
    seen[k] += 1
assert seen["honest"] == 3, seen
assert seen["hostile"] >= 3 and seen["past"] == seen["hostile"], seen
# Per packet: one of level 99 and three of a bad length.
assert d["bad"] >= 4 * seen["hostile"], d["bad"]
print("lines", seen, "bad", d["bad"])
' >"$T/out" || fail "e1's log: $(cat "$T/out") $(cub e1 log show | tail -8)"
cub_log "$(cat "$T/out")"

# The text form, and the broker's own log (the cube's level decides).
want='honest:42: 198.18.0.1:40000 -> 198.18.0.2:4242 02:00:00:00:00:0a > 02:00:00:00:00:0b ttl 64 u'
grep -qF "$want" <<<"$(cub e1 log show)" || fail "text form: $(cub e1 log show | tail -3)"
n=$(grep -cF "cube 'e1' INFO (bpf): $want" "$T/broker.log" || true)
[ "$n" = 3 ] || fail "the broker's log has $n honest lines, not 3"
grep -qF "cube 'e1' CRITICAL (bpf): \\x1b[2Jtag56789:7: %s%n%p|198.18.0.2|" \
	"$T/broker.log" || fail "no hostile line in the broker's log"

# At WARN the program keeps its INFO records to itself (cub_config): no
# honest line, and the hostile INFO record is filtered by the broker;
# CRITICAL ones go on.  (A new cube: evil applies no change over this
# object.)
cub_ok e1 del
cub_ok evil add e2 type="$HOOK" loglevel=WARN
cub_ok e2 ports add p1 peer=vetha
cub_ok e2 debug bpfobj object=logx
udp 3
wait_lines e2 '\x1b[2J' 3
sleep 1 # the ring drained: a packet's records come in one pass
cub e2 log show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
crit = sum(l["message"].startswith("\\x1b") for l in d["lines"])
# Per packet one INFO record the broker filters (the hostile one, written
# whatever the level); an honest one written would be filtered too.
assert d["filtered"] == crit and crit >= 3, (d["filtered"], crit)
assert all(l["level"] == "CRITICAL" for l in d["lines"] if l["source"] == "bpf"), d
' || fail "e2 at WARN: $(cub e2 log show | head -12)"
! cub e2 log show | grep -qF "honest:" || fail "honest lines kept at WARN"
! grep -qF "cube 'e2' INFO (bpf)" "$T/broker.log" ||
	fail "the broker's log has INFO lines of e2"
cub_log "at WARN: no honest record written; $(field e2 filtered) filtered"
cub services -o json | grep '"status": "running"' >/dev/null || fail "the evil worker is not running"
cub_ok e2 del
