// SPDX-License-Identifier: BSD-2-Clause
/*
 * nat, control plane: Polycube's transparent pcn-nat (README.md).
 *
 * The document holds the rules: rule/snat/entry (id, internal-net,
 * external-ip), rule/masquerade/enabled, rule/dnat/entry (id,
 * external-ip, internal-ip), rule/port-forwarding/entry (id,
 * external-ip, external-port, internal-ip, internal-port, proto).
 * apply() (creation, replay, every change, and every change of the
 * attach point's parameters, `attached`) checks the whole document,
 * then makes the rule maps hold exactly it and writes nat_cfg with the
 * masquerade address: the first IPv4 address of the attach point.  It
 * never touches the sessions (nat_egress, nat_ingress, fw_ct): deleting
 * a rule leaves established sessions alone, and a replay after a
 * worker or broker restart finds them as the dataplane left them.
 * `natting-table show` lists the live sessions; `natting-table flush`
 * (the action Polycube spells `natting-table del`) empties them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include "cubicle/plugin.h"
#include "fw_ct.h"
#include "nat.skel.h"
#include "nat_shared.h"

_Static_assert(sizeof(struct nat_sess_key) == 16, "nat_sess_key has holes");
_Static_assert(sizeof(struct nat_sess_val) == 24, "nat_sess_val has holes");

/* Rows a natting-table show lists at most (its total counts them all). */
#define NAT_SHOW_MAX 10000u

struct nat_cube {
	cub_map snat, dnat, pf, cfg, egress, ingress, ct, stats;
	bool loaded;
};

static const char *const nat_proto_enums[] = {"tcp", "udp", "all", NULL};
static const char *const nat_rule_names[] = {[NAT_R_NONE] = "none",
    [NAT_R_SNAT] = "snat",
    [NAT_R_DNAT] = "dnat",
    [NAT_R_MASQ] = "masquerade",
    [NAT_R_PF] = "portforwarding"};

/* The parsed rules of one document. */
struct nat_want {
	struct nat_lpm_key snat_k[NAT_RULES_MAX];
	struct nat_rule_val snat_v[NAT_RULES_MAX];
	uint32_t nsnat;
	uint32_t dnat_k[NAT_RULES_MAX];
	struct nat_rule_val dnat_v[NAT_RULES_MAX];
	uint32_t ndnat;
	struct nat_pf_key pf_k[NAT_RULES_MAX];
	struct nat_rule_val pf_v[NAT_RULES_MAX];
	uint32_t npf;
	struct nat_cfg cfg;
};

static const struct cub_val *
entries_of(const struct cub_val *config, const char *kind)
{
	const struct cub_val *rule = cub_val__get(config, "rule");
	const struct cub_val *c = rule ? cub_val__get(rule, kind) : NULL;
	const struct cub_val *e = c ? cub_val__get(c, "entry") : NULL;

	return e && e->kind == CUB_V_ARRAY ? e : NULL;
}

static uint32_t
id_of(const struct cub_val *e)
{
	uint64_t id = 0;

	cub_val__as_u64(cub_val__get(e, "id"), &id);
	return (uint32_t)id;
}

/* An IPV4 field as a network-order address; -1 if absent or bad. */
static int
ip_of(const struct cub_val *e, const char *field, uint32_t *addr)
{
	struct cub_ip ip;

	if (cub_val__as_ip(cub_val__get(e, field), &ip) || ip.family != AF_INET)
		return -1;
	memcpy(addr, ip.addr, 4);
	return 0;
}

static int
u16_of(const struct cub_val *e, const char *field, uint16_t *out)
{
	uint64_t v;

	if (cub_val__as_u64(cub_val__get(e, field), &v) || !v || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int
want_snat(
    struct cub_cube *cube, const struct cub_val *config, struct nat_want *w)
{
	const struct cub_val *arr = entries_of(config, "snat");
	uint32_t i, j, n = arr ? arr->arr.len : 0, host, mask;
	const struct cub_val *e;
	struct cub_ip ip;

	if (n > NAT_RULES_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "rule snat: %u entries, at most %u", n, NAT_RULES_MAX);
	for (i = 0; i < n; i++) {
		e = arr->arr.items[i];
		if (cub_val__as_ip_prefix(
			cub_val__get(e, "internal-net"), &ip) ||
		    ip.family != AF_INET)
			return cub_cube__set_error(cube, CUB_E_MISSING,
			    "rule snat entry %u: internal-net (an IPv4 prefix) "
			    "is missing",
			    id_of(e));
		memcpy(&host, ip.addr, 4);
		host = ntohl(host);
		mask = ip.plen ? ~0u << (32 - ip.plen) : 0;
		if (host & ~mask)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "rule snat entry %u: internal-net '%s' has host "
			    "bits set (the prefix is %u.%u.%u.%u/%u)",
			    id_of(e), cub_val__get_str(e, "internal-net"),
			    (host & mask) >> 24, (host & mask) >> 16 & 255,
			    (host & mask) >> 8 & 255, host & mask & 255,
			    ip.plen);
		w->snat_k[i].prefixlen = ip.plen;
		w->snat_k[i].addr = htonl(host);
		if (ip_of(e, "external-ip", &w->snat_v[i].ip))
			return cub_cube__set_error(cube, CUB_E_MISSING,
			    "rule snat entry %u: external-ip is missing",
			    id_of(e));
		w->snat_v[i].id = id_of(e);
		for (j = 0; j < i; j++)
			if (!memcmp(&w->snat_k[j], &w->snat_k[i],
				sizeof(w->snat_k[i])))
				return cub_cube__set_error(cube, CUB_E_EXISTS,
				    "rule snat entry %u: internal-net %s is "
				    "entry %u's already",
				    id_of(e),
				    cub_val__get_str(e, "internal-net"),
				    w->snat_v[j].id);
	}
	w->nsnat = n;
	return 0;
}

static int
want_dnat(
    struct cub_cube *cube, const struct cub_val *config, struct nat_want *w)
{
	const struct cub_val *arr = entries_of(config, "dnat");
	uint32_t i, j, n = arr ? arr->arr.len : 0;
	const struct cub_val *e;

	if (n > NAT_RULES_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "rule dnat: %u entries, at most %u", n, NAT_RULES_MAX);
	for (i = 0; i < n; i++) {
		e = arr->arr.items[i];
		if (ip_of(e, "external-ip", &w->dnat_k[i]) ||
		    ip_of(e, "internal-ip", &w->dnat_v[i].ip))
			return cub_cube__set_error(cube, CUB_E_MISSING,
			    "rule dnat entry %u: external-ip and internal-ip "
			    "are both needed",
			    id_of(e));
		w->dnat_v[i].id = id_of(e);
		for (j = 0; j < i; j++)
			if (w->dnat_k[j] == w->dnat_k[i])
				return cub_cube__set_error(cube, CUB_E_EXISTS,
				    "rule dnat entry %u: external-ip %s is "
				    "entry %u's already",
				    id_of(e),
				    cub_val__get_str(e, "external-ip"),
				    w->dnat_v[j].id);
	}
	w->ndnat = n;
	return 0;
}

static int
want_pf(struct cub_cube *cube, const struct cub_val *config, struct nat_want *w)
{
	const struct cub_val *arr = entries_of(config, "port-forwarding");
	uint32_t i, j, n = arr ? arr->arr.len : 0;
	const struct cub_val *e;
	uint16_t ep, ip;
	int proto;

	if (n > NAT_RULES_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "rule port-forwarding: %u entries, at most %u", n,
		    NAT_RULES_MAX);
	for (i = 0; i < n; i++) {
		e = arr->arr.items[i];
		if (ip_of(e, "external-ip", &w->pf_k[i].ext_ip) ||
		    ip_of(e, "internal-ip", &w->pf_v[i].ip) ||
		    u16_of(e, "external-port", &ep) ||
		    u16_of(e, "internal-port", &ip))
			return cub_cube__set_error(cube, CUB_E_MISSING,
			    "rule port-forwarding entry %u: external-ip, "
			    "external-port, internal-ip and internal-port "
			    "are all needed (ports 1 to 65535)",
			    id_of(e));
		proto = cub_config__enum_index(e, "proto", nat_proto_enums, 2);
		w->pf_k[i].ext_port = htons(ep);
		w->pf_k[i].proto = proto == 0   ? IPPROTO_TCP
				   : proto == 1 ? IPPROTO_UDP
						: 0;
		w->pf_k[i].pad = 0;
		w->pf_v[i].port = htons(ip);
		w->pf_v[i].id = id_of(e);
		for (j = 0; j < i; j++)
			if (!memcmp(
				&w->pf_k[j], &w->pf_k[i], sizeof(w->pf_k[i])))
				return cub_cube__set_error(cube, CUB_E_EXISTS,
				    "rule port-forwarding entry %u: %s:%u "
				    "proto %s is entry %u's already",
				    id_of(e),
				    cub_val__get_str(e, "external-ip"), ep,
				    nat_proto_enums[proto], w->pf_v[j].id);
	}
	w->npf = n;
	return 0;
}

/* "a.b.c.d/n" (or "a.b.c.d") as a network-order address, or 0. */
static uint32_t
addr_of(const char *s)
{
	unsigned a, b, c, d;

	if (!s || sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 ||
	    b > 255 || c > 255 || d > 255)
		return 0;
	return htonl(a << 24 | b << 16 | c << 8 | d);
}

/*
 * The masquerade address: on a cube port, the port's own "ip" (a router
 * port's, from `attached.fields`, its entry in the parent cube's
 * document); else the first IPv4 address of the netdev (`attached`: a
 * netdev's addresses, or a cube port's peer netdev's).
 */
static uint32_t
masq_addr(const struct cub_val *config)
{
	const struct cub_val *att = cub_val__get(config, "attached");
	const struct cub_val *addrs =
	    att ? cub_val__get(att, "addresses") : NULL;
	const struct cub_val *fields = att ? cub_val__get(att, "fields") : NULL;
	uint32_t i, ip;

	if (fields && (ip = addr_of(cub_val__get_str(fields, "ip"))))
		return ip;
	if (!addrs || addrs->kind != CUB_V_ARRAY)
		return 0;
	for (i = 0; i < addrs->arr.len; i++)
		if ((ip = addr_of(cub_val__as_str(addrs->arr.items[i]))))
			return ip;
	return 0;
}

/* Keys of a map, as a dump collects them. */
struct nat_keys {
	uint8_t *keys;
	uint32_t n, cap, size;
};

static int
keys_add(const void *key, const void *value, void *ctx)
{
	struct nat_keys *k = ctx;
	uint8_t *p;

	(void)value;
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 256;
		if (!(p = realloc(k->keys, (size_t)k->cap * k->size)))
			return -ENOMEM;
		k->keys = p;
	}
	memcpy(k->keys + (size_t)k->n++ * k->size, key, k->size);
	return 0;
}

/* map made to hold exactly the n (keys, vals): stale keys go first. */
static int
map_reconcile(struct cub_cube *cube, const cub_map *map, const void *keys,
    const void *vals, uint32_t n)
{
	struct nat_keys have = {.size = map->key_size};
	uint32_t i, j;
	int r;

	if ((r = cub_map__dump(cube, map, keys_add, &have)))
		goto out;
	for (i = 0; i < have.n; i++) {
		const uint8_t *k = have.keys + (size_t)i * have.size;

		for (j = 0; j < n; j++)
			if (!memcmp(k,
				(const uint8_t *)keys + (size_t)j * have.size,
				have.size))
				break;
		if (j == n && (r = cub_map__delete(cube, map, k)) &&
		    r != -ENOENT)
			goto out;
	}
	r = 0;
	for (j = 0; j < n; j++)
		if ((r = cub_map__update(cube, map,
			 (const uint8_t *)keys + (size_t)j * map->key_size,
			 (const uint8_t *)vals + (size_t)j * map->value_size,
			 BPF_ANY)))
			break;
out:
	free(have.keys);
	return r;
}

static int
nat_load(struct cub_cube *cube, struct nat_cube *n)
{
	static const struct {
		const char *name;
		size_t off;
	} maps[] = {
	    {"nat_snat", offsetof(struct nat_cube, snat)},
	    {"nat_dnat", offsetof(struct nat_cube, dnat)},
	    {"nat_pf", offsetof(struct nat_cube, pf)},
	    {"nat_egress", offsetof(struct nat_cube, egress)},
	    {"nat_ingress", offsetof(struct nat_cube, ingress)},
	    {"fw_ct", offsetof(struct nat_cube, ct)},
	    {"nat_stats", offsetof(struct nat_cube, stats)},
	};
	const void *elf;
	size_t len, i;
	int r;

	elf = nat__elf_bytes(&len);
	if ((r = cub_cube__load_map(cube, elf, len, "nat_cfg", &n->cfg)))
		return r;
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (cub_cube__map(cube, maps[i].name,
			(cub_map *)((char *)n + maps[i].off)))
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': its object has no map '%s'",
			    cub_cube__name(cube), maps[i].name);
	n->loaded = true;
	return 0;
}

static int
nat_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct nat_cube *n = cub_cube__priv(cube);
	const struct cub_val *rule, *masq;
	const char *type;
	struct nat_want *w;
	uint32_t zero = 0;
	bool on = false;
	char ip[INET_ADDRSTRLEN];
	int r;

	type = cub_val__get_str(config, "type");
	if (type && strcmp(type, "TC"))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "cube '%s': nat runs on TC only, not %s (XDP has no "
		    "egress hook: nothing could be translated going out)",
		    cub_cube__name(cube), type);
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	/* Everything checked before anything is written. */
	if ((r = want_snat(cube, config, w)) ||
	    (r = want_dnat(cube, config, w)) || (r = want_pf(cube, config, w)))
		goto out;
	rule = cub_val__get(config, "rule");
	masq = rule ? cub_val__get(rule, "masquerade") : NULL;
	if (masq)
		cub_val__as_bool(cub_val__get(masq, "enabled"), &on);
	w->cfg.masq_on = on;
	w->cfg.masq_ip = masq_addr(config);
	if (!n->loaded && (r = nat_load(cube, n)))
		goto out;
	if ((r = map_reconcile(
		 cube, &n->snat, w->snat_k, w->snat_v, w->nsnat)) ||
	    (r = map_reconcile(
		 cube, &n->dnat, w->dnat_k, w->dnat_v, w->ndnat)) ||
	    (r = map_reconcile(cube, &n->pf, w->pf_k, w->pf_v, w->npf)) ||
	    (r = cub_map__update(cube, &n->cfg, &zero, &w->cfg, BPF_ANY)))
		goto out;
	inet_ntop(AF_INET, &w->cfg.masq_ip, ip, sizeof(ip));
	cub_cube__log(cube, CUB_LOG_INFO,
	    "%s: snat %u, dnat %u, port-forwarding %u, masquerade %s "
	    "(address %s)",
	    create ? "applied (new or replayed)" : "applied", w->nsnat,
	    w->ndnat, w->npf, on ? "on" : "off", w->cfg.masq_ip ? ip : "none");
out:
	free(w);
	return r;
}

/* One session for the show, with its conntrack entry's state. */
struct nat_row {
	struct nat_sess_key k;
	struct nat_sess_val v;
};

struct nat_rows {
	struct nat_row *rows;
	uint32_t n, cap;
};

static int
rows_add(const void *key, const void *value, void *ctx)
{
	struct nat_rows *rs = ctx;
	struct nat_row *p;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 256;
		if (!(p = realloc(rs->rows, rs->cap * sizeof(*p))))
			return -ENOMEM;
		rs->rows = p;
	}
	memcpy(&rs->rows[rs->n].k, key, sizeof(rs->rows[0].k));
	memcpy(&rs->rows[rs->n++].v, value, sizeof(rs->rows[0].v));
	return 0;
}

/* The conntrack table, read once per show and sorted by key. */
struct nat_ct {
	struct fw_ct_key k;
	struct fw_ct_val v;
};

struct nat_cts {
	struct nat_ct *e;
	uint32_t n, cap;
};

static int
cts_add(const void *key, const void *value, void *ctx)
{
	struct nat_cts *cs = ctx;
	struct nat_ct *p;

	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 256;
		if (!(p = realloc(cs->e, cs->cap * sizeof(*p))))
			return -ENOMEM;
		cs->e = p;
	}
	memcpy(&cs->e[cs->n].k, key, sizeof(cs->e[0].k));
	memcpy(&cs->e[cs->n++].v, value, sizeof(cs->e[0].v));
	return 0;
}

static int
ct_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct fw_ct_key));
}

static int
row_cmp(const void *pa, const void *pb)
{
	const struct nat_row *a = pa, *b = pb;
	uint64_t x = (uint64_t)ntohl(a->k.src) << 32 | ntohl(a->k.dst);
	uint64_t y = (uint64_t)ntohl(b->k.src) << 32 | ntohl(b->k.dst);

	if (x != y)
		return x < y ? -1 : 1;
	x = (uint64_t)a->k.proto << 32 | (uint32_t)ntohs(a->k.sport) << 16 |
	    ntohs(a->k.dport);
	y = (uint64_t)b->k.proto << 32 | (uint32_t)ntohs(b->k.sport) << 16 |
	    ntohs(b->k.dport);
	return x < y ? -1 : x > y;
}

static struct cub_val *
ip_val(uint32_t addr)
{
	char buf[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &addr, buf, sizeof(buf));
	return cub_val__str(buf);
}

/*
 * The live sessions (nat_egress entries whose conntrack entry is live),
 * sorted, the first NAT_SHOW_MAX as rows in *out; *total all of them.
 */
static int
natting_table(struct cub_cube *cube, struct nat_cube *n, struct cub_val **out,
    uint64_t *total)
{
	struct nat_rows rs = {0};
	struct nat_cts cs = {0};
	struct fw_ct_session sess;
	struct cub_val *list = NULL, *e;
	uint64_t now = fw_ct_now_ns();
	const struct nat_ct *ct;
	const char *proto;
	uint32_t i;
	int r;

	*total = 0;
	if ((r = cub_map__dump(cube, &n->egress, rows_add, &rs)) ||
	    (r = cub_map__dump(cube, &n->ct, cts_add, &cs)))
		goto out;
	if (rs.n)
		qsort(rs.rows, rs.n, sizeof(*rs.rows), row_cmp);
	if (cs.n)
		qsort(cs.e, cs.n, sizeof(*cs.e), ct_cmp);
	if (!(list = cub_val__array())) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < rs.n; i++) {
		struct nat_row *w = &rs.rows[i];

		ct = cs.n ? bsearch(&w->v.ct, cs.e, cs.n, sizeof(*cs.e), ct_cmp)
			  : NULL;
		if (!ct || !fw_ct_decode(&ct->k, &ct->v, now, &sess))
			continue; /* not live */
		if ((*total)++ >= NAT_SHOW_MAX)
			continue;
		proto = fw_ct_proto_name(w->k.proto);
		e = cub_val__map();
		if (!e || cub_val__set(e, "internal-src", ip_val(w->k.src)) ||
		    cub_val__set(e, "internal-dst", ip_val(w->k.dst)) ||
		    cub_val__set(e, "internal-sport",
			cub_val__uint(ntohs(w->k.sport))) ||
		    cub_val__set(e, "internal-dport",
			cub_val__uint(ntohs(w->k.dport))) ||
		    cub_val__set(
			e, "proto", cub_val__str(proto ? proto : "?")) ||
		    cub_val__set(e, "originating-rule",
			cub_val__str(w->v.rule <= NAT_R_PF
					 ? nat_rule_names[w->v.rule]
					 : "none")) ||
		    cub_val__set(e, "external-ip", ip_val(w->v.ip)) ||
		    cub_val__set(
			e, "external-port", cub_val__uint(ntohs(w->v.port))) ||
		    cub_val__set(e, "state",
			cub_val__str(fw_ct_state_name(sess.state))) ||
		    cub_val__set(e, "eta", cub_val__uint(sess.eta)) ||
		    cub_val__push(list, e)) {
			cub_val__free(e);
			r = -ENOMEM;
			goto out;
		}
	}
	*out = list;
	list = NULL;
out:
	cub_val__free(list);
	free(rs.rows);
	free(cs.e);
	return r;
}

static int
nat_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct nat_cube *n = cub_cube__priv(cube);
	struct cub_val *list = NULL, *table;
	uint64_t total;
	struct nat_cfg cfg;
	uint32_t zero = 0;
	int r;

	(void)config;
	if (!n->loaded)
		return 0;
	if ((r = natting_table(cube, n, &list, &total)))
		return r;
	if (!(table = cub_val__map())) {
		cub_val__free(list);
		return -ENOMEM;
	}
	if (cub_val__set(table, "entry", list) ||
	    cub_val__set(table, "total", cub_val__uint(total))) {
		cub_val__free(table);
		return -ENOMEM;
	}
	if (cub_val__set(overlay, "natting-table", table))
		return -ENOMEM;
	/* The masquerade address the dataplane uses. */
	if (!cub_map__lookup(cube, &n->cfg, &zero, &cfg)) {
		struct cub_val *rule = cub_val__map(), *masq = cub_val__map();

		if (!rule || !masq ||
		    cub_val__set(masq, "address",
			cfg.masq_ip ? ip_val(cfg.masq_ip) : cub_val__str("")) ||
		    cub_val__set(rule, "masquerade", masq) ||
		    cub_val__set(overlay, "rule", rule)) {
			if (!rule)
				cub_val__free(masq);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Every key of map deleted. */
static int
map_flush(struct cub_cube *cube, const cub_map *map, uint32_t *count)
{
	struct nat_keys k = {.size = map->key_size};
	int r;

	if (!(r = cub_map__dump(cube, map, keys_add, &k)) && k.n)
		r = cub_map__delete_batch(cube, map, k.keys, k.n);
	if (count)
		*count = k.n;
	free(k.keys);
	return r;
}

static int
nat_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	struct nat_cube *n = cub_cube__priv(cube);
	uint32_t count = 0;
	int r;

	(void)path;
	(void)args;
	if (strcmp(name, "flush"))
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "no action '%s'", name);
	if (!n->loaded)
		return 0;
	if ((r = map_flush(cube, &n->egress, &count)) ||
	    (r = map_flush(cube, &n->ingress, NULL)) ||
	    (r = map_flush(cube, &n->ct, NULL)))
		return r;
	if ((*result = cub_val__map()))
		cub_val__set(*result, "flushed", cub_val__uint(count));
	cub_cube__log(
	    cube, CUB_LOG_INFO, "natting-table flushed: %u sessions", count);
	return 0;
}

static const struct cub_field nat_snat_entry[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "rule id"},
    {.name = "internal-net",
	.type = CUB_T_IPV4_PREFIX,
	.flags = CUB_F_REQUIRED,
	.help = "sources rewritten (198.18.1.0/24; the longest that holds "
		"a source wins)"},
    {.name = "external-ip",
	.type = CUB_T_IPV4,
	.flags = CUB_F_REQUIRED,
	.help = "the source they get"},
    {0},
};

static const struct cub_field nat_dnat_entry[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "rule id"},
    {.name = "external-ip",
	.type = CUB_T_IPV4,
	.flags = CUB_F_REQUIRED,
	.help = "destination coming in (every protocol)"},
    {.name = "internal-ip",
	.type = CUB_T_IPV4,
	.flags = CUB_F_REQUIRED,
	.help = "the destination it gets"},
    {0},
};

static const struct cub_field nat_pf_entry[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "rule id"},
    {.name = "external-ip",
	.type = CUB_T_IPV4,
	.flags = CUB_F_REQUIRED,
	.help = "destination coming in"},
    {.name = "external-port",
	.type = CUB_T_U16,
	.flags = CUB_F_REQUIRED,
	.min = 1,
	.max = 65535,
	.help = "destination port coming in (1 to 65535)"},
    {.name = "internal-ip",
	.type = CUB_T_IPV4,
	.flags = CUB_F_REQUIRED,
	.help = "the destination it gets"},
    {.name = "internal-port",
	.type = CUB_T_U16,
	.flags = CUB_F_REQUIRED,
	.min = 1,
	.max = 65535,
	.help = "the destination port it gets (1 to 65535)"},
    {.name = "proto",
	.type = CUB_T_ENUM,
	.enums = nat_proto_enums,
	.dflt = "all",
	.help = "tcp, udp or all (an entry with a protocol wins over all)"},
    {0},
};

static const struct cub_field nat_snat_fields[] = {
    {.name = "entry",
	.type = CUB_T_LIST,
	.help = "SNAT entries (over masquerade)",
	.children = nat_snat_entry},
    {0},
};

static const struct cub_field nat_dnat_fields[] = {
    {.name = "entry",
	.type = CUB_T_LIST,
	.help = "DNAT entries (port forwarding wins over them)",
	.children = nat_dnat_entry},
    {0},
};

static const struct cub_field nat_pf_fields[] = {
    {.name = "entry",
	.type = CUB_T_LIST,
	.help = "port forwarding entries",
	.children = nat_pf_entry},
    {0},
};

static const struct cub_field nat_masq_fields[] = {
    {.name = "enabled",
	.type = CUB_T_BOOL,
	.dflt = "false",
	.help = "sources no SNAT entry holds get the attach point's first "
		"IPv4 address"},
    {.name = "address",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "the address masquerade gives now (\"\": none)"},
    {0},
};

static const struct cub_field nat_rule_fields[] = {
    {.name = "snat",
	.type = CUB_T_CONTAINER,
	.help = "source NAT: internal-net -> external-ip",
	.children = nat_snat_fields},
    {.name = "masquerade",
	.type = CUB_T_CONTAINER,
	.help = "masquerade (set enabled=true|false)",
	.children = nat_masq_fields},
    {.name = "dnat",
	.type = CUB_T_CONTAINER,
	.help = "destination NAT: external-ip -> internal-ip",
	.children = nat_dnat_fields},
    {.name = "port-forwarding",
	.type = CUB_T_CONTAINER,
	.help = "external-ip:external-port -> internal-ip:internal-port",
	.children = nat_pf_fields},
    {0},
};

static const struct cub_field nat_session_fields[] = {
    {.name = "internal-src",
	.type = CUB_T_IPV4,
	.flags = CUB_F_KEY,
	.help = "inside address"},
    {.name = "internal-dst",
	.type = CUB_T_IPV4,
	.flags = CUB_F_KEY,
	.help = "the peer outside"},
    {.name = "internal-sport",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.help = "inside port (ICMP: echo identifier)"},
    {.name = "internal-dport",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.help = "peer port (ICMP: echo identifier)"},
    {.name = "proto",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.help = "tcp, udp, icmp"},
    {.name = "originating-rule",
	.type = CUB_T_STR,
	.help = "snat, dnat, masquerade, portforwarding"},
    {.name = "external-ip",
	.type = CUB_T_IPV4,
	.help = "the address the outside sees"},
    {.name = "external-port",
	.type = CUB_T_U16,
	.help = "the port the outside sees"},
    {.name = "state",
	.type = CUB_T_STR,
	.help = "conntrack state (plugins/fwcore)"},
    {.name = "eta",
	.type = CUB_T_U64,
	.help = "seconds before the session expires"},
    {0},
};

static const struct cub_field nat_stats_fields[] = {
    {.name = "sessions",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "sessions opened",
	.counter = &(const struct cub_counter){.map = "nat_stats",
	    .offset = offsetof(struct nat_stats, sessions)}},
    {.name = "port-exhausted",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "new sessions dropped: no free external port",
	.counter = &(const struct cub_counter){.map = "nat_stats",
	    .offset = offsetof(struct nat_stats, port_exhausted)}},
    {.name = "translated",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets rewritten",
	.counter = &(const struct cub_counter){.map = "nat_stats",
	    .offset = offsetof(struct nat_stats, translated)}},
    {0},
};

static const struct cub_action nat_table_actions[] = {
    {.name = "flush", .help = "delete every session"},
    {0},
};

static const struct cub_field nat_table_fields[] = {
    {.name = "total",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "live sessions (entry lists the first 10,000, sorted)"},
    {.name = "entry",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.help = "live sessions",
	.children = nat_session_fields},
    {0},
};

static const struct cub_field nat_schema[] = {
    {.name = "rule",
	.type = CUB_T_CONTAINER,
	.help = "NAT rules",
	.children = nat_rule_fields},
    {.name = "natting-table",
	.type = CUB_T_CONTAINER,
	.help = "the sessions: `natting-table show`, `natting-table flush`",
	.children = nat_table_fields,
	.actions = nat_table_actions},
    {.name = "stats",
	.type = CUB_T_CONTAINER,
	.help = "counters (read-only)",
	.children = nat_stats_fields},
    {0},
};

static const struct cub_plugin_ops nat_ops = {
    .apply = nat_apply,
    .show = nat_show,
    .action = nat_action,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "nat",
    .description = "transparent: SNAT, masquerade, DNAT, port forwarding "
		   "(IPv4 TCP, UDP, ICMP)",
    .cube_size = sizeof(struct nat_cube),
    .schema = nat_schema,
    .ops = &nat_ops,
    .policy = CUB_POLICY_TC_XDP(
	CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(HASH) | CUB_MAP_TYPE(PERCPU_ARRAY) |
	    CUB_MAP_TYPE(LRU_HASH) | CUB_MAP_TYPE(LPM_TRIE),
	128ull << 20),
    .flags = CUB_PLUGIN_F_TRANSPARENT,
    CUB_PLUGIN_SIZES,
};
