# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# cubicle-gateway helpers for integration tests; source after netns.sh:
#
#   . "$(dirname "$0")/../lib/netns.sh"
#   . "$(dirname "$0")/../lib/gateway.sh"
#
# The broker must let nobody (65534) in: CUB_BROKER_ARGS="--socket-group
# 65534 --gateway-group 65534" and chmod 0711 "$T" (gateway_broker_args
# does both, before broker_start).

GW="$CUB_BUILD/gateway/cubicle-gateway"

gateway_broker_args() {
	CUB_BROKER_ARGS="--socket-group 65534 --gateway-group 65534 ${CUB_BROKER_ARGS:-}"
	chmod 0711 "$T" # nobody reaches $T/s
}

# gateway_start PORT [ARGS...]: a gateway as nobody on 127.0.0.1:PORT for
# this test's broker (more options in ARGS, a command before it in the
# array GW_WRAP, e.g. GW_WRAP=(prlimit --nofile=1024:1024 --)), its output
# in $T/gw-PORT.log; waits (30 s) until /metrics answers.  Sets GW_PID.
gateway_start() {
	local port=$1 url="http://127.0.0.1:$1/metrics"
	shift
	"${GW_WRAP[@]}" "$GW" --user nobody --socket-dir "$T/s" \
		--listen "127.0.0.1:$port" "$@" >>"$T/gw-$port.log" 2>&1 &
	GW_PID=$!
	for _ in $(seq 1 300); do
		curl -sf -o /dev/null "$url" && return 0
		kill -0 "$GW_PID" 2>/dev/null ||
			{ cat "$T/gw-$port.log" >&2; fail "the gateway on $port exited"; }
		sleep 0.1
	done
	cat "$T/gw-$port.log" >&2
	fail "no /metrics on port $port after 30 s"
}
GW_WRAP=()

# gw_sample PORT SAMPLE: the value of a sample line, e.g.
# gw_sample 9000 'cubicle_gateway_scrapes_total' or with its labels
# 'cubicle_gateway_connections_dropped_total{reason="evicted"}'.
gw_sample() {
	curl -sS "http://127.0.0.1:$1/metrics" | gw_pick "$2"
}
# gw_pick SAMPLE: the value of SAMPLE in the page on stdin (one scrape
# read for several samples: curl it into a file, then gw_pick <FILE).
gw_pick() {
	awk -v s="$1" '$1 == s { print $2; found = 1 } END { exit !found }'
}

# gw_sanitizer_check LOG...: a sanitizer report in a gateway's log fails.
gw_sanitizer_check() {
	if grep -E -A12 "runtime error|AddressSanitizer|LeakSanitizer" "$@" >&2; then
		fail "sanitizer reports from the gateway (above)"
	fi
}
