#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review16 (issue 8, `cubicle services` shows why a worker is not
# running): the "worker's own words" after last_exit are not the words of
# the worker that died.  last_words is cleared only at a hello, never at a
# spawn: a worker that ran well (said hello) and wrote an error line while
# serving, then was killed, leaves that line for every later worker that
# dies without a word.  Here: r16w.so's worker says hello, and its apply()
# of cube w1 logs "<3>r16: complaint of the good worker"; the package manager replaces
# r16w.so with a build that exits 7 in a constructor (silent), and the
# serving worker is kill -9'd.  Each new worker exits 7 before its hello
# and says nothing, yet `services` says
#   "last worker exited with 7: r16: complaint of the good worker".
. "$(dirname "$0")/../lib/netns.sh"
need cc python3
SRC=$(cd "$CUB_LIB/../.." && pwd)
PLUGINS=()
mkdir -p "$T/plugins"
cat >"$T/r16w.c" <<'C'
#include <stdio.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "cubicle/plugin.h"
#ifdef DIE
__attribute__((constructor)) static void die(void) { _exit(7); }
#endif
static const struct cub_field schema[] = {
    {.name = "color", .type = CUB_T_STR, .max = 32, .help = "a label"}, {0}};
static int
apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	fprintf(stderr, "<3>r16: complaint of the good worker\n");
	fflush(stderr);
	return 0;
}
static const struct cub_plugin_ops ops = {.apply = apply};
const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI, .name = "r16w", .description = "review16",
    .schema = schema, .ops = &ops,
    .policy = {.prog_types = 1u << BPF_PROG_TYPE_SCHED_CLS,
	.map_types = 1ull << BPF_MAP_TYPE_ARRAY, .max_map_bytes = 1u << 20},
    CUB_PLUGIN_SIZES,
};
C
CF=(-std=gnu11 -shared -fPIC -I"$SRC/sdk/include" -I"$SRC/bpf/include" -I"$CUB_BUILD/sdk" $(pkg-config --cflags libbpf))
cc "${CF[@]}" -o "$T/good.so" "$T/r16w.c" 2>"$T/cc.log" || fail "cc: $(head -5 "$T/cc.log")"
cc "${CF[@]}" -DDIE -o "$T/die.so" "$T/r16w.c" 2>"$T/cc.log" || fail "cc: $(head -5 "$T/cc.log")"
cp "$T/good.so" "$T/plugins/r16w.so"
broker_start
cub r16w add w1 color=red >/dev/null 2>&1 || true # refused (no program): its apply() complained
wait_log 1 'worker r16w\[[0-9]+\]: r16: complaint of the good worker'
field() {
	cub services -o json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == "r16w":
        print(s.get(sys.argv[1], ""))' "$1"
}
pid=$(worker_pid r16w)
[ -n "$pid" ] || fail "no worker: $(cub services)"
r0=$(field restarts)
cp "$T/die.so" "$T/plugins/.r16w.so.new"
mv -f "$T/plugins/.r16w.so.new" "$T/plugins/r16w.so"
kill -9 "$pid"
for _ in $(seq 1 300); do
	[ "$(field restarts)" -ge $((r0 + 3)) ] 2>/dev/null && break
	sleep 0.1
done
[ "$(field restarts)" -ge $((r0 + 3)) ] || fail "the silent workers did not die 3 times: $(cub services)"
n=$(grep -c 'r16: complaint of the good worker' "$T/broker.log")
[ "$n" = 1 ] || fail "the complaint was logged $n times, not once (the case under test)"
grep -q "service 'r16w': worker [0-9]* exited with 7" "$T/broker.log" ||
	fail "the new workers did not exit 7 (the case under test)"
why=$(field why)
cub_log "why: $why"
grep -q "complaint of the good worker" <<<"$why" &&
	fail "'services' gives a silent worker's death (exit 7) the words of the good worker killed before it: '$why'"
exit 0
