/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Maps shared by ddosmitigator.bpf.c and its control plane (style rule
 * 25).  One set per list, DDOS_SRC (blacklist-src, matched on the source
 * address) and DDOS_DST (blacklist-dst, on the destination):
 *   ddos_src_addrs / ddos_dst_addrs  PERCPU_HASH  __u32 address (network
 *       order) -> __u64 drops: the addresses (/32), one lookup per packet.
 *   ddos_src_pfx / ddos_dst_pfx      LPM_TRIE  struct ddos_lpm_key ->
 *       __u32 slot in ddos_pfx_drops: the real prefixes (/0 to /31),
 *       looked up only while ddos_cfg says the list holds some.
 *   ddos_pfx_drops  PERCPU_ARRAY  slot -> __u64 drops of that prefix;
 *       slots [0, DDOS_PFX_MAX) are blacklist-src's, the next
 *       DDOS_PFX_MAX blacklist-dst's.
 *   ddos_cfg    ARRAY[1]  struct ddos_cfg: prefixes per list.
 *   ddos_stats  PERCPU_ARRAY[1]  struct ddos_stats: the cube's drops.
 */
#ifndef DDOSMITIGATOR_SHARED_H
#define DDOSMITIGATOR_SHARED_H

#include <linux/types.h>

enum {
	DDOS_SRC = 0,
	DDOS_DST = 1,
	DDOS_LISTS = 2,
};

/* Addresses per list: the tree engine's cap on a list (1M). */
#define DDOS_ADDR_MAX (1u << 20)
/* Real prefixes per list (the LPM trie and its counter slots). */
#define DDOS_PFX_MAX (1u << 16)

struct ddos_lpm_key {
	__u32 prefixlen;
	__u32 addr; /* network order */
};

struct ddos_cfg {
	__u32 npfx[DDOS_LISTS]; /* prefixes in each trie: 0 = skip it */
};

/* ddos_stats[0], one copy per CPU: sum them. */
struct ddos_stats {
	__u64 pkts; /* packets dropped by either list */
};

#endif
