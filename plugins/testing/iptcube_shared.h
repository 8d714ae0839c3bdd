/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * iptcube: a test cube for issue 10's engine with its post-conditions
 * (plugins/fwcore/bpf/fw_post.bpf.h, fw_reject.bpf.h, fw_log.bpf.h),
 * shared by iptcube.bpf.c and iptcube.c (style rule 25).  Two ports, p1
 * and p2, forwarding to each other through the FORWARD chain (index 1)
 * of an iptables ruleset.
 *   iptc_conf  ARRAY[1] of struct iptc_conf, written by the worker
 *   iptc_stats PERCPU_ARRAY[CUB_MAX_PORTS] of struct iptc_stats, by the
 *              port a packet came in on
 *   the engine's maps (fw_maps.bpf.h), sets and buckets (fw_post.bpf.h),
 *   log bucket and counts (fw_log.bpf.h), conntrack (fw_ct.bpf.h)
 */
#ifndef IPTCUBE_SHARED_H
#define IPTCUBE_SHARED_H

#include <linux/types.h>

#define IPTC_CHAIN_FORWARD 1 /* INPUT 0, FORWARD 1, OUTPUT 2 */

struct iptc_conf {
	__u32 p1, p2; /* the ports' indices */
	__u32 ready;  /* 1 once both are known and a ruleset applied */
};

struct iptc_stats {
	__u64 rx;       /* frames in */
	__u64 accepted; /* forwarded to the other port */
	__u64 dropped;
	__u64 rejected; /* answered (REJECT) out of this port */
};

#endif /* IPTCUBE_SHARED_H */
