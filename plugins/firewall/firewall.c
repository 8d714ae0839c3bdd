// SPDX-License-Identifier: BSD-2-Clause
/*
 * firewall, control plane: Polycube's transparent firewall (reference
 * section 1.2) on the fwcore engine (docs/firewall-contract.md section 4).
 *
 * The document holds the cube-level switches (conntrack,
 * accept-established) and the chains (`chain add INGRESS default=DROP`);
 * the rules are Polycube's: positions, managed by the chain's actions
 * append, insert, delete, batch (ids are positions, contiguous, shifted
 * by an insert or a delete), shown as the read-only lists `rule` and
 * `stats`.  A plugin cannot write its own document, so the rules live
 * with the worker and in the cube's map fwf_rules (two copies and a
 * head, firewall_shared.h), written after each change: a restarted
 * worker (kill -9) reads them back at its replay, counter slots and all.
 *
 * Every change compiles both chains (fw_compile()) and flips the swap
 * set fw (fw_image_apply()): all or nothing, no program reload; the
 * active copy keeps classifying meanwhile and across a worker restart.
 * Counter slots: each rule gets one when it is created (the lowest slot
 * no rule of the active ruleset holds, so a new rule never inherits the
 * counts of a deleted one) and keeps it through inserts, deletes and
 * restarts; the defaults have slots 1 (INGRESS) and 2 (EGRESS).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "firewall.skel.h"
#include "firewall_shared.h"
#include "fw_apply.h"
#include "fw_compile.h"
#include "fw_ct.h"

/* Rows of the session table a show gives at most (a reply's byte cap). */
#define FWF_SHOW_SESSIONS 1024u

static const char *const fwf_onoff[] = {"ON", "OFF", NULL};
static const char *const fwf_chain_names[] = {"INGRESS", "EGRESS", NULL};
static const char *const fwf_policies[] = {"ACCEPT", "DROP", NULL};
static const char *const fwf_actions[] = {"DROP", "LOG", "ACCEPT", NULL};
static const char *const fwf_ct_names[] = {
    "NEW", "ESTABLISHED", "RELATED", "INVALID", NULL};
static const char *const fwf_ops[] = {
    "insert", "append", "update", "delete", NULL};

enum { FWF_OP_INSERT, FWF_OP_APPEND, FWF_OP_UPDATE, FWF_OP_DELETE };

/* The match fields of a rule, as action arguments (no defaults: a field
 * left out is no match; action DROP when not given, as Polycube's). */
#define FWF_MATCH_FIELDS                                                       \
	{.name = "src",                                                        \
	    .type = CUB_T_STR,                                                 \
	    .max = 18,                                                         \
	    .help = "source address or prefix (198.18.0.1, 198.18.0.0/15)"},   \
	    {.name = "dst",                                                    \
		.type = CUB_T_STR,                                             \
		.max = 18,                                                     \
		.help = "destination address or prefix"},                      \
	    {.name = "l4proto",                                                \
		.type = CUB_T_STR,                                             \
		.max = 8,                                                      \
		.help = "TCP, UDP, ICMP (any case) or a protocol number"},     \
	    {.name = "sport",                                                  \
		.type = CUB_T_U16,                                             \
		.help = "source port (l4proto TCP or UDP)"},                   \
	    {.name = "dport",                                                  \
		.type = CUB_T_U16,                                             \
		.help = "destination port (l4proto TCP or UDP)"},              \
	    {.name = "tcpflags",                                               \
		.type = CUB_T_STR,                                             \
		.max = 64,                                                     \
		.help = "flags set or (!) clear: !FIN,SYN,!RST,!ACK "          \
			"(l4proto TCP)"},                                      \
	    {.name = "conntrack",                                              \
		.type = CUB_T_ENUM,                                            \
		.enums = fwf_ct_names,                                         \
		.help = "connection state (needs conntrack=ON)"},              \
	    {.name = "action",                                                 \
		.type = CUB_T_ENUM,                                            \
		.enums = fwf_actions,                                          \
		.help = "DROP (the default) or ACCEPT; LOG is refused"},       \
	{                                                                      \
		.name = "description", .type = CUB_T_STR,                      \
		.max = FWF_DESC_MAX - 1, .help = "free text"                   \
	}

static const struct cub_field fwf_append_args[] = {FWF_MATCH_FIELDS, {0}};

static const struct cub_field fwf_insert_args[] = {
    {.name = "id",
	.type = CUB_T_U32,
	.dflt = "0",
	.help = "position: 0 (first, the default) to the number of rules"},
    FWF_MATCH_FIELDS,
    {0},
};

static const struct cub_field fwf_delete_args[] = {
    {.name = "id",
	.type = CUB_T_U32,
	.help = "the rule at this position; without it, the first rule "
		"whose fields are those given"},
    FWF_MATCH_FIELDS,
    {0},
};

static const struct cub_field fwf_batch_args[] = {
    {.name = "rules",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.max = CUB_STR_MAX,
	.help =
	    "a JSON array of operations, applied in order, all or "
	    "nothing: [{\"operation\": \"append\", \"l4proto\": \"ICMP\", "
	    "\"action\": \"ACCEPT\"}, {\"operation\": \"insert\", \"id\": 0, "
	    "...}]; operation insert, append, update or delete, id, the "
	    "rule's fields"},
    {0},
};

static const struct cub_action fwf_chain_actions[] = {
    {.name = "append",
	.help = "add a rule last: append l4proto=TCP dport=22 action=ACCEPT",
	.args = fwf_append_args},
    {.name = "insert",
	.help = "add a rule at id (default 0); later rules' ids grow by one",
	.args = fwf_insert_args},
    {.name = "delete",
	.help = "remove the rule at id, or the first with the fields given",
	.args = fwf_delete_args},
    {.name = "batch",
	.help = "apply a list of operations at once (--file rules.json)",
	.args = fwf_batch_args},
    {.name = "reset-counters", .help = "zero the chain's counters"},
    {0},
};

static const struct cub_field fwf_rule_fields[] = {
    {.name = "id",
	.type = CUB_T_U32,
	.flags = CUB_F_KEY,
	.help = "position in the chain, from 0"},
    FWF_MATCH_FIELDS,
    {0},
};

static const struct cub_field fwf_stats_fields[] = {
    {.name = "id",
	.type = CUB_T_U32,
	.flags = CUB_F_KEY,
	.help = "the rule's id; the last is the default action"},
    {.name = "pkts", .type = CUB_T_U64, .help = "packets it matched"},
    {.name = "bytes", .type = CUB_T_U64, .help = "bytes (frames) it matched"},
    {.name = "description", .type = CUB_T_STR, .help = "the rule's"},
    {0},
};

static const struct cub_field fwf_chain_fields[] = {
    {.name = "name",
	.type = CUB_T_ENUM,
	.flags = CUB_F_KEY,
	.enums = fwf_chain_names,
	.help = "INGRESS (coming in: from the wire towards the stack or the "
		"cube) or EGRESS (going out; TC only)"},
    {.name = "default",
	.type = CUB_T_ENUM,
	.enums = fwf_policies,
	.dflt = "ACCEPT",
	.help = "what happens to a packet no rule decides"},
    {.name = "rule",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.children = fwf_rule_fields,
	.help = "the rules, in order (append, insert, delete, batch)"},
    {.name = "stats",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.children = fwf_stats_fields,
	.help = "per rule packets and bytes, and the default action's"},
    {0},
};

static const struct cub_field fwf_schema[] = {
    {.name = "conntrack",
	.type = CUB_T_ENUM,
	.enums = fwf_onoff,
	.dflt = "OFF",
	.help = "track connections (needed by conntrack= rules)"},
    {.name = "accept-established",
	.type = CUB_T_ENUM,
	.enums = fwf_onoff,
	.dflt = "ON",
	.help = "with conntrack ON: accept ESTABLISHED packets before the "
		"rules"},
    {.name = "chain",
	.type = CUB_T_LIST,
	.children = fwf_chain_fields,
	.actions = fwf_chain_actions,
	.help = "INGRESS and EGRESS (chain add INGRESS default=DROP)"},
    {.name = "session-table",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.children = fw_ct_session_fields,
	.help = "the conntrack table's live entries (the first 1024)"},
    {0},
};

struct fwf_cube {
	cub_map conf, store, head, ct;
	bool loaded;
	struct fwf_conf c;
	bool present[FWF_CHAINS];
	uint8_t policy[FWF_CHAINS]; /* FW_T_ACCEPT or FW_T_DROP */
	struct fwf_rec *rules[FWF_CHAINS];
	uint32_t n[FWF_CHAINS];
	uint32_t copy; /* the store's whole copy */
};

/* A working ruleset: what an operation builds before it is applied. */
struct fwf_set {
	struct fwf_rec *rules[FWF_CHAINS];
	uint32_t n[FWF_CHAINS];
	uint8_t *used; /* slots held by the active ruleset or taken here */
};

static int fwf_err(struct cub_cube *cube, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fwf_err(struct cub_cube *cube, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cub_cube__set_error(
	    cube, code, "cube '%s': %s", cub_cube__name(cube), msg);
}

/* ---- rules: parsing and printing -------------------------------------- */

static const struct {
	const char *name;
	uint8_t bit;
} fwf_flag_names[] = {
    {"FIN", FW_TCP_FIN},
    {"SYN", FW_TCP_SYN},
    {"RST", FW_TCP_RST},
    {"PSH", FW_TCP_PSH},
    {"ACK", FW_TCP_ACK},
    {"URG", FW_TCP_URG},
    {"ECE", FW_TCP_ECE},
    {"CWR", FW_TCP_CWR},
};

#define FWF_NFLAGS (sizeof(fwf_flag_names) / sizeof(fwf_flag_names[0]))

/* "198.18.0.1" or "198.18.0.0/15" into addr/len (host bits cleared). */
static int
parse_pfx(const char *s, uint32_t *addr, uint8_t *len)
{
	char buf[32], *slash, *end;
	struct in_addr in;
	unsigned long l = 32;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash++ = '\0';
		if (!isdigit((unsigned char)*slash))
			return -EINVAL;
		errno = 0;
		l = strtoul(slash, &end, 10);
		if (errno || *end || l > 32)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, &in) != 1)
		return -EINVAL;
	*addr = ntohl(in.s_addr);
	if (l < 32)
		*addr &= l ? ~0u << (32 - l) : 0;
	*len = (uint8_t)l;
	return 0;
}

static int
parse_proto(const char *s, uint8_t *proto)
{
	char *end;
	unsigned long v;

	if (!strcasecmp(s, "TCP"))
		*proto = IPPROTO_TCP;
	else if (!strcasecmp(s, "UDP"))
		*proto = IPPROTO_UDP;
	else if (!strcasecmp(s, "ICMP"))
		*proto = IPPROTO_ICMP;
	else {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || *end || v > 255)
			return -EINVAL;
		*proto = (uint8_t)v;
	}
	return 0;
}

/* "!FIN,SYN,!RST,!ACK" (commas or spaces) into mask and cmp; on error
 * *bad holds the word that is wrong. */
static int
parse_flags(const char *s, uint8_t *mask, uint8_t *cmp, char *bad, size_t blen)
{
	char buf[80], *tok, *save = NULL;
	bool neg;
	size_t i;

	*mask = *cmp = 0;
	snprintf(bad, blen, "%s", s);
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		neg = tok[0] == '!';
		for (i = 0; i < FWF_NFLAGS; i++)
			if (!strcasecmp(tok + neg, fwf_flag_names[i].name))
				break;
		if (i == FWF_NFLAGS || (*mask & fwf_flag_names[i].bit)) {
			snprintf(bad, blen, "%s", tok);
			return -EINVAL;
		}
		*mask |= fwf_flag_names[i].bit;
		if (!neg)
			*cmp |= fwf_flag_names[i].bit;
	}
	return *mask ? 0 : -EINVAL;
}

static int
enum_of(const char *s, const char *const names[])
{
	int i;

	for (i = 0; s && names[i]; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	return -1;
}

/*
 * The fields of m (an action's arguments, a batch entry) into rec (slot
 * 0).  *given says whether any match field was there.  what names the
 * operation in errors ("chain INGRESS append").
 */
static int
parse_rule(struct cub_cube *cube, const struct cub_val *m, const char *what,
    struct fwf_rec *rec, bool *given)
{
	const char *s;
	char bad[80];
	uint64_t v;
	int i;

	static const char *const strs[] = {"src", "dst", "l4proto", "tcpflags",
	    "conntrack", "action", "description", NULL};

	memset(rec, 0, sizeof(*rec));
	rec->action = FW_T_DROP;
	*given = false;
	for (i = 0; strs[i]; i++)
		if (cub_val__get(m, strs[i]) && !cub_val__get_str(m, strs[i]))
			return fwf_err(cube, CUB_E_TYPE,
			    "%s: %s must be a string", what, strs[i]);
	if ((s = cub_val__get_str(m, "src"))) {
		if (parse_pfx(s, &rec->src, &rec->src_len))
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: src '%s' is not an IPv4 address or prefix "
			    "(a.b.c.d or a.b.c.d/0..32)",
			    what, s);
		rec->has |= FWF_HAS_SRC;
		*given = true;
	}
	if ((s = cub_val__get_str(m, "dst"))) {
		if (parse_pfx(s, &rec->dst, &rec->dst_len))
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: dst '%s' is not an IPv4 address or prefix "
			    "(a.b.c.d or a.b.c.d/0..32)",
			    what, s);
		rec->has |= FWF_HAS_DST;
		*given = true;
	}
	if ((s = cub_val__get_str(m, "l4proto"))) {
		if (parse_proto(s, &rec->proto))
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: l4proto '%s' is not TCP, UDP, ICMP or a "
			    "protocol number 0..255",
			    what, s);
		rec->has |= FWF_HAS_PROTO;
		*given = true;
	}
	if (cub_val__get(m, "sport")) {
		if (cub_val__as_u64(cub_val__get(m, "sport"), &v) || v > 65535)
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: sport is not a port 0..65535", what);
		rec->sport = (uint16_t)v;
		rec->has |= FWF_HAS_SPORT;
		*given = true;
	}
	if (cub_val__get(m, "dport")) {
		if (cub_val__as_u64(cub_val__get(m, "dport"), &v) || v > 65535)
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: dport is not a port 0..65535", what);
		rec->dport = (uint16_t)v;
		rec->has |= FWF_HAS_DPORT;
		*given = true;
	}
	if ((rec->has & (FWF_HAS_SPORT | FWF_HAS_DPORT)) &&
	    (!(rec->has & FWF_HAS_PROTO) ||
		(rec->proto != IPPROTO_TCP && rec->proto != IPPROTO_UDP)))
		return fwf_err(cube, CUB_E_INVAL,
		    "%s: sport and dport need l4proto=TCP or UDP", what);
	if ((s = cub_val__get_str(m, "tcpflags"))) {
		if (parse_flags(
			s, &rec->flags_mask, &rec->flags_cmp, bad, sizeof(bad)))
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: tcpflags '%s': '%s' is not a flag (FIN, SYN, "
			    "RST, PSH, ACK, URG, ECE, CWR, each once, ! for "
			    "clear)",
			    what, s, bad);
		if (!(rec->has & FWF_HAS_PROTO) || rec->proto != IPPROTO_TCP)
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: tcpflags needs l4proto=TCP", what);
		rec->has |= FWF_HAS_FLAGS;
		*given = true;
	}
	if ((s = cub_val__get_str(m, "conntrack"))) {
		if ((i = enum_of(s, fwf_ct_names)) < 0)
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: conntrack '%s' is not NEW, ESTABLISHED, "
			    "RELATED or INVALID",
			    what, s);
		rec->ct = (uint8_t)(1u << i); /* enum fw_ct_bit's order */
		rec->has |= FWF_HAS_CT;
		*given = true;
	}
	if ((s = cub_val__get_str(m, "action"))) {
		i = enum_of(s, fwf_actions);
		if (i == 1)
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: action LOG is not supported (as in "
			    "Polycube's firewall): use DROP or ACCEPT",
			    what);
		if (i < 0)
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: action '%s' is not DROP or ACCEPT", what, s);
		rec->action = i == 2 ? FW_T_ACCEPT : FW_T_DROP;
		*given = true;
	}
	if ((s = cub_val__get_str(m, "description"))) {
		if (strlen(s) >= FWF_DESC_MAX)
			return fwf_err(cube, CUB_E_INVAL,
			    "%s: description longer than %d bytes", what,
			    FWF_DESC_MAX - 1);
		strcpy(rec->desc, s);
	}
	return 0;
}

/* Same matches and action (and description, if b has one). */
static bool
rule_same(const struct fwf_rec *a, const struct fwf_rec *b)
{
	return a->has == b->has && a->action == b->action &&
	       (!(a->has & FWF_HAS_SRC) ||
		   (a->src == b->src && a->src_len == b->src_len)) &&
	       (!(a->has & FWF_HAS_DST) ||
		   (a->dst == b->dst && a->dst_len == b->dst_len)) &&
	       (!(a->has & FWF_HAS_PROTO) || a->proto == b->proto) &&
	       (!(a->has & FWF_HAS_SPORT) || a->sport == b->sport) &&
	       (!(a->has & FWF_HAS_DPORT) || a->dport == b->dport) &&
	       (!(a->has & FWF_HAS_FLAGS) ||
		   (a->flags_mask == b->flags_mask &&
		       a->flags_cmp == b->flags_cmp)) &&
	       (!(a->has & FWF_HAS_CT) || a->ct == b->ct) &&
	       (!b->desc[0] || !strcmp(a->desc, b->desc));
}

static void
rec_to_rule(const struct fwf_rec *rec, struct fw_rule *r)
{
	fw_rule_init(r);
	if (rec->has & FWF_HAS_SRC) {
		r->src.set = true;
		r->src.n = 1;
		r->src.p[0].addr = rec->src;
		r->src.p[0].len = rec->src_len;
	}
	if (rec->has & FWF_HAS_DST) {
		r->dst.set = true;
		r->dst.n = 1;
		r->dst.p[0].addr = rec->dst;
		r->dst.p[0].len = rec->dst_len;
	}
	if (rec->has & FWF_HAS_PROTO) {
		r->proto.set = true;
		r->proto.proto = rec->proto;
	}
	if (rec->has & FWF_HAS_SPORT) {
		r->sport.set = true;
		r->sport.n = 1;
		r->sport.r[0].lo = r->sport.r[0].hi = rec->sport;
	}
	if (rec->has & FWF_HAS_DPORT) {
		r->dport.set = true;
		r->dport.n = 1;
		r->dport.r[0].lo = r->dport.r[0].hi = rec->dport;
	}
	if (rec->has & FWF_HAS_FLAGS) {
		r->tcpflags.set = true;
		r->tcpflags.mask = rec->flags_mask;
		r->tcpflags.cmp = rec->flags_cmp;
	}
	if (rec->has & FWF_HAS_CT) {
		r->ctstate.set = true;
		r->ctstate.mask = rec->ct;
	}
	r->target = rec->action;
	r->slot = rec->slot;
}

static struct cub_val *
pfx_val(uint32_t addr, uint8_t len)
{
	char a[INET_ADDRSTRLEN];
	struct in_addr in = {.s_addr = htonl(addr)};

	inet_ntop(AF_INET, &in, a, sizeof(a));
	return cub_val__strf("%s/%u", a, len);
}

static struct cub_val *
rule_row(uint32_t id, const struct fwf_rec *rec)
{
	struct cub_val *e = cub_val__map();
	char flags[64] = "";
	size_t i, len = 0;
	int r = 0;

	if (!e)
		return NULL;
	r |= cub_val__set(e, "id", cub_val__uint(id));
	if (rec->has & FWF_HAS_SRC)
		r |= cub_val__set(e, "src", pfx_val(rec->src, rec->src_len));
	if (rec->has & FWF_HAS_DST)
		r |= cub_val__set(e, "dst", pfx_val(rec->dst, rec->dst_len));
	if (rec->has & FWF_HAS_PROTO)
		r |= cub_val__set(e, "l4proto",
		    rec->proto == IPPROTO_TCP   ? cub_val__str("TCP")
		    : rec->proto == IPPROTO_UDP ? cub_val__str("UDP")
		    : rec->proto == IPPROTO_ICMP
			? cub_val__str("ICMP")
			: cub_val__strf("%u", rec->proto));
	if (rec->has & FWF_HAS_SPORT)
		r |= cub_val__set(e, "sport", cub_val__uint(rec->sport));
	if (rec->has & FWF_HAS_DPORT)
		r |= cub_val__set(e, "dport", cub_val__uint(rec->dport));
	if (rec->has & FWF_HAS_FLAGS) {
		for (i = 0; i < FWF_NFLAGS; i++) {
			if (!(rec->flags_mask & fwf_flag_names[i].bit))
				continue;
			len += (size_t)snprintf(flags + len,
			    sizeof(flags) - len, "%s%s%s", len ? "," : "",
			    rec->flags_cmp & fwf_flag_names[i].bit ? "" : "!",
			    fwf_flag_names[i].name);
		}
		r |= cub_val__set(e, "tcpflags", cub_val__str(flags));
	}
	if (rec->has & FWF_HAS_CT)
		for (i = 0; i < 4; i++)
			if (rec->ct == 1u << i)
				r |= cub_val__set(e, "conntrack",
				    cub_val__str(fwf_ct_names[i]));
	r |= cub_val__set(e, "action",
	    cub_val__str(rec->action == FW_T_ACCEPT ? "ACCEPT" : "DROP"));
	if (rec->desc[0])
		r |= cub_val__set(e, "description", cub_val__str(rec->desc));
	return r ? cub_val__free(e) : e;
}

/* ---- applying a ruleset ------------------------------------------------ */

static void
set_free(struct fwf_set *w)
{
	int k;

	for (k = 0; k < FWF_CHAINS; k++)
		free(w->rules[k]);
	free(w->used);
	memset(w, 0, sizeof(*w));
}

/* A working copy of the cube's ruleset. */
static int
set_init(struct cub_cube *cube, const struct fwf_cube *fc, struct fwf_set *w)
{
	uint32_t i;
	int k;

	memset(w, 0, sizeof(*w));
	w->used = calloc(FWF_SLOT_LAST + 1, 1);
	for (k = 0; k < FWF_CHAINS; k++) {
		w->rules[k] = calloc(FWF_MAX_RULES, sizeof(struct fwf_rec));
		if (!w->rules[k])
			break;
		if (fc->n[k])
			memcpy(w->rules[k], fc->rules[k],
			    fc->n[k] * sizeof(struct fwf_rec));
		w->n[k] = fc->n[k];
		for (i = 0; i < fc->n[k]; i++)
			if (fc->rules[k][i].slot <= FWF_SLOT_LAST)
				w->used[fc->rules[k][i].slot] = 1;
	}
	if (k < FWF_CHAINS || !w->used) {
		set_free(w);
		return fwf_err(cube, CUB_E_INTERNAL, "out of memory");
	}
	return 0;
}

/* A slot no rule of the active ruleset nor of this operation holds. */
static int
set_slot(struct cub_cube *cube, struct fwf_set *w, uint32_t *slot)
{
	uint32_t s;

	for (s = FWF_SLOT_FIRST; s <= FWF_SLOT_LAST; s++)
		if (!w->used[s]) {
			w->used[s] = 1;
			*slot = s;
			return 0;
		}
	return fwf_err(cube, CUB_E_LIMIT,
	    "no counter slot left (%u in use, deleted rules' slots free at "
	    "the next change)",
	    FWF_SLOT_LAST - FWF_SLOT_FIRST + 1);
}

static const char *
chain_name(int k)
{
	return fwf_chain_names[k];
}

/* Add rec at position id of chain k (a slot for it), all checked. */
static int
set_insert(struct cub_cube *cube, struct fwf_set *w, int k, uint32_t id,
    struct fwf_rec *rec, const char *what)
{
	struct fwf_rec *v = w->rules[k];
	int r;

	if (id > w->n[k])
		return fwf_err(cube, CUB_E_INVAL,
		    "%s: id %u is past the end (chain %s has %u rules: ids 0 "
		    "to %u)",
		    what, id, chain_name(k), w->n[k], w->n[k]);
	if (w->n[k] >= FWF_MAX_RULES)
		return fwf_err(cube, CUB_E_LIMIT,
		    "%s: chain %s already has %u rules (at most %u)", what,
		    chain_name(k), w->n[k], FWF_MAX_RULES);
	if ((r = set_slot(cube, w, &rec->slot)))
		return r;
	memmove(&v[id + 1], &v[id], (w->n[k] - id) * sizeof(*v));
	v[id] = *rec;
	w->n[k]++;
	return 0;
}

static int
set_delete(struct cub_cube *cube, struct fwf_set *w, int k, uint32_t id,
    const char *what)
{
	struct fwf_rec *v = w->rules[k];

	if (id >= w->n[k])
		return fwf_err(cube, CUB_E_NOTFOUND,
		    "%s: no rule %u (chain %s has %u rules%s)", what, id,
		    chain_name(k), w->n[k], w->n[k] ? ", ids from 0" : "");
	memmove(&v[id], &v[id + 1], (w->n[k] - id - 1) * sizeof(*v));
	w->n[k]--;
	return 0;
}

static int
set_find(struct cub_cube *cube, const struct fwf_set *w, int k,
    const struct fwf_rec *rec, uint32_t *id, const char *what)
{
	uint32_t i;

	for (i = 0; i < w->n[k]; i++)
		if (rule_same(&w->rules[k][i], rec)) {
			*id = i;
			return 0;
		}
	return fwf_err(cube, CUB_E_NOTFOUND,
	    "%s: no rule of chain %s has those fields", what, chain_name(k));
}

/* Write rules and head into the store's other copy, then flip its head. */
static int
store_write(struct cub_cube *cube, struct fwf_cube *fc, struct fwf_rec **rules,
    const uint32_t *n)
{
	struct fwf_head head = {.magic = FWF_HEAD_MAGIC};
	uint32_t copy = fc->copy ^ 1, *keys, cnt, i, zero = 0;
	int k, r = 0;

	keys = malloc(FWF_MAX_RULES * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (k = 0; k < FWF_CHAINS && !r; k++) {
		for (i = 0; i < n[k]; i++)
			keys[i] = copy * FWF_CHAINS * FWF_MAX_RULES +
				  (uint32_t)k * FWF_MAX_RULES + i;
		cnt = n[k];
		if (cnt)
			r = cub_map__update_batch(
			    cube, &fc->store, keys, rules[k], &cnt, NULL);
		head.n[k] = n[k];
	}
	free(keys);
	if (r)
		return r;
	head.copy = copy;
	if ((r = cub_map__update(cube, &fc->head, &zero, &head, 0)))
		return r;
	fc->copy = copy;
	return 0;
}

/*
 * Compile w with the cube's policies and switches, apply it (the swap
 * set's flip), keep it.  On error nothing changed.
 */
static int
set_commit(struct cub_cube *cube, struct fwf_cube *fc, struct fwf_set *w,
    const uint8_t *policy)
{
	struct fw_chain chains[FWF_CHAINS];
	struct fw_rule *rules[FWF_CHAINS] = {0};
	struct fw_image *img = NULL;
	char err[256];
	uint32_t i;
	int k, r;

	for (k = 0; k < FWF_CHAINS; k++) {
		rules[k] =
		    calloc(w->n[k] ? w->n[k] : 1, sizeof(struct fw_rule));
		if (!rules[k]) {
			r = fwf_err(cube, CUB_E_INTERNAL, "out of memory");
			goto out;
		}
		for (i = 0; i < w->n[k]; i++)
			rec_to_rule(&w->rules[k][i], &rules[k][i]);
		memset(&chains[k], 0, sizeof(chains[k]));
		snprintf(chains[k].name, sizeof(chains[k].name), "%s",
		    chain_name(k));
		chains[k].builtin = true;
		chains[k].policy = policy[k];
		chains[k].policy_slot = FWF_SLOT_DEFAULT(k);
		chains[k].rules = rules[k];
		chains[k].nrules = w->n[k];
	}
	if ((r = fw_compile(
		 chains, FWF_CHAINS, NULL, &img, err, sizeof(err)))) {
		r = fwf_err(
		    cube, r == -E2BIG ? CUB_E_LIMIT : CUB_E_INVAL, "%s", err);
		goto out;
	}
	if ((r = fw_image_apply(cube, img, err, sizeof(err)))) {
		r = fwf_err(cube, CUB_E_KERNEL, "applying the rules: %s", err);
		goto out;
	}
	/* Applied: from here on the data plane runs w. */
	if ((k = store_write(cube, fc, w->rules, w->n)))
		cub_cube__log(cube, CUB_LOG_ERR,
		    "rules applied but not stored (%d): a worker restart "
		    "would bring back the previous ones",
		    k);
	for (k = 0; k < FWF_CHAINS; k++) {
		free(fc->rules[k]);
		fc->rules[k] = w->rules[k];
		fc->n[k] = w->n[k];
		w->rules[k] = NULL;
		fc->policy[k] = policy[k];
	}
out:
	for (k = 0; k < FWF_CHAINS; k++)
		free(rules[k]);
	fw_image_free(img);
	return r;
}

/* ---- load, replay, apply ----------------------------------------------- */

struct fwf_load {
	struct fwf_cube *fc;
	struct fwf_head head;
};

static int
store_entry(const void *key, const void *value, void *ctx)
{
	struct fwf_load *l = ctx;
	uint32_t idx = *(const uint32_t *)key, copy, k, i;

	copy = idx / (FWF_CHAINS * FWF_MAX_RULES);
	k = idx / FWF_MAX_RULES % FWF_CHAINS;
	i = idx % FWF_MAX_RULES;
	if (copy == l->head.copy && i < l->head.n[k])
		memcpy(&l->fc->rules[k][i], value, sizeof(struct fwf_rec));
	return 0;
}

/* The rules a previous worker stored (none on a new cube). */
static int
store_read(struct cub_cube *cube, struct fwf_cube *fc)
{
	struct fwf_load l = {.fc = fc};
	uint32_t zero = 0;
	int k, r;

	if ((r = cub_map__lookup(cube, &fc->head, &zero, &l.head)))
		return r;
	if (l.head.magic != FWF_HEAD_MAGIC)
		return 0;
	for (k = 0; k < FWF_CHAINS; k++)
		if (l.head.n[k] > FWF_MAX_RULES || l.head.copy > 1)
			return fwf_err(cube, CUB_E_INTERNAL,
			    "the stored ruleset's head is corrupt");
	if ((r = cub_map__dump(cube, &fc->store, store_entry, &l)))
		return r;
	for (k = 0; k < FWF_CHAINS; k++)
		fc->n[k] = l.head.n[k];
	fc->copy = l.head.copy;
	cub_cube__log(cube, CUB_LOG_INFO,
	    "read back %u INGRESS and %u EGRESS rules", fc->n[0], fc->n[1]);
	return 0;
}

static int
fwf_load(struct cub_cube *cube, struct fwf_cube *fc)
{
	size_t len;
	const void *elf = firewall__elf_bytes(&len);
	int k, r;

	for (k = 0; k < FWF_CHAINS; k++) {
		free(fc->rules[k]);
		fc->rules[k] = calloc(FWF_MAX_RULES, sizeof(struct fwf_rec));
		fc->n[k] = 0;
		if (!fc->rules[k])
			return fwf_err(cube, CUB_E_INTERNAL, "out of memory");
	}
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "fwf_conf", &fc->conf) ||
	    cub_cube__map(cube, "fwf_rules", &fc->store) ||
	    cub_cube__map(cube, "fwf_head", &fc->head) ||
	    cub_cube__map(cube, "fw_ct", &fc->ct))
		return fwf_err(cube, CUB_E_INTERNAL,
		    "maps fwf_conf/fwf_rules/fwf_head/fw_ct missing");
	if ((r = store_read(cube, fc)))
		return r;
	fc->loaded = true;
	return 0;
}

static int
fwf_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct fwf_cube *fc = cub_cube__priv(cube);
	const struct cub_val *chains = cub_val__get(config, "chain");
	uint8_t policy[FWF_CHAINS] = {FW_T_ACCEPT, FW_T_ACCEPT};
	bool present[FWF_CHAINS] = {false, false};
	struct fwf_conf c;
	struct fwf_set w;
	uint32_t i, zero = 0;
	int k, r;

	if ((create || !fc->loaded) && (r = fwf_load(cube, fc)))
		return r;
	c.conntrack =
	    cub_config__enum_index(config, "conntrack", fwf_onoff, 1) == 0;
	c.accept_established = cub_config__enum_index(config,
				   "accept-established", fwf_onoff, 0) == 0;
	for (i = 0;
	     chains && chains->kind == CUB_V_ARRAY && i < chains->arr.len;
	     i++) {
		const struct cub_val *e = chains->arr.items[i];

		k = enum_of(cub_val__get_str(e, "name"), fwf_chain_names);
		if (k < 0)
			continue;
		present[k] = true;
		policy[k] =
		    cub_config__enum_index(e, "default", fwf_policies, 0) == 1
			? FW_T_DROP
			: FW_T_ACCEPT;
	}
	if ((r = set_init(cube, fc, &w)))
		return r;
	/* A chain gone from the document takes its rules with it. */
	for (k = 0; k < FWF_CHAINS; k++)
		if (!present[k])
			w.n[k] = 0;
	r = set_commit(cube, fc, &w, policy);
	set_free(&w);
	if (r)
		return r;
	memcpy(fc->present, present, sizeof(present));
	if ((r = cub_map__update(cube, &fc->conf, &zero, &c, 0)))
		return r;
	fc->c = c;
	cub_cube__log(cube, CUB_LOG_INFO,
	    "%s: conntrack %s, accept-established %s, INGRESS %s (%u rules), "
	    "EGRESS %s (%u rules)",
	    create ? "applied (new or replayed)" : "changed",
	    c.conntrack ? "ON" : "OFF", c.accept_established ? "ON" : "OFF",
	    policy[0] == FW_T_DROP ? "DROP" : "ACCEPT", fc->n[0],
	    policy[1] == FW_T_DROP ? "DROP" : "ACCEPT", fc->n[1]);
	return 0;
}

static void
fwf_destroy(struct cub_cube *cube)
{
	struct fwf_cube *fc = cub_cube__priv(cube);
	int k;

	for (k = 0; k < FWF_CHAINS; k++)
		fc->rules[k] = (free(fc->rules[k]), NULL);
}

/* ---- actions ----------------------------------------------------------- */

/* The chain an action's path names: ["chain", "INGRESS"]. */
static int
path_chain(const struct cub_val *path)
{
	uint32_t i;
	int k;

	for (i = 0; path && path->kind == CUB_V_ARRAY && i < path->arr.len; i++)
		if ((k = enum_of(cub_val__as_str(path->arr.items[i]),
			 fwf_chain_names)) >= 0)
			return k;
	return -1;
}

/* One operation (a node action, or a batch entry) on w. */
static int
do_op(struct cub_cube *cube, struct fwf_set *w, int k, int op,
    const struct cub_val *m, const char *what)
{
	const struct cub_val *idv = cub_val__get(m, "id");
	struct fwf_rec rec;
	uint64_t id = 0;
	bool given;
	int r;

	if (idv && (cub_val__as_u64(idv, &id) || id > UINT32_MAX))
		return fwf_err(cube, CUB_E_INVAL,
		    "%s: id must be a rule id (a number from 0)", what);
	if ((r = parse_rule(cube, m, what, &rec, &given)))
		return r;
	switch (op) {
	case FWF_OP_APPEND:
		return set_insert(cube, w, k, w->n[k], &rec, what);
	case FWF_OP_INSERT:
		return set_insert(cube, w, k, (uint32_t)id, &rec, what);
	case FWF_OP_UPDATE:
		if (!idv)
			return fwf_err(cube, CUB_E_MISSING,
			    "%s: update needs the rule's id", what);
		if (id >= w->n[k])
			return fwf_err(cube, CUB_E_NOTFOUND,
			    "%s: no rule %" PRIu64 " (chain %s has %u rules)",
			    what, id, chain_name(k), w->n[k]);
		rec.slot = w->rules[k][id].slot; /* its counters stay */
		w->rules[k][id] = rec;
		return 0;
	default: /* FWF_OP_DELETE */
		if (!idv) {
			uint32_t at = 0;

			if (!given)
				return fwf_err(cube, CUB_E_MISSING,
				    "%s: delete needs an id or the rule's "
				    "fields",
				    what);
			if ((r = set_find(cube, w, k, &rec, &at, what)))
				return r;
			id = at;
		}
		return set_delete(cube, w, k, (uint32_t)id, what);
	}
}

/* The keys a batch entry may have. */
static const char *const fwf_batch_keys[] = {"operation", "id", "src", "dst",
    "l4proto", "sport", "dport", "tcpflags", "conntrack", "action",
    "description", NULL};

static int
do_batch(
    struct cub_cube *cube, struct fwf_set *w, int k, const struct cub_val *args)
{
	const char *text = cub_val__get_str(args, "rules");
	const struct cub_val *e;
	struct cub_val *list;
	char what[96], perr[160];
	uint32_t i, j;
	int op, r = 0;

	list = text ? cub_json_parse(text, strlen(text), perr, sizeof(perr))
		    : NULL;
	if (!list)
		return fwf_err(cube, CUB_E_INVAL,
		    "chain %s batch: rules is not JSON: %s", chain_name(k),
		    text ? perr : "missing");
	if (list->kind != CUB_V_ARRAY || !list->arr.len) {
		cub_val__free(list);
		return fwf_err(cube, CUB_E_INVAL,
		    "chain %s batch: rules must be a non-empty JSON array of "
		    "{operation, id, fields}",
		    chain_name(k));
	}
	for (i = 0; i < list->arr.len && !r; i++) {
		e = list->arr.items[i];
		snprintf(what, sizeof(what), "chain %s batch rules[%u]",
		    chain_name(k), i);
		if (e->kind != CUB_V_MAP) {
			r = fwf_err(
			    cube, CUB_E_INVAL, "%s: not an object", what);
			break;
		}
		for (j = 0; j < e->map.len; j++)
			if (enum_of(e->map.items[j].key, fwf_batch_keys) < 0)
				break;
		if (j < e->map.len) {
			r = fwf_err(cube, CUB_E_INVAL,
			    "%s: unknown field '%s' (operation, id, src, dst, "
			    "l4proto, sport, dport, tcpflags, conntrack, "
			    "action, description)",
			    what, e->map.items[j].key);
			break;
		}
		op = enum_of(cub_val__get_str(e, "operation"), fwf_ops);
		if (op < 0) {
			r = fwf_err(cube, CUB_E_INVAL,
			    "%s: operation is not insert, append, update or "
			    "delete",
			    what);
			break;
		}
		snprintf(what, sizeof(what), "chain %s batch rules[%u] (%s)",
		    chain_name(k), i, fwf_ops[op]);
		r = do_op(cube, w, k, op, e, what);
	}
	cub_val__free(list);
	return r;
}

static int
fwf_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	struct fwf_cube *fc = cub_cube__priv(cube);
	int k = path_chain(path), r;
	uint32_t slots[FWF_MAX_RULES + 1], i;
	struct fwf_set w;
	char what[64];

	if (!fc->loaded)
		return fwf_err(cube, CUB_E_UNAVAIL, "not loaded yet");
	if (k < 0)
		return fwf_err(
		    cube, CUB_E_VERB, "action '%s' needs a chain", name);
	if (!strcmp(name, "reset-counters")) {
		for (i = 0; i < fc->n[k]; i++)
			slots[i] = fc->rules[k][i].slot;
		slots[i] = FWF_SLOT_DEFAULT(k);
		if ((r = fw_counters_zero(cube, slots, fc->n[k] + 1)))
			return r;
		*result = cub_val__strf("chain %s: %u counters zeroed",
		    chain_name(k), fc->n[k] + 1);
		return 0;
	}
	snprintf(what, sizeof(what), "chain %s %s", chain_name(k), name);
	if ((r = set_init(cube, fc, &w)))
		return r;
	if (!strcmp(name, "append"))
		r = do_op(cube, &w, k, FWF_OP_APPEND, args, what);
	else if (!strcmp(name, "insert"))
		r = do_op(cube, &w, k, FWF_OP_INSERT, args, what);
	else if (!strcmp(name, "delete"))
		r = do_op(cube, &w, k, FWF_OP_DELETE, args, what);
	else if (!strcmp(name, "batch"))
		r = do_batch(cube, &w, k, args);
	else
		r = fwf_err(cube, CUB_E_VERB, "no action '%s'", name);
	if (!r)
		r = set_commit(cube, fc, &w, fc->policy);
	set_free(&w);
	if (!r)
		*result = cub_val__strf(
		    "chain %s: %u rules", chain_name(k), fc->n[k]);
	return r;
}

/* ---- show -------------------------------------------------------------- */

static int
show_sessions(
    struct cub_cube *cube, struct fwf_cube *fc, struct cub_val *overlay)
{
	struct cub_val *list;
	uint32_t total;
	int r;

	if ((r = fw_ct_session_list(
		 cube, &fc->ct, FWF_SHOW_SESSIONS, &list, &total)))
		return r;
	return cub_val__set(overlay, "session-table", list) ? -ENOMEM : 0;
}

/* Chain k's entry of the overlay: its rules and stats. */
static struct cub_val *
show_chain(struct cub_cube *cube, struct fwf_cube *fc, int k, int *err)
{
	uint32_t n = fc->n[k], i, *slots;
	uint64_t *pkts, *bytes;
	struct cub_val *e = cub_val__map(), *rl = cub_val__array(),
		       *sl = cub_val__array(), *row;
	int r = -ENOMEM;

	slots = calloc(n + 1, sizeof(*slots));
	pkts = calloc(n + 1, sizeof(*pkts));
	bytes = calloc(n + 1, sizeof(*bytes));
	if (!e || !rl || !sl || !slots || !pkts || !bytes)
		goto fail;
	for (i = 0; i < n; i++)
		slots[i] = fc->rules[k][i].slot;
	slots[n] = FWF_SLOT_DEFAULT(k);
	if ((r = fw_counters_read(cube, slots, n + 1, pkts, bytes)))
		goto fail;
	r = -ENOMEM;
	for (i = 0; i <= n; i++) {
		if (i < n && (!(row = rule_row(i, &fc->rules[k][i])) ||
				 cub_val__push(rl, row)))
			goto fail;
		row = cub_val__map();
		if (!row || cub_val__set(row, "id", cub_val__uint(i)) ||
		    cub_val__set(row, "pkts", cub_val__uint(pkts[i])) ||
		    cub_val__set(row, "bytes", cub_val__uint(bytes[i])) ||
		    cub_val__set(row, "description",
			i < n ? cub_val__str(fc->rules[k][i].desc)
			      : cub_val__strf("default action (%s)",
				    fc->policy[k] == FW_T_DROP ? "DROP"
							       : "ACCEPT")) ||
		    cub_val__push(sl, row)) {
			cub_val__free(row);
			goto fail;
		}
	}
	free(slots);
	free(pkts);
	free(bytes);
	if (cub_val__set(e, "name", cub_val__str(chain_name(k))) ||
	    cub_val__set(e, "rule", rl) || cub_val__set(e, "stats", sl)) {
		*err = -ENOMEM;
		return cub_val__free(e);
	}
	return e;
fail:
	free(slots);
	free(pkts);
	free(bytes);
	cub_val__free(rl);
	cub_val__free(sl);
	*err = r;
	return cub_val__free(e);
}

static int
fwf_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct fwf_cube *fc = cub_cube__priv(cube);
	const struct cub_val *chains = cub_val__get(config, "chain");
	struct cub_val *list, *e;
	uint32_t i;
	int k, r = 0;

	const struct cub_val *words = cub_cube__show_words(cube);
	const char *w0 = words && words->kind == CUB_V_ARRAY && words->arr.len
			     ? cub_val__as_str(words->arr.items[0])
			     : NULL;

	if (!fc->loaded)
		return 0;
	/* Read the conntrack table or the counters only for what is shown. */
	if ((!w0 || strcmp(w0, "chain")) &&
	    (r = show_sessions(cube, fc, overlay)))
		return r;
	if (!chains || chains->kind != CUB_V_ARRAY ||
	    (w0 && !strcmp(w0, "session-table")))
		return 0;
	list = cub_val__array();
	if (!list)
		return -ENOMEM;
	for (i = 0; i < chains->arr.len; i++) {
		k = enum_of(cub_val__get_str(chains->arr.items[i], "name"),
		    fwf_chain_names);
		if (k < 0)
			continue;
		e = show_chain(cube, fc, k, &r);
		if (!e || cub_val__push(list, e)) {
			cub_val__free(e);
			cub_val__free(list);
			return r ? r : -ENOMEM;
		}
	}
	if (cub_val__set(overlay, "chain", list))
		return -ENOMEM;
	return 0;
}

static const struct cub_plugin_ops fwf_plugin_ops = {
    .apply = fwf_apply,
    .destroy = fwf_destroy,
    .show = fwf_show,
    .action = fwf_action,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "firewall",
    .description = "Polycube's transparent firewall: INGRESS and EGRESS "
		   "chains, conntrack, on the fwcore engine",
    .cube_size = sizeof(struct fwf_cube),
    .schema = fwf_schema,
    .ops = &fwf_plugin_ops,
    .policy = FW_PLUGIN_POLICY(200u << 20),
    .apply_timeout_ms = 60000,
    .flags = CUB_PLUGIN_F_TRANSPARENT,
    CUB_PLUGIN_SIZES,
};
