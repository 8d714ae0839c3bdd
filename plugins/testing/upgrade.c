// SPDX-License-Identifier: BSD-2-Clause
/*
 * upgrade: simpleforwarder with one more root field, "color", built three
 * ways to stand for a plugin upgraded in place
 * (tests/integration/services-reload.sh):
 *   upgrade_v1.so    ports + color
 *   upgrade_add.so   ports + color + tag   (-DUPG_ADD: a field added)
 *   upgrade_drop.so  ports                 (-DUPG_DROP: color dropped)
 *   upgrade_policy.so as upgrade_add, with a wider policy (-DUPG_POLICY)
 *   upgrade_default.so ports + color + level, whose default is 7
 *                    (-DUPG_DEFAULT: a field with a default added)
 *   upgrade_defpol.so as upgrade_default, with the wider policy
 *   upgrade_defnarrow.so as upgrade_default, with a policy too narrow for
 *                    any cube (-DUPG_NARROW: max_map_bytes 4096)
 *   upgrade_bad.so   ports + color + level, whose default "seven" is not
 *                    a number (-DUPG_BAD: a schema the broker refuses)
 * All of them are the service "upgrade": the test installs one as
 * upgrade.so, then replaces it with another.  Never installed.
 */
#define SF_NO_ENTRY
#include "simpleforwarder.c"

static const struct cub_field upg_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = sf_port_fields,
	.help = "ports of the cube"},
#ifndef UPG_DROP
    {.name = "color",
	.type = CUB_T_STR,
	.max = 32,
	.help = "a label (dropped by upgrade_drop)"},
#endif
#ifdef UPG_DEFAULT
    {.name = "level",
	.type = CUB_T_U32,
	.dflt = "7",
	.help = "a number with a default that upgrade_default adds"},
#endif
#ifdef UPG_BAD
    {.name = "level",
	.type = CUB_T_U32,
	.dflt = "seven",
	.help = "a default that does not parse: the schema is invalid"},
#endif
#ifdef UPG_ADD
    {.name = "tag",
	.type = CUB_T_STR,
	.max = 32,
	.help = "a label that upgrade_add adds"},
#endif
    {0},
};

static const struct cub_plugin_ops upg_ops = {
    .apply = sf_apply,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "upgrade",
    .description = "simpleforwarder whose schema changes (tests)",
    .cube_size = sizeof(struct sf_cube),
    .schema = upg_schema,
    .ops = &upg_ops,
#ifdef UPG_POLICY
    .policy =
	{
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |
			  (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 8u << 20, /* SF_POLICY's, doubled */
	},
#elif defined(UPG_NARROW)
    /* Too small for any cube's maps (the framework's alone need more). */
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
