/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cubicle-iptables: iptables argv on an iptables service's cube.
 *
 *   cubicle-iptables [--socket-dir DIR] CUBE -A CHAIN RULE...
 *   ... -I CHAIN [N] RULE, -D CHAIN N | RULE, -P CHAIN ACCEPT|DROP,
 *   -F [CHAIN], -N CHAIN, -S [CHAIN]
 *
 * The command is parsed with the syntax library (ipt.h), then turned
 * into the broker requests the `cubicle` CLI makes (CUB_M_REQUEST:
 * words, args, rid): `CUBE chain add NAME`, `CUBE chain NAME rule add
 * ID spec=... [index=N]`, `... rule del ID`, `CUBE chain NAME set
 * policy=...`.  Rules get fresh ids (a rid: unique); a rule a list
 * (-s a,b) expands to is one id per rule, specs in -S form.  -S prints
 * what the cube holds, as iptables -S.  Exit 0, 1 on a refused command
 * (the broker's or the parser's message on stderr), 2 when the broker
 * does not answer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/client.h"
#include "ipt.h"

static const char *cube_name;
static bool quiet; /* a refusal not printed (a probe) */

static int
call_body(struct cub_client *c, struct cub_val *words, struct cub_val *args,
    struct cub_val *body, struct cub_val **result)
{
	struct cub_val *params = cub_val__map(), *errv = NULL, *res = NULL;
	const char *msg = NULL;
	char rid[80];
	int r;

	cub_client__new_rid(rid, sizeof(rid));
	if (!params || !words || cub_val__set(params, "words", words) ||
	    cub_val__set(params, "args", args ? args : cub_val__map()) ||
	    cub_val__set(params, "rid", cub_val__str(rid)) ||
	    (body && cub_val__set(params, "body", body))) {
		cub_val__free(params);
		fprintf(stderr, "cubicle-iptables: out of memory\n");
		return 1;
	}
	r = cub_client__call(c, CUB_M_REQUEST, params, &res, &errv);
	if (r == -EREMOTEIO) {
		msg = cub_val__get_str(errv, "message");
		if (!quiet)
			fprintf(stderr, "cubicle-iptables: %s\n",
			    msg ?: "refused");
		r = 1;
	} else if (r) {
		fprintf(stderr,
		    "cubicle-iptables: the broker did not answer: %s\n",
		    strerror(-r));
		r = 2;
	}
	cub_val__free(errv);
	if (result && !r)
		*result = res;
	else
		cub_val__free(res);
	return r;
}

static int
call(struct cub_client *c, struct cub_val *words, struct cub_val *args,
    struct cub_val **result)
{
	return call_body(c, words, args, NULL, result);
}

static struct cub_val *
words(const char *w, ...)
{
	struct cub_val *a = cub_val__array();
	va_list ap;

	va_start(ap, w);
	for (; a && w; w = va_arg(ap, const char *))
		if (cub_val__push(a, cub_val__str(w)))
			a = cub_val__free(a);
	va_end(ap);
	return a;
}

static struct cub_val *
args1(const char *k, const char *v)
{
	struct cub_val *m = cub_val__map();

	if (m && cub_val__set(m, k, cub_val__str(v)))
		m = cub_val__free(m);
	return m;
}

/* The cube's chain entry named name, or NULL. */
static const struct cub_val *
find_chain(const struct cub_val *doc, const char *name)
{
	const struct cub_val *cs = cub_val__get(doc, "chain");

	for (uint32_t i = 0; cs && cs->kind == CUB_V_ARRAY && i < cs->arr.len;
	     i++)
		if (!strcmp(
			cub_val__get_str(cs->arr.items[i], "name") ?: "", name))
			return cs->arr.items[i];
	return NULL;
}

static bool
builtin(const char *n)
{
	return !strcmp(n, "INPUT") || !strcmp(n, "FORWARD") ||
	       !strcmp(n, "OUTPUT");
}

static const struct cub_val *
rules_of(const struct cub_val *ch)
{
	const struct cub_val *rl = ch ? cub_val__get(ch, "rule") : NULL;

	return rl && rl->kind == CUB_V_ARRAY ? rl : NULL;
}

/* The rule in -S form after "-A CHAIN ", malloc'd. */
static char *
spec_of(const char *chain, const struct fw_rule *r)
{
	char *text = NULL, *s;
	size_t len = 0, skip = strlen(chain) + 4;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	ipt_print_rule(f, chain, r, IPT_CNT_NONE, 0, 0);
	fclose(f);
	if (len && text[len - 1] == '\n')
		text[--len] = '\0';
	s = strdup(len > skip ? text + skip : "");
	free(text);
	return s;
}

static int
show_doc(struct cub_client *c, struct cub_val **doc)
{
	return call(c, words(cube_name, "show", NULL), NULL, doc);
}

static int
ensure_chain(struct cub_client *c, const struct cub_val *doc, const char *name)
{
	if (find_chain(doc, name))
		return 0;
	if (!builtin(name)) {
		fprintf(stderr, "cubicle-iptables: chain `%s' does not exist\n",
		    name);
		return 1;
	}
	return call(
	    c, words(cube_name, "chain", "add", name, NULL), NULL, NULL);
}

static int
add_rules(struct cub_client *c, const struct ipt_cmd *cmd, uint32_t index)
{
	char id[80], num[16];
	int r = 0;

	for (uint32_t i = 0; !r && i < cmd->nrules; i++) {
		char *spec = spec_of(cmd->chain, &cmd->rules[i]);
		struct cub_val *a = args1("spec", spec ?: "");

		cub_client__new_rid(id, sizeof(id));
		if (index && a) {
			snprintf(num, sizeof(num), "%u", index - 1 + i);
			cub_val__set(a, "index", cub_val__str(num));
		}
		r = call(c,
		    words(cube_name, "chain", cmd->chain, "rule", "add", id,
			NULL),
		    a, NULL);
		free(spec);
	}
	return r;
}

static int
del_id(struct cub_client *c, const char *chain, const char *id)
{
	return call(c,
	    words(cube_name, "chain", chain, "rule", "del", id, NULL), NULL,
	    NULL);
}

static void
print_S(const struct cub_val *doc, const char *only)
{
	static const char *const bi[] = {"INPUT", "FORWARD", "OUTPUT"};
	const struct cub_val *cs = cub_val__get(doc, "chain");

	for (int k = 0; k < 3; k++) {
		const struct cub_val *ch = find_chain(doc, bi[k]);

		if (!*only || !strcmp(only, bi[k]))
			printf("-P %s %s\n", bi[k],
			    ch ? cub_val__get_str(ch, "policy") ?: "ACCEPT"
			       : "ACCEPT");
	}
	for (uint32_t i = 0; cs && cs->kind == CUB_V_ARRAY && i < cs->arr.len;
	     i++) {
		const char *n =
		    cub_val__get_str(cs->arr.items[i], "name") ?: "";

		if (!builtin(n) && (!*only || !strcmp(only, n)))
			printf("-N %s\n", n);
	}
	for (uint32_t i = 0; cs && cs->kind == CUB_V_ARRAY && i < cs->arr.len;
	     i++) {
		const char *n =
		    cub_val__get_str(cs->arr.items[i], "name") ?: "";
		const struct cub_val *rl = rules_of(cs->arr.items[i]);

		if (*only && strcmp(only, n))
			continue;
		for (uint32_t j = 0; rl && j < rl->arr.len; j++)
			printf("-A %s %s\n", n,
			    cub_val__get_str(rl->arr.items[j], "spec") ?: "");
	}
}

static int
run(struct cub_client *c, const struct ipt_cmd *cmd)
{
	struct cub_val *doc = NULL;
	const struct cub_val *ch, *rl;
	int r;

	if ((r = show_doc(c, &doc)))
		return r;
	ch = find_chain(doc, cmd->chain);
	switch (cmd->op) {
	case IPT_OP_APPEND:
	case IPT_OP_INSERT:
		if (!(r = ensure_chain(c, doc, cmd->chain)))
			r = add_rules(c, cmd,
			    cmd->op == IPT_OP_INSERT ? (cmd->num ?: 1) : 0);
		break;
	case IPT_OP_DELNUM:
		rl = rules_of(ch);
		if (!rl || cmd->num > rl->arr.len) {
			fprintf(stderr,
			    "cubicle-iptables: -D %s %u: no such "
			    "rule\n",
			    cmd->chain, cmd->num);
			r = 1;
			break;
		}
		r = del_id(c, cmd->chain,
		    cub_val__get_str(rl->arr.items[cmd->num - 1], "id") ?: "");
		break;
	case IPT_OP_DELETE: {
		char *want = spec_of(cmd->chain, &cmd->rules[0]);

		rl = rules_of(ch);
		r = 1;
		for (uint32_t j = 0; want && rl && j < rl->arr.len; j++)
			if (!strcmp(cub_val__get_str(rl->arr.items[j], "spec")
					?: "",
				want)) {
				r = del_id(c, cmd->chain,
				    cub_val__get_str(rl->arr.items[j], "id")
					?: "");
				break;
			}
		if (r == 1)
			fprintf(stderr,
			    "cubicle-iptables: Bad rule (does a "
			    "matching rule exist in that chain?)\n");
		free(want);
		break;
	}
	case IPT_OP_POLICY: {
		const char *p = cmd->policy == FW_T_DROP ? "DROP" : "ACCEPT";

		r = ch ? call(c,
			     words(cube_name, "chain", cmd->chain, "set", NULL),
			     args1("policy", p), NULL)
		       : call(c,
			     words(cube_name, "chain", "add", cmd->chain, NULL),
			     args1("policy", p), NULL);
		break;
	}
	case IPT_OP_NEWCHAIN:
		r = call(c, words(cube_name, "chain", "add", cmd->chain, NULL),
		    NULL, NULL);
		break;
	case IPT_OP_FLUSH: {
		const struct cub_val *cs = cub_val__get(doc, "chain");

		for (uint32_t i = 0;
		     !r && cs && cs->kind == CUB_V_ARRAY && i < cs->arr.len;
		     i++) {
			const char *n =
			    cub_val__get_str(cs->arr.items[i], "name") ?: "";

			if (*cmd->chain && strcmp(cmd->chain, n))
				continue;
			rl = rules_of(cs->arr.items[i]);
			for (uint32_t j = 0; !r && rl && j < rl->arr.len; j++)
				r = del_id(c, n,
				    cub_val__get_str(rl->arr.items[j], "id")
					?: "");
		}
		break;
	}
	case IPT_OP_LISTRULES:
		print_S(doc, cmd->chain);
		break;
	default:
		fprintf(stderr, "cubicle-iptables: only -A, -I, -D, -P, -F, "
				"-N and -S are supported\n");
		r = 1;
	}
	cub_val__free(doc);
	return r;
}


#ifdef IPT_RESTORE_TOOL
/*
 * cubicle-iptables-restore: the filter table of FILE (iptables-save text, read
 * with the syntax library: refused here, line and reason named, before
 * anything is sent) becomes the cube's in one request, so one apply:
 * the cube made with the document as its body when it does not exist,
 * else one `set` whose body holds every chain of the file, its policy
 * and its rules.  Rule k of a chain takes the id the cube's rule k of
 * that chain has (its spec replaced, its counters kept), fresh ids
 * after them; rules past the file's and user chains not in it are
 * deleted afterwards, one request each (not atomic: until they are gone
 * they follow the file's rules).
 */
static int
restore(struct cub_client *c, const char *file)
{
	struct ipt_table t;
	struct cub_val *doc = NULL, *body, *chains;
	char err[512], id[80];
	char *text = NULL;
	size_t len = 0, n;
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	bool exists;
	int r;

	if (!f) {
		fprintf(stderr, "cubicle-iptables-restore: %s: %s\n", file,
		    strerror(errno));
		return 1;
	}
	for (;;) {
		char *p = realloc(text, len + 65536 + 1);

		if (!p) {
			free(text);
			return 1;
		}
		text = p;
		n = fread(text + len, 1, 65536, f);
		len += n;
		if (n < 65536)
			break;
	}
	text[len] = '\0';
	if (f != stdin)
		fclose(f);
	if (ipt_table_init(&t)) {
		free(text);
		return 1;
	}
	r = ipt_restore(&t, text, false, stderr, err, sizeof(err));
	free(text);
	if (r) {
		fprintf(stderr, "cubicle-iptables-restore: %s\n", err);
		ipt_table_free(&t);
		return 1;
	}
	quiet = true;
	r = show_doc(c, &doc);
	quiet = false;
	if (r == 2) {
		ipt_table_free(&t);
		return 2;
	}
	exists = r == 0;
	body = cub_val__map();
	chains = cub_val__array();
	r = !body || !chains;
	for (uint32_t i = 0; !r && i < t.n; i++) {
		const struct ipt_chain *ch = &t.chains[i];
		const struct cub_val *old = rules_of(find_chain(doc, ch->name));
		struct cub_val *e = cub_val__map(), *rl = cub_val__array();

		r = !e || !rl || cub_val__set(e, "name", cub_val__str(ch->name));
		if (!r && ch->builtin)
			r = cub_val__set(e, "policy",
			    cub_val__str(
				ch->policy == FW_T_DROP ? "DROP" : "ACCEPT"));
		for (uint32_t k = 0; !r && k < ch->n; k++) {
			char *spec = spec_of(ch->name, &ch->rules[k].r);
			struct cub_val *re = cub_val__map();

			if (old && k < old->arr.len)
				snprintf(id, sizeof(id), "%s",
				    cub_val__get_str(old->arr.items[k], "id")
					?: "");
			else
				cub_client__new_rid(id, sizeof(id));
			r = !spec || !re ||
			    cub_val__set(re, "id", cub_val__str(id)) ||
			    cub_val__set(re, "spec", cub_val__str(spec)) ||
			    cub_val__push(rl, re);
			free(spec);
		}
		r = r || cub_val__set(e, "rule", rl) || cub_val__push(chains, e);
	}
	if (r || cub_val__set(body, "chain", chains)) {
		fprintf(stderr, "cubicle-iptables-restore: out of memory\n");
		cub_val__free(doc);
		ipt_table_free(&t);
		return 1;
	}
	r = exists ? call_body(c, words(cube_name, "set", NULL), NULL, body,
			 NULL)
		   : call_body(c, words("iptables", "add", cube_name, NULL),
			 NULL, body, NULL);
	/* What the file does not have: surplus rules, then user chains. */
	for (int pass = 0; !r && exists && pass < 2; pass++) {
		const struct cub_val *cs = cub_val__get(doc, "chain");

		for (uint32_t i = 0;
		     !r && cs && cs->kind == CUB_V_ARRAY && i < cs->arr.len;
		     i++) {
			const char *nm =
			    cub_val__get_str(cs->arr.items[i], "name") ?: "";
			const struct ipt_chain *ch = ipt_table_chain(&t, nm);
			const struct cub_val *rl = rules_of(cs->arr.items[i]);

			if (pass == 1) {
				if (!ch && !builtin(nm))
					r = call(c,
					    words(cube_name, "chain", "del", nm,
						NULL),
					    NULL, NULL);
				continue;
			}
			for (uint32_t j = ch ? ch->n : 0;
			     !r && rl && j < rl->arr.len; j++)
				r = del_id(c, nm,
				    cub_val__get_str(rl->arr.items[j], "id")
					?: "");
		}
	}
	cub_val__free(doc);
	ipt_table_free(&t);
	return r;
}
#endif

int
main(int argc, char **argv)
{
	const char *sock = NULL;
	struct ipt_cmd cmd;
	struct cub_client *c;
	char err[512];
	int i = 1, r;

	if (argc > 2 && !strcmp(argv[1], "--socket-dir")) {
		sock = argv[2];
		i = 3;
	}
#ifdef IPT_RESTORE_TOOL
	if (argc - i < 1 || argc - i > 2) {
		fprintf(stderr, "usage: cubicle-iptables-restore [--socket-dir "
				"DIR] CUBE [FILE]\n");
		return 1;
	}
#else
	if (argc - i < 2) {
		fprintf(stderr, "usage: cubicle-iptables [--socket-dir DIR] "
				"CUBE IPTABLES-ARGS...\n");
		return 1;
	}
#endif
	cube_name = argv[i++];
#ifdef IPT_RESTORE_TOOL
	CUB_OPTS(cub_client_opts, ro, .socket_dir = sock);
	c = cub_client__open(&ro);
	if (!c) {
		fprintf(stderr, "cubicle-iptables-restore: no broker: %s\n",
		    strerror(errno));
		return 2;
	}
	r = restore(c, i < argc ? argv[i] : "-");
	cub_client__close(c);
	return r;
#endif
	memset(&cmd, 0, sizeof(cmd));
	if (ipt_parse(argc - i, argv + i, &cmd, err, sizeof(err))) {
		fprintf(stderr, "cubicle-iptables: %s\n", err);
		return 1;
	}
	CUB_OPTS(cub_client_opts, o, .socket_dir = sock);
	c = cub_client__open(&o);
	if (!c) {
		fprintf(stderr, "cubicle-iptables: no broker: %s\n",
		    strerror(errno));
		ipt_cmd_free(&cmd);
		return 2;
	}
	r = run(c, &cmd);
	cub_client__close(c);
	ipt_cmd_free(&cmd);
	return r;
}
