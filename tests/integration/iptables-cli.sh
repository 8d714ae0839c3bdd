#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cubicle-iptables (plugins/iptables/cubicle_iptables.c): iptables argv
# (-A, -I [n], -D n|rule, -P, -F, -N, -S) on an iptables service's cube,
# checked by -S and by real pings from ca (198.18.0.1) to the host
# (198.18.0.2).
. "$(dirname "$0")/../lib/netns.sh"
PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start
ipt() { "$CUB_BUILD/plugins/iptables/cubicle-iptables" --socket-dir "$T/s" ipt0 "$@"; }
ok() { ipt "$@" || fail "cubicle-iptables $*: exit $?"; }
ping_ok() { ip netns exec ca ping -c 1 -W 2 198.18.0.2 >/dev/null; }

cub_ok iptables add ipt0
ok -P INPUT DROP
ping_ok && fail "a ping passed -P INPUT DROP"
ok -A INPUT -p icmp -j ACCEPT
ping_ok || fail "no ping after -A INPUT -p icmp -j ACCEPT"
ok -I INPUT 1 -s 198.18.0.1 -p icmp -j DROP
ping_ok && fail "a ping passed the rule -I INPUT 1"
want='-P INPUT DROP
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-A INPUT -s 198.18.0.1/32 -p icmp -j DROP
-A INPUT -p icmp -j ACCEPT'
[ "$(ipt -S)" = "$want" ] || fail "-S: $(ipt -S)"
ok -D INPUT 1
ping_ok || fail "no ping after -D INPUT 1"
ok -D INPUT -p icmp -j ACCEPT
ping_ok && fail "a ping passed after -D INPUT -p icmp -j ACCEPT"
ok -N MINE
ok -A MINE -p icmp -j ACCEPT
ok -A INPUT -j MINE
ping_ok || fail "no ping through -j MINE"
want='-P INPUT DROP
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N MINE
-A INPUT -j MINE
-A MINE -p icmp -j ACCEPT'
[ "$(ipt -S)" = "$want" ] || fail "-S with MINE: $(ipt -S)"
ok -F MINE
ping_ok && fail "a ping passed after -F MINE"
rc=0; out=$(ipt -A INPUT -p tcp --dport 70000 -j DROP 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q 70000 <<<"$out" || fail "port 70000: exit $rc: $out"
rc=0; out=$(ipt -A INPUT -j NOSUCH 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q NOSUCH <<<"$out" || fail "-j NOSUCH: exit $rc: $out"
rc=0; out=$(ipt -A NOCHAIN -j DROP 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "NOCHAIN' does not exist" <<<"$out" || fail "-A NOCHAIN: exit $rc: $out"
ok -P INPUT ACCEPT
ping_ok || fail "no ping after -P INPUT ACCEPT"
[ "$(ipt -S INPUT)" = "-P INPUT ACCEPT
-A INPUT -j MINE" ] || fail "-S INPUT: $(ipt -S INPUT)"
cub_log "cubicle-iptables: -A -I -D -P -F -N -S on a cube, with pings"
