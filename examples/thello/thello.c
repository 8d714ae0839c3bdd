// SPDX-License-Identifier: BSD-2-Clause
/* thello, control plane: a transparent service (`cubicle attach`), one
 * action per direction; the counters are read by the broker. */
#include <stddef.h>
#include <strings.h>

#include <cubicle/plugin.h>

#include "thello.h"
#include "thello.skel.h"

static const char *const actions[] = {"PASS", "DROP", NULL};

#define STAT(n, dir, f, what)                                                  \
	{.name = n, .type = CUB_T_U64, .flags = CUB_F_RO, .help = what,        \
	    .counter = &(const struct cub_counter){.map = "thello_stats",      \
		.key = (dir), .offset = offsetof(struct thello_stats, f)}}

static const struct cub_field schema[] = {
    {.name = "ingress-action", .type = CUB_T_ENUM, .enums = actions,
	.dflt = "PASS", .help = "PASS or DROP packets coming in"},
    {.name = "egress-action", .type = CUB_T_ENUM, .enums = actions,
	.dflt = "PASS", .help = "PASS or DROP packets going out"},
    STAT("ingress-packets", THELLO_INGRESS, packets, "packets coming in"),
    STAT("egress-packets", THELLO_EGRESS, packets, "packets going out"),
    STAT("ingress-drops", THELLO_INGRESS, drops, "packets in, dropped"),
    STAT("egress-drops", THELLO_EGRESS, drops, "packets out, dropped"),
    {0},
};

static uint32_t
action_code(const struct cub_val *config, const char *field)
{
	const char *a = cub_val__get_str(config, field);

	return a && !strcasecmp(a, "DROP") ? THELLO_DROP : THELLO_PASS;
}

static int
thello_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	cub_map *map = cub_cube__priv(cube);
	uint32_t keys[] = {THELLO_INGRESS, THELLO_EGRESS}, acts[THELLO_DIRS];
	size_t len;
	const void *elf = thello__elf_bytes(&len); /* its bytes and their length */
	int r;

	if (create && (r = cub_cube__load(cube, elf, len)))
		return r;
	if (create && cub_cube__map(cube, "thello_actions", map))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': no map thello_actions", cub_cube__name(cube));
	acts[THELLO_INGRESS] = action_code(config, "ingress-action");
	acts[THELLO_EGRESS] = action_code(config, "egress-action");
	return cub_map__update_batch(cube, map, keys, acts, THELLO_DIRS, 0);
}

/* `cubicle t0 reset`: both directions' counters back to zero. */
static const struct cub_action cube_actions[] = {{.name = "reset", .help = "zero the counters"}, {0}};

static int
thello_reset(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	uint32_t keys[] = {THELLO_INGRESS, THELLO_EGRESS};
	cub_map stats;

	if (cub_cube__map(cube, "thello_stats", &stats))
		return cub_cube__set_error(cube, CUB_E_INTERNAL, "no map thello_stats");
	return cub_map__zero_batch(cube, &stats, keys, THELLO_DIRS);
}

static const struct cub_plugin_ops ops = {.apply = thello_apply, .action = thello_reset};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "thello",
    .description = "Polycube's transparenthelloworld: PASS or DROP each way",
    .cube_size = sizeof(cub_map),
    .schema = schema,
    .ops = &ops,
    /* What the broker lets it load; the framework's maps count too. */
    .policy = {.prog_types = 1u << BPF_PROG_TYPE_SCHED_CLS | 1u << BPF_PROG_TYPE_XDP,
	.map_types = 1ull << BPF_MAP_TYPE_ARRAY | 1ull << BPF_MAP_TYPE_PERCPU_ARRAY |
		     1ull << BPF_MAP_TYPE_RINGBUF, .max_map_bytes = 1u << 20},
    .flags = CUB_PLUGIN_F_TRANSPARENT, .actions = cube_actions, CUB_PLUGIN_SIZES,
};
