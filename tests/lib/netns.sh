# SPDX-License-Identifier: BSD-2-Clause
# Harness for integration tests (style rule 30).  Source it first thing:
#
#   . "$(dirname "$0")/../lib/netns.sh"
#
# It re-executes the test under `unshare -n -m`: the test gets a network
# namespace of its own (the "host" the broker manages) and a private mount
# namespace (its own bpffs and /run/netns), so tests run side by side and
# everything they made disappears with them.  A trap tears down what lives
# outside (processes) even on failure.  Addresses: 198.18.0.0/15 only.
#
# Environment: CUB_BUILD = meson build directory (set by meson test).

set -euo pipefail

: "${CUB_BUILD:?set CUB_BUILD to the meson build directory}"
CUB_BUILD=$(cd "$CUB_BUILD" && pwd)
CUB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -z "${CUB_IN_NETNS:-}" ]; then
	export CUB_IN_NETNS=1 CUB_BUILD
	exec unshare -n -m --propagation private -- bash "$0" "$@"
fi

T=$(mktemp -d /tmp/cubicle-test.XXXXXX)
BROKER_PID=
NAMESPACES=()
TEST_NAME=$(basename "$0" .sh)

cub_log() { echo "[$TEST_NAME] $*" >&2; }

cub_cleanup() {
	local rc=$?
	set +e
	# A clean stop lets sanitizer builds report leaks at exit.
	if [ -n "$BROKER_PID" ] && kill -TERM "$BROKER_PID" 2>/dev/null; then
		for _ in $(seq 1 50); do
			kill -0 "$BROKER_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	# Sanitizer builds: any report from the broker or a worker fails.
	if [ -f "$T/broker.log" ] &&
		grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T/broker.log"; then
		echo "---- sanitizer reports ----" >&2
		grep -E -A12 "runtime error|AddressSanitizer|LeakSanitizer" "$T/broker.log" | head -60 >&2
		[ "$rc" = 0 ] && rc=1
	fi
	if [ "$rc" != 0 ] && [ -f "$T/broker.log" ]; then
		echo "---- broker log (last 60 lines) ----" >&2
		tail -n 60 "$T/broker.log" >&2
	fi
	jobs -p | xargs -r kill 2>/dev/null
	[ -n "$BROKER_PID" ] && kill -9 "$BROKER_PID" 2>/dev/null
	# Workers die with the broker (PR_SET_PDEATHSIG).
	# What still runs in a namespace (a test's server it did not reap)
	# would keep the test's output open after it ends: killed first.
	for ns in "${NAMESPACES[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	umount "$T/pins" 2>/dev/null
	umount /run/netns 2>/dev/null
	rm -rf "$T"
	if [ "$rc" = 0 ]; then cub_log "PASS"; else cub_log "FAIL (exit $rc)"; fi
	exit "$rc"
}
trap cub_cleanup EXIT

fail() {
	cub_log "FAIL: $*"
	exit 1
}

need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null ||
			fail "'$t' is not installed (the README's install command installs it)"
	done
}
need ip tc ping unshare timeout

ip link set lo up
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
mkdir -p /run/netns
mount -t tmpfs cubicle-netns /run/netns

# cub ARGS...: the CLI against this test's broker; stdin never read.
cub() {
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null
}

# cub_ok ARGS...: run the CLI, fail the test if it fails.
cub_ok() {
	local out
	if ! out=$(cub "$@" 2>&1); then
		fail "cubicle $*: $out"
	fi
	[ -z "$out" ] || printf '%s\n' "$out"
}

# cub_refused CODE ARGS...: the CLI must fail with exit CODE; prints stderr.
cub_refused() {
	local want=$1 rc=0 err
	shift
	err=$(cub "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$want" ] || fail "cubicle $*: exit $rc, expected $want ($err)"
	printf '%s\n' "$err"
}

# The plugin directory of this test: links to the plugins it wants.
PLUGINS=("$CUB_BUILD/plugins/simpleforwarder/simpleforwarder.so")

broker_start() {
	mkdir -p "$T/plugins" "$T/s" "$T/st"
	local p
	for p in "${PLUGINS[@]}"; do ln -sf "$p" "$T/plugins/"; done
	"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
		--pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$CUB_BUILD/workers/cubicle-worker" \
		${CUB_BROKER_ARGS:-} >>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
	broker_wait_ready
}

# broker_start_refused PATTERN: start the broker as broker_start does and
# succeed when it refuses to start (exit 1, PATTERN in its log), fail if
# it exits otherwise; when it gets ready instead, return 1 with it
# running (the caller then shows what the start it took means).
broker_start_refused() {
	local rc=0 _
	mkdir -p "$T/plugins" "$T/s" "$T/st"
	for _ in "${PLUGINS[@]}"; do ln -sf "$_" "$T/plugins/"; done
	"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
		--pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$CUB_BUILD/workers/cubicle-worker" \
		${CUB_BROKER_ARGS:-} >>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
	for _ in $(seq 1 100); do
		kill -0 "$BROKER_PID" 2>/dev/null || break
		cub show cubes >/dev/null 2>&1 && break
		sleep 0.1
	done
	if kill -0 "$BROKER_PID" 2>/dev/null; then
		broker_wait_ready
		return 1
	fi
	wait "$BROKER_PID" || rc=$?
	BROKER_PID=
	[ "$rc" = 1 ] && grep -qE "$1" "$T/broker.log" && return 0
	fail "the broker exited $rc, not naming '$1': $(tail -3 "$T/broker.log")"
}

# broker_stop [SECONDS]: SIGTERM the broker and wait (default 10 s) for it
# to exit; fails if it does not.
broker_stop() {
	kill -TERM "$BROKER_PID"
	for _ in $(seq 1 $((${1:-10} * 10))); do
		kill -0 "$BROKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$BROKER_PID" 2>/dev/null; then
		fail "cubicled ignores SIGTERM (still running after ${1:-10} s)"
	fi
	BROKER_PID=
}

# The broker's fd count, polled: its connections and objects close on
# other threads (nng's, a load's), later on a busy machine.
# fds_below N [SECONDS]: wait (default 10 s) until the broker holds fewer
# than N fds.  fds_settled: wait (10 s) until the count holds still for
# half a second.  Both set nfd to the last count.
fds_below() {
	local i
	for i in $(seq 1 $((${2:-10} * 10))); do
		nfd=$(ls "/proc/$BROKER_PID/fd" | wc -l)
		[ "$nfd" -lt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

fds_settled() {
	local last=-1 same=0 i
	for i in $(seq 1 100); do
		nfd=$(ls "/proc/$BROKER_PID/fd" | wc -l)
		if [ "$nfd" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 5 ] && return 0
		else
			same=0
			last=$nfd
		fi
		sleep 0.1
	done
	return 1
}

# Wait until every service's worker is up and re-synced.
broker_wait_ready() {
	local i
	for i in $(seq 1 200); do
		local svcs
		svcs=$(cub services -o json 2>/dev/null || true)
		if grep -q '"status"' <<<"$svcs" && ! grep -q '"starting"' <<<"$svcs"; then
			return 0
		fi
		kill -0 "$BROKER_PID" 2>/dev/null || fail "cubicled exited"
		sleep 0.05
	done
	fail "cubicled not ready after 10 s"
}

# worker_pid SERVICE
# The upgrade tests' two namespaces, ca (198.18.0.1) and cb
# (198.18.0.2), through a cube on vetha/vethb:
# pings: one ping from ca answered, of up to three (a loaded machine
# loses one now and then); no_pings: none of two is; filters: how many
# bpf programs vetha's tc ingress runs.
pings() {
	local i
	for i in 1 2 3; do
		ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null && return 0
	done
	return 1
}
no_pings() {
	! ip netns exec ca ping -c 2 -i 0.2 -W 1 198.18.0.2 >/dev/null
}
filters() {
	tc filter show dev vetha ingress | grep -c ' id [0-9]' || true
}

# The sanitizers the build's libraries were built with, for a test that
# compiles a program against them (the ASan+UBSan run: the runtime must
# come first, so the program is built with it too).
# (ldd's output whole, not piped into grep -q: under pipefail ldd dies
# of SIGPIPE when grep stops early, and the pipeline fails.)
case "$(ldd "$CUB_BUILD/sdk/libcubicle.so" 2>/dev/null)" in
*libasan*) CUB_SAN_CFLAGS="-fsanitize=address,undefined" ;;
*) CUB_SAN_CFLAGS= ;;
esac

# wait_log N PATTERN: until the broker log has N lines matching PATTERN
# (grep -E), at most 60 s by the clock; fails naming PATTERN otherwise.
wait_log() {
	local n=0 end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		n=$(grep -cE "$2" "$T/broker.log" || true)
		[ "$n" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "the broker log has $n of $1 lines matching '$2': $(tail -15 "$T/broker.log")"
}

worker_pid() {
	cub services -o json | awk -v s="\"$1\"" '
		/"name"/ { name = $2; sub(",", "", name) }
		/"pid"/ { pid = $2; sub(",", "", pid); if (name == s) print pid }'
}

# netns_host NAME IFNAME ADDR: a namespace NAME whose eth0 (ADDR/24) is the
# peer of IFNAME in the test's namespace.  Names are private to the test.
netns_host() {
	local ns=$1 ifname=$2 addr=$3
	ip netns add "$ns"
	NAMESPACES+=("$ns")
	# No IPv6 chatter (router solicitations, MLD, DAD): counters count
	# only what a test sends.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip link add "$ifname" type veth peer name eth0 netns "$ns"
	ip link set "$ifname" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
}

# links_gone IFNAME...: wait (10 s) until the links are gone.  A veth
# whose peer was in a namespace just deleted goes with it, but the kernel
# destroys that namespace later, on a work queue: a new link of the same
# name made at once gets "File exists" on a busy machine.
links_gone() {
	local i d left
	for i in $(seq 1 100); do
		left=
		for d in "$@"; do
			ip link show dev "$d" >/dev/null 2>&1 && left="$left $d"
		done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	fail "links still there 10 s after their namespaces went:$left"
}

# static_arp NS1 IP1 NS2 IP2: permanent neighbour entries both ways, so no
# ARP packet crosses the cube while a test counts.
static_arp() {
	local mac1 mac2
	mac1=$(ip -n "$1" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
	mac2=$(ip -n "$3" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
	ip -n "$1" neigh replace "$4" lladdr "$mac2" dev eth0 nud permanent
	ip -n "$3" neigh replace "$2" lladdr "$mac1" dev eth0 nud permanent
}

# host_peer NS HOSTDEV NSADDR HOSTADDR: namespace NS on a veth whose host
# end HOSTDEV has HOSTADDR/24, with static neighbours both ways (no ARP
# through the cubes a test attaches to HOSTDEV).
host_peer() {
	local mac_ns mac_host
	netns_host "$1" "$2" "$3"
	ip addr add "$4/24" dev "$2"
	mac_ns=$(ip -n "$1" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
	mac_host=$(ip -o link show "$2" | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
	ip -n "$1" neigh replace "$4" lladdr "$mac_host" dev eth0 nud permanent
	ip neigh replace "$3" lladdr "$mac_ns" dev "$2" nud permanent
}

# napi_on NS: a veth that XDP redirects into needs NAPI on its peer
# (pitfall 5): turn GRO on for the namespace side.
napi_on() {
	ip netns exec "$1" ethtool -K eth0 gro on >/dev/null 2>&1 ||
		fail "ethtool -K eth0 gro on failed in $1"
}

# netns_hosts HOOK NS:IFNAME:ADDR...: netns_host NS IFNAME ADDR for each,
# then, unless HOOK is TC, NAPI on each namespace (needs ethtool).
netns_hosts() {
	local hook=$1 h ns ifname addr
	shift
	for h in "$@"; do
		IFS=: read -r ns ifname addr <<<"$h"
		netns_host "$ns" "$ifname" "$addr"
	done
	if [ "$hook" != TC ]; then
		need ethtool
		for h in "$@"; do
			napi_on "${h%%:*}"
		done
	fi
}

# refused_unchanged [-i] REGEX ARGS...: cubicle ARGS is refused with exit 2
# and a message matching REGEX (-i: in any case), and the test's own
# snapshot function still prints $before: nothing changed.
refused_unchanged() {
	local flags=-qE re err
	if [ "$1" = -i ]; then
		flags=-qiE
		shift
	fi
	re=$1
	shift
	err=$(cub_refused 2 "$@")
	grep "$flags" -- "$re" <<<"$err" || fail "cubicle $*: message '$err' does not match /$re/"
	[ "$(snapshot)" = "$before" ] || fail "cubicle $* changed state"
	cub_log "refused as expected: cubicle $* -> $err"
}

# port_counter CUBE PORT FIELD
port_counter() {
	cub "$1" ports "$2" show "$3"
}
