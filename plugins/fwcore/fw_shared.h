/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_shared.h: what the engine's compiler (fw_compile.c) and its BPF
 * classifier (bpf/fw_classify.bpf.h) both read: the packet summary, the
 * map keys and values (docs/architecture.md, "The engine").
 */
#ifndef CUBICLE_FW_SHARED_H
#define CUBICLE_FW_SHARED_H

#include <linux/types.h>

#define FW_WORDS_MAX 128     /* 64-bit words of one chain's vector */
/*
 * Each vector of nw words is stored with its summary after it: FW_SUM_WORDS
 * words whose bit j says word j is not zero.  The scan ANDs the summaries
 * of a chain's fields at its entry and examines only the words set in
 * all of them (a rule no packet field can reach costs nothing).
 */
#define FW_SUM_MAX 2 /* FW_WORDS_MAX / 64 */
#define FW_SUM_WORDS(nw) (((nw) + 63) / 64)
#define FW_VEC_WORDS 4194304 /* vector words of one image (32 MiB) */
#define FW_ADDR_MAX 262144   /* LPM entries (src and dst, all chains) */
#define FW_IVAL_MAX 262144   /* port intervals (all chains) */
#define FW_SMALL_MAX 65536   /* small-field entries (all chains) */
#define FW_RULES_ALL 32768   /* rules of all chains */
#define FW_CHAINS_ALL 256
#define FW_SLOTS_ALL (4 * 8192 + 256 + 1) /* FW_MAX_SLOTS, slot 0 too */
#define FW_JUMP_DEPTH 8                   /* FW_MAX_JUMP_DEPTH (fw_rule.h) */

/*
 * Fields the vectors are looked up by (bits of fw_chain_meta.used).  The
 * first six are L4 fields: a fragment after the first looks them up as
 * "unset" (only the rules not using the field pass), as iptables fails a
 * port, TCP flag or ICMP match on such a fragment even with `!`.
 * FW_F_EITHER is -m multiport --ports: one interval table looked up with
 * the source and the destination port, the two vectors ORed.
 */
enum fw_field {
	FW_F_SPORT = 0,
	FW_F_DPORT,
	FW_F_EITHER,
	FW_F_TCPF,
	FW_F_ICMP,
	FW_F_L4_END_, /* fields before this one are L4 fields */
	FW_F_SRC = FW_F_L4_END_,
	FW_F_DST,
	FW_F_PROTO,
	FW_F_IIF,
	FW_F_OIF,
	FW_F_CT,
	FW_F_STYPE,
	FW_F_DTYPE,
	FW_F_MAX,
};

#define FW_NIVAL_FIELDS 3 /* FW_F_SPORT, FW_F_DPORT, FW_F_EITHER */

/* fw_small_key.value of FW_F_ICMP: type << 8 | code, or a type's wildcard. */
#define FW_ICMP_KEY(type, code) ((__u32)(type) << 8 | (code))
#define FW_ICMP_ANYCODE(type) (0x10000u | (type))

/* Set bits the scan visits plus empty words it skips, per packet, before
 * the classifier gives up and drops the packet (fail closed). */
#define FW_ITER_MAX 65536
/* Steps of the binary search over one field's intervals (65536 at most). */
#define FW_IVAL_STEPS 17

/* What the classifier knows of a packet (host byte order). */
struct fw_pkt {
	__u32 saddr, daddr;
	__u32 iif, oif;
	__u32 len; /* bytes counted */
	__u16 sport, dport;
	__u16 l4_off; /* L4 header's offset in the frame */
	__u8 proto;
	__u8 tcp_flags;
	__u8 icmp_type, icmp_code;
	__u8 ct;                 /* enum fw_ct_bit: one bit */
	__u8 src_type, dst_type; /* enum fw_addrtype_bit */
	__u8 frag;               /* a fragment after the first: no ports */
	__u8 ipv4;               /* 0: not IPv4, not filtered */
	__u8 pad_[3];
};

/* LPM key: prefixlen covers cd (32 bits) + the address's len bits. */
struct fw_addr_key {
	__u32 prefixlen;
	__u32 cd;   /* big endian: chain << 1 | dir (0 src, 1 dst) */
	__u32 addr; /* big endian */
};

/* One elementary port interval: ports from lo up to the next's lo. */
struct fw_ival {
	__u32 lo;
	__u32 vid; /* word offset of its vector in fw__vec */
};

struct fw_small_key {
	__u16 chain;
	__u8 field;
	__u8 pad_;
	__u32 value;
};

struct fw_chain_meta {
	__u32 nrules, nwords;
	__u32 used;      /* 1 << enum fw_field: fields some rule uses */
	__u32 rule_base; /* first rule's index in fw__act */
	__u32 dflt_vid[FW_F_MAX];  /* small fields: a value no key has */
	__u32 unset_vid[FW_F_MAX]; /* rules not using the field */
	__u32 ival_base[FW_NIVAL_FIELDS], ival_n[FW_NIVAL_FIELDS];
	__u8 builtin;
	__u8 policy; /* enum fw_target: ACCEPT or DROP */
	__u16 pad_;
	__u32 policy_slot;
};

/* Post-conditions of a rule, checked when the scan reaches it. */
enum fw_post {
	FW_POST_SET = 1u << 0,
	FW_POST_LIMIT = 1u << 1,
};

struct fw_act {
	__u32 slot;
	__u8 target;      /* enum fw_target */
	__u8 reject_with; /* enum fw_reject_with */
	__u16 jump;       /* FW_T_JUMP/GOTO: chain index */
	__u32 logp;       /* LOG: index in fw__logp */
	__u32 post;       /* enum fw_post */
	__u32 set_id;     /* FW_POST_SET: the set's id (fw_env.setid) */
	__u8 set_neg;     /* FW_POST_SET: `!` */
	__u8 log_level;   /* LOG: syslog level */
	__u16 pad2_;
	/* Added for the post-conditions (bpf/fw_post.bpf.h). */
	__u8 set_type;    /* FW_POST_SET: FW_SET_* (fw_env.setid's type) */
	__u8 set_dirs;    /* FW_POST_SET: bit i set: dimension i is dst */
	__u8 lim_flags;   /* FW_POST_LIMIT: FW_LIM_* */
	__u8 pad3_;
	__u32 lim_burst;   /* FW_POST_LIMIT: bucket size, packets */
	__u64 lim_rate_ns; /* FW_POST_LIMIT: ns per token */
};

/* Set types (-m set; fw_env.setid's type), as ipset's. */
#define FW_SET_HASH_IP 1      /* one address per entry */
#define FW_SET_HASH_NET 2     /* prefixes, the longest one matches */
#define FW_SET_HASH_IP_PORT 3 /* address, protocol, port */

/* fw_act.lim_flags. */
#define FW_LIM_HASH 0x1  /* -m hashlimit: its own buckets (fw_hlim) */
#define FW_LIM_SRCIP 0x2 /* --hashlimit-mode srcip: one per source */
#define FW_LIM_ABOVE 0x4 /* --hashlimit-above: match over the rate */

/*
 * Set contents (bpf/fw_post.bpf.h, maps fw_set_ip, fw_set_net,
 * fw_set_ipport; values are a __u8 1), all sets of the cube in one map
 * per type, keyed by the set's id.  Addresses big endian, port host.
 */
struct fw_set_ip_key {
	__u32 set_id;
	__u32 addr;
};

struct fw_set_net_key {
	__u32 prefixlen; /* 32 (the id) + the prefix's length */
	__u32 set_id;    /* big endian */
	__u32 addr;
};

struct fw_set_ipport_key {
	__u32 set_id;
	__u32 addr;
	__u16 port; /* ICMP: type << 8 | code; no ports: 0 */
	__u8 proto;
	__u8 pad_;
};

/* A -m hashlimit bucket's key (fw_hlim): the rule's slot, the source
 * (0 without --hashlimit-mode srcip). */
struct fw_hlim_key {
	__u32 slot;
	__u32 saddr;
};

/* enum fw_target's values for BPF, which cannot include fw_rule.h
 * (fw_compile.c checks they agree). */
#define FW_TGT_NONE 0
#define FW_TGT_ACCEPT 1
#define FW_TGT_DROP 2
#define FW_TGT_REJECT 3
#define FW_TGT_LOG 4
#define FW_TGT_JUMP 5
#define FW_TGT_GOTO 6
#define FW_TGT_RETURN 7

/* enum fw_reject_with's values for BPF (fw_compile.c checks them). */
#define FW_RJ_PORT_UNREACH 0
#define FW_RJ_NET_UNREACH 1
#define FW_RJ_HOST_UNREACH 2
#define FW_RJ_PROTO_UNREACH 3
#define FW_RJ_NET_PROHIB 4
#define FW_RJ_HOST_PROHIB 5
#define FW_RJ_ADMIN_PROHIB 6
#define FW_RJ_TCP_RESET 7

/* Per-slot counters (fw_cnt, per CPU). */
struct fw_cnt {
	__u64 pkts, bytes;
};

/*
 * What fw_classify() (bpf/fw_classify.bpf.h) hands back for a packet, in
 * per-CPU scratch.  counted[] is filled only in an object built with
 * FW_CLASSIFY_TRACE (the tests); the counters themselves are in fw_cnt.
 */
#define FW_LOG_REQ_MAX 4
#define FW_TRACE_MAX 64

struct fw_res {
	__u8 verdict;     /* FW_TGT_ACCEPT, FW_TGT_DROP or FW_TGT_REJECT */
	__u8 reject_with; /* FW_TGT_REJECT */
	__u8 capped;      /* dropped: the cap, or a map that failed */
	__u8 pad_;
	__u32 slot; /* the deciding rule's or policy's slot */
	__u32 ncounted;
	__u32 nlog; /* LOG rules matched; the first FW_LOG_REQ_MAX: */
	__u32 log_slot[FW_LOG_REQ_MAX];
	__u32 log_logp[FW_LOG_REQ_MAX]; /* index in fw__logp */
	__u8 log_level[FW_LOG_REQ_MAX];
	__u32 counted[FW_TRACE_MAX];
};

/* One log prefix (fw__logp), NUL-terminated. */
struct fw_logp {
	char prefix[32];
};

#endif /* CUBICLE_FW_SHARED_H */
