# SPDX-License-Identifier: BSD-2-Clause
# Set-up for the tests that aim the evil plugin at a victim cube.  Source
# it after netns.sh:
#
#   . "$(dirname "$0")/../lib/victim.sh"

# victim_start: the broker, with the evil plugin as well; a victim
# simpleforwarder cube v1 that forwards between ca (vetha, 198.18.0.1) and
# cb (vethb, 198.18.0.2), checked with a ping; and an evil cube e1.
victim_start() {
	PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
	netns_host ca vetha 198.18.0.1
	netns_host cb vethb 198.18.0.2
	broker_start

	cub_ok simpleforwarder add v1
	cub_ok v1 ports add p1 peer=vetha action=drop
	cub_ok v1 ports add p2 peer=vethb action=forward outport=p1
	cub_ok v1 ports p1 set action=forward outport=p2
	ip netns exec ca ping -c 1 -W 2 198.18.0.2 >/dev/null || fail "v1 does not forward"
	cub_ok evil add e1
}
