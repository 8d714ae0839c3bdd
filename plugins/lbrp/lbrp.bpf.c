// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * lbrp: Polycube's pcn-loadbalancer-rp, with Maglev.
 *
 * FRONTEND ports face the clients, one BACKEND port the backends.  A
 * client's packet to a service (vip, vport, proto; ALL matches what no
 * exact service does) is sent to a backend: the session table (lb_sess,
 * LRU, keyed by the 5-tuple) first, while its backend still lives in
 * lb_backends; otherwise the service's Maglev table (lb_ring, the half
 * lb_services says) at the flow's hash, and the session is written both
 * ways.  The destination (address, port) becomes the backend's; a
 * reply from the backend gets the VIP's back as its source, and goes out
 * of the frontend port its session came in by.  ARP and anything that
 * is not to a VIP pass between the frontend and backend ports; an echo
 * request to a VIP that no ICMP (or ALL) service takes is answered here.
 * One body for both hooks (style rule 26).
 */
#include <cubicle/cube.bpf.h>
#include <cubicle/frame.bpf.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "lb_hash.bpf.h"
#include "lbrp_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_port);
	__uint(max_entries, CUB_MAX_PORTS);
} lb_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_cfg);
	__uint(max_entries, 1);
} lb_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_svc_key);
	__type(value, struct lb_svc);
	__uint(max_entries, LB_SVC_MAX);
} lb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_dst);
	__uint(max_entries, LB_SVC_MAX * 2 * LB_RING);
} lb_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_be_key);
	__type(value, struct lb_be);
	__uint(max_entries, LB_BE_MAX);
} lb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_flow);
	__type(value, struct lb_sess);
	__uint(max_entries, LB_SESS_MAX);
} lb_sess SEC(".maps");

/* lb_vips[vip]: how many services it has (echo answered). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, __u32);
	__uint(max_entries, LB_SVC_MAX);
} lb_vips SEC(".maps");

/* lb_ip2port[ip]: MULTI mode, the frontend port that has ip. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, __u32);
	__uint(max_entries, CUB_MAX_PORTS);
} lb_ip2port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} lb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_scratch);
	__uint(max_entries, 1);
} lb_scratch SEC(".maps");

#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

struct lb_icmp {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 seq;
};

/* The flow's hash: jhash_3words of its addresses and ports. */
static __always_inline __u32
lb_hash(const struct lb_flow *f)
{
	return lb_jhash3(f->saddr, f->daddr,
	    (__u32)f->sport << 16 | f->dport, 0xdeadbeef + 12 + f->proto);
}

/* RFC 1624's incremental update, for a full (not partial) checksum. */
static __always_inline __u16
lb_csum_add16(__u16 c, __u16 v)
{
	__u32 s = (__u32)c + v;

	return (__u16)(s + (s >> 16));
}

static __always_inline void
lb_csum_replace4(__sum16 *sum, __be32 from, __be32 to)
{
	__u16 c = ~*sum;

	c = lb_csum_add16(c, ~(__u16)from);
	c = lb_csum_add16(c, ~(__u16)(from >> 16));
	c = lb_csum_add16(c, (__u16)to);
	c = lb_csum_add16(c, (__u16)(to >> 16));
	*sum = ~c;
}

static __always_inline void
lb_csum_replace2(__sum16 *sum, __be16 from, __be16 to)
{
	__u16 c = ~*sum;

	c = lb_csum_add16(c, ~(__u16)from);
	c = lb_csum_add16(c, (__u16)to);
	*sum = ~c;
}

/*
 * The packet's address (destination when dst, else source) becomes ip
 * and, for TCP and UDP, its port becomes port; the IP and L4 checksums
 * follow.  On TC with the skb helpers (which know a partial checksum);
 * on XDP in place.  0, or -1: drop it.
 */
static __always_inline int
lb_nat(void *ctx, enum cub_hook hook, struct lb_scratch *sc, int dst, __be32 ip,
    __be16 port)
{
	struct iphdr *iph = cub_ipv4(ctx, hook);
	__u32 aoff = ETH_HLEN + (dst ? 16 : 12), coff, poff;
	__be32 oip;
	__be16 oport;
	__u8 proto;
	void *l4;
	int off;

	if (!iph)
		return -1;
	oip = dst ? iph->daddr : iph->saddr;
	proto = iph->protocol;
	off = cub_l4_off(ctx, hook);
	if (off < 0 || off > 255)
		return -1;
	coff = (__u32)off + (proto == IPPROTO_TCP ? 16 : 6);
	poff = (__u32)off + (dst ? 2 : 0);
	if (proto == IPPROTO_ICMP)
		port = 0;
	if (cub_l4(ctx, hook, 8, &l4))
		return -1;
	oport = dst ? ((__be16 *)l4)[1] : ((__be16 *)l4)[0];
	if (hook == CUB_HOOK_TC) {
		struct __sk_buff *skb = ctx;
		__u64 mz = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

		sc->ip = ip;
		if (bpf_skb_store_bytes(skb, aoff, &sc->ip, 4, 0) ||
		    bpf_l3_csum_replace(skb, ETH_HLEN + 10, oip, ip, 4))
			return -1;
		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
			return 0;
		if (bpf_l4_csum_replace(
			skb, coff, oip, ip, BPF_F_PSEUDO_HDR | mz | 4))
			return -1;
		if (!port || port == oport)
			return 0;
		sc->f.pad = port;
		if (bpf_l4_csum_replace(skb, coff, oport, port, mz | 2) ||
		    bpf_skb_store_bytes(skb, poff, &sc->f.pad, 2, 0))
			return -1;
		return 0;
	}
	/* XDP: the pointers of cub_l4() and cub_ipv4(), taken again. */
	iph = cub_ipv4(ctx, hook);
	if (!iph)
		return -1;
	lb_csum_replace4(&iph->check, oip, ip);
	if (dst)
		iph->daddr = ip;
	else
		iph->saddr = ip;
	if (proto == IPPROTO_TCP) {
		struct tcphdr *t;

		/* Here, not above: the verifier would not know on this
		 * path that the 20 bytes were checked. */
		if (cub_l4(ctx, hook, sizeof(*t), &l4))
			return -1;
		t = l4;

		lb_csum_replace4(&t->check, oip, ip);
		if (port && port != oport) {
			lb_csum_replace2(&t->check, oport, port);
			if (dst)
				t->dest = port;
			else
				t->source = port;
		}
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *u;

		if (cub_l4(ctx, hook, sizeof(*u), &l4))
			return -1;
		u = l4;

		if (u->check) {
			lb_csum_replace4(&u->check, oip, ip);
			if (port && port != oport)
				lb_csum_replace2(&u->check, oport, port);
			if (!u->check)
				u->check = 0xffff;
		}
		if (port && port != oport) {
			if (dst)
				u->dest = port;
			else
				u->source = port;
		}
	}
	return 0;
}

/* The flow of an IPv4 packet into f (dir set by the caller): 0, or -1
 * (not TCP, UDP or an ICMP echo, a fragment, truncated). */
static __always_inline int
lb_flow_of(void *ctx, enum cub_hook hook, struct lb_flow *f, int *echo_req)
{
	struct iphdr *ip = cub_ipv4(ctx, hook);
	void *l4;

	if (!ip || (ip->frag_off & bpf_htons(0x3fff)))
		return -1;
	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->proto = ip->protocol;
	f->pad = 0;
	*echo_req = 0;
	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP) {
		if (cub_l4(ctx, hook, 4, &l4))
			return -1;
		f->sport = ((__be16 *)l4)[0];
		f->dport = ((__be16 *)l4)[1];
		return 0;
	}
	if (f->proto != IPPROTO_ICMP)
		return -1;
	if (cub_l4(ctx, hook, sizeof(struct lb_icmp), &l4))
		return -1;
	if (((struct lb_icmp *)l4)->type == ICMP_ECHO) {
		*echo_req = 1;
		f->sport = ((struct lb_icmp *)l4)->id;
		f->dport = 0;
	} else if (((struct lb_icmp *)l4)->type == ICMP_ECHOREPLY) {
		f->sport = 0;
		f->dport = ((struct lb_icmp *)l4)->id;
	} else {
		return -1;
	}
	return 0;
}

/* An echo request to a VIP: the reply, in place, back out of in_port. */
static __always_inline int
lb_echo(void *ctx, enum cub_hook hook, struct lb_stats *st, __u32 in_port)
{
	struct ethhdr *eth = cub_data(ctx, hook);
	struct iphdr *ip;
	struct lb_icmp *ic;
	__u8 mac[ETH_ALEN];
	void *l4;
	__be32 a;

	if (cub_l4(ctx, hook, sizeof(*ic), &l4))
		return cub_drop(hook);
	ic = l4;
	if (ic->code)
		return cub_drop(hook);
	ic->type = ICMP_ECHOREPLY;
	/* The type's 8 -> 0 in the first 16-bit word. */
	lb_csum_replace2(&ic->checksum, bpf_htons(ICMP_ECHO << 8), 0);
	ip = cub_ipv4(ctx, hook);
	eth = cub_data(ctx, hook);
	if (!ip || (void *)(eth + 1) > cub_data_end(ctx, hook))
		return cub_drop(hook);
	a = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = a;
	ip->ttl = 64;
	ip->check = 0;
	if (ip->ihl != 5)
		return cub_drop(hook);
	ip->check = cub_csum_fold(bpf_csum_diff(NULL, 0, (void *)ip, 20, 0));
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	st->icmp_echo++;
	return cub_forward(ctx, hook, in_port);
}

static __always_inline struct lb_svc *
lb_service(struct lb_scratch *sc)
{
	struct lb_svc *svc;
	__u8 proto = sc->f.proto;

	sc->sk.vip = sc->f.daddr;
	sc->sk.vport = proto == IPPROTO_ICMP ? 0 : sc->f.dport;
	sc->sk.proto = proto;
	sc->sk.pad = 0;
	svc = bpf_map_lookup_elem(&lb_services, &sc->sk);
	if (svc)
		return svc;
	sc->sk.proto = LB_PROTO_ALL;
	return bpf_map_lookup_elem(&lb_services, &sc->sk);
}

/* A client's packet on frontend port in_port. */
static __always_inline int
lb_from_front(void *ctx, enum cub_hook hook, struct lb_scratch *sc,
    const struct lb_cfg *cfg, struct lb_stats *st, __u32 in_port)
{
	struct lb_svc *svc;
	struct lb_sess *se;
	struct lb_dst *d;
	struct lb_be *be;
	int echo;

	if (lb_flow_of(ctx, hook, &sc->f, &echo))
		goto pass;
	if (sc->f.proto == IPPROTO_ICMP && !echo)
		goto pass;
	svc = lb_service(sc);
	if (!svc) {
		sc->ip = sc->f.daddr;
		if (echo && bpf_map_lookup_elem(&lb_vips, &sc->ip))
			return lb_echo(ctx, hook, st, in_port);
		goto pass;
	}
	sc->f.dir = 0;
	se = bpf_map_lookup_elem(&lb_sess, &sc->f);
	if (se && se->svc == svc->id) {
		sc->bk.svc = se->svc;
		sc->bk.ip = se->ip;
		be = bpf_map_lookup_elem(&lb_backends, &sc->bk);
		if (be) {
			sc->sv = *se;
			goto nat;
		}
	}
	if (!svc->nbe || svc->id >= LB_SVC_MAX || svc->half > 1)
		goto drop;
	sc->ring =
	    (svc->id * 2 + svc->half) * LB_RING + lb_hash(&sc->f) % LB_RING;
	d = bpf_map_lookup_elem(&lb_ring, &sc->ring);
	if (!d || !d->ip)
		goto drop;
	sc->sv.ip = d->ip;
	sc->sv.port = d->port;
	sc->sv.svc = svc->id;
	sc->sv.fport = (__u16)in_port;
	bpf_map_update_elem(&lb_sess, &sc->f, &sc->sv, BPF_ANY);
nat:
	/* The reply's entry, (re)written each time: it carries the frontend
	 * port the client is behind now. */
	sc->rv.ip = sc->f.daddr;
	sc->rv.port = sc->f.proto == IPPROTO_ICMP ? 0 : sc->f.dport;
	sc->rv.svc = sc->sv.svc;
	sc->rv.fport = (__u16)in_port;
	sc->rv.cip = sc->f.saddr;
	sc->f.dir = 1;
	sc->f.daddr = sc->f.saddr;
	if (cfg->sr_mask && (sc->f.daddr & cfg->sr_mask) == cfg->sr_net)
		sc->f.daddr = cfg->sr_new | (sc->f.daddr & ~cfg->sr_mask);
	sc->f.saddr = sc->sv.ip;
	if (sc->f.proto == IPPROTO_ICMP) {
		sc->f.dport = sc->f.sport;
		sc->f.sport = 0;
	} else {
		sc->f.dport = sc->f.sport;
		sc->f.sport = sc->sv.port ? sc->sv.port : sc->rv.port;
	}
	se = bpf_map_lookup_elem(&lb_sess, &sc->f);
	if (!se || se->ip != sc->rv.ip || se->port != sc->rv.port ||
	    se->fport != sc->rv.fport || se->cip != sc->rv.cip)
		bpf_map_update_elem(&lb_sess, &sc->f, &sc->rv, BPF_ANY);
	if (lb_nat(ctx, hook, sc, 1, sc->sv.ip, sc->sv.port))
		goto drop;
	/* src-ip-rewrite: the client's address as the backends see it. */
	if (sc->f.daddr != sc->rv.cip &&
	    lb_nat(ctx, hook, sc, 0, sc->f.daddr, 0))
		goto drop;
	st->lb_packets++;
	if (!(cfg->has & 2))
		goto drop;
	return cub_forward(ctx, hook, cfg->backend);
pass:
	if (!(cfg->has & 2))
		goto drop;
	return cub_forward(ctx, hook, cfg->backend);
drop:
	st->drops++;
	return cub_drop(hook);
}

/* A packet from the backends, on the backend port. */
static __always_inline int
lb_from_back(void *ctx, enum cub_hook hook, struct lb_scratch *sc,
    const struct lb_cfg *cfg, struct lb_stats *st, __u32 in_port)
{
	struct ethhdr *eth = cub_data(ctx, hook);
	struct lb_sess *se;
	__u32 *pp;
	int echo;

	if ((void *)(eth + 1) > cub_data_end(ctx, hook))
		goto drop;
	if (eth->h_proto == bpf_htons(ETH_P_IP) &&
	    !lb_flow_of(ctx, hook, &sc->f, &echo)) {
		sc->f.dir = 1;
		se = bpf_map_lookup_elem(&lb_sess, &sc->f);
		if (se) {
			sc->rv = *se;
			if (lb_nat(ctx, hook, sc, 0, sc->rv.ip, sc->rv.port))
				goto drop;
			if (sc->rv.cip && sc->rv.cip != sc->f.daddr &&
			    lb_nat(ctx, hook, sc, 1, sc->rv.cip, 0))
				goto drop;
			st->rev_packets++;
			return cub_forward(ctx, hook, sc->rv.fport);
		}
	}
	if (cfg->mode == LB_MODE_SINGLE) {
		if (!(cfg->has & 1))
			goto drop;
		return cub_forward(ctx, hook, cfg->frontend);
	}
	/* MULTI: the frontend port whose address the packet is for. */
	{
		struct iphdr *ip = cub_ipv4(ctx, hook);

		if (ip) {
			sc->ip = ip->daddr;
			pp = bpf_map_lookup_elem(&lb_ip2port, &sc->ip);
			if (pp)
				return cub_forward(ctx, hook, *pp);
		}
	}
	return cub_flood(ctx, hook, in_port);
drop:
	st->drops++;
	return cub_drop(hook);
}

static __always_inline int
lb_ingress(void *ctx, enum cub_hook hook)
{
	struct lb_scratch *sc;
	struct cub_scratch *s;
	struct lb_port *p;
	struct lb_cfg *cfg;
	struct lb_stats *st;
	int port;

	port = cub_in_port(ctx, hook);
	if (port < 0)
		return cub_drop(hook);
	s = cub_scratch();
	sc = bpf_map_lookup_elem(&lb_scratch, &cub_zero_key);
	cfg = bpf_map_lookup_elem(&lb_cfg, &cub_zero_key);
	if (!s || !sc || !cfg)
		return cub_drop(hook);
	s->key[0] = port;
	st = bpf_map_lookup_elem(&lb_stats, &s->key[0]);
	p = bpf_map_lookup_elem(&lb_ports, &s->key[0]);
	if (!st || !p)
		return cub_drop(hook);
	st->rx_packets++;
	st->rx_bytes += cub_pkt_len(ctx, hook);
	if (p->type == LB_PORT_FRONTEND)
		return lb_from_front(ctx, hook, sc, cfg, st, (__u32)port);
	if (p->type == LB_PORT_BACKEND)
		return lb_from_back(ctx, hook, sc, cfg, st, (__u32)port);
	st->drops++;
	return cub_drop(hook);
}

CUB_ENTRY_POINTS(lb_ingress)

char _license[] SEC("license") = "GPL";
