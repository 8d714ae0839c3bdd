/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * iptables service (issue 10; README.md, docs/firewall-contract.md
 * section 4): a host-wide firewall cube (CUB_PLUGIN_F_HOSTWIDE: the
 * broker puts it on every netdev of its namespace that no cube port
 * owns) running the filter table on the fwcore engine.
 *
 * The document: a list `chain` keyed by name (INPUT, FORWARD and OUTPUT
 * are there, policy ACCEPT and no rules, until an entry names them; user
 * chains are entries too), each with `policy` (builtins) and `rule`, an
 * ordered list keyed by `id` (the client's string) whose `spec` is the
 * rule as `iptables -S` prints it after "-A CHAIN ".  Every apply parses
 * every spec with the syntax library (ipt.h) into an in-memory table
 * (user chains made first, so a jump may name a later one), compiles it
 * (fw_compile()) and flips the swap set (fw_image_apply()): all or
 * nothing, the active ruleset unchanged on any error.
 *
 * Counter slots: one per (chain, id), kept while the id exists (an
 * insert before it, a change of its spec), the lowest free one for a
 * new id (fw_image_apply() zeroes a slot the active image did not
 * have); stored in the map ipt_slots so a restarted worker (kill -9)
 * reads them back.  Policy slots: 1 + the chain's index.
 *
 * -i/-o: names become ifindexes at compile time from the broker's netdev
 * table (cub_host__netdevs(); cubicled --host-netdev-events iptables),
 * and a netdev event about a netdev a name matches compiles the applied
 * document again (ipt_netdev_event()).  -o is refused where FORWARD
 * reaches (check_forward_oif()): FORWARD runs before the route.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "fw_apply.h"
#include "fw_compile.h"
#include "ipt.h"
#include "iptables.skel.h"
#include "iptables_shared.h"

#define IPT_ERR 512
#define IPT_SLOT0 (FW_MAX_CHAINS + 1) /* the first rule slot */

_Static_assert(IPT_CHAIN_RULES_MAX == FW_MAX_RULES &&
		   IPT_RULES_MAX == FW_RULES_ALL &&
		   IPT_RULES_MAX <= FW_MAX_SLOTS + 1 - IPT_SLOT0,
    "iptables_shared.h caps: the engine's");

static const char *const ipt_policies[] = {"ACCEPT", "DROP", NULL};

static const struct cub_field ipt_rule_fields[] = {
    {.name = "id",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = IPT_ID_MAX - 1,
	.help = "the rule's name, the client's choice: its counters follow "
		"it"},
    {.name = "spec",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.max = 4096,
	.help = "the rule as iptables -S prints it after \"-A CHAIN \", "
		"e.g. -s 198.18.0.1/32 -p tcp -m tcp --dport 22 -j DROP"},
    {.name = "pkts",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets the rule matched"},
    {.name = "bytes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "bytes the rule matched"},
    {0},
};

static const struct cub_field ipt_chain_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = FW_CHAIN_NAME_MAX,
	.help = "INPUT, FORWARD, OUTPUT or a user chain"},
    {.name = "policy",
	.type = CUB_T_ENUM,
	.enums = ipt_policies,
	.dflt = "ACCEPT",
	.help = "what a packet no rule decided gets (builtins only)"},
    {.name = "rule",
	.type = CUB_T_LIST,
	.flags = CUB_F_ORDERED,
	.children = ipt_rule_fields,
	.help = "the chain's rules, in order"},
    {.name = "pkts",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets the policy decided (builtins)"},
    {.name = "bytes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "bytes the policy decided (builtins)"},
    {0},
};

static const struct cub_field ipt_schema[] = {
    {.name = "chain",
	.type = CUB_T_LIST,
	.children = ipt_chain_fields,
	.help = "the filter table's chains"},
    {.name = "log-lines",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "lines LOG rules wrote"},
    {.name = "log-suppressed",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "LOG lines over the cube's rate (50/s, burst 100)"},
    {0},
};

/* One rule id's counter slot. */
struct ipt_slot {
	struct ipt_slot_key key;
	uint32_t slot;
};

static int
slot_cmp(const void *a, const void *b)
{
	const struct ipt_slot *const *x = a, *const *y = b;

	return memcmp(&(*x)->key, &(*y)->key, sizeof((*x)->key));
}

/* An index of n slots by key (sorted pointers): lookups in log n, as a
 * chain of 8192 ids made the linear search quadratic. */
struct slot_idx {
	const struct ipt_slot **p;
	uint32_t n;
};

static int
slot_idx_build(struct slot_idx *x, const struct ipt_slot *v, uint32_t n)
{
	x->n = 0;
	x->p = calloc(n + 1, sizeof(*x->p));
	if (!x->p)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		x->p[i] = &v[i];
	x->n = n;
	qsort(x->p, n, sizeof(*x->p), slot_cmp);
	return 0;
}

static const struct ipt_slot *
slot_find(const struct slot_idx *x, const struct ipt_slot_key *k)
{
	struct ipt_slot probe, *pp = &probe;
	const struct ipt_slot **hit;

	if (!x->n)
		return NULL;
	probe.key = *k;
	hit = bsearch(&pp, x->p, x->n, sizeof(*x->p), slot_cmp);
	return hit ? *hit : NULL;
}

struct ipt_cube {
	cub_map slotmap, lim, hlim, logst;
	bool loaded;
	struct ipt_slot *slots; /* the applied ids, as ipt_slots holds them */
	uint32_t nslots;
	struct slot_idx idx; /* slots by key */
	/*
	 * -i/-o: the applied document (a copy, compiled again when a netdev
	 * an -i/-o name matches appears, goes or is renamed), the names its
	 * rules use (patterns, '+' wildcards), and the host's netdevs as the
	 * last compile saw them (cub_host__netdevs()).
	 */
	struct cub_val *doc;
	char (*pats)[FW_IFNAME_MAX];
	uint32_t npats;
	struct cub_host_netdev *devs;
	uint32_t ndevs;
	/* An event matched since the last compile; compiled when the
	 * worker has no more events of the cube queued. */
	bool dirty;
	char dirty_why[64];
};

/* What one apply builds before anything changes. */
struct ipt_new {
	struct ipt_table tab;
	bool have_tab;
	struct ipt_slot *slots; /* one per (chain, id) of the document */
	uint32_t nslots;
	uint32_t *rslot; /* per table rule, in table order: its slot */
	struct fw_chain *chains;
	struct fw_rule *rules;
	uint32_t nrules;
	struct fw_image *img;
};

static void
slot_key(struct ipt_slot_key *k, const char *chain, const char *id)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->chain, sizeof(k->chain), "%s", chain);
	snprintf(k->id, sizeof(k->id), "%s", id);
}

/* Run one iptables command line on the table; err says why not. */
static int
table_cmd(struct ipt_table *t, const char *line, char *err, size_t errlen,
    uint32_t *added)
{
	struct ipt_cmd cmd;
	char **argv = NULL;
	int argc, r;
	uint32_t before = 0;
	struct ipt_chain *ch;

	if ((r = ipt_split(line, &argc, &argv, err, errlen)))
		return r;
	memset(&cmd, 0, sizeof(cmd));
	r = ipt_parse(argc, argv, &cmd, err, errlen);
	free(argv);
	if (r)
		return r;
	if (added && cmd.op != IPT_OP_APPEND) {
		snprintf(err, errlen, "not one rule (a second command in it)");
		ipt_cmd_free(&cmd);
		return -EINVAL;
	}
	if (added && (ch = ipt_table_chain(t, cmd.chain)))
		before = ch->n;
	r = ipt_table_exec(t, &cmd, NULL, err, errlen);
	if (!r && added && (ch = ipt_table_chain(t, cmd.chain)))
		*added = ch->n - before;
	ipt_cmd_free(&cmd);
	return r;
}

static const struct cub_val *
chain_list(const struct cub_val *config)
{
	const struct cub_val *c = cub_val__get(config, "chain");

	return c && c->kind == CUB_V_ARRAY ? c : NULL;
}

static bool
is_builtin(const char *name)
{
	return !strcmp(name, "INPUT") || !strcmp(name, "FORWARD") ||
	       !strcmp(name, "OUTPUT");
}

/* Whether netdev name matches an -i/-o name (a trailing '+': a prefix). */
static bool
if_name_match(const char *pat, const char *name)
{
	size_t n = strnlen(pat, FW_IFNAME_MAX);

	if (n && pat[n - 1] == '+')
		return !strncmp(pat, name, n - 1);
	return !strncmp(pat, name, FW_IFNAME_MAX);
}

/* fw_env.ifmatch over the netdevs the compile fetched (ic->devs). */
static int
ipt_ifmatch(void *arg, const char *name, uint32_t *idx, uint32_t max)
{
	const struct ipt_cube *ic = arg;
	uint32_t n = 0;

	for (uint32_t i = 0; i < ic->ndevs; i++)
		if (if_name_match(name, ic->devs[i].name)) {
			if (n < max)
				idx[n] = ic->devs[i].ifindex;
			n++;
		}
	return (int)n;
}

/* Whether some -i/-o name of the applied ruleset matches netdev name. */
static bool
pats_match(const struct ipt_cube *ic, const char *name)
{
	for (uint32_t i = 0; name[0] && i < ic->npats; i++)
		if (if_name_match(ic->pats[i], name))
			return true;
	return false;
}

static bool
rule_has_if(const struct fw_rule *r)
{
	return (r->iif.set && r->iif.name[0]) || (r->oif.set && r->oif.name[0]);
}

/* The distinct -i/-o names of the table's rules. */
static int
pats_collect(const struct ipt_table *t, char (**out)[FW_IFNAME_MAX],
    uint32_t *nout)
{
	char(*v)[FW_IFNAME_MAX] = NULL;
	uint32_t n = 0, cap = 0;

	for (uint32_t c = 0; c < t->n; c++)
		for (uint32_t i = 0; i < t->chains[c].n; i++) {
			const struct fw_rule *r = &t->chains[c].rules[i].r;
			const struct fw_if_match *m[2] = {&r->iif, &r->oif};

			for (int k = 0; k < 2; k++) {
				uint32_t q;

				if (!m[k]->set || !m[k]->name[0])
					continue;
				for (q = 0; q < n; q++)
					if (!strncmp(v[q], m[k]->name,
						FW_IFNAME_MAX))
						break;
				if (q < n)
					continue;
				if (n == cap) {
					void *nv = realloc(v,
					    (cap ? 2 * cap : 8) * sizeof(*v));

					if (!nv) {
						free(v);
						return -ENOMEM;
					}
					v = nv;
					cap = cap ? 2 * cap : 8;
				}
				memcpy(v[n++], m[k]->name, FW_IFNAME_MAX);
			}
		}
	*out = v;
	*nout = n;
	return 0;
}

/*
 * -o where the packet's way out is not known: FORWARD runs at the
 * ingress netdev, before the kernel's route lookup (iptables.bpf.c), so
 * a rule of FORWARD, or of a user chain FORWARD reaches by -j/-g, may not
 * name -o.  0, or the chain and rule number in err.
 */
static int
check_forward_oif(const struct ipt_table *t, char *err, size_t errlen)
{
	bool *seen = calloc(t->n + 1, sizeof(*seen));
	uint32_t *todo = calloc(t->n + 1, sizeof(*todo));
	uint32_t nt = 0;
	int r = 0;

	if (!seen || !todo) {
		free(seen);
		free(todo);
		return -ENOMEM;
	}
	for (uint32_t c = 0; c < t->n; c++)
		if (!strcmp(t->chains[c].name, "FORWARD")) {
			seen[c] = true;
			todo[nt++] = c;
		}
	while (nt && !r) {
		const struct ipt_chain *ch = &t->chains[todo[--nt]];

		for (uint32_t i = 0; i < ch->n && !r; i++) {
			const struct fw_rule *ru = &ch->rules[i].r;

			if (ru->oif.set && ru->oif.name[0]) {
				snprintf(err, errlen,
				    "chain %s, rule %u: -o in FORWARD%s is not "
				    "supported: FORWARD is decided at the "
				    "ingress netdev, before the route says "
				    "which netdev the packet leaves by",
				    ch->name, i + 1,
				    strcmp(ch->name, "FORWARD")
					? " (a chain FORWARD jumps to)"
					: "");
				r = -EINVAL;
				break;
			}
			if (ru->target != FW_T_JUMP && ru->target != FW_T_GOTO)
				continue;
			for (uint32_t c = 0; c < t->n; c++)
				if (!seen[c] &&
				    !strcmp(t->chains[c].name, ru->jump)) {
					seen[c] = true;
					todo[nt++] = c;
				}
		}
	}
	free(seen);
	free(todo);
	return r;
}

/* The document into nw->tab and nw->slots (ids without slots yet). */
static int
parse_doc(
    struct cub_cube *cube, const struct cub_val *config, struct ipt_new *nw)
{
	const struct cub_val *chains = chain_list(config);
	char err[IPT_ERR], line[4200];
	uint32_t nc = chains ? chains->arr.len : 0, total = 0, i, j;
	int r, pass;

	if ((r = ipt_table_init(&nw->tab)))
		return r;
	nw->have_tab = true;
	for (i = 0; i < nc; i++) {
		const struct cub_val *rl =
		    cub_val__get(chains->arr.items[i], "rule");

		if (rl && rl->kind == CUB_V_ARRAY)
			total += rl->arr.len;
	}
	if (total > IPT_RULES_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': %u rules, at most %u", cub_cube__name(cube),
		    total, IPT_RULES_MAX);
	for (i = 0; i < nc; i++) {
		const struct cub_val *rl =
		    cub_val__get(chains->arr.items[i], "rule");

		if (rl && rl->kind == CUB_V_ARRAY &&
		    rl->arr.len > IPT_CHAIN_RULES_MAX)
			return cub_cube__set_error(cube, CUB_E_LIMIT,
			    "cube '%s': chain %s: %u rules, at most %u in a "
			    "chain",
			    cub_cube__name(cube),
			    cub_val__get_str(chains->arr.items[i], "name")
				?: "?",
			    rl->arr.len, IPT_CHAIN_RULES_MAX);
	}
	nw->slots = calloc(total + 1, sizeof(*nw->slots));
	if (!nw->slots)
		return -ENOMEM;
	/* Pass 0: user chains and policies; pass 1: the rules. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < nc; i++) {
			const struct cub_val *e = chains->arr.items[i];
			const char *name = cub_val__get_str(e, "name") ?: "";
			const char *pol = cub_val__get_str(e, "policy");
			const struct cub_val *rl = cub_val__get(e, "rule");
			bool bi = is_builtin(name);

			if (pass == 0) {
				if (!bi) {
					snprintf(
					    line, sizeof(line), "-N %s", name);
					if ((r = table_cmd(&nw->tab, line, err,
						 sizeof(err), NULL)))
						goto bad_chain;
				}
				if (pol && strcmp(pol, "ACCEPT")) {
					if (!bi) {
						snprintf(err, sizeof(err),
						    "a user chain has no "
						    "policy (builtins only)");
						r = -EINVAL;
						goto bad_chain;
					}
					snprintf(line, sizeof(line), "-P %s %s",
					    name, pol);
					if ((r = table_cmd(&nw->tab, line, err,
						 sizeof(err), NULL)))
						goto bad_chain;
				}
				continue;
			}
			for (j = 0;
			     rl && rl->kind == CUB_V_ARRAY && j < rl->arr.len;
			     j++) {
				const struct cub_val *re = rl->arr.items[j];
				const char *id =
				    cub_val__get_str(re, "id") ?: "";
				const char *spec =
				    cub_val__get_str(re, "spec") ?: "";
				uint32_t added = 0;

				snprintf(
				    line, sizeof(line), "-A %s %s", name, spec);
				r = table_cmd(
				    &nw->tab, line, err, sizeof(err), &added);
				if (!r && added == 0) {
					snprintf(err, sizeof(err), "no rule");
					r = -EINVAL;
				}
				if (r)
					return cub_cube__set_error(cube,
					    r == -ENOSPC ? CUB_E_LIMIT
							 : CUB_E_INVAL,
					    "cube '%s': chain %s, rule '%s': "
					    "%s",
					    cub_cube__name(cube), name, id,
					    err);
				slot_key(&nw->slots[nw->nslots].key, name, id);
				/* A rule of n expansions (-s a,b): n rules of
				 * one slot; slot is its count for now. */
				nw->slots[nw->nslots++].slot = added;
			}
		}
	if ((r = check_forward_oif(&nw->tab, err, sizeof(err))))
		return r == -ENOMEM ? r
				    : cub_cube__set_error(cube, CUB_E_INVAL,
					  "cube '%s': %s", cub_cube__name(cube),
					  err);
	return 0;
bad_chain:
	return cub_cube__set_error(cube,
	    r == -ENOSPC ? CUB_E_LIMIT : CUB_E_INVAL, "cube '%s': chain %s: %s",
	    cub_cube__name(cube),
	    cub_val__get_str(chains->arr.items[i], "name") ?: "?", err);
}

/* Slots for the ids, the fw_chain array, the image. */
/*
 * The host's netdevs into ic->devs when a rule names -i/-o (the names
 * become ifindexes at compile time), else none.
 */
static int
fetch_devs(struct cub_cube *cube, struct ipt_cube *ic, struct ipt_new *nw)
{
	struct cub_host_netdev *v = NULL;
	uint32_t n = 0, c, i;
	int r;

	for (c = 0; c < nw->tab.n; c++)
		for (i = 0; i < nw->tab.chains[c].n; i++)
			if (rule_has_if(&nw->tab.chains[c].rules[i].r))
				goto fetch;
	free(ic->devs);
	ic->devs = NULL;
	ic->ndevs = 0;
	return 0;
fetch:
	r = cub_host__netdevs(cube, &v, &n);
	if (r == -EPERM)
		return cub_cube__set_error(cube, CUB_E_PERM,
		    "cube '%s': chain %s, rule %u: -i/-o name netdevs, which "
		    "service 'iptables' may not list: start cubicled with "
		    "--host-netdev-events iptables",
		    cub_cube__name(cube), nw->tab.chains[c].name, i + 1);
	if (r)
		return cub_cube__set_error(cube, CUB_E_UNAVAIL,
		    "cube '%s': chain %s, rule %u: -i/-o: the host's netdevs: "
		    "%s",
		    cub_cube__name(cube), nw->tab.chains[c].name, i + 1,
		    strerror(-r));
	free(ic->devs);
	ic->devs = v;
	ic->ndevs = n;
	return 0;
}

static int
build(struct cub_cube *cube, struct ipt_cube *ic, struct ipt_new *nw)
{
	struct fw_env env = {.ifmatch = ipt_ifmatch, .arg = ic};
	char err[IPT_ERR];
	uint32_t i, c, k, nr = 0, next = IPT_SLOT0;
	uint32_t *count;
	bool *used;
	int r;

	count = calloc(nw->nslots + 1, sizeof(*count));
	if (!count)
		return -ENOMEM;
	used = calloc(FW_MAX_SLOTS + 2, sizeof(*used));
	if (!used) {
		free(count);
		return -ENOMEM;
	}
	for (i = 0; i < ic->nslots; i++)
		if (ic->slots[i].slot <= FW_MAX_SLOTS)
			used[ic->slots[i].slot] = true;
	for (i = 0; i < nw->nslots; i++) {
		const struct ipt_slot *old =
		    slot_find(&ic->idx, &nw->slots[i].key);

		count[i] = nw->slots[i].slot;
		nw->slots[i].slot = old ? old->slot : 0;
	}
	for (i = 0; i < nw->nslots; i++) {
		if (nw->slots[i].slot)
			continue;
		while (next <= FW_MAX_SLOTS && used[next])
			next++;
		nw->slots[i].slot = next++;
	}
	free(used);
	for (c = 0; c < nw->tab.n; c++)
		nr += nw->tab.chains[c].n;
	nw->chains = calloc(nw->tab.n, sizeof(*nw->chains));
	nw->rules = calloc(nr + 1, sizeof(*nw->rules));
	if (!nw->chains || !nw->rules) {
		free(count);
		return -ENOMEM;
	}
	/* Table rules in table order; ids in document order, whose chains
	 * the table sorts: find each chain's ids by name. */
	nr = 0;
	for (c = 0; c < nw->tab.n; c++) {
		const struct ipt_chain *ch = &nw->tab.chains[c];
		struct fw_chain *fc = &nw->chains[c];
		uint32_t at = 0;

		snprintf(fc->name, sizeof(fc->name), "%s", ch->name);
		fc->builtin = ch->builtin;
		fc->policy = ch->builtin ? ch->policy : FW_T_ACCEPT;
		fc->policy_slot = 1 + c;
		fc->rules = &nw->rules[nr];
		fc->nrules = ch->n;
		for (i = 0; i < nw->nslots; i++) {
			if (strcmp(nw->slots[i].key.chain, ch->name))
				continue;
			for (k = 0; k < count[i] && at < ch->n; k++, at++) {
				nw->rules[nr] = ch->rules[at].r;
				nw->rules[nr++].slot = nw->slots[i].slot;
			}
		}
	}
	free(count);
	nw->nrules = nr;
	r = fw_compile(nw->chains, nw->tab.n, &env, &nw->img, err, sizeof(err));
	if (r)
		return cub_cube__set_error(cube,
		    r == -E2BIG ? CUB_E_LIMIT : CUB_E_INVAL, "cube '%s': %s",
		    cub_cube__name(cube), err);
	/* The BPF log takes the prefix as its format: '%' doubled. */
	for (i = 0; i < nw->img->nlogp; i++) {
		struct fw_logp *lp = &nw->img->logp[i];
		char out[sizeof(lp->prefix)];
		size_t o = 0;

		for (size_t q = 0; q < sizeof(lp->prefix) && lp->prefix[q] &&
				   o + 2 < sizeof(out);
		     q++) {
			out[o++] = lp->prefix[q];
			if (lp->prefix[q] == '%')
				out[o++] = '%';
		}
		out[o] = '\0';
		memcpy(lp->prefix, out, sizeof(out));
	}
	return 0;
}

static void
new_free(struct ipt_new *nw)
{
	if (nw->have_tab)
		ipt_table_free(&nw->tab);
	free(nw->slots);
	free(nw->chains);
	free(nw->rules);
	fw_image_free(nw->img);
}

struct slot_read {
	struct ipt_slot *v;
	uint32_t n, cap;
};

static int
slot_entry(const void *key, const void *value, void *ctx)
{
	struct slot_read *sr = ctx;

	if (sr->n == sr->cap) {
		uint32_t cap = sr->cap ? 2 * sr->cap : 64;
		struct ipt_slot *v = realloc(sr->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sr->v = v;
		sr->cap = cap;
	}
	memcpy(&sr->v[sr->n].key, key, sizeof(struct ipt_slot_key));
	memcpy(&sr->v[sr->n++].slot, value, sizeof(uint32_t));
	return 0;
}

static int
ipt_load(struct cub_cube *cube, struct ipt_cube *ic)
{
	struct slot_read sr = {0};
	size_t len;
	const void *elf = iptables__elf_bytes(&len);
	int r;

	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "ipt_slots", &ic->slotmap) ||
	    cub_cube__map(cube, "fw_lim", &ic->lim) ||
	    cub_cube__map(cube, "fw_hlim", &ic->hlim) ||
	    cub_cube__map(cube, "fw_log_stats", &ic->logst))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': a map of the iptables object is missing",
		    cub_cube__name(cube));
	/* A previous worker's slots (none on a new cube). */
	if ((r = cub_map__dump(cube, &ic->slotmap, slot_entry, &sr))) {
		free(sr.v);
		return r;
	}
	free(ic->slots);
	free(ic->idx.p);
	ic->idx.p = NULL;
	ic->idx.n = 0;
	ic->slots = sr.v;
	ic->nslots = sr.n;
	if ((r = slot_idx_build(&ic->idx, ic->slots, ic->nslots)))
		return r;
	if (sr.n)
		cub_cube__log(cube, CUB_LOG_INFO,
		    "read back %u rule counter slots", sr.n);
	ic->loaded = true;
	return 0;
}

static int
hlim_key(const void *key, const void *value, void *ctx)
{
	struct slot_read *sr = ctx;
	(void)value;

	if (sr->n == sr->cap) {
		uint32_t cap = sr->cap ? 2 * sr->cap : 256;
		void *v = realloc(sr->v, cap * sizeof(struct fw_hlim_key));

		if (!v)
			return -ENOMEM;
		sr->v = v;
		sr->cap = cap;
	}
	memcpy((char *)sr->v + sr->n++ * sizeof(struct fw_hlim_key), key,
	    sizeof(struct fw_hlim_key));
	return 0;
}

/* Every -m limit bucket of the new rules full, every hashlimit one gone
 * (as iptcube: a changed ruleset starts its limits over). */
static int
limits_reset(struct cub_cube *cube, struct ipt_cube *ic, struct ipt_new *nw)
{
	struct slot_read hl = {0};
	uint32_t *slots, n = 0;
	int r;

	slots = calloc(nw->nrules + 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < nw->nrules; i++)
		if (nw->rules[i].limit.set)
			slots[n++] = nw->rules[i].slot;
	r = n ? cub_map__zero_batch(cube, &ic->lim, slots, n) : 0;
	free(slots);
	if (!r)
		r = cub_map__dump(cube, &ic->hlim, hlim_key, &hl);
	if (!r && hl.n) {
		uint32_t count = hl.n;

		r = cub_map__delete_batch(cube, &ic->hlim, hl.v, &count, NULL);
	}
	free(hl.v);
	return r;
}

/* The new ids' slots into ipt_slots, in batches of IPT_STORE_BATCH. */
#define IPT_STORE_BATCH 512
static int
slots_store(struct cub_cube *cube, struct ipt_cube *ic, struct ipt_new *nw)
{
	struct ipt_slot_key *keys;
	uint32_t *vals, n = 0, i;
	int r = 0;

	keys = calloc(IPT_STORE_BATCH, sizeof(*keys));
	vals = calloc(IPT_STORE_BATCH, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (i = 0; !r && i <= nw->nslots; i++) {
		if (i < nw->nslots && !slot_find(&ic->idx, &nw->slots[i].key)) {
			keys[n] = nw->slots[i].key;
			vals[n++] = nw->slots[i].slot;
		}
		if (n && (n == IPT_STORE_BATCH || i == nw->nslots)) {
			r = cub_map__update_batch_n(
			    cube, &ic->slotmap, keys, vals, n, 0);
			n = 0;
		}
	}
	free(keys);
	free(vals);
	return r;
}

static int
ipt_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct ipt_cube *ic = cub_cube__priv(cube);
	struct ipt_new *nw;
	struct slot_idx nidx;
	char err[IPT_ERR];
	uint32_t i;
	int r;

	nw = calloc(1, sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	if ((r = parse_doc(cube, config, nw)))
		goto out;
	if ((create || !ic->loaded) && (r = ipt_load(cube, ic)))
		goto out;
	if ((r = fetch_devs(cube, ic, nw)) || (r = build(cube, ic, nw)) ||
	    (r = limits_reset(cube, ic, nw)))
		goto out;
	/* New ids' slots stored before the flip, gone ids' after. */
	if ((r = slots_store(cube, ic, nw)))
		goto out;
	if ((r = fw_image_apply(cube, nw->img, err, sizeof(err)))) {
		r = cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': applying the ruleset: %s", cub_cube__name(cube),
		    err);
		goto out;
	}
	if ((r = slot_idx_build(&nidx, nw->slots, nw->nslots)))
		goto out;
	for (i = 0; i < ic->nslots; i++)
		if (!slot_find(&nidx, &ic->slots[i].key))
			cub_map__delete(cube, &ic->slotmap, &ic->slots[i].key);
	free(ic->slots);
	free(ic->idx.p);
	ic->slots = nw->slots;
	ic->nslots = nw->nslots;
	ic->idx = nidx;
	nw->slots = NULL;
	/* What a netdev event compiles again, and when. */
	ic->dirty = false;
	{
		char(*pats)[FW_IFNAME_MAX] = NULL;
		uint32_t npats = 0;
		struct cub_val *doc = NULL;

		if (pats_collect(&nw->tab, &pats, &npats) ||
		    (npats && config != ic->doc &&
			!(doc = cub_val__dup(config)))) {
			free(pats);
			pats = NULL;
			npats = 0;
			cub_cube__log(cube, CUB_LOG_WARN,
			    "out of memory: netdevs that appear will not match "
			    "-i/-o until the next change");
		}
		free(ic->pats);
		ic->pats = pats;
		ic->npats = npats;
		if (config != ic->doc) {
			cub_val__free(ic->doc);
			ic->doc = doc;
		} else if (!npats) {
			cub_val__free(ic->doc);
			ic->doc = NULL;
		}
	}
	cub_cube__log(cube, CUB_LOG_INFO, "%s: %u chains, %u rules",
	    create ? "applied (new or replayed)" : "changed", nw->tab.n,
	    nw->nrules);
out:
	new_free(nw);
	free(nw);
	return r;
}

static struct cub_val *
counted(struct cub_val *e, uint64_t pkts, uint64_t bytes)
{
	if (!e || cub_val__set(e, "pkts", cub_val__uint(pkts)) ||
	    cub_val__set(e, "bytes", cub_val__uint(bytes)))
		return cub_val__free(e);
	return e;
}

static int
ipt_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct ipt_cube *ic = cub_cube__priv(cube);
	const struct cub_val *chains = chain_list(config);
	struct cub_val *list;
	struct {
		uint64_t lines, suppressed;
	} ls = {0};
	uint32_t zero = 0, i, j, *sl;
	uint64_t *cp, *cb;
	struct fw_cnt *cnt;
	int r = 0;

	if (!ic->loaded)
		return 0;
	/* Every counter in one read (fw_counters_read() dumps the map for
	 * many slots), by slot. */
	sl = calloc(ic->nslots + 3, sizeof(*sl));
	cp = calloc(ic->nslots + 3, sizeof(*cp));
	cb = calloc(ic->nslots + 3, sizeof(*cb));
	cnt = calloc(FW_SLOTS_ALL, sizeof(*cnt));
	if (!sl || !cp || !cb || !cnt) {
		r = -ENOMEM;
		goto cnt_out;
	}
	for (i = 0; i < 3; i++)
		sl[i] = 1 + i;
	for (i = 0; i < ic->nslots; i++)
		sl[3 + i] = ic->slots[i].slot;
	if ((r = fw_counters_read(cube, sl, ic->nslots + 3, cp, cb)))
		goto cnt_out;
	for (i = 0; i < ic->nslots + 3; i++)
		if (sl[i] < FW_SLOTS_ALL) {
			cnt[sl[i]].pkts = cp[i];
			cnt[sl[i]].bytes = cb[i];
		}
cnt_out:
	free(sl);
	free(cp);
	free(cb);
	if (r) {
		free(cnt);
		return r;
	}
	list = cub_val__array();
	for (i = 0; list && !r && chains && i < chains->arr.len; i++) {
		const struct cub_val *ce = chains->arr.items[i];
		const char *name = cub_val__get_str(ce, "name") ?: "";
		const struct cub_val *rl = cub_val__get(ce, "rule");
		struct cub_val *e = cub_val__map(), *rows = cub_val__array();
		uint64_t pk = 0, by = 0;
		uint32_t slot;

		if (!e || !rows ||
		    cub_val__set(e, "name", cub_val__str(name))) {
			cub_val__free(e);
			cub_val__free(rows);
			r = -ENOMEM;
			break;
		}
		if (!strcmp(name, "INPUT") || !strcmp(name, "FORWARD") ||
		    !strcmp(name, "OUTPUT")) {
			slot = 1 + (name[0] == 'I'      ? 0
				       : name[0] == 'F' ? 1
							: 2);
			if (!(e = counted(e, cnt[slot].pkts, cnt[slot].bytes)))
				r = -ENOMEM;
		}
		for (j = 0;
		     !r && rl && rl->kind == CUB_V_ARRAY && j < rl->arr.len;
		     j++) {
			const char *id =
			    cub_val__get_str(rl->arr.items[j], "id") ?: "";
			struct ipt_slot_key k;
			const struct ipt_slot *s;
			struct cub_val *row;

			slot_key(&k, name, id);
			s = slot_find(&ic->idx, &k);
			pk = s && s->slot < FW_SLOTS_ALL ? cnt[s->slot].pkts : 0;
			by = s && s->slot < FW_SLOTS_ALL ? cnt[s->slot].bytes : 0;
			row = cub_val__map();
			if (!row || cub_val__set(row, "id", cub_val__str(id)) ||
			    !(row = counted(row, pk, by)) ||
			    cub_val__push(rows, row)) {
				cub_val__free(row);
				r = -ENOMEM;
			}
		}
		if (r || !e || cub_val__set(e, "rule", rows) ||
		    cub_val__push(list, e)) {
			cub_val__free(e);
			r = r ? r : -ENOMEM;
		}
	}
	free(cnt);
	if (r || !list) {
		cub_val__free(list);
		return r ? r : -ENOMEM;
	}
	if ((r = cub_map__lookup(cube, &ic->logst, &zero, &ls))) {
		cub_val__free(list);
		return r;
	}
	if (cub_val__set(overlay, "chain", list) ||
	    cub_val__set(overlay, "log-lines", cub_val__uint(ls.lines)) ||
	    cub_val__set(
		overlay, "log-suppressed", cub_val__uint(ls.suppressed)))
		return -ENOMEM;
	return 0;
}

/*
 * A netdev appeared, went or was renamed: when an -i/-o name of the
 * applied ruleset matches it (its old name too), the applied document is
 * compiled again with the netdevs as they are now and flipped in, as a
 * change would (counters kept, limit buckets restarted).  Events the
 * broker or the worker dropped (cubicle services netdev_dropped) are
 * caught up by the next one that matches, or the next change.
 */
static void
ipt_netdev_event(struct cub_cube *cube, const struct cub_netdev_event *ev)
{
	struct ipt_cube *ic = cub_cube__priv(cube);
	bool hit;
	int r;

	if (!ic->doc || !ic->npats || !ic->loaded) {
		ic->dirty = false;
		return;
	}
	switch (ev->kind) {
	case CUB_NETDEV_ADDED:
	case CUB_NETDEV_REMOVED:
		hit = pats_match(ic, ev->name);
		break;
	case CUB_NETDEV_RENAMED:
		hit = pats_match(ic, ev->name) || pats_match(ic, ev->old_name);
		break;
	default:
		hit = false;
	}
	if (hit && !ic->dirty) {
		snprintf(ic->dirty_why, sizeof(ic->dirty_why),
		    "netdev '%s' (%u) %s", ev->name, ev->ifindex,
		    cub_netdev_kind__str(ev->kind));
		ic->dirty = true;
	}
	/* Events were dropped: one of them may have named a netdev. */
	if (ev->lost && !ic->dirty) {
		snprintf(ic->dirty_why, sizeof(ic->dirty_why),
		    "netdev events were dropped");
		ic->dirty = true;
	}
	/* A burst (one netdev.event batch) compiles once, at its end. */
	if (!ic->dirty || ev->pending)
		return;
	ic->dirty = false;
	r = ipt_apply(cube, ic->doc, false);
	if (r)
		cub_cube__log(cube, CUB_LOG_ERR,
		    "%s: compiling -i/-o again failed (%s): the ruleset stays "
		    "as it was",
		    ic->dirty_why, strerror(-r));
	else
		cub_cube__log(cube, CUB_LOG_INFO,
		    "%s: -i/-o compiled again (%u netdevs)", ic->dirty_why,
		    ic->ndevs);
}

static void
ipt_destroy(struct cub_cube *cube)
{
	struct ipt_cube *ic = cub_cube__priv(cube);

	ic->doc = cub_val__free(ic->doc);
	free(ic->pats);
	ic->pats = NULL;
	ic->npats = 0;
	free(ic->devs);
	ic->devs = NULL;
	ic->ndevs = 0;

	free(ic->slots);
	ic->slots = NULL;
	free(ic->idx.p);
	ic->idx.p = NULL;
	ic->idx.n = 0;
}

static const struct cub_plugin_ops ipt_ops = {
    .apply = ipt_apply,
    .destroy = ipt_destroy,
    .show = ipt_show,
    .netdev_event = ipt_netdev_event,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "iptables",
    .description = "a host-wide iptables filter table: INPUT, FORWARD, "
		   "OUTPUT and user chains",
    .cube_size = sizeof(struct ipt_cube),
    .schema = ipt_schema,
    .ops = &ipt_ops,
    .policy = FW_PLUGIN_POLICY(200u << 20),
    .apply_timeout_ms = 60000,
    /* -i/-o: every netdev's appearance, removal and rename (needs
     * cubicled --host-netdev-events iptables; without it, -i/-o are
     * refused naming that option). */
    .netdev_events = CUB_NETDEV_EV(CUB_NETDEV_ADDED) |
		     CUB_NETDEV_EV(CUB_NETDEV_REMOVED) |
		     CUB_NETDEV_EV(CUB_NETDEV_RENAMED) | CUB_NETDEV_HOST,
    .flags = CUB_PLUGIN_F_TRANSPARENT | CUB_PLUGIN_F_HOSTWIDE,
    CUB_PLUGIN_SIZES,
};
