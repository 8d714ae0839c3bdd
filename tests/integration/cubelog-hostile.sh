#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A hostile cube program and its log: a cub_log_ring larger than the
# framework's is refused; records that ignore the loglevel are filtered by
# the broker; a format is never given to printf (%s %n %p are shown as
# written), arguments it does not have are shown as '?', control
# characters and bytes that are not UTF-8 are escaped, a format without
# its NUL is cut at 48 bytes; records of a bad level or size are counted.
. "$(dirname "$0")/../lib/netns.sh"

need python3
PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
broker_start

# field CUBE FIELD: a counter of the cube's log.
field() {
	cub "$1" log show -o json | python3 -c '
import json, sys
print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# wait_bad CUBE N: until the broker counted N bad records (20 s).
wait_bad() {
	local i
	for i in $(seq 1 200); do
		[ "$(field "$1" bad)" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1: $(field "$1" bad) bad records counted, expected $2"
}

# 1. The ring's size is the framework's.
cub_ok evil add e0
err=$(cub_refused 2 e0 debug bpfobj object=logring)
grep -q "framework map 'cub_log_ring' missing or not as declared" <<<"$err" ||
	fail "a 1 MiB cub_log_ring: $err"
cub_log "refused: $err"
cub_ok e0 del

# 2. At OFF nothing a program writes is kept, whatever its level.
cub_ok evil add e1 loglevel=OFF
cub_ok e1 ports add p1 peer=vetha
cub_ok e1 debug bpfobj object=logfmt
ip netns exec ca ping -c 3 -i 0.1 -W 1 198.18.0.2 >/dev/null 2>&1 || true
wait_bad e1 2
for i in $(seq 1 100); do
	[ "$(field e1 filtered)" -ge 1 ] && break
	sleep 0.1
done
[ "$(field e1 filtered)" -ge 1 ] || fail "e1: no CRITICAL record filtered: $(cub e1 log show)"
[ "$(field e1 held)" = 0 ] || fail "e1 at OFF kept: $(cub e1 log show)"

# 3. At INFO the CRITICAL record is kept, formatted by the broker.
cub_ok evil add e2
cub_ok e2 ports add p1 peer=vethb
cub_ok e2 debug bpfobj object=logfmt
n=$(field e2 held)
ip netns exec cb ping -c 3 -i 0.1 -W 1 198.18.0.1 >/dev/null 2>&1 || true
wait_bad e2 2
for i in $(seq 1 100); do
	[ "$(field e2 held)" -gt "$n" ] && break
	sleep 0.1
done
cub e2 log show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
want = r"%s%n%p|42|-1|7|?|\x01\x1b[31m|\xff\xfe|?|tail-no-nul-aa"
bpf = [l for l in d["lines"] if l["source"] == "bpf"]
assert bpf, "no program line: %r" % d
for l in bpf:
    assert l["level"] == "CRITICAL", l
    assert l["message"] == want, "%r != %r" % (l["message"], want)
assert d["bad"] >= 2 * len(bpf), d
print(len(bpf), "lines as", want, "and", d["bad"], "bad records")
' >"$T/out" || fail "e2's log: $(cat "$T/out") $(cub e2 log show -o json | head -40)"
cub_log "$(cat "$T/out")"
grep -qF '%s%n%p|42|-1|7|?|\x01\x1b[31m' <<<"$(cub e2 log show)" ||
	fail "text form: $(cub e2 log show)"

# 4. A worker's lines: escaped, at most 1000 kept, the rest over the
# service's rate (1000, then 500 a second) counted as suppressed.
cub_ok evil add e3
out=$(cub_ok e3 debug bpfobj object=logworker n=4000)
grep -qE "failed +0$" <<<"$out" || fail "logworker: $(od -c <<<"$out" | head -5)"
cub e3 log show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
w = [l for l in d["lines"] if l["message"].startswith("line ")]
assert d["held"] <= 1000 and d["held"] == len(d["lines"]), d["held"]
assert d["suppressed"] > 0, "nothing suppressed: %r" % {k: d[k] for k in d if k != "lines"}
assert d["held"] + d["dropped"] + d["suppressed"] >= 4000, d
for l in w:
    assert l["level"] == "CRITICAL" and l["source"] == "worker", l
    assert l["message"].endswith(r" \x01\x1b[2J\xff end"), l["message"]
print("held", d["held"], "dropped", d["dropped"], "suppressed", d["suppressed"])
' >"$T/out" || fail "e3's log: $(cat "$T/out")"
cub_log "4000 worker lines: $(cat "$T/out")"
cub services -o json | grep -q '"status": "running"' || fail "the evil worker is not running"
cub_ok e1 del
cub_ok e2 del
cub_ok e3 del
