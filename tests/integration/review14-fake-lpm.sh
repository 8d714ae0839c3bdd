#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review14 (issue 8, libcubicle-fake): an LPM_TRIE in the fake does not
# answer as the kernel does.  The kernel matches an LPM key on its first
# prefixlen bits only: {24, 10.0.0.5} and {24, 10.0.0.7} are one entry
# (the second update replaces the first, a delete of {24, 10.0.0.9}
# removes it, and a full trie takes the replacing update).  The fake
# compares whole keys (fmap_find()'s memcmp): two entries, the delete
# -ENOENT, the update of a full trie -E2BIG.  An author whose control
# plane writes prefixes with host bits set (a rule's "10.0.0.5/24"), or
# deletes by another address of the prefix, passes the unit test and
# fails (or leaks entries) against the broker.
# Both halves here: the same three calls against a kernel LPM_TRIE
# (bpftool, as root) and against the fake (fake_test.bpf.c's ft_lpm, an
# LPM_TRIE of 8 entries, through a plugin of this test).
. "$(dirname "$0")/../lib/netns.sh"
need cc bpftool pkg-config
SRC=$(cd "$CUB_LIB/../.." && pwd)

# ---- The kernel ----
mkdir -p "$T/k"
mount -t bpf bpf "$T/k"
bpftool map create "$T/k/lpm" type lpm_trie key 8 value 4 entries 1 name r14lpm flags 1
bpftool map update pinned "$T/k/lpm" key 24 0 0 0 10 0 0 5 value 1 0 0 0
bpftool map update pinned "$T/k/lpm" key 24 0 0 0 10 0 0 7 value 2 0 0 0 ||
	fail "kernel: the update of the same /24 into a full trie was refused"
kn=$(bpftool map dump pinned "$T/k/lpm" | grep -c '^key' || true)
bpftool map delete pinned "$T/k/lpm" key 24 0 0 0 10 0 0 9 || fail "kernel: delete by another host of the /24"
kd=$(bpftool map dump pinned "$T/k/lpm" | grep -c '^key' || true)
umount "$T/k"
cub_log "kernel: one entry after both updates ($kn), none after the delete ($kd)"
[ "$kn" = 1 ] && [ "$kd" = 0 ] || fail "the kernel did not answer as this test expects"

# ---- The fake ----
cat >"$T/lpm.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <linux/bpf.h>
#include "cubicle/fake.h"
#include "fake_test.skel.h"

static struct cub_cube *the_cube;
static const struct cub_field schema[] = {{0}};
static int
apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	size_t len;
	const void *elf = fake_test__elf_bytes(&len);

	the_cube = cube;
	return create ? cub_cube__load(cube, elf, len) : 0;
}
static const struct cub_plugin_ops ops = {.apply = apply};
static const struct cub_plugin pl = {
    .abi = CUB_PLUGIN_ABI, .name = "r14lpm", .schema = schema, .ops = &ops,
    .policy = {.prog_types = 1u << BPF_PROG_TYPE_SCHED_CLS | 1u << BPF_PROG_TYPE_XDP,
	.map_types = 1ull << BPF_MAP_TYPE_HASH | 1ull << BPF_MAP_TYPE_ARRAY |
		     1ull << BPF_MAP_TYPE_PERCPU_ARRAY | 1ull << BPF_MAP_TYPE_LPM_TRIE |
		     1ull << BPF_MAP_TYPE_QUEUE | 1ull << BPF_MAP_TYPE_STACK |
		     1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS | 1ull << BPF_MAP_TYPE_RINGBUF,
	.max_map_bytes = 4u << 20},
    CUB_PLUGIN_SIZES,
};
static int n;
static int
count(const void *k, const void *v, void *ctx) { n++; return 0; }

int
main(void)
{
	struct cub_fake *f = cub_fake__new(&pl, 2);
	struct { unsigned plen; unsigned char a[4]; } k5 = {24, {10, 0, 0, 5}},
	    k7 = {24, {10, 0, 0, 7}}, k9 = {24, {10, 0, 0, 9}}, fill = {32, {0}};
	unsigned v = 1, i;
	int r;
	cub_map m;

	if (!f || cub_fake__create(f, "c1", "{}")) {
		fprintf(stderr, "create: %s\n", f ? cub_fake__error(f) : "no fake");
		return 2;
	}
	if (cub_cube__map(the_cube, "ft_lpm", &m))
		return 2;
	cub_map__update(the_cube, &m, &k5, &v, 0);
	v = 2;
	cub_map__update(the_cube, &m, &k7, &v, 0);
	cub_map__dump(the_cube, &m, count, NULL);
	printf("entries %d\n", n);
	r = cub_map__delete(the_cube, &m, &k9);
	n = 0;
	cub_map__dump(the_cube, &m, count, NULL);
	printf("delete %d entries %d\n", r, n);
	/* A full trie (8 entries: k5 and 7 /32s), then k7 again. */
	cub_map__delete(the_cube, &m, &k7);
	cub_map__update(the_cube, &m, &k5, &v, 0);
	for (i = 1; i < 8; i++) {
		fill.a[3] = (unsigned char)i;
		cub_map__update(the_cube, &m, &fill, &v, 0);
	}
	r = cub_map__update(the_cube, &m, &k7, &v, 0);
	printf("full %d\n", r);
	cub_fake__free(f);
	return 0;
}
C
B=$CUB_BUILD
cc $CUB_SAN_CFLAGS -std=gnu11 -o "$T/lpm" "$T/lpm.c" -I"$SRC/sdk/include" -I"$SRC/bpf/include" -I"$B/sdk" \
	$(pkg-config --cflags libbpf) -L"$B/sdk" -lcubicle-fake -lcubicle \
	$(pkg-config --libs libbpf) -Wl,-rpath,"$B/sdk" 2>"$T/cc.log" ||
	fail "cc: $(head -20 "$T/cc.log")"
out=$("$T/lpm" 2>&1) || fail "the fake program: $out"
cub_log "fake: $(tr '\n' ';' <<<"$out")"
bad=
grep -qx "entries 1" <<<"$out" || bad+=" {24,10.0.0.5} and {24,10.0.0.7} are two entries, not one;"
grep -qx "delete 0 entries 0" <<<"$out" || bad+=" a delete of {24,10.0.0.9} does not remove the /24;"
grep -qx "full 0" <<<"$out" || bad+=" a full trie refuses the update of a /24 it holds;"
[ -z "$bad" ] || fail "the fake's LPM_TRIE is not the kernel's:$bad"
