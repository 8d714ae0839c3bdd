// SPDX-License-Identifier: BSD-2-Clause
/*
 * simplebridge, control plane: Polycube's learning L2 bridge.
 *
 * The dataplane learns and forwards alone (simplebridge.bpf.c); floods
 * are the framework's, in the fast path.  The worker writes the aging
 * time and the static entries (the document's `fdb entry` list: address,
 * port), and shows the learned ones beside them (the list is
 * CUB_F_SHOWN): `cubicle br1 fdb entry show` lists every host with its
 * port, its age in seconds and its type.  `cubicle br1 fdb flush`
 * forgets every learned host.  A port that goes forgets its hosts.
 * Counters per port (packets, bytes, drops, floods) are read by the
 * broker from sb_stats, without this worker.  FDB upkeep (forget a
 * port's hosts, sweep aged ones) is l2common's, shared with bridge.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "simplebridge.skel.h"
#include "l2_fdb.h"
#include "simplebridge_shared.h"

_Static_assert(sizeof(struct sb_entry) == sizeof(struct l2_entry) &&
		   sizeof(struct sb_mac) == sizeof(struct l2_key),
    "simplebridge FDB shapes are l2common's");

/* Learned entries a show lists at most (a reply's size). */
#define SB_SHOW_MAX 4096
#define SB_AGING_DFLT "300"
#define SB_AGING_MAX 1000000

struct sb_static_rec {
	struct sb_mac mac;
	uint32_t port;
};

struct sb_cube {
	cub_map config, fdb, stat;
	bool loaded;
	uint64_t aging_ns;
	struct sb_static_rec *st; /* the static entries as written */
	uint32_t nst;
	char port_name[CUB_MAX_PORTS][CUB_NAME_MAX + 1]; /* by index */
};

#define SB_STAT(f, help)                                                       \
	CUB_PORT_COUNTER(#f, help, "sb_stats", struct sb_stats, f)

static const struct cub_field sb_port_fields[] = {
    SB_STAT(rx_packets, "frames received on this port"),
    SB_STAT(rx_bytes, "bytes received on this port"),
    SB_STAT(tx_packets, "frames to a known host sent out of this port"),
    SB_STAT(tx_bytes, "bytes to a known host sent out of this port"),
    SB_STAT(drops, "frames received on this port and dropped (the host is "
		   "on this port, a runt)"),
    SB_STAT(floods, "frames received on this port and flooded (broadcast, "
		    "multicast, unknown unicast)"),
    {0},
};

static const struct cub_field sb_entry_fields[] = {
    {.name = "address",
	.type = CUB_T_MAC,
	.flags = CUB_F_KEY,
	.help = "the host's MAC address"},
    {.name = "port",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.max = CUB_NAME_MAX,
	.ref = "ports",
	.help = "the port the host is behind"},
    {.name = "age",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "seconds since the host was last seen (0 for a static "
		"entry)"},
    {.name = "type",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "static (the document's) or dynamic (learned)"},
    {0},
};

static const struct cub_action sb_fdb_actions[] = {
    {.name = "flush", .help = "forget every learned host (static entries "
			      "stay)"},
    {0},
};

static const struct cub_field sb_fdb_fields[] = {
    {.name = "aging-time",
	.type = CUB_T_U32,
	.dflt = SB_AGING_DFLT,
	.min = 1,
	.max = SB_AGING_MAX,
	.help = "seconds after which a host not seen is forgotten"},
    {.name = "entry",
	.type = CUB_T_LIST,
	.flags = CUB_F_SHOWN,
	.children = sb_entry_fields,
	.help = "hosts: the static entries added here and the learned ones "
		"(shown, at most 4096)"},
    {0},
};

static const struct cub_field sb_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = sb_port_fields,
	.help = "ports of the bridge"},
    {.name = "fdb",
	.type = CUB_T_CONTAINER,
	.children = sb_fdb_fields,
	.actions = sb_fdb_actions,
	.help = "the filtering database"},
    {0},
};

static int
sb_load(struct cub_cube *cube, struct sb_cube *sb)
{
	const void *elf;
	size_t len;
	int r;

	elf = simplebridge__elf_bytes(&len);
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "sb_config", &sb->config) ||
	    cub_cube__map(cube, "sb_fdb", &sb->fdb) ||
	    cub_cube__map(cube, "sb_static", &sb->stat))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': maps sb_config/sb_fdb/sb_static missing",
		    cub_cube__name(cube));
	/* A replay: the static table is rewritten whole below. */
	free(sb->st);
	sb->st = NULL;
	sb->nst = 0;
	sb->loaded = true;
	return 0;
}

/* Every key of map (sb_static) whose value's port is port (UINT32_MAX:
 * any). */
struct sb_collect {
	struct sb_mac *keys;
	uint32_t n, cap;
	uint32_t port;
};

static int
sb_collect_fn(const void *key, const void *value, void *ctx)
{
	const struct sb_entry *e = value;
	struct sb_collect *c = ctx;
	struct sb_mac *k;

	if (c->port != UINT32_MAX && e->port != c->port)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		k = realloc(c->keys, c->cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		c->keys = k;
	}
	memcpy(&c->keys[c->n++], key, sizeof(*c->keys));
	return 0;
}

/* After a replay: static entries the document no longer has (a change
 * written but not committed when the worker died) go. */
struct sb_stale {
	const struct sb_static_rec *st;
	uint32_t n;
	struct sb_collect c;
};

static bool sb_has(const struct sb_static_rec *st, uint32_t n,
    const struct sb_mac *m, uint32_t port);

static int
sb_stale_fn(const void *key, const void *value, void *ctx)
{
	struct sb_stale *x = ctx;

	return sb_has(x->st, x->n, key, UINT32_MAX)
		   ? 0
		   : sb_collect_fn(key, value, &x->c);
}

static bool
sb_has(const struct sb_static_rec *st, uint32_t n, const struct sb_mac *m,
    uint32_t port)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(&st[i].mac, m, sizeof(*m)) &&
		    (port == UINT32_MAX || st[i].port == port))
			return true;
	return false;
}

/* The static entries of config, checked; *out owned by the caller. */
static int
sb_statics(struct cub_cube *cube, const struct cub_val *config,
    struct sb_static_rec **out, uint32_t *nout)
{
	const struct cub_val *fdb = cub_val__get(config, "fdb");
	const struct cub_val *list = cub_val__get(fdb, "entry");
	struct sb_static_rec *st;
	const char *addr, *port;
	uint32_t i, n;
	int idx;

	n = list && list->kind == CUB_V_ARRAY ? list->arr.len : 0;
	*out = NULL;
	*nout = 0;
	if (n > SB_STATIC_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': at most %d static fdb entries, not %u",
		    cub_cube__name(cube), SB_STATIC_MAX, n);
	st = calloc(n ? n : 1, sizeof(*st));
	if (!st)
		return cub_cube__set_error(cube, CUB_E_INTERNAL, "out of memory");
	for (i = 0; i < n; i++) {
		addr = cub_val__get_str(list->arr.items[i], "address");
		port = cub_val__get_str(list->arr.items[i], "port");
		if (cub_val__as_mac(cub_val__get(list->arr.items[i], "address"),
			st[i].mac.addr)) {
			free(st);
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry '%s': not a MAC address", addr ?: "?");
		}
		if (st[i].mac.addr[0] & 1) {
			free(st);
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry '%s': a multicast address is flooded, "
			    "never a host's",
			    addr);
		}
		idx = port ? cub_config__port_index(config, port) : -ENOENT;
		if (idx < 0 || idx >= CUB_MAX_PORTS) {
			free(st);
			return cub_cube__set_error(cube, CUB_E_NOTFOUND,
			    "fdb entry '%s': no port '%s'", addr, port ?: "");
		}
		st[i].port = (uint32_t)idx;
	}
	*out = st;
	*nout = n;
	return 0;
}

static int
sb_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct sb_cube *sb = cub_cube__priv(cube);
	const struct cub_val *fdb = cub_val__get(config, "fdb");
	const struct cub_val *ports = cub_val__get(config, "ports");
	struct sb_entry v = {0};
	struct sb_static_rec *st;
	struct sb_config cfg;
	uint64_t aging = 300, idx;
	const char *name;
	uint32_t i, n, key = 0;
	int r;

	if (cub_val__get(fdb, "aging-time") &&
	    cub_val__as_u64(cub_val__get(fdb, "aging-time"), &aging))
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "fdb aging-time: not a number");
	if ((r = sb_statics(cube, config, &st, &n)))
		return r;
	if ((create || !sb->loaded) && (r = sb_load(cube, sb))) {
		free(st);
		return r;
	}
	cfg.aging_ns = aging * 1000000000ull;
	/* A longer aging-time: what the shorter one forgot goes first. */
	if (!create && sb->aging_ns && cfg.aging_ns > sb->aging_ns &&
	    (r = l2_sweep(cube, &sb->fdb, sb->aging_ns)))
		goto fail;
	if ((r = cub_map__update(cube, &sb->config, &key, &cfg, 0)))
		goto fail;
	if (create) {
		struct sb_stale x = {.st = st, .n = n, .c = {.port = UINT32_MAX}};

		r = cub_map__dump(cube, &sb->stat, sb_stale_fn, &x);
		if (!r && x.c.n)
			r = cub_map__delete_batch_n(
			    cube, &sb->stat, x.c.keys, x.c.n);
		free(x.c.keys);
		if (r && r != -ENOENT)
			goto fail;
	}
	/* Static entries that went or moved, then the new ones; a learned
	 * entry of a now static host goes (the static one wins). */
	for (i = 0; i < sb->nst; i++)
		if (!sb_has(st, n, &sb->st[i].mac, UINT32_MAX) &&
		    (r = cub_map__delete(cube, &sb->stat, &sb->st[i].mac)) &&
		    r != -ENOENT)
			goto fail;
	for (i = 0; i < n; i++) {
		if (sb_has(sb->st, sb->nst, &st[i].mac, st[i].port))
			continue;
		v.port = st[i].port;
		if ((r = cub_map__update(cube, &sb->stat, &st[i].mac, &v, 0)))
			goto fail;
		r = cub_map__delete(cube, &sb->fdb, &st[i].mac);
		if (r && r != -ENOENT)
			goto fail;
	}
	free(sb->st);
	sb->st = st;
	sb->nst = n;
	sb->aging_ns = cfg.aging_ns;
	memset(sb->port_name, 0, sizeof(sb->port_name));
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		name = cub_val__get_str(ports->arr.items[i], "name");
		if (name &&
		    !cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &idx) &&
		    idx < CUB_MAX_PORTS)
			snprintf(sb->port_name[idx], sizeof(sb->port_name[idx]),
			    "%s", name);
	}
	return 0;
fail:
	free(st);
	/* What was half written is put back by the apply of the previous
	 * document, which rewrites every static entry it has. */
	free(sb->st);
	sb->st = NULL;
	sb->nst = 0;
	return cub_cube__set_error(cube, CUB_E_KERNEL,
	    "cube '%s': fdb write failed: %s", cub_cube__name(cube),
	    strerror(-r));
}

struct sb_show {
	struct sb_cube *sb;
	struct cub_val *list;
	uint64_t now;
	uint32_t n;
	int err;
};

static struct cub_val *
sb_row(struct sb_cube *sb, const struct sb_mac *m, uint32_t port,
    uint32_t age, const char *type)
{
	struct cub_val *e = cub_val__map();

	if (!e ||
	    cub_val__set(e, "address", l2_mac_val(m->addr)) ||
	    cub_val__set(e, "port",
		cub_val__str(port < CUB_MAX_PORTS && sb->port_name[port][0]
				 ? sb->port_name[port]
				 : "?")) ||
	    cub_val__set(e, "age", cub_val__uint(age)) ||
	    cub_val__set(e, "type", cub_val__str(type)))
		return cub_val__free(e);
	return e;
}

static int
sb_show_fn(const void *key, const void *value, void *ctx)
{
	const struct sb_entry *e = value;
	struct sb_show *s = ctx;
	struct cub_val *row;
	uint64_t age_ns;

	age_ns = s->now > e->seen_ns ? s->now - e->seen_ns : 0;
	if (age_ns > s->sb->aging_ns ||
	    sb_has(s->sb->st, s->sb->nst, key, UINT32_MAX))
		return 0;
	if (s->n >= SB_SHOW_MAX)
		return 1;
	row = sb_row(s->sb, key, e->port, (uint32_t)(age_ns / 1000000000ull),
	    "dynamic");
	if (!row || cub_val__push(s->list, row))
		return s->err = -ENOMEM;
	s->n++;
	return 0;
}

/*
 * A show of one entry (words fdb entry <mac> ...): its row into s, *r
 * the lookup's result; true when the show is not of one entry.
 */
static bool
sb_show_one(struct cub_cube *cube, struct sb_cube *sb, struct sb_show *s,
    int *r)
{
	const struct cub_val *w = cub_cube__show_words(cube);
	struct sb_mac m = {0};
	struct sb_entry e;

	if (!w || w->kind != CUB_V_ARRAY || w->arr.len < 3 ||
	    !cub_val__as_str(w->arr.items[0]) ||
	    strcmp(cub_val__as_str(w->arr.items[0]), "fdb") ||
	    !cub_val__as_str(w->arr.items[1]) ||
	    strcmp(cub_val__as_str(w->arr.items[1]), "entry") ||
	    cub_val__as_mac(w->arr.items[2], m.addr))
		return true;
	*r = cub_map__lookup(cube, &sb->fdb, &m, &e);
	if (*r == -ENOENT)
		*r = 0;
	else if (!*r)
		*r = sb_show_fn(&m, &e, s) > 0 ? 0 : s->err;
	return false;
}

static int
sb_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct sb_cube *sb = cub_cube__priv(cube);
	struct sb_show s = {.sb = sb, .now = l2_mono_ns()};
	struct cub_val *fdb, *row;
	uint32_t i;
	int r;

	(void)config;
	if (!sb->loaded)
		return 0;
	s.list = cub_val__array();
	fdb = cub_val__map();
	if (!s.list || !fdb) {
		cub_val__free(s.list);
		cub_val__free(fdb);
		return -ENOMEM;
	}
	for (i = 0; i < sb->nst; i++) {
		row = sb_row(sb, &sb->st[i].mac, sb->st[i].port, 0, "static");
		if (!row || cub_val__push(s.list, row))
			goto nomem;
	}
	/* One host asked for (`fdb entry <mac> show`): looked up, so that
	 * any of 64k is found, not only the first SB_SHOW_MAX. */
	if (sb_show_one(cube, sb, &s, &r))
		r = cub_map__dump(cube, &sb->fdb, sb_show_fn, &s);
	if (s.err)
		goto nomem;
	if (r < 0) {
		cub_val__free(s.list);
		cub_val__free(fdb);
		return r;
	}
	if (cub_val__set(fdb, "entry", s.list)) {
		s.list = NULL;
		goto nomem;
	}
	return cub_val__set(overlay, "fdb", fdb) ? -ENOMEM : 0;
nomem:
	cub_val__free(s.list);
	cub_val__free(fdb);
	return -ENOMEM;
}

static int
sb_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	struct sb_cube *sb = cub_cube__priv(cube);
	int n;

	(void)path;
	(void)args;
	if (strcmp(name, "flush"))
		return cub_cube__set_error(
		    cube, CUB_E_VERB, "no action '%s'", name);
	if (!sb->loaded)
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': not loaded", cub_cube__name(cube));
	n = l2_forget(cube, &sb->fdb, UINT32_MAX);
	if (n < 0)
		return cub_cube__set_error(cube, CUB_E_KERNEL,
		    "fdb flush: %s", strerror(-n));
	cub_cube__log(cube, CUB_LOG_INFO, "fdb flushed: %d learned hosts", n);
	*result = cub_val__strf("flushed %d learned hosts", n);
	return 0;
}

static void
sb_port_removed(struct cub_cube *cube, uint32_t index)
{
	struct sb_cube *sb = cub_cube__priv(cube);
	int n;

	if (!sb->loaded)
		return;
	n = l2_forget(cube, &sb->fdb, index);
	if (n > 0)
		cub_cube__log(cube, CUB_LOG_INFO,
		    "port index %u went: %d learned hosts forgotten", index, n);
}

/* A port took an index: it starts with no host (a host learned on the
 * index while its old port was going is not this port's). */
static void
sb_port_added(struct cub_cube *cube, uint32_t index)
{
	struct sb_cube *sb = cub_cube__priv(cube);

	if (sb->loaded)
		l2_forget(cube, &sb->fdb, index);
}

static void
sb_destroy(struct cub_cube *cube)
{
	struct sb_cube *sb = cub_cube__priv(cube);

	free(sb->st);
	sb->st = NULL;
}

static const struct cub_plugin_ops sb_ops = {
    .apply = sb_apply,
    .destroy = sb_destroy,
    .show = sb_show,
    .action = sb_action,
    .port_removed = sb_port_removed,
    .port_added = sb_port_added,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "simplebridge",
    .description = "Polycube's learning L2 bridge: FDB with aging, static "
		   "entries, floods in the fast path",
    .cube_size = sizeof(struct sb_cube),
    .schema = sb_schema,
    .ops = &sb_ops,
    .policy = CUB_POLICY_TC_XDP(CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(HASH) |
				    CUB_MAP_TYPE(LRU_HASH) |
				    CUB_MAP_TYPE(PERCPU_ARRAY) |
				    CUB_MAP_TYPE(RINGBUF),
	32u << 20),
    CUB_PLUGIN_SIZES,
};
