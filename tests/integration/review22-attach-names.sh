#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): an attach refusal names a cube that is not the
# tenant's.  "Another tenant's cube, or an admin's, is reported exactly
# as a missing one", and a stack's others are "(not yours)"; but
# tcube.c netdev_hooks_ok() words its refusals with the cube whose port
# holds the netdev (c2->name, p->name) and the first cube of the stack
# there (tp->stack[0]->name), whoever owns them.  Here the admin's cube
# sf0 has a port on vethb0 and the admin's XDP transparent cube adm1 sits
# on vethb1, both netdevs granted to tb (no other tenant's needed), and
# tb's attaches are refused with "the peer of cube 'sf0' port 'p1';
# attach to the port (sf0:p1)", "the XDP stack on 'vethb1' (adm1)" and
# "cube 'sf0' (TC), whose port 'p1' peers with 'vethb0'".  Wanted: each
# refused without a name tb does not own (as ports_prepare() says "a
# port of a cube that is not yours").
. "$(dirname "$0")/../lib/netns.sh"
PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
. "$(dirname "$0")/../lib/review22.sh"
r22_start

cub_ok simpleforwarder add sf0 >/dev/null
cub_ok sf0 ports add p1 peer=vethb0 >/dev/null
cub_ok transparenthelloworld add adm1 type=XDP_SKB >/dev/null
cub_ok attach adm1 vethb1 >/dev/null
ok tb transparenthelloworld add tb1
ok tb transparenthelloworld add tbx type=XDP_SKB
# tb sees neither admin cube.
out=$(tb show cubes -o json)
! grep -qE '"(sf0|adm1)"' <<<"$out" || fail "tb's show cubes lists the admin's cubes: $out"
bad=
for args in "tb1 vethb0" "tb1 vethb1" "tbx vethb0"; do
	rc=0
	# shellcheck disable=SC2086
	out=$(tb attach $args 2>&1) || rc=$?
	[ "$rc" != 0 ] || fail "tb attach $args: taken"
	cub_log "tb attach $args: $out"
	if grep -qE "sf0|adm1|port 'p1'" <<<"$out"; then
		bad+=" 'attach $args': $out;"
	fi
done
[ -z "$bad" ] || fail "tb's attach refusals name the admin's cubes:$bad"
