/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctcube: a test cube for issue 10's conntrack (fw_pkt.bpf.h,
 * fw_ct.bpf.h), shared by ctcube.bpf.c and ctcube.c (style rule 25).
 * Two ports, p1 and p2, forwarding to each other; a stateful policy:
 * from p1 everything passes (and is tracked), from p2 only ESTABLISHED
 * and RELATED packets, NEW, INVALID and UNTRACKED are dropped.  Frames
 * that are not IPv4 (ARP) pass unfiltered.
 *   ctc_conf  ARRAY[1] of struct ctc_conf, written by the worker
 *   ctc_stats PERCPU_ARRAY[CUB_MAX_PORTS] of struct ctc_stats, by the
 *             port a packet came in on
 *   fw_ct     the conntrack table (fw_ct_shared.h)
 */
#ifndef CTCUBE_SHARED_H
#define CTCUBE_SHARED_H

#include <linux/types.h>

struct ctc_conf {
	__u32 p1, p2; /* the ports' indices */
	__u32 ready;  /* 1 once both are known: else everything drops */
};

struct ctc_stats {
	__u64 rx;       /* frames in */
	__u64 accepted; /* forwarded to the other port */
	__u64 dropped;
	__u64 ct_new, ct_established, ct_related, ct_invalid, ct_untracked;
};

#endif /* CTCUBE_SHARED_H */
