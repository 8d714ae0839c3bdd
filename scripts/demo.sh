#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The demo: a broker in a temporary state, a simpleforwarder cube between
# two network namespaces, pings passed, counted and shown with the CLI,
# everything torn down.  Usage: scripts/demo.sh [build-dir]
export CUB_BUILD=${1:-build}
. "$(dirname "$0")/../tests/lib/netns.sh"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "cubicle $*"; cub_ok "$@"; }

netns_host left vleft 198.18.0.1
netns_host right vright 198.18.0.2
say "cubicled --socket-dir $T/s --state-dir $T/st --pin-root $T/pins &"
broker_start
run services
run simpleforwarder add sf1
run sf1 ports add p1 peer=vleft
run sf1 ports add p2 peer=vright
run sf1 ports p1 set action=forward outport=p2
run sf1 ports p2 set action=forward outport=p1
say "ip netns exec left ping -c 5 198.18.0.2"
ip netns exec left ping -c 5 -i 0.2 198.18.0.2
run sf1 show
run show cubes
run sf1 ports ?
run sf1 del
say "everything is torn down on exit"
