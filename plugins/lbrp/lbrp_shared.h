/* SPDX-License-Identifier: BSD-2-Clause */
/* lbrp: types shared by the BPF object and the worker. */
#ifndef LBRP_SHARED_H
#define LBRP_SHARED_H

#include <linux/types.h>

#define LB_SVC_MAX 64     /* services of a cube */
#define LB_RING 16381     /* Maglev table size M per service: a prime */
#define LB_SVC_BE_MAX 64  /* backends of one service (M >= 256 N) */
#define LB_BE_MAX 4096    /* backends of a cube, all services */
#define LB_SESS_MAX 65536 /* sessions (both directions' entries) */
#define LB_WEIGHT_MAX 100

/* Port types (lb_ports[index].type). */
#define LB_PORT_NONE 0
#define LB_PORT_FRONTEND 1
#define LB_PORT_BACKEND 2

/* Service protocols: the key's proto; LB_PROTO_ALL matches TCP, UDP and
 * ICMP when no service of the exact protocol does. */
#define LB_PROTO_ALL 0
#define LB_PROTO_ICMP 1
#define LB_PROTO_TCP 6
#define LB_PROTO_UDP 17

struct lb_port {
	__u32 type;
	__be32 ip; /* 0: none (MULTI mode: replies to ip go out here) */
};

/* lb_cfg[0]. */
#define LB_MODE_SINGLE 0
#define LB_MODE_MULTI 1
struct lb_cfg {
	__u32 mode;
	__u32 frontend; /* SINGLE: the frontend port's index */
	__u32 backend;  /* the backend port's index */
	__u32 has;      /* bit 0: a frontend port, bit 1: a backend port */
	/* src-ip-rewrite: a client address in sr_net/sr_mask reaches the
	 * backends as sr_new | (address & ~sr_mask); sr_mask 0: none. */
	__be32 sr_net;
	__be32 sr_mask;
	__be32 sr_new;
	__u32 pad;
};

/* lb_services[{vip, vport, proto}]: the service's id and which half of
 * its two tables in lb_ring the data plane reads; the worker writes the
 * other half, then flips half with one update. */
struct lb_svc_key {
	__be32 vip;
	__be16 vport; /* 0 for ICMP */
	__u8 proto;
	__u8 pad;
};

struct lb_svc {
	__u32 id;   /* 0 .. LB_SVC_MAX - 1 */
	__u32 half; /* 0 or 1 */
	__u32 nbe;  /* backends with a weight: 0, no new flow is taken */
	__u32 pad;
};

/* lb_ring[(id * 2 + half) * LB_RING + slot]: the Maglev table. */
struct lb_dst {
	__be32 ip;
	__be16 port;
	__u16 pad;
};

/* lb_backends[{svc id, ip}]: a backend that lives (weight 0: drained,
 * kept for its sessions, in no table). */
struct lb_be_key {
	__u32 svc;
	__be32 ip;
};

struct lb_be {
	__be16 port;
	__u16 weight;
};

/* lb_sess: LRU, keyed by the packet's 5-tuple and direction.  dir 0, a
 * client's packet to a VIP: value = the backend (ip, port), svc.  dir 1,
 * a backend's reply: value = the VIP (ip, port) to put back, and fport,
 * the frontend port it goes out of.  ICMP echo: sport is the request's
 * identifier, dport 0 (a reply's: sport 0, dport the identifier). */
struct lb_flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;
	__u16 pad;
};

struct lb_sess {
	__be32 ip;
	__be16 port;
	__u16 fport;
	__u32 svc;
	__be32 cip; /* dir 1: the client's own address (src-ip-rewrite) */
};

/* lb_stats[port index], per CPU: read by the broker. */
struct lb_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 lb_packets;  /* to a VIP: sent to a backend */
	__u64 rev_packets; /* replies whose source was put back to the VIP */
	__u64 icmp_echo;   /* echo requests to a VIP answered by the cube */
	__u64 drops;
};

struct lb_scratch {
	struct lb_svc_key sk;
	struct lb_flow f;
	struct lb_be_key bk;
	struct lb_sess sv;
	struct lb_sess rv;
	__u32 ring;
	__be32 ip;
};

#endif
