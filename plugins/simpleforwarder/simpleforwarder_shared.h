/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Map values shared by simpleforwarder.bpf.c and its control plane
 * (style rule 25).  Maps: sf_actions (ARRAY, in-port index -> struct
 * sf_action), sf_stats (PERCPU_ARRAY, port index -> struct sf_stats) and
 * sf_pktins (ARRAY, port index -> __u64 written by the worker), all
 * CUB_MAX_PORTS entries.  The broker reads sf_stats and sf_pktins for
 * show through the schema's counter bindings.
 */
#ifndef SIMPLEFORWARDER_SHARED_H
#define SIMPLEFORWARDER_SHARED_H

#include <linux/types.h>

enum {
	SF_DROP = 0,     /* default: a zeroed sf_actions entry drops */
	SF_FORWARD = 1,  /* send out of outport */
	SF_SLOWPATH = 2, /* copy to the worker via cub_pktin, then drop */
};

/* sf_actions[in-port index]. */
struct sf_action {
	__u32 action;  /* SF_DROP, SF_FORWARD or SF_SLOWPATH */
	__u32 outport; /* port index, used by SF_FORWARD */
};

/*
 * sf_stats[port index], one copy per CPU: sum them.  rx_* and the action
 * counters (drops, slowpath) count on the ingress port, tx_* on the egress
 * port.
 */
struct sf_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 drops;
	__u64 slowpath;
};

#endif /* SIMPLEFORWARDER_SHARED_H */
