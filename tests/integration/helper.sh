#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Helper processes (broker/helper.c, workers/helper.c): a worker runs a
# helper the administrator registered for its service, the broker starts
# it confined, its output reaches the worker; hostile helpers fail with a
# clear error, the broker and the worker survive, and nothing is left.
. "$(dirname "$0")/../lib/netns.sh"

H="$CUB_BUILD/plugins/testing/helper-echo"
[ -x "$CUB_BUILD/workers/cubicle-helper" ] || fail "no cubicle-helper"

# Bad registrations stop the broker before it starts, naming the fault.
bad() {
	local out rc=0
	out=$("$CUB_BUILD/broker/cubicled" --socket-dir "$T/bad" \
		--state-dir "$T/badst" --pin-root "$T/badpins" \
		--plugin-dir "$T/none" --helper "$1" 2>&1) || rc=$?
	[ "$rc" = 1 ] || fail "--helper '$1': exit $rc ($out)"
	grep -qF -- "$2" <<<"$out" || fail "--helper '$1': '$out' lacks '$2'"
	[ ! -e "$T/bad" ] || fail "--helper '$1': the broker made its sockets"
	cub_log "refused --helper '$1': $out"
}
bad "Echo=$H" "is not NAME=PATH"
bad "echo=relative/path" "is not an absolute path"
bad "echo=/nonexistent/helper" "No such file or directory"
bad "echo=/etc/passwd" "is not an executable file"
bad "echo=$H,colour=red" "unknown key 'colour'"
bad "echo=$H,timeout=20" "below --call-timeout"
bad "echo=$H,ro=/nonexistent" "'/nonexistent'"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
CUB_BROKER_ARGS="--helper echo=$H,service=evil,ro=/usr/share/zoneinfo
	--helper slow=$H,service=evil,timeout=3
	--helper sfonly=$H,service=simpleforwarder"
broker_start
cub_ok evil add e1
wpid=$(worker_pid evil)
wuid=$(awk '/^Uid:/ { print $2 }' "/proc/$wpid/status")

# The echo helper: its output reaches the worker (and the client).
r=$(cub e1 debug helper name=echo input=hello-helper -o json 2>&1) ||
	fail "echo: $r"
grep -qF 'HELLO-HELPER' <<<"$r" || fail "echo's output did not arrive: $r"
huid=$(grep -oE 'Uid:[^0-9]*[0-9]+' <<<"$r" | grep -oE '[0-9]+$')
[ -n "$huid" ] || fail "no Uid line: $r"
[ "$huid" != 0 ] || fail "the helper ran as root"
[ "$huid" != "$wuid" ] || fail "the helper ran as the worker's uid $wuid"
grep -qE 'CapEff:(\\t|[[:space:]])*0000000000000000' <<<"$r" ||
	fail "the helper has capabilities: $r"
cub_log "echo: uid $huid (worker $wuid), CapEff 0"
# Half a MiB through and back.
r=$(cub e1 debug helper name=echo input=abcdefgh repeat=65536 -o json) ||
	fail "echo 512 KiB: $r"
n=$(grep -oE '"bytes": [0-9]+' <<<"$r" | grep -oE '[0-9]+$')
[ "$n" -gt 524288 ] || fail "512 KiB in, $n bytes out"
cub_log "512 KiB through the helper: $n bytes back"

# hostile NAME WANT...: the run fails, the error names what happened.
hostile() {
	local m=$1 err w
	shift
	err=$(cub_refused 2 e1 debug helper name=echo input=mode:$m)
	for w in "$@"; do
		grep -qE -- "$w" <<<"$err" || fail "mode $m: '$err' lacks '$w'"
	done
	cub_log "mode $m: $err"
}
hostile inet "socket\\(AF_INET\\): (Operation not permitted|Permission denied)"
hostile shadow "open /etc/shadow: (No such file or directory|Permission denied)"
hostile write "create /helper.out: (Read-only file system|Permission denied)"
# Landlock: the root directory itself is not among its paths.
hostile lsroot "opendir /: Permission denied"
# Its own network namespace: lo only, whatever the test's host has.
ip link add hveth0 type veth peer name hveth1
r=$(cub e1 debug helper name=echo input=mode:net -o json 2>&1) || fail "net: $r"
grep -qF 'netdev lo' <<<"$r" || fail "net: no lo: $r"
! grep -qF 'hveth' <<<"$r" || fail "the helper sees the host's netdevs: $r"
cub_log "the helper's netdevs: $(grep -oE 'netdev [a-z0-9]+' <<<"$r" | tr '\n' ' ')"
ip link del hveth0
r=$(cub e1 debug helper name=echo input=mode:work -o json 2>&1) ||
	fail "work: $r"
grep -qF 'wrote work/scratch' <<<"$r" || fail "work dir not writable: $r"
hostile forkbomb "fork refused after [0-9]+: Resource temporarily unavailable"
hostile huge "output past 1048576 bytes refused"
# Names: an unregistered one, and one of another service.
err=$(cub_refused 2 e1 debug helper name=nosuch input=x)
grep -qF "no helper 'nosuch' is registered" <<<"$err" || fail "nosuch: $err"
err=$(cub_refused 2 e1 debug helper name=sfonly input=x)
grep -qF "helper 'sfonly' is not registered for service 'evil'" <<<"$err" ||
	fail "sfonly: $err"
cub_log "refused: $err"

# An endless helper is killed at its timeout; meanwhile the broker answers.
cub e1 debug helper name=slow input=mode:loop >"$T/loop.out" 2>&1 &
loop=$!
for _ in $(seq 1 100); do
	pgrep -f '^/helper$' >/dev/null && break
	sleep 0.1
done
pgrep -f '^/helper$' >/dev/null || fail "the looping helper never started"
timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" show cubes \
	</dev/null >/dev/null || fail "show cubes took over 5 s during a helper"
rc=0
wait "$loop" || rc=$?
[ "$rc" = 2 ] || fail "loop: exit $rc: $(cat "$T/loop.out")"
grep -qF "killed after its 3 s timeout" "$T/loop.out" ||
	fail "loop: $(cat "$T/loop.out")"
cub_log "loop: $(cat "$T/loop.out")"

# The broker and the same worker survived all of it, and still serve.
kill -0 "$BROKER_PID" || fail "the broker died"
[ "$(worker_pid evil)" = "$wpid" ] || fail "the worker was restarted"
r=$(cub e1 debug helper name=echo input=still-here -o json) || fail "$r"
grep -qF 'STILL-HERE' <<<"$r" || fail "echo after the hostile runs: $r"
# No process of any helper is left (fork bomb children included).
for _ in $(seq 1 100); do
	pgrep -f '^/helper$' >/dev/null || pgrep -x cubicle-helper >/dev/null ||
		break
	sleep 0.1
done
! pgrep -f '^/helper$' >/dev/null || fail "helper processes left: $(pgrep -af '^/helper$')"
! pgrep -x cubicle-helper >/dev/null || fail "launchers left"
cub_log "no helper process left"
