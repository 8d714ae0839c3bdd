/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Map values shared by transparenthelloworld.bpf.c and its control plane
 * (style rule 25).  Maps, keyed by direction (TH_INGRESS, TH_EGRESS):
 * th_actions (ARRAY of __u32 TH_PASS...) and th_stats (PERCPU_ARRAY of
 * struct th_stats), which the broker reads for show.
 */
#ifndef TRANSPARENTHELLOWORLD_SHARED_H
#define TRANSPARENTHELLOWORLD_SHARED_H

#include <linux/types.h>

enum {
	TH_INGRESS = 0,
	TH_EGRESS = 1,
	TH_DIRS = 2,
};

enum {
	TH_PASS = 0, /* default: a zeroed th_actions entry lets it go on */
	TH_DROP = 1,
	TH_SLOWPATH = 2, /* copy to the worker via cub_pktin, then drop */
	TH_BURN = 3,	 /* TH_EVIL_BURN only (plugins/testing's evil_tburn) */
};

/* th_stats[direction], one copy per CPU: sum them. */
struct th_stats {
	__u64 packets; /* seen in that direction */
	__u64 bytes;
	__u64 drops;    /* dropped by the action */
	__u64 slowpath; /* sent to the slow path */
};

#endif
