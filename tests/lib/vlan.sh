# SPDX-License-Identifier: BSD-2-Clause
# 802.1Q helpers for the bridge tests, after netns.sh, with namespaces
# n1..n$VLAN_N (default 5) whose eth0 each test made:
#   vf NS ARGS...          tests/lib/vlanframes.py ARGS in NS
#   probe SRC NS DST VLAN COUNT
#                          what n1..n$VLAN_N received of COUNT frames
#                          NS sent (below)
vf() { ip netns exec "$1" python3 "$CUB_LIB/vlanframes.py" "${@:2}"; }
# probe SRC SENDER DST VLAN COUNT: COUNT frames from SENDER's eth0 (source
# SRC, tag VLAN, 0: none); prints what n1..n$VLAN_N received of them, each
# "-:N" (untagged), "V:N" (tag V) or "none", separated by " | ".
probe() {
	local src=$1 from=$2 dst=$3 vlan=$4 count=$5 i out=
	rm -f "$T"/ready.* "$T"/got.* "$T/done"
	for i in $(seq 1 "${VLAN_N:-5}"); do
		vf n$i recv eth0 "$src" "$T/done" "$T/ready.$i" >"$T/got.$i" &
	done
	for i in $(seq 1 100); do
		[ "$(ls "$T"/ready.* 2>/dev/null | wc -l)" = "${VLAN_N:-5}" ] && break
		sleep 0.05
	done
	vf "$from" send eth0 "$dst" "$src" "$count" "$vlan" >/dev/null
	sleep 0.3 # the frames settle, as l2.sh's deltas()
	touch "$T/done"
	wait
	for i in $(seq 1 "${VLAN_N:-5}"); do out="$out${out:+ | }$(cat "$T/got.$i")"; done
	echo "$out"
}
