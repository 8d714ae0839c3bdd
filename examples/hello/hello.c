// SPDX-License-Identifier: BSD-2-Clause
/* hello, control plane: the action field, at most two ports, their
 * counters read by the broker from hello_stats (no show() needed). */
#include <stddef.h>
#include <strings.h>

#include <cubicle/plugin.h>

#include "hello.h"
#include "hello.skel.h"

static const char *const actions[] = {"DROP", "SLOWPATH", "FORWARD", NULL};
#define STAT(f, what) CUB_PORT_COUNTER(#f, what, "hello_stats", struct hello_stats, f)
static const struct cub_field port_fields[] = {STAT(rx_packets, "packets received"),
    STAT(tx_packets, "packets forwarded out of this port"),
    STAT(drops, "packets received and dropped"), {0}};

static const struct cub_field schema[] = {
    {.name = "action", .type = CUB_T_ENUM, .enums = actions, .dflt = "DROP",
	.help = "DROP, SLOWPATH (to the worker) or FORWARD (to the other port)"},
    {.name = "ports", .type = CUB_T_LIST, .children = port_fields,
	.help = "at most two ports"}, {0}};

static int
hello_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	cub_map *map = cub_cube__priv(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	const char *action = cub_val__get_str(config, "action");
	struct hello_cfg cfg = {.action = HELLO_DROP};
	uint32_t key = 0, i;
	uint64_t idx;
	size_t len;
	const void *elf = hello__elf_bytes(&len); /* its bytes and their length */
	int r;

	cfg.nports = ports && ports->kind == CUB_V_ARRAY ? ports->arr.len : 0;
	if (cfg.nports > 2)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': hello has at most 2 ports, not %u",
		    cub_cube__name(cube), cfg.nports);
	for (i = 0; i < cfg.nports; i++) /* the broker gives every port one */
		if (!cub_val__as_u64(cub_val__get(ports->arr.items[i], "index"), &idx))
			cfg.port[i] = (uint32_t)idx;
	for (i = 0; actions[i]; i++)
		if (action && !strcasecmp(action, actions[i]))
			cfg.action = i;
	if (create && (r = cub_cube__load(cube, elf, len)))
		return r;
	if (create && cub_cube__map(cube, "hello_cfg", map))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': no map hello_cfg", cub_cube__name(cube));
	return cub_map__update(cube, map, &key, &cfg, 0);
}

static void
hello_packet_in(struct cub_cube *cube, uint32_t port, const void *data, size_t len)
{
	cub_cube__log(cube, CUB_LOG_INFO, "slow path: %zu bytes from port index %u", len, port);
}

static const struct cub_action cube_actions[] = {{.name = "reset", .help = "zero every port's counters"}, {0}};

static int
hello_reset(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, const struct cub_val *config, struct cub_val **result)
{
	int n = cub_cube__reset_port_counters(cube, config);

	return n < 0 ? n : 0;
}

static const struct cub_plugin_ops ops = {.apply = hello_apply,
    .packet_in = hello_packet_in, .action_config = hello_reset};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "hello",
    .description = "Polycube's helloworld: DROP, SLOWPATH or FORWARD",
    .cube_size = sizeof(cub_map),
    .schema = schema,
    .ops = &ops,
    /* What the broker lets it load; the framework's maps count too. */
    .policy = {.prog_types = 1u << BPF_PROG_TYPE_SCHED_CLS | 1u << BPF_PROG_TYPE_XDP,
	.map_types = 1ull << BPF_MAP_TYPE_ARRAY | 1ull << BPF_MAP_TYPE_PERCPU_ARRAY |
		     1ull << BPF_MAP_TYPE_RINGBUF, .max_map_bytes = 4u << 20},
    .actions = cube_actions, CUB_PLUGIN_SIZES,
};
