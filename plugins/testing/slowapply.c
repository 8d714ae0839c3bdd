// SPDX-License-Identifier: BSD-2-Clause
/*
 * slowapply30, slowapply5: test-only services whose apply sleeps
 * sleep_ms (a field of the cube) on every change but the create, and
 * that declare an apply timeout of SLOWAPPLY_MS (30 s or 5 s) in struct
 * cub_plugin (tests/integration/apply-timeout.sh).  Their object is
 * evil_ctr.bpf.c's (programs that pass everything).  Never installed.
 */
#include <time.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "evil_ctr.skel.h"

#ifndef SLOWAPPLY_MS
#error "build with -DSLOWAPPLY_MS=<ms> -DSLOWAPPLY_NAME=<name>"
#endif

static const struct cub_field slowapply_schema[] = {
    {.name = "sleep_ms",
	.type = CUB_T_U32,
	.help = "how long each apply after the create sleeps"},
    {0},
};

static int
slowapply_apply(
    struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct timespec ts;
	uint64_t ms = 0;
	const void *elf;
	size_t len;

	if (create) {
		elf = evil_ctr__elf_bytes(&len);
		return cub_cube__load(cube, elf, len);
	}
	cub_val__as_u64(cub_val__get(config, "sleep_ms"), &ms);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (ms && nanosleep(&ts, &ts))
		;
	return 0;
}

static const struct cub_plugin_ops slowapply_ops = {
    .apply = slowapply_apply,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = SLOWAPPLY_NAME,
    .description = "an apply that sleeps (tests only)",
    .cube_size = 8,
    .schema = slowapply_schema,
    .ops = &slowapply_ops,
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
    .apply_timeout_ms = SLOWAPPLY_MS,
};
