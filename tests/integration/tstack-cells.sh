#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6: a transparent stack is cells and links (cube_shared.h,
# broker/tcube.c tp_link()).  A cube keeps its cell while it stays in
# the stack: a detach rewrites the one link before it, and its cell is
# emptied once no packet can be in it (a grace period; tcube_tick()); an
# attach takes a free cell and writes two links.  A broker restart adopts
# the pinned stack with its cells and links unchanged (nothing a packet
# follows is rewritten), and a deleted cube's program is not kept alive
# by a cell.  review15-tstack-detach shows what this buys a packet in
# flight.  $1: the cubes' type, TC (both directions) or XDP_DRV (the
# XDP dispatcher: ingress only).
. "$(dirname "$0")/../lib/netns.sh"
TYPE=${1:?TC or XDP_DRV}
need bpftool python3

PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start
P=$T/pins/_tstack/veth1

# dump MAP: "key=value" lines of a pinned array of u32 (a PROG_ARRAY's
# values are program ids), sorted by key.
dump() {
	bpftool -j map dump pinned "$P/$1" | python3 -c '
import json, sys
u32 = lambda b: int.from_bytes(bytes(int(x, 16) for x in b[:4]), "little")
for e in sorted(json.load(sys.stdin), key=lambda e: u32(e["key"])):
    v = e.get("value")
    if v is not None and u32(v):
        print("%d=%d" % (u32(e["key"]), u32(v)))'
}
# The program id of cube X (its pinned program).
pid_of() { bpftool -j prog show pinned "$T/pins/$1/prog" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
# wait_progs WANT: (polled, 5 s) the cells hold exactly WANT.
wait_progs() {
	local _
	for _ in $(seq 1 50); do
		[ "$(dump progs | tr '\n' ' ')" = "$1" ] && return 0
		sleep 0.1
	done
	fail "cells: '$(dump progs | tr '\n' ' ')', expected '$1'"
}
END=255 E=16 H=32 # CUB_TSTACK_LINK_END, CUB_TSTACK_MAX, CUB_TSTACK_HEAD

for c in t1 t2 t3 t4; do cub_ok transparenthelloworld add $c type=$TYPE; done
# egress LINKS...: the egress links, on TC only.
egress() { [ "$TYPE" != TC ] || echo "$*"; }
for c in t1 t2 t3; do cub_ok attach $c veth1; done
pings || fail "no ping through t1 t2 t3"
i1=$(pid_of t1) i2=$(pid_of t2) i3=$(pid_of t3) i4=$(pid_of t4)
wait_progs "0=$i1 1=$i2 2=$i3 "
# Ingress t1 (cell 0) -> t2 (1) -> t3 (2); egress the reverse.
want="0=2 1=3 2=$END $(egress $((E + 0))=$END $((E + 1))=1 $((E + 2))=2 "")$H=1 $(egress $((H + 1))=3 "")"
[ "$(dump links | tr '\n' ' ')" = "$want" ] ||
	fail "links of t1 t2 t3: '$(dump links | tr '\n' ' ')', expected '$want'"

# Detach t1: t2 and t3 keep their cells; t1's is emptied later.
cub_ok detach t1 veth1
want="1=3 2=$END $(egress $((E + 1))=$END $((E + 2))=2 "")$H=2 $(egress $((H + 1))=3 "")"
wait_progs "1=$i2 2=$i3 "
[ "$(dump links | tr '\n' ' ')" = "$want" ] ||
	fail "links after detaching t1: '$(dump links | tr '\n' ' ')', expected '$want'"
pings || fail "no ping through t2 t3"

# Attach t4 first: it takes the free cell 0; the others stay.
cub_ok attach t4 veth1 position=first
wait_progs "0=$i4 1=$i2 2=$i3 "
want="0=2 1=3 2=$END $(egress $((E + 0))=$END $((E + 1))=1 $((E + 2))=2 "")$H=1 $(egress $((H + 1))=3 "")"
[ "$(dump links | tr '\n' ' ')" = "$want" ] ||
	fail "links after attaching t4: '$(dump links | tr '\n' ' ')', expected '$want'"
cub topology show veth1 | grep -q "ingress service chain: t4 ---> t2 ---> t3" ||
	fail "chain: $(cub topology show veth1)"

# Detach t2 (the middle), then a broker kill -9 and a new broker: the
# pinned cells and links are adopted as they are.
cub_ok detach t2 veth1
wait_progs "0=$i4 2=$i3 "
links_before=$(dump links)
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
pings || fail "no ping with the broker down"
broker_start
for _ in $(seq 1 50); do
	cub topology show veth1 | grep -q "ingress service chain: t4 ---> t3" && break
	sleep 0.1
done
cub topology show veth1 | grep -q "ingress service chain: t4 ---> t3" ||
	fail "chain after the restart: $(cub topology show veth1)"
[ "$(dump links)" = "$links_before" ] ||
	fail "the restart rewrote the links: '$(dump links | tr '\n' ' ')', were '$(echo $links_before)'"
wait_progs "0=$i4 2=$i3 "
pings || fail "no ping after the restart"

# A deleted cube's program is not kept by its cell.
cub_ok t4 del
wait_progs "2=$i3 "
for _ in $(seq 1 50); do
	bpftool prog show id "$i4" >/dev/null 2>&1 || break
	sleep 0.1
done
bpftool prog show id "$i4" >/dev/null 2>&1 && fail "t4's program (id $i4) outlives t4"
pings || fail "no ping through t3"
cub_log "cells kept across detaches, attaches and a restart; emptied cells let programs go"
