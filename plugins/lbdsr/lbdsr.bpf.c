// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * lbdsr: Polycube's pcn-loadbalancer-dsr, with several VIPs and Maglev.
 *
 * A packet on the FRONTEND port to a VIP (ld_vips) gets the MAC of a
 * backend of the pool as its destination, chosen by the Maglev table
 * (ld_ring, the half ld_cfg says) at the hash of its source address or
 * of its 5-tuple, and goes out of the BACKEND port unchanged otherwise:
 * the backends hold the VIP on a loopback and answer the client
 * directly, not through the cube.  An ARP request for a VIP on the
 * frontend port is answered with the frontend MAC; everything else
 * passes between the two ports.  One body for both hooks.
 */
#include <cubicle/cube.bpf.h>

#include "lb_hash.bpf.h"
#include "lbdsr_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CUB_MAX_PORTS);
} ld_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ld_cfg);
	__uint(max_entries, 1);
} ld_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ld_mac);
	__uint(max_entries, 2 * LD_RING);
} ld_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, __u32);
	__uint(max_entries, LD_VIP_MAX);
} ld_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct ld_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} ld_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct ld_scratch);
	__uint(max_entries, 1);
} ld_scratch SEC(".maps");

#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2

struct ld_arp {
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
	__u8 sha[ETH_ALEN];
	__be32 spa;
	__u8 tha[ETH_ALEN];
	__be32 tpa;
} __attribute__((packed));

static __always_inline int
ld_arp_in(void *ctx, enum cub_hook hook, struct ld_scratch *sc,
    const struct ld_cfg *cfg, struct ld_stats *st, __u32 in_port)
{
	void *data = cub_data(ctx, hook), *end = cub_data_end(ctx, hook);
	struct ethhdr *eth = data;
	struct ld_arp *a = data + ETH_HLEN;
	__be32 tpa;

	if ((void *)(a + 1) > end || a->ar_op != bpf_htons(ARPOP_REQUEST) ||
	    !cfg->has_mac)
		return 1;
	sc->ip = a->tpa;
	if (!bpf_map_lookup_elem(&ld_vips, &sc->ip))
		return 1;
	tpa = a->tpa;
	a->ar_op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(a->tha, a->sha, ETH_ALEN);
	a->tpa = a->spa;
	__builtin_memcpy(a->sha, cfg->mac, ETH_ALEN);
	a->spa = tpa;
	__builtin_memcpy(eth->h_dest, a->tha, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->mac, ETH_ALEN);
	st->arp_replies++;
	return cub_forward(ctx, hook, in_port);
}

static __always_inline int
ld_ingress(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s;
	struct ld_scratch *sc;
	struct ld_cfg *cfg;
	struct ld_stats *st;
	struct ld_mac *m;
	struct ethhdr *eth;
	struct iphdr *ip;
	__u32 *type, h, ports = 0;
	void *l4;
	int port, r;

	port = cub_in_port(ctx, hook);
	if (port < 0)
		return cub_drop(hook);
	s = cub_scratch();
	sc = bpf_map_lookup_elem(&ld_scratch, &cub_zero_key);
	cfg = bpf_map_lookup_elem(&ld_cfg, &cub_zero_key);
	if (!s || !sc || !cfg)
		return cub_drop(hook);
	s->key[0] = port;
	st = bpf_map_lookup_elem(&ld_stats, &s->key[0]);
	type = bpf_map_lookup_elem(&ld_ports, &s->key[0]);
	if (!st || !type)
		return cub_drop(hook);
	st->rx_packets++;
	st->rx_bytes += cub_pkt_len(ctx, hook);
	eth = cub_data(ctx, hook);
	if ((void *)(eth + 1) > cub_data_end(ctx, hook))
		goto drop;
	if (*type == LD_PORT_BACKEND) {
		ip = cub_ipv4(ctx, hook);
		if (ip) {
			sc->ip = ip->saddr;
			if (bpf_map_lookup_elem(&ld_vips, &sc->ip))
				st->vip_replies++;
		}
		if (!(cfg->has & 1))
			goto drop;
		return cub_forward(ctx, hook, cfg->frontend);
	}
	if (*type != LD_PORT_FRONTEND)
		goto drop;
	if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
		r = ld_arp_in(ctx, hook, sc, cfg, st, (__u32)port);
		if (r != 1)
			return r;
		goto pass;
	}
	ip = cub_ipv4(ctx, hook);
	if (!ip)
		goto pass;
	sc->ip = ip->daddr;
	if (!bpf_map_lookup_elem(&ld_vips, &sc->ip))
		goto pass;
	if (cfg->algo == LD_ALGO_5TUPLE &&
	    (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) &&
	    !(ip->frag_off & bpf_htons(0x3fff))) {
		__u32 sa = ip->saddr, da = ip->daddr, pr = ip->protocol;

		if (!cub_l4(ctx, hook, 4, &l4))
			ports = *(__u32 *)l4;
		h = lb_jhash3(sa, da, ports, 0xdeadbeef + 12 + pr);
	} else {
		h = lb_jhash3(ip->saddr, 0, 0, 0xdeadbeef + 4);
	}
	if (!cfg->npool || cfg->half > 1)
		goto drop;
	sc->ring = cfg->half * LD_RING + h % LD_RING;
	m = bpf_map_lookup_elem(&ld_ring, &sc->ring);
	eth = cub_data(ctx, hook);
	if (!m || (void *)(eth + 1) > cub_data_end(ctx, hook))
		goto drop;
	__builtin_memcpy(eth->h_dest, m->addr, ETH_ALEN);
	if (cfg->has_mac)
		__builtin_memcpy(eth->h_source, cfg->mac, ETH_ALEN);
	st->lb_packets++;
pass:
	if (!(cfg->has & 2))
		goto drop;
	return cub_forward(ctx, hook, cfg->backend);
drop:
	st->drops++;
	return cub_drop(hook);
}

CUB_ENTRY_POINTS(ld_ingress)

char _license[] SEC("license") = "GPL";
