// SPDX-License-Identifier: BSD-2-Clause
/*
 * Calls from a service worker to the broker, one thread per service.
 * The channel is the identity: only the service's uid can connect to its
 * socket (supervisor.c), so every request here acts for that service and
 * may only touch that service's cubes (the handle table check).
 * Check sender, then size, then act (style rule 22).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "broker.h"
#include "call.h"
#include "cleanup.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "counters.h"
#include "cubicle/proto.h"
#include "log.h"

#define ERR(code, ...) (*errv = cub_err_val(code, __VA_ARGS__), -EINVAL)

static int
wc_hello(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *schema = cub_val__get(p, "schema");
	const struct cub_val *pol = cub_val__get(p, "policy");
	struct cub_bpf_policy policy = {0};
	struct cubi_schema *parsed;
	uint64_t abi, v;
	char err[256];

	/* One hello a worker: another would only make the broker log. */
	if (__atomic_load_n(&s->hello, __ATOMIC_ACQUIRE)) {
		if (svc_log_allowed(s))
			log_warn("service '%s': worker said hello twice; "
				 "refused",
			    s->name);
		return ERR(CUB_E_PERM,
		    "hello: this worker already said hello to service '%s'",
		    s->name);
	}
	if (cub_val__as_u64(cub_val__get(p, "abi"), &abi) ||
	    abi != CUB_PLUGIN_ABI)
		return ERR(CUB_E_INVAL, "hello: plugin ABI must be %u",
		    CUB_PLUGIN_ABI);
	if (!cub_val__get_str(p, "service") ||
	    strcmp(cub_val__get_str(p, "service"), s->name))
		return ERR(CUB_E_PERM, "hello: this socket is for service '%s'",
		    s->name);
	if (!pol || pol->kind != CUB_V_MAP)
		return ERR(CUB_E_MISSING, "hello: policy missing");
	if (cub_val__as_u64(cub_val__get(pol, "prog_types"), &v))
		return ERR(CUB_E_TYPE, "hello: policy.prog_types");
	policy.prog_types = (uint32_t)v;
	if (cub_val__as_u64(cub_val__get(pol, "map_types"), &v))
		return ERR(CUB_E_TYPE, "hello: policy.map_types");
	policy.map_types = v;
	if (cub_val__as_u64(cub_val__get(pol, "max_map_bytes"), &v))
		return ERR(CUB_E_TYPE, "hello: policy.max_map_bytes");
	policy.max_map_bytes = v;
	/* What the administrator allows, checked on every hello (a policy
	 * stored by an older run included). */
	if (policy.max_map_bytes > s->b->o.max_cube_map_bytes)
		return ERR(CUB_E_LIMIT,
		    "hello: policy.max_map_bytes %llu is over cubicled's "
		    "--max-cube-map-bytes %llu",
		    (unsigned long long)policy.max_map_bytes,
		    (unsigned long long)s->b->o.max_cube_map_bytes);
	for (v = 0; v < 64; v++)
		if ((policy.map_types & (1ull << v)) &&
		    bpf_map_type_broker_only((uint32_t)v))
			return ERR(CUB_E_PERM,
			    "hello: policy.map_types declares %s, whose values "
			    "are interfaces, CPUs or sockets; the broker fills "
			    "no such map for a service",
			    libbpf_bpf_map_type_str((enum bpf_map_type)v)
				?: "an unknown type");

	pthread_mutex_lock(&s->b->lock);
	if (s->schema_wire) {
		/* A restarted worker may not widen what the first declared. */
		bool same = cub_val__equal(s->schema_wire, schema) &&
			    !memcmp(&s->policy, &policy, sizeof(policy));

		pthread_mutex_unlock(&s->b->lock);
		if (!same)
			return ERR(CUB_E_PERM,
			    "hello: schema or policy differs from the one "
			    "declared first by service '%s'",
			    s->name);
	} else {
		parsed = cubi_schema__parse(schema, err, sizeof(err));
		if (!parsed) {
			pthread_mutex_unlock(&s->b->lock);
			return ERR(
			    CUB_E_INVAL, "hello: schema refused: %s", err);
		}
		if (counters_parse(schema, &s->counters, err, sizeof(err))) {
			pthread_mutex_unlock(&s->b->lock);
			cubi_schema__free(parsed);
			return ERR(
			    CUB_E_INVAL, "hello: schema refused: %s", err);
		}
		s->schema = parsed;
		s->schema_wire = schema ? cub_val__dup(schema) : cub_val__nil();
		s->policy = policy;
		pthread_mutex_unlock(&s->b->lock);
	}
	{
		bool changes = false;

		cub_val__as_bool(cub_val__get(p, "change"), &changes);
		s->changes = changes;
	}
	*res = cub_val__map();
	cub_val__set(*res, "ncpus", cub_val__uint((uint64_t)s->b->ncpus));
	__atomic_store_n(&s->hello, true, __ATOMIC_RELEASE);
	broker_wake(s->b); /* the main loop replays the service's cubes */
	if (svc_log_allowed(s))
		log_info("service '%s': hello from worker", s->name);
	return 0;
}

/* The cube named in p, if it belongs to this service; lock held. */
static struct cube *
own_cube(struct service *s, const struct cub_val *p, struct cub_val **errv)
{
	const char *name = cub_val__get_str(p, "cube");
	struct cube *c;

	if (!name) {
		*errv = cub_err_val(CUB_E_MISSING, "'cube' missing");
		return NULL;
	}
	c = cube_find(s->b, name);
	if (!c || c->svc != s) {
		*errv = cub_err_val(CUB_E_PERM,
		    "cube '%s' is not a cube of service '%s'", name, s->name);
		return NULL;
	}
	return c;
}

static int
wc_load(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *elf = cub_val__get(p, "elf");
	struct cub_val *maps, *m;
	struct cube *c;
	int i, r;

	if (!elf || elf->kind != CUB_V_BIN)
		return ERR(CUB_E_TYPE, "bpf.load: 'elf' must be binary");
	pthread_mutex_lock(&s->b->lock);
	c = own_cube(s, p, errv);
	if (!c) {
		pthread_mutex_unlock(&s->b->lock);
		return -EPERM;
	}
	/* Drops the lock around the verifier: on failure c may be gone. */
	r = bpfobj_load(s->b, c, elf->bin.ptr, elf->bin.len, errv);
	if (r) {
		pthread_mutex_unlock(&s->b->lock);
		return r;
	}
	maps = cub_val__array();
	for (i = 0; i < c->obj->nmaps; i++) {
		struct bmap *bm = &c->obj->maps[i];

		m = cub_val__map();
		cub_val__set(m, "name", cub_val__str(bm->name));
		cub_val__set(m, "id", cub_val__uint((uint64_t)i + 1));
		cub_val__set(m, "type", cub_val__uint(bm->type));
		cub_val__set(m, "key_size", cub_val__uint(bm->key_size));
		cub_val__set(m, "value_size", cub_val__uint(bm->value_size));
		cub_val__set(m, "max_entries", cub_val__uint(bm->max_entries));
		cub_val__push(maps, m);
	}
	pthread_mutex_unlock(&s->b->lock);
	*res = cub_val__map();
	cub_val__set(*res, "maps", maps);
	cub_val__set(*res, "ncpus", cub_val__uint((uint64_t)s->b->ncpus));
	return 0;
}

/*
 * The map named by p {cube, map: id} of one of this service's cubes.
 * Framework maps (the cub_* maps the broker checked and fills, marked by
 * bpfobj.c) belong to the broker, and so do maps whose values are file
 * descriptors, interfaces, CPUs or sockets (a value would be resolved in
 * the broker's fd table): a worker may read them, never write them.
 * On success the lock is held and *vsz is the size of a value as user
 * space sees it (per-CPU maps: one per possible CPU, 8-byte aligned).
 */
static struct bmap *
map_get(struct service *s, const char *method, const struct cub_val *p,
    bool write, size_t *vsz, struct cub_val **errv)
{
	struct bmap *bm;
	struct cube *c;
	uint64_t id;

	if (cub_val__as_u64(cub_val__get(p, "map"), &id)) {
		*errv = cub_err_val(
		    CUB_E_TYPE, "%s: 'map' must be a map id", method);
		return NULL;
	}
	pthread_mutex_lock(&s->b->lock);
	c = own_cube(s, p, errv);
	if (!c)
		goto fail;
	if (!c->obj || id < 1 || id > (uint64_t)c->obj->nmaps) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "cube '%s': no map with id %llu", c->name,
		    (unsigned long long)id);
		goto fail;
	}
	bm = &c->obj->maps[id - 1];
	if (write && bm->framework) {
		*errv = cub_err_val(
		    CUB_E_PERM, "map '%s' belongs to the broker", bm->name);
		goto fail;
	}
	if (write && bpf_map_type_holds_fds(bm->type)) {
		*errv = cub_err_val(CUB_E_PERM,
		    "%s: map '%s' is a %s: its values are file descriptors "
		    "or interfaces, which only the broker writes",
		    method, bm->name,
		    libbpf_bpf_map_type_str((enum bpf_map_type)bm->type)
			?: "map of an unknown type");
		goto fail;
	}
	/* Per-CPU: the kernel copies each CPU's value at an 8-byte stride. */
	*vsz = bpf_map_type_percpu(bm->type)
		   ? (((size_t)bm->value_size + 7) & ~(size_t)7) * s->b->ncpus
		   : bm->value_size;
	return bm;
fail:
	pthread_mutex_unlock(&s->b->lock);
	return NULL;
}

static int
kernel_err(
    int r, const struct bmap *bm, const char *method, struct cub_val **errv)
{
	*errv = cub_err_val(r == -ENOENT                  ? CUB_E_NOTFOUND
			    : r == -E2BIG || r == -ENOSPC ? CUB_E_LIMIT
							  : CUB_E_KERNEL,
	    "map '%s': %s failed: %s", bm->name, method, strerror(-r));
	return r;
}

static bool
bin_of(const struct cub_val *v, size_t len)
{
	return v && v->kind == CUB_V_BIN && v->bin.len == len;
}

/* map.update / map.lookup / map.delete: {cube, map, key, value, flags} */
static int
wc_map(struct service *s, const char *method, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv)
{
	const struct cub_val *key = cub_val__get(p, "key");
	const struct cub_val *val = cub_val__get(p, "value");
	bool lookup = !strcmp(method, CUB_M_MAP_LOOKUP);
	_cleanup_free_ void *out = NULL;
	uint64_t flags = 0;
	struct bmap *bm;
	size_t vsz;
	int r;

	if (cub_val__get(p, "flags") &&
	    cub_val__as_u64(cub_val__get(p, "flags"), &flags))
		return ERR(
		    CUB_E_TYPE, "%s: 'flags' must be an integer", method);
	bm = map_get(s, method, p, !lookup, &vsz, errv);
	if (!bm)
		return -EPERM;
	if (!bin_of(key, bm->key_size)) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "map '%s': key must be %u bytes", bm->name, bm->key_size);
		r = -EINVAL;
	} else if (!strcmp(method, CUB_M_MAP_UPDATE)) {
		if (!bin_of(val, vsz)) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "map '%s': value must be %zu bytes", bm->name, vsz);
			r = -EINVAL;
		} else if (bpf_map_update_elem(
			       bm->fd, key->bin.ptr, val->bin.ptr, flags)) {
			r = kernel_err(-errno, bm, method, errv);
		} else {
			r = 0;
		}
	} else if (!lookup) {
		r = bpf_map_delete_elem(bm->fd, key->bin.ptr)
			? kernel_err(-errno, bm, method, errv)
			: 0;
	} else {
		out = calloc(1, vsz);
		if (!out || bpf_map_lookup_elem(bm->fd, key->bin.ptr, out)) {
			r = kernel_err(
			    out ? -errno : -ENOMEM, bm, method, errv);
		} else {
			*res = cub_val__map();
			cub_val__set(*res, "value", cub_val__bin(out, vsz));
			r = 0;
		}
	}
	pthread_mutex_unlock(&s->b->lock);
	return r;
}

/* map.batch: {cube, map, op, keys: [bin], values: [bin], flags} */
static int
wc_batch(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *keys = cub_val__get(p, "keys");
	const struct cub_val *vals = cub_val__get(p, "values");
	const char *op = cub_val__get_str(p, "op");
	bool update = op && !strcmp(op, "update");
	uint64_t flags = 0;
	struct bmap *bm;
	uint32_t i;
	size_t vsz;
	int r = 0;

	if (!op || (!update && strcmp(op, "delete")))
		return ERR(CUB_E_INVAL, "map.batch: 'op' must be update or "
					"delete");
	if (!keys || keys->kind != CUB_V_ARRAY || keys->arr.len > CUB_BATCH_MAX)
		return ERR(CUB_E_TYPE,
		    "map.batch: 'keys' must be an array of "
		    "at most %d keys",
		    CUB_BATCH_MAX);
	if (update && (!vals || vals->kind != CUB_V_ARRAY ||
			  vals->arr.len != keys->arr.len))
		return ERR(CUB_E_TYPE, "map.batch: 'values' must match 'keys'");
	if (cub_val__get(p, "flags") &&
	    cub_val__as_u64(cub_val__get(p, "flags"), &flags))
		return ERR(CUB_E_TYPE, "map.batch: 'flags' must be an integer");
	bm = map_get(s, CUB_M_MAP_BATCH, p, true, &vsz, errv);
	if (!bm)
		return -EPERM;
	/* Check every entry before the first is applied. */
	for (i = 0; i < keys->arr.len && !r; i++)
		if (!bin_of(keys->arr.items[i], bm->key_size) ||
		    (update && !bin_of(vals->arr.items[i], vsz))) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "map '%s': entry %u: key must be %u bytes and "
			    "value %zu bytes",
			    bm->name, i, bm->key_size, vsz);
			r = -EINVAL;
		}
	for (i = 0; i < keys->arr.len && !r; i++) {
		if (update ? bpf_map_update_elem(bm->fd,
				 keys->arr.items[i]->bin.ptr,
				 vals->arr.items[i]->bin.ptr, flags)
			   : bpf_map_delete_elem(
				 bm->fd, keys->arr.items[i]->bin.ptr)) {
			r = kernel_err(-errno, bm, "map.batch", errv);
			break;
		}
	}
	pthread_mutex_unlock(&s->b->lock);
	if (!r) {
		*res = cub_val__map();
		cub_val__set(*res, "count", cub_val__uint(keys->arr.len));
	}
	return r;
}

/*
 * map.dump: {cube, map, after} -> {keys, values, more, cursor}.  One call
 * visits at most DUMP_VISIT_MAX keys, misses included (an fd-array's empty
 * slots fail their lookup and return nothing, yet each costs a syscall
 * pair under b->lock), so b->lock is held for milliseconds however large
 * or sparse the map; 'cursor' is the last key visited, where the next
 * call starts ('after'), even when the page holds no entry.
 */
#define DUMP_VISIT_MAX 4096
static int
wc_dump(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *after = cub_val__get(p, "after");
	_cleanup_free_ uint8_t *key = NULL, *next = NULL, *val = NULL;
	struct cub_val *keys, *vals;
	size_t vsz, budget, used = 0, visited = 0;
	struct bmap *bm;
	bool more = false, have;
	int r = 0;

	bm = map_get(s, CUB_M_MAP_DUMP, p, false, &vsz, errv);
	if (!bm)
		return -EPERM;
	if (after && !bin_of(after, bm->key_size)) {
		pthread_mutex_unlock(&s->b->lock);
		return ERR(CUB_E_INVAL, "map.dump: 'after' must be a key");
	}
	key = calloc(1, bm->key_size + 1);
	next = calloc(1, bm->key_size + 1);
	val = calloc(1, vsz + 1);
	keys = cub_val__array();
	vals = cub_val__array();
	budget = CUB_MSG_MAX / 2;
	if (!key || !next || !val || !keys || !vals) {
		r = -ENOMEM;
		goto out;
	}
	if (after)
		memcpy(key, after->bin.ptr, bm->key_size);
	have = after != NULL;
	while (!bpf_map_get_next_key(bm->fd, have ? key : NULL, next)) {
		if (used + bm->key_size + vsz + 16 > budget ||
		    visited >= DUMP_VISIT_MAX) {
			more = true;
			break;
		}
		memcpy(key, next, bm->key_size);
		have = true;
		visited++;
		if (bpf_map_lookup_elem(bm->fd, key, val))
			continue; /* deleted meanwhile */
		cub_val__push(keys, cub_val__bin(key, bm->key_size));
		cub_val__push(vals, cub_val__bin(val, vsz));
		used += bm->key_size + vsz + 16;
	}
out:
	pthread_mutex_unlock(&s->b->lock);
	if (r) {
		cub_val__free(keys);
		cub_val__free(vals);
		return ERR(CUB_E_INTERNAL, "out of memory");
	}
	*res = cub_val__map();
	cub_val__set(*res, "keys", keys);
	cub_val__set(*res, "values", vals);
	cub_val__set(*res, "more", cub_val__bool(more));
	if (more)
		cub_val__set(*res, "cursor", cub_val__bin(key, bm->key_size));
	return 0;
}

/* cube.log: a line of the worker for its cube's log (cubelog.c). */
static int
wc_log(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *msg = cub_val__get(p, "message");
	struct cube *c;
	uint64_t level;

	if (cub_val__as_u64(cub_val__get(p, "level"), &level) ||
	    level >= CUB_LOG_OFF)
		return ERR(CUB_E_INVAL,
		    "cube.log: 'level' must be 0 (TRACE) to 5 (CRITICAL)");
	/* str or bin (any bytes: escaped when kept). */
	if (!msg || (msg->kind != CUB_V_STR && msg->kind != CUB_V_BIN) ||
	    (msg->kind == CUB_V_STR ? msg->str.len : msg->bin.len) >
		CUB_LOG_MSG_MAX)
		return ERR(CUB_E_INVAL,
		    "cube.log: 'message' must be a string or bytes, at most "
		    "%d",
		    CUB_LOG_MSG_MAX);
	pthread_mutex_lock(&s->b->lock);
	c = own_cube(s, p, errv);
	if (c)
		cubelog_worker_line(c, (int)level,
		    msg->kind == CUB_V_STR ? msg->str.ptr
					   : (const char *)msg->bin.ptr,
		    msg->kind == CUB_V_STR ? msg->str.len : msg->bin.len);
	pthread_mutex_unlock(&s->b->lock);
	if (!c)
		return -EPERM;
	*res = cub_val__map();
	return 0;
}

/* The worker's packet-in drops, added to its cube's count. */
static int
wc_pktin_dropped(struct service *s, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv)
{
	const char *name = cub_val__get_str(p, "cube");
	struct cube *c;
	uint64_t n;

	if (!name)
		return ERR(CUB_E_MISSING, "packet.dropped: 'cube' missing");
	if (cub_val__as_u64(cub_val__get(p, "count"), &n) || n > UINT32_MAX)
		return ERR(CUB_E_TYPE,
		    "packet.dropped: 'count' must be a number up to 2^32-1");
	pthread_mutex_lock(&s->b->lock);
	for (c = s->b->cubes; c && strcmp(c->name, name); c = c->next)
		;
	if (c && c->svc == s)
		__atomic_add_fetch(&c->pktin_dropped, n, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->b->lock);
	if (!c || c->svc != s)
		return ERR(CUB_E_NOTFOUND,
		    "packet.dropped: service '%s' has no cube '%s'", s->name,
		    name);
	*res = cub_val__map();
	return 0;
}

void *
wcall_thread(void *arg)
{
	struct service *s = arg;
	struct cub_val *res, *errv;
	struct cub_rpc rpc;
	char err[256];
	nng_msg *msg;
	int r;

	while (!s->b->stop) {
		r = nng_recvmsg(s->calls, &msg, 0);
		if (r == NNG_ETIMEDOUT)
			continue;
		if (r) {
			if (r == NNG_ECLOSED)
				break;
			continue;
		}
		memset(&rpc, 0, sizeof(rpc));
		res = errv = NULL;
		r = cub_rpc__decode(nng_msg_body(msg), nng_msg_len(msg), &rpc,
		    err, sizeof(err));
		nng_msg_free(msg);
		if ((r || rpc.type != CUB_RPC_REQUEST) && svc_log_allowed(s))
			log_warn("service '%s': bad message from worker: %s",
			    s->name, r ? err : "not a request");
		if (r || rpc.type != CUB_RPC_REQUEST) {
			cubi_reply(s->calls, rpc.msgid,
			    cub_err_val(CUB_E_BADMSG, "%s",
				r ? err : "expected a request"),
			    NULL);
			cub_rpc__clear(&rpc);
			continue;
		}
		if (!strcmp(rpc.method, CUB_M_HELLO))
			wc_hello(s, rpc.params, &res, &errv);
		else if (!__atomic_load_n(&s->hello, __ATOMIC_ACQUIRE))
			errv = cub_err_val(CUB_E_PERM, "say hello first");
		else if (!strcmp(rpc.method, CUB_M_LOAD))
			wc_load(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_MAP_BATCH))
			wc_batch(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_MAP_DUMP))
			wc_dump(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_PKTIN_DROPPED))
			wc_pktin_dropped(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_CUBE_LOG))
			wc_log(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_MAP_UPDATE) ||
			 !strcmp(rpc.method, CUB_M_MAP_LOOKUP) ||
			 !strcmp(rpc.method, CUB_M_MAP_DELETE))
			wc_map(s, rpc.method, rpc.params, &res, &errv);
		else
			errv = cub_err_val(CUB_E_NOMETHOD,
			    "no method '%s' for workers", rpc.method);
		if (errv)
			res = cub_val__free(res);
		cubi_reply(s->calls, rpc.msgid, errv, res);
		cub_rpc__clear(&rpc);
	}
	return NULL;
}
