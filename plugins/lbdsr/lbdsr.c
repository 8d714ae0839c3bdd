// SPDX-License-Identifier: BSD-2-Clause
/*
 * lbdsr, control plane: Polycube's direct-server-return load balancer
 * (lbdsr.bpf.c), with several VIPs and a pool changed at run time.
 *
 * The document: ports typed FRONTEND/BACKEND (one each), `algorithm`
 * (SRC_IP or FIVE_TUPLE), `frontend` {vip, mac} as Polycube's, more VIPs
 * in `vips`, and the pool `backend pool` keyed id with the backend's
 * MAC.  A change of the pool builds its Maglev table (lbrp's maglev.c)
 * into the half of ld_ring the data plane does not read, then flips
 * ld_cfg.half with one update.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "lbdsr.skel.h"
#include "lbdsr_shared.h"
#include "maglev.h"

struct ld_cube {
	cub_map ports, cfg, ring, vips;
	bool loaded;
	bool known; /* pool below is what the table holds */
	uint32_t half, npool;
	struct ld_mac pool[LD_POOL_MAX]; /* sorted */
	uint32_t nvip;
	uint32_t vip[LD_VIP_MAX + 1];
};

static const char *const ld_port_types[] = {"FRONTEND", "BACKEND", NULL};
static const char *const ld_algos[] = {"SRC_IP", "FIVE_TUPLE", NULL};

#define LD_STAT(f, help)                                                       \
	CUB_PORT_COUNTER(#f, help, "ld_stats", struct ld_stats, f)

static const struct cub_field ld_port_fields[] = {
    {.name = "type",
	.type = CUB_T_ENUM,
	.flags = CUB_F_REQUIRED,
	.enums = ld_port_types,
	.help = "FRONTEND (the clients' side) or BACKEND (the pool's)"},
    LD_STAT(rx_packets, "packets received on this port"),
    LD_STAT(rx_bytes, "bytes received on this port"),
    LD_STAT(lb_packets, "packets to a VIP sent to a backend's MAC"),
    LD_STAT(vip_replies, "packets from a VIP received here (replies that "
			 "came through the cube, not direct)"),
    LD_STAT(arp_replies, "ARP requests for a VIP answered"),
    LD_STAT(drops, "packets received on this port and dropped"),
    {0},
};

static const struct cub_field ld_front_fields[] = {
    {.name = "vip", .type = CUB_T_IPV4, .help = "the virtual address"},
    {.name = "mac",
	.type = CUB_T_MAC,
	.help = "the frontend MAC: ARP for a VIP is answered with it, and it "
		"is the source MAC of what goes to a backend"},
    {0},
};

static const struct cub_field ld_vip_fields[] = {
    {.name = "ip",
	.type = CUB_T_IPV4,
	.flags = CUB_F_KEY,
	.help = "one more virtual address (beyond Polycube's one)"},
    {0},
};

static const struct cub_field ld_pool_fields[] = {
    {.name = "id",
	.type = CUB_T_U32,
	.flags = CUB_F_KEY,
	.help = "the backend's id"},
    {.name = "mac",
	.type = CUB_T_MAC,
	.flags = CUB_F_REQUIRED,
	.help = "the backend's MAC (it holds the VIPs on a loopback)"},
    {0},
};

static const struct cub_field ld_backend_fields[] = {
    {.name = "pool",
	.type = CUB_T_LIST,
	.children = ld_pool_fields,
	.help = "the backends (at most 64), added and removed at run time"},
    {0},
};

static const struct cub_field ld_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = ld_port_fields,
	.help = "one FRONTEND and one BACKEND port"},
    {.name = "algorithm",
	.type = CUB_T_ENUM,
	.enums = ld_algos,
	.dflt = "FIVE_TUPLE",
	.help = "the hash that picks a backend: SRC_IP or FIVE_TUPLE"},
    {.name = "frontend",
	.type = CUB_T_CONTAINER,
	.children = ld_front_fields,
	.help = "the VIP and the frontend MAC"},
    {.name = "vips",
	.type = CUB_T_LIST,
	.children = ld_vip_fields,
	.help = "more VIPs (at most 63 with frontend vip)"},
    {.name = "backend",
	.type = CUB_T_CONTAINER,
	.children = ld_backend_fields,
	.help = "the backend pool"},
    {0},
};

static int
get_ip(const struct cub_val *e, const char *f, uint32_t *out)
{
	const char *s = cub_val__get_str(e, f);
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = a.s_addr;
	return 0;
}

static int
cmp_mac(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ld_mac));
}

/* The kernel's VIPs the document lacks. */
struct ld_gone {
	const uint32_t *vip;
	uint32_t nvip, n;
	uint32_t gone[LD_VIP_MAX];
};

static int
ld_gone_fn(const void *key, const void *value, void *ctx)
{
	struct ld_gone *g = ctx;
	uint32_t i, k;

	(void)value;
	memcpy(&k, key, 4);
	for (i = 0; i < g->nvip; i++)
		if (g->vip[i] == k)
			return 0;
	if (g->n < LD_VIP_MAX)
		g->gone[g->n++] = k;
	return 0;
}

static int
ld_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct ld_cube *ld = cub_cube__priv(cube);
	const char *cn = cub_cube__name(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	const struct cub_val *fe = cub_val__get(config, "frontend");
	const struct cub_val *vl = cub_val__get(config, "vips");
	const struct cub_val *pl =
	    cub_val__get(cub_val__get(config, "backend"), "pool");
	uint32_t type[CUB_MAX_PORTS] = {0}, keys[CUB_MAX_PORTS], i, n;
	uint32_t vip[LD_VIP_MAX + 1], nvip = 0, zero = 0, one = 1;
	struct ld_mac pool[LD_POOL_MAX];
	struct ld_cfg cfg = {0};
	uint32_t npool, *table = NULL, *rk = NULL;
	struct ld_mac *rv = NULL;
	struct maglev_be mb[LD_POOL_MAX];
	uint64_t idx;
	int t, r;

	n = ports && ports->kind == CUB_V_ARRAY ? ports->arr.len : 0;
	for (i = 0; i < n; i++) {
		const struct cub_val *p = ports->arr.items[i];
		const char *name = cub_val__get_str(p, "name") ?: "?";

		if (cub_val__as_u64(cub_val__get(p, "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': port '%s' has no index", cn, name);
		t = cub_config__enum_index(p, "type", ld_port_types, -1);
		if (t < 0)
			return cub_cube__set_error(cube, CUB_E_MISSING,
			    "cube '%s': port '%s': type FRONTEND or BACKEND "
			    "is required",
			    cn, name);
		if (cfg.has & (1u << t))
			return cub_cube__set_error(cube, CUB_E_LIMIT,
			    "cube '%s': one %s port; '%s' would be a second",
			    cn, ld_port_types[t], name);
		cfg.has |= 1u << t;
		type[idx] = t ? LD_PORT_BACKEND : LD_PORT_FRONTEND;
		if (t)
			cfg.backend = (uint32_t)idx;
		else
			cfg.frontend = (uint32_t)idx;
	}
	cfg.algo = (uint32_t)cub_config__enum_index(
	    config, "algorithm", ld_algos, LD_ALGO_5TUPLE);
	if (cub_val__get(fe, "mac")) {
		if (cub_val__as_mac(cub_val__get(fe, "mac"), cfg.mac) ||
		    (cfg.mac[0] & 1))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': frontend mac: not a unicast MAC", cn);
		cfg.has_mac = 1;
	}
	if (cub_val__get(fe, "vip") && get_ip(fe, "vip", &vip[nvip++]))
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "cube '%s': frontend vip: bad", cn);
	n = vl && vl->kind == CUB_V_ARRAY ? vl->arr.len : 0;
	if (n + nvip > LD_VIP_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': at most %d VIPs", cn, LD_VIP_MAX);
	for (i = 0; i < n; i++)
		if (get_ip(vl->arr.items[i], "ip", &vip[nvip++]))
			return cub_cube__set_error(
			    cube, CUB_E_INVAL, "cube '%s': vips: bad", cn);
	for (i = 0; i < nvip; i++)
		if (!vip[i] || (ntohl(vip[i]) >> 28) >= 0xe)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': VIP %s is not a unicast address", cn,
			    inet_ntoa((struct in_addr){vip[i]}));
	npool = pl && pl->kind == CUB_V_ARRAY ? pl->arr.len : 0;
	if (npool > LD_POOL_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': at most %d backends in the pool", cn,
		    LD_POOL_MAX);
	memset(pool, 0, sizeof(pool));
	for (i = 0; i < npool; i++) {
		if (cub_val__as_mac(
			cub_val__get(pl->arr.items[i], "mac"), pool[i].addr) ||
		    (pool[i].addr[0] & 1))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': backend pool %s: not a unicast MAC", cn,
			    cub_val__get_str(pl->arr.items[i], "mac") ?: "?");
	}
	qsort(pool, npool, sizeof(pool[0]), cmp_mac);
	for (i = 1; i < npool; i++)
		if (!cmp_mac(&pool[i - 1], &pool[i]))
			return cub_cube__set_error(cube, CUB_E_EXISTS,
			    "cube '%s': two backends of one MAC", cn);
	if (create || !ld->loaded) {
		const void *elf;
		size_t len;
		struct ld_cfg old;

		elf = lbdsr__elf_bytes(&len);
		if ((r = cub_cube__load(cube, elf, len)))
			return r;
		if (cub_cube__map(cube, "ld_ports", &ld->ports) ||
		    cub_cube__map(cube, "ld_cfg", &ld->cfg) ||
		    cub_cube__map(cube, "ld_ring", &ld->ring) ||
		    cub_cube__map(cube, "ld_vips", &ld->vips))
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': a map of lbdsr.bpf.o is missing", cn);
		ld->loaded = true;
		ld->known = false;
		ld->half = 0;
		ld->nvip = 0;
		/* A replay: the half the data plane reads now stays read
		 * until the new table is in the other one. */
		if (!cub_map__lookup(cube, &ld->cfg, &zero, &old))
			ld->half = old.half & 1;
		/* The VIPs the kernel has: all are checked below. */
	}
	for (i = 0; i < CUB_MAX_PORTS; i++)
		keys[i] = i;
	if ((r = cub_map__update_batch_n(
		 cube, &ld->ports, keys, type, CUB_MAX_PORTS, 0)))
		goto kernel;
	cfg.half = ld->half;
	cfg.npool = ld->known ? ld->npool : 0;
	if (!ld->known || ld->npool != npool ||
	    memcmp(ld->pool, pool, npool * sizeof(pool[0]))) {
		if (npool) {
			table = malloc(LD_RING * sizeof(*table));
			rk = malloc(LD_RING * sizeof(*rk));
			rv = malloc(LD_RING * sizeof(*rv));
			r = -ENOMEM;
			if (!table || !rk || !rv)
				goto kernel;
			for (i = 0; i < npool; i++) {
				mb[i].key = 0;
				memcpy(&mb[i].key, pool[i].addr, 6);
				mb[i].weight = 1;
			}
			if ((r = maglev_fill(mb, npool, LD_RING, table)))
				goto kernel;
			for (i = 0; i < LD_RING; i++) {
				rk[i] = (ld->half ^ 1) * LD_RING + i;
				rv[i] = pool[table[i]];
			}
			if ((r = cub_map__update_batch_n(
				 cube, &ld->ring, rk, rv, LD_RING, 0)))
				goto kernel;
			cfg.half = ld->half ^ 1;
		}
		cfg.npool = npool;
	}
	if ((r = cub_map__update(cube, &ld->cfg, &zero, &cfg, 0)))
		goto kernel;
	ld->half = cfg.half;
	ld->npool = npool;
	memcpy(ld->pool, pool, sizeof(pool));
	ld->known = true;
	/* VIPs: the new ones, then those gone (all the kernel's at a
	 * replay: the previous document's may differ). */
	for (i = 0; i < nvip; i++)
		if ((r = cub_map__update(cube, &ld->vips, &vip[i], &one, 0)))
			goto kernel;
	{
		struct ld_gone g = {.vip = vip, .nvip = nvip};

		r = cub_map__dump(cube, &ld->vips, ld_gone_fn, &g);
		if (r && r != -ENOENT)
			goto kernel;
		for (i = 0; i < g.n; i++) {
			r = cub_map__delete(cube, &ld->vips, &g.gone[i]);
			if (r && r != -ENOENT)
				goto kernel;
		}
	}
	memcpy(ld->vip, vip, nvip * sizeof(vip[0]));
	ld->nvip = nvip;
	r = 0;
	goto out;
kernel:
	ld->known = false;
	r = cub_cube__set_error(cube, CUB_E_KERNEL,
	    "cube '%s': map write failed: %s", cn, strerror(-r));
out:
	free(table);
	free(rk);
	free(rv);
	return r;
}

static const struct cub_plugin_ops ld_ops = {
    .apply = ld_apply,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "lbdsr",
    .description = "Polycube's direct-server-return load balancer: VIPs "
		   "to a pool of backend MACs by Maglev hashing",
    .cube_size = sizeof(struct ld_cube),
    .schema = ld_schema,
    .ops = &ld_ops,
    .policy = CUB_POLICY_TC_XDP(CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(HASH) |
				    CUB_MAP_TYPE(PERCPU_ARRAY) |
				    CUB_MAP_TYPE(RINGBUF),
	8u << 20),
    CUB_PLUGIN_SIZES,
};
