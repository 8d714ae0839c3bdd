// SPDX-License-Identifier: BSD-2-Clause
/*
 * helloworld, control plane: Polycube's two-port sample.  The cube's
 * action (DROP, SLOWPATH or FORWARD, in any case) applies to packets of
 * both ports; FORWARD sends what one port receives out of the other.  At
 * most two ports.  Per-port counters are broker-read (struct cub_counter).
 *
 * It asks for the netdev events of its ports (cub_plugin.netdev_events)
 * and writes each to the cube's log ("port1: veth1 down"), counting them
 * in hw_nevents, which the broker shows as netdev_events.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <linux/bpf.h>

#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "helloworld.skel.h"
#include "helloworld_shared.h"

#define HW_PORTS_MAX 2

/* The test suite's hwhost (plugins/testing) is this plugin built with
 * HW_HOST: a service that asks for every netdev's events (CUB_NETDEV_HOST). */
#ifdef HW_HOST
#define HW_NAME "hwhost"
#define HW_NETDEV_EVENTS (CUB_NETDEV_ALL | CUB_NETDEV_HOST)
#else
#define HW_NAME "helloworld"
#define HW_NETDEV_EVENTS CUB_NETDEV_ALL
#endif

struct hw_cube {
	cub_map config;
	cub_map pktins;
	cub_map nevents;
	uint64_t packet_ins[CUB_MAX_PORTS]; /* delivered to this worker */
	uint64_t netdev_events;
	bool loaded;
};

static const char *const hw_action_names[] = {
    "DROP", "SLOWPATH", "FORWARD", NULL};

#define HW_STAT(f)                                                             \
	(&(const struct cub_counter){.map = "hw_stats",                        \
	    .key_field = "index",                                              \
	    .offset = offsetof(struct hw_stats, f),                            \
	    .width = sizeof(((struct hw_stats *)0)->f)})

static const struct cub_field hw_port_fields[] = {
    {.name = "rx_packets",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets received on this port",
	.counter = HW_STAT(rx_packets)},
    {.name = "rx_bytes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "bytes received on this port",
	.counter = HW_STAT(rx_bytes)},
    {.name = "tx_packets",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets forwarded out of this port",
	.counter = HW_STAT(tx_packets)},
    {.name = "tx_bytes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "bytes forwarded out of this port",
	.counter = HW_STAT(tx_bytes)},
    {.name = "drops",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets received on this port and dropped",
	.counter = HW_STAT(drops)},
    {.name = "slowpath",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets received on this port sent to the slow path",
	.counter = HW_STAT(slowpath)},
    {.name = "packet_ins",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "slow-path packets this worker received from the port "
		"since it started",
	.counter = &(const struct cub_counter){.map = "hw_pktins",
	    .key_field = "index"}},
    {0},
};

static const struct cub_field hw_schema[] = {
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = hw_action_names,
	.dflt = "DROP",
	.help = "what to do with packets of either port: DROP, SLOWPATH "
		"(to the worker) or FORWARD (out of the other port)"},
    {.name = "netdev_events",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "netdev events of the cube's ports this worker received "
		"since it started",
	.counter = &(const struct cub_counter){.map = "hw_nevents"}},
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = hw_port_fields,
	.help = "ports of the cube (at most two)"},
    {0},
};

static uint32_t
action_code(const char *name)
{
	if (name && !strcasecmp(name, "forward"))
		return HW_FORWARD;
	if (name && !strcasecmp(name, "slowpath"))
		return HW_SLOWPATH;
	return HW_DROP;
}

static int
hw_load(struct cub_cube *cube, struct hw_cube *hw)
{
	static const uint64_t zeros[CUB_MAX_PORTS];
	uint32_t keys[CUB_MAX_PORTS], key;
	const void *elf;
	size_t len;
	int r;

	elf = helloworld__elf_bytes(&len);
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "hw_config", &hw->config) ||
	    cub_cube__map(cube, "hw_pktins", &hw->pktins) ||
	    cub_cube__map(cube, "hw_nevents", &hw->nevents))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': maps hw_config/hw_pktins/hw_nevents missing",
		    cub_cube__name(cube));
	/* What this worker received: an adopted map starts from zero. */
	for (key = 0; key < CUB_MAX_PORTS; key++)
		keys[key] = key;
	if ((r = cub_map__update_batch(
		 cube, &hw->pktins, keys, zeros, CUB_MAX_PORTS, 0)))
		return r;
	key = 0;
	if ((r = cub_map__update(cube, &hw->nevents, &key, zeros, 0)))
		return r;
	memset(hw->packet_ins, 0, sizeof(hw->packet_ins));
	hw->netdev_events = 0;
	hw->loaded = true;
	return 0;
}

static int
hw_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct hw_cube *hw = cub_cube__priv(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	struct hw_config cfg = {0};
	uint32_t i, n, key = 0;
	uint64_t idx;
	int r;

	n = ports && ports->kind == CUB_V_ARRAY ? ports->arr.len : 0;
	/* Check before loading or writing anything. */
	if (n > HW_PORTS_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': helloworld has at most %d ports, not %u",
		    cub_cube__name(cube), HW_PORTS_MAX, n);
	for (i = 0; i < n; i++) {
		if (cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "port '%s' has no valid index",
			    cub_val__get_str(ports->arr.items[i], "name")
				?: "?");
		cfg.port[i] = (uint32_t)idx;
	}
	cfg.nports = n;
	cfg.action = action_code(cub_val__get_str(config, "action"));
	if ((create || !hw->loaded) && (r = hw_load(cube, hw)))
		return r;
	if ((r = cub_map__update(cube, &hw->config, &key, &cfg, 0)))
		return r;
	cub_cube__log(cube, CUB_LOG_INFO,
	    "configuration %s: action %s, %u ports",
	    create ? "applied (new)" : "changed",
	    hw_action_names[cfg.action == HW_FORWARD    ? 2
			    : cfg.action == HW_SLOWPATH ? 1
							: 0],
	    n);
	return 0;
}

/* The slow path: count what arrives and log it (Polycube logs it). */
static void
hw_packet_in(struct cub_cube *cube, uint32_t port, const void *data, size_t len)
{
	struct hw_cube *hw = cub_cube__priv(cube);

	(void)data;
	if (port >= CUB_MAX_PORTS || !hw->loaded)
		return;
	hw->packet_ins[port]++;
	cub_map__update(cube, &hw->pktins, &port, &hw->packet_ins[port], 0);
	cub_cube__log(cube, CUB_LOG_INFO,
	    "packet from port index %u arrived to the slow path (%zu bytes)",
	    port, len);
}

/* "port1: veth1 down", "port1: veth1 address 198.18.0.9/32 added"; "-"
 * for a netdev no port of the cube uses (CUB_NETDEV_HOST). */
static void
hw_netdev_event(struct cub_cube *cube, const struct cub_netdev_event *ev)
{
	struct hw_cube *hw = cub_cube__priv(cube);
	const char *port = ev->port[0] ? ev->port : "-";
	uint32_t key = 0;

	if (hw->loaded) {
		hw->netdev_events++;
		cub_map__update(
		    cube, &hw->nevents, &key, &hw->netdev_events, 0);
	}
	switch (ev->kind) {
	case CUB_NETDEV_ADDR_ADDED:
	case CUB_NETDEV_ADDR_REMOVED:
		cub_cube__log(cube, CUB_LOG_INFO, "%s: %s address %s %s", port,
		    ev->name, ev->addr_str,
		    ev->kind == CUB_NETDEV_ADDR_ADDED ? "added" : "removed");
		break;
	case CUB_NETDEV_RENAMED:
		cub_cube__log(cube, CUB_LOG_INFO, "%s: %s renamed to %s", port,
		    ev->old_name, ev->name);
		break;
	default:
		cub_cube__log(cube, CUB_LOG_INFO, "%s: %s %s", port, ev->name,
		    cub_netdev_kind__str(ev->kind));
		break;
	}
}

/* The policy: what the broker lets this service load. */
#define HW_POLICY                                                              \
	{                                                                      \
		.prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |                \
			      (1u << BPF_PROG_TYPE_XDP),                       \
		.map_types = (1ull << BPF_MAP_TYPE_ARRAY) |                    \
			     (1ull << BPF_MAP_TYPE_HASH) |                     \
			     (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |             \
			     (1ull << BPF_MAP_TYPE_RINGBUF),                   \
		.max_map_bytes = 4u << 20,                                     \
	}

static const struct cub_plugin_ops hw_ops = {
    .apply = hw_apply,
    .packet_in = hw_packet_in,
    .netdev_event = hw_netdev_event,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = HW_NAME,
    .description = "Polycube's two-port sample: DROP, SLOWPATH or FORWARD",
    .cube_size = sizeof(struct hw_cube),
    .schema = hw_schema,
    .ops = &hw_ops,
    .policy = HW_POLICY,
    .netdev_events = HW_NETDEV_EVENTS,
};
