/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * iptcube: a test-only service for issue 10's engine with its
 * post-conditions (iptcube_shared.h), for tests/integration/fw-post-*.sh.
 * A cube has two ports, p1 and p2, forwarding to each other through the
 * FORWARD chain of `ruleset`, iptables-restore text for *filter parsed
 * by the iptables syntax library (plugins/iptables/ipt.h), compiled by
 * fw_compile() and applied by fw_image_apply(); INPUT and OUTPUT are
 * compiled too but no packet goes through them.  `sets` are the sets
 * -m set names (hash:ip, hash:net, hash:ip,port), their members written
 * as ipset takes them.  `rules` shows each rule's counters, in
 * iptables -S form.  Never installed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "fw_apply.h"
#include "fw_compile.h"
#include "ipt.h"
#ifdef R21_IPTLOOP /* review21_iptloop: 8 words a classifier round */
#include "review21_iptloop.skel.h"
#define iptcube__elf_bytes review21_iptloop__elf_bytes
#else
#include "iptcube.skel.h"
#endif
#include "iptcube_shared.h"

#define IPTC_SET_MAX 64          /* sets per cube */
#define IPTC_SET_IP_MAX 131072u  /* fw_set_ip's size (iptcube.bpf.c) */
#define IPTC_SET_NET_MAX 16384u  /* fw_set_net's */
#define IPTC_SET_PORT_MAX 16384u /* fw_set_ipport's */
#define IPTC_ERR 512

#define IPTC_STAT(f, help)                                                     \
	CUB_PORT_COUNTER(#f, help, "iptc_stats", struct iptc_stats, f)

static const struct cub_field iptc_port_fields[] = {
    IPTC_STAT(rx, "frames received on this port"),
    IPTC_STAT(accepted, "frames received here and forwarded"),
    IPTC_STAT(dropped, "frames received here and dropped"),
    IPTC_STAT(rejected, "frames received here answered by REJECT"),
    {0},
};

static const struct cub_field iptc_set_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = FW_SET_NAME_MAX - 1,
	.help = "the set's name, as -m set --match-set names it"},
    {.name = "type",
	.type = CUB_T_STR,
	.dflt = "hash:ip",
	.help = "hash:ip, hash:net or hash:ip,port"},
    {.name = "members",
	.type = CUB_T_STR,
	.dflt = "",
	.max = 1u << 20,
	.help = "members separated by blanks, as ipset add takes them: "
		"hash:ip A, A/LEN, A-B; hash:net A/LEN, A; hash:ip,port "
		"A,PORT, A,tcp|udp|sctp:PORT, A,PORT-PORT"},
    {0},
};

static const struct cub_field iptc_rule_fields[] = {
    {.name = "slot",
	.type = CUB_T_U32,
	.flags = CUB_F_KEY,
	.help = "the rule's counter slot"},
    {.name = "chain", .type = CUB_T_STR, .help = "its chain"},
    {.name = "num",
	.type = CUB_T_U32,
	.help = "its number in the chain (0: the policy)"},
    {.name = "rule", .type = CUB_T_STR, .help = "the rule, as -S prints it"},
    {.name = "pkts", .type = CUB_T_U64, .help = "packets it counted"},
    {.name = "bytes", .type = CUB_T_U64, .help = "bytes it counted"},
    {0},
};

static const struct cub_field iptc_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = iptc_port_fields,
	.help = "ports of the cube: p1 and p2"},
    {.name = "ruleset",
	.type = CUB_T_STR,
	.dflt = "",
	.max = 1u << 20,
	.help = "iptables-restore text for *filter; packets between the "
		"ports go through FORWARD"},
    {.name = "sets",
	.type = CUB_T_LIST,
	.children = iptc_set_fields,
	.help = "the sets -m set matches"},
    {.name = "rules",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.children = iptc_rule_fields,
	.help = "each rule and policy with its counters"},
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

/* Keys of one set map, sorted (memcmp), as last written. */
struct keys {
	uint8_t *v;
	uint32_t n, cap, size;
};

struct iptc_set {
	char name[FW_SET_NAME_MAX];
	uint32_t type;
};

struct iptc_cube {
	cub_map conf, sip, snet, sport, lim, hlim, logst;
	bool loaded;
	struct ipt_table tab; /* the applied ruleset */
	bool have_tab;
	uint32_t *slots; /* per chain, its first rule's slot */
	uint32_t npol0;  /* the first policy slot */
	struct keys old[3];
};

/* What one apply builds before it changes anything. */
struct iptc_new {
	struct iptc_set sets[IPTC_SET_MAX];
	uint32_t nsets;
	struct keys k[3]; /* fw_set_ip, fw_set_net, fw_set_ipport */
	struct ipt_table tab;
	struct fw_chain *chains;
	struct fw_rule *rules;
	uint32_t *first;
	uint32_t npol0;
	struct fw_image *img;
};

static void
keys_free(struct keys *k)
{
	free(k->v);
	memset(k, 0, sizeof(*k));
}

static int
keys_add(struct keys *k, const void *key)
{
	if (k->n == k->cap) {
		uint32_t c = k->cap ? 2 * k->cap : 1024;
		uint8_t *v = realloc(k->v, (size_t)c * k->size);

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = c;
	}
	memcpy(k->v + (size_t)k->n++ * k->size, key, k->size);
	return 0;
}

static size_t keys_cmp_size;

static int
keys_cmp(const void *a, const void *b)
{
	return memcmp(a, b, keys_cmp_size);
}

/* Sort and drop duplicates. */
static void
keys_sort(struct keys *k)
{
	uint32_t i, j;

	if (k->n < 2)
		return;
	keys_cmp_size = k->size;
	qsort(k->v, k->n, k->size, keys_cmp);
	for (i = 1, j = 1; i < k->n; i++)
		if (memcmp(k->v + (size_t)i * k->size,
			k->v + (size_t)(j - 1) * k->size, k->size))
			memmove(k->v + (size_t)j++ * k->size,
			    k->v + (size_t)i * k->size, k->size);
	k->n = j;
}

static bool
keys_has(const struct keys *k, const void *key)
{
	keys_cmp_size = k->size;
	return k->n && bsearch(key, k->v, k->n, k->size, keys_cmp);
}

static int
parse_addr(const char *s, uint32_t *a)
{
	struct in_addr in;

	if (inet_pton(AF_INET, s, &in) != 1)
		return -EINVAL;
	*a = ntohl(in.s_addr);
	return 0;
}

static int
parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
	char *end;
	unsigned long x;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

/* A, A/LEN or A-B into [lo, hi]; allow_range: the last two forms. */
static int
parse_range(char *s, uint32_t *lo, uint32_t *hi, uint32_t *plen)
{
	char *p;
	uint32_t len = 32;

	if ((p = strchr(s, '/'))) {
		*p++ = '\0';
		if (parse_u32(p, 1, 32, &len) || parse_addr(s, lo))
			return -EINVAL;
		*lo &= len == 32 ? ~0u : ~(~0u >> len);
		*hi = *lo | (len == 32 ? 0 : ~0u >> len);
	} else if ((p = strchr(s, '-'))) {
		*p++ = '\0';
		if (parse_addr(s, lo) || parse_addr(p, hi) || *hi < *lo)
			return -EINVAL;
	} else {
		if (parse_addr(s, lo))
			return -EINVAL;
		*hi = *lo;
	}
	*plen = len;
	return 0;
}

static int
set_member(struct iptc_new *nw, uint32_t id, uint32_t type, char *tok,
    char *err, size_t errlen)
{
	const char *what = tok;
	char copy[128];
	uint32_t lo, hi, plen, plo, phi, proto = IPPROTO_TCP;
	char *port, *p;
	int r = 0;

	snprintf(copy, sizeof(copy), "%s", tok);
	what = copy;
	if (type == FW_SET_HASH_IP_PORT) {
		port = strchr(tok, ',');
		if (!port)
			goto bad;
		*port++ = '\0';
		if ((p = strchr(port, ':'))) {
			*p++ = '\0';
			if (!strcmp(port, "tcp"))
				proto = IPPROTO_TCP;
			else if (!strcmp(port, "udp"))
				proto = IPPROTO_UDP;
			else if (!strcmp(port, "sctp"))
				proto = IPPROTO_SCTP;
			else
				goto bad;
			port = p;
		}
		if ((p = strchr(port, '-'))) {
			*p++ = '\0';
			if (parse_u32(port, 0, 65535, &plo) ||
			    parse_u32(p, plo, 65535, &phi))
				goto bad;
		} else {
			if (parse_u32(port, 0, 65535, &plo))
				goto bad;
			phi = plo;
		}
	}
	if (parse_range(tok, &lo, &hi, &plen))
		goto bad;
	if (type == FW_SET_HASH_NET) {
		struct fw_set_net_key k = {.prefixlen = 32 + plen,
		    .set_id = htonl(id),
		    .addr = htonl(lo)};

		if (strchr(copy, '-'))
			goto bad;
		if (nw->k[1].n >= IPTC_SET_NET_MAX)
			goto big;
		return keys_add(&nw->k[1], &k);
	}
	for (uint64_t a = lo; a <= hi && !r; a++) {
		if (type == FW_SET_HASH_IP) {
			struct fw_set_ip_key k = {
			    .set_id = id, .addr = htonl((uint32_t)a)};

			if (nw->k[0].n >= IPTC_SET_IP_MAX)
				goto big;
			r = keys_add(&nw->k[0], &k);
			continue;
		}
		for (uint32_t pt = plo; pt <= phi && !r; pt++) {
			struct fw_set_ipport_key k = {.set_id = id,
			    .addr = htonl((uint32_t)a),
			    .port = (uint16_t)pt,
			    .proto = (uint8_t)proto};

			if (nw->k[2].n >= IPTC_SET_PORT_MAX)
				goto big;
			r = keys_add(&nw->k[2], &k);
		}
	}
	return r;
bad:
	snprintf(err, errlen, "member '%s' is not one of this set type's forms",
	    what);
	return -EINVAL;
big:
	snprintf(err, errlen,
	    "member '%s': more entries of this type than the cube holds "
	    "(hash:ip %u, hash:net %u, hash:ip,port %u)",
	    what, IPTC_SET_IP_MAX, IPTC_SET_NET_MAX, IPTC_SET_PORT_MAX);
	return -E2BIG;
}

static int
parse_sets(
    struct cub_cube *cube, const struct cub_val *config, struct iptc_new *nw)
{
	const struct cub_val *sets = cub_val__get(config, "sets");
	char err[IPTC_ERR];
	int r;

	nw->k[0].size = sizeof(struct fw_set_ip_key);
	nw->k[1].size = sizeof(struct fw_set_net_key);
	nw->k[2].size = sizeof(struct fw_set_ipport_key);
	for (uint32_t i = 0;
	     sets && sets->kind == CUB_V_ARRAY && i < sets->arr.len; i++) {
		const struct cub_val *e = sets->arr.items[i];
		const char *name = cub_val__get_str(e, "name") ?: "";
		const char *type = cub_val__get_str(e, "type") ?: "hash:ip";
		const char *members = cub_val__get_str(e, "members") ?: "";
		struct iptc_set *s = &nw->sets[nw->nsets];
		char *text, *tok, *save = NULL;

		if (nw->nsets == IPTC_SET_MAX)
			return cub_cube__set_error(cube, CUB_E_LIMIT,
			    "cube '%s': at most %u sets", cub_cube__name(cube),
			    IPTC_SET_MAX);
		snprintf(s->name, sizeof(s->name), "%s", name);
		if (!strcmp(type, "hash:ip"))
			s->type = FW_SET_HASH_IP;
		else if (!strcmp(type, "hash:net"))
			s->type = FW_SET_HASH_NET;
		else if (!strcmp(type, "hash:ip,port"))
			s->type = FW_SET_HASH_IP_PORT;
		else
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': set '%s': type '%s' is not hash:ip, "
			    "hash:net or hash:ip,port",
			    cub_cube__name(cube), name, type);
		nw->nsets++;
		text = strdup(members);
		if (!text)
			return -ENOMEM;
		r = 0;
		for (tok = strtok_r(text, " \t\r\n", &save); tok && !r;
		     tok = strtok_r(NULL, " \t\r\n", &save))
			r = set_member(
			    nw, nw->nsets, s->type, tok, err, sizeof(err));
		free(text);
		if (r == -ENOMEM)
			return r;
		if (r)
			return cub_cube__set_error(cube,
			    r == -E2BIG ? CUB_E_LIMIT : CUB_E_INVAL,
			    "cube '%s': set '%s': %s", cub_cube__name(cube),
			    name, err);
	}
	for (int t = 0; t < 3; t++)
		keys_sort(&nw->k[t]);
	return 0;
}

static int
iptc_setid(void *arg, const char *name, uint32_t *id, uint32_t *type)
{
	const struct iptc_new *nw = arg;

	for (uint32_t i = 0; i < nw->nsets; i++)
		if (!strcmp(nw->sets[i].name, name)) {
			*id = i + 1;
			*type = nw->sets[i].type;
			return 0;
		}
	return -ENOENT;
}

/* Parse and compile: nothing of the cube changes. */
static int
build(struct cub_cube *cube, const struct cub_val *config, struct iptc_new *nw)
{
	const char *text = cub_val__get_str(config, "ruleset") ?: "";
	struct fw_env env = {.setid = iptc_setid, .arg = nw};
	char err[IPTC_ERR];
	uint32_t nr = 0, slot = 1;
	int r;

	if ((r = parse_sets(cube, config, nw)))
		return r;
	if ((r = ipt_table_init(&nw->tab)))
		return r;
	if (*text &&
	    (r = ipt_restore(&nw->tab, text, false, NULL, err, sizeof(err))))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "cube '%s': ruleset: %s", cub_cube__name(cube), err);
	for (uint32_t c = 0; c < nw->tab.n; c++)
		nr += nw->tab.chains[c].n;
	nw->chains = calloc(nw->tab.n, sizeof(*nw->chains));
	nw->rules = calloc(nr + 1, sizeof(*nw->rules));
	nw->first = calloc(nw->tab.n, sizeof(*nw->first));
	if (!nw->chains || !nw->rules || !nw->first)
		return -ENOMEM;
	nw->npol0 = nr + 1;
	nr = 0;
	for (uint32_t c = 0; c < nw->tab.n; c++) {
		const struct ipt_chain *ch = &nw->tab.chains[c];
		struct fw_chain *fc = &nw->chains[c];

		snprintf(fc->name, sizeof(fc->name), "%s", ch->name);
		fc->builtin = ch->builtin;
		fc->policy = ch->builtin ? ch->policy : FW_T_ACCEPT;
		fc->policy_slot = nw->npol0 + c;
		fc->rules = &nw->rules[nr];
		fc->nrules = ch->n;
		nw->first[c] = slot;
		for (uint32_t i = 0; i < ch->n; i++) {
			nw->rules[nr] = ch->rules[i].r;
			nw->rules[nr++].slot = slot++;
		}
	}
	if (nw->npol0 + nw->tab.n >= FW_SLOTS_ALL)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': ruleset: more rules than %u counter slots",
		    cub_cube__name(cube), FW_SLOTS_ALL);
	r = fw_compile(nw->chains, nw->tab.n, &env, &nw->img, err, sizeof(err));
	if (r)
		return cub_cube__set_error(cube,
		    r == -E2BIG ? CUB_E_LIMIT : CUB_E_INVAL,
		    "cube '%s': ruleset: %s", cub_cube__name(cube), err);
	/* The BPF log takes the prefix as its format: '%' doubled. */
	for (uint32_t i = 0; i < nw->img->nlogp; i++) {
		struct fw_logp *lp = &nw->img->logp[i];
		char out[sizeof(lp->prefix)];
		size_t o = 0;

		for (size_t k = 0; lp->prefix[k] && k < sizeof(lp->prefix) &&
				   o + 2 < sizeof(out);
		     k++) {
			out[o++] = lp->prefix[k];
			if (lp->prefix[k] == '%')
				out[o++] = '%';
		}
		out[o] = '\0';
		memcpy(lp->prefix, out, sizeof(out));
	}
	return 0;
}

static void
new_free(struct iptc_new *nw)
{
	for (int t = 0; t < 3; t++)
		keys_free(&nw->k[t]);
	ipt_table_free(&nw->tab);
	free(nw->chains);
	free(nw->rules);
	free(nw->first);
	fw_image_free(nw->img);
}

static int
iptc_load(struct cub_cube *cube, struct iptc_cube *cc)
{
	size_t len;
	const void *elf = iptcube__elf_bytes(&len);
	int r;

	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "iptc_conf", &cc->conf) ||
	    cub_cube__map(cube, "fw_set_ip", &cc->sip) ||
	    cub_cube__map(cube, "fw_set_net", &cc->snet) ||
	    cub_cube__map(cube, "fw_set_ipport", &cc->sport) ||
	    cub_cube__map(cube, "fw_lim", &cc->lim) ||
	    cub_cube__map(cube, "fw_hlim", &cc->hlim) ||
	    cub_cube__map(cube, "fw_log_stats", &cc->logst))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': a map of iptcube's object is missing",
		    cub_cube__name(cube));
	cc->loaded = true;
	return 0;
}

static int
hlim_key(const void *key, const void *value, void *ctx)
{
	(void)value;
	return keys_add(ctx, key);
}

/* Set entries: the new ones written, later the stale ones deleted. */
static int
sets_write(struct cub_cube *cube, struct iptc_cube *cc, struct iptc_new *nw)
{
	const cub_map *m[3] = {&cc->sip, &cc->snet, &cc->sport};
	uint8_t *ones = NULL;
	uint32_t max = 0;
	int r = 0;

	for (int t = 0; t < 3; t++)
		if (nw->k[t].n > max)
			max = nw->k[t].n;
	ones = malloc(max + 1);
	if (!ones)
		return -ENOMEM;
	memset(ones, 1, max + 1);
	for (int t = 0; t < 3 && !r; t++) {
		uint32_t count = nw->k[t].n;

		if (count)
			r = cub_map__update_batch(
			    cube, m[t], nw->k[t].v, ones, &count, NULL);
	}
	free(ones);
	return r;
}

static int
sets_prune(struct cub_cube *cube, struct iptc_cube *cc, struct iptc_new *nw)
{
	const cub_map *m[3] = {&cc->sip, &cc->snet, &cc->sport};
	struct keys stale;
	int r = 0;

	for (int t = 0; t < 3 && !r; t++) {
		const struct keys *o = &cc->old[t];

		memset(&stale, 0, sizeof(stale));
		stale.size = o->size;
		for (uint32_t i = 0; i < o->n && !r; i++)
			if (!keys_has(&nw->k[t], o->v + (size_t)i * o->size))
				r = keys_add(
				    &stale, o->v + (size_t)i * o->size);
		if (!r && stale.n) {
			uint32_t count = stale.n;

			r = cub_map__delete_batch(
			    cube, m[t], stale.v, &count, NULL);
		}
		keys_free(&stale);
	}
	return r;
}

/* Every -m limit bucket of the new rules full, every hashlimit one gone. */
static int
limits_reset(struct cub_cube *cube, struct iptc_cube *cc, struct iptc_new *nw)
{
	struct keys hl = {.size = sizeof(struct fw_hlim_key)};
	uint32_t *slots, n = 0, nr = nw->npol0 - 1;
	int r;

	slots = calloc(nr + 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < nr; i++)
		if (nw->rules[i].limit.set)
			slots[n++] = nw->rules[i].slot;
	r = n ? cub_map__zero_batch(cube, &cc->lim, slots, n) : 0;
	free(slots);
	if (!r)
		r = cub_map__dump(cube, &cc->hlim, hlim_key, &hl);
	if (!r && hl.n) {
		uint32_t count = hl.n;

		r = cub_map__delete_batch(cube, &cc->hlim, hl.v, &count, NULL);
	}
	keys_free(&hl);
	return r;
}

static int
iptc_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct iptc_cube *cc = cub_cube__priv(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	struct iptc_conf conf = {0};
	struct iptc_new *nw;
	bool have1 = false, have2 = false;
	char err[IPTC_ERR];
	const char *pname;
	uint32_t i, key = 0;
	uint64_t idx;
	int r;

	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const struct cub_val *e = ports->arr.items[i];

		pname = cub_val__get_str(e, "name");
		if (cub_val__as_u64(cub_val__get(e, "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "port '%s' has no valid index", pname ?: "?");
		if (pname && !strcmp(pname, "p1")) {
			conf.p1 = (uint32_t)idx;
			have1 = true;
		} else if (pname && !strcmp(pname, "p2")) {
			conf.p2 = (uint32_t)idx;
			have2 = true;
		} else {
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': port '%s': an iptcube's ports are p1 "
			    "and p2",
			    cub_cube__name(cube), pname ?: "?");
		}
	}
	nw = calloc(1, sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	if ((r = build(cube, config, nw)))
		goto out;
	if ((create || !cc->loaded) && (r = iptc_load(cube, cc)))
		goto out;
	if ((r = sets_write(cube, cc, nw)) || (r = limits_reset(cube, cc, nw)))
		goto out;
	if ((r = fw_image_apply(cube, nw->img, err, sizeof(err)))) {
		r = cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': applying the ruleset: %s", cub_cube__name(cube),
		    err);
		goto out;
	}
	if ((r = sets_prune(cube, cc, nw)))
		goto out;
	for (int t = 0; t < 3; t++) {
		keys_free(&cc->old[t]);
		cc->old[t] = nw->k[t];
		memset(&nw->k[t], 0, sizeof(nw->k[t]));
	}
	if (cc->have_tab)
		ipt_table_free(&cc->tab);
	cc->tab = nw->tab;
	memset(&nw->tab, 0, sizeof(nw->tab));
	cc->have_tab = true;
	free(cc->slots);
	cc->slots = nw->first;
	nw->first = NULL;
	cc->npol0 = nw->npol0;
	conf.ready = have1 && have2;
	r = cub_map__update(cube, &cc->conf, &key, &conf, 0);
out:
	new_free(nw);
	free(nw);
	return r;
}

static struct cub_val *
rule_row(uint32_t slot, const char *chain, uint32_t num, const char *text,
    uint64_t pkts, uint64_t bytes)
{
	struct cub_val *e = cub_val__map();

	if (!e)
		return NULL;
	if (cub_val__set(e, "slot", cub_val__uint(slot)) ||
	    cub_val__set(e, "chain", cub_val__str(chain)) ||
	    cub_val__set(e, "num", cub_val__uint(num)) ||
	    cub_val__set(e, "rule", cub_val__str(text)) ||
	    cub_val__set(e, "pkts", cub_val__uint(pkts)) ||
	    cub_val__set(e, "bytes", cub_val__uint(bytes)))
		return cub_val__free(e);
	return e;
}

static int
iptc_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct iptc_cube *cc = cub_cube__priv(cube);
	struct cub_val *list;
	struct {
		uint64_t lines, suppressed;
	} ls = {0};
	uint32_t zero = 0;
	int r = 0;

	(void)config;
	if (!cc->loaded || !cc->have_tab)
		return 0;
	list = cub_val__array();
	for (uint32_t c = 0; list && !r && c < cc->tab.n; c++) {
		const struct ipt_chain *ch = &cc->tab.chains[c];
		uint32_t n = ch->n + (ch->builtin ? 1 : 0);
		uint32_t *slots = calloc(n + 1, sizeof(*slots));
		uint64_t *pk = calloc(n + 1, sizeof(*pk));
		uint64_t *by = calloc(n + 1, sizeof(*by));

		if (!slots || !pk || !by)
			r = -ENOMEM;
		for (uint32_t i = 0; !r && i < ch->n; i++)
			slots[i] = cc->slots[c] + i;
		if (!r && ch->builtin)
			slots[ch->n] = cc->npol0 + c;
		if (!r)
			r = fw_counters_read(cube, slots, n, pk, by);
		for (uint32_t i = 0; !r && i < n; i++) {
			char *text = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&text, &len);
			struct cub_val *e;

			if (!f) {
				r = -ENOMEM;
				break;
			}
			if (i < ch->n)
				ipt_print_rule(f, ch->name, &ch->rules[i].r,
				    IPT_CNT_NONE, 0, 0);
			else
				fprintf(f, "-P %s %s", ch->name,
				    ch->policy == FW_T_DROP ? "DROP"
							    : "ACCEPT");
			fclose(f);
			if (len && text[len - 1] == '\n')
				text[len - 1] = '\0';
			e = rule_row(slots[i], ch->name, i < ch->n ? i + 1 : 0,
			    text ?: "", pk[i], by[i]);
			free(text);
			if (!e || cub_val__push(list, e)) {
				cub_val__free(e);
				r = -ENOMEM;
			}
		}
		free(slots);
		free(pk);
		free(by);
	}
	if (r || !list) {
		cub_val__free(list);
		return r ? r : -ENOMEM;
	}
	if ((r = cub_map__lookup(cube, &cc->logst, &zero, &ls))) {
		cub_val__free(list);
		return r;
	}
	if (cub_val__set(overlay, "rules", list) ||
	    cub_val__set(overlay, "log-lines", cub_val__uint(ls.lines)) ||
	    cub_val__set(
		overlay, "log-suppressed", cub_val__uint(ls.suppressed)))
		return -ENOMEM;
	return 0;
}

static void
iptc_destroy(struct cub_cube *cube)
{
	struct iptc_cube *cc = cub_cube__priv(cube);

	if (cc->have_tab)
		ipt_table_free(&cc->tab);
	free(cc->slots);
	for (int t = 0; t < 3; t++)
		keys_free(&cc->old[t]);
}

static const struct cub_plugin_ops iptc_ops = {
    .apply = iptc_apply,
    .destroy = iptc_destroy,
    .show = iptc_show,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "iptcube",
    .description = "an iptables FORWARD chain between two ports (tests "
		   "only)",
    .cube_size = sizeof(struct iptc_cube),
    .schema = iptc_schema,
    .ops = &iptc_ops,
    .policy = FW_PLUGIN_POLICY(96u << 20),
    .apply_timeout_ms = 60000,
    CUB_PLUGIN_SIZES,
};
