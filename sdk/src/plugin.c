// SPDX-License-Identifier: BSD-2-Clause
/*
 * The plugin API, worker side: cube objects, calls to the broker
 * (bpf.load, map.*), and dispatch of the broker's requests to the
 * plugin's ops.  Calls are synchronous over one REQ socket; the worker is
 * single-threaded, so no locking.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "call.h"
#include "cubicle/errors.h"
#include "cubicle/plugin.h"
#include "cubicle/proto.h"
#include "worker_rt.h"

#define CALL_TIMEOUT_MS 10000
#define MAX_CUBES 1024

struct cub_cube {
	char name[CUB_NAME_MAX + 1];
	void *priv;
	struct cub_val *maps; /* from the last bpf.load */
	struct cub_val *err;  /* set by cub_cube__set_error() */
	int loglevel;         /* enum cub_log_level, from the last apply */
	struct cub_cube *next;
};

static struct {
	const struct cub_plugin *pl;
	nng_socket calls;
	uint32_t msgid;
	uint32_t ncpus;
	struct cub_cube *cubes;
} w;

int
cubi_worker__init(const struct cub_plugin *pl, nng_socket calls)
{
	if (!pl || pl->abi < CUB_PLUGIN_ABI_MIN ||
	    pl->abi > CUB_PLUGIN_ABI_FLAGS || !pl->ops || !pl->ops->apply)
		return -EINVAL;
	w.pl = pl;
	w.calls = calls;
	w.ncpus = 1;
	return 0;
}

/* One call to the broker.  Takes params. */
static int
call(const char *method, struct cub_val *params, struct cub_val **result,
    struct cub_val **errv)
{
	int nngr, r;

	r = cubi_call(w.calls, ++w.msgid, method, params, result, errv, &nngr);
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
	    w.pl->schema ? cub_schema__to_val(w.pl->schema) : cub_val__nil());
	cub_val__set(p, "policy", policy_val(&w.pl->policy));
	/* flags exists only in an ABI 3 descriptor. */
	if (w.pl->abi >= CUB_PLUGIN_ABI_FLAGS &&
	    (w.pl->flags & CUB_PLUGIN_F_TRANSPARENT))
		cub_val__set(p, "transparent", cub_val__bool(true));
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

int
cub_cube__map(struct cub_cube *cube, const char *name, cub_map *out)
{
	const struct cub_val *m;
	uint64_t v[5];
	uint32_t i;

	for (i = 0; cube->maps && cube->maps->kind == CUB_V_ARRAY &&
		    i < cube->maps->arr.len;
	     i++) {
		m = cube->maps->arr.items[i];
		if (strcmp(cub_val__get_str(m, "name") ?: "", name))
			continue;
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
	return -ENOENT;
}

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
	return r ? cube_fail(cube, errv, r) : 0;
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
		return cube_fail(cube, errv, r);
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
	return r ? cube_fail(cube, errv, r) : 0;
}

static int
map_batch(struct cub_cube *cube, const cub_map *map, const char *op,
    const uint8_t *keys, const uint8_t *values, uint32_t count, uint64_t flags)
{
	struct cub_val *p = cub_val__map(), *ka = cub_val__array(), *va = NULL;
	struct cub_val *res, *errv;
	size_t vsz = cub_map__value_bytes(map);
	uint32_t i;
	int r;

	if (count > CUB_BATCH_MAX) {
		cub_val__free(p);
		cub_val__free(ka);
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "batch of %u entries, at most %d", count, CUB_BATCH_MAX);
	}
	if (values)
		va = cub_val__array();
	for (i = 0; i < count; i++) {
		cub_val__push(ka, cub_val__bin(keys + (size_t)i * map->key_size,
				      map->key_size));
		if (va)
			cub_val__push(va, cub_val__bin(values + i * vsz, vsz));
	}
	cub_val__set(p, "cube", cub_val__str(cube->name));
	cub_val__set(p, "map", cub_val__uint(map->id));
	cub_val__set(p, "op", cub_val__str(op));
	cub_val__set(p, "keys", ka);
	if (va)
		cub_val__set(p, "values", va);
	cub_val__set(p, "flags", cub_val__uint(flags));
	r = call(CUB_M_MAP_BATCH, p, &res, &errv);
	cub_val__free(res);
	return r ? cube_fail(cube, errv, r) : 0;
}

int
cub_map__update_batch(struct cub_cube *cube, const cub_map *map,
    const void *keys, const void *values, uint32_t count, uint64_t flags)
{
	return map_batch(cube, map, "update", keys, values, count, flags);
}

int
cub_map__delete_batch(
    struct cub_cube *cube, const cub_map *map, const void *keys, uint32_t count)
{
	return map_batch(cube, map, "delete", keys, NULL, count, 0);
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

void
cubi_worker__dispatch(
    const struct cub_rpc *rpc, struct cub_val **result, struct cub_val **errv)
{
	const struct cub_plugin_ops *ops = w.pl->ops;
	const struct cub_val *p = rpc->params;
	const char *name = cub_val__get_str(p, "cube");
	struct cub_cube *c;
	bool create = false, fresh = false;
	int old_level;
	unsigned n = 0;
	int r;

	*result = NULL;
	*errv = NULL;
	if (!name || strlen(name) > CUB_NAME_MAX) {
		*errv = cub_err_val(CUB_E_MISSING, "'cube' missing");
		return;
	}
	if (!strcmp(rpc->method, CUB_M_PACKET_IN)) {
		/* Queued and answered at once; see cubi_worker__notify(). */
		cubi_worker__notify(rpc);
		*result = cub_val__map();
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

		cub_val__as_bool(cub_val__get(p, "create"), &create);
		if (!config || config->kind != CUB_V_MAP) {
			*errv = cub_err_val(CUB_E_TYPE, "'config' missing");
			return;
		}
		if (!c) {
			for (c = w.cubes; c; c = c->next)
				n++;
			if (n >= MAX_CUBES) {
				*errv = cub_err_val(CUB_E_LIMIT,
				    "worker holds %d cubes", MAX_CUBES);
				return;
			}
			c = calloc(1, sizeof(*c));
			if (c)
				c->priv = calloc(1, w.pl->cube_size ?: 1);
			if (!c || !c->priv) {
				free(c);
				*errv = cub_err_val(
				    CUB_E_INTERNAL, "out of memory");
				return;
			}
			snprintf(c->name, sizeof(c->name), "%s", name);
			c->next = w.cubes;
			w.cubes = c;
			fresh = true;
		}
		/* The apply logs at the level it brings; a refusal keeps
		 * the old one, like the rest of the configuration. */
		old_level = c->loglevel;
		c->loglevel = config_loglevel(config);
		r = ops->apply(c, config, create || fresh);
		if (r) {
			c->loglevel = old_level;
			*errv = op_error(c, r, "apply");
			if (fresh) {
				if (ops->destroy)
					ops->destroy(c);
				cube_drop(c);
			}
		}
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
		if (ops->destroy)
			ops->destroy(c);
		cube_drop(c);
	} else if (!strcmp(rpc->method, CUB_M_CUBE_SHOW)) {
		*result = cub_val__map();
		if (ops->show &&
		    (r = ops->show(c, cub_val__get(p, "config"), *result))) {
			*result = cub_val__free(*result);
			*errv = op_error(c, r, "show");
		}
	} else if (!strcmp(rpc->method, CUB_M_CUBE_ACTION)) {
		if (!ops->action) {
			*errv = cub_err_val(CUB_E_VERB,
			    "service '%s' has no actions", w.pl->name);
			return;
		}
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
 * packet.in, which is answered as soon as the packets are queued here
 * (at most PKTIN_MAX): no plugin code runs before the answer, so it says
 * nothing about the packets but that they arrived.  The plugin's
 * packet_in sees them one at a time between the broker's requests
 * (cubicle-worker takes the next one only when no request is waiting),
 * so a slow packet_in delays a request by one packet at most.  Packets
 * past PKTIN_MAX are dropped, logged, and reported to the broker
 * (packet.dropped), which counts them with its own drops.
 */
#define PKTIN_MAX 256

struct wpkt {
	char cube[CUB_NAME_MAX + 1];
	uint32_t port;
	size_t len;
	void *data;
};

static struct {
	struct wpkt q[PKTIN_MAX];
	unsigned head, len;
	uint64_t dropped;
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
	uint64_t port, before = pk.dropped;
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
		snprintf(q->cube, sizeof(q->cube), "%s", name);
		pk.len++;
	}
	if (pk.dropped != before)
		pkt_report(name, pk.dropped - before);
}

bool
cubi_worker__packet_pending(void)
{
	return pk.len != 0;
}

void
cubi_worker__packet_next(void)
{
	const struct cub_plugin_ops *ops = w.pl->ops;
	struct wpkt *q;
	struct cub_cube *c;

	if (!pk.len)
		return;
	q = &pk.q[pk.head];
	pk.head = (pk.head + 1) % PKTIN_MAX;
	pk.len--;
	/* A cube destroyed since: its packets go nowhere. */
	if (ops->packet_in && (c = cube_get(q->cube)))
		ops->packet_in(c, q->port, q->data, q->len);
	free(q->data);
	q->data = NULL;
}
