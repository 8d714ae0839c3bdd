#!/bin/bash
. "$(dirname "$0")/../lib/netns.sh"
need python3
PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so" "$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 n3:veth3:198.18.0.3
broker_start
mac_of() { ip -n "$1" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2; }
send() { ip netns exec "$1" python3 "$FRAMES" eth0 "$2" "$3" "$4"; }
t() { echo "+ cubicle $*"; cub "$@" 2>&1; echo "rc=$?"; }
set +e
cub_ok simplebridge add br1
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
M1=$(mac_of n1) M2=$(mac_of n2)
ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.2 >/dev/null
. "$SCRATCH"
