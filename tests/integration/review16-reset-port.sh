#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review16 (issue 8, SDK: counters "reset", cub_action__reset_counters):
# the SDK's reset action ignores its path.  CUB_ACTION_RESET is a plain
# struct cub_action; an author who puts it on the ports list (a port's own
# `cubicle h0 ports p1 reset`, the natural place) with
# .action_config = cub_action__reset_counters gets every port's counters
# and the cube's zeroed: p2 loses its counts when p1 is reset.  Wanted:
# a reset on a port zeroes that port's counters only (or the helper
# refuses a path it does not handle, naming it).  Against the fake, with
# examples/hello with its reset moved to the ports list (no root).
. "$(dirname "$0")/../lib/netns.sh"
need cc pkg-config
SRC=$(cd "$CUB_LIB/../.." && pwd)
B=$CUB_BUILD
[ -f "$B/tests/hello.skel.h" ] || fail "no $B/tests/hello.skel.h (the example's skeleton)"
sed -e 's|^static const struct cub_field schema\[\] = {|static const struct cub_action port_actions[] = {CUB_ACTION_RESET, {0}};\n&|' \
	-e 's|\.children = port_fields,|&\n\t.actions = port_actions,|' \
	"$SRC/examples/hello/hello.c" >"$T/hello.c"
grep -q "\.actions = port_actions" "$T/hello.c" || fail "the edit of hello.c did not apply"
cp "$SRC/examples/hello/hello.h" "$T/"
cat >"$T/t.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cubicle/fake.h"
#include "hello.h"
extern const struct cub_plugin cub_plugin_entry;
static struct cub_fake *f;
static struct hello_stats *
st(uint32_t index, uint32_t cpu)
{
	return cub_fake__elem(f, "h0", "hello_stats", &index, cpu);
}
int
main(void)
{
	uint32_t cpu, port;
	int r;

	if (!(f = cub_fake__new(&cub_plugin_entry, 2)) ||
	    cub_fake__create(f, "h0", "ports:\n  - name: p1\n  - name: p2\n")) {
		fprintf(stderr, "create: %s\n", f ? cub_fake__error(f) : "");
		return 2;
	}
	for (cpu = 0; cpu < 2; cpu++)
		for (port = 0; port < 2; port++)
			st(port, cpu)->rx_packets = 5;
	r = cub_fake__cmd(f, "h0 ports p1 reset", NULL);
	printf("reset %d %s\n", r, r ? cub_fake__error(f) : "");
	printf("p1 %llu p2 %llu\n",
	    (unsigned long long)(st(0, 0)->rx_packets + st(0, 1)->rx_packets),
	    (unsigned long long)(st(1, 0)->rx_packets + st(1, 1)->rx_packets));
	cub_fake__free(f);
	return 0;
}
C
cc $CUB_SAN_CFLAGS -std=gnu11 -o "$T/t" "$T/t.c" "$T/hello.c" -I"$T" -I"$B/tests" -I"$SRC/sdk/include" \
	-I"$SRC/bpf/include" -I"$B/sdk" $(pkg-config --cflags libbpf) -L"$B/sdk" \
	-lcubicle-fake -lcubicle $(pkg-config --libs libbpf) -Wl,-rpath,"$B/sdk" 2>"$T/cc.log" ||
	fail "cc: $(head -20 "$T/cc.log")"
out=$("$T/t" 2>&1) || fail "the fake program: $out"
cub_log "fake: $(tr '\n' ';' <<<"$out")"
grep -q "^reset 0 " <<<"$out" || exit 0 # refused, naming the path: fine
grep -qx "p1 0 p2 10" <<<"$out" ||
	fail "'h0 ports p1 reset' (CUB_ACTION_RESET, cub_action__reset_counters) did not zero p1 alone: $(grep '^p1' <<<"$out")"
