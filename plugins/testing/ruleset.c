/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ruleset: a test-only service with a big keyed list and no data plane,
 * for the tree engine through the broker at issue 7's sizes (a 10k-entry
 * --file load, one-entry sets, paged shows).  simpleforwarder's ports are
 * capped by CUB_MAX_PORTS, so it cannot hold such a list.  apply counts
 * the rules it was handed, and show reports that count as a ro field, so
 * a test sees what the worker got.  The broker wants a program per cube:
 * it loads simpleforwarder's object and never writes its maps, so every
 * packet is dropped (the cube has no ports anyway).
 */
#include <stdint.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "simpleforwarder.skel.h"

static const char *const rule_actions[] = {"drop", "forward", "log", NULL};

static const struct cub_field rule_fields[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "rule id"},
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = rule_actions,
	.dflt = "drop",
	.help = "what to do"},
    {.name = "src", .type = CUB_T_IPV4_PREFIX, .help = "source prefix"},
    {.name = "hits", .type = CUB_T_U64, .flags = CUB_F_RO, .help = "hits"},
    {0},
};

static const struct cub_field ruleset_schema[] = {
    {.name = "rules",
	.type = CUB_T_LIST,
	.children = rule_fields,
	.help = "the rules, in order"},
    {.name = "applied",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "rules in the last configuration the worker applied"},
    {0},
};

struct rs_cube {
	uint32_t applied;
};

static int
rs_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	const struct cub_val *rules = cub_val__get(config, "rules");
	struct rs_cube *rs = cub_cube__priv(cube);

	size_t len;
	const void *elf = simpleforwarder__elf_bytes(&len);
	int r;

	if (create && (r = cub_cube__load(cube, elf, len)))
		return r;
	rs->applied = rules && rules->kind == CUB_V_ARRAY ? rules->arr.len : 0;
	return 0;
}

static int
rs_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct rs_cube *rs = cub_cube__priv(cube);

	(void)config;
	return cub_val__set(overlay, "applied", cub_val__uint(rs->applied));
}

static const struct cub_plugin_ops rs_ops = {
    .apply = rs_apply,
    .show = rs_show,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "ruleset",
    .description = "a big keyed list and no data plane (tests)",
    .cube_size = sizeof(struct rs_cube),
    .schema = ruleset_schema,
    .ops = &rs_ops,
    .policy =
	{
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |
			  (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 4u << 20,
	},
};
