// SPDX-License-Identifier: BSD-2-Clause
/*
 * review15_noload: the service "upgrade" (upgrade_v1's schema: ports +
 * color) whose worker never loads its object: its apply takes every
 * document and calls no bpf.load (a buggy plugin, or a hostile one that
 * wants the program it loaded under wider rules to run on).
 * -DR15_NARROW: with upgrade_defnarrow's policy (max_map_bytes 4096).
 * tests/integration/review15-retire-noload.sh.  Never installed.
 */
#define cub_plugin_entry review15_upgrade_entry /* upgrade.c's, unused */
#include "upgrade.c"
#undef cub_plugin_entry

static int
r15_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	(void)cube;
	(void)config;
	(void)create;
	return 0; /* no bpf.load, ever */
}

static const struct cub_plugin_ops r15_ops = {
    .apply = r15_apply,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "upgrade",
    .description = "upgrade whose worker never loads its object (tests)",
    .cube_size = sizeof(struct sf_cube),
    .schema = upg_schema,
    .ops = &r15_ops,
#ifdef R15_NARROW
    .policy =
	{
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |
			  (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 4096,
	},
#else
    .policy = SF_POLICY,
#endif
    CUB_PLUGIN_SIZES,
};
