/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Map values shared by helloworld.bpf.c and its control plane (style rule
 * 25).  Maps: hw_config (ARRAY, one entry: the cube's action and its two
 * ports' indices), hw_stats (PERCPU_ARRAY, port index -> struct hw_stats),
 * hw_pktins (ARRAY, port index -> __u64 written by the worker) and
 * hw_nevents (ARRAY, one __u64 written by the worker: netdev events it
 * received).  The broker reads hw_stats, hw_pktins and hw_nevents for
 * show through the schema's counter bindings.
 */
#ifndef HELLOWORLD_SHARED_H
#define HELLOWORLD_SHARED_H

#include <linux/types.h>

enum {
	HW_DROP = 0,     /* default: a zeroed hw_config drops */
	HW_SLOWPATH = 1, /* to the worker via cub_pktin, then drop */
	HW_FORWARD = 2,  /* out of the other port */
};

/* hw_config[0]. */
struct hw_config {
	__u32 action;  /* HW_DROP, HW_SLOWPATH or HW_FORWARD */
	__u32 nports;  /* 0, 1 or 2: how many of port[] are set */
	__u32 port[2]; /* the ports' indices, in the order they were added */
};

/*
 * hw_stats[port index], one copy per CPU: sum them.  rx_*, drops and
 * slowpath count on the ingress port, tx_* on the port forwarded to.
 */
struct hw_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 drops;
	__u64 slowpath;
};

#endif /* HELLOWORLD_SHARED_H */
