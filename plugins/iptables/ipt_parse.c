/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ipt_parse.c: one iptables command line to a struct ipt_cmd.  Follows
 * iptables 1.8.9's own parser (iptables/xshared.c, extensions/libxt_*.c)
 * where it decides what is valid: '!' before the option it inverts, module
 * options only once the module is loaded (-m, or -p tcp|udp|icmp loading
 * its module implicitly at the first option it does not know), target
 * options only after -j, comma lists in -s/-d expanding to one rule per
 * (source, destination) pair, source outer.  Everything else refused.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ipt.h"
#include "ipt_names.h"

struct pstate {
	struct ipt_cmd *cmd;
	struct fw_rule r;       /* the rule, before -s/-d expansion */
	char *src_list, *dst_list;
	bool src_neg, dst_neg;
	bool loaded[IPT_M_COUNT];
	int nmods;
	bool proto_mod_tried;   /* the implicit -p module was loaded */
	bool target_set;
	bool has_rule_opts;     /* any match or target given */
	bool limit_rate, hl_rate, hl_name;
	bool ctstate_opt, state_opt;
	char *err;
	size_t errlen;
};

static int
perr(struct pstate *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool
all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* A decimal number in [lo, hi]. */
static int
parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
	   unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!all_digits(s) || strlen(s) > 20)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- addresses ------------------------------------------------------- */

static int
parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;
	int dots = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '.')
			dots++;
		else if (!isdigit((unsigned char)*p))
			return -EINVAL;
	}
	if (dots != 3 || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* "a.b.c.d", "a.b.c.d/len" or "a.b.c.d/m.a.s.k" (contiguous). */
static int
parse_pfx(struct pstate *ps, const char *s, struct fw_pfx *p)
{
	char buf[64];
	char *slash;
	uint32_t addr, mask;
	unsigned long long len = 32;

	if (strlen(s) >= sizeof(buf))
		return perr(ps, "host/network `%s' not found", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash++ = '\0';
		if (strchr(slash, '.')) {
			if (parse_ip(slash, &mask) < 0)
				return perr(ps, "invalid mask `%s' specified",
					    slash);
			len = 0;
			while (len < 32 && (mask & (1u << (31 - len))))
				len++;
			if (len < 32 && (mask << len) != 0)
				return perr(ps, "invalid mask `%s' specified "
					    "(not contiguous: not supported)",
					    slash);
		} else if (parse_uint(slash, 0, 32, &len) < 0) {
			return perr(ps, "invalid mask `%s' specified", slash);
		}
	}
	if (parse_ip(buf, &addr) < 0) {
		if (*buf && !isdigit((unsigned char)*buf))
			return perr(ps, "host/network `%s' not found (host "
				    "names are not resolved: give an address)",
				    buf);
		return perr(ps, "host/network `%s' not found", buf);
	}
	mask = len ? ~0u << (32 - len) : 0;
	p->addr = addr & mask;
	p->len = (uint8_t)len;
	return 0;
}

/* Prefixes covering [lo, hi], in order. */
static int
range_to_pfx(uint32_t lo, uint32_t hi, struct fw_addr_match *m)
{
	uint64_t cur = lo, end = (uint64_t)hi + 1;

	m->n = 0;
	while (cur < end) {
		int len = 32;

		while (len > 0) {
			uint64_t size = 1ull << (32 - (len - 1));

			if (cur % size || cur + size > end)
				break;
			len--;
		}
		if (m->n >= FW_MAX_PFX)
			return -E2BIG;
		m->p[m->n].addr = (uint32_t)cur;
		m->p[m->n].len = (uint8_t)len;
		m->n++;
		cur += 1ull << (32 - len);
	}
	return 0;
}

static int
parse_range(struct pstate *ps, const char *opt, const char *s,
	    struct fw_addr_match *m)
{
	char buf[64];
	char *dash;
	uint32_t lo, hi;

	if (strlen(s) >= sizeof(buf))
		return perr(ps, "%s: bad range `%s'", opt, s);
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	if (parse_ip(buf, &lo) < 0)
		return perr(ps, "%s: bad address `%s'", opt, buf);
	hi = lo;
	if (dash && parse_ip(dash, &hi) < 0)
		return perr(ps, "%s: bad address `%s'", opt, dash);
	if (lo > hi)
		return perr(ps, "%s: range `%s' is reversed", opt, s);
	if (range_to_pfx(lo, hi, m) < 0)
		return perr(ps, "%s: range `%s' needs more than %d prefixes",
			    opt, s, FW_MAX_PFX);
	m->set = true;
	return 0;
}

/* ---- ports ------------------------------------------------------------ */

static int
parse_port(struct pstate *ps, const char *s, uint16_t *out)
{
	unsigned long long v;
	const char *proto = ps->r.proto.proto == IPPROTO_UDP ? "udp" : "tcp";
	struct servent *se;

	if (parse_uint(s, 0, 65535, &v) == 0) {
		*out = (uint16_t)v;
		return 0;
	}
	if (*s && !isdigit((unsigned char)*s) && (se = getservbyname(s, proto))) {
		*out = ntohs((uint16_t)se->s_port);
		return 0;
	}
	return perr(ps, "invalid port/service `%s' specified", s);
}

/* --sport/--dport: "p", "a:b", ":b", "a:". */
static int
parse_port_range(struct pstate *ps, const char *s, struct fw_port_match *m)
{
	char buf[128];
	char *colon;
	uint16_t lo = 0, hi = 65535;
	int r;

	if (strlen(s) >= sizeof(buf))
		return perr(ps, "invalid port/service `%s' specified", s);
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon) {
		if ((r = parse_port(ps, buf, &lo)) < 0)
			return r;
		hi = lo;
	} else {
		*colon++ = '\0';
		if (*buf && (r = parse_port(ps, buf, &lo)) < 0)
			return r;
		if (*colon && (r = parse_port(ps, colon, &hi)) < 0)
			return r;
		if (lo > hi)
			return perr(ps, "invalid portrange (min > max) `%s'", s);
	}
	m->set = true;
	m->n = 1;
	m->r[0].lo = lo;
	m->r[0].hi = hi;
	return 0;
}

/* -m multiport: "p,a:b,..." with at most 15 ports, a range counting 2. */
static int
parse_multi(struct pstate *ps, const char *s, struct fw_port_match *m)
{
	char buf[512];
	char *tok, *save = NULL;
	int count = 0, r;

	if (strlen(s) >= sizeof(buf))
		return perr(ps, "too many ports specified");
	strcpy(buf, s);
	m->n = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		uint16_t lo, hi;

		if (colon)
			*colon++ = '\0';
		if ((r = parse_port(ps, tok, &lo)) < 0)
			return r;
		hi = lo;
		if (colon) {
			if ((r = parse_port(ps, colon, &hi)) < 0)
				return r;
			if (lo > hi)
				return perr(ps, "invalid portrange specified");
		}
		count += colon ? 2 : 1;
		if (count > FW_MAX_PORTS)
			return perr(ps, "too many ports specified");
		m->r[m->n].lo = lo;
		m->r[m->n].hi = hi;
		m->n++;
	}
	if (m->n == 0 || s[strlen(s) - 1] == ',' || *s == ',')
		return perr(ps, "invalid port list `%s'", s);
	m->set = true;
	return 0;
}

/* ---- name tables -------------------------------------------------------- */

static int
parse_tcpflags(struct pstate *ps, const char *s, uint8_t *out)
{
	char buf[128];
	char *tok, *save = NULL;
	uint8_t v = 0;

	if (strlen(s) >= sizeof(buf))
		return perr(ps, "Unknown TCP flag `%s'", s);
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; ipt_tcp_flag_names[i].name; i++)
			if (!strcasecmp(tok, ipt_tcp_flag_names[i].name))
				break;
		if (!ipt_tcp_flag_names[i].name)
			return perr(ps, "Unknown TCP flag `%s'", tok);
		v |= ipt_tcp_flag_names[i].flag;
	}
	*out = v;
	return 0;
}

static int
parse_icmp(struct pstate *ps, const char *s)
{
	char buf[64];
	char *slash;
	unsigned long long t, c;

	for (size_t i = 0; ipt_icmp_names[i].name; i++) {
		const struct ipt_icmp_name *n = &ipt_icmp_names[i];

		if (strcasecmp(s, n->name))
			continue;
		ps->r.icmp.type = n->type;
		ps->r.icmp.code = n->code_min == n->code_max ? n->code_min : -1;
		ps->r.icmp.set = true;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return perr(ps, "Invalid ICMP type `%s'", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (parse_uint(buf, 0, 255, &t) < 0)
		return perr(ps, "Invalid ICMP type `%s'", s);
	ps->r.icmp.type = (uint8_t)t;
	ps->r.icmp.code = -1;
	if (slash) {
		if (parse_uint(slash, 0, 255, &c) < 0)
			return perr(ps, "Invalid ICMP code `%s'", slash);
		ps->r.icmp.code = (int16_t)c;
	}
	ps->r.icmp.set = true;
	return 0;
}

static int
parse_ctstates(struct pstate *ps, const char *opt, const char *s,
	       uint8_t *out)
{
	static const struct { const char *name; uint8_t bit; } st[] = {
		{ "INVALID", FW_CT_INVALID }, { "NEW", FW_CT_NEW },
		{ "RELATED", FW_CT_RELATED },
		{ "ESTABLISHED", FW_CT_ESTABLISHED },
		{ "UNTRACKED", FW_CT_UNTRACKED },
	};
	char buf[256];
	char *tok, *save = NULL;
	uint8_t v = 0;

	if (strlen(s) >= sizeof(buf) || !*s)
		return perr(ps, "Bad %s state `%s'", opt, s);
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(st) / sizeof(st[0]); i++)
			if (!strcasecmp(tok, st[i].name))
				break;
		if (i == sizeof(st) / sizeof(st[0])) {
			if (!strcasecmp(tok, "SNAT") || !strcasecmp(tok, "DNAT"))
				return perr(ps, "%s %s is not supported (NAT "
					    "is the nat service's)", opt, tok);
			return perr(ps, "Bad %s state `%s'", opt, tok);
		}
		v |= st[i].bit;
	}
	*out = v;
	return 0;
}

static int
parse_addrtypes(struct pstate *ps, const char *opt, const char *s,
		uint8_t *out)
{
	static const char *const unsup[] = { "UNSPEC", "ANYCAST", "BLACKHOLE",
		"UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE" };
	char buf[256];
	char *tok, *save = NULL;
	uint8_t v = 0;

	if (strlen(s) >= sizeof(buf) || !*s)
		return perr(ps, "addrtype: invalid type `%s' for %s", s, opt);
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		bool found = false;

		for (i = 0; ipt_addrtype_names[i].name; i++)
			if (!strcasecmp(tok, ipt_addrtype_names[i].name)) {
				v |= ipt_addrtype_names[i].bit;
				found = true;
			}
		if (found)
			continue;
		for (i = 0; i < sizeof(unsup) / sizeof(unsup[0]); i++)
			if (!strcasecmp(tok, unsup[i]))
				return perr(ps, "addrtype %s is not supported "
					    "(UNICAST, LOCAL, BROADCAST and "
					    "MULTICAST only)", unsup[i]);
		return perr(ps, "addrtype: invalid type `%s' for %s", tok, opt);
	}
	*out = v;
	return 0;
}

/* RATE as iptables: N[/second|/minute|/hour|/day] (any prefix of the
 * unit), period = scale * unit / N in 1/scale seconds. */
static int
parse_rate(struct pstate *ps, const char *opt, const char *s, uint64_t scale,
	   uint64_t *period)
{
	static const struct { const char *name; uint64_t mult; } units[] = {
		{ "second", 1 }, { "minute", 60 }, { "hour", 3600 },
		{ "day", 86400 },
	};
	char buf[64];
	char *slash;
	uint64_t mult = 1;
	unsigned long long n;

	if (strlen(s) >= sizeof(buf))
		return perr(ps, "bad rate `%s' for %s", s, opt);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		size_t i, len;

		*slash++ = '\0';
		len = strlen(slash);
		for (i = 0; i < 4; i++)
			if (len && !strncasecmp(slash, units[i].name, len))
				break;
		if (i == 4)
			return perr(ps, "bad rate `%s' for %s (units: "
				    "/second, /minute, /hour, /day)", s, opt);
		mult = units[i].mult;
	}
	if (parse_uint(buf, 1, UINT32_MAX, &n) < 0)
		return perr(ps, "bad rate `%s' for %s", s, opt);
	*period = scale * mult / n;
	if (*period == 0)
		return perr(ps, "rate too fast `%s' for %s", s, opt);
	if (scale == IPT_LIMIT_SCALE && *period > UINT32_MAX)
		return perr(ps, "rate too slow `%s' for %s", s, opt);
	return 0;
}

static int
parse_target(struct pstate *ps, const char *s, bool go)
{
	static const char *const unsup[] = { "MASQUERADE", "SNAT", "DNAT",
		"REDIRECT", "NETMAP", "MARK", "CONNMARK", "TCPMSS", "NFLOG",
		"NFQUEUE", "QUEUE", "CT", "NOTRACK", "TRACE", "TEE", "TPROXY",
		"CLASSIFY", "DSCP", "TOS", "TTL", "ULOG", "AUDIT", "CHECKSUM",
		"SET", "SECMARK", "CONNSECMARK", "IDLETIMER", "LED", "SYNPROXY",
		"HMARK", "RATEEST", "CLUSTERIP", "ECN", "TCPOPTSTRIP" };
	struct fw_rule *r = &ps->r;

	if (ps->target_set)
		return perr(ps, "multiple -j flags not allowed");
	if (!*s)
		return perr(ps, "-%c needs a target", go ? 'g' : 'j');
	if (strlen(s) > FW_CHAIN_NAME_MAX - 1)
		return perr(ps, "target `%s' too long (must be under %d chars)",
			    s, FW_CHAIN_NAME_MAX);
	ps->target_set = true;
	if (!go) {
		if (!strcmp(s, "ACCEPT"))
			r->target = FW_T_ACCEPT;
		else if (!strcmp(s, "DROP"))
			r->target = FW_T_DROP;
		else if (!strcmp(s, "REJECT"))
			r->target = FW_T_REJECT;
		else if (!strcmp(s, "LOG"))
			r->target = FW_T_LOG;
		else if (!strcmp(s, "RETURN"))
			r->target = FW_T_RETURN;
		if (r->target != FW_T_NONE)
			return 0;
	} else if (!strcmp(s, "ACCEPT") || !strcmp(s, "DROP") ||
		   !strcmp(s, "REJECT") || !strcmp(s, "LOG") ||
		   !strcmp(s, "RETURN")) {
		return perr(ps, "-g needs a user-defined chain, not %s", s);
	}
	for (size_t i = 0; i < sizeof(unsup) / sizeof(unsup[0]); i++)
		if (!strcmp(s, unsup[i]))
			return perr(ps, "target `%s' is not supported (ACCEPT, "
				    "DROP, REJECT, LOG, RETURN and user "
				    "chains only)", s);
	r->target = go ? FW_T_GOTO : FW_T_JUMP;
	strcpy(r->jump, s);
	return 0;
}

/* ---- modules --------------------------------------------------------- */

static const char *const mod_names[IPT_M_COUNT] = {
	[IPT_M_TCP] = "tcp", [IPT_M_UDP] = "udp", [IPT_M_ICMP] = "icmp",
	[IPT_M_MULTIPORT] = "multiport", [IPT_M_CONNTRACK] = "conntrack",
	[IPT_M_STATE] = "state", [IPT_M_COMMENT] = "comment",
	[IPT_M_IPRANGE] = "iprange", [IPT_M_ADDRTYPE] = "addrtype",
	[IPT_M_SET] = "set", [IPT_M_LIMIT] = "limit",
	[IPT_M_HASHLIMIT] = "hashlimit",
};

const char *
ipt_mod_name(int m)
{
	return m > 0 && m < IPT_M_COUNT ? mod_names[m] : "?";
}

static int
load_mod(struct pstate *ps, const char *name)
{
	int m;

	for (m = 1; m < IPT_M_COUNT; m++)
		if (!strcmp(name, mod_names[m]))
			break;
	if (m == IPT_M_COUNT)
		return perr(ps, "match `%s' is not supported (supported: tcp, "
			    "udp, icmp, multiport, conntrack, state, comment, "
			    "iprange, addrtype, set, limit, hashlimit)", name);
	if (ps->loaded[m])
		return perr(ps, "-m %s given twice: one of each match per rule",
			    name);
	ps->loaded[m] = true;
	ps->r.spell_order[ps->nmods++] = (uint8_t)m;
	ps->has_rule_opts = true;
	return 0;
}

/* Options of each module: name, module, takes an argument, invertible. */
struct modopt {
	const char *name;
	int mod;
	int nargs;
	bool inv;
};
static const struct modopt modopts[] = {
	{ "--sport", IPT_M_TCP, 1, true }, { "--source-port", IPT_M_TCP, 1, true },
	{ "--dport", IPT_M_TCP, 1, true },
	{ "--destination-port", IPT_M_TCP, 1, true },
	{ "--tcp-flags", IPT_M_TCP, 2, true }, { "--syn", IPT_M_TCP, 0, true },
	{ "--tcp-option", IPT_M_TCP, 1, true },
	{ "--sport", IPT_M_UDP, 1, true }, { "--source-port", IPT_M_UDP, 1, true },
	{ "--dport", IPT_M_UDP, 1, true },
	{ "--destination-port", IPT_M_UDP, 1, true },
	{ "--icmp-type", IPT_M_ICMP, 1, true },
	{ "--sports", IPT_M_MULTIPORT, 1, true },
	{ "--source-ports", IPT_M_MULTIPORT, 1, true },
	{ "--dports", IPT_M_MULTIPORT, 1, true },
	{ "--destination-ports", IPT_M_MULTIPORT, 1, true },
	{ "--ports", IPT_M_MULTIPORT, 1, true },
	{ "--ctstate", IPT_M_CONNTRACK, 1, true },
	{ "--state", IPT_M_STATE, 1, true },
	{ "--comment", IPT_M_COMMENT, 1, false },
	{ "--src-range", IPT_M_IPRANGE, 1, true },
	{ "--dst-range", IPT_M_IPRANGE, 1, true },
	{ "--src-type", IPT_M_ADDRTYPE, 1, true },
	{ "--dst-type", IPT_M_ADDRTYPE, 1, true },
	{ "--match-set", IPT_M_SET, 2, true },
	{ "--limit", IPT_M_LIMIT, 1, false },
	{ "--limit-burst", IPT_M_LIMIT, 1, false },
	{ "--hashlimit-upto", IPT_M_HASHLIMIT, 1, false },
	{ "--hashlimit", IPT_M_HASHLIMIT, 1, false },
	{ "--hashlimit-above", IPT_M_HASHLIMIT, 1, false },
	{ "--hashlimit-burst", IPT_M_HASHLIMIT, 1, false },
	{ "--hashlimit-mode", IPT_M_HASHLIMIT, 1, false },
	{ "--hashlimit-name", IPT_M_HASHLIMIT, 1, false },
	{ "--hashlimit-htable-size", IPT_M_HASHLIMIT, 1, false },
	{ "--hashlimit-htable-expire", IPT_M_HASHLIMIT, 1, false },
	{ NULL, 0, 0, false }
};

/* Options of known modules this implementation does not take. */
static const char *const unsup_opts[] = {
	"--ctproto", "--ctorigsrc", "--ctorigdst", "--ctreplsrc",
	"--ctrepldst", "--ctorigsrcport", "--ctorigdstport",
	"--ctreplsrcport", "--ctrepldstport", "--ctstatus", "--ctexpire",
	"--ctdir", "--limit-iface-in", "--limit-iface-out",
	"--return-nomatch", "--update-counters", "--update-subcounters",
	"--packets-eq", "--packets-lt", "--packets-gt", "--bytes-eq",
	"--bytes-lt", "--bytes-gt", "--hashlimit-htable-max",
	"--hashlimit-htable-gcinterval", "--hashlimit-srcmask",
	"--hashlimit-dstmask", "--hashlimit-rate-match",
	"--hashlimit-rate-interval", "--log-tcp-sequence",
	"--log-tcp-options", "--log-ip-options", "--log-uid",
	"--log-macdecode", NULL
};

static int
mod_option(struct pstate *ps, const struct modopt *o, bool inv,
	   char **args)
{
	struct fw_rule *r = &ps->r;
	const char *a = args[0];
	unsigned long long v;
	uint64_t period;
	int rc;

	if (inv && !o->inv)
		return perr(ps, "unexpected `!' before %s", o->name);
	switch (o->mod) {
	case IPT_M_TCP:
	case IPT_M_UDP:
		if (!strcmp(o->name, "--tcp-option"))
			return perr(ps, "--tcp-option is not supported");
		if (!strcmp(o->name, "--syn") || !strcmp(o->name, "--tcp-flags")) {
			if (r->tcpflags.set)
				return perr(ps, "%s: only one --tcp-flags or "
					    "--syn per rule", o->name);
			if (!strcmp(o->name, "--syn")) {
				r->tcpflags.mask = FW_TCP_FIN | FW_TCP_SYN |
						   FW_TCP_RST | FW_TCP_ACK;
				r->tcpflags.cmp = FW_TCP_SYN;
			} else {
				if ((rc = parse_tcpflags(ps, args[0],
							 &r->tcpflags.mask)) < 0 ||
				    (rc = parse_tcpflags(ps, args[1],
							 &r->tcpflags.cmp)) < 0)
					return rc;
			}
			r->tcpflags.set = true;
			r->tcpflags.neg = inv;
			return 0;
		}
		if (strstr(o->name, "sport") || !strcmp(o->name, "--source-port")) {
			if (r->sport.set)
				return perr(ps, "%s: only one source port "
					    "match per rule", o->name);
			rc = parse_port_range(ps, a, &r->sport);
			r->sport.neg = inv;
		} else {
			if (r->dport.set)
				return perr(ps, "%s: only one destination "
					    "port match per rule", o->name);
			rc = parse_port_range(ps, a, &r->dport);
			r->dport.neg = inv;
		}
		return rc;
	case IPT_M_ICMP:
		if (r->icmp.set)
			return perr(ps, "--icmp-type given twice");
		rc = parse_icmp(ps, a);
		r->icmp.neg = inv;
		return rc;
	case IPT_M_MULTIPORT:
		if (r->spell_flags & (IPT_SP_MPORT_S | IPT_SP_MPORT_D))
			return perr(ps, "multiport can only have one option");
		if ((r->sport.set && o->name[2] != 'd') ||
		    (r->dport.set && o->name[2] != 's'))
			return perr(ps, "%s: only one port match of each "
				    "direction per rule (--sport/--dport and "
				    "-m multiport)", o->name);
		if (o->name[2] == 's') {
			rc = parse_multi(ps, a, &r->sport);
			r->sport.neg = inv;
			r->spell_flags |= IPT_SP_MPORT_S;
		} else {
			rc = parse_multi(ps, a, &r->dport);
			r->dport.neg = inv;
			r->spell_flags |= IPT_SP_MPORT_D;
			if (o->name[2] == 'p')
				r->ports_either = true;
		}
		return rc;
	case IPT_M_CONNTRACK:
	case IPT_M_STATE:
		if (r->ctstate.set)
			return perr(ps, "%s: only one state match per rule",
				    o->name);
		rc = parse_ctstates(ps, o->name, a, &r->ctstate.mask);
		r->ctstate.set = true;
		r->ctstate.neg = inv;
		if (o->mod == IPT_M_STATE)
			ps->state_opt = true;
		else
			ps->ctstate_opt = true;
		return rc;
	case IPT_M_COMMENT:
		if (*r->comment)
			return perr(ps, "--comment given twice");
		if (strlen(a) >= FW_COMMENT_MAX)
			return perr(ps, "--comment: at most %d characters",
				    FW_COMMENT_MAX - 1);
		strcpy(r->comment, a);
		return 0;
	case IPT_M_IPRANGE:
		if (o->name[2] == 's') {
			if (r->src.set)
				return perr(ps, "--src-range with -s or a "
					    "second --src-range: not supported");
			rc = parse_range(ps, o->name, a, &r->src);
			r->src.neg = inv;
			r->spell_flags |= IPT_SP_RANGE_S;
		} else {
			if (r->dst.set)
				return perr(ps, "--dst-range with -d or a "
					    "second --dst-range: not supported");
			rc = parse_range(ps, o->name, a, &r->dst);
			r->dst.neg = inv;
			r->spell_flags |= IPT_SP_RANGE_D;
		}
		return rc;
	case IPT_M_ADDRTYPE:
		if (o->name[2] == 's') {
			if (r->srctype.set)
				return perr(ps, "--src-type given twice");
			rc = parse_addrtypes(ps, o->name, a, &r->srctype.mask);
			r->srctype.set = true;
			r->srctype.neg = inv;
		} else {
			if (r->dsttype.set)
				return perr(ps, "--dst-type given twice");
			rc = parse_addrtypes(ps, o->name, a, &r->dsttype.mask);
			r->dsttype.set = true;
			r->dsttype.neg = inv;
		}
		return rc;
	case IPT_M_SET: {
		char buf[32];
		char *tok, *save = NULL;

		if (r->mset.set)
			return perr(ps, "--match-set given twice");
		if (!*a || strlen(a) >= FW_SET_NAME_MAX)
			return perr(ps, "--match-set: set name `%s' must be 1 "
				    "to %d characters", a, FW_SET_NAME_MAX - 1);
		strcpy(r->mset.name, a);
		if (strlen(args[1]) >= sizeof(buf) || !*args[1])
			return perr(ps, "--match-set: bad flags `%s' (src, "
				    "dst, src,dst...)", args[1]);
		strcpy(buf, args[1]);
		for (tok = strtok_r(buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			if (r->mset.ndirs >= 2)
				return perr(ps, "--match-set: at most 2 "
					    "dimensions (hash:ip,port)");
			if (!strcmp(tok, "src"))
				r->mset.dirs[r->mset.ndirs++] = 0;
			else if (!strcmp(tok, "dst"))
				r->mset.dirs[r->mset.ndirs++] = 1;
			else
				return perr(ps, "--match-set: bad flag `%s' "
					    "(src or dst)", tok);
		}
		if (args[1][strlen(args[1]) - 1] == ',')
			return perr(ps, "--match-set: bad flags `%s'", args[1]);
		r->mset.set = true;
		r->mset.neg = inv;
		return 0;
	}
	case IPT_M_LIMIT:
		if (!strcmp(o->name, "--limit")) {
			if ((rc = parse_rate(ps, o->name, a, IPT_LIMIT_SCALE,
					     &period)) < 0)
				return rc;
			r->limit.rate_ns = period * IPT_LIMIT_NS;
			ps->limit_rate = true;
		} else {
			if (parse_uint(a, 0, 10000, &v) < 0)
				return perr(ps, "bad --limit-burst `%s' (0 to "
					    "10000)", a);
			r->limit.burst = (uint32_t)v;
		}
		return 0;
	case IPT_M_HASHLIMIT:
		if (!strcmp(o->name, "--hashlimit-upto") ||
		    !strcmp(o->name, "--hashlimit") ||
		    !strcmp(o->name, "--hashlimit-above")) {
			if (ps->hl_rate)
				return perr(ps, "%s: one rate per rule", o->name);
			if ((rc = parse_rate(ps, o->name, a, IPT_HLIMIT_SCALE,
					     &period)) < 0)
				return rc;
			r->limit.rate_ns = period * IPT_HLIMIT_NS;
			r->limit.above = !strcmp(o->name, "--hashlimit-above");
			ps->hl_rate = true;
		} else if (!strcmp(o->name, "--hashlimit-burst")) {
			if (parse_uint(a, 1, UINT32_MAX, &v) < 0)
				return perr(ps, "bad --hashlimit-burst `%s'", a);
			r->limit.burst = (uint32_t)v;
		} else if (!strcmp(o->name, "--hashlimit-mode")) {
			if (!strcmp(a, "srcip"))
				r->limit.per_src = true;
			else
				return perr(ps, "--hashlimit-mode `%s' is not "
					    "supported (srcip only)", a);
		} else if (!strcmp(o->name, "--hashlimit-name")) {
			if (!*a || strlen(a) >= 16)
				return perr(ps, "--hashlimit-name `%s': 1 to 15 "
					    "characters", a);
			strcpy(r->limit.name, a);
			ps->hl_name = true;
		} else if (!strcmp(o->name, "--hashlimit-htable-size")) {
			if (parse_uint(a, 1, UINT32_MAX, &v) < 0)
				return perr(ps, "bad --hashlimit-htable-size "
					    "`%s'", a);
			r->limit.size = (uint32_t)v;
		} else {
			if (parse_uint(a, 1, UINT32_MAX, &v) < 0)
				return perr(ps, "bad --hashlimit-htable-expire "
					    "`%s'", a);
			r->limit.expire_ms = (uint32_t)v;
		}
		return 0;
	}
	return perr(ps, "unknown option \"%s\"", o->name);
}

static int
target_option(struct pstate *ps, const char *opt, bool inv, const char *a,
	      bool *handled)
{
	struct fw_rule *r = &ps->r;

	*handled = true;
	if (r->target == FW_T_REJECT && !strcmp(opt, "--reject-with")) {
		if (inv)
			return perr(ps, "unexpected `!' before %s", opt);
		for (size_t i = 0; ipt_reject_names[i].name; i++)
			if (!strcmp(a, ipt_reject_names[i].name) ||
			    (ipt_reject_names[i].alias &&
			     !strcmp(a, ipt_reject_names[i].alias))) {
				r->reject_with = ipt_reject_names[i].kind;
				return 0;
			}
		return perr(ps, "unknown reject type \"%s\"", a);
	}
	if (r->target == FW_T_LOG && !strcmp(opt, "--log-prefix")) {
		if (inv)
			return perr(ps, "unexpected `!' before %s", opt);
		if (strlen(a) >= FW_LOG_PREFIX_MAX)
			return perr(ps, "Maximum prefix length %d for "
				    "--log-prefix", FW_LOG_PREFIX_MAX - 1);
		if (strchr(a, '\n'))
			return perr(ps, "Newlines not allowed in --log-prefix");
		strcpy(r->log_prefix, a);
		return 0;
	}
	if (r->target == FW_T_LOG && !strcmp(opt, "--log-level")) {
		unsigned long long v;

		if (inv)
			return perr(ps, "unexpected `!' before %s", opt);
		if (parse_uint(a, 0, 7, &v) == 0) {
			r->log_level = (uint8_t)v;
			return 0;
		}
		for (size_t i = 0; ipt_log_level_in[i].name; i++)
			if (!strcasecmp(a, ipt_log_level_in[i].name)) {
				r->log_level = ipt_log_level_in[i].level;
				return 0;
			}
		return perr(ps, "log-level `%s' unknown", a);
	}
	*handled = false;
	return 0;
}

/* ---- the command line ------------------------------------------------ */

static const struct {
	const char *s, *l;
	enum ipt_op op;
} cmds[] = {
	{ "-A", "--append", IPT_OP_APPEND },
	{ "-I", "--insert", IPT_OP_INSERT },
	{ "-D", "--delete", IPT_OP_DELETE },
	{ "-R", "--replace", IPT_OP_REPLACE },
	{ "-F", "--flush", IPT_OP_FLUSH },
	{ "-Z", "--zero", IPT_OP_ZERO },
	{ "-P", "--policy", IPT_OP_POLICY },
	{ "-N", "--new-chain", IPT_OP_NEWCHAIN },
	{ "-X", "--delete-chain", IPT_OP_DELCHAIN },
	{ "-E", "--rename-chain", IPT_OP_RENAME },
	{ "-C", "--check", IPT_OP_CHECK },
	{ "-S", "--list-rules", IPT_OP_LISTRULES },
	{ "-L", "--list", IPT_OP_LIST },
};

static const char *
op_flag(enum ipt_op op)
{
	if (op == IPT_OP_DELNUM)
		return "-D";
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].op == op)
			return cmds[i].s;
	return "?";
}

static int
set_chain(struct pstate *ps, char *dst, const char *name, const char *opt)
{
	if (!*name)
		return perr(ps, "%s: empty chain name", opt);
	if (strlen(name) > FW_CHAIN_NAME_MAX - 1)
		return perr(ps, "chain name `%s' too long (must be under %d "
			    "chars)", name, FW_CHAIN_NAME_MAX);
	strcpy(dst, name);
	return 0;
}

static bool
optional_arg(int i, int argc, char **argv)
{
	return i + 1 < argc && argv[i + 1][0] != '-' && strcmp(argv[i + 1], "!");
}

static int
rule_number(struct pstate *ps, const char *s, const char *opt, uint32_t *n)
{
	unsigned long long v;

	if (parse_uint(s, 1, FW_MAX_RULES, &v) < 0)
		return perr(ps, "%s: invalid rule number `%s' (1 to %d)", opt,
			    s, FW_MAX_RULES);
	*n = (uint32_t)v;
	return 0;
}

static int
split_list(struct pstate *ps, const char *opt, char *list,
	   struct fw_pfx *out, uint32_t *n)
{
	char *tok, *save = NULL;
	int rc;

	*n = 0;
	if (!*list || list[strlen(list) - 1] == ',' || *list == ',')
		return perr(ps, "%s: bad address list `%s'", opt, list);
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n >= IPT_MAX_EXPAND)
			return perr(ps, "%s: more than %d addresses", opt,
				    IPT_MAX_EXPAND);
		if ((rc = parse_pfx(ps, tok, &out[(*n)++])) < 0)
			return rc;
	}
	return 0;
}

static bool
chain_is(const char *c, const char *name)
{
	return !strcmp(c, name);
}

/* Checks once every option is read (iptables' final_check and the
 * kernel's checkentry). */
static int
final_check(struct pstate *ps)
{
	struct fw_rule *r = &ps->r;
	bool tcp = r->proto.set && !r->proto.neg && r->proto.proto == IPPROTO_TCP;
	bool udp = r->proto.set && !r->proto.neg && r->proto.proto == IPPROTO_UDP;
	bool icmp = r->proto.set && !r->proto.neg &&
		    r->proto.proto == IPPROTO_ICMP;
	const char *chain = ps->cmd->chain;

	if (ps->loaded[IPT_M_TCP] && !tcp)
		return perr(ps, "-m tcp needs -p tcp");
	if (ps->loaded[IPT_M_UDP] && !udp)
		return perr(ps, "-m udp needs -p udp");
	if (ps->loaded[IPT_M_ICMP] && !icmp)
		return perr(ps, "-m icmp needs -p icmp");
	if (ps->loaded[IPT_M_ICMP] && !r->icmp.set)
		return perr(ps, "icmp: option \"--icmp-type\" must be "
			    "specified");
	if (ps->loaded[IPT_M_MULTIPORT]) {
		if (!tcp && !udp)
			return perr(ps, "multiport needs `-p tcp' or `-p udp'");
		if (!(r->spell_flags & (IPT_SP_MPORT_S | IPT_SP_MPORT_D)))
			return perr(ps, "multiport expects an option");
	}
	if (ps->loaded[IPT_M_CONNTRACK] && !ps->ctstate_opt)
		return perr(ps, "-m conntrack: --ctstate is the only option "
			    "supported, and it is missing");
	if (ps->loaded[IPT_M_STATE] && !ps->state_opt)
		return perr(ps, "-m state: --state is missing");
	if (ps->loaded[IPT_M_STATE] && ps->loaded[IPT_M_CONNTRACK])
		return perr(ps, "-m state with -m conntrack: one state match "
			    "per rule");
	if (ps->src_list && (r->spell_flags & IPT_SP_RANGE_S))
		return perr(ps, "--src-range with -s: not supported (one "
			    "source match per rule)");
	if (ps->dst_list && (r->spell_flags & IPT_SP_RANGE_D))
		return perr(ps, "--dst-range with -d: not supported (one "
			    "destination match per rule)");
	if (ps->loaded[IPT_M_IPRANGE] &&
	    !(r->spell_flags & (IPT_SP_RANGE_S | IPT_SP_RANGE_D)))
		return perr(ps, "iprange match: You must specify "
			    "`--src-range' or `--dst-range'");
	if (ps->loaded[IPT_M_ADDRTYPE] && !r->srctype.set && !r->dsttype.set)
		return perr(ps, "addrtype: you must specify --src-type or "
			    "--dst-type");
	if (ps->loaded[IPT_M_SET] && !r->mset.set)
		return perr(ps, "-m set: You must specify `--match-set' with "
			    "proper arguments");
	if (ps->loaded[IPT_M_LIMIT] && ps->loaded[IPT_M_HASHLIMIT])
		return perr(ps, "-m limit with -m hashlimit: one rate limit "
			    "per rule");
	if (ps->loaded[IPT_M_LIMIT]) {
		r->limit.set = true;
		if (!ps->limit_rate)
			r->limit.rate_ns = IPT_LIMIT_SCALE * 3600 / 3 *
					   IPT_LIMIT_NS; /* 3/hour */
	}
	if (ps->loaded[IPT_M_HASHLIMIT]) {
		if (!ps->hl_rate)
			return perr(ps, "hashlimit: you have to specify "
				    "--hashlimit-upto or --hashlimit-above");
		if (!ps->hl_name)
			return perr(ps, "hashlimit: option `--hashlimit-name' "
				    "must be specified");
		r->limit.set = true;
	}
	if (r->limit.set) {
		uint64_t div = ps->loaded[IPT_M_LIMIT] ? IPT_LIMIT_NS :
			       IPT_HLIMIT_NS;
		uint64_t scale = ps->loaded[IPT_M_LIMIT] ? IPT_LIMIT_SCALE :
				 IPT_HLIMIT_SCALE;
		ipt_rate_words(r->limit.rate_ns / div, scale, &r->limit.rate_n,
			       &r->limit.rate_unit);
	}
	if (r->target == FW_T_REJECT && r->reject_with == FW_REJ_TCP_RESET &&
	    !tcp)
		return perr(ps, "--reject-with tcp-reset needs -p tcp");
	if (r->oif.set && (chain_is(chain, "INPUT")))
		return perr(ps, "Can't use -o with INPUT");
	if (r->iif.set && (chain_is(chain, "OUTPUT")))
		return perr(ps, "Can't use -i with OUTPUT");
	return 0;
}

static int
parse_iface(struct pstate *ps, const char *opt, const char *a, bool inv,
	    struct fw_if_match *m)
{
	if (m->set)
		return perr(ps, "multiple %s flags not allowed", opt);
	if (strlen(a) >= FW_IFNAME_MAX)
		return perr(ps, "interface name `%s' must be shorter than "
			    "IFNAMSIZ (%i)", a, FW_IFNAME_MAX);
	if (!*a)
		return perr(ps, "%s: empty interface name", opt);
	for (const char *p = a; *p; p++)
		if (*p == '/' || *p == ' ' || (*p == '+' && p[1]))
			return perr(ps, "interface name `%s': bad character "
				    "`%c'", a, *p);
	strcpy(m->name, a);
	m->set = true;
	m->neg = inv;
	return 0;
}

static int
parse_proto(struct pstate *ps, const char *a, bool inv)
{
	struct fw_rule *r = &ps->r;
	unsigned long long v;
	struct protoent *pe;
	char low[64];
	size_t i;

	if (r->proto.set)
		return perr(ps, "multiple -p flags not allowed");
	if (strlen(a) >= sizeof(low))
		return perr(ps, "unknown protocol \"%s\" specified", a);
	for (i = 0; a[i]; i++)
		low[i] = (char)tolower((unsigned char)a[i]);
	low[i] = '\0';
	if (parse_uint(low, 0, 255, &v) == 0) {
		r->proto.proto = (uint8_t)v;
	} else if (!strcmp(low, "all")) {
		r->proto.proto = 0;
	} else {
		int n = ipt_proto_number(low);

		if (n < 0 && (pe = getprotobyname(low)))
			n = pe->p_proto;
		if (n < 0 || n > 255)
			return perr(ps, "unknown protocol \"%s\" specified", a);
		r->proto.proto = (uint8_t)n;
	}
	if (r->proto.proto == 0 && inv)
		return perr(ps, "rule would never match protocol");
	/* "-p all" and "-p 0" are no match at all, as in iptables. */
	r->proto.set = r->proto.proto != 0;
	r->proto.neg = inv;
	ps->has_rule_opts = true;
	return 0;
}

static int
expand(struct pstate *ps)
{
	struct ipt_cmd *c = ps->cmd;
	struct fw_pfx *s = NULL, *d = NULL;
	uint32_t ns = 0, nd = 0, i, j, k = 0;
	int rc = -ENOMEM;

	s = calloc(IPT_MAX_EXPAND, sizeof(*s));
	d = calloc(IPT_MAX_EXPAND, sizeof(*d));
	if (!s || !d) {
		perr(ps, "out of memory");
		goto out;
	}
	if (ps->src_list && (rc = split_list(ps, "-s", ps->src_list, s, &ns)) < 0)
		goto out;
	if (ps->dst_list && (rc = split_list(ps, "-d", ps->dst_list, d, &nd)) < 0)
		goto out;
	if ((uint64_t)(ns ? ns : 1) * (nd ? nd : 1) > IPT_MAX_EXPAND) {
		rc = perr(ps, "-s/-d lists make %u rules: at most %d",
			  (ns ? ns : 1) * (nd ? nd : 1), IPT_MAX_EXPAND);
		goto out;
	}
	c->nrules = (ns ? ns : 1) * (nd ? nd : 1);
	c->rules = calloc(c->nrules, sizeof(*c->rules));
	if (!c->rules) {
		rc = perr(ps, "out of memory");
		goto out;
	}
	for (i = 0; i < (ns ? ns : 1); i++)
		for (j = 0; j < (nd ? nd : 1); j++) {
			struct fw_rule *r = &c->rules[k++];

			*r = ps->r;
			if (ns) {
				r->src.set = true;
				r->src.neg = ps->src_neg;
				r->src.n = 1;
				r->src.p[0] = s[i];
			}
			if (nd) {
				r->dst.set = true;
				r->dst.neg = ps->dst_neg;
				r->dst.n = 1;
				r->dst.p[0] = d[j];
			}
		}
	rc = 0;
out:
	free(s);
	free(d);
	return rc;
}

static bool
op_takes_rule(enum ipt_op op)
{
	return op == IPT_OP_APPEND || op == IPT_OP_INSERT ||
	       op == IPT_OP_DELETE || op == IPT_OP_REPLACE || op == IPT_OP_CHECK;
}

int
ipt_parse(int argc, char **argv, struct ipt_cmd *cmd, char *err,
	  size_t errlen)
{
	struct pstate ps = { .cmd = cmd, .err = err, .errlen = errlen };
	bool inv = false;
	int i, rc;

	memset(cmd, 0, sizeof(*cmd));
	cmd->wait = -1;
	fw_rule_init(&ps.r);
	if (errlen)
		*err = '\0';
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (!strcmp(a, "!")) {
			if (inv)
				return perr(&ps, "multiple `!' flags not allowed");
			inv = true;
			continue;
		}
		for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
			if (!strcmp(a, cmds[k].s) || !strcmp(a, cmds[k].l))
				break;
		if (k < sizeof(cmds) / sizeof(cmds[0])) {
			enum ipt_op op = cmds[k].op;

			if (inv)
				return perr(&ps, "unexpected `!' before %s", a);
			if (cmd->op != IPT_OP_NONE)
				return perr(&ps, "Can't use %s with %s",
					    cmds[k].s, op_flag(cmd->op));
			cmd->op = op;
			switch (op) {
			case IPT_OP_APPEND:
			case IPT_OP_CHECK:
			case IPT_OP_NEWCHAIN:
			case IPT_OP_INSERT:
			case IPT_OP_DELETE:
			case IPT_OP_REPLACE:
			case IPT_OP_POLICY:
			case IPT_OP_RENAME:
				if (i + 1 >= argc)
					return perr(&ps, "option \"%s\" requires "
						    "an argument", a);
				if ((rc = set_chain(&ps, cmd->chain, argv[++i],
						    cmds[k].s)) < 0)
					return rc;
				break;
			default:
				if (optional_arg(i, argc, argv) &&
				    (rc = set_chain(&ps, cmd->chain, argv[++i],
						    cmds[k].s)) < 0)
					return rc;
				break;
			}
			if (op == IPT_OP_NEWCHAIN) {
				if (cmd->chain[0] == '-' || cmd->chain[0] == '!')
					return perr(&ps, "chain name not "
						    "allowed to start with `%c'",
						    cmd->chain[0]);
				if (ipt_is_target_name(cmd->chain))
					return perr(&ps, "chain name `%s' may "
						    "not clash with a target "
						    "name", cmd->chain);
			}
			if (op == IPT_OP_INSERT && i + 1 < argc &&
			    all_digits(argv[i + 1])) {
				if ((rc = rule_number(&ps, argv[++i], "-I",
						      &cmd->num)) < 0)
					return rc;
			}
			if (op == IPT_OP_DELETE && i + 1 < argc &&
			    argv[i + 1][0] != '-' && strcmp(argv[i + 1], "!")) {
				if ((rc = rule_number(&ps, argv[++i], "-D",
						      &cmd->num)) < 0)
					return rc;
				cmd->op = IPT_OP_DELNUM;
			}
			if (op == IPT_OP_REPLACE) {
				if (i + 1 >= argc)
					return perr(&ps, "-R requires a rule "
						    "number");
				if ((rc = rule_number(&ps, argv[++i], "-R",
						      &cmd->num)) < 0)
					return rc;
			}
			if ((op == IPT_OP_ZERO || op == IPT_OP_LISTRULES ||
			     op == IPT_OP_LIST) && cmd->chain[0] &&
			    optional_arg(i, argc, argv)) {
				if ((rc = rule_number(&ps, argv[++i], cmds[k].s,
						      &cmd->num)) < 0)
					return rc;
			}
			if (op == IPT_OP_POLICY) {
				if (i + 1 >= argc)
					return perr(&ps, "-P requires a chain "
						    "and a policy");
				a = argv[++i];
				if (!strcmp(a, "ACCEPT"))
					cmd->policy = FW_T_ACCEPT;
				else if (!strcmp(a, "DROP"))
					cmd->policy = FW_T_DROP;
				else
					return perr(&ps, "-P %s: bad policy "
						    "`%s' (ACCEPT or DROP)",
						    cmd->chain, a);
			}
			if (op == IPT_OP_RENAME) {
				if (i + 1 >= argc)
					return perr(&ps, "-E requires old-chain-"
						    "name and new-chain-name");
				if ((rc = set_chain(&ps, cmd->newname,
						    argv[++i], "-E")) < 0)
					return rc;
				if (cmd->newname[0] == '-' ||
				    ipt_is_target_name(cmd->newname))
					return perr(&ps, "-E: invalid new chain "
						    "name `%s'", cmd->newname);
			}
			continue;
		}
		/* Generic options. */
		if (!strcmp(a, "-t") || !strcmp(a, "--table")) {
			if (inv)
				return perr(&ps, "unexpected `!' before %s", a);
			if (i + 1 >= argc)
				return perr(&ps, "option \"%s\" requires an "
					    "argument", a);
			a = argv[++i];
			if (strcmp(a, "filter"))
				return perr(&ps, "table `%s' is not supported: "
					    "the filter table only%s", a,
					    !strcmp(a, "nat") ? " (NAT is the "
					    "nat service's)" : "");
			continue;
		}
		if (!strcmp(a, "-n") || !strcmp(a, "--numeric") ||
		    !strcmp(a, "-v") || !strcmp(a, "--verbose") ||
		    !strcmp(a, "-x") || !strcmp(a, "--exact") ||
		    !strcmp(a, "--line-numbers") || !strcmp(a, "-4") ||
		    !strcmp(a, "--ipv4")) {
			if (inv)
				return perr(&ps, "unexpected `!' before %s", a);
			if (a[1] == 'n' || !strcmp(a, "--numeric"))
				cmd->fmt |= IPT_FMT_NUMERIC;
			else if (a[1] == 'v' || !strcmp(a, "--verbose"))
				cmd->fmt |= IPT_FMT_VERBOSE;
			else if (a[1] == 'x' || !strcmp(a, "--exact"))
				cmd->fmt |= IPT_FMT_EXACT;
			else if (!strcmp(a, "--line-numbers"))
				cmd->fmt |= IPT_FMT_LINENUM;
			continue;
		}
		if (!strcmp(a, "-w") || !strcmp(a, "--wait")) {
			unsigned long long v;

			cmd->wait = 0;
			if (i + 1 < argc && all_digits(argv[i + 1])) {
				if (parse_uint(argv[++i], 0, INT_MAX, &v) < 0)
					return perr(&ps, "wait seconds `%s' "
						    "invalid", argv[i]);
				cmd->wait = (int)v;
			}
			continue;
		}
		if (!strcmp(a, "-W") || !strcmp(a, "--wait-interval")) {
			unsigned long long v;

			if (i + 1 >= argc || parse_uint(argv[++i], 1, 999999,
							&v) < 0)
				return perr(&ps, "wait interval must be 1 to "
					    "999999 microseconds");
			continue;
		}
		if (!strcmp(a, "-c") || !strcmp(a, "--set-counters")) {
			unsigned long long p, b;

			if (i + 2 >= argc ||
			    parse_uint(argv[i + 1], 0, UINT64_MAX, &p) < 0 ||
			    parse_uint(argv[i + 2], 0, UINT64_MAX, &b) < 0)
				return perr(&ps, "-c requires packet and byte "
					    "counters");
			cmd->counters = true;
			cmd->pkts = p;
			cmd->bytes = b;
			i += 2;
			continue;
		}
		if (!strcmp(a, "-6") || !strcmp(a, "--ipv6"))
			return perr(&ps, "-6 is not supported (IPv4 only: "
				    "ip6tables comes later)");
		if (!strcmp(a, "-f") || !strcmp(a, "--fragment"))
			return perr(&ps, "-f (fragments) is not supported");
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return perr(&ps, "-h is not supported: see the "
				    "README");
		/* Rule options. */
		if (!strcmp(a, "-s") || !strcmp(a, "--source") ||
		    !strcmp(a, "--src") || !strcmp(a, "-d") ||
		    !strcmp(a, "--destination") || !strcmp(a, "--dst")) {
			bool src = a[1] == 's' || !strcmp(a, "--source") ||
				   !strcmp(a, "--src");

			if (i + 1 >= argc)
				return perr(&ps, "option \"%s\" requires an "
					    "argument", a);
			if (src ? (ps.src_list || ps.r.src.set) :
				  (ps.dst_list || ps.r.dst.set))
				return perr(&ps, "multiple -%c flags not allowed%s",
					    src ? 's' : 'd',
					    (src ? ps.r.src.set : ps.r.dst.set) ?
					    " (with -m iprange)" : "");
			if (src) {
				ps.src_list = argv[++i];
				ps.src_neg = inv;
			} else {
				ps.dst_list = argv[++i];
				ps.dst_neg = inv;
			}
			if (inv && strchr(argv[i], ','))
				return perr(&ps, "! not allowed with multiple "
					    "source or destination IP addresses");
			ps.has_rule_opts = true;
			inv = false;
			continue;
		}
		if (!strcmp(a, "-p") || !strcmp(a, "--protocol")) {
			if (i + 1 >= argc)
				return perr(&ps, "option \"%s\" requires an "
					    "argument", a);
			if ((rc = parse_proto(&ps, argv[++i], inv)) < 0)
				return rc;
			inv = false;
			continue;
		}
		if (!strcmp(a, "-i") || !strcmp(a, "--in-interface") ||
		    !strcmp(a, "-o") || !strcmp(a, "--out-interface")) {
			bool in = a[1] == 'i' || !strcmp(a, "--in-interface");

			if (i + 1 >= argc)
				return perr(&ps, "option \"%s\" requires an "
					    "argument", a);
			if ((rc = parse_iface(&ps, in ? "-i" : "-o", argv[++i],
					      inv, in ? &ps.r.iif : &ps.r.oif)) < 0)
				return rc;
			ps.has_rule_opts = true;
			inv = false;
			continue;
		}
		if (!strcmp(a, "-j") || !strcmp(a, "--jump") ||
		    !strcmp(a, "-g") || !strcmp(a, "--goto")) {
			bool go = a[1] == 'g' || !strcmp(a, "--goto");

			if (inv)
				return perr(&ps, "unexpected `!' before %s", a);
			if (i + 1 >= argc)
				return perr(&ps, "option \"%s\" requires an "
					    "argument", a);
			if ((rc = parse_target(&ps, argv[++i], go)) < 0)
				return rc;
			ps.has_rule_opts = true;
			continue;
		}
		if (!strcmp(a, "-m") || !strcmp(a, "--match")) {
			if (inv)
				return perr(&ps, "unexpected `!' before -m");
			if (i + 1 >= argc)
				return perr(&ps, "option \"%s\" requires an "
					    "argument", a);
			if ((rc = load_mod(&ps, argv[++i])) < 0)
				return rc;
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			const struct modopt *o = NULL;
			bool handled;

			for (int pass = 0; pass < 2 && !o; pass++) {
				for (k = 0; modopts[k].name; k++)
					if (!strcmp(a, modopts[k].name) &&
					    ps.loaded[modopts[k].mod]) {
						o = &modopts[k];
						break;
					}
				if (o || pass)
					break;
				/* iptables: an unknown option loads the
				 * module of -p's protocol, once. */
				if (!ps.proto_mod_tried && ps.r.proto.set &&
				    !ps.r.proto.neg) {
					int m = ps.r.proto.proto == IPPROTO_TCP ?
						IPT_M_TCP : ps.r.proto.proto ==
						IPPROTO_UDP ? IPT_M_UDP :
						ps.r.proto.proto == IPPROTO_ICMP ?
						IPT_M_ICMP : 0;

					ps.proto_mod_tried = true;
					if (m && !ps.loaded[m]) {
						bool known = false;

						for (k = 0; modopts[k].name; k++)
							if (modopts[k].mod == m &&
							    !strcmp(a, modopts[k].name))
								known = true;
						if (known && (rc = load_mod(&ps,
							mod_names[m])) < 0)
							return rc;
					}
				}
			}
			if (o) {
				if (i + o->nargs >= argc)
					return perr(&ps, "option \"%s\" requires "
						    "%s", a, o->nargs == 2 ?
						    "two arguments" :
						    "an argument");
				if ((rc = mod_option(&ps, o, inv, &argv[i + 1])) < 0)
					return rc;
				i += o->nargs;
				inv = false;
				continue;
			}
			if (ps.target_set) {
				if (i + 1 >= argc &&
				    (!strcmp(a, "--reject-with") ||
				     !strcmp(a, "--log-prefix") ||
				     !strcmp(a, "--log-level")))
					return perr(&ps, "option \"%s\" requires "
						    "an argument", a);
				if (i + 1 < argc) {
					if ((rc = target_option(&ps, a, inv,
								argv[i + 1],
								&handled)) < 0)
						return rc;
					if (handled) {
						i++;
						inv = false;
						continue;
					}
				}
			}
			for (k = 0; unsup_opts[k]; k++)
				if (!strcmp(a, unsup_opts[k]))
					return perr(&ps, "option \"%s\" is not "
						    "supported", a);
			return perr(&ps, "unknown option \"%s\"", a);
		}
		if (a[0] == '-')
			return perr(&ps, "unknown option \"%s\"", a);
		return perr(&ps, "Bad argument `%s'", a);
	}
	if (inv)
		return perr(&ps, "`!' at the end of the command line");
	if (cmd->op == IPT_OP_NONE)
		return perr(&ps, "no command specified");
	if (!op_takes_rule(cmd->op)) {
		if (ps.has_rule_opts || ps.nmods)
			return perr(&ps, "%s takes no rule options",
				    op_flag(cmd->op));
		if (cmd->fmt && cmd->op != IPT_OP_LIST &&
		    cmd->op != IPT_OP_LISTRULES && cmd->op != IPT_OP_ZERO &&
		    cmd->op != IPT_OP_FLUSH)
			return perr(&ps, "%s: -n, -v, -x and --line-numbers "
				    "are for -L", op_flag(cmd->op));
		return 0;
	}
	if ((rc = final_check(&ps)) < 0)
		return rc;
	if ((rc = expand(&ps)) < 0) {
		ipt_cmd_free(cmd);
		return rc;
	}
	return 0;
}

void
ipt_cmd_free(struct ipt_cmd *cmd)
{
	free(cmd->rules);
	cmd->rules = NULL;
	cmd->nrules = 0;
}

int
ipt_split(const char *line, int *argc, char ***argvp, char *err,
	  size_t errlen)
{
	size_t len = strlen(line);
	char **argv;
	char *w, *ws;
	int n = 0;
	bool quote = false, esc = false, inword = false;

	/* one block: the pointers, then the words */
	argv = malloc((IPT_MAX_ARGS + 1) * sizeof(char *) + 2 * len + 2);
	if (!argv) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w = ws = (char *)(argv + IPT_MAX_ARGS + 1);
	for (const char *p = line;; p++) {
		char ch = *p;
		bool end = false;

		if (quote) {
			if (!ch) {
				free(argv);
				snprintf(err, errlen, "unterminated quote");
				return -EINVAL;
			}
			if (esc) {
				*w++ = ch;
				esc = false;
			} else if (ch == '\\') {
				esc = true;
			} else if (ch == '"') {
				quote = false;
				end = true; /* a closing quote ends the word */
			} else {
				*w++ = ch;
			}
			if (!end)
				continue;
		} else if (ch == '"') {
			quote = true;
			inword = true;
			continue;
		} else if (ch && ch != ' ' && ch != '\t' && ch != '\n' &&
			   ch != '\r') {
			*w++ = ch;
			inword = true;
			continue;
		}
		if (inword) {
			if (n >= IPT_MAX_ARGS) {
				free(argv);
				snprintf(err, errlen, "more than %d words",
					 IPT_MAX_ARGS);
				return -EINVAL;
			}
			*w++ = '\0';
			argv[n++] = ws;
			ws = w;
			inword = false;
		}
		if (!ch)
			break;
	}
	argv[n] = NULL;
	*argc = n;
	*argvp = argv;
	return 0;
}
