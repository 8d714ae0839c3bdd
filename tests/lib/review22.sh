# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# Review 22 (a hostile review of tenants, issue 13): two tenants as
# tests/integration/tenants.sh makes them, ta (uid 60001, netdevs
# R22_TA_NETDEVS, default vetha*) and tb (uid 60002, R22_TB_NETDEVS,
# default vethb+), the CLI run as each with setpriv.  Source after
# netns.sh (and gateway.sh); set PLUGINS and CUB_BROKER_ARGS first, then
# call r22_start.  Makes vetha0/vetha1 and vethb0/vethb1 (up).
need setpriv
R22_A=60001 R22_B=60002

# r22_start: the veths, the tenants file ($T/tenants) and the broker
# (socket group 65534, so the tenants connect as its members).
r22_start() {
	local p
	for p in a b; do
		ip link add "veth${p}0" type veth peer name "veth${p}1"
		ip link set "veth${p}0" up
		ip link set "veth${p}1" up
	done
	printf 'ta uid=%s netdevs=%s\ntb uid=%s netdevs=%s\n' \
		"$R22_A" "${R22_TA_NETDEVS:-vetha*}" \
		"$R22_B" "${R22_TB_NETDEVS:-vethb+}" >"$T/tenants"
	CUB_BROKER_ARGS="--tenants $T/tenants --socket-group 65534 ${CUB_BROKER_ARGS:-}"
	chmod 0711 "$T"
	broker_start
}

# ta ARGS..., tb ARGS...: the CLI as each tenant.
ta() { setpriv --reuid=$R22_A --regid=$R22_A --groups=65534 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null; }
tb() { setpriv --reuid=$R22_B --regid=$R22_B --groups=65534 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null; }
# ok CMD...: CMD must succeed (its output discarded).
ok() { "$@" >/dev/null 2>"$T/err" || fail "$*: $(cat "$T/err")"; }
