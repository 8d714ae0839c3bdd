// SPDX-License-Identifier: BSD-2-Clause
/* thello, control plane: a transparent service (`cubicle attach`), one
 * action per direction; the counters are read by the broker. */
#include <cubicle/plugin.h>

#include "thello.h"
#include "thello.skel.h"

static const char *const actions[] = {"PASS", "DROP", NULL}; /* THELLO_* */

#define STAT(n, dir, f, what)                                                  \
	{                                                                      \
		.name = n, .type = CUB_T_U64, .flags = CUB_F_RO, .help = what, \
		.counter = &(const struct cub_counter)                         \
		{                                                              \
			.map = "thello_stats", .key = (dir),                   \
			.offset = offsetof(struct thello_stats, f)             \
		}                                                              \
	}

static const struct cub_field schema[] = {
    {.name = "ingress-action",
	.type = CUB_T_ENUM,
	.enums = actions,
	.dflt = "PASS",
	.help = "PASS or DROP packets coming in"},
    {.name = "egress-action",
	.type = CUB_T_ENUM,
	.enums = actions,
	.dflt = "PASS",
	.help = "PASS or DROP packets going out"},
    STAT("ingress-packets", THELLO_INGRESS, packets, "packets coming in"),
    STAT("egress-packets", THELLO_EGRESS, packets, "packets going out"),
    STAT("ingress-drops", THELLO_INGRESS, drops, "packets in, dropped"),
    STAT("egress-drops", THELLO_EGRESS, drops, "packets out, dropped"),
    {0},
};

static int
thello_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	cub_map *map = cub_cube__priv(cube);
	uint32_t keys[] = {THELLO_INGRESS, THELLO_EGRESS}, acts[THELLO_DIRS];
	size_t len;
	const void *elf = thello__elf_bytes(&len); /* the object's bytes */
	int r;

	if (create &&
	    (r = cub_cube__load_map(cube, elf, len, "thello_actions", map)))
		return r;
	acts[THELLO_INGRESS] = cub_config__enum_index(
	    config, "ingress-action", actions, THELLO_PASS);
	acts[THELLO_EGRESS] = cub_config__enum_index(
	    config, "egress-action", actions, THELLO_PASS);
	return cub_map__update_batch(cube, map, keys, acts, THELLO_DIRS, 0);
}

/* `cubicle t0 reset`: both directions' counters back to zero. */
static const struct cub_action cube_actions[] = {CUB_ACTION_RESET, {0}};

static const struct cub_plugin_ops ops = {
    .apply = thello_apply, .action_config = cub_action__reset_counters};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "thello",
    .description = "Polycube's transparenthelloworld: PASS or DROP each way",
    .cube_size = sizeof(cub_map),
    .schema = schema,
    .ops = &ops,
    /* Its own maps' types (the framework's need none), 1 MiB in all. */
    .policy = CUB_POLICY_TC_XDP(
	CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(PERCPU_ARRAY), 1u << 20),
    .flags = CUB_PLUGIN_F_TRANSPARENT,
    .actions = cube_actions,
    CUB_PLUGIN_SIZES,
};
