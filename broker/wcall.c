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

#include "broker.h"
#include "cleanup.h"
#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "log.h"

#define ERR(code, ...) (*errv = cub_err_val(code, __VA_ARGS__), -EINVAL)

static int
wc_hello(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *schema = cub_val__get(p, "schema");
	const struct cub_val *pol = cub_val__get(p, "policy");
	struct cub_bpf_policy policy = { 0 };
	struct cubi_schema *parsed;
	uint64_t abi, v;
	char err[256];

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
			return ERR(CUB_E_INVAL, "hello: schema refused: %s",
			    err);
		}
		s->schema = parsed;
		s->schema_wire = schema ? cub_val__dup(schema) : cub_val__nil();
		s->policy = policy;
		s->have_policy = true;
		pthread_mutex_unlock(&s->b->lock);
	}
	*res = cub_val__map();
	cub_val__set(*res, "ncpus", cub_val__uint((uint64_t)s->b->ncpus));
	__atomic_store_n(&s->hello, true, __ATOMIC_RELEASE);
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
		cub_val__set(m, "max_entries",
		    cub_val__uint(bm->max_entries));
		cub_val__push(maps, m);
	}
	pthread_mutex_unlock(&s->b->lock);
	*res = cub_val__map();
	cub_val__set(*res, "maps", maps);
	cub_val__set(*res, "ncpus", cub_val__uint((uint64_t)s->b->ncpus));
	return 0;
}

static bool
percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	    type == BPF_MAP_TYPE_PERCPU_HASH ||
	    type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/*
 * Map calls: {cube, map: id, key: bin, value: bin, flags}.  Framework maps
 * (cub_*) belong to the broker: a worker may read them, never write them.
 */
static int
wc_map(struct service *s, const char *method, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv)
{
	const struct cub_val *key = cub_val__get(p, "key");
	const struct cub_val *val = cub_val__get(p, "value");
	bool write = strcmp(method, CUB_M_MAP_LOOKUP) != 0;
	_cleanup_free_ void *out = NULL;
	uint64_t id, flags = 0;
	struct bmap *bm;
	struct cube *c;
	size_t vsz;
	int r;

	if (cub_val__as_u64(cub_val__get(p, "map"), &id))
		return ERR(CUB_E_TYPE, "%s: 'map' must be a map id", method);
	if (!key || key->kind != CUB_V_BIN)
		return ERR(CUB_E_TYPE, "%s: 'key' must be binary", method);
	if (cub_val__get(p, "flags") &&
	    cub_val__as_u64(cub_val__get(p, "flags"), &flags))
		return ERR(CUB_E_TYPE, "%s: 'flags' must be an integer",
		    method);
	pthread_mutex_lock(&s->b->lock);
	c = own_cube(s, p, errv);
	if (!c) {
		r = -EPERM;
		goto out;
	}
	if (!c->obj || id < 1 || id > (uint64_t)c->obj->nmaps) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "cube '%s': no map with id %llu", c->name,
		    (unsigned long long)id);
		r = -ENOENT;
		goto out;
	}
	bm = &c->obj->maps[id - 1];
	vsz = (size_t)bm->value_size * (percpu(bm->type) ? s->b->ncpus : 1);
	if (key->bin.len != bm->key_size) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "map '%s': key is %u bytes, expected %u", bm->name,
		    key->bin.len, bm->key_size);
		r = -EINVAL;
		goto out;
	}
	if (write && !strncmp(bm->name, "cub_", 4)) {
		*errv = cub_err_val(CUB_E_PERM,
		    "map '%s' belongs to the broker", bm->name);
		r = -EPERM;
		goto out;
	}
	if (!strcmp(method, CUB_M_MAP_UPDATE)) {
		if (!val || val->kind != CUB_V_BIN || val->bin.len != vsz) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "map '%s': value must be %zu bytes", bm->name, vsz);
			r = -EINVAL;
			goto out;
		}
		r = bpf_map_update_elem(bm->fd, key->bin.ptr, val->bin.ptr,
		    flags);
	} else if (!strcmp(method, CUB_M_MAP_DELETE)) {
		r = bpf_map_delete_elem(bm->fd, key->bin.ptr);
	} else {
		out = calloc(1, vsz);
		r = out ? bpf_map_lookup_elem(bm->fd, key->bin.ptr, out) :
			  -ENOMEM;
		if (!r) {
			*res = cub_val__map();
			cub_val__set(*res, "value", cub_val__bin(out, vsz));
		}
	}
	if (r) {
		r = -errno;
		*errv = cub_err_val(r == -ENOENT ? CUB_E_NOTFOUND : CUB_E_KERNEL,
		    "map '%s' of cube '%s': %s failed: %s", bm->name, c->name,
		    method, strerror(-r));
	}
out:
	pthread_mutex_unlock(&s->b->lock);
	return r;
}

static void
wc_reply(struct service *s, uint32_t msgid, struct cub_val *errv,
    struct cub_val *res)
{
	nng_msg *msg;
	void *buf;
	size_t len;

	if (cub_rpc__encode_response(msgid, errv, res ? res : cub_val__map(),
		&buf, &len))
		return;
	if (!nng_msg_alloc(&msg, 0) && !nng_msg_append(msg, buf, len) &&
	    nng_sendmsg(s->calls, msg, 0))
		nng_msg_free(msg);
	free(buf);
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
		if (r || rpc.type != CUB_RPC_REQUEST) {
			log_warn("service '%s': bad message from worker: %s",
			    s->name, r ? err : "not a request");
			wc_reply(s, rpc.msgid,
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
		else if (!strcmp(rpc.method, CUB_M_MAP_UPDATE) ||
		    !strcmp(rpc.method, CUB_M_MAP_LOOKUP) ||
		    !strcmp(rpc.method, CUB_M_MAP_DELETE))
			wc_map(s, rpc.method, rpc.params, &res, &errv);
		else
			errv = cub_err_val(CUB_E_NOMETHOD,
			    "no method '%s' for workers", rpc.method);
		if (errv)
			res = cub_val__free(res);
		wc_reply(s, rpc.msgid, errv, res);
		cub_rpc__clear(&rpc);
	}
	return NULL;
}
