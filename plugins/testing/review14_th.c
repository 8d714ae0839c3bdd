// SPDX-License-Identifier: BSD-2-Clause
/*
 * review14 (tests/integration/review14-tretire.sh): the service
 * "transparenthelloworld" with a policy too narrow for any cube
 * (max_map_bytes 4096): an upgrade that narrows a transparent service's
 * policy.  Never installed.
 */
#define cub_plugin_entry review14_th_wide_entry
#include "transparenthelloworld.c"
#undef cub_plugin_entry

extern const struct cub_plugin cub_plugin_entry;
const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = TH_NAME,
    .description = "transparenthelloworld, policy too narrow (tests)",
    .cube_size = sizeof(struct th_cube),
    .schema = th_schema,
    .ops = &th_ops,
    .policy =
	{
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |
			  (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 4096,
	},
    .flags = CUB_PLUGIN_F_TRANSPARENT,
};
