/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_rule.h: one packet-filter rule, as the front ends (iptables syntax,
 * the firewall cube's schema) produce it and the engine (fw_compile.h)
 * compiles it.  Shared by the iptables and firewall services: one engine,
 * two front ends (issue 10; docs/firewall-contract.md).
 *
 * Plain data, no pointers: a rule can be copied with =, compared with
 * memcmp after fw_rule_init() and stored as it is.  Addresses and ports
 * are in host byte order.  A match whose `set` is 0 matches everything;
 * `neg` inverts a set match, as iptables' `!`.
 */
#ifndef CUBICLE_FW_RULE_H
#define CUBICLE_FW_RULE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define FW_MAX_RULES      8192 /* rules per chain (the stated cap) */
#define FW_MAX_CHAINS     256  /* chains per ruleset, built-ins included */
#define FW_MAX_JUMP_DEPTH 8    /* nested -j CHAIN calls on one packet */
#define FW_MAX_PFX        64   /* prefixes in one address match (-m iprange) */
#define FW_MAX_PORTS      15   /* ranges in one port match (-m multiport) */
#define FW_CHAIN_NAME_MAX 29   /* iptables' XT_EXTENSION_MAXNAMELEN - 1 */
#define FW_IFNAME_MAX     16   /* IFNAMSIZ, NUL included */
#define FW_SET_NAME_MAX   32   /* IPSET_MAXNAMELEN, NUL included */
#define FW_COMMENT_MAX    256  /* XT_MAX_COMMENT_LEN, NUL included */
#define FW_LOG_PREFIX_MAX 30   /* iptables' --log-prefix limit, NUL incl. */

/* Conntrack states (bits, for --ctstate NEW,ESTABLISHED,...). */
enum fw_ct_bit {
	FW_CT_NEW         = 1u << 0,
	FW_CT_ESTABLISHED = 1u << 1,
	FW_CT_RELATED     = 1u << 2,
	FW_CT_INVALID     = 1u << 3,
	FW_CT_UNTRACKED   = 1u << 4,
};

/* -m addrtype types (bits). */
enum fw_addrtype_bit {
	FW_AT_UNICAST   = 1u << 0,
	FW_AT_LOCAL     = 1u << 1,
	FW_AT_BROADCAST = 1u << 2,
	FW_AT_MULTICAST = 1u << 3,
};

/* TCP flag bits, as in the TCP header's 13th byte. */
enum fw_tcp_bit {
	FW_TCP_FIN = 0x01,
	FW_TCP_SYN = 0x02,
	FW_TCP_RST = 0x04,
	FW_TCP_PSH = 0x08,
	FW_TCP_ACK = 0x10,
	FW_TCP_URG = 0x20,
	FW_TCP_ECE = 0x40,
	FW_TCP_CWR = 0x80,
};

enum fw_target {
	FW_T_NONE = 0, /* no -j: count and go on */
	FW_T_ACCEPT,
	FW_T_DROP,
	FW_T_REJECT,
	FW_T_LOG,    /* log, count and go on */
	FW_T_JUMP,   /* -j CHAIN: jump, RETURN comes back */
	FW_T_GOTO,   /* -g CHAIN: RETURN goes to the caller's caller */
	FW_T_RETURN,
};

enum fw_reject_with {
	FW_REJ_PORT_UNREACH = 0, /* icmp-port-unreachable (iptables' default) */
	FW_REJ_NET_UNREACH,
	FW_REJ_HOST_UNREACH,
	FW_REJ_PROTO_UNREACH,
	FW_REJ_NET_PROHIB,
	FW_REJ_HOST_PROHIB,
	FW_REJ_ADMIN_PROHIB,
	FW_REJ_TCP_RESET,
};

struct fw_pfx {
	uint32_t addr; /* host order, bits past len zero */
	uint8_t len;   /* 0..32 */
};

/* -s/-d (one prefix) or -m iprange (a range as up to 62 prefixes). */
struct fw_addr_match {
	bool set, neg;
	uint16_t n; /* prefixes in p; the match is their union */
	struct fw_pfx p[FW_MAX_PFX];
};

/* --sport/--dport (one range) or -m multiport (up to 15). */
struct fw_port_match {
	bool set, neg;
	uint8_t n;
	struct {
		uint16_t lo, hi; /* lo <= hi; one port: lo == hi */
	} r[FW_MAX_PORTS];
};

/* -i/-o: "" matches all; a trailing '+' matches every name it starts. */
struct fw_if_match {
	bool set, neg;
	char name[FW_IFNAME_MAX];
};

/* -m set --match-set NAME src[,dst...]: evaluated after the vectors. */
struct fw_set_match {
	bool set, neg;
	char name[FW_SET_NAME_MAX];
	uint8_t ndirs;   /* 1..2 used (hash:ip,port takes 2) */
	uint8_t dirs[2]; /* 0 = src, 1 = dst, per dimension */
};

/* -m limit / -m hashlimit: token buckets, evaluated after the vectors. */
struct fw_limit {
	bool set;
	bool per_src;      /* hashlimit --hashlimit-mode srcip */
	bool above;        /* hashlimit --hashlimit-above */
	uint64_t rate_ns;  /* nanoseconds per token (1/s -> 1e9) */
	uint32_t burst;    /* bucket size (iptables' default 5) */
	char name[FW_SET_NAME_MAX]; /* --hashlimit-name */
	uint32_t size;     /* --hashlimit-htable-size (0: default) */
	uint32_t expire_ms;/* --hashlimit-htable-expire (0: default) */
	/* How the user wrote the rate, for -S: e.g. 3 per minute. */
	uint32_t rate_n;
	char rate_unit;    /* 's', 'm', 'h', 'd' */
};

struct fw_rule {
	struct fw_addr_match src, dst;
	struct {
		bool set, neg;
		uint8_t proto; /* IPPROTO_*; set with proto 0 is "-p all" */
	} proto;
	struct fw_port_match sport, dport;
	struct {
		bool set, neg;
		uint8_t mask, cmp; /* --tcp-flags mask comp; --syn = SYN,RST,ACK,FIN SYN */
	} tcpflags;
	struct {
		bool set, neg;
		uint8_t type;
		int16_t code; /* -1: any code of the type */
	} icmp;
	struct fw_if_match iif, oif;
	struct {
		bool set, neg;
		uint8_t mask; /* enum fw_ct_bit */
	} ctstate;
	struct {
		bool set, neg;
		uint8_t mask; /* enum fw_addrtype_bit */
	} srctype, dsttype;
	struct fw_set_match mset;
	struct fw_limit limit;

	enum fw_target target;
	char jump[FW_CHAIN_NAME_MAX + 1]; /* FW_T_JUMP / FW_T_GOTO */
	enum fw_reject_with reject_with;
	char log_prefix[FW_LOG_PREFIX_MAX];
	uint8_t log_level; /* syslog level, iptables' default 4 */
	char comment[FW_COMMENT_MAX];

	/*
	 * A stable id the service gives the rule when it is created and
	 * keeps through inserts, deletes and restarts (stored with the
	 * rule): the rule's counters live at this slot, so they survive
	 * ruleset swaps.  1..FW_MAX_SLOTS; 0 means none given.
	 */
	uint32_t slot;

	/*
	 * Added by the iptables syntax piece (plugins/iptables/ipt.h).
	 * ports_either: -m multiport --ports, the rule matches when the
	 * source OR the destination port is in dport's list (sport unset);
	 * the engine must implement or refuse it.  spell_*: how the rule was
	 * written, so -S and iptables-save print it back as iptables does
	 * (the modules in the order given, enum ipt_mod, 0 ends; which
	 * module wrote an ambiguous field, enum ipt_spell).  The engine
	 * ignores spell_*.
	 */
	bool ports_either;
	uint8_t spell_flags;
	uint8_t spell_order[14];
};

/* Counter slots per cube: every rule of every chain, plus policies. */
#define FW_MAX_SLOTS (4 * FW_MAX_RULES + FW_MAX_CHAINS)

static inline void
fw_rule_init(struct fw_rule *r)
{
	memset(r, 0, sizeof(*r)); /* padding too: rules compare with memcmp */
	r->icmp.code = -1;
	r->log_level = 4;
	r->limit.burst = 5;
}

#endif /* CUBICLE_FW_RULE_H */
