// SPDX-License-Identifier: BSD-2-Clause
/*
 * lbrp, control plane: Polycube's reverse-proxy load balancer, with
 * Maglev consistent hashing and a session table (lbrp.bpf.c).
 *
 * The document: port_mode, ports typed FRONTEND/BACKEND (with an
 * optional ip), services keyed (vip, vport, proto) with their backends
 * (ip, port, weight).  Each service has an id (0 .. LB_SVC_MAX - 1, kept
 * as long as the service is) and two Maglev tables in lb_ring; a change
 * of its backends writes the new table into the half the data plane
 * does not read, then flips lb_services[service].half with one update:
 * a packet sees the old table or the new one, never a mixture.  A
 * backend removed goes from lb_backends after the flip (its sessions
 * then move); a backend of weight 0 stays there, in no table (drained:
 * its sessions go on, no new flow reaches it).  The kernel maps are the
 * truth at a replay: ids and halves are read back from lb_services, the
 * session table is never touched.
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
#include "lbrp.skel.h"
#include "lbrp_shared.h"
#include "maglev.h"

struct lb_brec {
	uint32_t ip; /* network order */
	uint16_t port;
	uint16_t weight;
};

struct lb_srec {
	bool used;
	struct lb_svc_key key;
	uint32_t half;
	uint32_t nb;
	struct lb_brec be[LB_SVC_BE_MAX]; /* sorted by ip */
};

struct lb_cube {
	cub_map ports, cfg, services, ring, backends, sess, vips, ip2port;
	bool loaded;
	struct lb_srec *svc; /* LB_SVC_MAX, by id */
};

static const char *const lb_port_types[] = {"FRONTEND", "BACKEND", NULL};
static const char *const lb_modes[] = {"SINGLE", "MULTI", NULL};
static const char *const lb_protos[] = {"ICMP", "TCP", "UDP", "ALL", NULL};
static const uint8_t lb_proto_num[] = {
    LB_PROTO_ICMP, LB_PROTO_TCP, LB_PROTO_UDP, LB_PROTO_ALL};

#define LB_STAT(f, help)                                                       \
	CUB_PORT_COUNTER(#f, help, "lb_stats", struct lb_stats, f)

static const struct cub_field lb_port_fields[] = {
    {.name = "type",
	.type = CUB_T_ENUM,
	.flags = CUB_F_REQUIRED,
	.enums = lb_port_types,
	.help = "FRONTEND (the clients' side) or BACKEND (the backends')"},
    {.name = "ip",
	.type = CUB_T_IPV4,
	.help = "the port's address (MULTI mode: packets from the backends "
		"to it that no session takes go out of this port)"},
    LB_STAT(rx_packets, "packets received on this port"),
    LB_STAT(rx_bytes, "bytes received on this port"),
    LB_STAT(lb_packets, "packets to a service sent to a backend"),
    LB_STAT(rev_packets, "replies whose source was put back to the VIP"),
    LB_STAT(icmp_echo, "echo requests to a VIP answered by the cube"),
    LB_STAT(drops, "packets received on this port and dropped"),
    {0},
};

static const struct cub_field lb_be_fields[] = {
    {.name = "ip",
	.type = CUB_T_IPV4,
	.flags = CUB_F_KEY,
	.help = "the backend's address"},
    {.name = "name", .type = CUB_T_STR, .max = 64, .help = "a name"},
    {.name = "port",
	.type = CUB_T_U16,
	.dflt = "0",
	.help = "the backend's port (0: the service's vport)"},
    {.name = "weight",
	.type = CUB_T_U16,
	.dflt = "1",
	.min = 0,
	.max = LB_WEIGHT_MAX,
	.help = "its share of new flows, 0 to 100 (0: drained, no new flow, "
		"its sessions go on)"},
    {0},
};

static const struct cub_field lb_svc_fields[] = {
    {.name = "vip",
	.type = CUB_T_IPV4,
	.flags = CUB_F_KEY,
	.help = "the virtual address"},
    {.name = "vport",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.help = "the virtual port (0 for ICMP)"},
    {.name = "proto",
	.type = CUB_T_ENUM,
	.flags = CUB_F_KEY,
	.enums = lb_protos,
	.help = "ICMP, TCP, UDP or ALL (what no service of the exact "
		"protocol takes)"},
    {.name = "name", .type = CUB_T_STR, .max = 64, .help = "a name"},
    {.name = "backend",
	.type = CUB_T_LIST,
	.children = lb_be_fields,
	.help = "the backends (at most 64)"},
    {0},
};

static const struct cub_field lb_sr_fields[] = {
    {.name = "ip-range",
	.type = CUB_T_IPV4_PREFIX,
	.help = "clients' addresses to rewrite, 198.18.1.0/24"},
    {.name = "new_ip_range",
	.type = CUB_T_IPV4_PREFIX,
	.help = "what the backends see instead (the same length), "
		"198.18.5.0/24"},
    {0},
};

static const struct cub_field lb_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = lb_port_fields,
	.help = "ports of the load balancer"},
    {.name = "port_mode",
	.type = CUB_T_ENUM,
	.flags = CUB_F_INIT,
	.enums = lb_modes,
	.dflt = "SINGLE",
	.help = "SINGLE: one FRONTEND and one BACKEND port; MULTI: many "
		"FRONTEND ports, one BACKEND"},
    {.name = "services",
	.type = CUB_T_LIST,
	.children = lb_svc_fields,
	.help = "services (at most 64; Polycube names the list service, "
		"which is the base field of the service's name here)"},
    {.name = "src-ip-rewrite",
	.type = CUB_T_CONTAINER,
	.children = lb_sr_fields,
	.help = "rewrite the clients' source addresses towards the "
		"backends (and back)"},
    {.name = "sessions",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "flows in the session table (client to backend entries)"},
    {0},
};

static const char *
ip_str(uint32_t nip, char *buf)
{
	return inet_ntop(AF_INET, &nip, buf, INET_ADDRSTRLEN) ?: "?";
}

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

/* "a.b.c.d/len" of field f: network, mask (network order), 0 or -EINVAL. */
static int
get_prefix(const struct cub_val *e, const char *f, uint32_t *net,
    uint32_t *mask, uint32_t *plen)
{
	const char *s = cub_val__get_str(e, f), *sl;
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned long l;
	char *end;

	if (!s || !(sl = strchr(s, '/')) || (size_t)(sl - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(sl - s));
	buf[sl - s] = 0;
	l = strtoul(sl + 1, &end, 10);
	if (inet_pton(AF_INET, buf, &a) != 1 || *end || l > 32)
		return -EINVAL;
	*plen = (uint32_t)l;
	*mask = l ? htonl(~0u << (32 - l)) : 0;
	*net = a.s_addr & *mask;
	return 0;
}

static uint64_t
get_u64(const struct cub_val *e, const char *f, uint64_t dflt)
{
	uint64_t v;

	return cub_val__as_u64(cub_val__get(e, f), &v) ? dflt : v;
}

static int
enum_idx(const char *const *t, const char *s)
{
	int i;

	for (i = 0; s && t[i]; i++)
		if (!strcasecmp(t[i], s))
			return i;
	return -1;
}

static int
cmp_brec(const void *a, const void *b)
{
	const struct lb_brec *x = a, *y = b;
	uint32_t p = ntohl(x->ip), q = ntohl(y->ip);

	return p < q ? -1 : p > q;
}

/* The document, checked. */
struct lb_doc {
	struct lb_port port[CUB_MAX_PORTS];
	struct lb_cfg cfg;
	uint32_t nsvc;
	struct lb_srec *svc; /* nsvc entries; .used: found in the kernel */
	uint32_t id[LB_SVC_MAX];
};

static int
lb_parse(struct cub_cube *cube, const struct cub_val *config, struct lb_doc *d)
{
	const struct cub_val *ports = cub_val__get(config, "ports");
	const struct cub_val *svcs = cub_val__get(config, "services");
	const char *cn = cub_cube__name(cube);
	uint32_t i, j, k, n, nfront = 0, nback = 0, total = 0, ip;
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
	uint64_t idx;
	int t;

	memset(d->port, 0, sizeof(d->port));
	memset(&d->cfg, 0, sizeof(d->cfg));
	d->cfg.mode = (uint32_t)cub_config__enum_index(
	    config, "port_mode", lb_modes, LB_MODE_SINGLE);
	n = ports && ports->kind == CUB_V_ARRAY ? ports->arr.len : 0;
	for (i = 0; i < n; i++) {
		const struct cub_val *p = ports->arr.items[i];
		const char *name = cub_val__get_str(p, "name") ?: "?";

		if (cub_val__as_u64(cub_val__get(p, "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': port '%s' has no index", cn, name);
		t = enum_idx(lb_port_types, cub_val__get_str(p, "type"));
		if (t < 0)
			return cub_cube__set_error(cube, CUB_E_MISSING,
			    "cube '%s': port '%s': type FRONTEND or BACKEND "
			    "is required",
			    cn, name);
		d->port[idx].type = t == 0 ? LB_PORT_FRONTEND : LB_PORT_BACKEND;
		if (cub_val__get(p, "ip") && get_ip(p, "ip", &d->port[idx].ip))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': port '%s': ip is not an address", cn,
			    name);
		if (t == 0) {
			if (nfront++ && d->cfg.mode == LB_MODE_SINGLE)
				return cub_cube__set_error(cube, CUB_E_LIMIT,
				    "cube '%s': port_mode SINGLE has one "
				    "FRONTEND port; '%s' would be a second "
				    "(port_mode MULTI has many)",
				    cn, name);
			d->cfg.frontend = (uint32_t)idx;
			d->cfg.has |= 1;
		} else {
			if (nback++)
				return cub_cube__set_error(cube, CUB_E_LIMIT,
				    "cube '%s': one BACKEND port; '%s' would "
				    "be a second",
				    cn, name);
			d->cfg.backend = (uint32_t)idx;
			d->cfg.has |= 2;
		}
	}
	{
		const struct cub_val *sr =
		    cub_val__get(config, "src-ip-rewrite");
		uint32_t net, mask, plen, nnet, nmask, nplen;
		bool has_old = cub_val__get(sr, "ip-range") != NULL;
		bool has_new = cub_val__get(sr, "new_ip_range") != NULL;

		if (has_old != has_new)
			return cub_cube__set_error(cube, CUB_E_MISSING,
			    "cube '%s': src-ip-rewrite needs both ip-range and "
			    "new_ip_range",
			    cn);
		if (has_old) {
			if (get_prefix(sr, "ip-range", &net, &mask, &plen) ||
			    get_prefix(
				sr, "new_ip_range", &nnet, &nmask, &nplen))
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "cube '%s': src-ip-rewrite: not a prefix",
				    cn);
			if (plen != nplen || !plen)
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "cube '%s': src-ip-rewrite: ip-range and "
				    "new_ip_range of one length (1 to 32), not "
				    "/%u and /%u",
				    cn, plen, nplen);
			d->cfg.sr_net = net;
			d->cfg.sr_mask = mask;
			d->cfg.sr_new = nnet;
		}
	}
	n = svcs && svcs->kind == CUB_V_ARRAY ? svcs->arr.len : 0;
	if (n > LB_SVC_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': at most %d services, not %u", cn, LB_SVC_MAX,
		    n);
	d->nsvc = n;
	d->svc = calloc(n ? n : 1, sizeof(*d->svc));
	if (!d->svc)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "out of memory");
	for (i = 0; i < n; i++) {
		const struct cub_val *s = svcs->arr.items[i];
		const struct cub_val *bl = cub_val__get(s, "backend");
		struct lb_srec *r = &d->svc[i];
		uint64_t vport = get_u64(s, "vport", 0);
		const char *ps = cub_val__get_str(s, "proto");

		t = enum_idx(lb_protos, ps);
		if (get_ip(s, "vip", &r->key.vip) || t < 0 || vport > 65535)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': service %u: bad vip, vport or proto",
			    cn, i);
		r->key.proto = lb_proto_num[t];
		r->key.vport = htons((uint16_t)vport);
		ip_str(r->key.vip, b1);
		if (!r->key.vip || (ntohl(r->key.vip) >> 28) >= 0xe)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': service %s: not a unicast address", cn,
			    b1);
		if (r->key.proto == LB_PROTO_ICMP && vport)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': service %s %u ICMP: an ICMP service "
			    "has vport 0",
			    cn, b1, (unsigned)vport);
		for (j = 0; j < CUB_MAX_PORTS; j++)
			if (d->port[j].type && d->port[j].ip == r->key.vip)
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "cube '%s': service %s: the VIP is a "
				    "port's address",
				    cn, b1);
		r->nb = bl && bl->kind == CUB_V_ARRAY ? bl->arr.len : 0;
		if (r->nb > LB_SVC_BE_MAX)
			return cub_cube__set_error(cube, CUB_E_LIMIT,
			    "cube '%s': service %s %u %s: at most %d "
			    "backends, not %u",
			    cn, b1, (unsigned)vport, lb_protos[t],
			    LB_SVC_BE_MAX, r->nb);
		total += r->nb;
		if (total > LB_BE_MAX)
			return cub_cube__set_error(cube, CUB_E_LIMIT,
			    "cube '%s': at most %d backends in all", cn,
			    LB_BE_MAX);
		for (j = 0; j < r->nb; j++) {
			const struct cub_val *b = bl->arr.items[j];
			uint64_t port = get_u64(b, "port", 0);
			uint64_t w = get_u64(b, "weight", 1);

			if (get_ip(b, "ip", &ip) || !ip ||
			    (ntohl(ip) >> 28) >= 0xe)
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "cube '%s': service %s: backend '%s' is "
				    "not a unicast address",
				    cn, b1, cub_val__get_str(b, "ip") ?: "?");
			if (ip == r->key.vip)
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "cube '%s': service %s: a backend cannot "
				    "be the VIP",
				    cn, b1);
			if (w > LB_WEIGHT_MAX || port > 65535)
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "cube '%s': service %s: backend %s: weight "
				    "0 to %d, port 0 to 65535",
				    cn, b1, ip_str(ip, b2), LB_WEIGHT_MAX);
			r->be[j].ip = ip;
			r->be[j].port =
			    htons(port ? (uint16_t)port : (uint16_t)vport);
			r->be[j].weight = (uint16_t)w;
		}
		qsort(r->be, r->nb, sizeof(r->be[0]), cmp_brec);
		for (k = 0; k < i; k++)
			if (!memcmp(&d->svc[k].key, &r->key, sizeof(r->key)))
				return cub_cube__set_error(cube, CUB_E_EXISTS,
				    "cube '%s': service %s twice", cn, b1);
	}
	return 0;
}

static int
lb_load(struct cub_cube *cube, struct lb_cube *lb)
{
	const void *elf;
	size_t len;
	int r;

	elf = lbrp__elf_bytes(&len);
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "lb_ports", &lb->ports) ||
	    cub_cube__map(cube, "lb_cfg", &lb->cfg) ||
	    cub_cube__map(cube, "lb_services", &lb->services) ||
	    cub_cube__map(cube, "lb_ring", &lb->ring) ||
	    cub_cube__map(cube, "lb_backends", &lb->backends) ||
	    cub_cube__map(cube, "lb_sess", &lb->sess) ||
	    cub_cube__map(cube, "lb_vips", &lb->vips) ||
	    cub_cube__map(cube, "lb_ip2port", &lb->ip2port))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': a map of lbrp.bpf.o is missing",
		    cub_cube__name(cube));
	if (!lb->svc && !(lb->svc = calloc(LB_SVC_MAX, sizeof(*lb->svc))))
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "out of memory");
	memset(lb->svc, 0, LB_SVC_MAX * sizeof(*lb->svc));
	lb->loaded = true;
	return 0;
}

/* A replay: the services the kernel has, with their ids and halves,
 * become the worker's (their backends unknown: every table is
 * rewritten). */
static int
lb_adopt_fn(const void *key, const void *value, void *ctx)
{
	struct lb_cube *lb = ctx;
	const struct lb_svc *v = value;

	if (v->id < LB_SVC_MAX && !lb->svc[v->id].used) {
		lb->svc[v->id].used = true;
		memcpy(&lb->svc[v->id].key, key, sizeof(struct lb_svc_key));
		lb->svc[v->id].half = v->half & 1;
		lb->svc[v->id].nb = UINT32_MAX; /* unknown: rewrite */
	}
	return 0;
}

/* Keys of a map the desired set lacks. */
struct lb_stale {
	uint32_t ksz;
	bool (*want)(const void *key, const void *value, void *ctx);
	void *wctx;
	uint8_t *keys;
	uint32_t n, cap;
};

static int
lb_stale_fn(const void *key, const void *value, void *ctx)
{
	struct lb_stale *s = ctx;
	uint8_t *k;

	if (s->want(key, value, s->wctx))
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		k = realloc(s->keys, (size_t)s->cap * s->ksz);
		if (!k)
			return -ENOMEM;
		s->keys = k;
	}
	memcpy(s->keys + (size_t)s->n++ * s->ksz, key, s->ksz);
	return 0;
}

static int
lb_prune(struct cub_cube *cube, const cub_map *map, uint32_t ksz,
    bool (*want)(const void *, const void *, void *), void *wctx)
{
	struct lb_stale s = {.ksz = ksz, .want = want, .wctx = wctx};
	int r;

	r = cub_map__dump(cube, map, lb_stale_fn, &s);
	if (!r && s.n)
		r = cub_map__delete_batch_n(cube, map, s.keys, s.n);
	free(s.keys);
	return r == -ENOENT ? 0 : r;
}

static bool
want_backend(const void *key, const void *value, void *ctx)
{
	const struct lb_be_key *k = key;
	const struct lb_cube *lb = ctx;
	const struct lb_srec *r;
	uint32_t i;

	(void)value;
	if (k->svc >= LB_SVC_MAX || !lb->svc[k->svc].used)
		return false;
	r = &lb->svc[k->svc];
	for (i = 0; i < r->nb && i < LB_SVC_BE_MAX; i++)
		if (r->be[i].ip == k->ip)
			return true;
	return false;
}

static bool
want_vip(const void *key, const void *value, void *ctx)
{
	const struct lb_cube *lb = ctx;
	uint32_t i;

	(void)value;
	for (i = 0; i < LB_SVC_MAX; i++)
		if (lb->svc[i].used &&
		    lb->svc[i].key.vip == *(const uint32_t *)key)
			return true;
	return false;
}

static bool
want_ip2port(const void *key, const void *value, void *ctx)
{
	const struct lb_doc *d = ctx;
	uint32_t port = *(const uint32_t *)value;

	return port < CUB_MAX_PORTS && d->port[port].type == LB_PORT_FRONTEND &&
	       d->cfg.mode == LB_MODE_MULTI &&
	       d->port[port].ip == *(const uint32_t *)key;
}

static bool
want_service(const void *key, const void *value, void *ctx)
{
	const struct lb_cube *lb = ctx;
	const struct lb_svc *v = value;

	return v->id < LB_SVC_MAX && lb->svc[v->id].used &&
	       !memcmp(&lb->svc[v->id].key, key, sizeof(struct lb_svc_key));
}

/* Service r (id) gets backends n: its backends written, its new table in
 * the other half, the flip. */
static int
lb_write_service(struct cub_cube *cube, struct lb_cube *lb, uint32_t id,
    const struct lb_srec *n)
{
	struct lb_srec *r = &lb->svc[id];
	struct maglev_be mb[LB_SVC_BE_MAX];
	struct lb_be_key bk[LB_SVC_BE_MAX];
	struct lb_be bv[LB_SVC_BE_MAX];
	struct lb_svc sv = {.id = id};
	uint32_t *table = NULL, *keys = NULL, i, base, nlive = 0;
	struct lb_dst *dst = NULL;
	int err;

	for (i = 0; i < n->nb; i++) {
		bk[i].svc = id;
		bk[i].ip = n->be[i].ip;
		bv[i].port = n->be[i].port;
		bv[i].weight = n->be[i].weight;
		mb[i].key =
		    (uint64_t)ntohl(n->be[i].ip) << 16 | ntohs(n->be[i].port);
		mb[i].weight = n->be[i].weight;
		nlive += n->be[i].weight > 0;
	}
	if (n->nb && (err = cub_map__update_batch_n(
			  cube, &lb->backends, bk, bv, n->nb, 0)))
		return err;
	sv.half = r->half ^ 1;
	sv.nbe = nlive;
	if (nlive) {
		table = malloc(LB_RING * sizeof(*table));
		keys = malloc(LB_RING * sizeof(*keys));
		dst = calloc(LB_RING, sizeof(*dst));
		err = -ENOMEM;
		if (!table || !keys || !dst)
			goto out;
		if ((err = maglev_fill(mb, n->nb, LB_RING, table)))
			goto out;
		base = (id * 2 + sv.half) * LB_RING;
		for (i = 0; i < LB_RING; i++) {
			keys[i] = base + i;
			dst[i].ip = n->be[table[i]].ip;
			dst[i].port = n->be[table[i]].port;
		}
		if ((err = cub_map__update_batch_n(
			 cube, &lb->ring, keys, dst, LB_RING, 0)))
			goto out;
	} else {
		sv.half = r->half; /* no table read: nothing to flip */
	}
	if ((err = cub_map__update(cube, &lb->services, &n->key, &sv, 0)))
		goto out;
	r->used = true;
	r->key = n->key;
	r->half = sv.half;
	r->nb = n->nb;
	memcpy(r->be, n->be, n->nb * sizeof(r->be[0]));
out:
	free(table);
	free(keys);
	free(dst);
	return err;
}

static int
lb_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct lb_cube *lb = cub_cube__priv(cube);
	struct lb_doc d = {.svc = NULL};
	uint32_t i, j, keys[CUB_MAX_PORTS], zero = 0, cnt;
	bool keep[LB_SVC_MAX] = {0};
	int r;

	if ((r = lb_parse(cube, config, &d)))
		goto done;
	if ((create || !lb->loaded) && (r = lb_load(cube, lb)))
		goto done;
	if (create &&
	    (r = cub_map__dump(cube, &lb->services, lb_adopt_fn, lb)) &&
	    r != -ENOENT)
		goto kernel;
	/* Ids: a service the worker (or the kernel) has keeps its own. */
	for (i = 0; i < d.nsvc; i++) {
		d.id[i] = UINT32_MAX;
		for (j = 0; j < LB_SVC_MAX; j++)
			if (lb->svc[j].used &&
			    !memcmp(&lb->svc[j].key, &d.svc[i].key,
				sizeof(d.svc[i].key)))
				d.id[i] = j;
		if (d.id[i] != UINT32_MAX)
			keep[d.id[i]] = true;
	}
	/* Services gone: out of lb_services first (no new flow looks at
	 * their tables), their backends pruned below. */
	for (j = 0; j < LB_SVC_MAX; j++) {
		if (!lb->svc[j].used || keep[j])
			continue;
		r = cub_map__delete(cube, &lb->services, &lb->svc[j].key);
		if (r && r != -ENOENT)
			goto kernel;
		lb->svc[j].used = false;
	}
	for (i = 0; i < d.nsvc; i++) {
		if (d.id[i] != UINT32_MAX)
			continue;
		for (j = 0; j < LB_SVC_MAX && (lb->svc[j].used || keep[j]); j++)
			;
		if (j == LB_SVC_MAX) {
			r = cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': no free service id",
			    cub_cube__name(cube));
			goto done;
		}
		d.id[i] = j;
		keep[j] = true; /* taken: the next new service gets another */
		lb->svc[j].half = 0;
		lb->svc[j].nb = UINT32_MAX;
	}
	/* Ports and mode. */
	for (i = 0; i < CUB_MAX_PORTS; i++)
		keys[i] = i;
	if ((r = cub_map__update_batch_n(
		 cube, &lb->ports, keys, d.port, CUB_MAX_PORTS, 0)) ||
	    (r = cub_map__update(cube, &lb->cfg, &zero, &d.cfg, 0)))
		goto kernel;
	for (i = 0; i < CUB_MAX_PORTS; i++)
		if (d.cfg.mode == LB_MODE_MULTI &&
		    d.port[i].type == LB_PORT_FRONTEND && d.port[i].ip &&
		    (r = cub_map__update(
			 cube, &lb->ip2port, &d.port[i].ip, &i, 0)))
			goto kernel;
	if ((r = lb_prune(cube, &lb->ip2port, 4, want_ip2port, &d)))
		goto kernel;
	/* Services whose backends changed (all at a replay). */
	for (i = 0; i < d.nsvc; i++) {
		struct lb_srec *o = &lb->svc[d.id[i]];

		if (o->used && o->nb == d.svc[i].nb &&
		    !memcmp(o->be, d.svc[i].be, o->nb * sizeof(o->be[0])))
			continue;
		if ((r = lb_write_service(cube, lb, d.id[i], &d.svc[i])))
			goto kernel;
	}
	/* What the document no longer has: backends (after the flips),
	 * services the kernel had and the worker did not know, VIPs. */
	if ((r = lb_prune(cube, &lb->backends, sizeof(struct lb_be_key),
		 want_backend, lb)) ||
	    (r = lb_prune(cube, &lb->services, sizeof(struct lb_svc_key),
		 want_service, lb)))
		goto kernel;
	for (j = 0; j < LB_SVC_MAX; j++) {
		if (!lb->svc[j].used)
			continue;
		cnt = 1;
		if ((r = cub_map__update(
			 cube, &lb->vips, &lb->svc[j].key.vip, &cnt, 0)))
			goto kernel;
	}
	if ((r = lb_prune(cube, &lb->vips, 4, want_vip, lb)))
		goto kernel;
	r = 0;
	goto done;
kernel:
	/* Half written: the next apply (or the broker's replay of the
	 * previous document) rewrites every table. */
	for (j = 0; j < LB_SVC_MAX && lb->svc; j++)
		lb->svc[j].nb = UINT32_MAX;
	r = cub_cube__set_error(cube, CUB_E_KERNEL,
	    "cube '%s': map write failed: %s", cub_cube__name(cube),
	    strerror(-r));
done:
	free(d.svc);
	return r;
}

static int
lb_count_fn(const void *key, const void *value, void *ctx)
{
	const struct lb_flow *f = key;

	(void)value;
	*(uint32_t *)ctx += f->dir == 0;
	return 0;
}

static int
lb_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct lb_cube *lb = cub_cube__priv(cube);
	uint32_t n = 0;
	int r;

	(void)config;
	if (!lb->loaded)
		return 0;
	r = cub_map__dump(cube, &lb->sess, lb_count_fn, &n);
	if (r && r != -ENOENT)
		return r;
	return cub_val__set(overlay, "sessions", cub_val__uint(n)) ? -ENOMEM
								   : 0;
}

static void
lb_destroy(struct cub_cube *cube)
{
	struct lb_cube *lb = cub_cube__priv(cube);

	free(lb->svc);
	lb->svc = NULL;
}

static const struct cub_plugin_ops lb_ops = {
    .apply = lb_apply,
    .destroy = lb_destroy,
    .show = lb_show,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "lbrp",
    .description = "Polycube's reverse-proxy load balancer: services "
		   "(vip, vport, proto) to weighted backends by Maglev "
		   "hashing, sessions that stay on their backend",
    .cube_size = sizeof(struct lb_cube),
    .schema = lb_schema,
    .ops = &lb_ops,
    .policy = CUB_POLICY_TC_XDP(
	CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(HASH) | CUB_MAP_TYPE(LRU_HASH) |
	    CUB_MAP_TYPE(PERCPU_ARRAY) | CUB_MAP_TYPE(RINGBUF),
	48u << 20),
    CUB_PLUGIN_SIZES,
};
