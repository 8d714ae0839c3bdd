/* SPDX-License-Identifier: BSD-2-Clause */
/* simplebridge: types shared by the BPF object and the worker. */
#ifndef SIMPLEBRIDGE_SHARED_H
#define SIMPLEBRIDGE_SHARED_H

#include <linux/types.h>

/* Learned hosts (sb_fdb, an LRU hash: the least recently seen go first
 * when it is full) and static entries (sb_static, the document's). */
#define SB_FDB_MAX 81920 /* 64k hosts and more: an LRU evicts before it is full */
#define SB_STATIC_MAX 4096

/* A MAC address as a map key. */
struct sb_mac {
	__u8 addr[6];
	__u16 pad; /* 0 */
};

/* sb_fdb and sb_static values. */
struct sb_entry {
	__u32 port;
	__u32 pad;
	__u64 seen_ns; /* bpf_ktime_get_ns() when last seen (sb_fdb) */
};

/* sb_config[0]. */
struct sb_config {
	__u64 aging_ns; /* a learned entry older than this is unknown */
};

/* sb_stats[port index], per CPU: read by the broker (show). */
struct sb_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets; /* forwarded out of this port to a known host */
	__u64 tx_bytes;
	__u64 drops;  /* received and dropped (same segment, runt, no port) */
	__u64 floods; /* received and flooded (broadcast, unknown) */
};

/* Per-CPU keys (cube.bpf.h: keep map keys out of the fenced stack). */
struct sb_scratch {
	struct sb_mac src;
	struct sb_mac dst;
	struct sb_entry learn;
};

#endif
