// SPDX-License-Identifier: BSD-2-Clause
/*
 * Tenants' quotas (docs/architecture.md "Tenants", tenants.h): what a
 * tenant's cubes hold, counted over the cubes whose owner it is, checked
 * before anything changes; its requests and its cubes' slow-path
 * packets through a token bucket each.  A refusal is CUB_E_QUOTA naming
 * the tenant and the quota, with what it holds against it.
 *
 *   cubes, ports         cube.c, under b->state_lock (a cube being
 *                        created is in the list already, so two creates
 *                        of one tenant in two services cannot both pass)
 *   programs, map-bytes  bpfobj.c, under b->lock, at a load (its bytes
 *                        reserved with the service's until it ends)
 *   rps                  api.c api_handle(), main thread, before routing
 *   pktin-pps            slowpath.c on_sample(), main thread
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "log.h"

/* The tenant of owner (a cube's c->owner), or NULL (an admin's, or one
 * the file no longer names: no quota). */
static const struct tenant *
owner_tenant(const struct broker *b, const char *owner)
{
	return owner && owner[0] ? tenants_find(b->tenants, b->ntenants, owner)
				 : NULL;
}

static struct tenant_use *
use_of(const struct broker *b, const struct tenant *t)
{
	return b->tenant_use ? &b->tenant_use[t - b->tenants] : NULL;
}

static int refuse(const struct broker *b, const struct tenant *t,
    enum tenant_quota q, struct cub_val **errv, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
refuse(const struct broker *b, const struct tenant *t, enum tenant_quota q,
    struct cub_val **errv, const char *fmt, ...)
{
	struct tenant_use *u = use_of(b, t);
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (u)
		__atomic_add_fetch(&u->refused[q], 1, __ATOMIC_RELAXED);
	*errv = cub_err_val(CUB_E_QUOTA,
	    "tenant '%s': quota %s=%llu reached: %s (--tenants); nothing "
	    "was changed",
	    t->name, tenant_quota_name(q), (unsigned long long)t->quota[q],
	    what);
	return -EDQUOT;
}

/* Entries of a document's "ports" list. */
static unsigned
doc_nports(const struct cub_val *doc)
{
	const struct cub_val *p = cub_val__get(doc, "ports");

	return p && p->kind == CUB_V_ARRAY ? p->arr.len : 0;
}

void
quota_count(const struct broker *b, const char *owner, uint64_t use[TQ__MAX],
    const struct cube *except, bool docs)
{
	const struct cube *c;

	memset(use, 0, sizeof(uint64_t) * TQ__MAX);
	for (c = b->cubes; c; c = c->next) {
		if (c == except || strcmp(c->owner, owner))
			continue;
		use[TQ_CUBES]++;
		if (docs) /* b->state_lock held */
			use[TQ_PORTS] += doc_nports(c->doc);
		use[TQ_PROGRAMS] += c->obj || c->loading;
		use[TQ_MAP_BYTES] +=
		    (c->obj ? c->obj->map_bytes : 0) + c->loading_bytes;
	}
}

int
quota_cube_add(struct broker *b, struct cub_val **errv)
{
	const struct tenant *t = api_tenant();
	uint64_t use[TQ__MAX];

	if (!t || !t->has_quota[TQ_CUBES])
		return 0;
	quota_count(b, t->name, use, NULL, true);
	if (use[TQ_CUBES] >= t->quota[TQ_CUBES])
		return refuse(b, t, TQ_CUBES, errv,
		    "it has %llu cubes, a new one would be over",
		    (unsigned long long)use[TQ_CUBES]);
	return 0;
}

int
quota_ports(struct broker *b, const struct cube *c, const struct cub_val *doc,
    const struct cub_val *old, struct cub_val **errv)
{
	const struct tenant *t = owner_tenant(b, c->owner);
	uint64_t use[TQ__MAX], n = doc_nports(doc);

	if (!t || !t->has_quota[TQ_PORTS])
		return 0;
	quota_count(b, t->name, use, c, true);
	/* A change that does not add ports passes (a quota lowered across
	 * a restart keeps what was made; it only stops growth). */
	if (use[TQ_PORTS] + n > t->quota[TQ_PORTS] && n > doc_nports(old))
		return refuse(b, t, TQ_PORTS, errv,
		    "cube '%s' would have %llu ports, its other cubes have "
		    "%llu",
		    c->name, (unsigned long long)n,
		    (unsigned long long)use[TQ_PORTS]);
	return 0;
}

int
quota_load(struct broker *b, const struct cube *c, uint64_t bytes,
    struct cub_val **errv)
{
	const struct tenant *t = owner_tenant(b, c->owner);
	uint64_t use[TQ__MAX];

	if (!t)
		return 0;
	quota_count(b, t->name, use, c, false);
	if (t->has_quota[TQ_PROGRAMS] && !c->obj &&
	    use[TQ_PROGRAMS] + 1 > t->quota[TQ_PROGRAMS])
		return refuse(b, t, TQ_PROGRAMS, errv,
		    "cube '%s': its program would be one more than the %llu "
		    "its other cubes hold",
		    c->name, (unsigned long long)use[TQ_PROGRAMS]);
	if (t->has_quota[TQ_MAP_BYTES] &&
	    use[TQ_MAP_BYTES] + bytes > t->quota[TQ_MAP_BYTES])
		return refuse(b, t, TQ_MAP_BYTES, errv,
		    "cube '%s': its maps would take %llu bytes, its other "
		    "cubes' hold %llu",
		    c->name, (unsigned long long)bytes,
		    (unsigned long long)use[TQ_MAP_BYTES]);
	return 0;
}

/* The tenant a request is of: its connection's, or the one a gateway
 * vouches for (checked again, with the rest, by api.c who_decide()). */
static const struct tenant *
request_tenant(const struct broker *b, const struct client_req *req,
    const struct cub_val *params)
{
	const struct cub_val *as;
	const char *user, *role;

	if (req->role == ROLE_TENANT)
		return req->tenant;
	if (req->role != ROLE_GATEWAY || !(as = cub_val__get(params, "as")) ||
	    as->kind != CUB_V_MAP)
		return NULL;
	user = cub_val__get_str(as, "user");
	role = cub_val__get_str(as, "role");
	if (!user || !role || strcmp(role, "tenant"))
		return NULL;
	return tenants_find(b->tenants, b->ntenants, user);
}

/* Main thread: ms the connection of the request just refused over rps
 * waits before it is read again (clients.c), 0: none. */
static int hold_ms;

int
quota_hold_take(void)
{
	int ms = hold_ms;

	hold_ms = 0;
	return ms;
}

int
quota_request(struct broker *b, const struct client_req *req,
    const struct cub_val *params, struct cub_val **errv)
{
	const struct tenant *t = request_tenant(b, req, params);
	struct tenant_use *u;

	if (!t || !t->has_quota[TQ_RPS] || !(u = use_of(b, t)))
		return 0;
	if (tenant_bucket_take(&u->rps, t->quota[TQ_RPS], now_ms())) {
		__atomic_add_fetch(&u->requests, 1, __ATOMIC_RELAXED);
		return 0;
	}
	/* Its own connection waits until its bucket holds a token again
	 * (at most a second); a gateway's, which carries others' requests
	 * too, does not. */
	if (req->role == ROLE_TENANT) {
		hold_ms = (int)((1000 - u->rps.mtokens + t->quota[TQ_RPS] - 1) /
				t->quota[TQ_RPS]);
		hold_ms = hold_ms < 1 ? 1 : hold_ms > 1000 ? 1000 : hold_ms;
	}
	return refuse(b, t, TQ_RPS, errv,
	    "over %llu requests a second; this one was not queued, try "
	    "again later",
	    (unsigned long long)t->quota[TQ_RPS]);
}

bool
quota_pktin(struct broker *b, struct cube *c)
{
	const struct tenant *t;
	struct tenant_use *u;

	if (!c->owner[0] || !(t = owner_tenant(b, c->owner)) ||
	    !t->has_quota[TQ_PKTIN_PPS] || !(u = use_of(b, t)))
		return true;
	if (t->quota[TQ_PKTIN_PPS] &&
	    tenant_bucket_take(&u->pktin, t->quota[TQ_PKTIN_PPS], now_ms()))
		return true;
	__atomic_add_fetch(&u->refused[TQ_PKTIN_PPS], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->pktin_quota_dropped, 1, __ATOMIC_RELAXED);
	return false;
}

int
quota_init(struct broker *b)
{
	if (!b->ntenants)
		return 0;
	b->tenant_use = calloc(b->ntenants, sizeof(*b->tenant_use));
	return b->tenant_use ? 0 : -ENOMEM;
}

struct cub_val *
quota_show(struct broker *b)
{
	const struct tenant *self = api_tenant();
	struct cub_val *arr = cub_val__array(), *e, *use, *quota, *refused;
	uint64_t n[TQ__MAX];
	struct tenant_use *u;
	unsigned i, q;

	for (i = 0; i < b->ntenants; i++) {
		const struct tenant *t = &b->tenants[i];

		/* A tenant sees its own line. */
		if (self && self != t)
			continue;
		pthread_mutex_lock(&b->lock);
		quota_count(b, t->name, n, NULL, true);
		pthread_mutex_unlock(&b->lock);
		u = use_of(b, t);
		e = cub_val__map();
		use = cub_val__map();
		quota = cub_val__map();
		refused = cub_val__map();
		cub_val__set(e, "name", cub_val__str(t->name));
		for (q = 0; q < TQ__MAX; q++) {
			const char *k = tenant_quota_name(q);

			if (q < TQ_RPS)
				cub_val__set(use, k, cub_val__uint(n[q]));
			cub_val__set(quota, k,
			    t->has_quota[q] ? cub_val__uint(t->quota[q])
					    : cub_val__str("unlimited"));
			cub_val__set(refused, k,
			    cub_val__uint(u ? __atomic_load_n(&u->refused[q],
						  __ATOMIC_RELAXED)
					    : 0));
		}
		cub_val__set(use, "requests",
		    cub_val__uint(
			u ? __atomic_load_n(&u->requests, __ATOMIC_RELAXED)
			  : 0));
		cub_val__set(e, "use", use);
		cub_val__set(e, "quota", quota);
		/* Refusals per quota (pktin-pps: packets dropped). */
		cub_val__set(e, "refused", refused);
		cub_val__push(arr, e);
	}
	return arr;
}
