#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): a tenant whose gid= is the --socket-group is
# taken, and then everyone who may connect is that tenant.
# broker.c tenants_start() refuses a tenant gid that is --admin-group or
# --gateway-group, not one that is --socket-group; but every client that
# is not root reaches the 0660 sockets only as a member of that group, so
# clients.c peer_role(), which ranks tenants before gateways and readers,
# makes every reader tenant tx (it now creates and changes tx's cubes)
# and the gateway too (its 'as' is refused: "role tenant may not send
# 'as'", so no REST request of any user goes through).  Wanted: the
# start refused naming the line, as for the gateway group ("gid 65534 is
# the --socket-group group").
. "$(dirname "$0")/../lib/netns.sh"
need setpriv
printf 'tx gid=65534\n' >"$T/tenants"
CUB_BROKER_ARGS="--tenants $T/tenants --socket-group 65534 --gateway-group 65533 --gateway-may reader,tenant"
chmod 0711 "$T"
# Wanted: the start refused (exit 1, naming the socket group), before it
# makes anything; else it gets ready, and the test shows what it means.
broker_start_refused "socket-group" && exit 0
rd() { setpriv --reuid=60050 --regid=60050 --groups=65534 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null; }
gw() { setpriv --reuid=65534 --regid=65534 --groups=65533,65534 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null; }
r1=$(rd simpleforwarder add r1 2>&1 && echo TAKEN) || true
g1=$(gw --as tx:tenant show cubes 2>&1) || true
fail "tenant 'tx' gid=65534 (the --socket-group) was taken: a reader's 'simpleforwarder add r1': $r1; the gateway's 'as': $g1"
