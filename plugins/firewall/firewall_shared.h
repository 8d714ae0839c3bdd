/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * firewall: Polycube's transparent firewall on the fwcore engine (issue
 * 10; docs/firewall-contract.md section 4), shared by firewall.bpf.c and
 * firewall.c (style rule 25).  The classifier's maps are the engine's
 * (plugins/fwcore/bpf/fw_maps.bpf.h: swap set fw, counters fw_cnt), the
 * conntrack table its fw_ct; the plugin adds:
 *   fwf_conf  ARRAY[1] of struct fwf_conf, written by the worker
 *   fwf_rules ARRAY[FWF_STORE_ENTRIES] of struct fwf_rec: the rules as
 *             the worker last applied them, in two copies (copy c, chain
 *             k, rule i at c * 2 * FWF_MAX_RULES + k * FWF_MAX_RULES + i),
 *             the program never reads it: a restarted worker (kill -9)
 *             reads its rules and their counter slots back from it
 *   fwf_head  ARRAY[1] of struct fwf_head: which copy of fwf_rules is
 *             whole, and each chain's rule count
 */
#ifndef FIREWALL_SHARED_H
#define FIREWALL_SHARED_H

#include <linux/types.h>

#define FWF_CHAINS 2       /* INGRESS 0, EGRESS 1 */
#define FWF_MAX_RULES 8192 /* per chain: Polycube's maxRules */
#define FWF_STORE_ENTRIES (2 * FWF_CHAINS * FWF_MAX_RULES)
#define FWF_DESC_MAX 64            /* description, NUL included */
#define FWF_HEAD_MAGIC 0x66776631u /* "fwf1" */

/* Counter slots: each chain's default first, then the rules'. */
#define FWF_SLOT_DEFAULT(chain) (1u + (chain))
#define FWF_SLOT_FIRST 3u
#define FWF_SLOT_LAST (FWF_SLOT_FIRST + FWF_CHAINS * FWF_MAX_RULES - 1)

struct fwf_conf {
	__u32 conntrack;          /* 1: label and track */
	__u32 accept_established; /* 1 (with conntrack): ESTABLISHED passes */
};

/* struct fwf_rec.has: the matches a rule sets. */
#define FWF_HAS_SRC 0x01u
#define FWF_HAS_DST 0x02u
#define FWF_HAS_PROTO 0x04u
#define FWF_HAS_SPORT 0x08u
#define FWF_HAS_DPORT 0x10u
#define FWF_HAS_FLAGS 0x20u
#define FWF_HAS_CT 0x40u

/* One rule as stored (host order).  action: 1 ACCEPT, 2 DROP (enum
 * fw_target's values); ct: one enum fw_ct_bit. */
struct fwf_rec {
	__u32 slot; /* its counter slot, kept through inserts and restarts */
	__u32 src, dst;
	__u16 sport, dport;
	__u8 src_len, dst_len;
	__u8 has;
	__u8 proto;
	__u8 flags_mask, flags_cmp; /* tcpflags: the bits named, those set */
	__u8 ct;
	__u8 action;
	char desc[FWF_DESC_MAX];
};

struct fwf_head {
	__u32 magic; /* FWF_HEAD_MAGIC once written */
	__u32 copy;  /* the whole copy of fwf_rules, 0 or 1 */
	__u32 n[FWF_CHAINS];
};

#endif /* FIREWALL_SHARED_H */
