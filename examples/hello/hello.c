// SPDX-License-Identifier: BSD-2-Clause
/* hello, control plane: the action field, at most two ports, their
 * counters read by the broker from hello_stats (no show() needed). */
#include <cubicle/plugin.h>

#include "hello.h"
#include "hello.skel.h"

static const char *const actions[] = {"DROP", "SLOWPATH", "FORWARD", NULL};
#define STAT(f, what)                                                          \
	CUB_PORT_COUNTER(#f, what, "hello_stats", struct hello_stats, f)
static const struct cub_field port_fields[] = {
    STAT(rx_packets, "packets received"),
    STAT(tx_packets, "packets forwarded out of this port"),
    STAT(drops, "packets received and dropped"), {0}};

static const struct cub_field schema[] = {
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = actions,
	.dflt = "DROP",
	.help =
	    "DROP, SLOWPATH (to the worker) or FORWARD (to the other port)"},
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = port_fields,
	.help = "at most two ports"},
    {0}};

static int
hello_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	cub_map *map = cub_cube__priv(cube);
	struct hello_cfg cfg = {0};
	uint32_t key = 0;
	size_t len;
	const void *elf = hello__elf_bytes(&len); /* the object's bytes */
	int n = cub_cube__port_indexes(cube, config, cfg.port, 2), r;

	if (n < 0)
		return n;
	cfg.nports = n;
	cfg.action =
	    cub_config__enum_index(config, "action", actions, HELLO_DROP);
	if (create &&
	    (r = cub_cube__load_map(cube, elf, len, "hello_cfg", map)))
		return r;
	return cub_map__update(cube, map, &key, &cfg, 0);
}

static void
hello_packet_in(
    struct cub_cube *cube, uint32_t port, const void *data, size_t len)
{
	cub_cube__log(cube, CUB_LOG_INFO,
	    "slow path: %zu bytes from port index %u", len, port);
}

/* `cubicle h0 reset`: every port's counters back to zero. */
static const struct cub_action cube_actions[] = {CUB_ACTION_RESET, {0}};

static const struct cub_plugin_ops ops = {.apply = hello_apply,
    .packet_in = hello_packet_in,
    .action_config = cub_action__reset_counters};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "hello",
    .description = "Polycube's helloworld: DROP, SLOWPATH or FORWARD",
    .cube_size = sizeof(cub_map),
    .schema = schema,
    .ops = &ops,
    /* Its own maps' types (the framework's need none), 4 MiB in all. */
    .policy = CUB_POLICY_TC_XDP(
	CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(PERCPU_ARRAY), 4u << 20),
    .actions = cube_actions,
    CUB_PLUGIN_SIZES,
};
