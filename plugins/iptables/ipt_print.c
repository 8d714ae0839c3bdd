/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ipt_print.c: -S, -L and iptables-save output as iptables 1.8.9
 * (legacy) prints them: iptables/iptables.c print_rule4(),
 * print_firewall(), print_header(), libxtables xtables_print_num() and
 * xtables_save_string(), and each extension's save() and print().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "ipt.h"
#include "ipt_names.h"

static void
save_string(FILE *f, const char *v)
{
	static const char plain[] = "_-0123456789abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t len = strspn(v, plain);

	if (len > 0 && v[len] == '\0') {
		fprintf(f, " %s", v);
		return;
	}
	fputs(" \"", f);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\' || *v == '\'')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

static const char *
ip_str(uint32_t a, char *buf)
{
	struct in_addr in = { .s_addr = htonl(a) };

	return inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

static void
tcpf(FILE *f, uint8_t flags)
{
	bool any = false;

	while (flags) {
		size_t i;

		for (i = 0; (flags & ipt_tcp_flag_names[i].flag) == 0; i++)
			;
		fprintf(f, "%s%s", any ? "," : "", ipt_tcp_flag_names[i].name);
		any = true;
		flags &= (uint8_t)~ipt_tcp_flag_names[i].flag;
	}
	if (!any)
		fputs("NONE", f);
}

static void
states(FILE *f, uint8_t m)
{
	static const struct { uint8_t bit; const char *name; } st[] = {
		{ FW_CT_INVALID, "INVALID" }, { FW_CT_NEW, "NEW" },
		{ FW_CT_RELATED, "RELATED" },
		{ FW_CT_ESTABLISHED, "ESTABLISHED" },
		{ FW_CT_UNTRACKED, "UNTRACKED" },
	};
	const char *sep = " ";

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (m & st[i].bit) {
			fprintf(f, "%s%s", sep, st[i].name);
			sep = ",";
		}
}

static void
addrtypes(FILE *f, uint8_t m)
{
	const char *sep = "";

	for (size_t i = 0; ipt_addrtype_names[i].name; i++)
		if (m & ipt_addrtype_names[i].bit) {
			fprintf(f, "%s%s", sep, ipt_addrtype_names[i].name);
			sep = ",";
		}
}

static void
range_ends(const struct fw_addr_match *m, uint32_t *lo, uint32_t *hi)
{
	const struct fw_pfx *last = &m->p[m->n ? m->n - 1 : 0];

	*lo = m->p[0].addr;
	*hi = last->addr + (last->len ? (uint32_t)((1ull << (32 - last->len)) - 1)
				      : 0xFFFFFFFFu);
}

static void
port_words(FILE *f, uint16_t port, const char *proto, bool numeric)
{
	struct servent *se;

	if (!numeric && (se = getservbyport(htons(port), proto))) {
		fputs(se->s_name, f);
		return;
	}
	fprintf(f, "%u", port);
}

static void
multi_list(FILE *f, const struct fw_port_match *m, const char *proto,
	   bool numeric)
{
	for (unsigned i = 0; i < m->n; i++) {
		if (i)
			fputc(',', f);
		port_words(f, m->r[i].lo, proto, numeric);
		if (m->r[i].lo != m->r[i].hi) {
			fputc(':', f);
			port_words(f, m->r[i].hi, proto, numeric);
		}
	}
}

static void
rate(FILE *f, const struct fw_limit *l, bool hashlimit)
{
	uint32_t n;
	char unit;

	ipt_rate_words(l->rate_ns / (hashlimit ? IPT_HLIMIT_NS : IPT_LIMIT_NS),
		       hashlimit ? IPT_HLIMIT_SCALE : IPT_LIMIT_SCALE, &n, &unit);
	fprintf(f, " %u/%s", n, ipt_rate_unit_name(unit));
}

static const char *
reject_name(enum fw_reject_with k)
{
	for (size_t i = 0; ipt_reject_names[i].name; i++)
		if (ipt_reject_names[i].kind == k)
			return ipt_reject_names[i].name;
	return "icmp-port-unreachable";
}

static void
save_ports(FILE *f, const char *opt, const struct fw_port_match *m)
{
	if (!m->set || (m->r[0].lo == 0 && m->r[0].hi == 65535))
		return;
	if (m->neg)
		fputs(" !", f);
	if (m->r[0].lo != m->r[0].hi)
		fprintf(f, " %s %u:%u", opt, m->r[0].lo, m->r[0].hi);
	else
		fprintf(f, " %s %u", opt, m->r[0].lo);
}

/* -m set's directions, "src,dst", as both -S and -L print them. */
static void
set_dirs(FILE *f, const struct fw_set_match *m)
{
	for (unsigned i = 0; i < m->ndirs; i++)
		fprintf(f, "%s%s", i ? "," : "", m->dirs[i] ? "dst" : "src");
}

static void
save_match(FILE *f, const struct fw_rule *r, int mod)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	uint32_t lo, hi;

	fprintf(f, " -m %s", ipt_mod_name(mod));
	switch (mod) {
	case IPT_M_TCP:
	case IPT_M_UDP:
		if (!(r->spell_flags & IPT_SP_MPORT_S))
			save_ports(f, "--sport", &r->sport);
		if (!(r->spell_flags & IPT_SP_MPORT_D))
			save_ports(f, "--dport", &r->dport);
		if (mod == IPT_M_TCP && r->tcpflags.set) {
			fputs(r->tcpflags.neg ? " ! --tcp-flags " :
			      " --tcp-flags ", f);
			tcpf(f, r->tcpflags.mask);
			fputc(' ', f);
			tcpf(f, r->tcpflags.cmp);
		}
		break;
	case IPT_M_ICMP:
		if (!r->icmp.set)
			break;
		if (r->icmp.neg)
			fputs(" !", f);
		if (r->icmp.type == 0xFF)
			fputs(" --icmp-type any", f);
		else if (r->icmp.code >= 0)
			fprintf(f, " --icmp-type %u/%d", r->icmp.type,
				r->icmp.code);
		else
			fprintf(f, " --icmp-type %u", r->icmp.type);
		break;
	case IPT_M_MULTIPORT: {
		const struct fw_port_match *m = r->spell_flags & IPT_SP_MPORT_S ?
						&r->sport : &r->dport;

		if (m->neg)
			fputs(" !", f);
		fputs(r->spell_flags & IPT_SP_MPORT_S ? " --sports " :
		      r->ports_either ? " --ports " : " --dports ", f);
		multi_list(f, m, "tcp", true);
		break;
	}
	case IPT_M_CONNTRACK:
	case IPT_M_STATE:
		if (r->ctstate.neg)
			fputs(" !", f);
		fputs(mod == IPT_M_STATE ? " --state" : " --ctstate", f);
		states(f, r->ctstate.mask);
		break;
	case IPT_M_COMMENT:
		fputs(" --comment", f);
		save_string(f, r->comment);
		break;
	case IPT_M_IPRANGE:
		if (r->spell_flags & IPT_SP_RANGE_S) {
			range_ends(&r->src, &lo, &hi);
			fprintf(f, "%s --src-range %s-%s", r->src.neg ? " !" : "",
				ip_str(lo, a), ip_str(hi, b));
		}
		if (r->spell_flags & IPT_SP_RANGE_D) {
			range_ends(&r->dst, &lo, &hi);
			fprintf(f, "%s --dst-range %s-%s", r->dst.neg ? " !" : "",
				ip_str(lo, a), ip_str(hi, b));
		}
		break;
	case IPT_M_ADDRTYPE:
		if (r->srctype.set) {
			fputs(r->srctype.neg ? " ! --src-type " : " --src-type ", f);
			addrtypes(f, r->srctype.mask);
		}
		if (r->dsttype.set) {
			fputs(r->dsttype.neg ? " ! --dst-type " : " --dst-type ", f);
			addrtypes(f, r->dsttype.mask);
		}
		break;
	case IPT_M_SET:
		fprintf(f, "%s --match-set %s ", r->mset.neg ? " !" : "",
			r->mset.name);
		set_dirs(f, &r->mset);
		break;
	case IPT_M_LIMIT:
		fputs(" --limit", f);
		rate(f, &r->limit, false);
		if (r->limit.burst != 5)
			fprintf(f, " --limit-burst %u", r->limit.burst);
		break;
	case IPT_M_HASHLIMIT:
		fputs(r->limit.above ? " --hashlimit-above" :
		      " --hashlimit-upto", f);
		rate(f, &r->limit, true);
		fprintf(f, " --hashlimit-burst %u", r->limit.burst);
		if (r->limit.per_src)
			fputs(" --hashlimit-mode srcip", f);
		fprintf(f, " --hashlimit-name %s", r->limit.name);
		if (r->limit.size)
			fprintf(f, " --hashlimit-htable-size %u", r->limit.size);
		if (r->limit.expire_ms)
			fprintf(f, " --hashlimit-htable-expire %u",
				r->limit.expire_ms);
		break;
	}
}

static void
save_addr(FILE *f, const char *opt, const struct fw_addr_match *m)
{
	char a[INET_ADDRSTRLEN];

	if (!m->set || (m->p[0].len == 0 && !m->neg))
		return;
	fprintf(f, "%s %s %s/%u", m->neg ? " !" : "", opt,
		ip_str(m->p[0].addr, a), m->p[0].len);
}

static void
save_iface(FILE *f, char letter, const struct fw_if_match *m)
{
	if (!m->set || !strcmp(m->name, "+"))
		return;
	fprintf(f, "%s -%c %s", m->neg ? " !" : "", letter, m->name);
}

void
ipt_print_rule(FILE *f, const char *chain, const struct fw_rule *r,
	       enum ipt_cnt_style style, uint64_t pkts, uint64_t bytes)
{
	if (style == IPT_CNT_SAVE)
		fprintf(f, "[%llu:%llu] ", (unsigned long long)pkts,
			(unsigned long long)bytes);
	fprintf(f, "-A %s", chain);
	if (!(r->spell_flags & IPT_SP_RANGE_S))
		save_addr(f, "-s", &r->src);
	if (!(r->spell_flags & IPT_SP_RANGE_D))
		save_addr(f, "-d", &r->dst);
	save_iface(f, 'i', &r->iif);
	save_iface(f, 'o', &r->oif);
	if (r->proto.set) {
		const char *name = ipt_proto_name(r->proto.proto);

		fputs(r->proto.neg ? " ! -p " : " -p ", f);
		if (name)
			fputs(name, f);
		else
			fprintf(f, "%u", r->proto.proto);
	}
	for (unsigned i = 0; i < sizeof(r->spell_order) && r->spell_order[i]; i++)
		save_match(f, r, r->spell_order[i]);
	if (style == IPT_CNT_S)
		fprintf(f, " -c %llu %llu", (unsigned long long)pkts,
			(unsigned long long)bytes);
	switch (r->target) {
	case FW_T_NONE:
		break;
	case FW_T_ACCEPT:
		fputs(" -j ACCEPT", f);
		break;
	case FW_T_DROP:
		fputs(" -j DROP", f);
		break;
	case FW_T_RETURN:
		fputs(" -j RETURN", f);
		break;
	case FW_T_JUMP:
		fprintf(f, " -j %s", r->jump);
		break;
	case FW_T_GOTO:
		fprintf(f, " -g %s", r->jump);
		break;
	case FW_T_REJECT:
		fprintf(f, " -j REJECT --reject-with %s",
			reject_name(r->reject_with));
		break;
	case FW_T_LOG:
		fputs(" -j LOG", f);
		if (*r->log_prefix) {
			fputs(" --log-prefix", f);
			save_string(f, r->log_prefix);
		}
		if (r->log_level != 4)
			fprintf(f, " --log-level %u", r->log_level);
		break;
	}
	fputc('\n', f);
}

static const char *
policy_name(enum fw_target t)
{
	return t == FW_T_DROP ? "DROP" : "ACCEPT";
}

static int
find_chain(const struct ipt_table *t, const char *chain, uint32_t *idx,
	   char *err, size_t errlen)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (!strcmp(t->chains[i].name, chain)) {
			*idx = i;
			return 0;
		}
	snprintf(err, errlen, "chain `%s' does not exist", chain);
	return -ENOENT;
}

/*
 * The chains a -S or -L prints ([*from, *to)): all of them, or chain's
 * alone; 1 when num asks for one rule of it (checked to exist), 0 for
 * chains, or a negative errno with err set.
 */
static int
select_chains(const struct ipt_table *t, const char *verb, const char *chain,
	      uint32_t num, uint32_t *from, uint32_t *to, char *err,
	      size_t errlen)
{
	const struct ipt_chain *c;
	int rc;

	*from = 0;
	*to = t->n;
	if (!chain || !*chain)
		return 0;
	if ((rc = find_chain(t, chain, from, err, errlen)) < 0)
		return rc;
	*to = *from + 1;
	if (!num)
		return 0;
	c = &t->chains[*from];
	if (num > c->n) {
		snprintf(err, errlen, "%s %s %u: index of rule past the end "
			 "(%u rules)", verb, chain, num, c->n);
		return -ENOENT;
	}
	return 1;
}

int
ipt_print_S(FILE *f, const struct ipt_table *t, const char *chain,
	    uint32_t num, unsigned fmt, char *err, size_t errlen)
{
	bool v = fmt & IPT_FMT_VERBOSE;
	uint32_t from = 0, to = t->n, i, k;
	int rc;

	if ((rc = select_chains(t, "-S", chain, num, &from, &to, err,
				errlen)) < 0)
		return rc;
	if (rc) {
		const struct ipt_chain *c = &t->chains[from];
		const struct ipt_rule *r = &c->rules[num - 1];

		ipt_print_rule(f, c->name, &r->r, v ? IPT_CNT_S : IPT_CNT_NONE,
			       r->pkts, r->bytes);
		return 0;
	}
	for (i = from; i < to; i++) {
		const struct ipt_chain *c = &t->chains[i];

		if (!c->builtin) {
			fprintf(f, "-N %s\n", c->name);
			continue;
		}
		fprintf(f, "-P %s %s", c->name, policy_name(c->policy));
		if (v)
			fprintf(f, " -c %llu %llu", (unsigned long long)c->pkts,
				(unsigned long long)c->bytes);
		fputc('\n', f);
	}
	for (i = from; i < to; i++) {
		const struct ipt_chain *c = &t->chains[i];

		for (k = 0; k < c->n; k++)
			ipt_print_rule(f, c->name, &c->rules[k].r,
				       v ? IPT_CNT_S : IPT_CNT_NONE,
				       c->rules[k].pkts, c->rules[k].bytes);
	}
	return 0;
}

/* xtables_print_num(); notable: the policy line's form. */
static void
print_num(FILE *f, uint64_t n, unsigned fmt, bool notable)
{
	static const char sfx[] = "KMGT";
	unsigned long long v = n;

	if (fmt & IPT_FMT_EXACT) {
		fprintf(f, notable ? "%llu " : "%8llu ", v);
		return;
	}
	if (v <= 99999) {
		fprintf(f, notable ? "%llu " : "%5llu ", v);
		return;
	}
	for (int i = 0; i < 4; i++) {
		v = (v + 500) / 1000;
		if (v <= 9999 || i == 3) {
			fprintf(f, notable ? "%llu%c " : "%4llu%c ", v, sfx[i]);
			return;
		}
	}
}

static void
addr_col(FILE *f, const struct fw_addr_match *m, bool ip_part, bool numeric)
{
	char a[INET_ADDRSTRLEN], buf[64];
	bool set = ip_part && m->set;

	fputc(set && m->neg ? '!' : ' ', f);
	if ((!set || m->p[0].len == 0) && !numeric) {
		fprintf(f, "%-19s ", "anywhere");
		return;
	}
	if (!set)
		snprintf(buf, sizeof(buf), "0.0.0.0/0");
	else if (m->p[0].len == 32)
		snprintf(buf, sizeof(buf), "%s", ip_str(m->p[0].addr, a));
	else
		snprintf(buf, sizeof(buf), "%s/%u", ip_str(m->p[0].addr, a),
			 m->p[0].len);
	fprintf(f, "%-19s ", buf);
}

static void
print_ports_L(FILE *f, const char *name, const struct fw_port_match *m,
	      const char *proto, bool numeric)
{
	uint16_t lo, hi;

	if (!m->set)
		return;
	lo = m->r[0].lo;
	hi = m->r[0].hi;
	if (lo == 0 && hi == 0xFFFF && !m->neg)
		return;
	fprintf(f, " %s", name);
	if (lo == hi) {
		fprintf(f, ":%s", m->neg ? "!" : "");
		port_words(f, lo, proto, numeric);
	} else {
		fprintf(f, "s:%s", m->neg ? "!" : "");
		port_words(f, lo, proto, numeric);
		fputc(':', f);
		port_words(f, hi, proto, numeric);
	}
}

static void
print_match_L(FILE *f, const struct fw_rule *r, int mod, bool numeric)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	uint32_t lo, hi;
	const char *proto = r->proto.proto == IPPROTO_UDP ? "udp" : "tcp";

	switch (mod) {
	case IPT_M_TCP:
	case IPT_M_UDP:
		fputs(mod == IPT_M_TCP ? " tcp" : " udp", f);
		if (!(r->spell_flags & IPT_SP_MPORT_S))
			print_ports_L(f, "spt", &r->sport, proto, numeric);
		if (!(r->spell_flags & IPT_SP_MPORT_D))
			print_ports_L(f, "dpt", &r->dport, proto, numeric);
		if (mod == IPT_M_TCP && r->tcpflags.set &&
		    (r->tcpflags.mask || r->tcpflags.neg)) {
			fprintf(f, " flags:%s", r->tcpflags.neg ? "!" : "");
			if (numeric) {
				fprintf(f, "0x%02X/0x%02X", r->tcpflags.mask,
					r->tcpflags.cmp);
			} else {
				tcpf(f, r->tcpflags.mask);
				fputc('/', f);
				tcpf(f, r->tcpflags.cmp);
			}
		}
		break;
	case IPT_M_ICMP: {
		int cmin = r->icmp.code < 0 ? 0 : r->icmp.code;
		int cmax = r->icmp.code < 0 ? 0xFF : r->icmp.code;

		fputs(" icmp", f);
		if (!r->icmp.set)
			break;
		if (!numeric)
			for (size_t i = 0; ipt_icmp_names[i].name; i++) {
				const struct ipt_icmp_name *n = &ipt_icmp_names[i];

				if (n->type == r->icmp.type &&
				    n->code_min == cmin && n->code_max == cmax) {
					fprintf(f, " %s%s", r->icmp.neg ? "!" : "",
						n->name);
					return;
				}
			}
		if (r->icmp.neg)
			fputs(" !", f);
		fprintf(f, "type %u", r->icmp.type);
		if (cmin == cmax)
			fprintf(f, " code %d", cmin);
		break;
	}
	case IPT_M_MULTIPORT: {
		const struct fw_port_match *m = r->spell_flags & IPT_SP_MPORT_S ?
						&r->sport : &r->dport;

		fprintf(f, " multiport %s",
			r->spell_flags & IPT_SP_MPORT_S ? "sports " :
			r->ports_either ? "ports " : "dports ");
		if (m->neg)
			fputs(" !", f);
		multi_list(f, m, proto, numeric);
		break;
	}
	case IPT_M_CONNTRACK:
	case IPT_M_STATE:
		if (r->ctstate.neg)
			fputs(" !", f);
		fputs(mod == IPT_M_STATE ? " state" : " ctstate", f);
		states(f, r->ctstate.mask);
		break;
	case IPT_M_COMMENT:
		fprintf(f, " /* %s */", r->comment);
		break;
	case IPT_M_IPRANGE:
		if (r->spell_flags & IPT_SP_RANGE_S) {
			range_ends(&r->src, &lo, &hi);
			fprintf(f, " source IP range%s %s-%s",
				r->src.neg ? " !" : "", ip_str(lo, a),
				ip_str(hi, b));
		}
		if (r->spell_flags & IPT_SP_RANGE_D) {
			range_ends(&r->dst, &lo, &hi);
			fprintf(f, " destination IP range%s %s-%s",
				r->dst.neg ? " !" : "", ip_str(lo, a),
				ip_str(hi, b));
		}
		break;
	case IPT_M_ADDRTYPE:
		fputs(" ADDRTYPE match", f);
		if (r->srctype.set) {
			fprintf(f, " src-type %s", r->srctype.neg ? "!" : "");
			addrtypes(f, r->srctype.mask);
		}
		if (r->dsttype.set) {
			fprintf(f, " dst-type %s", r->dsttype.neg ? "!" : "");
			addrtypes(f, r->dsttype.mask);
		}
		break;
	case IPT_M_SET:
		fprintf(f, "%s match-set %s ", r->mset.neg ? " !" : "",
			r->mset.name);
		set_dirs(f, &r->mset);
		break;
	case IPT_M_LIMIT:
		fputs(" limit: avg", f);
		rate(f, &r->limit, false);
		fprintf(f, " burst %u", r->limit.burst);
		break;
	case IPT_M_HASHLIMIT:
		fprintf(f, " limit: %s", r->limit.above ? "above" : "up to");
		rate(f, &r->limit, true);
		fprintf(f, " burst %u", r->limit.burst);
		if (r->limit.per_src)
			fputs(" mode srcip", f);
		if (r->limit.size)
			fprintf(f, " htable-size %u", r->limit.size);
		if (r->limit.expire_ms)
			fprintf(f, " htable-expire %u", r->limit.expire_ms);
		break;
	}
}

void
ipt_print_matches_L(FILE *f, const struct fw_rule *r, bool numeric)
{
	if (r->target == FW_T_GOTO)
		fputs("[goto] ", f);
	for (unsigned i = 0; i < sizeof(r->spell_order) && r->spell_order[i]; i++)
		print_match_L(f, r, r->spell_order[i], numeric);
	if (r->target == FW_T_REJECT)
		fprintf(f, " reject-with %s", reject_name(r->reject_with));
	if (r->target == FW_T_LOG) {
		if (numeric)
			fprintf(f, " LOG flags 0 level %u", r->log_level);
		else
			fprintf(f, " LOG level %s",
				ipt_log_level_out[r->log_level & 7]);
		if (*r->log_prefix)
			fprintf(f, " prefix \"%s\"", r->log_prefix);
	}
}

static const char *
target_col(const struct fw_rule *r)
{
	switch (r->target) {
	case FW_T_ACCEPT: return "ACCEPT";
	case FW_T_DROP: return "DROP";
	case FW_T_REJECT: return "REJECT";
	case FW_T_LOG: return "LOG";
	case FW_T_RETURN: return "RETURN";
	case FW_T_JUMP:
	case FW_T_GOTO: return r->jump;
	default: return "";
	}
}

static void
print_row(FILE *f, const struct ipt_rule *ir, uint32_t num, unsigned fmt)
{
	const struct fw_rule *r = &ir->r;
	bool numeric = fmt & IPT_FMT_NUMERIC;
	char iface[FW_IFNAME_MAX + 2];

	if (fmt & IPT_FMT_LINENUM)
		fprintf(f, "%-4u ", num);
	if (fmt & IPT_FMT_VERBOSE) {
		print_num(f, ir->pkts, fmt, false);
		print_num(f, ir->bytes, fmt, false);
	}
	fprintf(f, "%-9s ", target_col(r));
	fputc(r->proto.set && r->proto.neg ? '!' : ' ', f);
	{
		const char *name = NULL;

		if (!numeric)
			name = r->proto.set ? ipt_proto_name(r->proto.proto) :
					      "all";
		if (name)
			fprintf(f, "%-5s", name);
		else
			fprintf(f, "%-5u", r->proto.set ? r->proto.proto : 0);
	}
	fputs("-- ", f);
	if (fmt & IPT_FMT_VERBOSE) {
		const struct fw_if_match *m[2] = { &r->iif, &r->oif };

		for (int k = 0; k < 2; k++) {
			snprintf(iface, sizeof(iface), "%s%s",
				 m[k]->set && m[k]->neg ? "!" : "",
				 m[k]->set ? m[k]->name :
				 numeric ? "*" : "any");
			fprintf(f, k ? "%-6s " : " %-6s ", iface);
		}
	}
	addr_col(f, &r->src, !(r->spell_flags & IPT_SP_RANGE_S), numeric);
	addr_col(f, &r->dst, !(r->spell_flags & IPT_SP_RANGE_D), numeric);
	ipt_print_matches_L(f, r, numeric);
	fputc('\n', f);
}

static void
print_header(FILE *f, const struct ipt_table *t, const struct ipt_chain *c,
	     unsigned fmt)
{
	bool v = fmt & IPT_FMT_VERBOSE;

	fprintf(f, "Chain %s", c->name);
	if (c->builtin) {
		fprintf(f, " (policy %s", policy_name(c->policy));
		if (v) {
			fputc(' ', f);
			print_num(f, c->pkts, fmt, true);
			fputs("packets, ", f);
			print_num(f, c->bytes, fmt, true);
			fputs("bytes", f);
		}
		fputs(")\n", f);
	} else {
		fprintf(f, " (%u references)\n", ipt_table_refs(t, c->name));
	}
	if (fmt & IPT_FMT_LINENUM)
		fprintf(f, "%-4s ", "num");
	if (v) {
		if (fmt & IPT_FMT_EXACT)
			fprintf(f, "%8s %10s ", "pkts", "bytes");
		else
			fprintf(f, "%5s %5s ", "pkts", "bytes");
	}
	fprintf(f, "%-9s ", "target");
	fputs(" prot opt", f);
	if (v)
		fprintf(f, " %-6s %-6s ", "in", "out");
	fprintf(f, " %-19s ", "source");
	fprintf(f, " %-19s ", "destination");
	fputc('\n', f);
}

int
ipt_print_L(FILE *f, const struct ipt_table *t, const char *chain,
	    uint32_t num, unsigned fmt, char *err, size_t errlen)
{
	uint32_t from = 0, to = t->n, i, k;
	int rc;

	if ((rc = select_chains(t, "-L", chain, num, &from, &to, err,
				errlen)) < 0)
		return rc;
	if (rc) {
		print_row(f, &t->chains[from].rules[num - 1], num, fmt);
		return 0;
	}
	for (i = from; i < to; i++) {
		const struct ipt_chain *c = &t->chains[i];

		if (i != from)
			fputc('\n', f);
		print_header(f, t, c, fmt);
		for (k = 0; k < c->n; k++)
			print_row(f, &c->rules[k], k + 1, fmt);
	}
	return 0;
}

void
ipt_save(FILE *f, const struct ipt_table *t, bool counters)
{
	uint32_t i, k;

	fputs("# Generated by cubicle-iptables-save\n*filter\n", f);
	for (i = 0; i < t->n; i++) {
		const struct ipt_chain *c = &t->chains[i];

		fprintf(f, ":%s %s [%llu:%llu]\n", c->name,
			c->builtin ? policy_name(c->policy) : "-",
			(unsigned long long)c->pkts, (unsigned long long)c->bytes);
	}
	for (i = 0; i < t->n; i++) {
		const struct ipt_chain *c = &t->chains[i];

		for (k = 0; k < c->n; k++)
			ipt_print_rule(f, c->name, &c->rules[k].r,
				       counters ? IPT_CNT_SAVE : IPT_CNT_NONE,
				       c->rules[k].pkts, c->rules[k].bytes);
	}
	fputs("COMMIT\n# Completed\n", f);
}
