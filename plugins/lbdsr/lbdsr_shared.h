/* SPDX-License-Identifier: BSD-2-Clause */
/* lbdsr: types shared by the BPF object and the worker. */
#ifndef LBDSR_SHARED_H
#define LBDSR_SHARED_H

#include <linux/types.h>

#define LD_RING 16381 /* Maglev table size, a prime (as lbrp's) */
#define LD_POOL_MAX 64
#define LD_VIP_MAX 64

#define LD_PORT_NONE 0
#define LD_PORT_FRONTEND 1
#define LD_PORT_BACKEND 2

#define LD_ALGO_SRC_IP 0
#define LD_ALGO_5TUPLE 1

/* ld_cfg[0].  The data plane reads ld_ring[half * LD_RING + slot]; the
 * worker writes the other half, then flips half (one update). */
struct ld_cfg {
	__u32 frontend; /* port indices */
	__u32 backend;
	__u32 has; /* bit 0: a frontend port, bit 1: a backend port */
	__u32 algo;
	__u32 half;
	__u32 npool; /* backends in the table: 0, VIP packets dropped */
	__u8 mac[6]; /* the frontend MAC: ARP for a VIP answered with it */
	__u16 has_mac;
};

struct ld_mac {
	__u8 addr[6];
	__u16 pad;
};

/* ld_ports[port index]: its type. */

/* ld_stats[port index], per CPU. */
struct ld_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 lb_packets;  /* to a VIP: sent to a backend's MAC */
	__u64 vip_replies; /* from a VIP (a backend's reply) through here */
	__u64 arp_replies; /* ARP requests for a VIP answered */
	__u64 drops;
};

struct ld_scratch {
	__be32 ip;
	__u32 ring;
};

#endif
