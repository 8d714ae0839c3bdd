#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cubicle-dynmon-cc as the broker runs it (broker/helper.c): registered
# with --helper, run through the evil plugin's helper action (the input
# and the output as hex), confined in the helper sandbox with the ro=
# list docs/architecture.md gives.  The packet counter compiles to a
# loadable ELF; #include "/etc/shadow" fails without the file's content;
# a macro bomb is stopped by the sandbox's limits while the broker answers; a
# syntax error comes back with the user's line.
. "$(dirname "$0")/../lib/netns.sh"

D="$CUB_BUILD/plugins/dynmon"
LOAD="$D/dmcc-load"
SRC="$(dirname "$0")/../../plugins/dynmon"
[ -x "$D/cubicle-dynmon-cc" ] || fail "no cubicle-dynmon-cc"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
CUB_BROKER_ARGS="--call-timeout 15000
	--helper dynmon-cc=$D/cubicle-dynmon-cc,service=evil,ro=/usr/lib/llvm-14:/usr/include,timeout=8"
broker_start
cub_ok evil add e1

hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }
# run NAME: $T/NAME.in through the helper; output hex in $T/NAME.out
run() {
	cub e1 debug helper name=dynmon-cc hex=true input="$(hexof "$T/$1.in")" \
		-o json >"$T/$1.json" 2>"$T/$1.err"
}

# The packet counter: a loadable ELF that counts.
"$LOAD" --input TC "$SRC/examples/packet_counter.json" >"$T/pc.in"
t0=$(date +%s%N)
run pc || fail "packet counter: $(cat "$T/pc.err")"
t1=$(date +%s%N)
python3 -c 'import json,sys; sys.stdout.buffer.write(bytes.fromhex(json.load(open(sys.argv[1]))["output"]))' \
	"$T/pc.json" >"$T/pc.o" || fail "no output: $(cat "$T/pc.json")"
[ "$(head -c4 "$T/pc.o" | od -An -c | tr -d ' ')" = '177ELF' ] ||
	fail "not an ELF: $(head -c 200 "$T/pc.json")"
out=$("$LOAD" "$T/pc.o" --runs 3 --dump i_PKT_COUNTER) || fail "load: $out"
grep -qxF "map i_PKT_COUNTER 00000000 0300000000000000" <<<"$out" ||
	fail "the sandbox's object does not count: $out"
cub_log "packet counter compiled in the sandbox in $(( (t1 - t0) / 1000000 )) ms (CLI round trip), loads and counts"

# err NAME WANT...: the run fails (exit 2), the message has each WANT.
err() {
	local n=$1 w
	shift
	! run "$n" || fail "$n: accepted"
	for w in "$@"; do
		grep -qE -- "$w" "$T/$n.err" || fail "$n: '$(cat "$T/$n.err")' lacks '$w'"
	done
	cub_log "$n: $(head -3 "$T/$n.err" | tr '\n' ' ')"
}
mkin() { printf '%s' "$2" >"$T/$1.json.src"; "$LOAD" --input TC "$T/$1.json.src" >"$T/$1.in"; }

# A hostile include: refused, and nothing of the file comes back.
mkin shadow '{"ingress-path": {"code": "#include \"/etc/shadow\"\nstatic int handle_rx(struct CTXTYPE *c, struct pkt_metadata *m) { return RX_OK; }"}}'
err shadow "ingress: line 1:" "/etc/shadow' file not found|Permission denied"
root_hash=$(awk -F: '$1 == "root" { print $2 }' /etc/shadow)
! grep -qF "root:" "$T/shadow.err" || fail "shadow: the file's content came back"
[ -z "$root_hash" ] || ! grep -qF -- "$root_hash" "$T/shadow.err" ||
	fail "shadow: root's hash came back"

# A syntax error: the user's line.
mkin syn '{"egress-path": {"code": "BPF_ARRAY(c, u64, 1);\nstatic int\nhandle_rx(struct CTXTYPE *ctx,\n    struct pkt_metadata *md)\n{\n\tu32 k = 0;\n\tu64 *v = c.lookup(&k)\n\tif (v) *v += 1;\n\treturn RX_OK;\n}\n"}}'
err syn "egress: line 7:[0-9]+: error: expected ';'"

# A macro bomb: 2^40 expansions; stopped by the sandbox's limits while
# the broker answers.
bomb='#define A0 x x\n'
for i in $(seq 1 40); do bomb+="#define A$i A$((i - 1)) A$((i - 1))\n"; done
mkin bomb "{\"ingress-path\": {\"code\": \"${bomb}int y = sizeof(A40);\nstatic int handle_rx(struct CTXTYPE *c, struct pkt_metadata *m) { return RX_OK; }\"}}"
run bomb &
bpid=$!
# Its clang: a grandchild of this broker's launcher (other sessions run
# clangs of their own on this machine).
our_clangs() {
	local l h
	for l in $(pgrep -P "$BROKER_PID" -x cubicle-helper); do
		for h in $(pgrep -P "$l"); do
			pgrep -P "$h" -f "llvm-14/bin/clang"
		done
	done
}
cpid=
for _ in $(seq 1 100); do
	cpid=$(our_clangs | head -1)
	[ -z "$cpid" ] || break
	sleep 0.1
done
[ -n "$cpid" ] || fail "bomb: no clang seen"
huid=$(stat -c %u "/proc/$cpid")
[ "$huid" != 0 ] || fail "bomb: clang runs as root"
timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" show cubes \
	</dev/null >/dev/null || fail "show cubes took over 5 s during the bomb"
rc=0
wait "$bpid" || rc=$?
[ "$rc" != 0 ] || fail "bomb: accepted"
# Stopped by a limit either way: the 8 s timeout, or (on a quiet
# machine, before the timeout) the sandbox's 2 GiB address space, which
# makes clang's frontend abort (exit code 134).
grep -qE "killed after its 8 s timeout|frontend command failed with exit code 134" \
	"$T/bomb.err" || fail "bomb: $(cat "$T/bomb.err")"
cub_log "bomb (clang uid $huid): $(cat "$T/bomb.err")"
# An endless include (the file includes itself): stopped by clang.
mkin self '{"ingress-path": {"code": "#include __FILE__\nstatic int handle_rx(struct CTXTYPE *c, struct pkt_metadata *m) { return RX_OK; }"}}'
err self "ingress: line 1:.*(nested too deeply|file not found)"

# Still serving, and nothing of the helpers left.
kill -0 "$BROKER_PID" || fail "the broker died"
run pc || fail "after the hostile runs: $(cat "$T/pc.err")"
for _ in $(seq 1 100); do
	pgrep -u "$huid" -f "llvm-14/bin/clang" >/dev/null ||
		pgrep -P "$BROKER_PID" -x cubicle-helper >/dev/null || break
	sleep 0.1
done
! pgrep -u "$huid" -f "llvm-14/bin/clang" >/dev/null ||
	fail "a clang of the helper's uid $huid is left"
! pgrep -P "$BROKER_PID" -x cubicle-helper >/dev/null || fail "a launcher is left"
cub_log "PASS"
