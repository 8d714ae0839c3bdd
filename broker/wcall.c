// SPDX-License-Identifier: BSD-2-Clause
/*
 * Calls from a service worker to the broker, one thread per service.
 * The channel is the identity: only the service's uid can connect to its
 * socket (supervisor.c), so every request here acts for that service and
 * may only touch that service's cubes (the handle table check).
 * Check sender, then size, then act (style rule 22).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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
#include "mapbatch.h"
#include "mapswap.h"

#define ERR(code, ...) (*errv = cub_err_val(code, __VA_ARGS__), -EINVAL)

/*
 * A hello the broker refuses for what it declares (schema, policy,
 * transparency): counted in s->hello_refusals (consecutive refusals: the
 * supervisor stops the service at SUP_HELLO_REFUSALS, 'cubicle services'
 * shows "refused" while it is not 0), @error kept as s->last_error, and
 * the log line printf'd from @fmt.  b->lock held; released.
 */
static void __attribute__((format(printf, 4, 5))) hello_refuse(
    struct service *s, int prio, const char *error, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	s->hello_refusals++;
	snprintf(s->last_error, sizeof(s->last_error), "%s", error);
	pthread_mutex_unlock(&s->b->lock);
	if (!svc_log_allowed(s))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(prio, "service '%s': %s", s->name, line);
}

/*
 * A first hello that says the service is (says) or is not what kind
 * ("transparent", "host-wide") its cubes in the store were made as:
 * refused, as any hello that does not agree with the store.
 */
static int
stored_kind_refused(
    struct service *s, struct cub_val **errv, const char *kind, bool says)
{
	char err[128];

	snprintf(err, sizeof(err), "says it is %s%s, its stored cubes are not",
	    says ? "" : "not ", kind);
	hello_refuse(s, LOG_P_WARN, err,
	    "worker says it is %s%s, its cubes in the store are %s%s; refused",
	    says ? "" : "not ", kind, says ? "not " : "", kind);
	*errv = cub_err_val(CUB_E_PERM,
	    "hello: service '%s' says it is %s%s, but its cubes in the store "
	    "were made by a service that is %s%s",
	    s->name, says ? "" : "not ", kind, says ? "not " : "", kind);
	return -EINVAL; /* as ERR() */
}

/*
 * A hello refused for what it declares before its schema is looked at
 * (ABI, service, policy, options): counted as hello_refuse() counts, so
 * a plugin the broker will never take stops its service after
 * SUP_HELLO_REFUSALS instead of restarting for ever, and a reload that
 * brought it is answered and falls back.  b->lock not held.
 */
static int __attribute__((format(printf, 4, 5))) hello_bad(
    struct service *s, struct cub_val **errv, int code, const char *fmt, ...)
{
	char msg[320];
	va_list ap;
	bool reload;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->b->lock);
	reload = s->reload;
	hello_refuse(s, LOG_P_ERR, msg, "hello refused: %s", msg);
	if (reload)
		sup_reload_failed(s, msg);
	*errv = cub_err_val(code, "%s", msg);
	return -EINVAL;
}

static int
wc_hello(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *schema = cub_val__get(p, "schema");
	const struct cub_val *pol = cub_val__get(p, "policy");
	struct cub_bpf_policy policy = {0};
	struct cubi_schema *parsed;
	uint64_t abi, v;
	uint32_t nev;
	bool transparent, hostwide;
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
		return hello_bad(s, errv, CUB_E_INVAL,
		    "hello: plugin ABI must be %u", CUB_PLUGIN_ABI);
	if (!cub_val__get_str(p, "service") ||
	    strcmp(cub_val__get_str(p, "service"), s->name))
		return hello_bad(s, errv, CUB_E_PERM,
		    "hello: this socket is for service '%s'", s->name);
	if (!pol || pol->kind != CUB_V_MAP)
		return hello_bad(
		    s, errv, CUB_E_MISSING, "hello: policy missing");
	if (cub_val__as_u64(cub_val__get(pol, "prog_types"), &v))
		return hello_bad(
		    s, errv, CUB_E_TYPE, "hello: policy.prog_types");
	policy.prog_types = (uint32_t)v;
	if (cub_val__as_u64(cub_val__get(pol, "map_types"), &v))
		return hello_bad(
		    s, errv, CUB_E_TYPE, "hello: policy.map_types");
	policy.map_types = v;
	if (cub_val__as_u64(cub_val__get(pol, "max_map_bytes"), &v))
		return hello_bad(
		    s, errv, CUB_E_TYPE, "hello: policy.max_map_bytes");
	policy.max_map_bytes = v;
	/* A longer apply timeout, optional (older workers send none). */
	v = 0;
	if (cub_val__get(p, "apply_timeout_ms") &&
	    (cub_val__as_u64(cub_val__get(p, "apply_timeout_ms"), &v) ||
		v > 600000))
		return hello_bad(s, errv, CUB_E_INVAL,
		    "hello: apply_timeout_ms must be a number of milliseconds "
		    "up to 600000");
	if (v > (uint64_t)s->b->o.max_apply_timeout_ms && svc_log_allowed(s))
		log_warn("service '%s': declared apply timeout %llu ms is over "
			 "--max-apply-timeout; %d ms it is",
		    s->name, (unsigned long long)v,
		    s->b->o.max_apply_timeout_ms);
	__atomic_store_n(&s->apply_timeout_ms, (uint32_t)v, __ATOMIC_RELAXED);
	transparent = false;
	if (cub_val__get(p, "transparent") &&
	    cub_val__as_bool(cub_val__get(p, "transparent"), &transparent))
		return hello_bad(s, errv, CUB_E_TYPE,
		    "hello: 'transparent' must be a boolean");
	hostwide = false;
	if (cub_val__get(p, "hostwide") &&
	    cub_val__as_bool(cub_val__get(p, "hostwide"), &hostwide))
		return hello_bad(s, errv, CUB_E_TYPE,
		    "hello: 'hostwide' must be a boolean");
	if (hostwide && !transparent)
		return hello_bad(s, errv, CUB_E_INVAL,
		    "hello: a host-wide service must be transparent");
	if (s->schema_wire && s->hostwide != hostwide)
		return hello_bad(s, errv, CUB_E_PERM,
		    "hello: service '%s' cannot become %shost-wide by a "
		    "reload or a restart of its worker",
		    s->name, hostwide ? "" : "no longer ");
	/* What the administrator allows, checked on every hello (a policy
	 * stored by an older run included). */
	if (policy.max_map_bytes > s->b->o.max_cube_map_bytes)
		return hello_bad(s, errv, CUB_E_LIMIT,
		    "hello: policy.max_map_bytes %llu is over cubicled's "
		    "--max-cube-map-bytes %llu",
		    (unsigned long long)policy.max_map_bytes,
		    (unsigned long long)s->b->o.max_cube_map_bytes);
	for (v = 0; v < 64; v++)
		if ((policy.map_types & (1ull << v)) &&
		    bpf_map_type_broker_only((uint32_t)v))
			return hello_bad(s, errv, CUB_E_PERM,
			    "hello: policy.map_types declares %s, whose values "
			    "are interfaces, CPUs or sockets; the broker fills "
			    "no such map for a service",
			    libbpf_bpf_map_type_str((enum bpf_map_type)v)
				?: "an unknown type");

	/* Which netdev events it wants (netmon.c); absent: none. */
	if (cub_val__get(p, "netdev_events") &&
	    (cub_val__as_u64(cub_val__get(p, "netdev_events"), &v) ||
		(v & ~(uint64_t)(CUB_NETDEV_ALL | CUB_NETDEV_HOST))))
		return hello_bad(s, errv, CUB_E_INVAL,
		    "hello: netdev_events must be a mask of CUB_NETDEV_EV() "
		    "kinds and CUB_NETDEV_HOST");
	nev = cub_val__get(p, "netdev_events") ? (uint32_t)v : 0;

	pthread_mutex_lock(&s->b->lock);
	if (s->schema_wire && !s->reload) {
		/* A restarted worker may not widen what was accepted. */
		bool same = cub_val__equal(s->schema_wire, schema) &&
			    !memcmp(&s->policy, &policy, sizeof(policy)) &&
			    s->transparent == transparent;

		if (!same) {
			snprintf(err, sizeof(err),
			    "schema changed: run cubicle services reload %s",
			    s->name);
			hello_refuse(s, LOG_P_ERR, err,
			    "hello refused: the schema or policy of %s "
			    "differs from the one accepted (schema v%u); an "
			    "admin takes the new one with 'cubicle services "
			    "reload %s'",
			    s->plugin, s->schema_version, s->name);
			return ERR(CUB_E_PERM,
			    "hello: schema or policy differs from the one "
			    "accepted for service '%s' (schema v%u); run "
			    "'cubicle services reload %s' to take it",
			    s->name, s->schema_version, s->name);
		}
	} else if (!s->schema_wire && s->stored_known &&
		   (s->stored_hostwide != hostwide ||
		       s->stored_transparent != transparent)) {
		/* The store's cubes were made (and checked, and stacked) as
		 * the service declared before this broker started. */
		return stored_kind_refused(s, errv,
		    s->stored_hostwide != hostwide ? "host-wide"
						   : "transparent",
		    s->stored_hostwide != hostwide ? hostwide : transparent);
	} else {
		struct ctr_table *ctrs = NULL;

		parsed = cubi_schema__parse(schema, err, sizeof(err));
		if (parsed && counters_parse(schema, &ctrs, err, sizeof(err)))
			parsed = cubi_schema__free(parsed);
		if (!parsed ||
		    (s->schema_wire && s->transparent != transparent)) {
			if (parsed)
				snprintf(err, sizeof(err),
				    "a reload cannot make a service %s",
				    transparent ? "transparent"
						: "no longer transparent");
			char why[256];

			cubi_schema__free(parsed);
			counters_free(ctrs);
			snprintf(
			    why, sizeof(why), "schema refused: %.200s", err);
			hello_refuse(s, LOG_P_ERR, why,
			    "hello refused: schema refused: %s", err);
			sup_reload_failed(s, err);
			return ERR(
			    CUB_E_INVAL, "hello: schema refused: %s", err);
		}
		if (!s->schema_wire) {
			s->schema = parsed;
			s->counters = ctrs;
			s->schema_wire =
			    schema ? cub_val__dup(schema) : cub_val__nil();
			s->policy = policy;
			s->transparent = transparent;
			s->hostwide = hostwide;
			/* The store's version, +1 for another schema or
			 * policy (persist.c). */
			s->schema_version =
			    !s->stored_version ? 1
			    : cub_val__equal(s->stored_schema, s->schema_wire) &&
				    svc_policy_stored(s)
				? s->stored_version
				: s->stored_version + 1;
			s->reload = false; /* nothing to replace yet */
		} else {
			/* A reload's: the replay takes it (sup_replay()). */
			cubi_schema__free(s->next_schema);
			counters_free(s->next_counters);
			cub_val__free(s->next_wire);
			s->next_schema = parsed;
			s->next_counters = ctrs;
			s->next_wire =
			    schema ? cub_val__dup(schema) : cub_val__nil();
			s->next_policy = policy;
			s->next_due = true;
		}
	}
	s->hello_refusals = 0;
	s->last_error[0] = '\0';
	wlog_last_words(s->last_words, NULL, 0); /* this one starts */
	/* The file this worker started from speaks an accepted schema. */
	if (s->spawn_fd >= 0 && s->reload_waiting) {
		/* A reload's: good once its replay has ended (supervisor.c). */
		if (s->reload_fd >= 0)
			close(s->reload_fd);
		s->reload_fd = s->spawn_fd;
		s->spawn_fd = -1;
	} else if (s->spawn_fd >= 0) {
		if (s->good_fd >= 0)
			close(s->good_fd);
		s->good_fd = s->spawn_fd;
		s->spawn_fd = -1;
	}
	pthread_mutex_unlock(&s->b->lock);
	__atomic_store_n(&s->netdev_events, netmon_hello_mask(s, nev),
	    __ATOMIC_RELEASE);
	{
		bool changes = false;

		cub_val__as_bool(cub_val__get(p, "change"), &changes);
		s->changes = changes;
		changes = false;
		cub_val__as_bool(cub_val__get(p, "action_config"), &changes);
		s->action_config = changes;
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
	if (!strcmp(bm->name, "cub_hopkey")) {
		/* The hop key is the broker's secret (cube_shared.h). */
		*errv = cub_err_val(CUB_E_PERM,
		    "map '%s' belongs to the broker and is not shown", bm->name);
		goto fail;
	}
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
	/* The SDK returns the kernel's errno (ENOENT, EEXIST, E2BIG). */
	cub_val__set(*errv, "errno", cub_val__uint((uint64_t)-r));
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

/*
 * The keys or values of a map.batch: one bin of n entries of size bytes
 * packed back to back, or (older workers) an array of n bins; packed into
 * *buf (malloc'd) either way.  *n in: the count the request gave (0: from
 * the array's length).
 */
static int
batch_entries(const struct cub_val *v, size_t size, uint32_t *n, void **buf)
{
	uint32_t i;

	*buf = NULL;
	if (v && v->kind == CUB_V_BIN) {
		if (!*n || v->bin.len != (size_t)*n * size)
			return -EINVAL;
		*buf = malloc(v->bin.len ?: 1);
		if (!*buf)
			return -ENOMEM;
		memcpy(*buf, v->bin.ptr, v->bin.len);
		return 0;
	}
	if (!v || v->kind != CUB_V_ARRAY || v->arr.len > CUB_BATCH_MAX ||
	    (*n && v->arr.len != *n))
		return -EINVAL;
	*n = v->arr.len;
	*buf = malloc((size_t)*n * size ?: 1);
	if (!*buf)
		return -ENOMEM;
	for (i = 0; i < *n; i++) {
		if (!bin_of(v->arr.items[i], size)) {
			free(*buf);
			*buf = NULL;
			return -EINVAL;
		}
		memcpy((uint8_t *)*buf + (size_t)i * size,
		    v->arr.items[i]->bin.ptr, size);
	}
	return 0;
}

static bool
u64_param(const struct cub_val *p, const char *name, uint64_t *v)
{
	return !cub_val__get(p, name) ||
	       !cub_val__as_u64(cub_val__get(p, name), v);
}

/*
 * map.batch: {cube, map, op, count, keys, values, in_batch, elem_flags,
 * batch_flags} -> {count, kernel, [keys, values, out_batch, more]}.
 * op is update, delete, lookup or lookup_and_delete; keys and values are
 * packed bins (or arrays of bins: 'flags' then holds the element flags,
 * the form of workers before the kernel's batches).  The kernel's batch
 * call where the map type has one (mapbatch.c), else one per entry.  A
 * failure says in its error's 'count' how many entries were processed
 * before it.
 */
static int
wc_batch(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *in = cub_val__get(p, "in_batch");
	const char *op = cub_val__get_str(p, "op");
	_cleanup_free_ void *keys = NULL, *vals = NULL, *cursor = NULL;
	bool update = op && !strcmp(op, "update");
	bool del = op && !strcmp(op, "delete");
	bool lookup = op && !strcmp(op, "lookup");
	bool lookdel = op && !strcmp(op, "lookup_and_delete");
	uint64_t count = 0, elem_flags = 0, batch_flags = 0;
	uint32_t n, done;
	_cleanup_close_ int fd = -1;
	struct bmap *bm, own;
	struct mb_map mm;
	size_t vsz, csz, per;
	bool kernel = false;
	int r;

	if (!update && !del && !lookup && !lookdel)
		return ERR(CUB_E_INVAL, "map.batch: 'op' must be update, "
					"delete, lookup or lookup_and_delete");
	if (!u64_param(p, "count", &count) || count > CUB_BATCH_MAX)
		return ERR(CUB_E_LIMIT,
		    "map.batch: 'count' must be a number up to %d",
		    CUB_BATCH_MAX);
	if (!u64_param(p, "flags", &elem_flags) ||
	    !u64_param(p, "elem_flags", &elem_flags) ||
	    !u64_param(p, "batch_flags", &batch_flags))
		return ERR(CUB_E_TYPE,
		    "map.batch: 'flags', 'elem_flags' and 'batch_flags' must "
		    "be integers");
	if ((lookup || lookdel) && !count)
		return ERR(CUB_E_INVAL,
		    "map.batch: a lookup needs a 'count' of 1 to %d",
		    CUB_BATCH_MAX);
	bm = map_get(s, CUB_M_MAP_BATCH, p, !lookup, &vsz, errv);
	if (!bm)
		return -EPERM;
	/*
	 * The kernel's batch runs on a copy of the map's fd without b->lock
	 * (a lookup of 4096 entries of a big map is milliseconds, and the
	 * main loop and every other service wait for the lock: the
	 * lockstall review), as swap.read does: the map lives as long as
	 * the copy, whatever happens to the cube meanwhile.
	 */
	own = *bm;
	fd = own.fd = fcntl(bm->fd, F_DUPFD_CLOEXEC, 3);
	pthread_mutex_unlock(&s->b->lock);
	bm = &own;
	if (fd < 0)
		return ERR(CUB_E_INTERNAL, "map '%s': map.batch: %s", own.name,
		    strerror(errno));
	mm = (struct mb_map){.fd = bm->fd,
	    .type = bm->type,
	    .key_size = bm->key_size,
	    .vsz = vsz};
	n = (uint32_t)count;
	csz = mapbatch_cursor_size(&mm);
	if (update || del) {
		/* Check every entry before the first is applied. */
		r = bm->key_size || !update
			? batch_entries(
			      cub_val__get(p, "keys"), bm->key_size, &n, &keys)
			: 0;
		if (!r && update) {
			if (!bm->key_size && !n && cub_val__get(p, "values") &&
			    cub_val__get(p, "values")->kind == CUB_V_ARRAY)
				n = cub_val__get(p, "values")->arr.len;
			r = batch_entries(
			    cub_val__get(p, "values"), vsz, &n, &vals);
		}
		if (r) {
			return ERR(r == -ENOMEM ? CUB_E_INTERNAL : CUB_E_INVAL,
			    "map '%s': map.batch %s: keys must be %u bytes and "
			    "values %zu bytes each, as many as 'count' (at "
			    "most "
			    "%d)",
			    bm->name, op, bm->key_size, vsz, CUB_BATCH_MAX);
		}
		done = n;
		r = update ? mapbatch_update(&mm, keys, vals, &done, elem_flags,
				 batch_flags, &kernel)
			   : mapbatch_delete(&mm, keys, &done, elem_flags,
				 batch_flags, &kernel);
	} else {
		if (in && (in->kind != CUB_V_BIN || in->bin.len != csz)) {
			return ERR(CUB_E_INVAL,
			    "map '%s': map.batch: 'in_batch' must be the %zu "
			    "bytes of the last call's 'out_batch'",
			    bm->name, csz);
		}
		/* The answer stays under the message cap. */
		per = (size_t)bm->key_size + vsz;
		if (per && (size_t)n * per > CUB_MSG_MAX / 2)
			n = (uint32_t)(CUB_MSG_MAX / 2 / per) ?: 1;
		keys = malloc((size_t)n * bm->key_size + 1);
		vals = malloc((size_t)n * vsz + 1);
		cursor = calloc(1, csz + 1);
		if (!keys || !vals || !cursor) {
			return ERR(CUB_E_INTERNAL, "out of memory");
		}
		if (in)
			memcpy(cursor, in->bin.ptr, csz);
		done = n;
		r = mapbatch_lookup(&mm, lookdel, in ? cursor : NULL, cursor,
		    keys, vals, &done, elem_flags, batch_flags, &kernel);
	}
	if (r && !(r == -ENOENT && (lookup || lookdel))) {
		kernel_err(r, bm, "map.batch", errv);
		cub_val__set(*errv, "count", cub_val__uint(done));
		cub_val__set(*errv, "errno", cub_val__uint((uint64_t)-r));
		return r;
	}
	*res = cub_val__map();
	cub_val__set(*res, "count", cub_val__uint(done));
	cub_val__set(*res, "kernel", cub_val__bool(kernel));
	if (lookup || lookdel) {
		cub_val__set(*res, "keys",
		    cub_val__bin(keys, (size_t)done * bm->key_size));
		cub_val__set(
		    *res, "values", cub_val__bin(vals, (size_t)done * vsz));
		cub_val__set(*res, "out_batch", cub_val__bin(cursor, csz));
		cub_val__set(*res, "more", cub_val__bool(r != -ENOENT));
	}
	return 0;
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
		else if (!strncmp(rpc.method, "swap.", 5))
			mapswap_call(s, rpc.method, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_MAP_DUMP))
			wc_dump(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_PKTIN_DROPPED))
			wc_pktin_dropped(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_CUBE_LOG))
			wc_log(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_PKTOUT))
			pktout_call(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_HELPER_RUN))
			helper_call(s, rpc.params, &res, &errv);
		else if (!strcmp(rpc.method, CUB_M_NETDEV_LIST))
			netmon_list_call(s, rpc.params, &res, &errv);
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
