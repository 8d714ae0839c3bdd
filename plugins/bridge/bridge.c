// SPDX-License-Identifier: BSD-2-Clause
/*
 * bridge, control plane: Polycube's 802.1Q bridge (pcn-bridge), TC.
 *
 * The dataplane learns and forwards alone (bridge.bpf.c).  The worker
 * turns the document into maps: br_port (each port's mode and access or
 * native VLAN), br_vlan (each VLAN's ports, untagged ones, forwarding
 * ones: port indices only), br_static (the document's `fdb entry` list,
 * keyed (vlan, address)) and br_config (the aging time).  The flood of a
 * VLAN is the framework's selective flood (flood_sel.bpf.h): the fast
 * path names the VLAN's ports by index, the broker's egress program
 * sends the copies to the netdevs it wired.  FDB upkeep (forget a port's
 * hosts, sweep aged ones) is l2common's, shared with simplebridge.
 * Spanning tree is not done (the next slice): br_pstate, a port state
 * per (port, VLAN) the fast path checks, is empty (every port
 * forwarding).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "bridge.skel.h"
#include "bridge_shared.h"
#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "l2_fdb.h"

#define BR_SHOW_MAX 4096
#define BR_AGING_MAX 1000000

_Static_assert(sizeof(struct br_entry) == sizeof(struct l2_entry) &&
		   sizeof(struct br_key) == sizeof(struct l2_key),
    "bridge FDB shapes are l2common's");
_Static_assert(BR_WORDS * 32 == CUB_MAX_PORTS, "a bit per port");

struct br_static_rec {
	struct br_key key;
	uint32_t port;
};

/* What a document asks of the maps. */
struct br_want {
	struct br_port pt[CUB_MAX_PORTS];
	struct br_vlan vl[BR_VLANS];
	struct br_static_rec *st;
	uint32_t nst;
	uint64_t aging_ns;
};

struct br_cube {
	cub_map config, fdb, stat, port, vlan;
	bool loaded;
	struct br_want *cur; /* as written (NULL: nothing yet) */
	char port_name[CUB_MAX_PORTS][CUB_NAME_MAX + 1]; /* by index */
};

static const char *const br_modes[] = {"access", "trunk", NULL};

#define BR_STAT(f, help)                                                       \
	CUB_PORT_COUNTER(#f, help, "br_stats", struct br_stats, f)

static const struct cub_field br_access_fields[] = {
    {.name = "vlanid",
	.type = CUB_T_U16,
	.dflt = "1",
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "the VLAN of an access port (1..4094)"},
    {0},
};

static const struct cub_field br_allowed_fields[] = {
    {.name = "vlanid",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "a VLAN the trunk carries, tagged (1..4094)"},
    {0},
};

static const struct cub_field br_trunk_fields[] = {
    {.name = "allowed",
	.type = CUB_T_LIST,
	.children = br_allowed_fields,
	.help = "the VLANs a trunk port carries tagged"},
    {.name = "native-vlan",
	.type = CUB_T_U16,
	.dflt = "1",
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "the VLAN of the untagged frames of a trunk port"},
    {.name = "native-vlan-enabled",
	.type = CUB_T_BOOL,
	.dflt = "true",
	.help = "untagged frames on a trunk port are native-vlan's (false: "
		"dropped)"},
    {0},
};

static const struct cub_field br_port_fields[] = {
    {.name = "mode",
	.type = CUB_T_ENUM,
	.enums = br_modes,
	.dflt = "access",
	.help = "access (one VLAN, untagged) or trunk (tagged VLANs)"},
    {.name = "access",
	.type = CUB_T_CONTAINER,
	.children = br_access_fields,
	.help = "access mode: the port's VLAN"},
    {.name = "trunk",
	.type = CUB_T_CONTAINER,
	.children = br_trunk_fields,
	.help = "trunk mode: allowed VLANs and the native VLAN"},
    BR_STAT(rx_packets, "frames received on this port"),
    BR_STAT(rx_bytes, "bytes received on this port"),
    BR_STAT(tx_packets, "frames to a known host sent out of this port"),
    BR_STAT(tx_bytes, "bytes to a known host sent out of this port"),
    BR_STAT(drops, "frames received on this port and dropped"),
    BR_STAT(floods, "frames received on this port and flooded in their "
		    "VLAN"),
    BR_STAT(vlan_drops, "of drops: a VLAN this port does not carry, a tag "
			"on an access port, untagged with native VLAN off"),
    {0},
};

static const struct cub_field br_entry_fields[] = {
    {.name = "vlan",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "the host's VLAN"},
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
	.help = "seconds since the host was last seen (0: static)"},
    {.name = "type",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "static (the document's) or dynamic (learned)"},
    {0},
};

static const struct cub_action br_fdb_actions[] = {
    {.name = "flush",
	.help = "forget every learned host (static entries "
		"stay)"},
    {0},
};

static const struct cub_field br_fdb_fields[] = {
    {.name = "aging-time",
	.type = CUB_T_U32,
	.dflt = "300",
	.min = 1,
	.max = BR_AGING_MAX,
	.help = "seconds after which a host not seen is forgotten"},
    {.name = "entry",
	.type = CUB_T_LIST,
	.flags = CUB_F_SHOWN,
	.children = br_entry_fields,
	.help = "hosts by (vlan, address): the static entries added here and "
		"the learned ones (shown, at most 4096)"},
    {0},
};

static const struct cub_field br_schema[] = {
    {.name = "mac",
	.type = CUB_T_MAC,
	.help = "the bridge's own MAC address (Polycube's; unset: one made "
		"from the cube's name, see own-mac)"},
    {.name = "own-mac",
	.type = CUB_T_MAC,
	.flags = CUB_F_RO,
	.help = "the bridge's own MAC address in use: mac, or the one made "
		"from the cube's name"},
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = br_port_fields,
	.help = "ports of the bridge"},
    {.name = "fdb",
	.type = CUB_T_CONTAINER,
	.children = br_fdb_fields,
	.actions = br_fdb_actions,
	.help = "the filtering database, per VLAN"},
    {0},
};

static void
br_set_bit(uint32_t *w, uint32_t port)
{
	w[port / 32] |= 1u << (port % 32);
}

static bool
br_has_bit(const uint32_t *w, uint32_t port)
{
	return port < CUB_MAX_PORTS && (w[port / 32] >> (port % 32)) & 1;
}

static int
br_u16(const struct cub_val *m, const char *name, uint64_t dflt, uint64_t *out)
{
	const struct cub_val *v = cub_val__get(m, name);

	*out = dflt;
	return v ? cub_val__as_u64(v, out) : 0;
}

static bool
br_vid_ok(uint64_t v)
{
	return v >= 1 && v <= BR_VLAN_MAX;
}

/* One port's entry of the document into w; 0 or refused. */
static int
br_want_port(struct cub_cube *cube, const struct cub_val *p, struct br_want *w)
{
	const char *name = cub_val__get_str(p, "name") ?: "?";
	const struct cub_val *acc = cub_val__get(p, "access");
	const struct cub_val *tr = cub_val__get(p, "trunk");
	const struct cub_val *al = cub_val__get(tr, "allowed");
	uint64_t idx, vid, nat;
	bool native = true;
	uint32_t i;
	int mode;

	if (cub_val__as_u64(cub_val__get(p, "index"), &idx) ||
	    idx >= CUB_MAX_PORTS)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "port '%s': no index", name);
	mode = cub_config__enum_index(p, "mode", br_modes, 0);
	if (br_u16(acc, "vlanid", 1, &vid) || !br_vid_ok(vid))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "port '%s': access vlanid must be 1..4094", name);
	if (br_u16(tr, "native-vlan", 1, &nat) || !br_vid_ok(nat))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "port '%s': trunk native-vlan must be 1..4094", name);
	if (cub_val__get(tr, "native-vlan-enabled") &&
	    cub_val__as_bool(cub_val__get(tr, "native-vlan-enabled"), &native))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "port '%s': trunk native-vlan-enabled: not true or false",
		    name);
	w->pt[idx].flags = BR_P_VALID;
	if (mode == 0) {
		w->pt[idx].pvid = (uint16_t)vid;
		br_set_bit(w->vl[vid].members, (uint32_t)idx);
		br_set_bit(w->vl[vid].untag, (uint32_t)idx);
		return 0;
	}
	if (vid != 1)
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "port '%s': access vlanid %u on a trunk port (a trunk "
		    "carries trunk allowed VLANs; set access vlanid=1 first, "
		    "or mode=access)",
		    name, (unsigned)vid);
	w->pt[idx].flags |= BR_P_TRUNK | (native ? BR_P_NATIVE : 0);
	w->pt[idx].pvid = (uint16_t)nat;
	for (i = 0; al && al->kind == CUB_V_ARRAY && i < al->arr.len; i++) {
		if (cub_val__as_u64(
			cub_val__get(al->arr.items[i], "vlanid"), &vid) ||
		    !br_vid_ok(vid))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "port '%s': trunk allowed vlanid must be 1..4094",
			    name);
		br_set_bit(w->vl[vid].members, (uint32_t)idx);
	}
	if (native) {
		br_set_bit(w->vl[nat].members, (uint32_t)idx);
		br_set_bit(w->vl[nat].untag, (uint32_t)idx);
	}
	return 0;
}

/* The static entries of config, checked against w's VLANs. */
static int
br_want_statics(
    struct cub_cube *cube, const struct cub_val *config, struct br_want *w)
{
	const struct cub_val *list =
	    cub_val__get(cub_val__get(config, "fdb"), "entry");
	const char *addr, *port;
	uint64_t vid;
	uint32_t i, n;
	int idx;

	n = list && list->kind == CUB_V_ARRAY ? list->arr.len : 0;
	if (n > BR_STATIC_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': at most %d static fdb entries, not %u",
		    cub_cube__name(cube), BR_STATIC_MAX, n);
	w->st = calloc(n ? n : 1, sizeof(*w->st));
	if (!w->st)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "out of memory");
	for (i = 0; i < n; i++) {
		const struct cub_val *e = list->arr.items[i];

		addr = cub_val__get_str(e, "address") ?: "?";
		port = cub_val__get_str(e, "port");
		if (cub_val__as_u64(cub_val__get(e, "vlan"), &vid) ||
		    !br_vid_ok(vid))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry '%s': vlan must be 1..4094", addr);
		w->st[i].key.vlan = (uint16_t)vid;
		if (cub_val__as_mac(
			cub_val__get(e, "address"), w->st[i].key.addr))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry '%s': not a MAC address", addr);
		if (w->st[i].key.addr[0] & 1)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry '%s': a multicast address is flooded, "
			    "never a host's",
			    addr);
		idx = port ? cub_config__port_index(config, port) : -ENOENT;
		if (idx < 0 || idx >= CUB_MAX_PORTS)
			return cub_cube__set_error(cube, CUB_E_NOTFOUND,
			    "fdb entry '%s': no port '%s'", addr, port ?: "");
		if (!br_has_bit(w->vl[vid].members, (uint32_t)idx))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry %u %s: port '%s' does not carry VLAN %u",
			    (unsigned)vid, addr, port, (unsigned)vid);
		w->st[i].port = (uint32_t)idx;
	}
	w->nst = n;
	return 0;
}

static void
br_want_free(struct br_want *w)
{
	if (w) {
		free(w->st);
		free(w);
	}
}

/* The whole document, checked, as maps; NULL after set_error. */
static struct br_want *
br_want(struct cub_cube *cube, const struct cub_val *config)
{
	const struct cub_val *ports = cub_val__get(config, "ports");
	const struct cub_val *fdb = cub_val__get(config, "fdb");
	struct br_want *w = calloc(1, sizeof(*w));
	uint64_t aging = 300;
	uint32_t i, v;

	if (!w) {
		cub_cube__set_error(cube, CUB_E_INTERNAL, "out of memory");
		return NULL;
	}
	if (cub_val__get(fdb, "aging-time") &&
	    cub_val__as_u64(cub_val__get(fdb, "aging-time"), &aging)) {
		cub_cube__set_error(
		    cube, CUB_E_INVAL, "fdb aging-time: not a number");
		goto fail;
	}
	w->aging_ns = aging * 1000000000ull;
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++)
		if (br_want_port(cube, ports->arr.items[i], w))
			goto fail;
	/* Every member forwards until STP (the next slice) says not. */
	for (v = 0; v < BR_VLANS; v++)
		memcpy(w->vl[v].fwd, w->vl[v].members, sizeof(w->vl[v].fwd));
	if (br_want_statics(cube, config, w))
		goto fail;
	return w;
fail:
	br_want_free(w);
	return NULL;
}

static int
br_load(struct cub_cube *cube, struct br_cube *br)
{
	const void *elf;
	size_t len;
	int r;

	elf = bridge__elf_bytes(&len);
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "br_config", &br->config) ||
	    cub_cube__map(cube, "br_fdb", &br->fdb) ||
	    cub_cube__map(cube, "br_static", &br->stat) ||
	    cub_cube__map(cube, "br_port", &br->port) ||
	    cub_cube__map(cube, "br_vlan", &br->vlan))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': bridge maps missing", cub_cube__name(cube));
	br_want_free(br->cur);
	br->cur = NULL;
	br->loaded = true;
	return 0;
}

static bool
br_has_static(const struct br_want *w, const struct br_key *k, uint32_t port)
{
	uint32_t i;

	for (i = 0; w && i < w->nst; i++)
		if (!memcmp(&w->st[i].key, k, sizeof(*k)) &&
		    (port == UINT32_MAX || w->st[i].port == port))
			return true;
	return false;
}

/* Keys of a map whose entry the document w does not have: a learned host
 * on a (port, VLAN) no longer carried, a static entry gone. */
struct br_stale {
	const struct br_want *w;
	bool statics;
	struct br_key *keys;
	uint32_t n, cap;
};

static int
br_stale_fn(const void *key, const void *value, void *ctx)
{
	const struct br_entry *e = value;
	const struct br_key *k = key;
	struct br_stale *x = ctx;
	struct br_key *nk;
	bool keep;

	keep = x->statics ? br_has_static(x->w, k, UINT32_MAX)
			  : k->vlan < BR_VLANS &&
				br_has_bit(x->w->vl[k->vlan].members, e->port);
	if (keep)
		return 0;
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 256;
		nk = realloc(x->keys, x->cap * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		x->keys = nk;
	}
	x->keys[x->n++] = *k;
	return 0;
}

static int
br_drop_stale(struct cub_cube *cube, const cub_map *map,
    const struct br_want *w, bool statics)
{
	struct br_stale x = {.w = w, .statics = statics};
	int r;

	r = cub_map__dump(cube, map, br_stale_fn, &x);
	if (!r && x.n)
		r = cub_map__delete_batch_n(cube, map, x.keys, x.n);
	free(x.keys);
	return r == -ENOENT ? 0 : r;
}

/* br_vlan and br_port as w says: every entry on a replay, else those
 * that changed. */
static int
br_write_vlans(
    struct cub_cube *cube, struct br_cube *br, const struct br_want *w)
{
	static uint32_t keys[BR_VLANS];
	static struct br_vlan vals[BR_VLANS];
	uint32_t pkeys[CUB_MAX_PORTS], v, n = 0;
	int r;

	for (v = 0; v < BR_VLANS; v++)
		if (!br->cur ||
		    memcmp(&br->cur->vl[v], &w->vl[v], sizeof(w->vl[v]))) {
			keys[n] = v;
			vals[n++] = w->vl[v];
		}
	if (n &&
	    (r = cub_map__update_batch_n(cube, &br->vlan, keys, vals, n, 0)))
		return r;
	for (v = 0; v < CUB_MAX_PORTS; v++)
		pkeys[v] = v;
	if (!br->cur || memcmp(br->cur->pt, w->pt, sizeof(w->pt)))
		return cub_map__update_batch_n(
		    cube, &br->port, pkeys, w->pt, CUB_MAX_PORTS, 0);
	return 0;
}

static int
br_write_statics(struct cub_cube *cube, struct br_cube *br,
    const struct br_want *w, bool create)
{
	struct br_entry v = {0};
	uint32_t i;
	int r;

	if (create && (r = br_drop_stale(cube, &br->stat, w, true)))
		return r;
	for (i = 0; br->cur && i < br->cur->nst; i++)
		if (!br_has_static(w, &br->cur->st[i].key, UINT32_MAX) &&
		    (r = cub_map__delete(
			 cube, &br->stat, &br->cur->st[i].key)) &&
		    r != -ENOENT)
			return r;
	for (i = 0; i < w->nst; i++) {
		if (br_has_static(br->cur, &w->st[i].key, w->st[i].port))
			continue;
		v.port = w->st[i].port;
		if ((r = cub_map__update(
			 cube, &br->stat, &w->st[i].key, &v, 0)))
			return r;
		r = cub_map__delete(cube, &br->fdb, &w->st[i].key);
		if (r && r != -ENOENT)
			return r;
	}
	return 0;
}

static int
br_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct br_cube *br = cub_cube__priv(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	const char *type = cub_val__get_str(config, "type"), *name;
	struct br_config cfg;
	struct br_want *w;
	uint32_t i, key = 0;
	uint64_t idx;
	int r;

	if (type && strcmp(type, "TC"))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "cube '%s': bridge runs on TC only, not %s (a VLAN's flood "
		    "is a selective flood, which XDP's devmap broadcast cannot "
		    "do yet)",
		    cub_cube__name(cube), type);
	if (!(w = br_want(cube, config)))
		return -EINVAL;
	if ((create || !br->loaded) && (r = br_load(cube, br))) {
		br_want_free(w);
		return r;
	}
	cfg.aging_ns = w->aging_ns;
	/* A longer aging-time: what the shorter one forgot goes first. */
	if (!create && br->cur && cfg.aging_ns > br->cur->aging_ns &&
	    (r = l2_sweep(cube, &br->fdb, br->cur->aging_ns)))
		goto fail;
	if ((r = cub_map__update(cube, &br->config, &key, &cfg, 0)) ||
	    (r = br_write_vlans(cube, br, w)) ||
	    (r = br_write_statics(cube, br, w, create)))
		goto fail;
	/* Hosts learned on a (port, VLAN) the port no longer carries. */
	if ((r = br_drop_stale(cube, &br->fdb, w, false)))
		goto fail;
	br_want_free(br->cur);
	br->cur = w;
	memset(br->port_name, 0, sizeof(br->port_name));
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		name = cub_val__get_str(ports->arr.items[i], "name");
		if (name &&
		    !cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &idx) &&
		    idx < CUB_MAX_PORTS)
			snprintf(br->port_name[idx], sizeof(br->port_name[idx]),
			    "%s", name);
	}
	return 0;
fail:
	br_want_free(w);
	/* Half written: the apply of the previous document rewrites it all. */
	br_want_free(br->cur);
	br->cur = NULL;
	return cub_cube__set_error(cube, CUB_E_KERNEL,
	    "cube '%s': map write failed: %s", cub_cube__name(cube),
	    strerror(-r));
}

/* The bridge's own MAC: the document's, else one made from its name
 * (locally administered, unicast, the same on every replay). */
static void
br_own_mac(struct cub_cube *cube, const struct cub_val *config, uint8_t a[6])
{
	const char *n = cub_cube__name(cube);
	uint64_t h = 1469598103934665603ull;
	int i;

	if (!cub_val__as_mac(cub_val__get(config, "mac"), a))
		return;
	for (; *n; n++)
		h = (h ^ (uint8_t)*n) * 1099511628211ull;
	a[0] = 0x02;
	for (i = 1; i < 6; i++)
		a[i] = (uint8_t)(h >> (8 * i));
}

struct br_show {
	struct br_cube *br;
	struct cub_val *list;
	uint64_t now;
	uint32_t n;
	int err;
};

static struct cub_val *
br_row(struct br_cube *br, const struct br_key *k, uint32_t port, uint32_t age,
    const char *type)
{
	struct cub_val *e = cub_val__map();

	if (!e || cub_val__set(e, "vlan", cub_val__uint(k->vlan)) ||
	    cub_val__set(e, "address", l2_mac_val(k->addr)) ||
	    cub_val__set(e, "port",
		cub_val__str(port < CUB_MAX_PORTS && br->port_name[port][0]
				 ? br->port_name[port]
				 : "?")) ||
	    cub_val__set(e, "age", cub_val__uint(age)) ||
	    cub_val__set(e, "type", cub_val__str(type)))
		return cub_val__free(e);
	return e;
}

static int
br_show_fn(const void *key, const void *value, void *ctx)
{
	const struct br_entry *e = value;
	struct br_show *s = ctx;
	struct cub_val *row;
	uint64_t age_ns;

	age_ns = s->now > e->seen_ns ? s->now - e->seen_ns : 0;
	if (!s->br->cur || age_ns > s->br->cur->aging_ns ||
	    br_has_static(s->br->cur, key, UINT32_MAX))
		return 0;
	if (s->n >= BR_SHOW_MAX)
		return 1;
	row = br_row(
	    s->br, key, e->port, (uint32_t)(age_ns / 1000000000ull), "dynamic");
	if (!row || cub_val__push(s->list, row))
		return s->err = -ENOMEM;
	s->n++;
	return 0;
}

/* A show of one entry (words fdb entry <vlan> <mac> ...); true when the
 * show is not of one entry. */
static bool
br_show_one(
    struct cub_cube *cube, struct br_cube *br, struct br_show *s, int *r)
{
	const struct cub_val *w = cub_cube__show_words(cube);
	struct br_key k = {0};
	struct br_entry e;
	uint64_t vid;
	const char *a, *b;

	if (!w || w->kind != CUB_V_ARRAY || w->arr.len < 4)
		return true;
	a = cub_val__as_str(w->arr.items[0]);
	b = cub_val__as_str(w->arr.items[1]);
	if (!a || !b || strcmp(a, "fdb") || strcmp(b, "entry"))
		return true;
	if (cub_val__as_u64(w->arr.items[2], &vid)) {
		const char *t = cub_val__as_str(w->arr.items[2]);
		char *end;

		if (!t)
			return true;
		vid = strtoull(t, &end, 10);
		if (*end)
			return true;
	}
	if (!br_vid_ok(vid) || cub_val__as_mac(w->arr.items[3], k.addr))
		return true;
	k.vlan = (uint16_t)vid;
	*r = cub_map__lookup(cube, &br->fdb, &k, &e);
	if (*r == -ENOENT)
		*r = 0;
	else if (!*r)
		*r = br_show_fn(&k, &e, s) > 0 ? 0 : s->err;
	return false;
}

static int
br_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct br_cube *br = cub_cube__priv(cube);
	struct br_show s = {.br = br, .now = l2_mono_ns()};
	struct cub_val *fdb, *row;
	uint8_t mac[6];
	uint32_t i;
	int r = 0;

	br_own_mac(cube, config, mac);
	if (cub_val__set(overlay, "own-mac", l2_mac_val(mac)))
		return -ENOMEM;
	if (!br->loaded || !br->cur)
		return 0;
	s.list = cub_val__array();
	fdb = cub_val__map();
	if (!s.list || !fdb)
		goto nomem;
	for (i = 0; i < br->cur->nst; i++) {
		row = br_row(
		    br, &br->cur->st[i].key, br->cur->st[i].port, 0, "static");
		if (!row || cub_val__push(s.list, row))
			goto nomem;
	}
	if (br_show_one(cube, br, &s, &r))
		r = cub_map__dump(cube, &br->fdb, br_show_fn, &s);
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
br_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	struct br_cube *br = cub_cube__priv(cube);
	int n;

	(void)path;
	(void)args;
	if (strcmp(name, "flush"))
		return cub_cube__set_error(
		    cube, CUB_E_VERB, "no action '%s'", name);
	if (!br->loaded)
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': not loaded", cub_cube__name(cube));
	n = l2_forget(cube, &br->fdb, UINT32_MAX);
	if (n < 0)
		return cub_cube__set_error(
		    cube, CUB_E_KERNEL, "fdb flush: %s", strerror(-n));
	cub_cube__log(cube, CUB_LOG_INFO, "fdb flushed: %d learned hosts", n);
	*result = cub_val__strf("flushed %d learned hosts", n);
	return 0;
}

static void
br_port_removed(struct cub_cube *cube, uint32_t index)
{
	struct br_cube *br = cub_cube__priv(cube);
	int n;

	if (!br->loaded)
		return;
	n = l2_forget(cube, &br->fdb, index);
	if (n > 0)
		cub_cube__log(cube, CUB_LOG_INFO,
		    "port index %u went: %d learned hosts forgotten", index, n);
}

static void
br_port_added(struct cub_cube *cube, uint32_t index)
{
	struct br_cube *br = cub_cube__priv(cube);

	if (br->loaded)
		l2_forget(cube, &br->fdb, index);
}

static void
br_destroy(struct cub_cube *cube)
{
	struct br_cube *br = cub_cube__priv(cube);

	br_want_free(br->cur);
	br->cur = NULL;
}

static const struct cub_plugin_ops br_ops = {
    .apply = br_apply,
    .destroy = br_destroy,
    .show = br_show,
    .action = br_action,
    .port_removed = br_port_removed,
    .port_added = br_port_added,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "bridge",
    .description = "Polycube's 802.1Q bridge: access and trunk ports, FDB "
		   "per VLAN, floods per VLAN in the fast path (TC)",
    .cube_size = sizeof(struct br_cube),
    .schema = br_schema,
    .ops = &br_ops,
    .policy =
	{
	    .prog_types = 1u << BPF_PROG_TYPE_SCHED_CLS,
	    .map_types = CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(HASH) |
			 CUB_MAP_TYPE(LRU_HASH) | CUB_MAP_TYPE(PERCPU_ARRAY) |
			 CUB_MAP_TYPE(RINGBUF),
	    .max_map_bytes = 32u << 20,
	},
    CUB_PLUGIN_SIZES,
};
