/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ipt_save.c: iptables-save text in (iptables-restore): "*table",
 * ":CHAIN POLICY [pkts:bytes]", rule lines with an optional
 * "[pkts:bytes]" prefix, "COMMIT".  The output side is ipt_save() in
 * ipt_print.c.  All or nothing: the new table is built aside and swapped
 * in at the end.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ipt.h"

static int
rerr(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "line %u: ", line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
parse_counters(const char *s, uint64_t *p, uint64_t *b, const char **end)
{
	char *e;

	if (*s != '[')
		return -EINVAL;
	s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	*p = strtoull(s, &e, 10);
	if (*e != ':' || !isdigit((unsigned char)e[1]))
		return -EINVAL;
	*b = strtoull(e + 1, &e, 10);
	if (*e != ']')
		return -EINVAL;
	*end = e + 1;
	return 0;
}

/* ":NAME POLICY [p:b]" */
static int
chain_line(struct ipt_table *t, char *l, unsigned line, char *err,
	   size_t errlen)
{
	char *name = strtok(l + 1, " \t"), *pol = strtok(NULL, " \t");
	char *cnt = strtok(NULL, " \t"), *extra = strtok(NULL, " \t");
	struct ipt_chain *c;
	uint64_t p = 0, b = 0;
	const char *end;

	if (!name || !pol)
		return rerr(err, errlen, line, "chain line needs a name and a "
			    "policy (`:NAME POLICY [p:b]')");
	if (extra || (cnt && (parse_counters(cnt, &p, &b, &end) < 0 || *end)))
		return rerr(err, errlen, line, "bad chain line (`:NAME POLICY "
			    "[p:b]')");
	c = ipt_table_chain(t, name);
	if (c && c->builtin) {
		if (!strcmp(pol, "ACCEPT"))
			c->policy = FW_T_ACCEPT;
		else if (!strcmp(pol, "DROP"))
			c->policy = FW_T_DROP;
		else
			return rerr(err, errlen, line, "chain %s: bad policy "
				    "`%s' (ACCEPT or DROP)", name, pol);
		c->pkts = p;
		c->bytes = b;
		return 0;
	}
	if (strcmp(pol, "-"))
		return rerr(err, errlen, line, "chain %s: a user-defined chain "
			    "takes `-', not a policy `%s'", name, pol);
	if (c) {
		c->n = 0; /* as iptables-restore --noflush: flushed */
		return 0;
	}
	{
		char *argv[2] = { "-N", name };
		struct ipt_cmd cmd;
		char e[256];
		int rc;

		if ((rc = ipt_parse(2, argv, &cmd, e, sizeof(e))) < 0 ||
		    (rc = ipt_table_exec(t, &cmd, NULL, e, sizeof(e))) < 0)
			return rerr(err, errlen, line, "%s", e);
	}
	return 0;
}

static int
rule_line(struct ipt_table *t, const char *l, unsigned line, char *err,
	  size_t errlen)
{
	uint64_t p = 0, b = 0;
	bool cnt = false;
	struct ipt_cmd cmd;
	char e[512];
	char **argv = NULL;
	int argc, rc;

	if (*l == '[') {
		if (parse_counters(l, &p, &b, &l) < 0)
			return rerr(err, errlen, line, "bad counters (`[pkts:"
				    "bytes]')");
		cnt = true;
	}
	if ((rc = ipt_split(l, &argc, &argv, e, sizeof(e))) < 0)
		return rerr(err, errlen, line, "%s", e);
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--table")) {
			free(argv);
			return rerr(err, errlen, line, "-t in a restore line: "
				    "the table is the `*' line's");
		}
	rc = ipt_parse(argc, argv, &cmd, e, sizeof(e));
	free(argv);
	if (rc < 0)
		return rerr(err, errlen, line, "%s", e);
	if (cmd.op == IPT_OP_LIST || cmd.op == IPT_OP_LISTRULES) {
		ipt_cmd_free(&cmd);
		return rerr(err, errlen, line, "-L and -S do not belong in a "
			    "restore file");
	}
	if (cnt) {
		cmd.counters = true;
		cmd.pkts = p;
		cmd.bytes = b;
	}
	rc = ipt_table_exec(t, &cmd, NULL, e, sizeof(e));
	ipt_cmd_free(&cmd);
	if (rc < 0)
		return rerr(err, errlen, line, "%s", e);
	return 0;
}

int
ipt_restore(struct ipt_table *t, const char *text, bool noflush, FILE *warn,
	    char *err, size_t errlen)
{
	struct ipt_table nt;
	char *buf, *l, *next;
	char table[64] = "";
	unsigned line = 0, table_line = 0, other_rules = 0;
	bool filter_seen = false;
	int rc;

	rc = noflush ? ipt_table_copy(&nt, t) : ipt_table_init(&nt);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	buf = strdup(text);
	if (!buf) {
		ipt_table_free(&nt);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = 0;
	for (l = buf; l; l = next) {
		size_t len;

		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		line++;
		len = strlen(l);
		while (len && (l[len - 1] == '\r' || l[len - 1] == ' ' ||
			       l[len - 1] == '\t'))
			l[--len] = '\0';
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == '#')
			continue;
		if (*l == '*') {
			if (*table) {
				rc = rerr(err, errlen, line, "COMMIT expected "
					  "before `%s' (table `%s' of line %u)",
					  l, table, table_line);
				break;
			}
			if (strlen(l + 1) >= sizeof(table) || !l[1]) {
				rc = rerr(err, errlen, line, "bad table line");
				break;
			}
			strcpy(table, l + 1);
			table_line = line;
			other_rules = 0;
			if (!strcmp(table, "filter")) {
				if (filter_seen) {
					rc = rerr(err, errlen, line, "table "
						  "`filter' given twice");
					break;
				}
				filter_seen = true;
			} else if (strcmp(table, "nat") && strcmp(table, "mangle") &&
				   strcmp(table, "raw") &&
				   strcmp(table, "security")) {
				rc = rerr(err, errlen, line, "unknown table `%s'",
					  table);
				break;
			}
			continue;
		}
		if (!*table) {
			rc = rerr(err, errlen, line, "`%s' outside a table "
				  "(`*filter' expected first)", l);
			break;
		}
		if (!strcmp(l, "COMMIT")) {
			if (strcmp(table, "filter") && warn)
				fprintf(warn, "warning: table `%s' (line %u) is "
					"empty: skipped\n", table, table_line);
			*table = '\0';
			continue;
		}
		if (strcmp(table, "filter")) {
			if (*l == ':')
				continue;
			other_rules++;
			rc = rerr(err, errlen, line, "table `%s' is not supported "
				  "and is not empty: only the filter table is "
				  "applied%s", table, !strcmp(table, "nat") ?
				  " (NAT is the nat service's)" : "");
			break;
		}
		if (*l == ':')
			rc = chain_line(&nt, l, line, err, errlen);
		else
			rc = rule_line(&nt, l, line, err, errlen);
		if (rc < 0)
			break;
	}
	if (!rc && *table)
		rc = rerr(err, errlen, line, "COMMIT expected (table `%s' of "
			  "line %u)", table, table_line);
	free(buf);
	if (rc < 0) {
		ipt_table_free(&nt);
		return rc;
	}
	ipt_table_free(t);
	*t = nt;
	return 0;
}
