#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 13, tenants (docs "Tenants"): a broker with --tenants naming two
# tenants, ta (uid 60001, netdevs vetha*) and tb (uid 60002, vethb+),
# the CLI run as each.  ta makes a simpleforwarder cube a1 with a port on
# its granted veth (refused on tb's, and on one that does not exist but
# is not granted); tb does not see a1 in show cubes, help or services,
# and every request naming a1 (show, set, del, log, the cube and service
# prefixes, connect to it, a peer on it) gets exactly the error a missing
# cube gets (attach and detach too; ta's transparent cube attaches to
# its veth and its cube's port, not tb's); a name another tenant holds
# is "taken", as one's own is;
# neither tenant may use iptables (host-wide) nor services reload, nor
# send 'as'; show topology has its own cubes and stacks only (others'
# cubes in them as "(not yours)"); a tenant's events subscription gets its own cubes' events
# only; admin sees every cube with its owner.  Tenants by gid: a
# member is the tenant, a member of two tenants' gids is refused; a
# gateway's 'as NAME:tenant' sees what the tenant sees.  After a kill -9 and a
# restart the ownership holds (the matrix again, briefly).  REST: a
# tenant token (role tenant) through cubicle-gateway sees and changes its
# own cube only.  Bad tenants files refuse the start, naming the line.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/gateway.sh"

need setpriv curl python3
PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so"
	"$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
. "$CUB_LIB/tenant_cli.sh"

# 0. Bad tenants files are refused before anything starts.
bad_file() {
	local text=$1 want=$2 rc=0 err
	shift 2
	printf '%b' "$text" >"$T/bad.tenants"
	err=$("$CUB_BUILD/broker/cubicled" --tenants "$T/bad.tenants" \
		--socket-dir "$T/nb" "$@" 2>&1) || rc=$?
	[ "$rc" = 1 ] && grep -qF -- "$want" <<<"$err" ||
		fail "tenants '$text': exit $rc, not /$want/: $err"
	[ ! -e "$T/nb" ] || fail "a refused tenants file created the socket dir"
}
bad_file 'ta uid=60001\ntb uid=60001\n' "line 2: tenant 'tb': uid 60001 is tenant 'ta''s already"
bad_file 'ta uid=0\n' "line 1: tenant 'ta': uid '0' is not a number"
bad_file 'ta uid=5 netdevs=veth*x\n' "line 1: tenant 'ta': netdev pattern 'veth*x'"
bad_file '# c\nta uid=5 quota=3\n' "line 2: tenant 'ta': unknown key 'quota'"
bad_file 'ta gid=65534\n' "tenant 'ta': gid 65534 is the --gateway-group group" \
	--socket-group 65534 --gateway-group 65534
rc=0
err=$("$CUB_BUILD/broker/cubicled" --tenants "$T/none" --socket-dir "$T/nb" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q -- "--tenants: $T/none: No such file" <<<"$err" ||
	fail "a missing tenants file: exit $rc: $err"
cub_log "bad tenants files refused, naming the line"

for p in a b; do
	ip link add "veth${p}0" type veth peer name "veth${p}1"
	ip link set "veth${p}0" up
	ip link set "veth${p}1" up
done
printf '# the test tenants\nta uid=%s netdevs=vetha*\ntb uid=%s netdevs=vethb+\n' \
	"$A" "$B" >"$T/tenants"
# Two tenants by group only (no netdevs).
printf 'tc gid=60010\ntd gid=60020\n' >>"$T/tenants"
CUB_BROKER_ARGS="--tenants $T/tenants --gateway-may reader,tenant"
gateway_broker_args # socket group 65534: the tenants connect as members
broker_start


# refused WHAT PATTERN CMD...: CMD must fail and its error match PATTERN.
refused() {
	local what=$1 pat=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" != 0 ] || fail "$what: succeeded: $out"
	grep -qE -- "$pat" <<<"$out" || fail "$what: exit $rc, not /$pat/: $out"
	cub_log "$what: refused: $out"
}

# unseen WHO ARGS...: with a1 in ARGS, WHO's error (and exit code) must be
# the one it gets with a1 replaced by zz9, a cube that does not exist,
# the name aside: another tenant's cube is not there.
unseen() {
	local who=$1 rc1=0 rc2=0 e1 e2 a
	shift
	local missing=()
	for a in "$@"; do missing+=("${a//a1/zz9}"); done
	e1=$("$who" "$@" 2>&1) || rc1=$?
	e2=$("$who" "${missing[@]}" 2>&1) || rc2=$?
	[ "$rc1" != 0 ] || fail "$who $*: succeeded: $e1"
	[ "$rc1" = "$rc2" ] && [ "${e1//a1/zz9}" = "$e2" ] ||
		fail "$who $*: exit $rc1 '$e1', a missing cube's: exit $rc2 '$e2'"
}

# The matrix; after a restart again ($1 = after).
matrix() {
	local when=$1
	# tb sees nothing of ta's: not in show cubes, help or services.
	out=$(tb show cubes -o json)
	! grep -q '"a1"' <<<"$out" || fail "$when: tb sees a1: $out"
	grep -q '"b1"' <<<"$out" || fail "$when: tb does not see b1: $out"
	! grep -q '"sf0"' <<<"$out" || fail "$when: tb sees admin's sf0: $out"
	! grep -q '"a1t"' <<<"$out" || fail "$when: tb sees a1t: $out"
	! tb '?' | grep -qw a1 || fail "$when: tb's help names a1"
	n=$(tb services -o json | python3 -c '
import json, sys
print([s["cubes"] for s in json.load(sys.stdin) if s["name"] == "simpleforwarder"][0])')
	[ "$n" = 1 ] || fail "$when: tb's services counts $n simpleforwarder cubes, not its 1"
	for args in "a1 show" "a1" "a1 ports show" "a1 ports p1 show" \
		"a1 set loglevel=DEBUG" "a1 ports p1 set action=forward" \
		"a1 ports add p9" "a1 log show" "a1 del" "simpleforwarder del a1" \
		"simpleforwarder a1 show" "cube a1 show" "cube a1 set loglevel=DEBUG" \
		"connect b1:p1 a1:p1" "connect a1:p1 b1:p1" "disconnect a1:p1 vethb1" \
		"b1 ports p1 set peer=a1:p1" "b1 ports add p5 peer=a1:p1" \
		"attach a1 vethb1" "detach a1 vetha1" "attach tb1 a1:p1" \
		"attach tb1 vethb1 before=a1"; do
		# shellcheck disable=SC2086
		unseen tb $args
	done
	# tb's own cube is reached; a1 is unchanged by all the above.
	ok tb b1 show
	[ "$(cub a1 ports p1 show peer)" = vetha0 ] || fail "$when: a1 p1's peer changed"
	[ "$(cub a1 ports p1 show action)" = drop ] || fail "$when: a1 p1's action changed"
	[ "$(cub a1 show loglevel)" = INFO ] || fail "$when: a1's loglevel changed"
	# ta reaches its own, not tb's; not admin's.
	ok ta a1 show
	unseen ta b1 show
	unseen ta sf0 show
	# admin sees both, with their owners.
	owners=$(cub show cubes -o json | python3 -c '
import json, sys
print(" ".join(sorted(c["name"] + "=" + c["owner"] for c in json.load(sys.stdin))))')
	[ "$owners" = "a1=ta a1t=ta b1=tb sf0=admin tb1=tb" ] || fail "$when: admin's show cubes: $owners"
	cub_log "$when: tb sees none of ta's cubes (same errors as missing ones), admin sees $owners"
}

# 1. ta's cube, with ports on its veths only.
cub_ok simpleforwarder add sf0 >/dev/null
ok ta simpleforwarder add a1
ok ta a1 ports add p1 peer=vetha0
[ "$(cub a1 ports p1 show peer)" = vetha0 ] || fail "ta's port is not on vetha0"
refused "ta: a port on tb's veth" "netdev 'vethb0' is not granted to tenant 'ta'" \
	ta a1 ports add p2 peer=vethb0
refused "ta: a port on a netdev not granted, missing" "netdev 'nosuch0' is not granted to tenant 'ta'" \
	ta a1 ports add p2 peer=nosuch0
ok ta a1 ports add p2
refused "ta: connect to tb's veth" "netdev 'vethb1' is not granted to tenant 'ta'" \
	ta connect a1:p2 vethb1
ok ta connect a1:p2 vetha1
ok ta disconnect a1:p2 vetha1
# Its own cubes connect; its changes are logged with its name.
ok ta simpleforwarder add a2
ok ta a2 ports add p1
ok ta connect a1:p2 a2:p1
[ "$(cub a2 ports p1 show peer)" = a1:p2 ] || fail "ta's connect a1:p2 a2:p1 is missing"
ok ta disconnect a1:p2 a2:p1
ok ta simpleforwarder del a2
grep -qF "request by client uid $A (tenant 'ta'): a1 ports add p1 peer=vetha0" <<<"$(cub a1 log show)" ||
	fail "a1's log does not name its tenant: $(cub a1 log show | tail -5)"
out=$(cub a1 ports show -o json)
! grep -q vethb <<<"$out" || fail "a refused port reached a1: $out"

# tb's cube; names are one namespace, and "taken" says no more.
ok tb simpleforwarder add b1
ok tb b1 ports add p1 peer=vethb0
refused "tb: a1's name" "^.*cube name 'a1' is taken; choose another name" \
	tb simpleforwarder add a1
e1=$(tb simpleforwarder add a1 2>&1 || true)
e2=$(ta simpleforwarder add a1 2>&1 || true)
[ "$e1" = "$e2" ] || fail "another tenant's name ('$e1') and one's own ('$e2') differ"
refused "tb: a port on a veth ta uses" "netdev 'vetha0' is not granted to tenant 'tb'" \
	tb b1 ports add p2 peer=vetha0

# Transparent cubes: attached to a granted netdev or an own cube's port.
ok ta transparenthelloworld add a1t
refused "ta: attach to tb's veth" "netdev 'vethb1' is not granted to tenant 'ta'" \
	ta attach a1t vethb1
ok ta attach a1t a1:p1
ok ta detach a1t a1:p1
ok ta attach a1t vetha1
ok tb transparenthelloworld add tb1
refused "tb: attach to ta's cube port" "attach: no cube 'a1' with a port 'p1'" \
	tb attach tb1 a1:p1
[ "$(cub show topology vetha1 -o json | grep -c '"a1t"')" -ge 1 ] ||
	fail "a1t is not attached to vetha1: $(cub show topology vetha1)"

# show topology: a tenant's cubes and the stacks on its netdevs and
# cube ports only; another's is "nothing attached", as a bare netdev.
ok tb transparenthelloworld add tb2
ok tb attach tb2 vethb1
cub_ok transparenthelloworld add adm1 >/dev/null
cub_ok attach adm1 vetha1 >/dev/null
out=$(ta show topology -o json)
python3 - "$out" <<'PY' || fail "ta's topology: $out"
import json, sys
t = json.loads(sys.argv[1])
assert sorted(c["name"] for c in t["cubes"]) == ["a1", "a1t"], t["cubes"]
assert [n["name"] for n in t["netdevs"]] == ["vetha1"], t["netdevs"]
assert sorted(t["netdevs"][0]["ingress"]) == ["(not yours)", "a1t"], t["netdevs"]
assert "adm1" not in sys.argv[1]
PY
out=$(ta show topology vetha1)
grep -q "(not yours)" <<<"$out" && ! grep -q adm1 <<<"$out" || fail "ta's topology vetha1: $out"
out=$(ta netdevs show -o json)
python3 - "$out" <<'PY' || fail "ta's netdevs show with stacks: $out"
import json, sys
d = {n["name"]: n["used_by"] for n in json.loads(sys.argv[1])}
assert "tcube a1t" in d["vetha1"] and "tcube (not yours)" in d["vetha1"], d
assert "adm1" not in sys.argv[1] and "tb2" not in sys.argv[1], d
PY
out=$(cub show topology -o json)
grep -q '"tb2"' <<<"$out" && grep -q '"a1t"' <<<"$out" || fail "admin's topology: $out"
e1=$(ta show topology vethb1 2>&1 || true)
e2=$(ta show topology vetha0 2>&1 || true)
[ "${e1//vethb1/X}" = "${e2//vetha0/X}" ] || fail "ta: tb's stack '$e1', a bare netdev '$e2'"
ok tb detach tb2 vethb1
ok tb transparenthelloworld del tb2
cub_ok detach adm1 vetha1 >/dev/null
cub_ok transparenthelloworld del adm1 >/dev/null

# Tenants by group: a member of tc's gid is tc; one of tc's and td's
# both is refused (which would it be?), and logged.
tcm() { setpriv --reuid=60011 --regid=60011 --groups="65534,$1" "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "${@:2}" </dev/null; }
ok tcm 60010 simpleforwarder add c1
out=$(tcm 60010 show cubes -o json)
grep -q '"c1"' <<<"$out" && ! grep -q '"a1"' <<<"$out" || fail "tc's show cubes: $out"
refused "tc: a port on any netdev" "netdev 'vetha0' is not granted to tenant 'tc'" \
	tcm 60010 c1 ports add p1 peer=vetha0
refused "a member of two tenants' groups" "cannot reach|closed|refused|nreachable" \
	timeout 20 setpriv --reuid=60011 --regid=60011 --groups=65534,60010,60020 \
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 3000 show cubes
grep -q "(uid 60011): refused: its groups name two tenants" "$T/broker.log" ||
	fail "the broker did not log the two-tenant member"
ok tcm 60010 simpleforwarder del c1

# A gateway (uid 65534, --gateway-group) vouching for a tenant over raw
# nng: sees what the tenant sees; a tenant not in the file is refused.
gwc() { setpriv --reuid=65534 --regid=65534 --clear-groups "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null; }
out=$(gwc --as ta:tenant show cubes -o json) || fail "gateway as ta: $out"
grep -q '"a1"' <<<"$out" && ! grep -q '"b1"' <<<"$out" || fail "gateway as ta: show cubes: $out"
unseen gwc --as ta:tenant b1 show
refused "gateway as a tenant not in the file" "vouched for tenant 'tz': no such tenant" \
	gwc --as tz:tenant show cubes
out=$(gwc show cubes -o json)
grep -q '"a1"' <<<"$out" && grep -q '"b1"' <<<"$out" || fail "the gateway's own read: $out"

# Host-wide services and admin-only verbs.
for who in ta tb; do
	refused "$who: iptables add" "service 'iptables' is host-wide .*admin only; tenant 't[ab]' may not use it" \
		$who iptables add ipt1
	refused "$who: iptables show" "service 'iptables' is host-wide" $who iptables show
	refused "$who: services reload" "\(tenant 't[ab]'\) may not 'services reload simpleforwarder': it needs role admin" \
		$who services reload simpleforwarder
	# Raw nng REQ with 'as': only a gateway's is taken.
	refused "$who: as" "\(role tenant\) may not send 'as'" $who --as ta:tenant show cubes
done
cub show cubes -o json | grep -q '"ipt1"' && fail "a tenant's refused iptables cube exists"
# netdevs show: the granted ones only.
out=$(ta netdevs show -o json)
grep -q '"vetha0"' <<<"$out" && ! grep -q '"vethb' <<<"$out" && ! grep -q '"lo"' <<<"$out" ||
	fail "ta's netdevs show: $out"
grep -q 'a1:p1' <<<"$out" || fail "ta's netdevs show does not say a1:p1 uses vetha0: $out"

# Events: tb's subscription gets tb's cubes' events only, though ta's
# come first in each round.
setpriv --reuid=$B --regid=$B --groups=65534 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" \
	events --count 2 --timeout 30000 </dev/null >"$T/ev.out" 2>&1 &
ev=$!
for i in $(seq 1 50); do
	ok ta simpleforwarder add "aev$i"
	ok ta simpleforwarder del "aev$i"
	ok tb simpleforwarder add "bev$i"
	ok tb simpleforwarder del "bev$i"
	kill -0 "$ev" 2>/dev/null || break
	sleep 0.2
done
wait "$ev" || fail "tb's events: $(cat "$T/ev.out")"
grep -q bev "$T/ev.out" || fail "tb got none of its own events: $(cat "$T/ev.out")"
! grep -q aev "$T/ev.out" || fail "tb got ta's events: $(cat "$T/ev.out")"
cub_log "tb's events: its own only ($(tr '\n' ' ' <"$T/ev.out" | head -c 200))"

matrix "before restart"

# 2. kill -9 and a restart: the owners come back from the store.
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
matrix "after kill -9"
ok ta a1 set loglevel=DEBUG
[ "$(cub a1 show loglevel)" = DEBUG ] || fail "ta's change after the restart did not apply"

# 3. REST through the gateway: tb's token (role tenant) sees and changes
# b1 only; a1 is 404 as a missing cube is.
printf 'tb tenant %s\n' "$(printf %s tok-tb | sha256sum | cut -d' ' -f1)" >"$T/tokens"
chmod 0600 "$T/tokens"
gateway_start 9000 --tokens "$T/tokens"
R=http://127.0.0.1:9000/polycube/v1/simpleforwarder
H=(-H "Authorization: Bearer tok-tb")
st() { curl -sS -o "$T/out" -w '%{http_code}' "$@"; }
[ "$(st "${H[@]}" "$R/b1/")" = 200 ] || fail "REST tb GET b1: $(cat "$T/out")"
[ "$(st "${H[@]}" "$R/a1/")" = 404 ] || fail "REST tb GET a1: not 404: $(cat "$T/out")"
a1err=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["message"])' "$T/out")
st "${H[@]}" "$R/zz9/" >/dev/null
zzerr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["message"])' "$T/out")
[ "${a1err//a1/zz9}" = "$zzerr" ] || fail "REST: a1's error '$a1err', a missing cube's '$zzerr'"
[ "$(st "${H[@]}" "$R/")" = 200 ] && ! grep -q a1 "$T/out" && grep -q b1 "$T/out" ||
	fail "REST tb GET the service's cubes: $(cat "$T/out")"
[ "$(st "${H[@]}" -X PUT -H 'Content-Type: application/json' -d '"WARN"' "$R/b1/loglevel")" = 200 ] ||
	fail "REST tb PUT b1 loglevel: $(cat "$T/out")"
[ "$(cub b1 show loglevel)" = WARN ] || fail "REST tb's PUT did not apply"
[ "$(st "${H[@]}" -X PUT -H 'Content-Type: application/json' -d '"WARN"' "$R/a1/loglevel")" = 404 ] ||
	fail "REST tb PUT a1 loglevel: not 404: $(cat "$T/out")"
[ "$(cub a1 show loglevel)" = DEBUG ] || fail "REST tb's PUT of a1 changed it"
grep -q "on behalf of user 'tb' (role tenant)" "$T/broker.log" ||
	fail "the broker did not log tb's REST request"
cub_log "REST: tb's token sees b1 (not a1: 404 as a missing cube), its PATCH applies, a1's is 404"
gw_sanitizer_check "$T"/gw-*.log
