# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# Review 22 (a hostile review of tenants, issue 13): two tenants as
# tests/integration/tenants.sh makes them, ta (uid 60001, netdevs
# R22_TA_NETDEVS, default vetha*) and tb (uid 60002, R22_TB_NETDEVS,
# default vethb+), the CLI run as each with setpriv.  Source after
# netns.sh (and gateway.sh); set PLUGINS and CUB_BROKER_ARGS first, then
# call r22_start.  Makes vetha0/vetha1 and vethb0/vethb1 (up).
. "$CUB_LIB/tenant_cli.sh" # ta, tb (uids $A, $B), ok

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
		"$A" "${R22_TA_NETDEVS:-vetha*}" \
		"$B" "${R22_TB_NETDEVS:-vethb+}" >"$T/tenants"
	CUB_BROKER_ARGS="--tenants $T/tenants --socket-group 65534 ${CUB_BROKER_ARGS:-}"
	chmod 0711 "$T"
	broker_start
}

