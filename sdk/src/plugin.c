// SPDX-License-Identifier: BSD-2-Clause
/*
 * The plugin API, worker side: cube objects, calls to the broker
 * (bpf.load, map.*), and dispatch of the broker's requests to the
 * plugin's ops.  Calls are synchronous over one REQ socket; the worker is
 * single-threaded, so no locking.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "call.h"
#include "cubicle/errors.h"
#include "cubicle/plugin.h"
#include "cubicle/proto.h"
#include "worker_rt.h"

/* The names pick old or new forms for plugins (plugin.h); here, the new. */
#undef cub_map__update_batch
#undef cub_map__delete_batch

#define MAX_CUBES 1024

struct cub_cube {
	char name[CUB_NAME_MAX + 1];
	void *priv;
	struct cub_val *maps; /* from the last bpf.load */
	struct cub_val *err;  /* set by cub_cube__set_error() */
	int loglevel;         /* enum cub_log_level, from the last apply */
	/* Port indices its document held at the last apply or change: a
	 * port that takes another index starts clean (ports_fresh()). */
	uint8_t port_used[CUB_MAX_PORTS];
	/* During show(): the request's words (cub_cube__show_words()). */
	const struct cub_val *show_words;
	struct cub_cube *next;
};

static struct {
	const struct cub_plugin *pl; /* &desc */
	struct cub_plugin desc;      /* the plugin's, up to its sz */
	struct cub_plugin_ops ops;   /* the plugin's, up to its ops_sz */
	nng_socket calls;
	uint32_t msgid;
	uint32_t ncpus;
	struct cub_cube *cubes;
	cubi_transport_fn transport; /* the fake broker's, else NULL */
} w;

/* The ops an ABI 2 plugin has: up to packet_in. */
#define OPS_ABI2_SZ offsetof(struct cub_plugin_ops, change)
/* The descriptor of an ABI 2 plugin: up to policy. */
#define PLUGIN_ABI2_SZ offsetof(struct cub_plugin, netdev_events)
/*
 * An ABI 3 plugin that left its sizes 0: ABI 3 as first released, the
 * structs of this header.  A field or op added later changes neither
 * (CUB_PLUGIN_SIZES is how a plugin says it has them).
 */
#define PLUGIN_ABI3_SZ (offsetof(struct cub_plugin, ops_sz) + sizeof(size_t))
#define OPS_ABI3_SZ                                                            \
	(offsetof(struct cub_plugin_ops, netdev_event) + sizeof(void *))

static bool
tail_zero(const void *p, size_t from, size_t to)
{
	const uint8_t *b = p;

	for (; from < to; from++)
		if (b[from])
			return false;
	return true;
}

int
cubi_plugin__check(const struct cub_plugin *pl, struct cub_plugin *desc,
    struct cub_plugin_ops *ops, char *err, size_t errlen)
{
	size_t sz = PLUGIN_ABI2_SZ, ops_sz = OPS_ABI2_SZ;

	if (!pl || pl->abi < CUB_PLUGIN_ABI_MIN || pl->abi > CUB_PLUGIN_ABI) {
		snprintf(err, errlen, "plugin ABI %u, expected %u to %u",
		    pl ? pl->abi : 0, CUB_PLUGIN_ABI_MIN, CUB_PLUGIN_ABI);
		return -EINVAL;
	}
	if (pl->abi >= 3) {
		sz = pl->sz ?: PLUGIN_ABI3_SZ;
		ops_sz = pl->ops_sz ?: OPS_ABI3_SZ;
	}
	if (sz < PLUGIN_ABI2_SZ || sz > 65536 ||
	    (sz > sizeof(*pl) && !tail_zero(pl, sizeof(*pl), sz))) {
		snprintf(err, errlen,
		    "plugin descriptor of %zu bytes: this worker knows %zu "
		    "and refuses fields it does not know",
		    sz, sizeof(*pl));
		return -EINVAL;
	}
	if (!pl->name || !pl->ops || ops_sz < OPS_ABI2_SZ || ops_sz > 65536) {
		snprintf(err, errlen, "plugin ops missing or of %zu bytes",
		    ops_sz);
		return -EINVAL;
	}
	if (ops_sz > sizeof(*ops) && !tail_zero(pl->ops, sizeof(*ops), ops_sz)) {
		snprintf(err, errlen,
		    "plugin ops of %zu bytes: this worker knows %zu and "
		    "refuses ops it does not know",
		    ops_sz, sizeof(*ops));
		return -EINVAL;
	}
	memset(ops, 0, sizeof(*ops));
	memcpy(ops, pl->ops, ops_sz < sizeof(*ops) ? ops_sz : sizeof(*ops));
	if (desc) {
		memset(desc, 0, sizeof(*desc));
		memcpy(desc, pl, sz < sizeof(*desc) ? sz : sizeof(*desc));
	}
	if (!ops->apply) {
		snprintf(err, errlen, "plugin has no apply op");
		return -EINVAL;
	}
	return 0;
}

int
cubi_worker__init(const struct cub_plugin *pl, nng_socket calls)
{
	char err[160];

	if (cubi_plugin__check(pl, &w.desc, &w.ops, err, sizeof(err)))
		return -EINVAL;
	w.pl = &w.desc;
	w.calls = calls;
	w.ncpus = 1;
	return 0;
}

int
cubi_worker__init_local(const struct cub_plugin *pl, cubi_transport_fn fn)
{
	nng_socket none = NNG_SOCKET_INITIALIZER;
	int r = cubi_worker__init(pl, none);

	if (!r)
		w.transport = fn;
	return r;
}

/* One call to the broker.  Takes params. */
static int
call(const char *method, struct cub_val *params, struct cub_val **result,
    struct cub_val **errv)
{
	int nngr = 0, r;

	*result = *errv = NULL;
	if (w.transport)
		r = w.transport(method, params, result, errv);
	else
		r = cubi_call(
		    w.calls, ++w.msgid, method, params, result, errv, &nngr);
	if (r && !*errv)
		*errv = cub_err_val(CUB_E_UNAVAIL, "broker: %s",
		    nngr ? nng_strerror(nngr) : strerror(-r));
	return r;
}

static struct cub_val *
policy_val(const struct cub_bpf_policy *p)
{
	struct cub_val *v = cub_val__map();

	cub_val__set(v, "prog_types", cub_val__uint(p->prog_types));
	cub_val__set(v, "map_types", cub_val__uint(p->map_types));
	cub_val__set(v, "max_map_bytes", cub_val__uint(p->max_map_bytes));
	return v;
}

int
cubi_worker__hello(char *err, size_t errlen)
{
	struct cub_val *p = cub_val__map(), *res, *errv;
	const char *msg;
	uint64_t n;
	int r;

	cub_val__set(p, "service", cub_val__str(w.pl->name));
	cub_val__set(p, "abi", cub_val__uint(CUB_PLUGIN_ABI));
	cub_val__set(p, "schema",
	    w.pl->schema ? cub_schema__wire(w.pl->schema, w.pl->actions)
			 : cub_val__nil());
	/* Its actions get the cube's document (cube.action's config). */
	if (w.ops.action_config)
		cub_val__set(p, "action_config", cub_val__bool(true));
	cub_val__set(p, "policy", policy_val(&w.pl->policy));
	if (w.pl->netdev_events)
		cub_val__set(p, "netdev_events",
		    cub_val__uint(w.pl->netdev_events));
	if (w.pl->apply_timeout_ms)
		cub_val__set(p, "apply_timeout_ms",
		    cub_val__uint(w.pl->apply_timeout_ms));
	if (w.pl->flags & CUB_PLUGIN_F_TRANSPARENT)
		cub_val__set(p, "transparent", cub_val__bool(true));
	if (w.pl->flags & CUB_PLUGIN_F_HOSTWIDE)
		cub_val__set(p, "hostwide", cub_val__bool(true));
	/* Requests reach it as changes (cube.change), not documents. */
	cub_val__set(p, "change", cub_val__bool(w.ops.change != NULL));
	r = call(CUB_M_HELLO, p, &res, &errv);
	if (r) {
		cub_err_parse(errv, &msg);
		snprintf(err, errlen, "%s", errv ? msg : strerror(-r));
	} else if (!cub_val__as_u64(cub_val__get(res, "ncpus"), &n) && n &&
		   n < 65536) {
		w.ncpus = (uint32_t)n;
	}
	cub_val__free(res);
	cub_val__free(errv);
	return r;
}

static struct cub_cube *
cube_get(const char *name)
{
	struct cub_cube *c;

	for (c = w.cubes; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void
cube_drop(struct cub_cube *c)
{
	struct cub_cube **pp;

	for (pp = &w.cubes; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	cub_val__free(c->maps);
	cub_val__free(c->err);
	free(c->priv);
	free(c);
}

const char *
cub_cube__name(const struct cub_cube *cube)
{
	return cube->name;
}

void *
cub_cube__priv(struct cub_cube *cube)
{
	return cube->priv;
}

int
cub_cube__set_error(struct cub_cube *cube, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cub_val__free(cube->err);
	cube->err = cub_err_valv(code, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Keep the first error of an op: the broker's, if the plugin set none. */
static int
cube_fail(struct cub_cube *cube, struct cub_val *errv, int r)
{
	if (!cube->err)
		cube->err = errv;
	else
		cub_val__free(errv);
	return r;
}

int
cub_cube__load(struct cub_cube *cube, const void *elf, size_t len)
{
	struct cub_val *p = cub_val__map(), *res, *errv;
	int r;

	cub_val__set(p, "cube", cub_val__str(cube->name));
	cub_val__set(p, "elf", cub_val__bin(elf, len));
	r = call(CUB_M_LOAD, p, &res, &errv);
	if (r)
		return cube_fail(cube, errv, r);
	cub_val__free(cube->maps);
	cube->maps = cub_val__take(res, "maps");
	cub_val__free(res);
	return 0;
}

/* BPF_MAP_TYPE_PERCPU_HASH 5, PERCPU_ARRAY 6, LRU_PERCPU_HASH 10,
 * PERCPU_CGROUP_STORAGE 21: the types the broker sizes per CPU. */
static bool
map_percpu(uint32_t type)
{
	return type == 5 || type == 6 || type == 10 || type == 21;
}

size_t
cub_map__value_bytes(const cub_map *map)
{
	if (!map_percpu(map->type))
		return map->value_size;
	return (((size_t)map->value_size + 7) & ~(size_t)7) * map->ncpus;
}

void *
cub_map__cpu_value(const cub_map *map, void *values, uint32_t cpu)
{
	if (!map_percpu(map->type))
		return cpu ? NULL : values;
	if (cpu >= map->ncpus)
		return NULL;
	return (uint8_t *)values +
	       (((size_t)map->value_size + 7) & ~(size_t)7) * cpu;
}

/* One map of a bpf.load or swap answer's "maps". */
static int
map_of(const struct cub_val *m, cub_map *out)
{
	uint64_t v[5];

	if (cub_val__as_u64(cub_val__get(m, "id"), &v[0]) ||
	    cub_val__as_u64(cub_val__get(m, "type"), &v[1]) ||
	    cub_val__as_u64(cub_val__get(m, "key_size"), &v[2]) ||
	    cub_val__as_u64(cub_val__get(m, "value_size"), &v[3]) ||
	    cub_val__as_u64(cub_val__get(m, "max_entries"), &v[4]))
		return -EBADMSG;
	out->id = (uint32_t)v[0];
	out->type = (uint32_t)v[1];
	out->key_size = (uint32_t)v[2];
	out->value_size = (uint32_t)v[3];
	out->max_entries = (uint32_t)v[4];
	out->ncpus = map_percpu(out->type) ? w.ncpus : 1;
	return 0;
}

int
cub_cube__map(struct cub_cube *cube, const char *name, cub_map *out)
{
	const struct cub_val *m;
	uint32_t i;

	for (i = 0; cube->maps && cube->maps->kind == CUB_V_ARRAY &&
		    i < cube->maps->arr.len;
	     i++) {
		m = cube->maps->arr.items[i];
		if (!strcmp(cub_val__get_str(m, "name") ?: "", name))
			return map_of(m, out);
	}
	return -ENOENT;
}

static int err_errno(const struct cub_val *errv, int r);

static struct cub_val *
map_params(struct cub_cube *cube, const cub_map *map, const void *key)
{
	struct cub_val *p = cub_val__map();

	cub_val__set(p, "cube", cub_val__str(cube->name));
	cub_val__set(p, "map", cub_val__uint(map->id));
	if (key)
		cub_val__set(p, "key", cub_val__bin(key, map->key_size));
	return p;
}

static bool
bin_of_len(const struct cub_val *v, size_t len)
{
	return v && v->kind == CUB_V_BIN && v->bin.len == len;
}

int
cub_map__update(struct cub_cube *cube, const cub_map *map, const void *key,
    const void *value, uint64_t flags)
{
	struct cub_val *p = map_params(cube, map, key), *res, *errv;
	int r;

	cub_val__set(p, "value",
	    cub_val__bin(value, cub_map__value_bytes(map)));
	cub_val__set(p, "flags", cub_val__uint(flags));
	r = call(CUB_M_MAP_UPDATE, p, &res, &errv);
	cub_val__free(res);
	return r ? cube_fail(cube, errv, err_errno(errv, r)) : 0;
}

int
cub_map__lookup(
    struct cub_cube *cube, const cub_map *map, const void *key, void *value)
{
	struct cub_val *p = map_params(cube, map, key), *res, *errv;
	const struct cub_val *v;
	size_t vsz = cub_map__value_bytes(map);
	int r;

	r = call(CUB_M_MAP_LOOKUP, p, &res, &errv);
	if (r)
		return cube_fail(cube, errv, err_errno(errv, r));
	v = cub_val__get(res, "value");
	if (!v || v->kind != CUB_V_BIN || v->bin.len != vsz) {
		cub_val__free(res);
		return -EBADMSG;
	}
	memcpy(value, v->bin.ptr, vsz);
	cub_val__free(res);
	return 0;
}

int
cub_map__delete(struct cub_cube *cube, const cub_map *map, const void *key)
{
	struct cub_val *p = map_params(cube, map, key), *res, *errv;
	int r;

	r = call(CUB_M_MAP_DELETE, p, &res, &errv);
	cub_val__free(res);
	return r ? cube_fail(cube, errv, err_errno(errv, r)) : 0;
}

int
cub_map__update_batch_n(struct cub_cube *cube, const cub_map *map,
    const void *keys, const void *values, uint32_t count, uint64_t flags)
{
	CUB_BATCH_OPTS(o, .elem_flags = flags);

	return cub_map__update_batch(cube, map, keys, values, &count, &o);
}

int
cub_map__delete_batch_n(
    struct cub_cube *cube, const cub_map *map, const void *keys, uint32_t count)
{
	return cub_map__delete_batch(cube, map, keys, &count, NULL);
}

int
cub_map__dump(struct cub_cube *cube, const cub_map *map,
    int (*fn)(const void *key, const void *value, void *ctx), void *ctx)
{
	size_t vsz = cub_map__value_bytes(map);
	struct cub_val *p, *res, *errv, *after = NULL;
	const struct cub_val *keys, *vals, *cursor;
	bool more = true;
	uint32_t i;
	int r = 0;

	while (more && !r) {
		p = map_params(cube, map, NULL);
		if (after)
			cub_val__set(p, "after", after);
		after = NULL;
		r = call(CUB_M_MAP_DUMP, p, &res, &errv);
		if (r)
			return cube_fail(cube, errv, r);
		keys = cub_val__get(res, "keys");
		vals = cub_val__get(res, "values");
		more = false;
		cub_val__as_bool(cub_val__get(res, "more"), &more);
		if (!keys || !vals || keys->kind != CUB_V_ARRAY ||
		    vals->kind != CUB_V_ARRAY ||
		    keys->arr.len != vals->arr.len) {
			cub_val__free(res);
			return -EBADMSG;
		}
		for (i = 0; i < keys->arr.len && !r; i++) {
			if (!bin_of_len(keys->arr.items[i], map->key_size) ||
			    !bin_of_len(vals->arr.items[i], vsz)) {
				r = -EBADMSG;
				break;
			}
			r = fn(keys->arr.items[i]->bin.ptr,
			    vals->arr.items[i]->bin.ptr, ctx);
		}
		/*
		 * The broker pages by keys visited: a page may hold no entry
		 * and still have more after its 'cursor' (the last key it
		 * visited); an older broker sends no cursor, its last key is
		 * one.
		 */
		cursor = cub_val__get(res, "cursor");
		if (more && cursor && !r) {
			if (!bin_of_len(cursor, map->key_size)) {
				cub_val__free(res);
				return -EBADMSG;
			}
			after = cub_val__dup(cursor);
		} else if (more && keys->arr.len)
			after =
			    cub_val__dup(keys->arr.items[keys->arr.len - 1]);
		else
			more = false;
		cub_val__free(res);
	}
	cub_val__free(after);
	return r;
}

/* The cube's loglevel in config (the broker checked it), INFO if none. */
static int
config_loglevel(const struct cub_val *config)
{
	static const char *const names[] = {
	    "TRACE", "DEBUG", "INFO", "WARN", "ERR", "CRITICAL", "OFF"};
	const char *s = cub_val__get_str(config, "loglevel");
	int i;

	for (i = 0; s && i <= CUB_LOG_OFF; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	return CUB_LOG_INFO;
}

const struct cub_val *
cub_cube__show_words(const struct cub_cube *cube)
{
	return cube ? cube->show_words : NULL;
}

int
cub_cube__log(struct cub_cube *cube, int level, const char *fmt, ...)
{
	struct cub_val *p, *res = NULL, *errv = NULL;
	char buf[CUB_LOG_MSG_MAX + 1];
	va_list ap;
	int n, r;

	if (!cube || !fmt || level < CUB_LOG_TRACE || level >= CUB_LOG_OFF)
		return -EINVAL;
	if (level < cube->loglevel)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	p = cub_val__map();
	cub_val__set(p, "cube", cub_val__str(cube->name));
	cub_val__set(p, "level", cub_val__uint((uint64_t)level));
	/* Bytes, not a string: the codec refuses a str that is not UTF-8,
	 * and the broker escapes what is not printable anyway. */
	cub_val__set(p, "message",
	    cub_val__bin(
		buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1));
	r = call(CUB_M_CUBE_LOG, p, &res, &errv);
	cub_val__free(res);
	cub_val__free(errv);
	return r;
}

int
cub_config__port_index(const struct cub_val *config, const char *name)
{
	const struct cub_val *ports = cub_val__get(config, "ports");
	uint64_t idx;
	uint32_t i;

	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const struct cub_val *e = ports->arr.items[i];

		if (!strcmp(cub_val__get_str(e, "name") ?: "", name) &&
		    !cub_val__as_u64(cub_val__get(e, "index"), &idx) &&
		    idx < 0x7fffffff)
			return (int)idx;
	}
	return -ENOENT;
}

int
cub_config__enum_index(const struct cub_val *config, const char *field,
    const char *const enums[], int dflt)
{
	const char *v = cub_val__get_str(config, field);
	int i;

	for (i = 0; v && enums && enums[i]; i++)
		if (!strcasecmp(v, enums[i]))
			return i;
	return dflt;
}

int
cub_cube__port_indexes(struct cub_cube *cube, const struct cub_val *config,
    uint32_t *idx, uint32_t max)
{
	const struct cub_val *ports = cub_val__get(config, "ports");
	uint32_t n = ports && ports->kind == CUB_V_ARRAY ? ports->arr.len : 0;
	uint64_t v;
	uint32_t i;

	if (!cube || (max && !idx))
		return -EINVAL;
	if (n > max)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': at most %u port%s, not %u", cube->name, max,
		    max == 1 ? "" : "s", n);
	for (i = 0; i < n; i++) /* the broker gives every port one */
		idx[i] = cub_val__as_u64(
			     cub_val__get(ports->arr.items[i], "index"), &v)
			     ? 0
			     : (uint32_t)v;
	return (int)n;
}

int
cub_cube__load_map(struct cub_cube *cube, const void *elf, size_t len,
    const char *name, cub_map *out)
{
	int r;

	if (!cube || (name && !out))
		return -EINVAL;
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (name && cub_cube__map(cube, name, out)) {
		cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': its object has no map '%s'", cube->name, name);
		return -ENOENT;
	}
	return 0;
}

/*
 * Netdev events (netdev.event).  Like packet-in: the broker's batch is
 * queued here (at most NEV_MAX) and answered with how many were queued,
 * before the plugin sees any; the broker counts the rest as dropped.  The
 * plugin's netdev_event sees them one at a time between requests, before
 * queued packets.
 */
#define NEV_MAX 256

struct wnev {
	char cube[CUB_NAME_MAX + 1];
	struct cub_netdev_event ev;
};

static struct {
	struct wnev q[NEV_MAX];
	unsigned head, len;
	uint64_t dropped_seen; /* the broker's count, last batch */
	bool lost;             /* events dropped: flag the next ones */
} nev;

static const char *const netdev_kinds[CUB_NETDEV_KINDS] = {"added",
    "removed", "up", "down", "addr_added", "addr_removed", "renamed"};

const char *
cub_netdev_kind__str(uint32_t kind)
{
	return kind < CUB_NETDEV_KINDS ? netdev_kinds[kind] : "unknown";
}

/* One event of a netdev.event into ev; 0 or -EBADMSG. */
static int
netdev_parse(const struct cub_val *e, char *cube, struct cub_netdev_event *ev)
{
	const struct cub_val *mac = cub_val__get(e, "mac");
	const struct cub_val *addr = cub_val__get(e, "addr");
	const char *s, *kind = cub_val__get_str(e, "kind");
	uint64_t v;
	char buf[INET6_ADDRSTRLEN];
	uint32_t k;

	memset(ev, 0, sizeof(*ev));
	for (k = 0; kind && k < CUB_NETDEV_KINDS; k++)
		if (!strcmp(kind, netdev_kinds[k]))
			break;
	if (!kind || k == CUB_NETDEV_KINDS)
		return -EBADMSG;
	ev->kind = k;
	s = cub_val__get_str(e, "cube");
	if (!s || strlen(s) > CUB_NAME_MAX)
		return -EBADMSG;
	snprintf(cube, CUB_NAME_MAX + 1, "%s", s);
	s = cub_val__get_str(e, "name");
	if (!s || strlen(s) >= sizeof(ev->name))
		return -EBADMSG;
	snprintf(ev->name, sizeof(ev->name), "%s", s);
	s = cub_val__get_str(e, "old_name") ?: "";
	snprintf(ev->old_name, sizeof(ev->old_name), "%s", s);
	s = cub_val__get_str(e, "port") ?: "";
	snprintf(ev->port, sizeof(ev->port), "%s", s);
	if (cub_val__as_u64(cub_val__get(e, "ifindex"), &v) || v > INT32_MAX)
		return -EBADMSG;
	ev->ifindex = (uint32_t)v;
	if (!cub_val__as_u64(cub_val__get(e, "mtu"), &v) && v <= UINT32_MAX)
		ev->mtu = (uint32_t)v;
	cub_val__as_bool(cub_val__get(e, "up"), &ev->up);
	if (mac && mac->kind == CUB_V_BIN && mac->bin.len == sizeof(ev->mac))
		memcpy(ev->mac, mac->bin.ptr, sizeof(ev->mac));
	if (!cub_val__as_u64(cub_val__get(e, "family"), &v) && v &&
	    addr && addr->kind == CUB_V_BIN) {
		if (!((v == AF_INET && addr->bin.len == 4) ||
			(v == AF_INET6 && addr->bin.len == 16)))
			return -EBADMSG;
		ev->family = (uint8_t)v;
		memcpy(ev->addr, addr->bin.ptr, addr->bin.len);
		if (!cub_val__as_u64(cub_val__get(e, "prefixlen"), &v) &&
		    v <= 128)
			ev->prefixlen = (uint8_t)v;
		if (inet_ntop(ev->family, ev->addr, buf, sizeof(buf)))
			snprintf(ev->addr_str, sizeof(ev->addr_str), "%s/%u",
			    buf, ev->prefixlen);
	}
	return 0;
}

/* Queue what fits of a netdev.event: {queued: n}. */
static struct cub_val *
netdev_queue(const struct cub_val *p)
{
	const struct cub_val *evs = cub_val__get(p, "events");
	struct cub_val *res = cub_val__map();
	uint64_t queued = 0, dropped = 0;
	uint32_t i, n = evs && evs->kind == CUB_V_ARRAY ? evs->arr.len : 0;
	struct wnev *q;

	/* The broker's drops so far (its queue, and what this worker had
	 * no room for): more than the last batch said, events were lost. */
	if (!cub_val__as_u64(cub_val__get(p, "dropped"), &dropped) &&
	    dropped > nev.dropped_seen) {
		nev.dropped_seen = dropped;
		nev.lost = true;
	}
	for (i = 0; i < n && nev.len < NEV_MAX; i++) {
		q = &nev.q[(nev.head + nev.len) % NEV_MAX];
		/* A malformed one ends the batch: it and the rest count
		 * as not queued. */
		if (netdev_parse(evs->arr.items[i], q->cube, &q->ev))
			break;
		q->ev.lost = nev.lost;
		nev.len++;
		queued++;
	}
	if (queued < n)
		nev.lost = true; /* the next batch's events say so */
	else if (queued)
		nev.lost = false;
	cub_val__set(res, "queued", cub_val__uint(queued));
	return res;
}

/* Hand the oldest queued netdev event to the plugin; false: none. */
static bool
netdev_next(void)
{
	const struct cub_plugin_ops *ops = &w.ops;
	struct wnev *q;
	struct cub_cube *c;

	if (!nev.len)
		return false;
	q = &nev.q[nev.head];
	nev.head = (nev.head + 1) % NEV_MAX;
	nev.len--;
	q->ev.pending = 0;
	for (unsigned i = 0; i < nev.len; i++)
		if (!strcmp(nev.q[(nev.head + i) % NEV_MAX].cube, q->cube))
			q->ev.pending++;
	/* A cube destroyed since: its events go nowhere. */
	if (ops->netdev_event && (c = cube_get(q->cube)))
		ops->netdev_event(c, &q->ev);
	return true;
}

static struct cub_val *
op_error(struct cub_cube *c, int r, const char *what)
{
	struct cub_val *e;

	if (c && c->err) {
		e = c->err;
		c->err = NULL;
		return e;
	}
	return cub_err_val(cub_err_from_errno(r), "service '%s': %s failed: %s",
	    w.pl->name, what, strerror(-r));
}

/*
 * A document in several messages (cube.apply with more, then cube.entries
 * until last), and a change list in several (cube.change until last),
 * kept per cube until complete.  The broker sends one cube's messages in
 * order from one thread; a new cube.apply drops what was pending.
 */
#define PEND_ENTRIES_MAX (8u << 20) /* entries of one pending document */

struct pend {
	char name[CUB_NAME_MAX + 1];
	struct cub_val *doc;     /* cube.apply more: the document so far */
	bool create;
	uint64_t entries;
	struct cub_val *changes; /* cube.change: the changes so far */
	struct pend *next;
};

static struct pend *pends;

static struct pend *
pend_get(const char *name)
{
	struct pend *pd;

	for (pd = pends; pd; pd = pd->next)
		if (!strcmp(pd->name, name))
			return pd;
	return NULL;
}

static struct pend *
pend_new(const char *name)
{
	struct pend *pd = pend_get(name);
	unsigned n = 0;

	if (pd)
		return pd;
	for (pd = pends; pd; pd = pd->next)
		n++;
	if (n >= MAX_CUBES || !(pd = calloc(1, sizeof(*pd))))
		return NULL;
	snprintf(pd->name, sizeof(pd->name), "%s", name);
	pd->next = pends;
	pends = pd;
	return pd;
}

static void
pend_drop(struct pend *pd)
{
	struct pend **pp;

	if (!pd)
		return;
	for (pp = &pends; *pp; pp = &(*pp)->next)
		if (*pp == pd) {
			*pp = pd->next;
			break;
		}
	cub_val__free(pd->doc);
	cub_val__free(pd->changes);
	free(pd);
}

static struct cub_val *
pend_begin(const char *name, const struct cub_val *config, bool create)
{
	struct pend *pd = pend_new(name);

	if (!pd)
		return cub_err_val(CUB_E_LIMIT,
		    "worker holds %d pending documents", MAX_CUBES);
	cub_val__free(pd->doc);
	pd->entries = 0;
	pd->create = create;
	if (!(pd->doc = cub_val__dup(config))) {
		pend_drop(pd);
		return cub_err_val(CUB_E_INTERNAL, "out of memory");
	}
	return NULL;
}

/* Appends entries to the list at path (words: containers, then the list)
 * of the pending document. */
static struct cub_val *
pend_entries(struct pend *pd, const struct cub_val *path,
    const struct cub_val *entries)
{
	struct cub_val *node = pd->doc, *next;
	const char *word;
	uint32_t i;

	if (!path || path->kind != CUB_V_ARRAY || !path->arr.len ||
	    path->arr.len > 32 || !entries || entries->kind != CUB_V_ARRAY)
		return cub_err_val(CUB_E_TYPE,
		    "cube.entries: 'path' (words) and 'entries' (array) "
		    "needed");
	for (i = 0; i < path->arr.len; i++) {
		if (!(word = cub_val__as_str(path->arr.items[i])))
			return cub_err_val(
			    CUB_E_TYPE, "cube.entries: path word %u", i);
		next = cub_val__get(node, word);
		if (!next) {
			if (cub_val__set(node, word,
				i + 1 == path->arr.len ? cub_val__array()
						       : cub_val__map()))
				return cub_err_val(
				    CUB_E_INTERNAL, "out of memory");
			next = cub_val__get(node, word);
		}
		node = next;
		if (node->kind != (i + 1 == path->arr.len ? CUB_V_ARRAY
							  : CUB_V_MAP))
			return cub_err_val(CUB_E_TYPE,
			    "cube.entries: '%s' is a %s", word,
			    cub_val__kind_name(node->kind));
	}
	if (pd->entries + entries->arr.len > PEND_ENTRIES_MAX)
		return cub_err_val(CUB_E_LIMIT,
		    "cube '%s': a document of more than %u entries",
		    pd->name, PEND_ENTRIES_MAX);
	for (i = 0; i < entries->arr.len; i++)
		if (cub_val__push(node, cub_val__dup(entries->arr.items[i])))
			return cub_err_val(CUB_E_INTERNAL, "out of memory");
	pd->entries += entries->arr.len;
	return NULL;
}

/* apply(): a new cube object when there is none; errv or NULL. */
int
cub_map__zero_batch(
    struct cub_cube *cube, const cub_map *map, const void *keys, uint32_t n)
{
	size_t vsz = map ? cub_map__value_bytes(map) : 0;
	uint32_t count = n;
	void *zeros;
	int r;

	if (!cube || !map || (n && map->key_size && !keys))
		return -EINVAL;
	if (!n)
		return 0;
	if (!(zeros = calloc(n, vsz ? vsz : 1)))
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "out of memory");
	r = cub_map__update_batch(cube, map, keys, zeros, &count, NULL);
	free(zeros);
	return r;
}

/* The port fields of the schema (its "ports" list), or NULL. */
static const struct cub_field *
port_fields(void)
{
	const struct cub_field *f;

	for (f = w.pl->schema; f && f->name; f++)
		if (f->type == CUB_T_LIST && !strcmp(f->name, "ports"))
			return f->children;
	return NULL;
}

/*
 * Ports that take an index no port of the cube held start clean: the
 * entries at their indices of every map a counter declared on ports[]
 * reads by "index" (struct cub_counter) are zeroed, on every CPU, so a
 * port never shows counts of the port that had its index before.  A
 * replay (create) zeroes nothing: the counts are its ports' own.
 */
static int
ports_fresh(struct cub_cube *c, const uint32_t *idx, uint32_t n)
{
	const struct cub_field *f;
	const char *done[CUB_MAX_PORTS];
	uint64_t keys[CUB_MAX_PORTS];
	uint32_t nd = 0, i, k32[CUB_MAX_PORTS];
	cub_map m;
	int r;

	for (f = port_fields(); n && f && f->name; f++) {
		const struct cub_counter *ctr = f->counter;

		if (!ctr || !ctr->map || !ctr->key_field ||
		    strcmp(ctr->key_field, "index"))
			continue;
		for (i = 0; i < nd && strcmp(done[i], ctr->map); i++)
			;
		if (i < nd || nd == CUB_MAX_PORTS)
			continue;
		done[nd++] = ctr->map;
		if (cub_cube__map(c, ctr->map, &m))
			continue; /* not loaded yet: its entries are zero */
		for (i = 0; i < n; i++) {
			keys[i] = idx[i];
			k32[i] = idx[i];
		}
		if (m.key_size != 4 && m.key_size != 8)
			continue; /* the broker refused such a binding */
		if ((r = cub_map__zero_batch(c, &m,
			 m.key_size == 4 ? (void *)k32 : (void *)keys, n)))
			return r;
	}
	return 0;
}

static void doc_ports(const struct cub_val *config, uint8_t *used);

int
cub_cube__reset_port_counters(
    struct cub_cube *cube, const struct cub_val *config)
{
	uint32_t idx[CUB_MAX_PORTS], n = 0, i;
	uint8_t used[CUB_MAX_PORTS];
	int r;

	if (!cube || !config)
		return -EINVAL;
	doc_ports(config, used);
	for (i = 0; i < CUB_MAX_PORTS; i++)
		if (used[i])
			idx[n++] = i;
	r = ports_fresh(cube, idx, n);
	return r ? r : (int)n;
}

/* Zero the fixed-key counters of fields (a table, and its containers'). */
static int
fixed_fresh(struct cub_cube *c, const struct cub_field *fields, int depth)
{
	const struct cub_field *f;
	uint64_t k64;
	uint32_t k32;
	cub_map m;
	int r;

	for (f = fields; depth < CUB_SCHEMA_DEPTH_MAX && f && f->name; f++) {
		const struct cub_counter *ctr = f->counter;

		if (f->type == CUB_T_CONTAINER &&
		    (r = fixed_fresh(c, f->children, depth + 1)))
			return r;
		if (!ctr || !ctr->map || ctr->key_field)
			continue;
		if (cub_cube__map(c, ctr->map, &m)) {
			cub_cube__set_error(c, CUB_E_INTERNAL,
			    "cube '%s': counter '%s' reads map '%s', not in its "
			    "object",
			    c->name, f->name, ctr->map);
			return -ENOENT;
		}
		if (m.key_size != 4 && m.key_size != 8)
			continue; /* the broker refused such a binding */
		k64 = ctr->key;
		k32 = (uint32_t)ctr->key;
		if ((r = cub_map__zero_batch(c, &m,
			 m.key_size == 8 ? (void *)&k64 : (void *)&k32, 1)))
			return r;
	}
	return 0;
}

int
cub_cube__reset_counters(struct cub_cube *cube, const struct cub_val *config)
{
	int r = cub_cube__reset_port_counters(cube, config);

	return r < 0 ? r : fixed_fresh(cube, w.pl->schema, 0);
}

/* Word i of an action's path, or NULL. */
static const char *
path_word(const struct cub_val *path, uint32_t i)
{
	const struct cub_val *word;

	if (!path || path->kind != CUB_V_ARRAY || i >= path->arr.len)
		return NULL;
	word = path->arr.items[i];
	return word->kind == CUB_V_STR ? word->str.ptr : NULL;
}

int
cub_action__reset_counters(struct cub_cube *cube, const struct cub_val *path,
    const char *name, const struct cub_val *args,
    const struct cub_val *config, struct cub_val **result)
{
	const char *list = path_word(path, 0), *port = path_word(path, 1);
	uint32_t one;
	int idx;

	(void)name, (void)args, (void)result;
	if (!list)
		return cub_cube__reset_counters(cube, config);
	/* On one port (`cubicle h0 ports p1 reset`): that port's alone. */
	if (!strcmp(list, "ports") && port && !path_word(path, 2)) {
		if ((idx = cub_config__port_index(config, port)) < 0)
			return cub_cube__set_error(cube, CUB_E_NOTFOUND,
			    "cube '%s': no port '%s'", cub_cube__name(cube),
			    port);
		one = (uint32_t)idx;
		return ports_fresh(cube, &one, 1);
	}
	return cub_cube__set_error(cube, CUB_E_INVAL,
	    "cube '%s': a reset of the cube or of one of its ports, not of "
	    "'%s'",
	    cub_cube__name(cube), list);
}

/* The port indices of a document, as a port_used table. */
static void
doc_ports(const struct cub_val *config, uint8_t *used)
{
	const struct cub_val *ports = cub_val__get(config, "ports");
	uint64_t idx;
	uint32_t i;

	memset(used, 0, CUB_MAX_PORTS);
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++)
		if (!cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &idx) &&
		    idx < CUB_MAX_PORTS)
			used[idx] = 1;
}

/* Start clean the ports of used that c did not use, or that added
 * (NULL: none) says are new. */
static int
ports_fresh_new(struct cub_cube *c, const uint8_t *used, const uint8_t *added)
{
	uint32_t idx[CUB_MAX_PORTS], n = 0, i;
	int r;

	for (i = 0; i < CUB_MAX_PORTS; i++)
		if (used[i] && (!c->port_used[i] || (added && added[i])))
			idx[n++] = i;
	if ((r = ports_fresh(c, idx, n)))
		return r;
	for (i = 0; w.ops.port_removed && i < CUB_MAX_PORTS; i++)
		if (c->port_used[i] && (!used[i] || (added && added[i])))
			w.ops.port_removed(c, i);
	for (i = 0; w.ops.port_added && i < n; i++)
		w.ops.port_added(c, idx[i]);
	return 0;
}

static struct cub_val *
apply_doc(const char *name, struct cub_cube *c, const struct cub_val *config,
    bool create)
{
	uint8_t used[CUB_MAX_PORTS];
	const struct cub_plugin_ops *ops = &w.ops;
	struct cub_val *errv;
	bool fresh = false;
	int old_level, r;
	unsigned n = 0;

	if (!c) {
		for (c = w.cubes; c; c = c->next)
			n++;
		if (n >= MAX_CUBES)
			return cub_err_val(
			    CUB_E_LIMIT, "worker holds %d cubes", MAX_CUBES);
		c = calloc(1, sizeof(*c));
		if (c)
			c->priv = calloc(1, w.pl->cube_size ?: 1);
		if (!c || !c->priv) {
			free(c);
			return cub_err_val(CUB_E_INTERNAL, "out of memory");
		}
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->next = w.cubes;
		w.cubes = c;
		fresh = true;
	}
	/* The apply logs at the level it brings; a refusal keeps the old
	 * one, like the rest of the configuration. */
	doc_ports(config, used);
	if (!create && !fresh && (r = ports_fresh_new(c, used, NULL)))
		return op_error(c, r, "apply");
	old_level = c->loglevel;
	c->loglevel = config_loglevel(config);
	r = ops->apply(c, config, create || fresh);
	if (!r) {
		memcpy(c->port_used, used, sizeof(used));
		return NULL;
	}
	c->loglevel = old_level;
	errv = op_error(c, r, "apply");
	if (fresh) {
		if (ops->destroy)
			ops->destroy(c);
		cube_drop(c);
	}
	return errv;
}

#define CHANGES_MAX (4u << 20) /* changes of one request */

/* Checks change i of the wire's list into *out (pointing into it). */
static struct cub_val *
change_parse(const struct cub_val *e, uint32_t i, struct cub_change *out)
{
	const char *op = cub_val__get_str(e, "op");
	const struct cub_val *path = cub_val__get(e, "path");
	uint64_t idx;
	uint32_t j;

	memset(out, 0, sizeof(*out));
	out->index = -1;
	if (!op || !strcmp(op, "")) {
		return cub_err_val(CUB_E_TYPE, "change %u: no op", i);
	} else if (!strcmp(op, "add")) {
		out->op = CUB_CHANGE_ADD;
	} else if (!strcmp(op, "set")) {
		out->op = CUB_CHANGE_SET;
	} else if (!strcmp(op, "del")) {
		out->op = CUB_CHANGE_DEL;
	} else {
		return cub_err_val(CUB_E_INVAL,
		    "change %u: op '%.16s' is not add, set or del", i, op);
	}
	if (!path || path->kind != CUB_V_ARRAY)
		return cub_err_val(CUB_E_TYPE, "change %u: path is no array", i);
	for (j = 0; j < path->arr.len; j++)
		if (path->arr.items[j]->kind != CUB_V_STR)
			return cub_err_val(
			    CUB_E_TYPE, "change %u: path word %u", i, j);
	out->path = path;
	out->before = cub_val__get(e, "old");
	out->after = cub_val__get(e, "new");
	if ((out->before && out->before->kind != CUB_V_MAP) ||
	    (out->after && out->after->kind != CUB_V_MAP) ||
	    (out->op != CUB_CHANGE_ADD && !out->before) ||
	    (out->op != CUB_CHANGE_DEL && !out->after))
		return cub_err_val(CUB_E_TYPE,
		    "change %u (%s): old and new must be maps as the op "
		    "needs",
		    i, op);
	if (!cub_val__as_u64(cub_val__get(e, "index"), &idx) &&
	    idx <= INT32_MAX)
		out->index = (int64_t)idx;
	return NULL;
}

/* The cube's loglevel as a change of its root leaves it. */
static int
changes_loglevel(const struct cub_change *ch, uint32_t n, int level)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (ch[i].op == CUB_CHANGE_SET && !ch[i].path->arr.len &&
		    cub_val__get(ch[i].after, "loglevel"))
			level = config_loglevel(ch[i].after);
	return level;
}

/* cube.change: keep the changes until last, then hand them over. */
static struct cub_val *
change_take(struct cub_cube *c, const struct cub_val *changes, bool last)
{
	struct cub_change *ch = NULL;
	struct cub_val *errv = NULL, *all;
	struct pend *pd = pend_get(c->name);
	uint32_t i, n;
	int old_level, r;

	if (pd && !pd->changes && last)
		pd = NULL; /* a document pending: not ours to drop */

	if (!w.ops.change)
		return cub_err_val(CUB_E_NOMETHOD,
		    "service '%s' takes documents (cube.apply), not changes",
		    w.pl->name);
	if (!changes || changes->kind != CUB_V_ARRAY)
		return cub_err_val(CUB_E_TYPE, "'changes' is no array");
	if (!last || (pd && pd->changes)) {
		if (!pd && !(pd = pend_new(c->name)))
			return cub_err_val(CUB_E_LIMIT, "too many pending");
		if (!pd->changes && !(pd->changes = cub_val__array()))
			return cub_err_val(CUB_E_INTERNAL, "out of memory");
		if (pd->changes->arr.len + changes->arr.len > CHANGES_MAX) {
			pend_drop(pd);
			return cub_err_val(CUB_E_LIMIT,
			    "cube '%s': more than %u changes in one request",
			    c->name, CHANGES_MAX);
		}
		for (i = 0; i < changes->arr.len; i++)
			if (cub_val__push(pd->changes,
				cub_val__dup(changes->arr.items[i]))) {
				pend_drop(pd);
				return cub_err_val(
				    CUB_E_INTERNAL, "out of memory");
			}
		if (!last)
			return NULL;
	}
	all = pd && pd->changes ? pd->changes : (struct cub_val *)changes;
	n = all->arr.len;
	if (n && !(ch = calloc(n, sizeof(*ch))))
		errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
	for (i = 0; !errv && i < n; i++)
		errv = change_parse(all->arr.items[i], i, &ch[i]);
	if (!errv && n) {
		uint8_t used[CUB_MAX_PORTS], added[CUB_MAX_PORTS] = {0};

		/* The port table after the changes: ports added start
		 * clean. */
		memcpy(used, c->port_used, sizeof(used));
		for (i = 0; i < n; i++) {
			const struct cub_val *e = ch[i].op == CUB_CHANGE_DEL
						      ? ch[i].before
						      : ch[i].after;
			const char *w0 =
			    ch[i].path->arr.len == 2
				? cub_val__as_str(ch[i].path->arr.items[0])
				: NULL;
			uint64_t idx;

			if (!w0 || strcmp(w0, "ports") ||
			    cub_val__as_u64(cub_val__get(e, "index"), &idx) ||
			    idx >= CUB_MAX_PORTS)
				continue;
			if (ch[i].op == CUB_CHANGE_DEL)
				used[idx] = 0;
			else if (ch[i].op == CUB_CHANGE_ADD) {
				used[idx] = 1;
				added[idx] = 1;
			}
		}
		old_level = c->loglevel;
		c->loglevel = changes_loglevel(ch, n, c->loglevel);
		if ((r = ports_fresh_new(c, used, added)) ||
		    (r = w.ops.change(c, ch, n))) {
			c->loglevel = old_level;
			errv = op_error(c, r, "change");
		} else {
			memcpy(c->port_used, used, sizeof(used));
		}
	}
	free(ch);
	if (pd)
		pend_drop(pd);
	return errv;
}

void
cubi_worker__dispatch(
    const struct cub_rpc *rpc, struct cub_val **result, struct cub_val **errv)
{
	const struct cub_plugin_ops *ops = &w.ops;
	const struct cub_val *p = rpc->params;
	const char *name = cub_val__get_str(p, "cube");
	struct cub_cube *c;
	bool create = false;
	int r;

	*result = NULL;
	*errv = NULL;
	if (!strcmp(rpc->method, CUB_M_NETDEV_EVENT)) {
		*result = netdev_queue(rpc->params);
		return;
	}
	if (!name || strlen(name) > CUB_NAME_MAX) {
		*errv = cub_err_val(CUB_E_MISSING, "'cube' missing");
		return;
	}
	c = cube_get(name);
	if (c) {
		/* An error message belongs to one call only. */
		cub_val__free(c->err);
		c->err = NULL;
	}
	if (!strcmp(rpc->method, CUB_M_CUBE_APPLY)) {
		const struct cub_val *config = cub_val__get(p, "config");
		bool more = false;

		cub_val__as_bool(cub_val__get(p, "create"), &create);
		cub_val__as_bool(cub_val__get(p, "more"), &more);
		if (!config || config->kind != CUB_V_MAP) {
			*errv = cub_err_val(CUB_E_TYPE, "'config' missing");
			return;
		}
		if (more) {
			/* The document's big lists follow (cube.entries). */
			if (!(*errv = pend_begin(name, config, create)))
				*result = cub_val__map();
			return;
		}
		pend_drop(pend_get(name));
		if (!(*errv = apply_doc(name, c, config, create)))
			*result = cub_val__map();
		return;
	}
	if (!strcmp(rpc->method, CUB_M_CUBE_ENTRIES)) {
		struct pend *pd = pend_get(name);
		bool last = false;

		cub_val__as_bool(cub_val__get(p, "last"), &last);
		if (!pd || !pd->doc) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "cube.entries for cube '%s' without a cube.apply "
			    "that said more",
			    name);
			return;
		}
		if ((*errv = pend_entries(pd, cub_val__get(p, "path"),
			 cub_val__get(p, "entries")))) {
			pend_drop(pd);
			return;
		}
		if (!last) {
			*result = cub_val__map();
			return;
		}
		*errv = apply_doc(name, c, pd->doc, pd->create);
		pend_drop(pd);
		if (!*errv)
			*result = cub_val__map();
		return;
	}
	if (!c) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "service '%s' has no cube '%s'", w.pl->name, name);
		return;
	}
	cub_val__free(c->err);
	c->err = NULL;
	if (!strcmp(rpc->method, CUB_M_CUBE_DESTROY)) {
		pend_drop(pend_get(name));
		if (ops->destroy)
			ops->destroy(c);
		cube_drop(c);
	} else if (!strcmp(rpc->method, CUB_M_CUBE_CHANGE)) {
		bool last = true;

		cub_val__as_bool(cub_val__get(p, "last"), &last);
		if (!(*errv = change_take(c, cub_val__get(p, "changes"), last)))
			*result = cub_val__map();
	} else if (!strcmp(rpc->method, CUB_M_CUBE_SHOW)) {
		*result = cub_val__map();
		c->show_words = cub_val__get(p, "words");
		if (c->show_words && c->show_words->kind != CUB_V_ARRAY)
			c->show_words = NULL;
		if (ops->show &&
		    (r = ops->show(c, cub_val__get(p, "config"), *result))) {
			*result = cub_val__free(*result);
			*errv = op_error(c, r, "show");
		}
		c->show_words = NULL;
	} else if (!strcmp(rpc->method, CUB_M_CUBE_ACTION)) {
		if (!ops->action && !ops->action_config) {
			*errv = cub_err_val(CUB_E_VERB,
			    "service '%s' has no actions", w.pl->name);
			return;
		}
		if (ops->action_config)
			r = ops->action_config(c, cub_val__get(p, "path"),
			    cub_val__get_str(p, "action") ?: "",
			    cub_val__get(p, "args"), cub_val__get(p, "config"),
			    result);
		else
			r = ops->action(c, cub_val__get(p, "path"),
			    cub_val__get_str(p, "action") ?: "",
			    cub_val__get(p, "args"), result);
		if (r) {
			*result = cub_val__free(*result);
			*errv = op_error(c, r, "action");
		}
	} else {
		*errv =
		    cub_err_val(CUB_E_NOMETHOD, "no method '%s'", rpc->method);
	}
}

/*
 * Packet-in.  The broker sends a batch of packets for one cube in one
 * packet.in notification on the worker's pkt socket (cubicle-worker
 * reads it between requests), never answered; its packets are queued
 * here (at most PKTIN_MAX).  The plugin's packet_in sees them one at a
 * time between the broker's requests
 * (cubicle-worker takes the next one only when no request is waiting),
 * so a slow packet_in delays a request by one packet at most.  Packets
 * past PKTIN_MAX are dropped, logged, and reported to the broker
 * (packet.dropped), which counts them with its own drops.
 */
#define PKTIN_MAX 256

struct wpkt {
	char cube[CUB_NAME_MAX + 1];
	uint32_t port;
	uint32_t reason;
	size_t len;
	void *data;
};

static struct {
	struct wpkt q[PKTIN_MAX];
	unsigned head, len;
	uint64_t dropped;
	uint32_t reason; /* of the packet packet_in has */
} pk;

static void
pkt_drop(void)
{
	pk.dropped++;
	if (!(pk.dropped & (pk.dropped - 1)))
		fprintf(stderr,
		    "service '%s': packet-in queue full (%d), %llu packet(s) "
		    "dropped so far\n",
		    w.pl->name, PKTIN_MAX, (unsigned long long)pk.dropped);
}

/* Tell the broker, which counts them with its own drops for the cube. */
static void
pkt_report(const char *cube, uint64_t n)
{
	struct cub_val *p = cub_val__map(), *res = NULL, *errv = NULL;

	cub_val__set(p, "cube", cub_val__str(cube));
	cub_val__set(p, "count", cub_val__uint(n));
	call(CUB_M_PKTIN_DROPPED, p, &res, &errv);
	cub_val__free(res);
	cub_val__free(errv);
}

void
cubi_worker__notify(const struct cub_rpc *rpc)
{
	const struct cub_val *p = rpc->params, *pkts, *e, *data;
	const char *name = cub_val__get_str(p, "cube");
	uint64_t port, reason, before = pk.dropped;
	struct wpkt *q;
	uint32_t i;

	if (strcmp(rpc->method, CUB_M_PACKET_IN) || !name ||
	    strlen(name) > CUB_NAME_MAX)
		return;
	pkts = cub_val__get(p, "packets");
	for (i = 0; pkts && pkts->kind == CUB_V_ARRAY && i < pkts->arr.len;
	     i++) {
		e = pkts->arr.items[i];
		data = cub_val__get(e, "data");
		if (!data || data->kind != CUB_V_BIN ||
		    cub_val__as_u64(cub_val__get(e, "port"), &port) ||
		    port > UINT32_MAX)
			continue;
		if (pk.len == PKTIN_MAX) {
			pkt_drop();
			continue;
		}
		q = &pk.q[(pk.head + pk.len) % PKTIN_MAX];
		if (!(q->data = malloc(data->bin.len ?: 1))) {
			pkt_drop();
			continue;
		}
		memcpy(q->data, data->bin.ptr, data->bin.len);
		q->len = data->bin.len;
		q->port = (uint32_t)port;
		if (cub_val__as_u64(cub_val__get(e, "reason"), &reason) ||
		    reason > UINT32_MAX)
			reason = 0;
		q->reason = (uint32_t)reason;
		snprintf(q->cube, sizeof(q->cube), "%s", name);
		pk.len++;
	}
	if (pk.dropped != before)
		pkt_report(name, pk.dropped - before);
}

bool
cubi_worker__packet_pending(void)
{
	return pk.len != 0 || nev.len != 0;
}

void
cubi_worker__packet_next(void)
{
	const struct cub_plugin_ops *ops = &w.ops;
	struct wpkt *q;
	struct cub_cube *c;

	if (netdev_next() || !pk.len)
		return;
	q = &pk.q[pk.head];
	pk.head = (pk.head + 1) % PKTIN_MAX;
	pk.len--;
	/* A cube destroyed since: its packets go nowhere. */
	if (ops->packet_in && (c = cube_get(q->cube))) {
		pk.reason = q->reason;
		ops->packet_in(c, q->port, q->data, q->len);
		pk.reason = 0;
	}
	free(q->data);
	q->data = NULL;
}

uint32_t
cub_cube__packet_reason(const struct cub_cube *cube)
{
	(void)cube;
	return pk.reason;
}

/*
 * Ticks (ops->tick, every cub_plugin.tick_ms): cubicle-worker asks how
 * long it may sleep (cubi_worker__tick_wait()) and runs them when due,
 * between requests.  A late tick is not made up for.
 */
static struct {
	int64_t next_ms; /* 0: not started */
} tk;

static int64_t
tick_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t
tick_period(void)
{
	if (!w.ops.tick || !w.desc.tick_ms)
		return 0;
	return w.desc.tick_ms < 10 ? 10 : w.desc.tick_ms;
}

int
cubi_worker__tick_wait(void)
{
	uint32_t period = tick_period();
	int64_t left;

	if (!period)
		return -1;
	if (!tk.next_ms)
		tk.next_ms = tick_now_ms() + period;
	left = tk.next_ms - tick_now_ms();
	return left < 0 ? 0 : (int)left;
}

int
cubi_worker__tick_all(void)
{
	struct cub_cube *c, *next;
	int n = 0;

	if (!w.ops.tick)
		return -EOPNOTSUPP;
	for (c = w.cubes; c; c = next, n++) {
		next = c->next;
		w.ops.tick(c);
		/* An error message belongs to one call only. */
		c->err = cub_val__free(c->err);
	}
	return n;
}

bool
cubi_worker__tick_run(void)
{
	uint32_t period = tick_period();
	struct cub_cube *c, *next;
	int64_t now;

	if (!period)
		return false;
	now = tick_now_ms();
	if (!tk.next_ms)
		tk.next_ms = now + period;
	if (now < tk.next_ms)
		return false;
	tk.next_ms = now + period;
	for (c = w.cubes; c; c = next) {
		next = c->next;
		w.ops.tick(c);
		c->err = cub_val__free(c->err);
	}
	return true;
}

/*
 * Batches (plugin.h).  Calls of at most CUB_BATCH_MAX entries, and under
 * half the message cap, each a map.batch with packed keys and values.
 */
static int
batch_opts(
    const struct cub_batch_opts *opts, uint64_t *elem_flags, uint64_t *flags)
{
	const uint8_t *tail;
	size_t i;

	*elem_flags = *flags = 0;
	if (!opts)
		return 0;
	if (opts->sz < sizeof(size_t))
		return -EINVAL;
	/* Fields past the caller's sz are absent; a tail we do not know
	 * must be zero (a newer caller's options we would ignore). */
	tail = (const uint8_t *)opts;
	for (i = sizeof(*opts); i < opts->sz; i++)
		if (tail[i])
			return -EINVAL;
	if (opts->sz >= offsetof(struct cub_batch_opts, elem_flags) + 8)
		*elem_flags = opts->elem_flags;
	if (opts->sz >= offsetof(struct cub_batch_opts, flags) + 8)
		*flags = opts->flags;
	return 0;
}

static uint32_t
batch_chunk(const cub_map *map)
{
	size_t per = (size_t)map->key_size + cub_map__value_bytes(map) + 8;
	size_t n = CUB_MSG_MAX / 2 / per;

	return n > CUB_BATCH_MAX ? CUB_BATCH_MAX : n ? (uint32_t)n : 1;
}

/* The kernel's errno a map.batch error carries, else r. */
static int
err_errno(const struct cub_val *errv, int r)
{
	uint64_t e;

	if (cub_val__as_u64(cub_val__get(errv, "errno"), &e) || !e || e > 4095)
		return r;
	return -(int)e;
}

/* The entries an error says were processed (0 if it does not say). */
static uint32_t
err_count(const struct cub_val *errv, uint32_t max)
{
	uint64_t n;

	if (cub_val__as_u64(cub_val__get(errv, "count"), &n) || n > max)
		return 0;
	return (uint32_t)n;
}

static int
batch_write(struct cub_cube *cube, const cub_map *map, bool update,
    const void *keys, const void *values, uint32_t *count,
    const struct cub_batch_opts *opts)
{
	size_t vsz = cub_map__value_bytes(map);
	uint32_t total = *count, done = 0, chunk = batch_chunk(map), n;
	uint64_t elem_flags, flags;
	struct cub_val *p, *res, *errv;
	int r;

	*count = 0;
	if (batch_opts(opts, &elem_flags, &flags))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "batch: opts: sz too small or unknown options set");
	if (!cube || !map ||
	    (total && ((map->key_size && !keys) || (update && !values))))
		return -EINVAL;
	while (done < total) {
		n = total - done < chunk ? total - done : chunk;
		p = map_params(cube, map, NULL);
		cub_val__set(
		    p, "op", cub_val__str(update ? "update" : "delete"));
		cub_val__set(p, "count", cub_val__uint(n));
		if (map->key_size)
			cub_val__set(p, "keys",
			    cub_val__bin((const uint8_t *)keys +
					     (size_t)done * map->key_size,
				(size_t)n * map->key_size));
		if (update)
			cub_val__set(p, "values",
			    cub_val__bin(
				(const uint8_t *)values + (size_t)done * vsz,
				(size_t)n * vsz));
		cub_val__set(p, "elem_flags", cub_val__uint(elem_flags));
		cub_val__set(p, "batch_flags", cub_val__uint(flags));
		r = call(CUB_M_MAP_BATCH, p, &res, &errv);
		cub_val__free(res);
		if (r) {
			*count = done + err_count(errv, n);
			return cube_fail(cube, errv, err_errno(errv, r));
		}
		done += n;
	}
	*count = done;
	return 0;
}

int
cub_map__update_batch(struct cub_cube *cube, const cub_map *map,
    const void *keys, const void *values, uint32_t *count,
    const struct cub_batch_opts *opts)
{
	if (!count)
		return -EINVAL;
	return batch_write(cube, map, true, keys, values, count, opts);
}

int
cub_map__delete_batch(struct cub_cube *cube, const cub_map *map,
    const void *keys, uint32_t *count, const struct cub_batch_opts *opts)
{
	if (!count)
		return -EINVAL;
	return batch_write(cube, map, false, keys, NULL, count, opts);
}

/* BPF_MAP_TYPE_HASH 1, PERCPU_HASH 5, LRU_HASH 9, LRU_PERCPU_HASH 10: the
 * kernel's cursor is a bucket number; the others' a key (mapbatch.c). */
size_t
cub_map__batch_cursor_size(const cub_map *map)
{
	if (map->type == 1 || map->type == 5 || map->type == 9 ||
	    map->type == 10)
		return sizeof(uint32_t);
	return map->key_size;
}

static int
batch_read(struct cub_cube *cube, const cub_map *map, bool del,
    const void *in_batch, void *out_batch, void *keys, void *values,
    uint32_t *count, const struct cub_batch_opts *opts)
{
	size_t vsz = cub_map__value_bytes(map);
	size_t csz = cub_map__batch_cursor_size(map);
	uint32_t want = *count, got = 0, chunk = batch_chunk(map), n, m;
	const struct cub_val *k, *v, *cur;
	struct cub_val *p, *res, *errv;
	uint64_t elem_flags, flags;
	bool more = true, have = in_batch != NULL;
	uint64_t u;
	int r;

	*count = 0;
	if (batch_opts(opts, &elem_flags, &flags))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "batch: opts: sz too small or unknown options set");
	if (!cube || !map || !values || (map->key_size && !keys) ||
	    (csz && !out_batch))
		return -EINVAL;
	if (have && csz && in_batch != out_batch)
		memmove(out_batch, in_batch, csz);
	while (got < want && more) {
		n = want - got < chunk ? want - got : chunk;
		p = map_params(cube, map, NULL);
		cub_val__set(p, "op",
		    cub_val__str(del ? "lookup_and_delete" : "lookup"));
		cub_val__set(p, "count", cub_val__uint(n));
		if (have && csz)
			cub_val__set(
			    p, "in_batch", cub_val__bin(out_batch, csz));
		cub_val__set(p, "elem_flags", cub_val__uint(elem_flags));
		cub_val__set(p, "batch_flags", cub_val__uint(flags));
		r = call(CUB_M_MAP_BATCH, p, &res, &errv);
		if (r && got && err_errno(errv, r) == -ENOSPC) {
			/* The next bucket is bigger than what is left to
			 * fill: return what came, the cursor is before it. */
			cub_val__free(errv);
			break;
		}
		if (r) {
			*count = got; /* nothing of this call came back */
			return cube_fail(cube, errv, err_errno(errv, r));
		}
		k = cub_val__get(res, "keys");
		v = cub_val__get(res, "values");
		cur = cub_val__get(res, "out_batch");
		cub_val__as_bool(cub_val__get(res, "more"), &more);
		if (cub_val__as_u64(cub_val__get(res, "count"), &u) || u > n ||
		    !bin_of_len(k, (size_t)u * map->key_size) ||
		    !bin_of_len(v, (size_t)u * vsz) || !bin_of_len(cur, csz)) {
			cub_val__free(res);
			*count = got;
			return -EBADMSG;
		}
		m = (uint32_t)u;
		if (k->bin.len) /* QUEUE, STACK: no keys (keys may be NULL) */
			memcpy((uint8_t *)keys + (size_t)got * map->key_size,
			    k->bin.ptr, k->bin.len);
		if (v->bin.len)
			memcpy((uint8_t *)values + (size_t)got * vsz,
			    v->bin.ptr, v->bin.len);
		if (csz)
			memcpy(out_batch, cur->bin.ptr, csz);
		have = true;
		got += m;
		cub_val__free(res);
	}
	*count = got;
	return more ? 0 : -ENOENT;
}

int
cub_map__lookup_batch(struct cub_cube *cube, const cub_map *map,
    const void *in_batch, void *out_batch, void *keys, void *values,
    uint32_t *count, const struct cub_batch_opts *opts)
{
	if (!count)
		return -EINVAL;
	return batch_read(
	    cube, map, false, in_batch, out_batch, keys, values, count, opts);
}

int
cub_map__lookup_and_delete_batch(struct cub_cube *cube, const cub_map *map,
    const void *in_batch, void *out_batch, void *keys, void *values,
    uint32_t *count, const struct cub_batch_opts *opts)
{
	if (!count)
		return -EINVAL;
	return batch_read(
	    cube, map, true, in_batch, out_batch, keys, values, count, opts);
}

/* Swap sets (plugin.h; the broker's side is broker/mapswap.c). */
struct cub_swap_txn {
	struct cub_cube *cube;
	char set[CUB_NAME_MAX + 1];
	uint64_t id;
	uint32_t copy;
	struct cub_val *maps;
};


static int
swap_map(const struct cub_val *maps, const char *name, cub_map *out)
{
	uint32_t i;

	for (i = 0; maps && maps->kind == CUB_V_ARRAY && i < maps->arr.len; i++)
		if (!strcmp(cub_val__get_str(maps->arr.items[i], "name") ?: "",
			name))
			return map_of(maps->arr.items[i], out);
	return -ENOENT;
}

static struct cub_val *
swap_params(struct cub_cube *cube, const char *set)
{
	struct cub_val *p = cub_val__map();

	cub_val__set(p, "cube", cub_val__str(cube->name));
	cub_val__set(p, "set", cub_val__str(set));
	return p;
}

int
cub_swap__begin_opts(struct cub_cube *cube, const char *set,
    const struct cub_swap_opts *opts, struct cub_swap_txn **txn)
{
	struct cub_val *p, *res, *errv;
	struct cub_swap_txn *t;
	uint64_t id, copy;
	bool clear = false;
	int r;

	if (!cube || !set || !txn || strlen(set) > CUB_NAME_MAX)
		return -EINVAL;
	*txn = NULL;
	if (opts) {
		if (opts->sz < offsetof(struct cub_swap_opts, clear) + 1)
			return -EINVAL;
		clear = opts->clear;
	}
	p = swap_params(cube, set);
	cub_val__set(p, "clear", cub_val__bool(clear));
	r = call(CUB_M_SWAP_BEGIN, p, &res, &errv);
	if (r)
		return cube_fail(cube, errv, r);
	t = calloc(1, sizeof(*t));
	if (!t || cub_val__as_u64(cub_val__get(res, "txn"), &id) ||
	    cub_val__as_u64(cub_val__get(res, "copy"), &copy)) {
		free(t);
		cub_val__free(res);
		return t ? -EBADMSG : -ENOMEM;
	}
	t->cube = cube;
	snprintf(t->set, sizeof(t->set), "%s", set);
	t->id = id;
	t->copy = (uint32_t)copy;
	t->maps = cub_val__take(res, "maps");
	cub_val__free(res);
	*txn = t;
	return 0;
}

int
cub_swap__begin(
    struct cub_cube *cube, const char *set, struct cub_swap_txn **txn)
{
	return cub_swap__begin_opts(cube, set, NULL, txn);
}

int
cub_swap__map(struct cub_swap_txn *txn, const char *member, cub_map *out)
{
	if (!txn || !member || !out)
		return -EINVAL;
	return swap_map(txn->maps, member, out);
}

uint32_t
cub_swap__copy(const struct cub_swap_txn *txn)
{
	return txn ? txn->copy : 0;
}

static int
swap_end(struct cub_swap_txn *txn, const char *method)
{
	struct cub_val *p, *res, *errv;
	int r;

	if (!txn)
		return -EINVAL;
	p = swap_params(txn->cube, txn->set);
	cub_val__set(p, "txn", cub_val__uint(txn->id));
	r = call(method, p, &res, &errv);
	cub_val__free(res);
	if (r)
		cube_fail(txn->cube, errv, r);
	cub_val__free(txn->maps);
	free(txn);
	return r;
}

int
cub_swap__commit(struct cub_swap_txn *txn)
{
	return swap_end(txn, CUB_M_SWAP_COMMIT);
}

void
cub_swap__abort(struct cub_swap_txn *txn)
{
	swap_end(txn, CUB_M_SWAP_ABORT);
}

/* One member of the copy a swap.read handed back: read all, then zero. */
static int
swap_read_member(struct cub_cube *cube, const char *name, const cub_map *map,
    int (*fn)(
	const char *, const cub_map *, const void *, const void *, void *),
    void *ctx)
{
	size_t vsz = cub_map__value_bytes(map), csz;
	uint32_t n = map->max_entries, i, z;
	uint8_t *keys, *vals, *zero, cursor[64];
	bool array = map->type == 2 || map->type == 6; /* ARRAY, PERCPU_ARRAY */
	int r, stop = 0;

	csz = cub_map__batch_cursor_size(map);
	if (csz > sizeof(cursor) || !n)
		return -EINVAL;
	keys = malloc((size_t)n * map->key_size + 1);
	vals = malloc((size_t)n * vsz + 1);
	zero = calloc(n, vsz + 1);
	if (!keys || !vals || !zero) {
		r = -ENOMEM;
		goto out;
	}
	r = cub_map__lookup_batch(
	    cube, map, NULL, cursor, keys, vals, &n, NULL);
	if (r && r != -ENOENT)
		goto out;
	for (i = 0; i < n && !stop; i++)
		stop = fn(name, map, keys + (size_t)i * map->key_size,
		    vals + (size_t)i * vsz, ctx);
	z = n;
	r = array ? cub_map__update_batch(cube, map, keys, zero, &z, NULL)
		  : cub_map__delete_batch(cube, map, keys, &z, NULL);
	if (!r)
		r = stop;
out:
	free(keys);
	free(vals);
	free(zero);
	return r;
}

/* The old read (opts->grace): the broker waited; read and zero here. */
static int
swap_read_grace(struct cub_cube *cube, const struct cub_val *maps,
    int (*fn)(
	const char *, const cub_map *, const void *, const void *, void *),
    void *ctx)
{
	cub_map map;
	uint32_t i;
	int r = 0;

	for (i = 0;
	     !r && maps && maps->kind == CUB_V_ARRAY && i < maps->arr.len;
	     i++) {
		const struct cub_val *item = maps->arr.items[i];

		if ((r = map_of(item, &map)))
			break;
		r = swap_read_member(
		    cube, cub_val__get_str(item, "name") ?: "", &map, fn, ctx);
	}
	return r;
}

void
cub_swap__result_free(struct cub_swap_result *res)
{
	if (!res)
		return;
	cub_val__free(res->priv_);
	free(res);
}

/* The fast read's answer: the entries, member by member. */
static int
swap_result_of(struct cub_val *ans, struct cub_swap_result **out)
{
	const struct cub_val *maps = cub_val__get(ans, "maps"), *k, *v;
	struct cub_swap_result *res;
	uint64_t n, late;
	size_t vsz;
	uint32_t i;
	int r;

	if (!maps || maps->kind != CUB_V_ARRAY ||
	    maps->arr.len > CUB_SWAP_MEMBERS_MAX)
		return -EBADMSG;
	res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	for (i = 0; i < maps->arr.len; i++) {
		const struct cub_val *item = maps->arr.items[i];
		struct cub_swap_member *m = &res->member[i];

		k = cub_val__get(item, "keys");
		v = cub_val__get(item, "values");
		if ((r = map_of(item, &m->map)) ||
		    cub_val__as_u64(cub_val__get(item, "count"), &n) ||
		    cub_val__as_u64(cub_val__get(item, "late"), &late) ||
		    !k || k->kind != CUB_V_BIN || !v || v->kind != CUB_V_BIN) {
			free(res);
			return -EBADMSG;
		}
		vsz = cub_map__value_bytes(&m->map);
		if (n > UINT32_MAX || k->bin.len != n * m->map.key_size ||
		    v->bin.len != n * vsz) {
			free(res);
			return -EBADMSG;
		}
		m->name = cub_val__get_str(item, "name") ?: "";
		m->count = (uint32_t)n;
		m->late = (uint32_t)late;
		m->keys = k->bin.ptr;
		m->values = v->bin.ptr;
	}
	res->nmembers = maps->arr.len;
	res->priv_ = ans;
	*out = res;
	return 0;
}

int
cub_swap__read_members(struct cub_cube *cube, const char *set,
    struct cub_swap_result **out)
{
	struct cub_val *p, *res, *errv;
	int r;

	if (!cube || !set || !out || strlen(set) > CUB_NAME_MAX)
		return -EINVAL;
	*out = NULL;
	p = swap_params(cube, set);
	r = call(CUB_M_SWAP_READ, p, &res, &errv);
	if (r)
		return cube_fail(cube, errv, r);
	if ((r = swap_result_of(res, out)))
		cub_val__free(res);
	return r;
}

int
cub_swap__read_opts(struct cub_cube *cube, const char *set,
    const struct cub_swap_read_opts *opts,
    int (*fn)(const char *member, const cub_map *map, const void *key,
	const void *value, void *ctx),
    void *ctx)
{
	struct cub_val *p, *res, *errv;
	struct cub_swap_result *sr;
	bool grace = opts && opts->sz >= sizeof(*opts) && opts->grace;
	uint32_t i, e;
	size_t vsz;
	int r = 0;

	if (!cube || !set || !fn || strlen(set) > CUB_NAME_MAX)
		return -EINVAL;
	if (!grace) {
		if ((r = cub_swap__read_members(cube, set, &sr)))
			return r;
		for (i = 0; !r && i < sr->nmembers; i++) {
			const struct cub_swap_member *m = &sr->member[i];

			vsz = cub_map__value_bytes(&m->map);
			for (e = 0; !r && e < m->count; e++)
				r = fn(m->name, &m->map,
				    (const uint8_t *)m->keys +
					(size_t)e * m->map.key_size,
				    (const uint8_t *)m->values + (size_t)e * vsz,
				    ctx);
		}
		cub_swap__result_free(sr);
		return r;
	}
	p = swap_params(cube, set);
	cub_val__set(p, "wait", cub_val__bool(true));
	r = call(CUB_M_SWAP_READ, p, &res, &errv);
	if (r)
		return cube_fail(cube, errv, r);
	r = swap_read_grace(cube, cub_val__get(res, "maps"), fn, ctx);
	cub_val__free(res);
	return r;
}

int
cub_swap__read(struct cub_cube *cube, const char *set,
    int (*fn)(const char *member, const cub_map *map, const void *key,
	const void *value, void *ctx),
    void *ctx)
{
	return cub_swap__read_opts(cube, set, NULL, fn, ctx);
}

/* Packet-out (broker/pktout.c): kept apart from the apply path. */
int
cub_cube__packet_out(struct cub_cube *cube, uint32_t port, uint32_t flags,
    const void *data, size_t len)
{
	struct cub_val *p, *res = NULL, *errv = NULL;
	bool sent = false;
	int r;

	if (!cube || (!data && len) || len > CUB_MSG_MAX / 2)
		return -EINVAL;
	p = cub_val__map();
	cub_val__set(p, "cube", cub_val__str(cube->name));
	cub_val__set(p, "port", cub_val__uint(port));
	cub_val__set(p, "flags", cub_val__uint(flags));
	cub_val__set(p, "data", cub_val__bin(data, len));
	r = call(CUB_M_PKTOUT, p, &res, &errv);
	if (r)
		return cube_fail(cube, errv, r);
	cub_val__as_bool(cub_val__get(res, "sent"), &sent);
	cub_val__free(res);
	return sent ? 0 : -ENOBUFS;
}

int
cub_host__netdevs(
    struct cub_cube *cube, struct cub_host_netdev **out, uint32_t *n)
{
	struct cub_val *res = NULL, *errv = NULL;
	const struct cub_val *arr;
	struct cub_host_netdev *v;
	uint32_t k = 0;
	int r;

	if (!cube || !out || !n)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	r = call(CUB_M_NETDEV_LIST, cub_val__map(), &res, &errv);
	if (r) {
		uint64_t code = 0;

		/* The caller names what needs the list; the code says why. */
		cub_val__as_u64(cub_val__get(errv, "code"), &code);
		cub_val__free(errv);
		return code == CUB_E_PERM	 ? -EPERM
		       : code == CUB_E_UNAVAIL ? -EAGAIN
					       : r;
	}
	arr = cub_val__get(res, "netdevs");
	if (!arr || arr->kind != CUB_V_ARRAY) {
		cub_val__free(res);
		return -EPROTO;
	}
	v = calloc(arr->arr.len + 1, sizeof(*v));
	if (!v) {
		cub_val__free(res);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < arr->arr.len; i++) {
		const struct cub_val *e = arr->arr.items[i];
		const struct cub_val *nm = cub_val__get(e, "name");
		uint64_t idx;
		bool up = false;

		if (cub_val__as_u64(cub_val__get(e, "ifindex"), &idx) ||
		    !idx || idx > UINT32_MAX || !nm || nm->kind != CUB_V_BIN ||
		    nm->bin.len >= sizeof(v[k].name))
			continue;
		cub_val__as_bool(cub_val__get(e, "up"), &up);
		v[k].ifindex = (uint32_t)idx;
		memcpy(v[k].name, nm->bin.ptr, nm->bin.len);
		v[k].name[nm->bin.len] = '\0';
		v[k++].up = up;
	}
	cub_val__free(res);
	*out = v;
	*n = k;
	return 0;
}

int
cub_helper__run(struct cub_cube *cube, const char *name, const void *in,
    size_t inlen, void **out, size_t *outlen, struct cub_val **err)
{
	struct cub_val *p, *res, *errv;
	const struct cub_val *o;
	int r;

	if (err)
		*err = NULL;
	if (!cube || !name || (!in && inlen) || !out || !outlen ||
	    inlen > CUB_HELPER_IO_MAX)
		return -EINVAL;
	*out = NULL;
	*outlen = 0;
	p = cub_val__map();
	cub_val__set(p, "name", cub_val__str(name));
	cub_val__set(p, "input", cub_val__bin(in ? in : "", inlen));
	r = call(CUB_M_HELPER_RUN, p, &res, &errv);
	if (r) {
		if (!err)
			return cube_fail(cube, errv, r);
		*err = errv;
		return r;
	}
	o = cub_val__get(res, "output");
	if (!o || o->kind != CUB_V_BIN) {
		cub_val__free(res);
		return -EPROTO;
	}
	*out = malloc(o->bin.len ? o->bin.len : 1);
	if (!*out) {
		cub_val__free(res);
		return -ENOMEM;
	}
	memcpy(*out, o->bin.ptr, o->bin.len);
	*outlen = o->bin.len;
	cub_val__free(res);
	return 0;
}
