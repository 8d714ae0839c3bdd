#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review16 (issue 8, libcubicle-fake, after review14-fake-lpm's fix): an
# LPM_TRIE in the fake still does not answer as the kernel does.
#  - A full trie refuses a new prefix with -ENOSPC in the kernel
#    (trie_update_elem(): "n_entries == max_entries"), -E2BIG in the fake
#    (fmap_update_() answers as a hash map does): a control plane that
#    tells "table full" by its errno (ENOSPC, as lpm_trie says it) passes
#    its unit test and misreports against the broker, or the other way.
#  - Iteration (get_next_key, a dump): the kernel walks the trie
#    post-order, the longer prefix of two nested ones first; the fake
#    walks its slots in insertion order (fmap_next()).
# Both halves: the same calls against a kernel LPM_TRIE (bpftool, as
# root) and against the fake (fake_test.bpf.c's ft_lpm, 8 entries).
. "$(dirname "$0")/../lib/netns.sh"
need cc bpftool pkg-config
SRC=$(cd "$CUB_LIB/../.." && pwd)

# ---- The kernel ----
mkdir -p "$T/k"
mount -t bpf bpf "$T/k"
bpftool map create "$T/k/lpm" type lpm_trie key 8 value 4 entries 8 name r16lpm flags 1
bpftool map update pinned "$T/k/lpm" key 8 0 0 0 10 0 0 0 value 1 0 0 0
bpftool map update pinned "$T/k/lpm" key 24 0 0 0 10 0 0 0 value 2 0 0 0
korder=$(bpftool -j map dump pinned "$T/k/lpm" | python3 -c '
import json, sys
print(" ".join(str(int(e["key"][0], 16)) for e in json.load(sys.stdin)))')
for i in 1 2 3 4 5 6; do
	bpftool map update pinned "$T/k/lpm" key 32 0 0 0 198 18 0 $i value 1 0 0 0
done
kfull=$(bpftool map update pinned "$T/k/lpm" key 32 0 0 0 198 18 0 9 value 1 0 0 0 2>&1 || true)
umount "$T/k"
cub_log "kernel: dump order (prefixlens) '$korder'; a 9th prefix: $kfull"
grep -q "No space left on device" <<<"$kfull" && [ "$korder" = "24 8" ] ||
	fail "the kernel did not answer as this test expects"
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
    .abi = CUB_PLUGIN_ABI, .name = "r16lpm", .schema = schema, .ops = &ops,
    .policy = {.prog_types = 1u << BPF_PROG_TYPE_SCHED_CLS | 1u << BPF_PROG_TYPE_XDP,
	.map_types = 1ull << BPF_MAP_TYPE_HASH | 1ull << BPF_MAP_TYPE_ARRAY |
		     1ull << BPF_MAP_TYPE_PERCPU_ARRAY | 1ull << BPF_MAP_TYPE_LPM_TRIE |
		     1ull << BPF_MAP_TYPE_QUEUE | 1ull << BPF_MAP_TYPE_STACK |
		     1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS | 1ull << BPF_MAP_TYPE_RINGBUF,
	.max_map_bytes = 4u << 20},
    CUB_PLUGIN_SIZES,
};
static int
count(const void *k, const void *v, void *ctx) { printf(" %u", *(const unsigned *)k); return 0; }

int
main(void)
{
	struct cub_fake *f = cub_fake__new(&pl, 2);
	struct { unsigned plen; unsigned char a[4]; } k8 = {8, {10, 0, 0, 0}},
	    k24 = {24, {10, 0, 0, 0}}, h = {32, {198, 18, 0, 0}};
	unsigned v = 1, i;
	int r;
	cub_map m;

	if (!f || cub_fake__create(f, "c1", "{}")) {
		fprintf(stderr, "create: %s\n", f ? cub_fake__error(f) : "no fake");
		return 2;
	}
	if (cub_cube__map(the_cube, "ft_lpm", &m))
		return 2;
	cub_map__update(the_cube, &m, &k8, &v, 0);
	cub_map__update(the_cube, &m, &k24, &v, 0);
	printf("order");
	cub_map__dump(the_cube, &m, count, NULL);
	printf("\n");
	for (i = 1; i <= 6; i++) {
		h.a[3] = (unsigned char)i;
		cub_map__update(the_cube, &m, &h, &v, 0);
	}
	h.a[3] = 9;
	r = cub_map__update(the_cube, &m, &h, &v, 0);
	printf("full %d %s\n", r, r == -ENOSPC ? "ENOSPC" : r == -E2BIG ? "E2BIG" : "other");
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
grep -qx "order 24 8" <<<"$out" || bad+=" a dump walks the /8 before the /24 it holds (the kernel: the /24 first);"
grep -qx "full -28 ENOSPC" <<<"$out" || bad+=" a full trie refuses a new prefix with $(grep full <<<"$out"), not -ENOSPC;"
[ -z "$bad" ] || fail "the fake's LPM_TRIE is not the kernel's:$bad"
