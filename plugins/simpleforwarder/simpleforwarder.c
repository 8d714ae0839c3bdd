// SPDX-License-Identifier: BSD-2-Clause
/*
 * simpleforwarder, control plane: per-port action (forward to another
 * port, drop, slow path) and per-port counters.  Runs in a sandboxed
 * worker; every kernel operation is a call to the broker.
 *
 * The configuration is the cube document: ports[] with name, index (from
 * the broker), peer (the broker's business), action and outport.  apply()
 * (a new cube, or the replay after a worker restart) writes sf_actions for
 * every port and clears the entries of ports that went away, so it is
 * idempotent.  change() (every request after that) writes only the entries
 * of the ports a request added, set or deleted, and of the ports that
 * forward to a port whose index it changed; it checks the whole result on
 * a copy of its port table before it writes anything.  The
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

/* A port as the worker last wrote it, by index. */
struct sf_port {
	char name[CUB_NAME_MAX + 1];
	char outport[CUB_NAME_MAX + 1];
	uint32_t action;
};

struct sf_cube {
	cub_map actions;
	cub_map pktins;
	uint8_t used[CUB_MAX_PORTS]; /* indices written by the last apply */
	struct sf_port port[CUB_MAX_PORTS];      /* for change(): by index */
	struct sf_action written[CUB_MAX_PORTS]; /* sf_actions as written */
	char loglevel[16];
	uint64_t packet_ins[CUB_MAX_PORTS]; /* delivered to this worker */
	bool loaded;
};

static const char *const sf_action_names[] = {
    "forward", "drop", "slowpath", NULL};

/*
 * The counters are read by the broker itself from the maps, at show:
 * sf_stats[port index], summed over CPUs, and sf_pktins[port index],
 * which this worker keeps.  A new port's start at zero (the SDK).
 */
#define SF_STAT(f, help)                                                       \
	CUB_PORT_COUNTER(#f, help, "sf_stats", struct sf_stats, f)

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
    SF_STAT(rx_packets, "packets received on this port"),
    SF_STAT(rx_bytes, "bytes received on this port"),
    SF_STAT(tx_packets, "packets forwarded out of this port"),
    SF_STAT(tx_bytes, "bytes forwarded out of this port"),
    SF_STAT(drops, "packets received on this port and dropped"),
    SF_STAT(slowpath, "packets received on this port sent to the slow path"),
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
	if ((r = cub_map__zero_batch(cube, &sf->pktins, keys, CUB_MAX_PORTS)))
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
	/* What change() starts from. */
	memset(sf->port, 0, sizeof(sf->port));
	for (i = 0; i < n; i++)
		sf->written[keys[i]] = acts[i];
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const struct cub_val *e = ports->arr.items[i];

		cub_val__as_u64(cub_val__get(e, "index"), &idx);
		snprintf(sf->port[idx].name, sizeof(sf->port[idx].name), "%s",
		    cub_val__get_str(e, "name") ?: "");
		snprintf(sf->port[idx].outport, sizeof(sf->port[idx].outport),
		    "%s", cub_val__get_str(e, "outport") ?: "");
		sf->port[idx].action =
		    action_code(cub_val__get_str(e, "action"));
	}
	snprintf(sf->loglevel, sizeof(sf->loglevel), "%s",
	    cub_val__get_str(config, "loglevel") ?: "INFO");
	cub_cube__log(cube, CUB_LOG_INFO,
	    "configuration %s: %u ports, loglevel %s",
	    create ? "applied (new)" : "changed",
	    ports && ports->kind == CUB_V_ARRAY ? ports->arr.len : 0,
	    cub_val__get_str(config, "loglevel") ?: "INFO");
	return 0;
}

#ifndef SF_NO_ENTRY
/* The index of the port named name in a port table, or -1. */
static int
port_named(const uint8_t *used, const struct sf_port *port, const char *name)
{
	uint32_t i;

	for (i = 0; name && *name && i < CUB_MAX_PORTS; i++)
		if (used[i] && !strcmp(port[i].name, name))
			return (int)i;
	return -1;
}

/* One change of ports[] into the tables; 0 or a refusal. */
static int
sf_change_port(struct cub_cube *cube, const struct cub_change *ch,
    uint8_t *used, struct sf_port *port)
{
	const struct cub_val *e =
	    ch->op == CUB_CHANGE_DEL ? ch->before : ch->after;
	const char *pname = cub_val__get_str(e, "name");
	uint64_t idx;

	if (cub_val__as_u64(cub_val__get(e, "index"), &idx) ||
	    idx >= CUB_MAX_PORTS)
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "port '%s' has no valid index", pname ?: "?");
	if (ch->op == CUB_CHANGE_DEL) {
		used[idx] = 0;
		memset(&port[idx], 0, sizeof(port[idx]));
		return 0;
	}
	used[idx] = 1;
	snprintf(port[idx].name, sizeof(port[idx].name), "%s", pname ?: "");
	snprintf(port[idx].outport, sizeof(port[idx].outport), "%s",
	    cub_val__get_str(e, "outport") ?: "");
	port[idx].action = action_code(cub_val__get_str(e, "action"));
	return 0;
}

static int
sf_change(struct cub_cube *cube, const struct cub_change *changes, uint32_t n)
{
	struct sf_cube *sf = cub_cube__priv(cube);
	struct sf_port *port;
	uint8_t used[CUB_MAX_PORTS];
	struct sf_action acts[CUB_MAX_PORTS], want;
	uint32_t keys[CUB_MAX_PORTS], i, nw = 0, nports = 0;
	const char *level = NULL, *w0;
	int r, o;

	port = malloc(sizeof(sf->port));
	if (!port)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "out of memory");
	memcpy(port, sf->port, sizeof(sf->port));
	memcpy(used, sf->used, sizeof(used));
	/* The new port table, on a copy. */
	for (i = 0; i < n; i++) {
		const struct cub_change *ch = &changes[i];

		w0 = ch->path->arr.len ? cub_val__as_str(ch->path->arr.items[0])
				       : NULL;
		if (!w0 && ch->op == CUB_CHANGE_SET)
			level =
			    cub_val__get_str(ch->after, "loglevel") ?: level;
		if (!w0 || strcmp(w0, "ports") || ch->path->arr.len != 2)
			continue;
		if ((r = sf_change_port(cube, ch, used, port))) {
			free(port);
			return r;
		}
	}
	/* Checked whole before anything is written, as apply() does. */
	for (i = 0; i < CUB_MAX_PORTS; i++) {
		if (!used[i])
			continue;
		nports++;
		if (port[i].action != SF_FORWARD)
			continue;
		if (!port[i].outport[0]) {
			r = cub_cube__set_error(cube, CUB_E_MISSING,
			    "port '%s': action forward needs outport=<port>",
			    port[i].name);
			free(port);
			return r;
		}
		if (port_named(used, port, port[i].outport) < 0) {
			r = cub_cube__set_error(cube, CUB_E_NOTFOUND,
			    "port '%s': outport '%s' is not a port of cube "
			    "'%s'",
			    port[i].name, port[i].outport,
			    cub_cube__name(cube));
			free(port);
			return r;
		}
	}
	/* Only the entries that differ from what is written: the ports
	 * changed, and those forwarding to a port whose index changed. */
	for (i = 0; i < CUB_MAX_PORTS; i++) {
		memset(&want, 0, sizeof(want));
		if (used[i]) {
			want.action = port[i].action;
			o = port_named(used, port, port[i].outport);
			want.outport = want.action == SF_FORWARD && o >= 0
					   ? (uint32_t)o
					   : 0;
		}
		if (!memcmp(&want, &sf->written[i], sizeof(want)))
			continue;
		keys[nw] = i;
		acts[nw++] = want;
	}
	if (nw && (r = cub_map__update_batch(
		       cube, &sf->actions, keys, acts, nw, 0))) {
		/* Not atomic: put back what may have been written. */
		for (i = 0; i < nw; i++)
			acts[i] = sf->written[keys[i]];
		cub_map__update_batch(cube, &sf->actions, keys, acts, nw, 0);
		free(port);
		return r;
	}
	for (i = 0; i < nw; i++)
		sf->written[keys[i]] = acts[i];
	memcpy(sf->port, port, sizeof(sf->port));
	memcpy(sf->used, used, sizeof(used));
	free(port);
	if (level)
		snprintf(sf->loglevel, sizeof(sf->loglevel), "%s", level);
	cub_cube__log(cube, CUB_LOG_INFO,
	    "configuration changed: %u ports, loglevel %s (%u change%s, %u "
	    "map entr%s written)",
	    nports, sf->loglevel, n, n == 1 ? "" : "s", nw,
	    nw == 1 ? "y" : "ies");
	return 0;
}
#endif /* SF_NO_ENTRY */

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

/* A new port counts its slow-path packets from zero (the SDK zeroed
 * its map entries). */
static void
sf_port_added(struct cub_cube *cube, uint32_t index)
{
	struct sf_cube *sf = cub_cube__priv(cube);

	if (index < CUB_MAX_PORTS)
		sf->packet_ins[index] = 0;
}

/* `cubicle sf1 reset-counters`: every port's counters back to zero. */
static const struct cub_action sf_actions[] = {
    {.name = "reset-counters",
	.help = "set every port's counters back to zero"},
    {0},
};

/* The cube's actions, with its document at hand (its ports). */
static int
sf_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, const struct cub_val *config,
    struct cub_val **result)
{
	struct sf_cube *sf = cub_cube__priv(cube);
	int n;

	(void)args;
	if (path && path->kind == CUB_V_ARRAY && path->arr.len)
		return cub_cube__set_error(
		    cube, CUB_E_VERB, "no action '%s' there", name);
	if ((n = cub_cube__reset_port_counters(cube, config)) < 0)
		return n;
	memset(sf->packet_ins, 0, sizeof(sf->packet_ins));
	*result = cub_val__map();
	cub_val__set(*result, "ports", cub_val__uint((uint64_t)n));
	return 0;
}

static const struct cub_plugin_ops sf_ops = {
    .apply = sf_apply,
    .packet_in = sf_packet_in,
    .change = sf_change,
    .action_config = sf_action,
    .port_added = sf_port_added,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "simpleforwarder",
    .description = "per-port forward / drop / slow path, with counters",
    .cube_size = sizeof(struct sf_cube),
    .schema = sf_schema,
    .ops = &sf_ops,
    .policy = SF_POLICY,
    CUB_PLUGIN_SIZES,
    .actions = sf_actions,
};
#endif /* SF_NO_ENTRY */
