// SPDX-License-Identifier: BSD-2-Clause
/*
 * refuser: a test-only service that refuses a cube's replay: an apply
 * with create = true is refused while this worker has refused fewer than
 * refuse_replays (a field of the cube) of the cube's.  The counts are the
 * worker's (a refused cube's private state goes with it), by cube name,
 * and a new worker starts at 0, so a test
 * sets refuse_replays=N, kills the worker or the broker, and the new
 * worker refuses the cube's next N replays
 * (tests/integration/replay-retry.sh).  The object is evil_ctr.bpf.c's
 * (programs that pass everything).  Never installed.
 */
#include <errno.h>
#include <stdio.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "evil_ctr.skel.h"

#include <string.h>

#define REFUSER_CUBES 16

/* Refusals so far, by cube name. */
static struct {
	char name[64];
	uint32_t refused;
} counts[REFUSER_CUBES];

static uint32_t *
refused_of(const char *name)
{
	unsigned i;

	for (i = 0; i < REFUSER_CUBES && counts[i].name[0]; i++)
		if (!strcmp(counts[i].name, name))
			return &counts[i].refused;
	if (i == REFUSER_CUBES)
		return NULL;
	snprintf(counts[i].name, sizeof(counts[i].name), "%s", name);
	return &counts[i].refused;
}

static const struct cub_field refuser_schema[] = {
    {.name = "refuse_replays",
	.type = CUB_T_U32,
	.help = "how many replays a new worker refuses for this cube"},
    {0},
};

static int
refuser_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	uint32_t *refused = refused_of(cub_cube__name(cube));
	uint64_t n = 0;
	const void *elf;
	size_t len;

	if (!create)
		return 0;
	cub_val__as_u64(cub_val__get(config, "refuse_replays"), &n);
	if (refused && *refused < n) {
		++*refused;
		return cub_cube__set_error(cube, CUB_E_BUSY,
		    "refuser: replay %u of %llu refused", *refused,
		    (unsigned long long)n);
	}
	elf = evil_ctr__elf_bytes(&len);
	return cub_cube__load(cube, elf, len);
}

static const struct cub_plugin_ops refuser_ops = {
    .apply = refuser_apply,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "refuser",
    .description = "refuses a cube's first replays (tests only)",
    .cube_size = 8,
    .schema = refuser_schema,
    .ops = &refuser_ops,
    .policy =
	{
	    .prog_types =
		(1u << BPF_PROG_TYPE_SCHED_CLS) | (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 4u << 20,
	},
};
