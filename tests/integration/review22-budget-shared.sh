#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): one tenant's cubes spend every tenant's tail-call
# budget.  The budget a change is checked against is the broker's, not
# the packet path's: graph.c graph_check() and budget() add the longest
# chain of ALL cubes to tcube_budget(), the cost of EVERY transparent
# stack on a cube port, whoever owns them.  Tenant ta puts one
# transparent cube on each of 8 ports of its own cube a1 (8 stacks, 32
# tail calls: within the limit, each attach taken).  Tenant tb's own
# cube b1, which shares no path with a1, then cannot have a transparent
# cube on its port (1 cube + 1 stack = 5 tail calls on any packet
# through b1), nor be connected into a chain of two of its own cubes,
# and the refusal tells tb how much ta's stacks weigh ("37 tail calls").
# Wanted: tb's changes, checked against the paths its packets take,
# succeed; ta's cubes are not there for tb.
. "$(dirname "$0")/../lib/netns.sh"
PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
. "$(dirname "$0")/../lib/review22.sh"
r22_start

# ta: a1 with 8 ports, a transparent cube on each (each attach accepted).
ok ta simpleforwarder add a1
for i in 1 2 3 4 5 6 7 8; do
	ok ta a1 ports add "p$i"
	ok ta transparenthelloworld add "at$i"
	ok ta attach "at$i" "a1:p$i"
done
cub_log "ta: 8 transparent cubes on 8 ports of a1"

# tb: b1 (a port on its veth, one free), b2; nothing of ta's on their way.
ok tb simpleforwarder add b1
ok tb b1 ports add p1 peer=vethb0
ok tb b1 ports add p2
ok tb simpleforwarder add b2
ok tb b2 ports add p1
ok tb transparenthelloworld add bt1
bad=
if ! out=$(tb attach bt1 b1:p2 2>&1); then
	bad+=" 'attach bt1 b1:p2' (5 tail calls on b1's paths) refused: $out;"
fi
if ! out=$(tb connect b1:p2 b2:p1 2>&1); then
	# (the attach above may have gone: then the connect costs 3 + its 4)
	bad+=" 'connect b1:p2 b2:p1' refused: $out;"
fi
cub_log "tb: ${bad:-its attach and connect taken}"
[ -z "$bad" ] || fail "ta's stacks on its own cube's ports refuse tb's changes to its own cubes:$bad"
