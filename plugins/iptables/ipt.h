/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ipt.h: iptables syntax for Cubicle's iptables service (issue 10, piece
 * "iptsyntax"; docs/firewall-contract.md section 4).  A pure library: no
 * BPF, no broker.  argv in iptables syntax becomes a command and struct
 * fw_rule values (ipt_parse.c); an in-memory filter table applies the
 * commands (ipt_table.c); -S, -L and iptables-save print as Linux
 * iptables 1.8.9 (legacy) does (ipt_print.c); iptables-save text is read
 * back (ipt_save.c).
 */
#ifndef CUBICLE_IPT_H
#define CUBICLE_IPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../fwcore/fw_rule.h"

#define IPT_MAX_EXPAND 256 /* rules one command makes from -s/-d lists */
#define IPT_MAX_ARGS   512 /* words in one command line */

/* Modules as they appear in fw_rule.spell_order (1-based; 0 ends). */
enum ipt_mod {
	IPT_M_NONE = 0,
	IPT_M_TCP,
	IPT_M_UDP,
	IPT_M_ICMP,
	IPT_M_MULTIPORT,
	IPT_M_CONNTRACK,
	IPT_M_STATE,
	IPT_M_COMMENT,
	IPT_M_IPRANGE,
	IPT_M_ADDRTYPE,
	IPT_M_SET,
	IPT_M_LIMIT,
	IPT_M_HASHLIMIT,
	IPT_M_COUNT
};

/* fw_rule.spell_flags: which module wrote an ambiguous field. */
enum ipt_spell {
	IPT_SP_MPORT_S = 1u << 0, /* sport from -m multiport --sports */
	IPT_SP_MPORT_D = 1u << 1, /* dport from --dports (or --ports) */
	IPT_SP_RANGE_S = 1u << 2, /* src from -m iprange --src-range */
	IPT_SP_RANGE_D = 1u << 3, /* dst from --dst-range */
};

enum ipt_op {
	IPT_OP_NONE = 0,
	IPT_OP_APPEND,   /* -A */
	IPT_OP_INSERT,   /* -I chain [n] */
	IPT_OP_DELETE,   /* -D chain rule-spec */
	IPT_OP_DELNUM,   /* -D chain n */
	IPT_OP_REPLACE,  /* -R chain n */
	IPT_OP_FLUSH,    /* -F [chain] */
	IPT_OP_ZERO,     /* -Z [chain [n]] */
	IPT_OP_POLICY,   /* -P chain target */
	IPT_OP_NEWCHAIN, /* -N chain */
	IPT_OP_DELCHAIN, /* -X [chain] */
	IPT_OP_RENAME,   /* -E old new */
	IPT_OP_CHECK,    /* -C chain rule-spec */
	IPT_OP_LISTRULES,/* -S [chain [n]] */
	IPT_OP_LIST,     /* -L [chain [n]] */
};

/* Output formats of -L (and -v for -S). */
enum ipt_fmt {
	IPT_FMT_NUMERIC = 1u << 0, /* -n */
	IPT_FMT_VERBOSE = 1u << 1, /* -v */
	IPT_FMT_EXACT   = 1u << 2, /* -x */
	IPT_FMT_LINENUM = 1u << 3, /* --line-numbers */
};

struct ipt_cmd {
	enum ipt_op op;
	char chain[FW_CHAIN_NAME_MAX + 1];   /* "": all chains */
	char newname[FW_CHAIN_NAME_MAX + 1]; /* -E */
	enum fw_target policy;               /* -P */
	uint32_t num;                        /* -I/-D/-R/-Z/-S/-L n; 0: none */
	unsigned fmt;                        /* enum ipt_fmt */
	int wait;                            /* -w [secs]: -1 not given */
	bool counters;                       /* -c PKTS BYTES given */
	uint64_t pkts, bytes;
	struct fw_rule *rules;               /* -A/-I/-D/-R/-C; malloc'd */
	uint32_t nrules;
};

/* ipt_parse.c */
/* Parse one command line (argv without the program name).  0, or
 * -EINVAL with err naming what was wrong (nothing allocated then). */
int ipt_parse(int argc, char **argv, struct ipt_cmd *cmd, char *err,
	      size_t errlen);
void ipt_cmd_free(struct ipt_cmd *cmd);
/* Split a line as iptables-restore does: words on blanks, "..." quotes
 * with \ escaping the next character inside them.  *argv is one
 * allocation (free(*argv)); 0 or -EINVAL/-ENOMEM with err. */
int ipt_split(const char *line, int *argc, char ***argv, char *err,
	      size_t errlen);

/* ipt_table.c: the filter table in memory. */
struct ipt_rule {
	struct fw_rule r;
	uint64_t pkts, bytes;
};
struct ipt_chain {
	char name[FW_CHAIN_NAME_MAX + 1];
	bool builtin;
	enum fw_target policy; /* builtins: FW_T_ACCEPT or FW_T_DROP */
	uint64_t pkts, bytes;  /* the policy's counters */
	struct ipt_rule *rules;
	uint32_t n, cap;
};
struct ipt_table {
	/* INPUT, FORWARD, OUTPUT first, then user chains sorted by name
	 * (the order iptables-legacy lists them in). */
	struct ipt_chain *chains;
	uint32_t n;
};
int ipt_table_init(struct ipt_table *t);
void ipt_table_free(struct ipt_table *t);
int ipt_table_copy(struct ipt_table *dst, const struct ipt_table *src);
struct ipt_chain *ipt_table_chain(const struct ipt_table *t,
				  const char *name);
uint32_t ipt_table_refs(const struct ipt_table *t, const char *name);
/* Apply a parsed command; -S/-L print to out.  On error nothing
 * changed and err says why: -ENOENT (chain, rule), -EEXIST, -EINVAL,
 * -EBUSY (chain in use), -ENOSPC (FW_MAX_RULES, FW_MAX_CHAINS). */
int ipt_table_exec(struct ipt_table *t, const struct ipt_cmd *c, FILE *out,
		   char *err, size_t errlen);

/* ipt_print.c */
enum ipt_cnt_style {
	IPT_CNT_NONE = 0,
	IPT_CNT_SAVE, /* "[p:b] -A ..." (iptables-save -c) */
	IPT_CNT_S,    /* "... -c p b -j X" (iptables -S -v) */
};
void ipt_print_rule(FILE *f, const char *chain, const struct fw_rule *r,
		    enum ipt_cnt_style style, uint64_t pkts, uint64_t bytes);
int ipt_print_S(FILE *f, const struct ipt_table *t, const char *chain,
		uint32_t num, unsigned fmt, char *err, size_t errlen);
int ipt_print_L(FILE *f, const struct ipt_table *t, const char *chain,
		uint32_t num, unsigned fmt, char *err, size_t errlen);
/* The -L row's match column of one rule (for tests and shows). */
void ipt_print_matches_L(FILE *f, const struct fw_rule *r, bool numeric);

/* ipt_save.c */
void ipt_save(FILE *f, const struct ipt_table *t, bool counters);
/* Read iptables-save text into t (replacing the filter table, or on top
 * of it with noflush).  Other tables: empty ones skipped with a warning
 * on warn, non-empty ones refused.  All or nothing: on error t is
 * unchanged and err names the line and reason. */
int ipt_restore(struct ipt_table *t, const char *text, bool noflush,
		FILE *warn, char *err, size_t errlen);

#endif /* CUBICLE_IPT_H */
