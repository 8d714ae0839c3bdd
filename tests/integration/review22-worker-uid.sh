#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): a tenant may be given a worker's uid.
# tenants.c takes any uid from 1 to 4294967294 and broker.c
# tenants_start() checks gids against the admin and gateway groups only,
# not uids against the broker's own: --uid-base + the service's index
# (60600.. here) and its helpers' (+64).  A tenant whose uid= is a
# worker's runs as that worker: it signals the one worker every tenant's
# cubes of that service share (kill -9: the service restarts, each
# tenant's requests fail meanwhile), and owns what the worker owns.
# Wanted: the start refused naming the line (uid 60600 is service
# 'simpleforwarder''s worker's).
. "$(dirname "$0")/../lib/netns.sh"
need setpriv
# One service (simpleforwarder, index 0): its worker is uid 60600.
printf 'tw uid=60600\n' >"$T/tenants"
chmod 0711 "$T"
CUB_BROKER_ARGS="--tenants $T/tenants --socket-group 65534"
broker_start_refused "60600" && exit 0
wpid=$(worker_pid simpleforwarder)
[ "$(stat -c %u "/proc/$wpid")" = 60600 ] || fail "the worker is not uid 60600"
if setpriv --reuid=60600 --regid=60600 --groups=65534 kill -9 "$wpid" 2>/dev/null; then
	wait_log 1 "service 'simpleforwarder': worker $wpid killed by signal 9"
	fail "tenant 'tw' (uid 60600, simpleforwarder's worker's) was taken and killed the worker $wpid every tenant's simpleforwarder cubes share"
fi
fail "tenant 'tw' (uid 60600, simpleforwarder's worker's) was taken"
