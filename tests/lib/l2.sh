# SPDX-License-Identifier: BSD-2-Clause
# L2 helpers for the bridge tests, after netns.sh, with namespaces n1..n5
# whose eth0 each test made:
#   mac_of NS             eth0's MAC
#   rx NS                 eth0's received packets
#   deltas CMD...         what each of n1..n$L2_N (default 5) received
#                         while CMD ran, once the traffic settled:
#                         "d1 d2 d3 d4 d5"
#   send NS DST SRC N     N frames out of NS's eth0 (l2frames.py)
#   freeze_neigh          permanent neighbours among n1..n5 (198.18.0.N),
#                         so that no ARP of the stacks crosses while a
#                         test counts
mac_of() { ip -n "$1" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2; }
rx() { ip netns exec "$1" cat /sys/class/net/eth0/statistics/rx_packets; }
deltas() {
	local a=() i out
	for i in $(seq 1 "${L2_N:-5}"); do a[i]=$(rx n$i); done
	"$@" >/dev/null
	sleep 0.5
	out=
	for i in $(seq 1 "${L2_N:-5}"); do out="$out $(($(rx n$i) - a[i]))"; done
	echo $out
}
send() { ip netns exec "$1" python3 "$CUB_LIB/l2frames.py" eth0 "$2" "$3" "$4"; }
freeze_neigh() {
	local i j
	for i in 1 2 3 4 5; do
		for j in 1 2 3 4 5; do
			[ $i = $j ] && continue
			ip -n n$i neigh replace 198.18.0.$j lladdr "$(mac_of n$j)" dev eth0 nud permanent
		done
	done
}
