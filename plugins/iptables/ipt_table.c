/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ipt_table.c: the filter table in memory and the commands applied to
 * it, with iptables' checks (libiptc's and the kernel's) and named
 * errors.  Every command checks everything before changing anything.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ipt.h"

static const char *const builtins[] = { "INPUT", "FORWARD", "OUTPUT" };

static int
terr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int
ipt_table_init(struct ipt_table *t)
{
	memset(t, 0, sizeof(*t));
	t->chains = calloc(3, sizeof(*t->chains));
	if (!t->chains)
		return -ENOMEM;
	for (int i = 0; i < 3; i++) {
		strcpy(t->chains[i].name, builtins[i]);
		t->chains[i].builtin = true;
		t->chains[i].policy = FW_T_ACCEPT;
	}
	t->n = 3;
	return 0;
}

void
ipt_table_free(struct ipt_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n; i++)
		free(t->chains[i].rules);
	free(t->chains);
	t->chains = NULL;
	t->n = 0;
}

int
ipt_table_copy(struct ipt_table *dst, const struct ipt_table *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->chains = calloc(src->n ? src->n : 1, sizeof(*dst->chains));
	if (!dst->chains)
		return -ENOMEM;
	for (uint32_t i = 0; i < src->n; i++) {
		const struct ipt_chain *s = &src->chains[i];
		struct ipt_chain *d = &dst->chains[i];

		*d = *s;
		d->rules = NULL;
		d->cap = s->n;
		if (s->n) {
			d->rules = malloc(s->n * sizeof(*d->rules));
			if (!d->rules) {
				dst->n = i;
				ipt_table_free(dst);
				return -ENOMEM;
			}
			memcpy(d->rules, s->rules, s->n * sizeof(*d->rules));
		}
		dst->n = i + 1;
	}
	return 0;
}

struct ipt_chain *
ipt_table_chain(const struct ipt_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (!strcmp(t->chains[i].name, name))
			return &t->chains[i];
	return NULL;
}

uint32_t
ipt_table_refs(const struct ipt_table *t, const char *name)
{
	uint32_t refs = 0;

	for (uint32_t i = 0; i < t->n; i++)
		for (uint32_t k = 0; k < t->chains[i].n; k++) {
			const struct fw_rule *r = &t->chains[i].rules[k].r;

			if ((r->target == FW_T_JUMP || r->target == FW_T_GOTO) &&
			    !strcmp(r->jump, name))
				refs++;
		}
	return refs;
}

static int
reserve(struct ipt_chain *c, uint32_t more)
{
	struct ipt_rule *nr;
	uint32_t cap;

	if (c->n + more <= c->cap)
		return 0;
	cap = c->cap ? c->cap : 16;
	while (cap < c->n + more)
		cap *= 2;
	nr = realloc(c->rules, cap * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	c->rules = nr;
	c->cap = cap;
	return 0;
}

static bool
same_rule(const struct fw_rule *a, const struct fw_rule *b)
{
	struct fw_rule x = *a, y = *b;

	x.slot = y.slot = 0;
	return !memcmp(&x, &y, sizeof(x));
}

static int
find_rule(const struct ipt_chain *c, const struct fw_rule *r)
{
	for (uint32_t k = 0; k < c->n; k++)
		if (same_rule(&c->rules[k].r, r))
			return (int)k;
	return -1;
}

static int
cmp_chain(const void *a, const void *b)
{
	return strcmp(((const struct ipt_chain *)a)->name,
		      ((const struct ipt_chain *)b)->name);
}

static void
sort_users(struct ipt_table *t)
{
	if (t->n > 3)
		qsort(t->chains + 3, t->n - 3, sizeof(*t->chains), cmp_chain);
}

/* The jumps of new rules go to existing user chains. */
static int
check_jumps(const struct ipt_table *t, const struct ipt_cmd *c,
	    const struct ipt_chain *ch, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < c->nrules; i++) {
		const struct fw_rule *r = &c->rules[i];
		const struct ipt_chain *to;

		if (r->target != FW_T_JUMP && r->target != FW_T_GOTO)
			continue;
		to = ipt_table_chain(t, r->jump);
		if (!to)
			return terr(err, errlen, -ENOENT, "Couldn't load target "
				    "`%s': no such chain (targets: ACCEPT, DROP, "
				    "REJECT, LOG, RETURN, or a user chain)",
				    r->jump);
		if (to->builtin)
			return terr(err, errlen, -EINVAL, "-j %s: cannot jump "
				    "to a built-in chain", r->jump);
		if (to == ch)
			return terr(err, errlen, -ELOOP, "-j %s in chain %s: "
				    "a chain loop", r->jump, ch->name);
	}
	return 0;
}

static void
set_counters(struct ipt_rule *ir, const struct ipt_cmd *c)
{
	ir->pkts = c->counters ? c->pkts : 0;
	ir->bytes = c->counters ? c->bytes : 0;
}

int
ipt_table_exec(struct ipt_table *t, const struct ipt_cmd *c, FILE *out,
	       char *err, size_t errlen)
{
	struct ipt_chain *ch = NULL;
	uint32_t i;
	int rc;

	if (*c->chain) {
		ch = ipt_table_chain(t, c->chain);
		if (!ch && c->op != IPT_OP_NEWCHAIN)
			return terr(err, errlen, -ENOENT, "chain `%s' does not "
				    "exist", c->chain);
	}
	switch (c->op) {
	case IPT_OP_APPEND:
	case IPT_OP_INSERT:
		if ((rc = check_jumps(t, c, ch, err, errlen)) < 0)
			return rc;
		if (ch->n + c->nrules > FW_MAX_RULES)
			return terr(err, errlen, -ENOSPC, "chain %s: more than "
				    "%d rules (the cap)", ch->name, FW_MAX_RULES);
		if (c->op == IPT_OP_INSERT && (c->num ? c->num : 1) > ch->n + 1)
			return terr(err, errlen, -ENOENT, "-I %s %u: index of "
				    "insertion too big (%u rules)", ch->name,
				    c->num, ch->n);
		if (reserve(ch, c->nrules) < 0)
			return terr(err, errlen, -ENOMEM, "out of memory");
		for (i = 0; i < c->nrules; i++) {
			uint32_t at = c->op == IPT_OP_APPEND ? ch->n :
				      (c->num ? c->num : 1) - 1;

			/* -I puts each rule at the position: as iptables,
			 * a list's rules end up in reverse order. */
			memmove(&ch->rules[at + 1], &ch->rules[at],
				(ch->n - at) * sizeof(*ch->rules));
			ch->rules[at].r = c->rules[i];
			set_counters(&ch->rules[at], c);
			ch->n++;
		}
		return 0;
	case IPT_OP_DELETE:
	case IPT_OP_CHECK: {
		int idx[IPT_MAX_EXPAND];

		for (i = 0; i < c->nrules; i++) {
			idx[i] = find_rule(ch, &c->rules[i]);
			if (idx[i] < 0)
				return terr(err, errlen, -ENOENT, "Bad rule (does "
					    "a matching rule exist in that "
					    "chain?)");
		}
		if (c->op == IPT_OP_CHECK)
			return 0;
		for (i = 0; i < c->nrules; i++) {
			int k = find_rule(ch, &c->rules[i]);

			if (k < 0) /* a list naming one rule twice */
				return terr(err, errlen, -ENOENT, "Bad rule "
					    "(does a matching rule exist in "
					    "that chain?)");
			memmove(&ch->rules[k], &ch->rules[k + 1],
				(ch->n - k - 1) * sizeof(*ch->rules));
			ch->n--;
		}
		return 0;
	}
	case IPT_OP_DELNUM:
		if (c->num > ch->n)
			return terr(err, errlen, -ENOENT, "-D %s %u: index of "
				    "deletion too big (%u rules)", ch->name,
				    c->num, ch->n);
		memmove(&ch->rules[c->num - 1], &ch->rules[c->num],
			(ch->n - c->num) * sizeof(*ch->rules));
		ch->n--;
		return 0;
	case IPT_OP_REPLACE:
		if (c->nrules != 1)
			return terr(err, errlen, -EINVAL, "-R: one rule only "
				    "(no -s/-d lists)");
		if (c->num > ch->n)
			return terr(err, errlen, -ENOENT, "-R %s %u: index of "
				    "replacement too big (%u rules)", ch->name,
				    c->num, ch->n);
		if ((rc = check_jumps(t, c, ch, err, errlen)) < 0)
			return rc;
		ch->rules[c->num - 1].r = c->rules[0];
		set_counters(&ch->rules[c->num - 1], c);
		return 0;
	case IPT_OP_FLUSH:
		for (i = 0; i < t->n; i++)
			if (!ch || &t->chains[i] == ch)
				t->chains[i].n = 0;
		return 0;
	case IPT_OP_ZERO:
		if (ch && c->num) {
			if (c->num > ch->n)
				return terr(err, errlen, -ENOENT, "-Z %s %u: no "
					    "such rule (%u rules)", ch->name,
					    c->num, ch->n);
			ch->rules[c->num - 1].pkts = 0;
			ch->rules[c->num - 1].bytes = 0;
			return 0;
		}
		for (i = 0; i < t->n; i++) {
			struct ipt_chain *z = &t->chains[i];

			if (ch && z != ch)
				continue;
			z->pkts = z->bytes = 0;
			for (uint32_t k = 0; k < z->n; k++)
				z->rules[k].pkts = z->rules[k].bytes = 0;
		}
		return 0;
	case IPT_OP_POLICY:
		if (!ch->builtin)
			return terr(err, errlen, -EINVAL, "-P %s: a user-defined "
				    "chain has no policy", ch->name);
		ch->policy = c->policy;
		if (c->counters) {
			ch->pkts = c->pkts;
			ch->bytes = c->bytes;
		}
		return 0;
	case IPT_OP_NEWCHAIN: {
		struct ipt_chain *nc;

		if (ch)
			return terr(err, errlen, -EEXIST, "chain `%s' already "
				    "exists", c->chain);
		if (t->n >= FW_MAX_CHAINS)
			return terr(err, errlen, -ENOSPC, "more than %d chains",
				    FW_MAX_CHAINS);
		nc = realloc(t->chains, (t->n + 1) * sizeof(*nc));
		if (!nc)
			return terr(err, errlen, -ENOMEM, "out of memory");
		t->chains = nc;
		memset(&t->chains[t->n], 0, sizeof(*nc));
		strcpy(t->chains[t->n].name, c->chain);
		t->n++;
		sort_users(t);
		return 0;
	}
	case IPT_OP_DELCHAIN:
		for (i = 0; i < t->n; i++) {
			struct ipt_chain *d = &t->chains[i];
			uint32_t refs;

			if ((ch && d != ch) || (!ch && d->builtin))
				continue;
			if (d->builtin)
				return terr(err, errlen, -EINVAL, "-X %s: a "
					    "built-in chain cannot be deleted",
					    d->name);
			if (d->n)
				return terr(err, errlen, -EBUSY, "-X %s: chain is "
					    "not empty (%u rules)", d->name,
					    d->n);
			refs = ipt_table_refs(t, d->name);
			if (refs)
				return terr(err, errlen, -EBUSY, "-X %s: chain is "
					    "referenced by %u rules", d->name,
					    refs);
		}
		for (i = 3; i < t->n;) {
			if (!ch || &t->chains[i] == ch) {
				free(t->chains[i].rules);
				memmove(&t->chains[i], &t->chains[i + 1],
					(t->n - i - 1) * sizeof(*t->chains));
				t->n--;
				if (ch)
					break;
			} else {
				i++;
			}
		}
		return 0;
	case IPT_OP_RENAME:
		if (ch->builtin)
			return terr(err, errlen, -EINVAL, "-E %s: a built-in "
				    "chain cannot be renamed", ch->name);
		if (ipt_table_chain(t, c->newname))
			return terr(err, errlen, -EEXIST, "-E: chain `%s' "
				    "already exists", c->newname);
		for (i = 0; i < t->n; i++)
			for (uint32_t k = 0; k < t->chains[i].n; k++) {
				struct fw_rule *r = &t->chains[i].rules[k].r;

				if ((r->target == FW_T_JUMP ||
				     r->target == FW_T_GOTO) &&
				    !strcmp(r->jump, ch->name))
					strcpy(r->jump, c->newname);
			}
		strcpy(ch->name, c->newname);
		sort_users(t);
		return 0;
	case IPT_OP_LISTRULES:
		return ipt_print_S(out, t, c->chain, c->num, c->fmt, err, errlen);
	case IPT_OP_LIST:
		return ipt_print_L(out, t, c->chain, c->num, c->fmt, err, errlen);
	default:
		return terr(err, errlen, -EINVAL, "no command");
	}
}
