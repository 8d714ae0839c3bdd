// SPDX-License-Identifier: BSD-2-Clause
/*
 * router, control plane: Polycube's pcn-router (IPv4).
 *
 * The document: ports with ip (address/prefix), up to 5 secondaryip and
 * a mac; route entries keyed (network, nexthop) with pathcost; arp-table
 * entries (static neighbours).  apply() checks it all first (a nexthop
 * on no port's network, a network with host bits, an address on two
 * ports are refused, naming it), then writes what changed: rt_ports,
 * rt_local (the router's addresses), rt_routes and rt_host (the
 * connected networks and, per network, the static route of least
 * pathcost, /32 ones in rt_host; a route that changes is one map update
 * of its key: never missing meanwhile) and
 * the static rt_arp entries.  Shows add the connected routes and the
 * learned neighbours (route and arp-table are CUB_F_SHOWN lists).
 *
 * The slow path: a packet whose next hop has no MAC (RT_REASON_ARP_MISS)
 * waits in a bounded queue (RT_QUEUE_PER per next hop, RT_QUEUE_MAX in
 * all, RT_QUEUE_MS at most) while an ARP request goes out of the port
 * (at most one per next hop and second); an ARP reply to the router
 * (RT_REASON_ARP_REPLY; the dataplane learned it already) sends the
 * next hop's packets on with their TTL decremented; a packet that
 * waited RT_QUEUE_MS gets its source a host unreachable (rt_unreach()).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <linux/bpf.h>

#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "router.skel.h"
#include "router_shared.h"

#define RT_SECONDARY_MAX (RT_ADDRS_MAX - 1)
#define RT_QUEUE_PER 16
#define RT_QUEUE_MAX 1024
#define RT_QUEUE_MS 3000
#define RT_SHOW_MAX 4096

struct rt_portcfg {
	bool used;
	char name[CUB_NAME_MAX + 1];
	struct rt_port p; /* as written to rt_ports */
	uint8_t plen[RT_ADDRS_MAX];
};

struct rt_rec { /* one rt_routes entry, as written */
	struct rt_route_key k;
	struct rt_route v;
};

struct rt_static { /* one document route */
	uint32_t net, plen, nh, cost, port;
};

struct rt_q { /* a packet waiting for its next hop's MAC */
	uint32_t nh, port, len;
	int64_t at_ms;
	uint8_t data[CUB_PKTIN_MAX];
};

struct rt_cube {
	cub_map ports, routes, host, arp, local;
	bool loaded;
	struct rt_portcfg port[CUB_MAX_PORTS];
	struct rt_rec *rec; /* rt_routes as written, sorted by key */
	uint32_t nrec;
	struct rt_static *st; /* the document's routes */
	uint32_t nst;
	uint32_t *arp_ip; /* static neighbours as written */
	uint32_t narp;
	uint32_t *local_ip; /* rt_local as written */
	uint32_t nlocal;
	struct rt_q *q; /* RT_QUEUE_MAX slots; len 0: free */
	uint32_t nq;
	struct {
		uint32_t nh;
		int64_t ms;
	} asked[64]; /* the last ARP requests, by next hop */
};

#define RT_STAT(f, help) CUB_PORT_COUNTER(#f, help, "rt_stats", struct rt_stats, f)

static const struct cub_field rt_sec_fields[] = {
    {.name = "ip",
	.type = CUB_T_IPV4_PREFIX,
	.flags = CUB_F_KEY,
	.help = "a secondary address and its network, 198.18.5.1/24"},
    {0},
};

static const struct cub_field rt_port_fields[] = {
    {.name = "ip",
	.type = CUB_T_IPV4_PREFIX,
	.help = "the port's address and its network, 198.18.1.254/24"},
    {.name = "mac",
	.type = CUB_T_MAC,
	.help = "the port's MAC (default: 02:cb:<cube>:<port index>)"},
    {.name = "secondaryip",
	.type = CUB_T_LIST,
	.children = rt_sec_fields,
	.help = "up to 5 more addresses of the port"},
    RT_STAT(rx_packets, "packets received on this port"),
    RT_STAT(rx_bytes, "bytes received on this port"),
    RT_STAT(tx_packets, "packets routed out of this port"),
    RT_STAT(tx_bytes, "bytes routed out of this port"),
    RT_STAT(drops, "packets received on this port and dropped"),
    RT_STAT(slowpath, "packets received on this port sent to the worker "
		      "(next hop unknown, ARP replies)"),
    RT_STAT(icmp_out, "ARP and echo replies and ICMP errors sent back out "
		      "of this port"),
    {0},
};

static const struct cub_field rt_route_fields[] = {
    {.name = "network",
	.type = CUB_T_IPV4_PREFIX,
	.flags = CUB_F_KEY,
	.help = "the destination network, 198.18.3.0/24"},
    {.name = "nexthop",
	.type = CUB_T_IPV4,
	.flags = CUB_F_KEY,
	.help = "the next hop, on a port's network (0.0.0.0: connected)"},
    {.name = "pathcost",
	.type = CUB_T_U32,
	.dflt = "1",
	.min = 1,
	.max = 1000000,
	.help = "of the routes to one network, the least is used"},
    {.name = "interface",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "the port the next hop is behind"},
    {0},
};

static const struct cub_field rt_arp_fields[] = {
    {.name = "address",
	.type = CUB_T_IPV4,
	.flags = CUB_F_KEY,
	.help = "the neighbour's address"},
    {.name = "mac",
	.type = CUB_T_MAC,
	.flags = CUB_F_REQUIRED,
	.help = "its MAC"},
    {.name = "interface",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "the port it is behind"},
    {.name = "type",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "static (the document's) or dynamic (learned)"},
    {0},
};

static const struct cub_field rt_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = rt_port_fields,
	.help = "ports of the router"},
    {.name = "route",
	.type = CUB_T_LIST,
	.flags = CUB_F_SHOWN,
	.children = rt_route_fields,
	.help = "static routes (route add NETWORK NEXTHOP); shown with the "
		"connected ones"},
    {.name = "arp-table",
	.type = CUB_T_LIST,
	.flags = CUB_F_SHOWN,
	.children = rt_arp_fields,
	.help = "static neighbours; shown with the learned ones"},
    {0},
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t
mask_of(uint32_t plen)
{
	return plen ? htonl(~0u << (32 - plen)) : 0;
}

static int
prefix_of(const struct cub_val *v, uint32_t *addr, uint32_t *plen)
{
	struct cub_ip ip;

	if (cub_val__as_ip_prefix(v, &ip) || ip.family != AF_INET)
		return -EINVAL;
	memcpy(addr, ip.addr, 4);
	*plen = ip.plen;
	return 0;
}

static int
addr_of(const struct cub_val *v, uint32_t *addr)
{
	struct cub_ip ip;

	if (cub_val__as_ip(v, &ip) || ip.family != AF_INET)
		return -EINVAL;
	memcpy(addr, ip.addr, 4);
	return 0;
}

static const char *
ip_str(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* The port (index) whose network holds a, or -1. */
static int
port_for(const struct rt_portcfg *pc, uint32_t a)
{
	uint32_t i, j;

	for (i = 0; i < CUB_MAX_PORTS; i++)
		for (j = 0; pc[i].used && j < pc[i].p.nip; j++)
			if ((a & pc[i].p.ip[j].mask) ==
			    (pc[i].p.ip[j].ip & pc[i].p.ip[j].mask))
				return (int)i;
	return -1;
}

/* Why a is no host on port's networks: NULL when it is one. */
static const char *
not_a_host(const struct rt_portcfg *pc, int port, uint32_t a)
{
	uint32_t i, j;

	for (i = 0; i < CUB_MAX_PORTS; i++)
		for (j = 0; pc[i].used && j < pc[i].p.nip; j++)
			if (pc[i].p.ip[j].ip == a)
				return "is the router's own address";
	for (j = 0; port >= 0 && j < pc[port].p.nip; j++)
		if ((a & pc[port].p.ip[j].mask) ==
		    (pc[port].p.ip[j].ip & pc[port].p.ip[j].mask)) {
			if (!(a & ~pc[port].p.ip[j].mask))
				return "is its network's network address";
			if ((a | pc[port].p.ip[j].mask) == 0xffffffffu)
				return "is its network's broadcast address";
		}
	return NULL;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct rt_rec *x = a, *y = b;

	if (x->k.plen != y->k.plen)
		return x->k.plen < y->k.plen ? -1 : 1;
	if (x->k.addr != y->k.addr)
		return ntohl(x->k.addr) < ntohl(y->k.addr) ? -1 : 1;
	return 0;
}

struct rt_sorted {
	struct rt_rec r;
	uint32_t cost, order;
};

static int
sorted_cmp(const void *a, const void *b)
{
	const struct rt_sorted *x = a, *y = b;
	int c = key_cmp(&x->r, &y->r);

	if (c)
		return c;
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The new state from config, checked; nothing written. */
struct rt_new {
	struct rt_portcfg port[CUB_MAX_PORTS];
	struct rt_rec *rec;
	uint32_t nrec;
	struct rt_static *st;
	uint32_t nst;
	uint32_t *arp_ip;
	struct rt_arp *arp_v;
	uint32_t narp;
	uint32_t *local_ip;
	uint32_t nlocal;
};

static void
rt_new_free(struct rt_new *n)
{
	free(n->rec);
	free(n->st);
	free(n->arp_ip);
	free(n->arp_v);
	free(n->local_ip);
}

#define RTERR(code, ...) cub_cube__set_error(cube, code, __VA_ARGS__)

static int
parse_ports(struct cub_cube *cube, const struct cub_val *config,
    struct rt_new *n)
{
	const struct cub_val *ports = cub_val__get(config, "ports"), *e, *sec;
	const char *name = cub_cube__name(cube);
	struct rt_portcfg *pc;
	uint32_t i, j, k, a, plen, h = 5381;
	uint64_t idx;
	char b1[INET_ADDRSTRLEN];

	for (i = 0; name[i]; i++)
		h = h * 33 + (uint8_t)name[i];
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		e = ports->arr.items[i];
		if (cub_val__as_u64(cub_val__get(e, "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			return RTERR(CUB_E_INTERNAL, "port '%s' has no index",
			    cub_val__get_str(e, "name") ?: "?");
		pc = &n->port[idx];
		pc->used = true;
		snprintf(pc->name, sizeof(pc->name), "%s",
		    cub_val__get_str(e, "name") ?: "");
		if (cub_val__get(e, "mac")) {
			if (cub_val__as_mac(cub_val__get(e, "mac"), pc->p.mac))
				return RTERR(CUB_E_INVAL, "port '%s': bad mac",
				    pc->name);
			if (pc->p.mac[0] & 1)
				return RTERR(CUB_E_INVAL,
				    "port '%s': mac %s is a multicast address",
				    pc->name, cub_val__get_str(e, "mac"));
		} else {
			pc->p.mac[0] = 0x02;
			pc->p.mac[1] = 0xcb;
			pc->p.mac[2] = (uint8_t)(h >> 16);
			pc->p.mac[3] = (uint8_t)(h >> 8);
			pc->p.mac[4] = (uint8_t)h;
			pc->p.mac[5] = (uint8_t)idx;
		}
		sec = cub_val__get(e, "secondaryip");
		if (sec && sec->kind == CUB_V_ARRAY &&
		    sec->arr.len > RT_SECONDARY_MAX)
			return RTERR(CUB_E_LIMIT,
			    "port '%s': at most %d secondary addresses, not %u",
			    pc->name, RT_SECONDARY_MAX, sec->arr.len);
		if (!cub_val__get(e, "ip")) {
			if (sec && sec->kind == CUB_V_ARRAY && sec->arr.len)
				return RTERR(CUB_E_MISSING,
				    "port '%s': secondary addresses need an ip "
				    "first",
				    pc->name);
			continue;
		}
		for (j = 0; j <= (sec && sec->kind == CUB_V_ARRAY
				      ? sec->arr.len
				      : 0);
		     j++) {
			const struct cub_val *v =
			    j ? cub_val__get(sec->arr.items[j - 1], "ip")
			      : cub_val__get(e, "ip");

			if (prefix_of(v, &a, &plen) || plen < 1 || plen > 30)
				return RTERR(CUB_E_INVAL,
				    "port '%s': address %s: a port's network "
				    "is /1 to /30",
				    pc->name, cub_val__as_str(v) ?: "?");
			if ((a & ~mask_of(plen)) == 0 ||
			    (a | mask_of(plen)) == 0xffffffffu)
				return RTERR(CUB_E_INVAL,
				    "port '%s': %s is its network's network "
				    "or broadcast address",
				    pc->name, cub_val__as_str(v));
			pc->p.ip[j].ip = a;
			pc->p.ip[j].mask = mask_of(plen);
			pc->plen[j] = (uint8_t)plen;
			pc->p.nip = (uint16_t)(j + 1);
		}
	}
	/* An address on two ports (or twice on one) is refused. */
	for (i = 0; i < CUB_MAX_PORTS; i++)
		for (j = 0; j < n->port[i].p.nip; j++)
			for (k = i; k < CUB_MAX_PORTS; k++) {
				uint32_t l;

				for (l = k == i ? j + 1 : 0;
				     l < n->port[k].p.nip; l++)
					if (n->port[k].p.ip[l].ip ==
					    n->port[i].p.ip[j].ip)
						return RTERR(CUB_E_EXISTS,
						    "address %s is on port "
						    "'%s' and on port '%s'",
						    ip_str(n->port[i].p.ip[j].ip,
							b1),
						    n->port[i].name,
						    n->port[k].name);
			}
	return 0;
}

static int
add_rec(struct rt_new *n, uint32_t cap, uint32_t net, uint32_t plen,
    uint32_t port, uint32_t nh)
{
	if (n->nrec >= cap)
		return -E2BIG;
	n->rec[n->nrec].k.plen = plen;
	n->rec[n->nrec].k.addr = net;
	n->rec[n->nrec].v.port = port;
	n->rec[n->nrec].v.nexthop = nh;
	n->nrec++;
	return 0;
}

static int
parse_routes(struct cub_cube *cube, const struct cub_val *config,
    struct rt_new *n)
{
	const struct cub_val *rl = cub_val__get(config, "route"), *e;
	uint32_t i, j, nr, cap, net, plen, nh, w;
	uint64_t cost;
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
	int port;

	nr = rl && rl->kind == CUB_V_ARRAY ? rl->arr.len : 0;
	cap = nr + CUB_MAX_PORTS * RT_ADDRS_MAX;
	if (nr > RT_ROUTES_MAX - CUB_MAX_PORTS * RT_ADDRS_MAX)
		return RTERR(CUB_E_LIMIT, "at most %d routes, not %u",
		    RT_ROUTES_MAX - CUB_MAX_PORTS * RT_ADDRS_MAX, nr);
	n->st = calloc(nr ? nr : 1, sizeof(*n->st));
	n->rec = calloc(cap, sizeof(*n->rec));
	if (!n->st || !n->rec)
		return RTERR(CUB_E_INTERNAL, "out of memory");
	for (i = 0; i < nr; i++) {
		e = rl->arr.items[i];
		if (prefix_of(cub_val__get(e, "network"), &net, &plen) ||
		    addr_of(cub_val__get(e, "nexthop"), &nh))
			return RTERR(CUB_E_INVAL, "route %u: bad keys", i);
		if (net & ~mask_of(plen))
			return RTERR(CUB_E_INVAL,
			    "route %s: the network has host bits set (did "
			    "you mean %s/%u?)",
			    cub_val__get_str(e, "network"),
			    ip_str(net & mask_of(plen), b1), plen);
		port = port_for(n->port, nh);
		if (!nh || port < 0)
			return RTERR(CUB_E_INVAL,
			    "route %s via %s: the next hop is on no port's "
			    "network",
			    cub_val__get_str(e, "network"),
			    ip_str(nh, b2));
		if (not_a_host(n->port, port, nh))
			return RTERR(CUB_E_INVAL,
			    "route %s via %s: the next hop %s",
			    cub_val__get_str(e, "network"), ip_str(nh, b2),
			    not_a_host(n->port, port, nh));
		cost = 1;
		if (cub_val__get(e, "pathcost"))
			cub_val__as_u64(cub_val__get(e, "pathcost"), &cost);
		n->st[i] = (struct rt_static){net, plen, nh, (uint32_t)cost,
		    (uint32_t)port};
	}
	n->nst = nr;
	/* Connected networks first: they win over a static route. */
	for (i = 0; i < CUB_MAX_PORTS; i++)
		for (j = 0; j < n->port[i].p.nip; j++)
			if (add_rec(n, cap,
				n->port[i].p.ip[j].ip & n->port[i].p.ip[j].mask,
				n->port[i].plen[j], i, 0))
				return RTERR(CUB_E_LIMIT, "too many routes");
	for (i = 0; i < nr; i++)
		if (add_rec(n, cap, n->st[i].net, n->st[i].plen, n->st[i].port,
			n->st[i].nh))
			return RTERR(CUB_E_LIMIT, "too many routes");
	/* One entry per prefix: the connected one, else the least cost,
	 * else the first. */
	{
		struct rt_sorted *t = calloc(n->nrec ? n->nrec : 1, sizeof(*t));
		uint32_t conn = 0;

		if (!t)
			return RTERR(CUB_E_INTERNAL, "out of memory");
		for (i = 0; i < CUB_MAX_PORTS; i++)
			conn += n->port[i].p.nip;
		for (i = 0; i < n->nrec; i++) {
			t[i].r = n->rec[i];
			t[i].cost = i < conn ? 0 : n->st[i - conn].cost;
			t[i].order = i;
		}
		qsort(t, n->nrec, sizeof(*t), sorted_cmp);
		for (i = 0, w = 0; i < n->nrec; i++)
			if (!w || key_cmp(&n->rec[w - 1], &t[i].r))
				n->rec[w++] = t[i].r;
		n->nrec = w;
		free(t);
	}
	return 0;
}

static int
parse_arp(struct cub_cube *cube, const struct cub_val *config,
    struct rt_new *n)
{
	const struct cub_val *al = cub_val__get(config, "arp-table"), *e;
	uint32_t i, na, a;
	int port;
	char b1[INET_ADDRSTRLEN];

	na = al && al->kind == CUB_V_ARRAY ? al->arr.len : 0;
	if (na > RT_ARP_MAX / 2)
		return RTERR(CUB_E_LIMIT, "at most %d static neighbours, not %u",
		    RT_ARP_MAX / 2, na);
	n->arp_ip = calloc(na ? na : 1, sizeof(*n->arp_ip));
	n->arp_v = calloc(na ? na : 1, sizeof(*n->arp_v));
	if (!n->arp_ip || !n->arp_v)
		return RTERR(CUB_E_INTERNAL, "out of memory");
	for (i = 0; i < na; i++) {
		e = al->arr.items[i];
		if (addr_of(cub_val__get(e, "address"), &a) ||
		    cub_val__as_mac(cub_val__get(e, "mac"), n->arp_v[i].mac))
			return RTERR(CUB_E_INVAL, "arp-table entry %u: bad "
						  "address or mac",
			    i);
		port = port_for(n->port, a);
		if (port < 0)
			return RTERR(CUB_E_INVAL,
			    "arp-table %s: the address is on no port's network",
			    ip_str(a, b1));
		if (not_a_host(n->port, port, a))
			return RTERR(CUB_E_INVAL, "arp-table %s: the address %s",
			    ip_str(a, b1), not_a_host(n->port, port, a));
		if (n->arp_v[i].mac[0] & 1)
			return RTERR(CUB_E_INVAL,
			    "arp-table %s: mac %s is a multicast address",
			    ip_str(a, b1), cub_val__get_str(e, "mac"));
		n->arp_ip[i] = a;
		n->arp_v[i].port = (uint32_t)port;
		n->arp_v[i].flags = RT_ARP_STATIC;
	}
	n->narp = na;
	return 0;
}

static int
parse_local(struct cub_cube *cube, struct rt_new *n)
{
	uint32_t i, j;

	n->local_ip = calloc(CUB_MAX_PORTS * RT_ADDRS_MAX, sizeof(uint32_t));
	if (!n->local_ip)
		return RTERR(CUB_E_INTERNAL, "out of memory");
	for (i = 0; i < CUB_MAX_PORTS; i++)
		for (j = 0; j < n->port[i].p.nip; j++)
			n->local_ip[n->nlocal++] = n->port[i].p.ip[j].ip;
	qsort(n->local_ip, n->nlocal, sizeof(uint32_t), u32_cmp);
	return 0;
}

static bool
has_u32(const uint32_t *v, uint32_t n, uint32_t x)
{
	return n && bsearch(&x, v, n, sizeof(*v), u32_cmp);
}

/* The learned neighbours of the ports marked in forget go. */
struct rt_forget_ctx {
	const bool *forget;
	uint32_t *keys;
	uint32_t n, cap;
};

static int
forget_fn(const void *key, const void *value, void *ctx)
{
	const struct rt_arp *e = value;
	struct rt_forget_ctx *f = ctx;
	uint32_t *k;

	if ((e->flags & RT_ARP_STATIC) || e->port >= CUB_MAX_PORTS ||
	    !f->forget[e->port])
		return 0;
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		k = realloc(f->keys, f->cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		f->keys = k;
	}
	memcpy(&f->keys[f->n++], key, sizeof(uint32_t));
	return 0;
}

static int
rt_forget(struct cub_cube *cube, struct rt_cube *rt, const bool *forget)
{
	struct rt_forget_ctx f = {.forget = forget};
	uint32_t i;
	int r;

	for (i = 0; i < CUB_MAX_PORTS && !forget[i]; i++)
		;
	if (i == CUB_MAX_PORTS)
		return 0;
	r = cub_map__dump(cube, &rt->arp, forget_fn, &f);
	if (!r && f.n)
		r = cub_map__delete_batch_n(cube, &rt->arp, f.keys, f.n);
	free(f.keys);
	return r == -ENOENT ? 0 : r;
}

/* Write the difference between what rt holds and n; 0 or -errno. */
static int
rt_write(struct cub_cube *cube, struct rt_cube *rt, struct rt_new *n)
{
	struct rt_rec *del = NULL, *put = NULL;
	uint32_t i, j, nd = 0, np = 0, nhd = 0, nhp = 0, port;
	struct rt_route_key *dk = NULL, *pk = NULL;
	struct rt_route *pv = NULL, *hv = NULL;
	uint32_t *hk = NULL, *hdk = NULL;
	uint32_t *sorted_arp = NULL;
	bool forget[CUB_MAX_PORTS] = {0};
	int r = 0, c;

	/* Ports: what changed.  A port whose networks changed, or that
	 * went, forgets the neighbours it learned. */
	for (port = 0; port < CUB_MAX_PORTS; port++) {
		if (!memcmp(&rt->port[port].p, &n->port[port].p,
			sizeof(struct rt_port)))
			continue;
		if ((r = cub_map__update(
			 cube, &rt->ports, &port, &n->port[port].p, 0)))
			goto out;
		if (rt->port[port].used &&
		    (rt->port[port].p.nip != n->port[port].p.nip ||
			memcmp(rt->port[port].p.ip, n->port[port].p.ip,
			    sizeof(n->port[port].p.ip))))
			forget[port] = true;
	}
	if ((r = rt_forget(cube, rt, forget)))
		goto out;
	/* A port that changed asks its neighbours again at once. */
	if (memcmp(forget, (bool[CUB_MAX_PORTS]){0}, sizeof(forget)))
		memset(rt->asked, 0, sizeof(rt->asked));
	/* Routes: a merge of the two sorted tables.  New and changed
	 * entries first (an update of a key replaces it atomically), then
	 * the ones that went. */
	del = calloc(rt->nrec + 1, sizeof(*del));
	put = calloc(n->nrec + 1, sizeof(*put));
	if (!del || !put) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0, j = 0; i < rt->nrec || j < n->nrec;) {
		c = i == rt->nrec   ? 1
		    : j == n->nrec ? -1
				   : key_cmp(&rt->rec[i], &n->rec[j]);
		if (c < 0) {
			del[nd++] = rt->rec[i++];
		} else if (c > 0) {
			put[np++] = n->rec[j++];
		} else {
			if (memcmp(&rt->rec[i].v, &n->rec[j].v,
				sizeof(struct rt_route)))
				put[np++] = n->rec[j];
			i++;
			j++;
		}
	}
	dk = calloc(nd + 1, sizeof(*dk));
	pk = calloc(np + 1, sizeof(*pk));
	pv = calloc(np + 1, sizeof(*pv));
	hdk = calloc(nd + 1, sizeof(*hdk));
	hk = calloc(np + 1, sizeof(*hk));
	hv = calloc(np + 1, sizeof(*hv));
	if (!dk || !pk || !pv || !hdk || !hk || !hv) {
		r = -ENOMEM;
		goto out;
	}
	/* The /32 routes go in rt_host, by address; the others in the
	 * trie (router_shared.h). */
	for (i = 0, j = np, np = 0; i < j; i++)
		if (put[i].k.plen == 32) {
			hk[nhp] = put[i].k.addr;
			hv[nhp++] = put[i].v;
		} else {
			pk[np] = put[i].k;
			pv[np++] = put[i].v;
		}
	for (i = 0, j = nd, nd = 0; i < j; i++)
		if (del[i].k.plen == 32)
			hdk[nhd++] = del[i].k.addr;
		else
			dk[nd++] = del[i].k;
	if (np && (r = cub_map__update_batch_n(cube, &rt->routes, pk, pv, np, 0)))
		goto out;
	if (nhp &&
	    (r = cub_map__update_batch_n(cube, &rt->host, hk, hv, nhp, 0)))
		goto out;
	if (nd && (r = cub_map__delete_batch_n(cube, &rt->routes, dk, nd)) &&
	    r != -ENOENT)
		goto out;
	if (nhd &&
	    (r = cub_map__delete_batch_n(cube, &rt->host, hdk, nhd)) &&
	    r != -ENOENT)
		goto out;
	/* The router's own addresses. */
	for (i = 0; i < n->nlocal; i++)
		if (!has_u32(rt->local_ip, rt->nlocal, n->local_ip[i])) {
			for (port = 0; port < CUB_MAX_PORTS; port++)
				for (j = 0; j < n->port[port].p.nip; j++)
					if (n->port[port].p.ip[j].ip ==
					    n->local_ip[i])
						goto found;
			continue;
found:
			if ((r = cub_map__update(cube, &rt->local,
				 &n->local_ip[i], &port, 0)))
				goto out;
		}
	for (i = 0; i < rt->nlocal; i++)
		if (!has_u32(n->local_ip, n->nlocal, rt->local_ip[i]))
			cub_map__delete(cube, &rt->local, &rt->local_ip[i]);
	/* Static neighbours: all written (few), the gone ones deleted. */
	for (i = 0; i < n->narp; i++)
		if ((r = cub_map__update(
			 cube, &rt->arp, &n->arp_ip[i], &n->arp_v[i], 0)))
			goto out;
	sorted_arp = calloc(n->narp + 1, sizeof(*sorted_arp));
	if (!sorted_arp) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(sorted_arp, n->arp_ip, n->narp * sizeof(*sorted_arp));
	qsort(sorted_arp, n->narp, sizeof(*sorted_arp), u32_cmp);
	for (i = 0; i < rt->narp; i++)
		if (!has_u32(sorted_arp, n->narp, rt->arp_ip[i]))
			cub_map__delete(cube, &rt->arp, &rt->arp_ip[i]);
	/* Taken: n's tables are rt's now. */
	memcpy(rt->port, n->port, sizeof(rt->port));
	free(rt->rec);
	rt->rec = n->rec;
	rt->nrec = n->nrec;
	n->rec = NULL;
	free(rt->st);
	rt->st = n->st;
	rt->nst = n->nst;
	n->st = NULL;
	free(rt->arp_ip);
	rt->arp_ip = sorted_arp;
	rt->narp = n->narp;
	sorted_arp = NULL;
	free(rt->local_ip);
	rt->local_ip = n->local_ip;
	rt->nlocal = n->nlocal;
	n->local_ip = NULL;
out:
	free(del);
	free(put);
	free(dk);
	free(pk);
	free(pv);
	free(hdk);
	free(hk);
	free(hv);
	free(sorted_arp);
	return r;
}

static int
rt_load(struct cub_cube *cube, struct rt_cube *rt)
{
	const void *elf;
	size_t len;
	uint32_t i;
	int r;

	elf = router__elf_bytes(&len);
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "rt_ports", &rt->ports) ||
	    cub_cube__map(cube, "rt_routes", &rt->routes) ||
	    cub_cube__map(cube, "rt_host", &rt->host) ||
	    cub_cube__map(cube, "rt_arp", &rt->arp) ||
	    cub_cube__map(cube, "rt_local", &rt->local))
		return RTERR(CUB_E_INTERNAL, "cube '%s': router maps missing",
		    cub_cube__name(cube));
	/* A replay (a worker restart): what the maps hold is unknown to
	 * this worker.  Every port is written again, and the route and
	 * local tables are emptied of what the document no longer has
	 * by writing them whole (keys the document lacks are deleted
	 * below from a dump). */
	memset(rt->port, 0xff, sizeof(rt->port)); /* differs from any */
	for (i = 0; i < CUB_MAX_PORTS; i++)
		rt->port[i].used = false;
	free(rt->rec);
	rt->rec = NULL;
	rt->nrec = 0;
	free(rt->local_ip);
	rt->local_ip = NULL;
	rt->nlocal = 0;
	free(rt->arp_ip);
	rt->arp_ip = NULL;
	rt->narp = 0;
	rt->loaded = true;
	return 0;
}

/* After a replay: rt_routes keys the document lacks (a route deleted
 * while the worker was down) go. */
struct rt_dump {
	struct rt_cube *rt;
	struct rt_route_key *gone;
	uint32_t n, cap;
};

/* d->gone gets k. */
static int
gone_add(struct rt_dump *d, const struct rt_route_key *k)
{
	struct rt_route_key *g;

	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 256;
		g = realloc(d->gone, d->cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		d->gone = g;
	}
	d->gone[d->n++] = *k;
	return 0;
}

/* A key the dump met that rt->rec lacks: d->gone gets it. */
static int
dump_gone(struct rt_dump *d, const struct rt_rec *probe)
{
	if (d->rt->nrec && bsearch(probe, d->rt->rec, d->rt->nrec,
			       sizeof(*probe), key_cmp))
		return 0;
	return gone_add(d, &probe->k);
}

static int
dump_route_fn(const void *key, const void *value, void *ctx)
{
	struct rt_rec probe = {.k = *(const struct rt_route_key *)key};

	(void)value;
	/* A /32 in the trie is an older router's (before rt_host): rt_host
	 * has it now (rt_write() ran first), so it goes (review 20). */
	return probe.k.plen == 32 ? gone_add(ctx, &probe.k)
				  : dump_gone(ctx, &probe);
}

/* rt_host's keys are addresses: /32 routes. */
static int
dump_host_fn(const void *key, const void *value, void *ctx)
{
	struct rt_rec probe = {.k = {.plen = 32}};

	(void)value;
	memcpy(&probe.k.addr, key, sizeof(probe.k.addr));
	return dump_gone(ctx, &probe);
}

/* After a replay: what rt_routes and rt_host hold that rt->rec lacks. */
static int
rt_cleanup(struct cub_cube *cube, struct rt_cube *rt)
{
	struct rt_dump d = {.rt = rt};
	uint32_t i, *addr;
	int r;

	r = cub_map__dump(cube, &rt->routes, dump_route_fn, &d);
	if (!r && d.n)
		r = cub_map__delete_batch_n(cube, &rt->routes, d.gone, d.n);
	if (r && r != -ENOENT)
		goto out;
	d.n = 0;
	r = cub_map__dump(cube, &rt->host, dump_host_fn, &d);
	if (!r && d.n) {
		/* The keys, as addresses, in place. */
		addr = (uint32_t *)d.gone;
		for (i = 0; i < d.n; i++)
			addr[i] = d.gone[i].addr;
		r = cub_map__delete_batch_n(cube, &rt->host, addr, d.n);
	}
out:
	free(d.gone);
	return r == -ENOENT ? 0 : r;
}

static int
rt_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct rt_cube *rt = cub_cube__priv(cube);
	struct rt_new n = {0};
	bool replay = create || !rt->loaded;
	int r;

	if ((r = parse_ports(cube, config, &n)) ||
	    (r = parse_routes(cube, config, &n)) ||
	    (r = parse_arp(cube, config, &n)) || (r = parse_local(cube, &n)))
		goto out;
	if (replay && (r = rt_load(cube, rt)))
		goto out;
	if ((r = rt_write(cube, rt, &n))) {
		/* Half written: the next apply (the broker's rollback with
		 * the previous document) rewrites everything. */
		rt->loaded = false;
		r = RTERR(CUB_E_KERNEL, "cube '%s': map write failed: %s",
		    cub_cube__name(cube), strerror(-r));
		goto out;
	}
	if (replay && (r = rt_cleanup(cube, rt)))
		r = RTERR(CUB_E_KERNEL, "cube '%s': route cleanup: %s",
		    cub_cube__name(cube), strerror(-r));
out:
	rt_new_free(&n);
	return r;
}

/* ---- show ---------------------------------------------------------- */

struct rt_arpshow {
	struct rt_cube *rt;
	struct cub_val *list;
	uint32_t n;
	int err;
};

static int
arp_show_fn(const void *key, const void *value, void *ctx)
{
	const struct rt_arp *e = value;
	struct rt_arpshow *s = ctx;
	char b1[INET_ADDRSTRLEN];
	struct cub_val *row;
	const uint8_t *m = e->mac;

	if (s->n >= RT_SHOW_MAX)
		return 1;
	row = cub_val__map();
	if (!row ||
	    cub_val__set(row, "address",
		cub_val__str(ip_str(*(const uint32_t *)key, b1))) ||
	    cub_val__set(row, "mac",
		cub_val__strf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		    m[3], m[4], m[5])) ||
	    cub_val__set(row, "interface",
		cub_val__str(e->port < CUB_MAX_PORTS
				 ? s->rt->port[e->port].name
				 : "?")) ||
	    cub_val__set(row, "type",
		cub_val__str(e->flags & RT_ARP_STATIC ? "static"
						      : "dynamic")) ||
	    cub_val__push(s->list, row))
		return s->err = -ENOMEM;
	s->n++;
	return 0;
}

static int
rt_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct rt_cube *rt = cub_cube__priv(cube);
	struct rt_arpshow as = {.rt = rt};
	struct cub_val *routes = NULL, *row;
	char b1[INET_ADDRSTRLEN + 4], b2[INET_ADDRSTRLEN];
	uint32_t i, j;
	int r;

	(void)config;
	if (!rt->loaded)
		return 0;
	routes = cub_val__array();
	as.list = cub_val__array();
	if (!routes || !as.list)
		goto nomem;
	/* The connected networks, then the document's with their port. */
	for (i = 0; i < CUB_MAX_PORTS; i++)
		for (j = 0; j < rt->port[i].p.nip; j++) {
			ip_str(rt->port[i].p.ip[j].ip & rt->port[i].p.ip[j].mask,
			    b1);
			snprintf(b1 + strlen(b1), 5, "/%u", rt->port[i].plen[j]);
			row = cub_val__map();
			if (!row || cub_val__set(row, "network", cub_val__str(b1)) ||
			    cub_val__set(row, "nexthop", cub_val__str("0.0.0.0")) ||
			    cub_val__set(row, "pathcost", cub_val__uint(0)) ||
			    cub_val__set(row, "interface",
				cub_val__str(rt->port[i].name)) ||
			    cub_val__push(routes, row))
				goto nomem;
		}
	for (i = 0; i < rt->nst && i < RT_SHOW_MAX; i++) {
		ip_str(rt->st[i].net, b1);
		snprintf(b1 + strlen(b1), 5, "/%u", rt->st[i].plen);
		row = cub_val__map();
		if (!row || cub_val__set(row, "network", cub_val__str(b1)) ||
		    cub_val__set(row, "nexthop",
			cub_val__str(ip_str(rt->st[i].nh, b2))) ||
		    cub_val__set(row, "interface",
			cub_val__str(rt->port[rt->st[i].port].name)) ||
		    cub_val__push(routes, row))
			goto nomem;
	}
	r = cub_map__dump(cube, &rt->arp, arp_show_fn, &as);
	if (as.err)
		goto nomem;
	if (r < 0) {
		cub_val__free(routes);
		cub_val__free(as.list);
		return r;
	}
	if (cub_val__set(overlay, "route", routes)) {
		routes = NULL;
		goto nomem;
	}
	routes = NULL;
	if (cub_val__set(overlay, "arp-table", as.list)) {
		as.list = NULL;
		goto nomem;
	}
	return 0;
nomem:
	cub_val__free(routes);
	cub_val__free(as.list);
	return -ENOMEM;
}

/* ---- slow path ------------------------------------------------------ */

/* A frame the dataplane would have sent: TTL - 1, MACs for the hop. */
static void
rt_send_on(struct cub_cube *cube, struct rt_cube *rt, struct rt_q *q,
    const uint8_t *mac)
{
	uint8_t *f = q->data;
	uint32_t sum;
	uint16_t c;

	if (q->len < 14 + 20 || q->port >= CUB_MAX_PORTS || f[14 + 8] <= 1)
		return;
	memcpy(f, mac, 6);
	memcpy(f + 6, rt->port[q->port].p.mac, 6);
	f[14 + 8]--;
	memcpy(&c, f + 14 + 10, 2);
	sum = (uint32_t)c + htons(0x0100);
	c = (uint16_t)(sum + (sum >> 16));
	memcpy(f + 14 + 10, &c, 2);
	cub_cube__packet_out(cube, q->port, CUB_PKTOUT_EGRESS, f, q->len);
}

static void
rt_ask(struct cub_cube *cube, struct rt_cube *rt, uint32_t port, uint32_t nh)
{
	const struct rt_port *p = &rt->port[port].p;
	uint8_t f[42] = {0};
	int64_t now = now_ms();
	uint32_t i, src = 0, slot = (nh * 2654435761u) >> 26;

	if (rt->asked[slot].nh == nh && now - rt->asked[slot].ms < 1000)
		return;
	for (i = 0; i < p->nip; i++)
		if ((nh & p->ip[i].mask) == (p->ip[i].ip & p->ip[i].mask)) {
			src = p->ip[i].ip;
			break;
		}
	if (!src)
		return;
	rt->asked[slot].nh = nh;
	rt->asked[slot].ms = now;
	memset(f, 0xff, 6);
	memcpy(f + 6, p->mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	f[15] = 1;    /* ar_hrd ethernet */
	f[16] = 0x08; /* ar_pro IPv4 */
	f[18] = 6;
	f[19] = 4;
	f[21] = 1; /* request */
	memcpy(f + 22, p->mac, 6);
	memcpy(f + 28, &src, 4);
	memcpy(f + 38, &nh, 4);
	cub_cube__packet_out(cube, port, CUB_PKTOUT_EGRESS, f, sizeof(f));
}

/*
 * The route to dst over the written table: *port and the next hop's
 * address (the route's, else dst itself); false when none covers dst.
 * The table is sorted by prefix length, then address: one binary search
 * per length, longest first (not a walk of 100k routes per packet).
 */
static bool
rt_route_for(struct rt_cube *rt, uint32_t dst, uint32_t *port, uint32_t *nh)
{
	struct rt_rec probe = {0}, *hit;
	int plen;

	for (plen = 32; plen >= 0 && rt->nrec; plen--) {
		probe.k.plen = (uint32_t)plen;
		probe.k.addr = dst & mask_of((uint32_t)plen);
		hit = bsearch(&probe, rt->rec, rt->nrec, sizeof(*rt->rec),
		    key_cmp);
		if (hit) {
			*port = hit->v.port;
			*nh = hit->v.nexthop ? hit->v.nexthop : dst;
			return true;
		}
	}
	return false;
}

/* The next hop of a frame the dataplane routed (0: none). */
static uint32_t
rt_nexthop(struct rt_cube *rt, const uint8_t *f, uint32_t len)
{
	uint32_t dst, port, nh;

	if (len < 14 + 20)
		return 0;
	memcpy(&dst, f + 14 + 16, 4);
	return rt_route_for(rt, dst, &port, &nh) ? nh : 0;
}

static uint16_t
csum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/*
 * A queued packet whose next hop never answered: an ICMP host
 * unreachable to its source (RFC 1812 4.3.3.1), routed as the router's
 * own packet out of the port towards the source, from that port's
 * address, quoting the IP header and 8 bytes.  None for an ICMP error,
 * a later fragment, a source that is not a host's, or a source whose
 * next hop has no MAC either.
 */
static void
rt_unreach(struct cub_cube *cube, struct rt_cube *rt, const struct rt_q *q)
{
	const uint8_t *o = q->data + 14;
	uint8_t f[14 + 20 + 8 + 68] = {0};
	uint32_t src, port, nh, ihl, qlen;
	struct rt_arp n;
	uint16_t c;

	if (q->len < 14 + 28 || (o[0] >> 4) != 4)
		return;
	ihl = (uint32_t)(o[0] & 0xf) * 4;
	if (ihl < 20 || q->len < 14 + ihl + 8 || ((o[6] & 0x1f) | o[7]))
		return;
	if (o[9] == 1 && o[ihl] != 0 && o[ihl] != 8)
		return; /* never an error about an error */
	memcpy(&src, o + 12, 4);
	if (!src || (ntohl(src) >> 28) >= 0xe ||
	    !rt_route_for(rt, src, &port, &nh) || port >= CUB_MAX_PORTS ||
	    !rt->port[port].p.nip ||
	    cub_map__lookup(cube, &rt->arp, &nh, &n))
		return;
	qlen = ihl + 8;
	memcpy(f, n.mac, 6);
	memcpy(f + 6, rt->port[port].p.mac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[15] = 0xc0;
	c = htons((uint16_t)(20 + 8 + qlen));
	memcpy(f + 16, &c, 2);
	f[22] = 64;
	f[23] = 1;
	memcpy(f + 26, &rt->port[port].p.ip[0].ip, 4);
	memcpy(f + 30, &src, 4);
	c = csum16(f + 14, 20);
	memcpy(f + 24, &c, 2);
	f[34] = 3; /* destination unreachable */
	f[35] = 1; /* host */
	memcpy(f + 42, o, qlen);
	c = csum16(f + 34, 8 + qlen);
	memcpy(f + 36, &c, 2);
	cub_cube__packet_out(cube, port, CUB_PKTOUT_EGRESS, f, 14 + 28 + qlen);
}

static void
rt_packet_in(struct cub_cube *cube, uint32_t port, const void *data, size_t len)
{
	struct rt_cube *rt = cub_cube__priv(cube);
	const uint8_t *f = data;
	int64_t now = now_ms();
	uint32_t i, nh, spa, per = 0, free_slot = RT_QUEUE_MAX;

	if (!rt->loaded || port >= CUB_MAX_PORTS || len < 14 ||
	    len > CUB_PKTIN_MAX)
		return;
	if (!rt->q && !(rt->q = calloc(RT_QUEUE_MAX, sizeof(*rt->q))))
		return;
	/* Expired packets go first. */
	for (i = 0; i < RT_QUEUE_MAX; i++)
		if (rt->q[i].len && now - rt->q[i].at_ms > RT_QUEUE_MS) {
			rt_unreach(cube, rt, &rt->q[i]);
			rt->q[i].len = 0;
			rt->nq--;
		}
	if (f[12] == 0x08 && f[13] == 0x06) { /* an ARP reply to us */
		if (len < 42)
			return;
		memcpy(&spa, f + 28, 4);
		/* An answer from the port whose network has the address. */
		if (port_for(rt->port, spa) != (int)port)
			return;
		for (i = 0; i < RT_QUEUE_MAX; i++)
			if (rt->q[i].len && rt->q[i].nh == spa) {
				rt_send_on(cube, rt, &rt->q[i], f + 22);
				rt->q[i].len = 0;
				rt->nq--;
			}
		return;
	}
	/* A packet for a next hop without a MAC: queue it, ask. */
	nh = rt_nexthop(rt, f, (uint32_t)len);
	if (!nh)
		return;
	for (i = 0; i < RT_QUEUE_MAX; i++) {
		if (!rt->q[i].len) {
			if (free_slot == RT_QUEUE_MAX)
				free_slot = i;
		} else if (rt->q[i].nh == nh) {
			per++;
		}
	}
	if (per < RT_QUEUE_PER && free_slot < RT_QUEUE_MAX) {
		rt->q[free_slot].nh = nh;
		rt->q[free_slot].port = port;
		rt->q[free_slot].len = (uint32_t)len;
		rt->q[free_slot].at_ms = now;
		memcpy(rt->q[free_slot].data, f, len);
		rt->nq++;
	}
	rt_ask(cube, rt, port, nh);
}

static void
rt_destroy(struct cub_cube *cube)
{
	struct rt_cube *rt = cub_cube__priv(cube);

	free(rt->rec);
	free(rt->st);
	free(rt->arp_ip);
	free(rt->local_ip);
	free(rt->q);
}

static const struct cub_plugin_ops rt_ops = {
    .apply = rt_apply,
    .destroy = rt_destroy,
    .show = rt_show,
    .packet_in = rt_packet_in,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "router",
    .description = "Polycube's IPv4 router: ports with addresses, static "
		   "routes by longest prefix, ARP, ICMP",
    .cube_size = sizeof(struct rt_cube),
    .schema = rt_schema,
    .ops = &rt_ops,
    .policy = CUB_POLICY_TC_XDP(CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(HASH) |
				    CUB_MAP_TYPE(LPM_TRIE) |
				    CUB_MAP_TYPE(PERCPU_ARRAY) |
				    CUB_MAP_TYPE(RINGBUF),
	64u << 20),
    CUB_PLUGIN_SIZES,
};
