// SPDX-License-Identifier: BSD-2-Clause
/*
 * simpleforwarder, control plane: per-port action (forward to another
 * port, drop, slow path) and per-port counters.  Runs in a sandboxed
 * worker; every kernel operation is a call to the broker.
 *
 * The configuration is the cube document: ports[] with name, index (from
 * the broker), peer (the broker's business), action and outport.  apply()
 * writes sf_actions for every port and clears the entries of ports that
 * went away, so it is idempotent and replays after a restart.  The
 * counters are schema fields bound to the maps: the broker reads them
 * itself for `show`, without calling this worker.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "simpleforwarder.skel.h"
#include "simpleforwarder_shared.h"

struct sf_cube {
	cub_map actions;
	cub_map pktins;
	uint8_t used[CUB_MAX_PORTS]; /* indices written by the last apply */
	uint64_t packet_ins[CUB_MAX_PORTS]; /* delivered to this worker */
	bool loaded;
};

static const char *const sf_action_names[] = {
    "forward", "drop", "slowpath", NULL};

/*
 * The counters are read by the broker itself from the maps, at show
 * (struct cub_counter): sf_stats[port index], summed over CPUs, and
 * sf_pktins[port index], which this worker keeps.
 */
#define SF_STAT(f)                                                             \
	(&(const struct cub_counter){.map = "sf_stats",                        \
	    .key_field = "index",                                              \
	    .offset = offsetof(struct sf_stats, f),                            \
	    .width = sizeof(((struct sf_stats *)0)->f)})

static const struct cub_field sf_port_fields[] = {
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = sf_action_names,
	.dflt = "drop",
	.help = "what to do with packets received on this port"},
    {.name = "outport",
	.type = CUB_T_STR,
	.max = CUB_NAME_MAX,
	.help = "port to send packets to when action is forward"},
    {.name = "rx_packets",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets received on this port",
	.counter = SF_STAT(rx_packets)},
    {.name = "rx_bytes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "bytes received on this port",
	.counter = SF_STAT(rx_bytes)},
    {.name = "tx_packets",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets forwarded out of this port",
	.counter = SF_STAT(tx_packets)},
    {.name = "tx_bytes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "bytes forwarded out of this port",
	.counter = SF_STAT(tx_bytes)},
    {.name = "drops",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets received on this port and dropped",
	.counter = SF_STAT(drops)},
    {.name = "slowpath",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets received on this port sent to the slow path",
	.counter = SF_STAT(slowpath)},
    {.name = "packet_ins",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "slow-path packets this worker received from the port "
		"since it started",
	.counter = &(const struct cub_counter){.map = "sf_pktins",
	    .key_field = "index"}},
    {0},
};

static const struct cub_field sf_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = sf_port_fields,
	.help = "ports of the cube"},
    {0},
};

static uint32_t
action_code(const char *name)
{
	if (name && !strcmp(name, "forward"))
		return SF_FORWARD;
	if (name && !strcmp(name, "slowpath"))
		return SF_SLOWPATH;
	return SF_DROP;
}

static int
sf_load(struct cub_cube *cube, struct sf_cube *sf)
{
	size_t len;
	const void *elf = simpleforwarder__elf_bytes(&len);
	static const uint64_t zeros[CUB_MAX_PORTS];
	uint32_t keys[CUB_MAX_PORTS], key;
	int r;

	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "sf_actions", &sf->actions) ||
	    cub_cube__map(cube, "sf_pktins", &sf->pktins))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': maps sf_actions/sf_pktins missing",
		    cub_cube__name(cube));
	/* packet_ins counts what this worker received: an adopted map
	 * starts again from zero. */
	for (key = 0; key < CUB_MAX_PORTS; key++)
		keys[key] = key;
	if ((r = cub_map__update_batch(
		 cube, &sf->pktins, keys, zeros, CUB_MAX_PORTS, 0)))
		return r;
	memset(sf->packet_ins, 0, sizeof(sf->packet_ins));
	sf->loaded = true;
	return 0;
}

static int
sf_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct sf_cube *sf = cub_cube__priv(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	uint8_t used[CUB_MAX_PORTS] = {0};
	struct sf_action acts[CUB_MAX_PORTS * 2];
	uint32_t keys[CUB_MAX_PORTS * 2];
	const char *pname, *out;
	uint32_t i, key, n;
	uint64_t idx;
	int r, o;

	if ((create || !sf->loaded) && (r = sf_load(cube, sf)))
		return r;
	if (ports && ports->kind == CUB_V_ARRAY &&
	    ports->arr.len > CUB_MAX_PORTS)
		return cub_cube__set_error(
		    cube, CUB_E_LIMIT, "more than %d ports", CUB_MAX_PORTS);
	/* Check everything before writing anything. */
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const struct cub_val *e = ports->arr.items[i];

		pname = cub_val__get_str(e, "name");
		out = cub_val__get_str(e, "outport");
		if (cub_val__as_u64(cub_val__get(e, "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "port '%s' has no valid index", pname);
		if (action_code(cub_val__get_str(e, "action")) != SF_FORWARD)
			continue;
		if (!out || !*out)
			return cub_cube__set_error(cube, CUB_E_MISSING,
			    "port '%s': action forward needs outport=<port>",
			    pname);
		if (cub_config__port_index(config, out) < 0)
			return cub_cube__set_error(cube, CUB_E_NOTFOUND,
			    "port '%s': outport '%s' is not a port of cube "
			    "'%s'",
			    pname, out, cub_cube__name(cube));
	}
	/* One batch: every port's entry, and the entries of ports gone. */
	n = 0;
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const struct cub_val *e = ports->arr.items[i];

		cub_val__as_u64(cub_val__get(e, "index"), &idx);
		keys[n] = (uint32_t)idx;
		acts[n].action = action_code(cub_val__get_str(e, "action"));
		out = cub_val__get_str(e, "outport");
		o = out && *out ? cub_config__port_index(config, out) : 0;
		acts[n].outport =
		    acts[n].action == SF_FORWARD && o >= 0 ? (uint32_t)o : 0;
		used[keys[n]] = 1;
		n++;
	}
	/* Ports that went away drop again (a fresh worker clears all). */
	for (key = 0; key < CUB_MAX_PORTS; key++) {
		if (used[key] || (!create && !sf->used[key]))
			continue;
		keys[n] = key;
		memset(&acts[n], 0, sizeof(acts[n]));
		n++;
	}
	if (n &&
	    (r = cub_map__update_batch(cube, &sf->actions, keys, acts, n, 0)))
		return r;
	memcpy(sf->used, used, sizeof(used));
	cub_cube__log(cube, CUB_LOG_INFO,
	    "configuration %s: %u ports, loglevel %s",
	    create ? "applied (new)" : "changed",
	    ports && ports->kind == CUB_V_ARRAY ? ports->arr.len : 0,
	    cub_val__get_str(config, "loglevel") ?: "INFO");
	return 0;
}

/* The policy: what the broker lets this service load. */
#define SF_POLICY                                                              \
	{                                                                      \
		.prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |                \
			      (1u << BPF_PROG_TYPE_XDP),                       \
		.map_types = (1ull << BPF_MAP_TYPE_ARRAY) |                    \
			     (1ull << BPF_MAP_TYPE_HASH) |                     \
			     (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |             \
			     (1ull << BPF_MAP_TYPE_RINGBUF),                   \
		.max_map_bytes = 4u << 20,                                     \
	}

#ifndef SF_NO_ENTRY
/* The slow path: count what arrives (Polycube's logs it and drops it). */
static void
sf_packet_in(struct cub_cube *cube, uint32_t port, const void *data, size_t len)
{
	struct sf_cube *sf = cub_cube__priv(cube);

	if (port >= CUB_MAX_PORTS || !sf->loaded)
		return;
	sf->packet_ins[port]++;
	/* Where the broker reads it at show (a lost write shows in the
	 * next one). */
	cub_map__update(cube, &sf->pktins, &port, &sf->packet_ins[port], 0);
}

static const struct cub_plugin_ops sf_ops = {
    .apply = sf_apply,
    .packet_in = sf_packet_in,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "simpleforwarder",
    .description = "per-port forward / drop / slow path, with counters",
    .cube_size = sizeof(struct sf_cube),
    .schema = sf_schema,
    .ops = &sf_ops,
    .policy = SF_POLICY,
};
#endif /* SF_NO_ENTRY */
