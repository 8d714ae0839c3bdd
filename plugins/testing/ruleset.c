/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ruleset: a test-only service with a big keyed list, for the tree engine
 * through the broker at issue 7's sizes (a 10k-entry --file load,
 * one-entry sets, paged shows), and the stand-in for an iptables compiler:
 * its list "rules" is compiled into a BPF hash (rs_rules: id -> action,
 * source prefix).  apply() (create and replay) empties the map and writes
 * every rule; change() checks the whole change list, then writes only the
 * map entries of the rules it changed (one for a one-entry set) and puts
 * back what it wrote if a map call fails.  show reports, as ro fields,
 * the rules it holds (applied), what its last call did (last_op,
 * last_changes, last_written), map_writes in all, and for a show of a few
 * rules each one's action as rs_rules holds it (in_map).
 * rulesetdoc is the same without change() (built with RS_NO_CHANGE): it
 * gets the whole document through apply() on every request.
 *
 * It also declares every schema type of issue 7, for tests/integration/
 * schematypes.sh: u8/u16 fields, an ordered list "chain" whose entries
 * hold IPv6 and either-family addresses and prefixes, port ranges, a
 * leaf-list of ports and a reference to the keyed list "sets"; show
 * reports, as ro fields, how many chain entries the worker holds, the ids
 * of the first CHAIN_SEEN of them in order and how many have a dst that
 * cub_val__as_ip() reads as IPv6.  change() keeps that chain (ids and
 * their family) in order from the adds, sets and dels it is handed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>
#include <sys/socket.h>

#include "cubicle/plugin.h"
#include "cubicle/proto.h"
#include "ruleset.skel.h"
#include "ruleset_shared.h"

static const char *const rule_actions[] = {"drop", "forward", "log", NULL};

static const struct cub_field rule_fields[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "rule id"},
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = rule_actions,
	.dflt = "drop",
	.help = "what to do"},
    {.name = "src", .type = CUB_T_IPV4_PREFIX, .help = "source prefix"},
    {.name = "hits", .type = CUB_T_U64, .flags = CUB_F_RO, .help = "hits"},
    {.name = "in_map",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "the action rs_rules holds (a show of a few rules)"},
    {0},
};

#define RS_SHOW_IN_MAP 64u /* rules of a show given in_map */

#define CHAIN_SEEN 64

static const struct cub_field set_fields[] = {
    {.name = "name", .type = CUB_T_STR, .flags = CUB_F_KEY, .help = "set"},
    {.name = "nets",
	.type = CUB_T_IP_PREFIX,
	.flags = CUB_F_LEAFLIST,
	.max_items = 16,
	.help = "IPv4 or IPv6 prefixes"},
    {0},
};

static const struct cub_field chain_fields[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "rule id"},
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = rule_actions,
	.dflt = "drop",
	.help = "what to do"},
    {.name = "proto", .type = CUB_T_U8, .help = "IP protocol number"},
    {.name = "src6", .type = CUB_T_IPV6_PREFIX, .help = "IPv6 source"},
    {.name = "gw6", .type = CUB_T_IPV6, .help = "IPv6 next hop"},
    {.name = "dst", .type = CUB_T_IP, .help = "IPv4 or IPv6 destination"},
    {.name = "net", .type = CUB_T_IP_PREFIX, .help = "either family"},
    {.name = "sport", .type = CUB_T_PORT_RANGE, .help = "source ports"},
    {.name = "dports",
	.type = CUB_T_U16,
	.flags = CUB_F_LEAFLIST,
	.max_items = 8,
	.help = "destination ports"},
    {.name = "match", .type = CUB_T_STR, .ref = "sets", .help = "a set"},
    {0},
};

static const struct cub_field ruleset_schema[] = {
    {.name = "ttl", .type = CUB_T_U8, .help = "hop limit"},
    {.name = "mss", .type = CUB_T_U16, .min = 536, .help = "TCP MSS"},
    {.name = "sets",
	.type = CUB_T_LIST,
	.children = set_fields,
	.help = "named sets of prefixes"},
    {.name = "chain",
	.type = CUB_T_LIST,
	.flags = CUB_F_ORDERED,
	.children = chain_fields,
	.help = "rules in order: add <id> [index=N|position=first|last|"
		"before=ID|after=ID]"},
    {.name = "chain_len",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "chain entries in the last configuration applied"},
    {.name = "chain_v6",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "chain entries whose dst the worker read as IPv6"},
    {.name = "chain_seen",
	.type = CUB_T_U32,
	.flags = CUB_F_RO | CUB_F_LEAFLIST,
	.max_items = CHAIN_SEEN,
	.help = "ids of the first chain entries, in the order applied"},
    {.name = "rules",
	.type = CUB_T_LIST,
	.children = rule_fields,
	.help = "the rules, in order"},
    {.name = "applied",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "rules the worker holds (in rs_rules)"},
    {.name = "last_op",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "the worker's last call: apply or change"},
    {.name = "last_changes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "changes in the last call (an apply: rules in its document)"},
    {.name = "last_written",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "rs_rules entries the last call wrote or deleted"},
    {.name = "map_writes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "rs_rules entries written or deleted since the worker started"},
    {0},
};

/* A chain entry as the worker keeps it: its id, and whether its dst is
 * IPv6. */
struct rs_link {
	uint64_t id;
	bool v6;
};

struct rs_cube {
	cub_map map; /* rs_rules */
	bool loaded;
	uint32_t applied; /* rules in rs_rules */
	struct rs_link *chain;
	uint32_t chain_len, chain_cap;
	bool last_change; /* the last call was a change() */
	uint64_t last_changes, last_written, map_writes;
};

/* Pending writes of rs_rules, flushed as one batch. */
struct rs_batch {
	uint32_t keys[CUB_BATCH_MAX];
	struct rs_rule vals[CUB_BATCH_MAX];
	uint32_t n;
	bool del;
};

static int
batch_flush(struct cub_cube *cube, struct rs_cube *rs, struct rs_batch *b)
{
	uint32_t n = b->n;
	int r = 0;

	if (n)
		r = b->del ? cub_map__delete_batch(cube, &rs->map, b->keys, &n,
				 NULL)
			   : cub_map__update_batch(cube, &rs->map, b->keys,
				 b->vals, &n, NULL);
	rs->map_writes += n;
	b->n = 0;
	return r;
}

/* Queue one write; a queue of the other kind goes first (order kept). */
static int
batch_put(struct cub_cube *cube, struct rs_cube *rs, struct rs_batch *b,
    bool del, uint32_t key, const struct rs_rule *val)
{
	int r = 0;

	if (b->n && b->del != del && (r = batch_flush(cube, rs, b)))
		return r;
	b->del = del;
	b->keys[b->n] = key;
	if (val)
		b->vals[b->n] = *val;
	if (++b->n == CUB_BATCH_MAX)
		r = batch_flush(cube, rs, b);
	return r;
}

static int
action_index(const char *s)
{
	int i;

	for (i = 0; s && rule_actions[i]; i++)
		if (!strcmp(rule_actions[i], s))
			return i;
	return -1;
}

/* A rule entry as rs_rules holds it; the key from "id". */
static int
rule_of(struct cub_cube *cube, const struct cub_val *e, uint32_t *key,
    struct rs_rule *val)
{
	const struct cub_val *src = cub_val__get(e, "src");
	const char *act = cub_val__get_str(e, "action");
	struct cub_ip ip;
	uint64_t id;
	int a = act ? action_index(act) : 0;

	if (cub_val__as_u64(cub_val__get(e, "id"), &id) || id > UINT32_MAX)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "a rule without a u32 id");
	if (a < 0)
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "rule %llu: unknown action '%.32s'",
		    (unsigned long long)id, act);
	memset(val, 0, sizeof(*val));
	val->action = (uint32_t)a;
	if (src) {
		if (cub_val__as_ip_prefix(src, &ip) || ip.family != AF_INET)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "rule %llu: src is not an IPv4 prefix",
			    (unsigned long long)id);
		memcpy(&val->src, ip.addr, 4);
		val->src_len = ip.plen;
	}
	*key = (uint32_t)id;
	return 0;
}

static bool
link_v6(const struct cub_val *e)
{
	struct cub_ip dst;

	return !cub_val__as_ip(cub_val__get(e, "dst"), &dst) &&
	       dst.family == AF_INET6;
}

static int
chain_reserve(struct rs_cube *rs, uint32_t n)
{
	struct rs_link *c;
	uint32_t cap = rs->chain_cap ? rs->chain_cap : 16;

	if (n <= rs->chain_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if (!(c = realloc(rs->chain, (size_t)cap * sizeof(*c))))
		return -ENOMEM;
	rs->chain = c;
	rs->chain_cap = cap;
	return 0;
}

/* The chain as a whole document has it. */
static int
chain_load(struct rs_cube *rs, const struct cub_val *chain)
{
	uint32_t i, n = chain && chain->kind == CUB_V_ARRAY ? chain->arr.len : 0;
	const struct cub_val *e;
	int r;

	if ((r = chain_reserve(rs, n)))
		return r;
	rs->chain_len = 0;
	for (i = 0; i < n; i++) {
		e = chain->arr.items[i];
		if (cub_val__as_u64(cub_val__get(e, "id"), &rs->chain[i].id))
			rs->chain[i].id = 0;
		rs->chain[i].v6 = link_v6(e);
		rs->chain_len++;
	}
	return 0;
}

/* Empty rs_rules (a replay adopts the map with what it held). */
static int
dump_del(const void *key, const void *value, void *ctx)
{
	void **a = ctx; /* cube, rs, batch */

	(void)value;
	return batch_put(
	    a[0], a[1], a[2], true, *(const uint32_t *)key, NULL);
}

static int
rs_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	const struct cub_val *rules = cub_val__get(config, "rules");
	struct rs_cube *rs = cub_cube__priv(cube);
	uint32_t i, key,
	    n = rules && rules->kind == CUB_V_ARRAY ? rules->arr.len : 0;
	struct rs_batch *b;
	struct rs_rule val;
	void *ctx[3];
	size_t len;
	const void *elf;
	int r;

	if (n > RS_MAX_RULES)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "%u rules, rs_rules holds %u", n, RS_MAX_RULES);
	for (i = 0; i < n; i++)
		if ((r = rule_of(cube, rules->arr.items[i], &key, &val)))
			return r;
	if (create || !rs->loaded) {
		elf = ruleset__elf_bytes(&len);
		if ((r = cub_cube__load(cube, elf, len)))
			return r;
		if (cub_cube__map(cube, "rs_rules", &rs->map))
			return cub_cube__set_error(
			    cube, CUB_E_INTERNAL, "no map rs_rules");
		rs->loaded = true;
	}
	if (!(b = malloc(sizeof(*b))))
		return -ENOMEM;
	b->n = 0;
	ctx[0] = cube;
	ctx[1] = rs;
	ctx[2] = b;
	r = cub_map__dump(cube, &rs->map, dump_del, ctx);
	if (!r)
		r = batch_flush(cube, rs, b);
	rs->last_written = 0;
	for (i = 0; !r && i < n; i++) {
		rule_of(cube, rules->arr.items[i], &key, &val);
		r = batch_put(cube, rs, b, false, key, &val);
	}
	if (!r)
		r = batch_flush(cube, rs, b);
	free(b);
	if (!r)
		r = chain_load(rs, cub_val__get(config, "chain"));
	if (r)
		return r;
	rs->applied = n;
	rs->last_change = false;
	rs->last_changes = rs->last_written = n;
	return 0;
}

#ifndef RS_NO_CHANGE
static int
chain_find(const struct rs_cube *rs, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < rs->chain_len; i++)
		if (rs->chain[i].id == id)
			return (int)i;
	return -1;
}

/* Rules and chain entries; the rest (ttl, mss, sets, the framework's
 * fields) is none of the worker's business.  *id from the entry's key
 * word. */
enum rs_target { RS_OTHER, RS_RULE, RS_CHAIN };

static enum rs_target
target_of(const struct cub_change *ch, uint64_t *id)
{
	const char *list, *key;
	char *end;

	if (ch->path->arr.len != 2)
		return RS_OTHER;
	list = cub_val__as_str(ch->path->arr.items[0]) ?: "";
	key = cub_val__as_str(ch->path->arr.items[1]) ?: "";
	errno = 0;
	*id = strtoull(key, &end, 10);
	if (!*key || *end || errno)
		return RS_OTHER;
	if (!strcmp(list, "rules"))
		return RS_RULE;
	return strcmp(list, "chain") ? RS_OTHER : RS_CHAIN;
}

/* Puts back the rules changes[0..n) wrote, one entry at a time (a map
 * call failed half way: best effort, as the contract asks). */
static void
rules_undo(struct cub_cube *cube, struct rs_cube *rs,
    const struct cub_change *changes, uint32_t n)
{
	struct rs_rule val;
	uint64_t id;
	uint32_t key;

	while (n--) {
		if (target_of(&changes[n], &id) != RS_RULE)
			continue;
		key = (uint32_t)id;
		if (changes[n].op == CUB_CHANGE_ADD)
			cub_map__delete(cube, &rs->map, &key);
		else if (!rule_of(cube, changes[n].before, &key, &val))
			cub_map__update(cube, &rs->map, &key, &val, BPF_ANY);
	}
}

static int
rs_change(struct cub_cube *cube, const struct cub_change *changes, uint32_t n)
{
	struct rs_cube *rs = cub_cube__priv(cube);
	const struct cub_change *ch;
	uint32_t i, key, adds = 0, dels = 0, cadds = 0;
	uint64_t written = rs->map_writes, id;
	struct rs_batch *b;
	struct rs_rule val;
	int r = 0, at;

	/* Everything checked before anything is written. */
	for (i = 0; i < n; i++) {
		ch = &changes[i];
		switch (target_of(ch, &id)) {
		case RS_RULE:
			if (id > UINT32_MAX)
				return cub_cube__set_error(cube, CUB_E_INTERNAL,
				    "rule %llu: not a u32",
				    (unsigned long long)id);
			if ((r = rule_of(cube,
				 ch->op == CUB_CHANGE_DEL ? ch->before
							  : ch->after,
				 &key, &val)))
				return r;
			adds += ch->op == CUB_CHANGE_ADD;
			dels += ch->op == CUB_CHANGE_DEL;
			break;
		case RS_CHAIN:
			cadds += ch->op == CUB_CHANGE_ADD;
			break;
		default:
			break;
		}
	}
	if ((uint64_t)rs->applied + adds - dels > RS_MAX_RULES)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "%llu rules, rs_rules holds %u",
		    (unsigned long long)rs->applied + adds - dels,
		    RS_MAX_RULES);
	if (chain_reserve(rs, rs->chain_len + cadds) ||
	    !(b = malloc(sizeof(*b))))
		return -ENOMEM;
	b->n = 0;
	/* The rules' map entries, in the engine's order (deletions
	 * first). */
	for (i = 0; !r && i < n; i++) {
		ch = &changes[i];
		if (target_of(ch, &id) != RS_RULE)
			continue;
		if (ch->op == CUB_CHANGE_DEL) {
			key = (uint32_t)id;
			r = batch_put(cube, rs, b, true, key, NULL);
		} else {
			rule_of(cube, ch->after, &key, &val);
			r = batch_put(cube, rs, b, false, key, &val);
		}
	}
	if (!r)
		r = batch_flush(cube, rs, b);
	free(b);
	if (r) {
		rules_undo(cube, rs, changes, i);
		return r;
	}
	/* The chain, in order. */
	for (i = 0; i < n; i++) {
		ch = &changes[i];
		if (target_of(ch, &id) != RS_CHAIN)
			continue;
		at = chain_find(rs, id);
		if (ch->op == CUB_CHANGE_DEL && at >= 0) {
			memmove(&rs->chain[at], &rs->chain[at + 1],
			    (rs->chain_len - (uint32_t)at - 1) *
				sizeof(*rs->chain));
			rs->chain_len--;
		} else if (ch->op == CUB_CHANGE_SET && at >= 0) {
			rs->chain[at].v6 = link_v6(ch->after);
		} else if (ch->op == CUB_CHANGE_ADD && at < 0) {
			at = ch->index >= 0 && ch->index <= rs->chain_len
				 ? (int)ch->index
				 : (int)rs->chain_len;
			memmove(&rs->chain[at + 1], &rs->chain[at],
			    (rs->chain_len - (uint32_t)at) *
				sizeof(*rs->chain));
			rs->chain[at] = (struct rs_link){
			    .id = id, .v6 = link_v6(ch->after)};
			rs->chain_len++;
		}
	}
	rs->applied += adds - dels;
	rs->last_change = true;
	rs->last_changes = n;
	rs->last_written = rs->map_writes - written;
	return 0;
}
#endif

static int
rs_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct rs_cube *rs = cub_cube__priv(cube);
	const struct cub_val *rules = cub_val__get(config, "rules");
	struct cub_val *seen, *ov, *e;
	struct rs_rule val;
	uint32_t i, v6 = 0, key;

	if (rules && rules->kind == CUB_V_ARRAY &&
	    rules->arr.len <= RS_SHOW_IN_MAP) {
		ov = cub_val__array();
		for (i = 0; ov && i < rules->arr.len; i++) {
			uint64_t id;

			if (cub_val__as_u64(
				cub_val__get(rules->arr.items[i], "id"), &id) ||
			    id > UINT32_MAX)
				continue;
			key = (uint32_t)id;
			if (cub_map__lookup(cube, &rs->map, &key, &val) ||
			    val.action > 2)
				continue;
			e = cub_val__map();
			cub_val__set(e, "id", cub_val__uint(key));
			cub_val__set(e, "in_map",
			    cub_val__str(rule_actions[val.action]));
			if (cub_val__push(ov, e))
				ov = cub_val__free(ov);
		}
		if (!ov || cub_val__set(overlay, "rules", ov))
			return -ENOMEM;
	}
	seen = cub_val__array();
	for (i = 0; seen && i < rs->chain_len; i++) {
		v6 += rs->chain[i].v6;
		if (i < CHAIN_SEEN &&
		    cub_val__push(seen, cub_val__uint(rs->chain[i].id)))
			seen = cub_val__free(seen);
	}
	if (cub_val__set(overlay, "chain_seen", seen) ||
	    cub_val__set(overlay, "chain_v6", cub_val__uint(v6)) ||
	    cub_val__set(overlay, "chain_len", cub_val__uint(rs->chain_len)) ||
	    cub_val__set(overlay, "last_op",
		cub_val__str(rs->last_change ? "change" : "apply")) ||
	    cub_val__set(
		overlay, "last_changes", cub_val__uint(rs->last_changes)) ||
	    cub_val__set(
		overlay, "last_written", cub_val__uint(rs->last_written)) ||
	    cub_val__set(overlay, "map_writes", cub_val__uint(rs->map_writes)))
		return -ENOMEM;
	return cub_val__set(overlay, "applied", cub_val__uint(rs->applied));
}

static void
rs_destroy(struct cub_cube *cube)
{
	struct rs_cube *rs = cub_cube__priv(cube);

	free(rs->chain);
	rs->chain = NULL;
}

static const struct cub_plugin_ops rs_ops = {
    .apply = rs_apply,
    .destroy = rs_destroy,
    .show = rs_show,
#ifndef RS_NO_CHANGE
    .change = rs_change,
#endif
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
#ifdef RS_NO_CHANGE
    .name = "rulesetdoc",
    .description = "ruleset without change(): whole documents (tests)",
#else
    .name = "ruleset",
    .description = "a big keyed list compiled into a BPF hash (tests)",
#endif
    .cube_size = sizeof(struct rs_cube),
    .schema = ruleset_schema,
    .ops = &rs_ops,
    .policy =
	{
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |
			  (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    /* rs_rules: 64Ki rules, 6.5 MiB as the broker counts a hash. */
	    .max_map_bytes = 16u << 20,
	},
    CUB_PLUGIN_SIZES,
};
