/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * iptables service (issue 10): a host-wide firewall cube on the fwcore
 * engine, shared by iptables.bpf.c and iptables.c (style rule 25).
 *   ipt_slots HASH of struct ipt_slot_key -> __u32: each rule id's
 *             counter slot, written by the worker, read back by a
 *             restarted one (the programs never read it)
 *   the engine's maps (fw_maps.bpf.h), buckets (fw_post.bpf.h), log
 *   bucket and counts (fw_log.bpf.h), conntrack (fw_ct.bpf.h)
 */
#ifndef IPTABLES_SHARED_H
#define IPTABLES_SHARED_H

#include <linux/types.h>

/* The builtins, in fw_compile()'s order; user chains after them. */
#define IPT_CHAIN_INPUT 0
#define IPT_CHAIN_FORWARD 1
#define IPT_CHAIN_OUTPUT 2
#define IPT_BUILTINS 3

#define IPT_ID_MAX 64      /* a rule id's bytes, NUL included */
#define IPT_RULES_MAX 32768 /* rule ids per cube: FW_RULES_ALL */
#define IPT_CHAIN_RULES_MAX 8192 /* rules per chain: FW_MAX_RULES */

struct ipt_slot_key {
	char chain[32];      /* FW_CHAIN_NAME_MAX + 1, zero-padded */
	char id[IPT_ID_MAX]; /* zero-padded */
};

#endif /* IPTABLES_SHARED_H */
