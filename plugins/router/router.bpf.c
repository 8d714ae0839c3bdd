// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * router: Polycube's pcn-router, IPv4.
 *
 * Each port has a MAC and up to six addresses (rt_ports).  In the fast
 * path: ARP requests for a port's address are answered and their sender
 * learned (rt_arp; static entries, the document's, are never learned
 * over); echo requests to any of the router's addresses (rt_local) are
 * answered; a packet to elsewhere is routed by longest prefix (rt_routes,
 * an LPM trie the worker writes), its TTL decremented and its MACs
 * rewritten for the next hop; TTL expiry and a destination no route
 * covers get an ICMP time exceeded / net unreachable from the in-port's
 * address.  A next hop whose MAC is unknown sends the packet to the
 * worker (RT_REASON_ARP_MISS), which queues it, asks by ARP and sends it
 * on when the answer (RT_REASON_ARP_REPLY, also learned here) comes.
 * One body for both hooks (style rule 26).
 */
#include <cubicle/cube.bpf.h>
#include <cubicle/frame.bpf.h>

#include "router_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct rt_port);
	__uint(max_entries, CUB_MAX_PORTS);
} rt_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct rt_route_key);
	__type(value, struct rt_route);
	__uint(max_entries, RT_ROUTES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} rt_routes SEC(".maps");

/* The /32 routes, by address (router_shared.h): looked up first. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, struct rt_route);
	__uint(max_entries, RT_ROUTES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} rt_host SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, struct rt_arp);
	__uint(max_entries, RT_ARP_MAX);
} rt_arp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, __u32);
	__uint(max_entries, RT_LOCAL_MAX);
} rt_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct rt_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} rt_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct rt_scratch);
	__uint(max_entries, 1);
} rt_scratch SEC(".maps");

/* Not <linux/if_arp.h> nor <linux/icmp.h>: they pull in libc's. */
#define ARPHRD_ETHER 1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_NET_UNREACH 0
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_EXC_TTL 0
#ifndef IPPROTO_ICMP
#define IPPROTO_ICMP 1
#endif

struct arphdr {
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
};

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	union {
		__be32 gateway;
	} un;
};

struct rt_arp_body {
	struct arphdr h;
	__u8 sha[ETH_ALEN];
	__be32 spa;
	__u8 tha[ETH_ALEN];
	__be32 tpa;
} __attribute__((packed));

/* Is a one of port p's addresses? */
static __always_inline int
rt_port_has(const struct rt_port *p, __be32 a)
{
	__u32 i;

	for (i = 0; i < RT_ADDRS_MAX; i++)
		if (i < p->nip && p->ip[i].ip == a)
			return 1;
	return 0;
}

/* Is a a host address of one of port p's networks (not its network
 * or broadcast address)? */
static __always_inline int
rt_port_net_has(const struct rt_port *p, __be32 a)
{
	__u32 i;

	for (i = 0; i < RT_ADDRS_MAX; i++)
		if (i < p->nip && (a & p->ip[i].mask) ==
				      (p->ip[i].ip & p->ip[i].mask) &&
		    (a & ~p->ip[i].mask) && (a | p->ip[i].mask) != 0xffffffff)
			return 1;
	return 0;
}

static __always_inline void
rt_learn(struct rt_scratch *sc, __be32 ip, const __u8 *mac, __u32 port)
{
	struct rt_arp *e, v = {0};

	sc->ip = ip;
	e = bpf_map_lookup_elem(&rt_arp, &sc->ip);
	if (e && (e->flags & RT_ARP_STATIC))
		return;
	__builtin_memcpy(v.mac, mac, ETH_ALEN);
	v.port = port;
	v.seen_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&rt_arp, &sc->ip, &v, BPF_ANY);
}

/*
 * Turn the packet into an ICMP error (type, code) from the in-port's
 * address src and MAC, quoting its IP header and 8 bytes, to be sent back
 * out of the in-port.  0, or -1: drop it (an ICMP error itself, too
 * short).
 */
static __always_inline int
rt_icmp_error(void *ctx, enum cub_hook hook, struct rt_scratch *sc,
    const struct rt_port *p, __u8 type, __u8 code)
{
	struct ethhdr *oe, *e;
	struct iphdr *oip, *ip;
	struct icmphdr *ic, *oic;
	__u32 len, q;

	if (cub_load_bytes(ctx, hook, 0, sc->orig, ETH_HLEN + 20))
		return -1;
	oe = (void *)sc->orig;
	oip = (void *)(sc->orig + ETH_HLEN);
	if ((oip->frag_off & bpf_htons(0x1fff)) || !oip->saddr ||
	    (bpf_ntohl(oip->saddr) >> 28) >= 0xe ||
	    (bpf_ntohl(oip->daddr) >> 28) >= 0xe)
		return -1; /* nor about a multicast or broadcast (RFC 1812) */
	q = (__u32)oip->ihl * 4 + 8;
	if (q < 28 || q > RT_QUOTE_MAX || bpf_ntohs(oip->tot_len) < q ||
	    cub_pkt_len(ctx, hook) < ETH_HLEN + q)
		return -1;
	q &= 0x7c;
	if (q > RT_QUOTE_MAX)
		return -1;
	if (cub_load_bytes(ctx, hook, ETH_HLEN, sc->frame + ETH_HLEN + 28, q))
		return -1;
	/* Never an error about an error. */
	oic = (void *)(sc->frame + ETH_HLEN + 28 + (q - 8));
	if (oip->protocol == IPPROTO_ICMP && oic->type != ICMP_ECHO &&
	    oic->type != ICMP_ECHOREPLY)
		return -1;
	e = (void *)sc->frame;
	ip = (void *)(sc->frame + ETH_HLEN);
	ic = (void *)(sc->frame + ETH_HLEN + 20);
	__builtin_memcpy(e->h_dest, oe->h_source, ETH_ALEN);
	__builtin_memcpy(e->h_source, p->mac, ETH_ALEN);
	e->h_proto = bpf_htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = 0xc0;
	ip->tot_len = bpf_htons(28 + q);
	ip->id = 0;
	ip->frag_off = 0;
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	ip->check = 0;
	ip->saddr = p->ip[0].ip;
	ip->daddr = oip->saddr;
	ic->type = type;
	ic->code = code;
	ic->checksum = 0;
	ic->un.gateway = 0;
	ic->checksum =
	    cub_csum_fold(bpf_csum_diff(NULL, 0, (void *)ic, 8 + q, 0));
	ip->check = cub_csum_fold(bpf_csum_diff(NULL, 0, (void *)ip, 20, 0));
	len = ETH_HLEN + 28 + q;
	if (len > RT_ERR_FRAME_MAX)
		return -1;
	return cub_frame_replace(ctx, hook, sc->frame, len);
}

static __always_inline int
rt_arp_in(void *ctx, enum cub_hook hook, struct rt_scratch *sc,
    const struct rt_port *p, struct rt_stats *st, __u32 in_port)
{
	void *data = cub_data(ctx, hook), *end = cub_data_end(ctx, hook);
	struct ethhdr *eth = data;
	struct rt_arp_body *a = data + ETH_HLEN;
	__be32 tpa;

	if ((void *)(a + 1) > end || a->h.ar_hrd != bpf_htons(ARPHRD_ETHER) ||
	    a->h.ar_pro != bpf_htons(ETH_P_IP) || a->h.ar_hln != 6 ||
	    a->h.ar_pln != 4 || !rt_port_has(p, a->tpa))
		goto drop;
	/* Only a sender on one of the in-port's networks is learned (one
	 * claiming an address of another port's network is not). */
	if (!rt_port_net_has(p, a->spa) || rt_port_has(p, a->spa) ||
	    (a->sha[0] & 1))
		goto drop;
	rt_learn(sc, a->spa, a->sha, in_port);
	if (a->h.ar_op == bpf_htons(ARPOP_REPLY)) {
		st->slowpath++;
		return cub_slowpath(ctx, hook, in_port, RT_REASON_ARP_REPLY);
	}
	if (a->h.ar_op != bpf_htons(ARPOP_REQUEST))
		goto drop;
	/* The answer, in place, back out of the in-port. */
	tpa = a->tpa;
	a->h.ar_op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(a->tha, a->sha, ETH_ALEN);
	a->tpa = a->spa;
	__builtin_memcpy(a->sha, p->mac, ETH_ALEN);
	a->spa = tpa;
	__builtin_memcpy(eth->h_dest, a->tha, ETH_ALEN);
	__builtin_memcpy(eth->h_source, p->mac, ETH_ALEN);
	st->icmp_out++;
	return cub_forward(ctx, hook, in_port);
drop:
	st->drops++;
	return cub_drop(hook);
}

/* An echo request to one of the router's addresses: the reply, in place. */
static __always_inline int
rt_echo(void *ctx, enum cub_hook hook, const struct rt_port *p,
    struct rt_stats *st, __u32 in_port)
{
	void *data = cub_data(ctx, hook);
	struct ethhdr *eth = data;
	struct iphdr *ip = cub_ipv4(ctx, hook);
	struct icmphdr *ic;
	void *l4;
	__be32 a;

	if (!ip || ip->protocol != IPPROTO_ICMP ||
	    cub_l4(ctx, hook, sizeof(*ic), &l4))
		goto drop;
	ic = l4;
	if (ic->type != ICMP_ECHO || ic->code)
		goto drop;
	/* Reload: cub_l4() took its own pointers. */
	ip = cub_ipv4(ctx, hook);
	data = cub_data(ctx, hook);
	eth = data;
	if (!ip || (void *)(eth + 1) > cub_data_end(ctx, hook))
		goto drop;
	ic->type = ICMP_ECHOREPLY;
	/* RFC 1624: the type's 8 -> 0 in the first 16-bit word. */
	ic->checksum = (__u16)(ic->checksum + bpf_htons(ICMP_ECHO << 8)) +
		       ((__u32)ic->checksum + bpf_htons(ICMP_ECHO << 8) > 0xffff);
	a = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = a;
	ip->ttl = 64;
	ip->check = 0;
	ip->check = cub_csum_fold(bpf_csum_diff(NULL, 0, (void *)ip, 20, 0));
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, p->mac, ETH_ALEN);
	st->icmp_out++;
	return cub_forward(ctx, hook, in_port);
drop:
	st->drops++;
	return cub_drop(hook);
}

static __always_inline int
rt_ingress(void *ctx, enum cub_hook hook)
{
	void *data, *end;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct rt_scratch *sc;
	struct rt_port *p, *op;
	struct rt_stats *st, *ost;
	struct rt_route *r;
	struct rt_arp *n;
	struct cub_scratch *s;
	__u32 len, sum, err;
	int port;

	port = cub_in_port(ctx, hook);
	if (port < 0)
		return cub_drop(hook);
	s = cub_scratch();
	sc = bpf_map_lookup_elem(&rt_scratch, &cub_zero_key);
	if (!s || !sc)
		return cub_drop(hook);
	s->key[0] = port;
	st = bpf_map_lookup_elem(&rt_stats, &s->key[0]);
	p = bpf_map_lookup_elem(&rt_ports, &s->key[0]);
	if (!st || !p)
		return cub_drop(hook);
	len = cub_pkt_len(ctx, hook);
	st->rx_packets++;
	st->rx_bytes += len;
	data = cub_data(ctx, hook);
	end = cub_data_end(ctx, hook);
	eth = data;
	if ((void *)(eth + 1) > end || !p->nip)
		goto drop;
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return rt_arp_in(ctx, hook, sc, p, st, (__u32)port);
	/* Only what is sent to the port's MAC is routed. */
	if (eth->h_dest[0] != p->mac[0] || eth->h_dest[1] != p->mac[1] ||
	    eth->h_dest[2] != p->mac[2] || eth->h_dest[3] != p->mac[3] ||
	    eth->h_dest[4] != p->mac[4] || eth->h_dest[5] != p->mac[5])
		goto drop;
	ip = cub_ipv4(ctx, hook);
	if (!ip || ip->version != 4)
		goto drop;
	/* A header whose checksum is wrong is dropped (RFC 1812 5.2.2);
	 * checked for a 20-byte header, the one the verifier bounds. */
	if (ip->ihl == 5 &&
	    cub_csum_fold(bpf_csum_diff(NULL, 0, (void *)ip, 20, 0)))
		goto drop;
	sc->ip = ip->daddr;
	if (bpf_map_lookup_elem(&rt_local, &sc->ip))
		return rt_echo(ctx, hook, p, st, (__u32)port);
	if (ip->ttl <= 1) {
		err = ICMP_TIME_EXCEEDED << 8 | ICMP_EXC_TTL;
		goto error;
	}
	sc->rk.plen = 32;
	sc->rk.addr = ip->daddr;
	r = bpf_map_lookup_elem(&rt_host, &sc->rk.addr);
	if (!r)
		r = bpf_map_lookup_elem(&rt_routes, &sc->rk);
	if (!r) {
		err = ICMP_DEST_UNREACH << 8 | ICMP_NET_UNREACH;
		goto error;
	}
	s->key[1] = r->port;
	sc->ip = r->nexthop ? r->nexthop : ip->daddr;
	n = bpf_map_lookup_elem(&rt_arp, &sc->ip);
	op = bpf_map_lookup_elem(&rt_ports, &s->key[1]);
	if (!op || !op->nip)
		goto drop;
	if (!n) {
		st->slowpath++;
		return cub_slowpath(
		    ctx, hook, s->key[1], RT_REASON_ARP_MISS);
	}
	__builtin_memcpy(eth->h_dest, n->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, op->mac, ETH_ALEN);
	/* TTL - 1: RFC 1624's incremental update of the checksum. */
	ip->ttl--;
	sum = (__u32)ip->check + bpf_htons(0x0100);
	ip->check = (__u16)(sum + (sum >> 16));
	ost = bpf_map_lookup_elem(&rt_stats, &s->key[1]);
	if (ost) {
		ost->tx_packets++;
		ost->tx_bytes += len;
	}
	return cub_forward(ctx, hook, s->key[1]);
error:
	/* An ICMP error from the in-port, back out of it. */
	if (rt_icmp_error(ctx, hook, sc, p, err >> 8, err & 0xff))
		goto drop;
	st->icmp_out++;
	return cub_forward(ctx, hook, s->key[0]);
drop:
	st->drops++;
	return cub_drop(hook);
}

CUB_ENTRY_POINTS(rt_ingress)

char _license[] SEC("license") = "GPL";
