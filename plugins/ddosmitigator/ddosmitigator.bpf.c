// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * ddosmitigator (Polycube's pcn-ddosmitigator): a transparent cube that
 * drops IPv4 packets coming in whose source is in blacklist-src or whose
 * destination is in blacklist-dst.  Everything else (IPv6, ARP, packets
 * going out on TC) goes on with cub_pass().  An address costs one per-CPU
 * hash lookup per list; the LPM trie of a list's real prefixes is looked
 * up only while ddos_cfg says it holds any.  A drop adds one to the
 * entry's per-CPU counter and to the cube's (ddos_stats).
 */
#include <cubicle/cube.bpf.h>

#include "ddosmitigator_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, DDOS_ADDR_MAX);
} ddos_src_addrs SEC(".maps"), ddos_dst_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ddos_lpm_key);
	__type(value, __u32);
	__uint(max_entries, DDOS_PFX_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ddos_src_pfx SEC(".maps"), ddos_dst_pfx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, DDOS_LISTS * DDOS_PFX_MAX);
} ddos_pfx_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ddos_cfg);
	__uint(max_entries, 1);
} ddos_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct ddos_stats);
	__uint(max_entries, 1);
} ddos_stats SEC(".maps");

/* A drop: the cube's counter, then the packet. */
static __always_inline int
ddos_drop(enum cub_hook hook)
{
	struct ddos_stats *st = bpf_map_lookup_elem(&ddos_stats, &cub_zero_key);

	if (st)
		st->pkts++;
	return cub_drop(hook);
}

/*
 * Is the address at key[1] in list (addrs, pfx)?  Counts the drop on the
 * entry it matched.  key[0..1] is the LPM key {32, addr}, key[1] the
 * hash key; keys live in cub_scratch (see cube.bpf.h).  The number of
 * prefixes is read after the hash lookup, from cfg: a value held across
 * the call would be spilled to the stack, and each spill costs a
 * Spectre v4 barrier.
 */
static __always_inline int
ddos_match(__u32 *key, void *addrs, void *pfx, __u32 *npfx)
{
	__u64 *drops;
	__u32 *slot;

	drops = bpf_map_lookup_elem(addrs, &key[1]);
	if (drops) {
		(*drops)++;
		return 1;
	}
	if (!*npfx)
		return 0;
	slot = bpf_map_lookup_elem(pfx, key);
	if (!slot)
		return 0;
	drops = bpf_map_lookup_elem(&ddos_pfx_drops, slot);
	if (drops)
		(*drops)++;
	return 1;
}

static __always_inline int
ddos_run(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s;
	struct ddos_cfg *cfg;
	struct iphdr *ip;

	if (cub_tdir(ctx, hook) == CUB_TDIR_EGRESS)
		return cub_pass(ctx, hook);
	ip = cub_ipv4(ctx, hook);
	if (!ip)
		return cub_pass(ctx, hook);
	s = cub_scratch();
	cfg = bpf_map_lookup_elem(&ddos_cfg, &cub_zero_key);
	if (!s || !cfg)
		return cub_drop(hook);
	/* Both LPM keys at once: ip is not needed after. */
	s->key[0] = 32;
	s->key[1] = ip->saddr;
	s->key[2] = 32;
	s->key[3] = ip->daddr;
	if (ddos_match(&s->key[0], &ddos_src_addrs, &ddos_src_pfx,
		&cfg->npfx[DDOS_SRC]))
		return ddos_drop(hook);
	if (ddos_match(&s->key[2], &ddos_dst_addrs, &ddos_dst_pfx,
		&cfg->npfx[DDOS_DST]))
		return ddos_drop(hook);
	return cub_pass(ctx, hook);
}

CUB_ENTRY_POINTS(ddos_run)

char _license[] SEC("license") = "GPL";
