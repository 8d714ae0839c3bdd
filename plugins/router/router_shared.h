/* SPDX-License-Identifier: BSD-2-Clause */
/* router: types shared by the BPF object and the worker. */
#ifndef ROUTER_SHARED_H
#define ROUTER_SHARED_H

#include <linux/types.h>

#define RT_ADDRS_MAX 6       /* a port's address and 5 secondary ones */
#define RT_ROUTES_MAX 131072 /* 100k routes and the connected ones */
#define RT_ARP_MAX 65536
#define RT_LOCAL_MAX 1024

/* rt_ports[port index]: the port's MAC and addresses (nip 0: the port
 * routes nothing). */
struct rt_addr {
	__be32 ip;
	__be32 mask;
};

struct rt_port {
	__u8 mac[6];
	__u16 nip;
	struct rt_addr ip[RT_ADDRS_MAX];
};

/*
 * rt_routes: an LPM trie keyed by prefix, for every route but the /32
 * ones, which are in rt_host (a hash keyed by address, one lookup where
 * a trie of 100k host routes walks a node per bit of the longest common
 * prefix): a /32 is the longest prefix there is, so a hit there is the
 * answer and the trie is asked only on a miss.
 */
struct rt_route_key {
	__u32 plen;
	__be32 addr;
};

struct rt_route {
	__u32 port;
	__be32 nexthop; /* 0: the destination is on the port's network */
};

/* rt_arp[ip]: a neighbour. */
#define RT_ARP_STATIC 1
struct rt_arp {
	__u8 mac[6];
	__u16 flags; /* RT_ARP_STATIC: the document's; never learned over */
	__u32 port;
	__u64 seen_ns;
};

/* rt_local[ip]: the router's own addresses -> the port that has it. */

/* rt_stats[port index], per CPU: read by the broker (show). */
struct rt_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets; /* routed out of this port */
	__u64 tx_bytes;
	__u64 drops;
	__u64 slowpath; /* sent to the worker (ARP resolution, a reply) */
	__u64 icmp_out; /* echo replies and errors sent from this port */
};

/* Slow-path reasons. */
#define RT_REASON_ARP_MISS 1  /* port: the out port; the worker resolves */
#define RT_REASON_ARP_REPLY 2 /* an ARP reply to the router: flush */

/* Per-CPU keys and the ICMP error being built. */
#define RT_QUOTE_MAX 68 /* a 60-byte IP header and 8 bytes */
#define RT_ERR_FRAME_MAX (14 + 20 + 8 + RT_QUOTE_MAX)
struct rt_scratch {
	struct rt_route_key rk;
	__be32 ip;
	__u32 port;
	__u8 pad_[2];
	__u8 frame[RT_ERR_FRAME_MAX];
	__u8 pad2_[2];
	__u8 orig[14 + 20 + 2];
};

#endif
