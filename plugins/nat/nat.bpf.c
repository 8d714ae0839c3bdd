// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * nat: Polycube's transparent pcn-nat (nat_shared.h).  Attached to a
 * netdev (or a cube port), the host side is inside: a packet going out
 * (CUB_TDIR_EGRESS) is inside -> outside, one coming in is outside ->
 * inside.
 *
 * Out: a live session (nat_egress) rewrites the source; else SNAT (the
 * longest internal-net holding the source), else masquerade (the attach
 * point's address) opens one, with an external port no live session
 * holds (nat_ingress is checked, the insert is BPF_NOEXIST), trying the
 * source's own port first, then NAT_PORT_TRIES - 1 from a shared
 * counter; none free: dropped and counted (port_exhausted).
 * In: a live session (nat_ingress) rewrites the destination; else port
 * forwarding (with the packet's protocol, then "all"), else DNAT opens
 * one.  ICMP errors about a session's packet, either way, get the
 * outer address and the quoted header translated (nat_icmp_err()).
 *
 * Sessions live as long as the conntrack entry of their inside tuple
 * (plugins/fwcore: fw_parse(), fw_ct_label(), fw_ct_update(): the same
 * states and timeouts as the firewall's).  Checksums are updated
 * incrementally with the kernel's helpers (UDP's zero checksum stays
 * zero: BPF_F_MARK_MANGLED_0).  Non-IPv4 and fragments pass.  TC only:
 * XDP has no egress hook; the XDP entry point passes everything.
 */
#include <cubicle/cube.bpf.h>

#include "nat_shared.h"

#include "bpf/fw_ct.bpf.h"
#include "bpf/fw_pkt.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct nat_lpm_key);
	__type(value, struct nat_rule_val);
	__uint(max_entries, NAT_RULES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} nat_snat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct nat_rule_val);
	__uint(max_entries, NAT_RULES_MAX);
} nat_dnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct nat_pf_key);
	__type(value, struct nat_rule_val);
	__uint(max_entries, NAT_RULES_MAX);
} nat_pf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct nat_cfg);
	__uint(max_entries, 1);
} nat_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} nat_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct nat_sess_key);
	__type(value, struct nat_sess_val);
	__uint(max_entries, NAT_SESS_MAX);
} nat_egress SEC(".maps"), nat_ingress SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct nat_stats);
	__uint(max_entries, 1);
} nat_stats SEC(".maps");

/* Per packet; keys live here, not on the stack (cube.bpf.h). */
struct nat_scratch {
	struct fw_pkt pkt;
	struct fw_ct_pkt ct;
	struct nat_sess_key k, rk;
	struct nat_sess_val v, rv;
	struct nat_lpm_key lk;
	struct nat_pf_key pk;
	__u32 addr;
	__u32 new_ip;
	__u16 new_port;
	__u16 pad;
	__u32 w32;
	__u16 w16;
	__u8 found;
	__u8 pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct nat_scratch);
	__uint(max_entries, 1);
} nat_scratch SEC(".maps");

#define NAT_IP_CSUM (ETH_HLEN + 10)
#define NAT_IP_SRC (ETH_HLEN + 12)
#define NAT_IP_DST (ETH_HLEN + 16)

static __always_inline struct nat_stats *
nat_stat(void)
{
	return bpf_map_lookup_elem(&nat_stats, &cub_zero_key);
}

/* Is the conntrack entry whose key is at k live (now: s->ct.now_ns)? */
static __always_inline int
nat_ct_live(struct nat_scratch *s, const struct fw_ct_key *k)
{
	struct fw_ct_val *v = bpf_map_lookup_elem(&fw_ct, k);

	return v && v->expires_ns > s->ct.now_ns;
}

/*
 * Rewrite the source (src) or destination of a TCP, UDP or ICMP echo
 * packet, s->k as it came, to s->new_ip, s->new_port (network order),
 * checksums updated.
 * 0, or -1 (a helper failed: drop).
 */
static __always_inline int
nat_rewrite(struct __sk_buff *skb, struct nat_scratch *s, int src)
{
	__u32 l4 = s->pkt.l4_off, csum_off, port_off, flags = 0;
	__u32 old_ip = src ? s->k.src : s->k.dst;
	__u16 old_port = src ? s->k.sport : s->k.dport;

	switch (s->pkt.proto) {
	case IPPROTO_TCP:
		csum_off = l4 + 16;
		port_off = l4 + (src ? 0 : 2);
		break;
	case IPPROTO_UDP:
		csum_off = l4 + 6;
		port_off = l4 + (src ? 0 : 2);
		flags = BPF_F_MARK_MANGLED_0;
		break;
	default: /* ICMP echo: the identifier; no pseudo header */
		csum_off = l4 + 2;
		port_off = l4 + 4;
		break;
	}
	if (old_ip != s->new_ip) {
		if (s->pkt.proto != IPPROTO_ICMP &&
		    bpf_l4_csum_replace(skb, csum_off, old_ip, s->new_ip,
			BPF_F_PSEUDO_HDR | flags | 4))
			return -1;
		if (bpf_l3_csum_replace(skb, NAT_IP_CSUM, old_ip, s->new_ip, 4))
			return -1;
		s->w32 = s->new_ip;
		if (bpf_skb_store_bytes(
			skb, src ? NAT_IP_SRC : NAT_IP_DST, &s->w32, 4, 0))
			return -1;
	}
	if (old_port != s->new_port) {
		if (bpf_l4_csum_replace(
			skb, csum_off, old_port, s->new_port, flags | 2))
			return -1;
		s->w16 = s->new_port;
		if (bpf_skb_store_bytes(skb, port_off, &s->w16, 2, 0))
			return -1;
	}
	return 0;
}

/* s->k from the packet (network order); ICMP: the identifier twice. */
static __always_inline void
nat_key_of_pkt(struct nat_scratch *s)
{
	s->k.src = bpf_htonl(s->pkt.saddr);
	s->k.dst = bpf_htonl(s->pkt.daddr);
	s->k.sport = bpf_htons(s->ct.sport);
	s->k.dport = bpf_htons(s->ct.dport);
	s->k.proto = s->pkt.proto;
	s->k.pad[0] = s->k.pad[1] = s->k.pad[2] = 0;
}

/* Conntrack on the inside tuple: label then record. */
static __always_inline void
nat_ct_track(struct nat_scratch *s)
{
	fw_ct_label(&s->pkt, &s->ct);
	fw_ct_update(&s->pkt, &s->ct, 1);
}

/*
 * One try of nat_open_out() (a bpf_loop() callback: a bounded loop of
 * helper calls behind fw_parse()'s paths is more than the verifier
 * follows): candidate port i, s->rk and s->rv set.  0: next, 1: found
 * (s->new_port).
 */
static long
nat_port_try(__u32 i, void *unused)
{
	struct nat_scratch *s =
	    bpf_map_lookup_elem(&nat_scratch, &cub_zero_key);
	struct nat_sess_val *old;
	__u32 *next, cand;

	(void)unused;
	if (!s)
		return 1;
	if (i) {
		next = bpf_map_lookup_elem(&nat_port, &cub_zero_key);
		if (!next)
			return 1;
		/* Not atomic (clang 14 has no fetch-add result on this
		 * target): two CPUs may try the same port; BPF_NOEXIST
		 * gives it to one. */
		cand = *next;
		*next = cand + 1;
		cand = NAT_PORT_LO + cand % (65536 - NAT_PORT_LO);
		s->rk.dport = bpf_htons((__u16)cand);
	} else {
		s->rk.dport = s->k.sport;
	}
	if (s->k.proto == IPPROTO_ICMP)
		s->rk.sport = s->rk.dport;
	old = bpf_map_lookup_elem(&nat_ingress, &s->rk);
	if (old) {
		if (nat_ct_live(s, &old->ct))
			return 0;
		bpf_map_delete_elem(&nat_ingress, &s->rk);
	}
	if (bpf_map_update_elem(&nat_ingress, &s->rk, &s->rv, BPF_NOEXIST))
		return 0;
	s->new_port = s->rk.dport;
	s->found = 1;
	return 1;
}

/*
 * A new session going out: s->new_ip is the external address.  Finds a
 * port no live session holds, writes both sessions.  0, or -1: none
 * free in NAT_PORT_TRIES tries.
 */
static __always_inline int
nat_open_out(struct nat_scratch *s, __u8 rule)
{
	s->rk.src = s->k.dst;
	s->rk.dst = s->new_ip;
	s->rk.sport = s->k.dport;
	s->rk.proto = s->k.proto;
	s->rk.pad[0] = s->rk.pad[1] = s->rk.pad[2] = 0;
	s->rv.ip = s->k.src;
	s->rv.port = s->k.sport;
	s->rv.rule = rule;
	s->rv.pad = 0;
	s->rv.ct = s->ct.key;
	s->found = 0;
	bpf_loop(NAT_PORT_TRIES, nat_port_try, NULL, 0);
	if (!s->found)
		return -1;
	s->v.ip = s->new_ip;
	s->v.port = s->new_port;
	s->v.rule = rule;
	s->v.pad = 0;
	s->v.ct = s->ct.key;
	bpf_map_update_elem(&nat_egress, &s->k, &s->v, BPF_ANY);
	return 0;
}

static __always_inline int
nat_out(struct __sk_buff *skb, struct nat_scratch *s)
{
	struct nat_sess_val *v;
	struct nat_rule_val *r;
	struct nat_stats *st;
	struct nat_cfg *cfg;
	__u8 rule;

	s->ct.now_ns = bpf_ktime_get_boot_ns();
	nat_key_of_pkt(s);
	v = bpf_map_lookup_elem(&nat_egress, &s->k);
	if (v && nat_ct_live(s, &v->ct)) {
		s->new_ip = v->ip;
		s->new_port = v->port;
		nat_ct_track(s);
		goto rewrite;
	}
	s->lk.prefixlen = 32;
	s->lk.addr = s->k.src;
	r = bpf_map_lookup_elem(&nat_snat, &s->lk);
	if (r) {
		s->new_ip = r->ip;
		rule = NAT_R_SNAT;
	} else {
		cfg = bpf_map_lookup_elem(&nat_cfg, &cub_zero_key);
		if (!cfg || !cfg->masq_on || !cfg->masq_ip)
			return 0;
		s->new_ip = cfg->masq_ip;
		rule = NAT_R_MASQ;
	}
	fw_ct_label(&s->pkt, &s->ct);
	if (!(s->pkt.ct & (FW_CTB_NEW | FW_CTB_ESTABLISHED)))
		return 0; /* opens nothing: goes as it is */
	if (nat_open_out(s, rule)) {
		st = nat_stat();
		if (st)
			st->port_exhausted++;
		return -1;
	}
	fw_ct_update(&s->pkt, &s->ct, 1);
	st = nat_stat();
	if (st)
		st->sessions++;
rewrite:
	st = nat_stat();
	if (st)
		st->translated++;
	return nat_rewrite(skb, s, 1);
}

/* The conntrack key of the packet once its destination is translated. */
static __always_inline void
nat_ct_rekey_in(struct nat_scratch *s)
{
	s->ct.saddr = s->pkt.saddr;
	s->ct.daddr = bpf_ntohl(s->new_ip);
	if (s->pkt.proto == IPPROTO_ICMP)
		s->ct.sport = s->ct.dport = bpf_ntohs(s->new_port);
	else
		s->ct.dport = bpf_ntohs(s->new_port);
	fw_ct_key_set(&s->ct, s->pkt.proto);
}

static __always_inline int
nat_in(struct __sk_buff *skb, struct nat_scratch *s)
{
	struct nat_sess_val *v;
	struct nat_rule_val *r;
	struct nat_stats *st;
	__u8 rule;

	s->ct.now_ns = bpf_ktime_get_boot_ns();
	nat_key_of_pkt(s);
	v = bpf_map_lookup_elem(&nat_ingress, &s->k);
	if (v && nat_ct_live(s, &v->ct)) {
		s->new_ip = v->ip;
		s->new_port = v->port;
		nat_ct_rekey_in(s);
		nat_ct_track(s);
		goto rewrite;
	}
	r = NULL;
	if (s->pkt.proto != IPPROTO_ICMP) {
		s->pk.ext_ip = s->k.dst;
		s->pk.ext_port = s->k.dport;
		s->pk.proto = s->pkt.proto;
		s->pk.pad = 0;
		r = bpf_map_lookup_elem(&nat_pf, &s->pk);
		if (!r) {
			s->pk.proto = 0;
			r = bpf_map_lookup_elem(&nat_pf, &s->pk);
		}
	}
	if (r) {
		s->new_ip = r->ip;
		s->new_port = r->port;
		rule = NAT_R_PF;
	} else {
		s->addr = s->k.dst;
		r = bpf_map_lookup_elem(&nat_dnat, &s->addr);
		if (!r)
			return 0;
		s->new_ip = r->ip;
		s->new_port = s->k.dport;
		rule = NAT_R_DNAT;
	}
	nat_ct_rekey_in(s);
	fw_ct_label(&s->pkt, &s->ct);
	if (!(s->pkt.ct & (FW_CTB_NEW | FW_CTB_ESTABLISHED)))
		return 0;
	/* Going out, the inside's answer gets its source back. */
	s->rk.src = s->new_ip;
	s->rk.dst = s->k.src;
	s->rk.sport = s->new_port;
	s->rk.dport = s->k.sport;
	s->rk.proto = s->k.proto;
	s->rk.pad[0] = s->rk.pad[1] = s->rk.pad[2] = 0;
	s->rv.ip = s->k.dst;
	s->rv.port = s->k.dport;
	s->rv.rule = rule;
	s->rv.pad = 0;
	s->rv.ct = s->ct.key;
	s->v.ip = s->new_ip;
	s->v.port = s->new_port;
	s->v.rule = rule;
	s->v.pad = 0;
	s->v.ct = s->ct.key;
	bpf_map_update_elem(&nat_egress, &s->rk, &s->rv, BPF_ANY);
	bpf_map_update_elem(&nat_ingress, &s->k, &s->v, BPF_ANY);
	fw_ct_update(&s->pkt, &s->ct, 1);
	st = nat_stat();
	if (st)
		st->sessions++;
rewrite:
	st = nat_stat();
	if (st)
		st->translated++;
	return nat_rewrite(skb, s, 0);
}

/*
 * An ICMP error (destination unreachable, time exceeded, parameter
 * problem) about a packet of a session, whose quote is in s->ct.icmp
 * (ICMP header, IPv4 header without options, 8 bytes of L4).  Coming in
 * (out = 0) it answers a packet the session sent out from the external
 * address: the outer destination and the quoted source go back to the
 * inside's.  Going out (out = 1) an inside host answers a packet a
 * session brought in: the outer source and the quoted destination get
 * the external address and port.  The outer IP, the quoted IP and the
 * ICMP checksums follow; the quoted L4 checksum is left as it is
 * (receivers do not check it).
 */
static __always_inline int
nat_icmp_err(struct __sk_buff *skb, struct nat_scratch *s, int out)
{
	struct iphdr *in = (struct iphdr *)&s->ct.icmp[8];
	__u16 *qport = (__u16 *)&s->ct.icmp[8 + sizeof(struct iphdr)];
	__u32 l4 = s->pkt.l4_off, old_ip, sum, qaddr_off, qport_off;
	struct nat_sess_val *v;
	struct nat_stats *st;
	__u16 old_csum, new_csum, old_port;

	s->ct.now_ns = bpf_ktime_get_boot_ns();
	/* The session's key: the quoted packet's reverse. */
	s->k.src = in->daddr;
	s->k.dst = in->saddr;
	s->k.proto = in->protocol;
	s->k.pad[0] = s->k.pad[1] = s->k.pad[2] = 0;
	if (in->protocol == IPPROTO_ICMP) {
		s->k.sport = qport[2]; /* the echo's identifier */
		s->k.dport = qport[2];
	} else {
		s->k.sport = qport[1];
		s->k.dport = qport[0];
	}
	/* One path per map: the verifier takes no pointer that may be
	 * into either. */
	if (out) {
		v = bpf_map_lookup_elem(&nat_egress, &s->k);
		if (!v || !nat_ct_live(s, &v->ct))
			return 0;
		s->new_ip = v->ip;
		s->new_port = v->port;
	} else {
		v = bpf_map_lookup_elem(&nat_ingress, &s->k);
		if (!v || !nat_ct_live(s, &v->ct))
			return 0;
		s->new_ip = v->ip;
		s->new_port = v->port;
	}
	/* Coming in: the quote's source is the session's external side;
	 * going out: its destination is the session's inside. */
	old_ip = out ? in->daddr : in->saddr;
	/* (Coming in, fw_parse() checked that the outer destination is the
	 * quote's source.)  Going out, only an error from the host the
	 * quote went to is translated. */
	if (out && bpf_htonl(s->pkt.saddr) != old_ip)
		return 0;
	old_port = out ? s->k.sport : s->k.dport;
	qaddr_off = l4 + 8 + (out ? 16 : 12);
	qport_off =
	    l4 + 8 + 20 + (in->protocol == IPPROTO_ICMP ? 4 : (out ? 2 : 0));
	if (old_ip != s->new_ip) {
		if (bpf_l3_csum_replace(skb, NAT_IP_CSUM, old_ip, s->new_ip, 4))
			return -1;
		s->w32 = s->new_ip;
		if (bpf_skb_store_bytes(
			skb, out ? NAT_IP_SRC : NAT_IP_DST, &s->w32, 4, 0))
			return -1;
		/* The quoted address, and the quoted header's checksum. */
		old_csum = in->check;
		sum = (__u16)~old_csum;
		sum += (__u16) ~(old_ip & 0xffff) + (__u16) ~(old_ip >> 16);
		sum += (s->new_ip & 0xffff) + (s->new_ip >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		new_csum = (__u16)~sum;
		if (bpf_l4_csum_replace(skb, l4 + 2, old_ip, s->new_ip, 4) ||
		    bpf_l4_csum_replace(skb, l4 + 2, old_csum, new_csum, 2))
			return -1;
		if (bpf_skb_store_bytes(skb, qaddr_off, &s->w32, 4, 0))
			return -1;
		s->w16 = new_csum;
		if (bpf_skb_store_bytes(skb, l4 + 8 + 10, &s->w16, 2, 0))
			return -1;
	}
	if (old_port != s->new_port) {
		if (bpf_l4_csum_replace(skb, l4 + 2, old_port, s->new_port, 2))
			return -1;
		s->w16 = s->new_port;
		if (bpf_skb_store_bytes(skb, qport_off, &s->w16, 2, 0))
			return -1;
	}
	st = nat_stat();
	if (st)
		st->translated++;
	return 0;
}

static __always_inline int
nat_run(void *ctx, enum cub_hook hook)
{
	struct nat_scratch *s;
	int r = 0;

	if (hook == CUB_HOOK_XDP)
		return cub_pass(ctx, hook);
	s = bpf_map_lookup_elem(&nat_scratch, &cub_zero_key);
	if (!s)
		return cub_drop(hook);
	if (fw_parse(ctx, hook, &s->pkt, &s->ct) || s->pkt.frag)
		return cub_pass(ctx, hook);
	if (s->ct.kind == FW_CTK_FLOW) {
		if (cub_tdir(ctx, hook) == CUB_TDIR_EGRESS)
			r = nat_out(ctx, s);
		else
			r = nat_in(ctx, s);
	} else if (s->ct.kind == FW_CTK_ICMP_ERR) {
		r = nat_icmp_err(
		    ctx, s, cub_tdir(ctx, hook) == CUB_TDIR_EGRESS);
	}
	if (r)
		return cub_drop(hook);
	return cub_pass(ctx, hook);
}

CUB_ENTRY_POINTS(nat_run)

char _license[] SEC("license") = "GPL";
