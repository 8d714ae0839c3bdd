#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Other software's XDP programs and tc filters on the broker's host are left
# alone, in the hook mode given as $1 (TC, XDP_SKB or XDP_DRV):
#   XDP: a netdev that carries an XDP program Cubicle did not attach is
#   refused by every attach path (a cube created with the port in its body,
#   a port added later), naming the netdev and changing nothing; a foreign
#   program put there after Cubicle's survives the port's removal.
#   TC: removing a port deletes only Cubicle's filter; the clsact qdisc
#   stays while other filters are on it (added before or after Cubicle's,
#   ingress or egress, across a broker restart), and a foreign filter at
#   Cubicle's own handle and priority is refused, not replaced.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
FOREIGN_OBJ=$CUB_BUILD/tests/foreign.bpf.o
[ -f "$FOREIGN_OBJ" ] || fail "$FOREIGN_OBJ not built"
need bpftool
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2 cc:vethc:198.18.0.3
broker_start

# body FILE TYPE PEER...: a cube body with one port per peer.
body() {
	local f=$1 type=$2 i=0 sep=
	shift 2
	{
		printf '{"type": "%s", "ports": [' "$type"
		for peer in "$@"; do
			printf '%s{"name": "p%d", "peer": "%s", "action": "drop"}' \
				"$sep" "$i" "$peer"
			sep=", "
			i=$((i + 1))
		done
		printf ']}\n'
	} >"$f"
}

# broker_kill9: the broker dies as in a crash; its worker goes too (this
# test is about attachments, not about orphan workers: issue 6, point 4).
broker_kill9() {
	local w
	w=$(worker_pid simpleforwarder)
	kill -9 "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	[ -z "$w" ] || [ "$w" = 0 ] || kill -9 "$w" 2>/dev/null || true
}

# no_cube NAME: the cube does not exist, and left no pins behind.
no_cube() {
	! grep -q "\"name\": \"$1\"" <<<"$(cub show cubes -o json)" ||
		fail "cube '$1' exists after a refused create"
	[ ! -e "$T/pins/$1" ] || fail "cube '$1' left pins: $(ls "$T/pins/$1")"
}

if [ "$HOOK" != TC ]; then
	if [ "$HOOK" = XDP_DRV ]; then
		mode=xdpdrv other=xdpgeneric
	else
		mode=xdpgeneric other=xdpdrv
	fi
	# xdp_id DEV: the id of the XDP program on DEV, "" when none.
	xdp_id() {
		bpftool -j net show dev "$1" | grep -oE '"xdp":\[[^]]*\]' |
			grep -oE '"id":[0-9]+' | cut -d: -f2
	}
	foreign_xdp() { # DEV MODE: attach the foreign program, print its id
		ip link set dev "$1" "$2" obj "$FOREIGN_OBJ" sec xdp ||
			fail "cannot attach the foreign XDP program to $1"
		xdp_id "$1"
	}

	# 1. A cube created with the port in its body: refused, naming the
	# netdev; the foreign program stays; the clean port of the same body
	# is not left attached; the cube does not exist.
	fid=$(foreign_xdp vetha "$mode")
	[ -n "$fid" ] || fail "no foreign program on vetha"
	body "$T/b1.json" "$HOOK" vethb vetha
	err=$(cub_refused 2 simpleforwarder add sf1 --file "$T/b1.json")
	cub_log "create with a busy port in its body: $err"
	grep -q "vetha" <<<"$err" || fail "error does not name vetha: $err"
	grep -qi "xdp program" <<<"$err" || fail "error does not say why: $err"
	[ "$(xdp_id vetha)" = "$fid" ] ||
		fail "foreign XDP program $fid on vetha replaced by '$(xdp_id vetha)'"
	[ -z "$(xdp_id vethb)" ] || fail "refused create left XDP on vethb"
	no_cube sf1

	# 2. The same with the port in the arguments' document: port add.
	cub_ok simpleforwarder add sf2 type="$HOOK"
	err=$(cub_refused 2 sf2 ports add p1 peer=vetha)
	grep -q "vetha" <<<"$err" || fail "port add error does not name vetha: $err"
	[ "$(xdp_id vetha)" = "$fid" ] || fail "port add replaced the foreign program"
	[ -z "$(cub sf2 ports show -o json | grep '"name"')" ] ||
		fail "refused port add left a port"
	cub_ok sf2 del
	[ "$(xdp_id vetha)" = "$fid" ] || fail "cube delete removed the foreign program"

	# 3. A foreign program in the other XDP mode blocks the netdev too.
	ip link set dev vetha "$mode" off; ip link set dev vetha "$other" off
	oid=$(foreign_xdp vetha "$other")
	err=$(cub_refused 2 simpleforwarder add sf1 --file "$T/b1.json")
	grep -q "vetha" <<<"$err" || fail "error does not name vetha: $err"
	[ "$(xdp_id vetha)" = "$oid" ] || fail "foreign $other program replaced"
	[ -z "$(xdp_id vethb)" ] || fail "refused create left XDP on vethb"
	no_cube sf1
	ip link set dev vetha "$mode" off; ip link set dev vetha "$other" off

	# 4. Clean netdevs: the same body is accepted.  Then a foreign
	# program forced over Cubicle's survives the cube's deletion, and
	# Cubicle's program on the other port is removed.
	cub_ok simpleforwarder add sf1 --file "$T/b1.json"
	own=$(xdp_id vetha)
	[ -n "$own" ] && [ -n "$(xdp_id vethb)" ] || fail "sf1 not attached"
	ip -force link set dev vetha "$mode" obj "$FOREIGN_OBJ" sec xdp ||
		fail "cannot force the foreign program over Cubicle's"
	fid=$(xdp_id vetha)
	[ "$fid" != "$own" ] || fail "the foreign program did not replace Cubicle's"
	cub_ok sf1 del
	[ "$(xdp_id vetha)" = "$fid" ] ||
		fail "deleting sf1 removed the foreign program $fid from vetha"
	[ -z "$(xdp_id vethb)" ] || fail "sf1's program left on vethb"
	ip link set dev vetha "$mode" off

	# 5. Across a broker restart: a foreign program forced over Cubicle's
	# while no broker ran is not replaced by the adopting broker, which
	# names the netdev; deleting the cube leaves it, and removes Cubicle's
	# program from the other port.
	cub_ok simpleforwarder add sf1 --file "$T/b1.json"
	broker_kill9
	ip -force link set dev vetha "$mode" obj "$FOREIGN_OBJ" sec xdp ||
		fail "cannot force the foreign program over Cubicle's"
	fid=$(xdp_id vetha)
	broker_start
	[ "$(xdp_id vetha)" = "$fid" ] ||
		fail "the restarted broker replaced the foreign program on vetha"
	grep -q "netdev 'vetha' has an XDP program (id $fid) that Cubicle did not attach" \
		"$T/broker.log" || fail "the restarted broker did not name vetha"
	cub_ok sf1 del
	[ "$(xdp_id vetha)" = "$fid" ] || fail "restart + del removed the foreign program"
	[ -z "$(xdp_id vethb)" ] || fail "restart + del left sf1's program on vethb"
	exit 0
fi

# TC.
# filters DEV DIR: the filters on DEV's clsact DIR (ingress/egress).
filters() { tc filter show dev "$1" "$2"; }
has_clsact() { grep -q clsact <<<"$(tc qdisc show dev "$1")"; }
own_filter() { grep -q "handle 0xc0be" <<<"$(filters "$1" ingress)"; }
foreign_u32() { # DEV DIR PRIO
	tc filter add dev "$1" "$2" prio "$3" u32 match u32 0 0 ||
		fail "cannot add a foreign u32 filter to $1 $2"
}
has_u32() { grep -q "pref $3 u32" <<<"$(filters "$1" "$2")"; }

# 1. A foreign clsact and filter before Cubicle attaches: both survive the
# port's add and the cube's deletion.
tc qdisc add dev vetha clsact
foreign_u32 vetha ingress 7
body "$T/b1.json" TC vetha vethb vethc
cub_ok simpleforwarder add sf1 --file "$T/b1.json"
own_filter vetha || fail "sf1 not attached to vetha: $(filters vetha ingress)"
has_u32 vetha ingress 7 || fail "foreign filter gone after attach"
# 2. Foreign filters added to the clsact Cubicle created: on vethb's
# ingress, on vethc's egress.
own_filter vethb && own_filter vethc || fail "sf1 not attached to vethb/vethc"
foreign_u32 vethb ingress 9
foreign_u32 vethc egress 9
# Port removal (p0, on vetha), then cube deletion.
cub_ok sf1 ports del p0
! own_filter vetha || fail "Cubicle's filter left on vetha after port del"
has_clsact vetha || fail "port del destroyed the foreign clsact on vetha"
has_u32 vetha ingress 7 || fail "port del removed the foreign filter on vetha"
cub_ok sf1 del
for d in vethb vethc; do
	! own_filter $d || fail "Cubicle's filter left on $d after cube del"
	has_clsact $d || fail "cube del destroyed the clsact of $d, which holds a foreign filter"
done
has_u32 vethb ingress 9 || fail "cube del removed the foreign ingress filter on vethb"
has_u32 vethc egress 9 || fail "cube del removed the foreign egress filter on vethc"
cub_log "foreign filters survived: $(filters vethb ingress | head -1)"
for d in vetha vethb vethc; do tc qdisc del dev $d clsact; done

# 3. Across a broker restart: the new broker still knows which clsact it
# created (vethb: removed, it is empty; vethc: kept, a foreign filter was
# added while no broker ran) and which it did not (vetha: foreign, kept
# although empty).
tc qdisc add dev vetha clsact
cub_ok simpleforwarder add sf1 --file "$T/b1.json"
broker_kill9
foreign_u32 vethc ingress 9
broker_start
grep -q "adopted pinned program" "$T/broker.log" || fail "no adoption logged"
cub_ok sf1 del
has_clsact vetha || fail "the restarted broker destroyed the foreign clsact of vetha"
! has_clsact vethb || fail "the restarted broker left its own empty clsact on vethb"
has_clsact vethc || fail "the restarted broker destroyed vethc's clsact with a foreign filter"
has_u32 vethc ingress 9 || fail "the foreign filter on vethc is gone after restart + del"
for d in vetha vethc; do tc qdisc del dev $d clsact; done

# 4. A foreign filter at Cubicle's own handle and priority is not replaced:
# the create is refused, naming the netdev, and nothing is left.
tc qdisc add dev vethb clsact
tc filter add dev vethb ingress prio 1 handle 0xc0be bpf bytecode '1,6 0 0 4294967295,' ||
	fail "cannot add a foreign filter at 1:0xc0be"
before=$(filters vethb ingress)
err=$(cub_refused 2 simpleforwarder add sf1 --file "$T/b1.json")
cub_log "create with a foreign filter at Cubicle's handle: $err"
grep -q "vethb" <<<"$err" || fail "error does not name vethb: $err"
[ "$(filters vethb ingress)" = "$before" ] || fail "the foreign filter at 1:0xc0be was replaced"
for d in vetha vethc; do
	[ -z "$(filters $d ingress)" ] || fail "refused create left a filter on $d"
	! has_clsact $d || fail "refused create left a clsact on $d"
done
no_cube sf1
tc qdisc del dev vethb clsact

# 5. Across a broker restart: a foreign filter put at Cubicle's handle and
# priority while no broker ran is not replaced, and stays after the delete.
cub_ok simpleforwarder add sf1 --file "$T/b1.json"
broker_kill9
tc filter replace dev vetha ingress prio 1 handle 0xc0be bpf bytecode '1,6 0 0 4294967295,' ||
	fail "cannot replace Cubicle's filter on vetha"
before=$(filters vetha ingress)
broker_start
[ "$(filters vetha ingress)" = "$before" ] ||
	fail "the restarted broker replaced the foreign filter on vetha"
grep -q "netdev 'vetha' has a tc ingress filter at handle 0xc0be" "$T/broker.log" ||
	fail "the restarted broker did not name vetha"
cub_ok sf1 del
[ "$(filters vetha ingress)" = "$before" ] || fail "restart + del removed the foreign filter"
for d in vethb vethc; do
	[ -z "$(filters $d ingress)" ] || fail "restart + del left a filter on $d"
	! has_clsact $d || fail "restart + del left Cubicle's clsact on $d"
done
