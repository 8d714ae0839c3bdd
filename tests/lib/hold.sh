# SPDX-License-Identifier: BSD-2-Clause
# The slow cube's harness (plugins/testing review15_tslow, a
# transparenthelloworld whose ingress PASS holds the packet in its run
# while its egress action is DROP): source after tests/lib/netns.sh, with
# namespace ca peered to the host's 198.18.0.2 and the broker started.
# The test, the broker and its workers run on CPU 1 (taskset -p 2 $$);
# datagrams are sent from CPU 0 and held in its softirq there.
#   hold_receiver  the host's receiver: counts datagrams to
#                  198.18.0.2:9999 in $T/rx (started, and ready)
#   send           one datagram from ca to the host, sent from CPU 0
#   rx             how many the host got
#   wait_rx N      (polled, 5 s) the host got N?
#   th_stat OFF [CUBE]  a u64 of CUBE's (s1's) th_stats[ingress], summed
#                  over the CPUs: 0 packets, 24 let go after a hold
#   released [CUBE], s1_packets
hold_receiver() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.2", 9999))
n = 0
open(sys.argv[1], "w").write("0")
while True:
    s.recv(2048)
    n += 1
    open(sys.argv[1], "w").write(str(n))
' "$T/rx" &
	for _ in $(seq 1 50); do [ -s "$T/rx" ] && break; sleep 0.1; done
}
send() {
	taskset 1 ip netns exec ca python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x" * 64, ("198.18.0.2", 9999))'
}
rx() { cat "$T/rx"; }
wait_rx() {
	local _
	for _ in $(seq 1 50); do
		[ "$(rx)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
th_stat() {
	bpftool -j map lookup pinned "$T/pins/${2:-s1}/th_stats" key 0 0 0 0 | python3 -c '
import json, sys
o = int(sys.argv[1])
d = json.load(sys.stdin)
print(sum(int.from_bytes(bytes(int(x, 16) for x in v["value"][o:o + 8]), "little")
          for v in d["values"]))' "$1"
}
released() { th_stat 24 "${1:-s1}"; }
s1_packets() { th_stat 0 s1; }
