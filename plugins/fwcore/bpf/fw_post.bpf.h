/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * fw_post.bpf.h: the engine's post-conditions (docs/firewall-contract.md,
 * section 2: FW_POST(s, a)), checked when the classifier's scan reaches
 * a rule whose other matches all hold: -m set first, then -m limit or
 * -m hashlimit (a packet the set refuses takes no token, as iptables
 * evaluates matches in order and the limits come last in every rule the
 * syntax library makes).
 *
 * Sets: one map per type for every set of the cube, keyed by the set's
 * id (fw_env.setid): fw_set_ip (hash:ip, a hash: one lookup), fw_set_net
 * (hash:net, an LPM trie keyed (id, address): the longest prefix, one
 * lookup), fw_set_ipport (hash:ip,port: address, protocol and port).
 * The front end writes them (they are not in the swap set fw: as with
 * ipset, a set's contents change apart from the rules).
 *
 * Limits: token buckets in GCRA form, one __u64 per bucket, the
 * theoretical arrival time tat: a packet at now conforms when
 * max(tat, now) + T - now <= burst * T (T = ns per token), and then
 * tat = max(tat, now) + T.  That is a bucket of burst tokens refilled
 * one per T, full at the start.  -m limit: one global bucket per rule
 * (fw_lim, an ARRAY indexed by the rule's slot, under a bpf_spin_lock:
 * every CPU takes from the same bucket, as xt_limit's spinlock does).
 * -m hashlimit: fw_hlim, an LRU hash keyed (slot, source) (source 0
 * without --hashlimit-mode srcip) of a bare tat, without a lock (the
 * kernel refuses a bpf_spin_lock in an LRU hash's value, and this
 * clang's default BPF ISA has no compare-and-swap): two CPUs taking one
 * source's last token at the same moment may both pass.  The second
 * packet of a source takes its bucket from the first one's write (a
 * flow is mostly on one CPU).  --hashlimit-above inverts: a packet
 * within the rate takes its token and does not match.  Clock:
 * bpf_ktime_get_ns().  The tables' sizes are FW_MAP_SET_* and
 * FW_MAP_HLIM (the includer may set them); --hashlimit-htable-size and
 * -expire are not used (LRU eviction).
 *
 * Include before fw_classify.bpf.h (it defines FW_POST), after
 * fw_maps.bpf.h.
 */
#ifndef CUBICLE_FW_POST_BPF_H
#define CUBICLE_FW_POST_BPF_H

#include <linux/in.h>

#include "../fw_shared.h"

#ifndef FW_MAP_SET_IP
#define FW_MAP_SET_IP 262144
#endif
#ifndef FW_MAP_SET_NET
#define FW_MAP_SET_NET 65536
#endif
#ifndef FW_MAP_SET_IPPORT
#define FW_MAP_SET_IPPORT 65536
#endif
#ifndef FW_MAP_HLIM
#define FW_MAP_HLIM 65536
#endif

struct fw_bucket {
	struct bpf_spin_lock lock;
	__u32 pad_;
	__u64 tat; /* ns; 0: full */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct fw_set_ip_key);
	__type(value, __u8);
	__uint(max_entries, FW_MAP_SET_IP);
} fw_set_ip SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct fw_set_net_key);
	__type(value, __u8);
	__uint(max_entries, FW_MAP_SET_NET);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} fw_set_net SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct fw_set_ipport_key);
	__type(value, __u8);
	__uint(max_entries, FW_MAP_SET_IPPORT);
} fw_set_ipport SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_bucket);
	__uint(max_entries, FW_SLOTS_ALL);
} fw_lim SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct fw_hlim_key);
	__type(value, __u64); /* tat */
	__uint(max_entries, FW_MAP_HLIM);
} fw_hlim SEC(".maps");

/* Keys, in a map value rather than on the stack (cube.bpf.h). */
struct fw_post_scratch {
	struct fw_set_ip_key ip;
	struct fw_set_net_key net;
	struct fw_set_ipport_key ipport;
	struct fw_hlim_key hl;
	__u64 fresh;
	__u32 slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_post_scratch);
	__uint(max_entries, 1);
} fw_post_scratch SEC(".maps");

/* One token from b at now, T ns per token, burst tokens: 1 if taken. */
static __always_inline int
fw_bucket_take(struct fw_bucket *b, __u64 now, __u64 t, __u32 burst)
{
	__u64 tat;
	int ok;

	bpf_spin_lock(&b->lock);
	tat = b->tat > now ? b->tat : now;
	ok = tat + t - now <= (__u64)burst * t;
	if (ok)
		b->tat = tat + t;
	bpf_spin_unlock(&b->lock);
	return ok;
}

static __always_inline int
fw_post_set(struct fw_post_scratch *ps, const struct fw_pkt *pkt,
    const struct fw_act *a)
{
	__u32 addr, port;

	/* One load per branch, each behind a barrier: a select of the
	 * field's address is pointer arithmetic the hardened verifier
	 * refuses. */
	if (a->set_dirs & 1) {
		addr = pkt->daddr;
		asm volatile("" : "+r"(addr));
	} else {
		addr = pkt->saddr;
		asm volatile("" : "+r"(addr));
	}
	if (a->set_dirs & 2) {
		port = pkt->dport;
		asm volatile("" : "+r"(port));
	} else {
		port = pkt->sport;
		asm volatile("" : "+r"(port));
	}

	switch (a->set_type) {
	case FW_SET_HASH_IP:
		ps->ip.set_id = a->set_id;
		ps->ip.addr = bpf_htonl(addr);
		return bpf_map_lookup_elem(&fw_set_ip, &ps->ip) != NULL;
	case FW_SET_HASH_NET:
		ps->net.prefixlen = 64;
		ps->net.set_id = bpf_htonl(a->set_id);
		ps->net.addr = bpf_htonl(addr);
		return bpf_map_lookup_elem(&fw_set_net, &ps->net) != NULL;
	case FW_SET_HASH_IP_PORT:
		ps->ipport.set_id = a->set_id;
		ps->ipport.addr = bpf_htonl(addr);
		ps->ipport.proto = pkt->proto;
		ps->ipport.pad_ = 0;
		switch (pkt->proto) {
		case IPPROTO_TCP:
		case IPPROTO_UDP:
		case IPPROTO_SCTP:
			/* A later fragment has no ports: no match. */
			if (pkt->frag)
				return 0;
			ps->ipport.port = (__u16)port;
			break;
		case IPPROTO_ICMP:
			if (pkt->frag)
				return 0;
			ps->ipport.port =
			    (__u16)(pkt->icmp_type << 8 | pkt->icmp_code);
			break;
		default:
			ps->ipport.port = 0;
		}
		return bpf_map_lookup_elem(&fw_set_ipport, &ps->ipport) != NULL;
	}
	return 0;
}

static __always_inline int
fw_post_limit(struct fw_post_scratch *ps, const struct fw_pkt *pkt,
    const struct fw_act *a)
{
	__u64 now = bpf_ktime_get_ns(), *tat, t;
	struct fw_bucket *b;
	int ok;

	if (!(a->lim_flags & FW_LIM_HASH)) {
		ps->slot = a->slot;
		b = bpf_map_lookup_elem(&fw_lim, &ps->slot);
		if (!b)
			return 0;
		return fw_bucket_take(b, now, a->lim_rate_ns, a->lim_burst);
	}
	ps->hl.slot = a->slot;
	ps->hl.saddr = a->lim_flags & FW_LIM_SRCIP ? pkt->saddr : 0;
	tat = bpf_map_lookup_elem(&fw_hlim, &ps->hl);
	if (!tat) {
		ps->fresh = 0;
		bpf_map_update_elem(&fw_hlim, &ps->hl, &ps->fresh, BPF_NOEXIST);
		tat = bpf_map_lookup_elem(&fw_hlim, &ps->hl);
		if (!tat)
			return 0;
	}
	/* No lock (the kernel refuses one in an LRU hash's value): two
	 * CPUs taking the same source's last token at once may both pass. */
	t = *tat > now ? *tat : now;
	ok = t + a->lim_rate_ns - now <= (__u64)a->lim_burst * a->lim_rate_ns;
	if (ok)
		*tat = t + a->lim_rate_ns;
	return a->lim_flags & FW_LIM_ABOVE ? !ok : ok;
}

/*
 * True when rule a's post-conditions hold for pkt.  A global function:
 * the verifier checks it once, not once per state of the scan's step
 * (inlined, its branches times the step's overran the 1M-instruction
 * budget).  Include this header once per object.
 */
__attribute__((noinline)) int
fw_post(const struct fw_pkt *pkt, const struct fw_act *a)
{
	struct fw_post_scratch *ps =
	    bpf_map_lookup_elem(&fw_post_scratch, &cub_zero_key);

	if (!ps || !pkt || !a)
		return 0;
	if ((a->post & FW_POST_SET) &&
	    !(fw_post_set(ps, pkt, a) ^ !!a->set_neg))
		return 0;
	if (a->post & FW_POST_LIMIT)
		return fw_post_limit(ps, pkt, a);
	return 1;
}

#define FW_POST(s, a) fw_post(&(s)->pkt, (a))

#endif /* CUBICLE_FW_POST_BPF_H */
