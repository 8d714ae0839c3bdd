// SPDX-License-Identifier: BSD-2-Clause
/*
 * Cubes: creation, change and deletion with their side effects.  Every
 * change follows one order so that a refusal changes nothing:
 *   1. the tree engine builds the new document (api.c);
 *   2. cube_update() checks every netdev the new document names;
 *   3. the worker applies the new document to its maps, or refuses it;
 *   4. the broker attaches and detaches ports (rolled back on failure);
 *   5. the store is written, and a change it cannot record is rolled back
 *      like a refused one: an acknowledged change is never lost.
 * A deletion writes the store first (without the cube), as destroying
 * the cube's maps cannot be undone.
 */
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "log.h"
#include "names.h"
#include "text.h"

#define MAX_CUBES 1024

static const char *const hook_names[] = {
    [HOOK_TC] = "TC",
    [HOOK_XDP_SKB] = "XDP_SKB",
    [HOOK_XDP_DRV] = "XDP_DRV",
};

const char *
hook_name(enum hook h)
{
	return hook_names[h];
}

int
hook_parse(const char *s, enum hook *h)
{
	unsigned i;

	for (i = 0; s && i < 3; i++)
		if (!strcasecmp(s, hook_names[i])) {
			*h = (enum hook)i;
			return 0;
		}
	return -EINVAL;
}

struct cube *
cube_find(struct broker *b, const char *name)
{
	struct cube *c;

	for (c = b->cubes; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

struct service *
svc_find(struct broker *b, const char *name)
{
	struct service *s;

	for (s = b->svcs; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

struct cube *
cube_free(struct cube *c)
{
	struct bport *p, *n;

	if (!c)
		return NULL;
	for (p = c->ports; p; p = n) {
		n = p->next;
		free(p);
	}
	bpfobj_free(c->obj);
	if (c->hopkey_fd > 0)
		close(c->hopkey_fd);
	cubelog_free(c->log);
	cub_val__free(c->doc);
	cub_val__free(c->unsent);
	free(c->pktq);
	free(c->refused);
	free(c);
	return NULL;
}

static void
cube_unlink(struct broker *b, struct cube *c)
{
	struct cube **pp;

	for (pp = &b->cubes; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

void
cube_remove(struct broker *b, struct cube *c)
{
	cube_unlink(b, c);
	c->removed = true;
	c->next = b->dying;
	b->dying = c;
}

static void
dying_unlink(struct broker *b, struct cube *c)
{
	struct cube **pp;

	for (pp = &b->dying; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

int
cube_release(struct broker *b, struct cube *c)
{
	int r;

	if (c->loading) {
		/* bpfobj_load() has it: its end unpins and frees it. */
		c->orphan = true;
		return 0;
	}
	dying_unlink(b, c);
	r = bpfobj_unpin(b, c->name);
	cube_free(c);
	return r;
}

void
cube_reap(struct broker *b, struct cube *c)
{
	int r;

	dying_unlink(b, c);
	if ((r = bpfobj_unpin(b, c->name)))
		log_errno(r, "cube '%s': unpin after its load", c->name);
	cube_free(c);
}

static bool
cube_dying(struct broker *b, const char *name)
{
	struct cube *c;

	for (c = b->dying; c; c = c->next)
		if (!strcmp(c->name, name))
			return true;
	return false;
}

/*
 * How long an apply (or a replay's) may take: --call-timeout, or longer if
 * the service declared so in its hello (struct cub_plugin's
 * apply_timeout_ms), at most --max-apply-timeout.
 */
int
cube_apply_timeout(const struct broker *b, const struct service *s)
{
	int t = (int)__atomic_load_n(&s->apply_timeout_ms, __ATOMIC_RELAXED);

	if (t > b->o.max_apply_timeout_ms)
		t = b->o.max_apply_timeout_ms;
	return t > b->o.call_timeout_ms ? t : b->o.call_timeout_ms;
}

/*
 * What the broker sends a worker in one message: well under the wire's
 * caps (CUB_MSG_MAX, CUB_ELEMS_MAX), so that the frame and the worker's
 * decode have room.  A document or a change list over it goes in parts.
 */
#define PART_BYTES_MAX (1u << 20)
#define PART_ELEMS_MAX (1u << 15)

static bool
part_full(uint64_t bytes, uint64_t elems)
{
	return bytes > PART_BYTES_MAX || elems > PART_ELEMS_MAX;
}

/* A keyed list in a document: an array of maps (not a leaf-list). */
static bool
is_list(const struct cub_val *v)
{
	return v->kind == CUB_V_ARRAY && v->arr.len &&
	       v->arr.items[0]->kind == CUB_V_MAP;
}

#define DOC_LISTS_MAX 64

struct doc_list {
	struct cub_val *path; /* words: containers, then the list */
	const struct cub_val *arr;
};

/*
 * The document without its lists (kept in lists[], in document order):
 * the lists of the cube and of its containers, not those in list entries
 * (an entry travels whole).  NULL on ENOMEM or past DOC_LISTS_MAX.
 */
static struct cub_val *
doc_skeleton(const struct cub_val *m, const struct cub_val *path,
    struct doc_list *lists, uint32_t *n)
{
	struct cub_val *out = cub_val__map(), *v, *sub;
	uint32_t i;

	for (i = 0; out && i < m->map.len; i++) {
		const struct cub_val *x = m->map.items[i].val;
		const char *k = m->map.items[i].key;

		if (is_list(x) || x->kind == CUB_V_MAP) {
			sub = cub_val__dup(path);
			if (!sub || cub_val__push(sub, cub_val__str(k))) {
				cub_val__free(sub);
				return cub_val__free(out);
			}
		} else {
			sub = NULL;
		}
		if (sub && is_list(x)) {
			if (*n >= DOC_LISTS_MAX) {
				cub_val__free(sub);
				return cub_val__free(out);
			}
			lists[(*n)++] = (struct doc_list){sub, x};
			v = cub_val__array();
		} else if (sub) {
			v = doc_skeleton(x, sub, lists, n);
			cub_val__free(sub);
		} else {
			v = cub_val__dup(x);
		}
		if (!v || cub_val__set(out, k, v))
			return cub_val__free(out);
	}
	return out;
}

static int
part_call(struct broker *b, struct cube *c, const char *method,
    struct cub_val *p, struct cub_val **errv)
{
	struct cub_val *res = NULL;
	int r;

	r = sup_call(c->svc, method, p, &res, errv, cube_apply_timeout(b, c->svc));
	cub_val__free(res);
	return r;
}

/*
 * The whole document to the worker (cube.apply).  One that does not fit
 * one part goes as its skeleton (cube.apply with more) and then its
 * lists, in parts (cube.entries, the last with last): the worker applies
 * it when it has all of it, and a refusal at any part is a refused apply.
 */
static int
doc_send(struct broker *b, struct cube *c, const struct cub_val *doc,
    bool create, struct cub_val **errv)
{
	struct doc_list lists[DOC_LISTS_MAX];
	struct cub_val *p, *skel, *root, *part = NULL;
	uint64_t bytes = 0, elems = 0, sent = 0;
	uint32_t n = 0, i, j, msgs = 1;
	int r = 0;

	cub_val__cost(doc, &bytes, &elems);
	p = cub_val__map();
	cub_val__set(p, "cube", cub_val__str(c->name));
	cub_val__set(p, "create", cub_val__bool(create));
	if (!part_full(bytes, elems)) {
		cub_val__set(p, "config", cub_val__dup(doc));
		return part_call(b, c, CUB_M_CUBE_APPLY, p, errv);
	}
	root = cub_val__array();
	skel = root ? doc_skeleton(doc, root, lists, &n) : NULL;
	cub_val__free(root);
	if (!skel || !n) {
		for (i = 0; i < n; i++)
			cub_val__free(lists[i].path);
		cub_val__free(skel);
		cub_val__free(p);
		if (skel)
			*errv = cub_err_val(CUB_E_TOOBIG,
			    "cube '%s': its document is over what goes to a "
			    "worker at once (%u bytes, %u elements) and has "
			    "no list to send in parts",
			    c->name, PART_BYTES_MAX, PART_ELEMS_MAX);
		else
			*errv = cub_err_val(CUB_E_INTERNAL,
			    "cube '%s': out of memory, or more than %d lists",
			    c->name, DOC_LISTS_MAX);
		return skel ? -EMSGSIZE : -ENOMEM;
	}
	cub_val__set(p, "config", skel);
	cub_val__set(p, "more", cub_val__bool(true));
	r = part_call(b, c, CUB_M_CUBE_APPLY, p, errv);
	for (i = 0; !r && i < n; i++) {
		const struct cub_val *arr = lists[i].arr;

		for (j = 0; !r && j < arr->arr.len;) {
			bytes = elems = 0;
			part = cub_val__array();
			while (part && j < arr->arr.len &&
			       (!part->arr.len || !part_full(bytes, elems))) {
				cub_val__cost(arr->arr.items[j], &bytes, &elems);
				if (cub_val__push(part,
					cub_val__dup(arr->arr.items[j])))
					part = NULL;
				j++;
			}
			if (!part) {
				*errv = cub_err_val(
				    CUB_E_INTERNAL, "out of memory");
				r = -ENOMEM;
				break;
			}
			sent += part->arr.len;
			p = cub_val__map();
			cub_val__set(p, "cube", cub_val__str(c->name));
			cub_val__set(p, "path", cub_val__dup(lists[i].path));
			cub_val__set(p, "entries", part);
			cub_val__set(p, "last",
			    cub_val__bool(i + 1 == n && j == arr->arr.len));
			r = part_call(b, c, CUB_M_CUBE_ENTRIES, p, errv);
			msgs++;
		}
	}
	for (i = 0; i < n; i++)
		cub_val__free(lists[i].path);
	if (!r)
		log_info("cube '%s': document sent in %u messages (%llu list "
			 "entries in %u lists)",
		    c->name, msgs, (unsigned long long)sent, n);
	return r;
}

/*
 * A change list to the worker (cube.change), in parts under the caps, the
 * last with last: the worker hands the plugin all of it at once.
 */
static int
changes_send(struct broker *b, struct cube *c, const struct cub_val *changes,
    struct cub_val **errv)
{
	struct cub_val *p, *part;
	uint64_t bytes, elems;
	uint32_t j = 0, msgs = 0;
	int r = 0;

	while (!r && j < changes->arr.len) {
		bytes = elems = 0;
		part = cub_val__array();
		while (part && j < changes->arr.len &&
		       (!part->arr.len || !part_full(bytes, elems))) {
			cub_val__cost(changes->arr.items[j], &bytes, &elems);
			if (cub_val__push(
				part, cub_val__dup(changes->arr.items[j])))
				part = NULL;
			j++;
		}
		if (!part) {
			*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
			return -ENOMEM;
		}
		p = cub_val__map();
		cub_val__set(p, "cube", cub_val__str(c->name));
		cub_val__set(p, "changes", part);
		cub_val__set(p, "last", cub_val__bool(j == changes->arr.len));
		r = part_call(b, c, CUB_M_CUBE_CHANGE, p, errv);
		msgs++;
	}
	if (!r && msgs > 1)
		log_info("cube '%s': %u changes sent in %u messages", c->name,
		    changes->arr.len, msgs);
	return r;
}

/*
 * Add to dst what src has and dst lacks: maps key by key, arrays entry by
 * entry (src built from dst keeps its entries' order); what dst has is
 * kept.  The number of values added, or -ENOMEM.
 */
static int
doc_fill(struct cub_val *dst, const struct cub_val *src)
{
	struct cub_val *d, *v;
	uint32_t i;
	int n = 0, r;

	if (dst->kind == CUB_V_ARRAY && src->kind == CUB_V_ARRAY) {
		for (i = 0; i < dst->arr.len && i < src->arr.len; i++) {
			if ((r = doc_fill(dst->arr.items[i], src->arr.items[i])) < 0)
				return r;
			n += r;
		}
		return n;
	}
	if (dst->kind != CUB_V_MAP || src->kind != CUB_V_MAP)
		return 0;
	for (i = 0; i < src->map.len; i++) {
		d = cub_val__get(dst, src->map.items[i].key);
		if (d) {
			if ((r = doc_fill(d, src->map.items[i].val)) < 0)
				return r;
			n += r;
			continue;
		}
		v = cub_val__dup(src->map.items[i].val);
		if (!v || cub_val__set(dst, src->map.items[i].key, v))
			return -ENOMEM;
		n++;
	}
	return n;
}

/*
 * Does the service's schema (as accepted now: a reload may have changed
 * it) take c's stored document?  It is built afresh from the document as
 * a create's body would be, on a copy: NULL, or "refused by schema vN:
 * <the error, naming the field>" (malloc'd).  A document it takes gets
 * the defaults of the fields it lacks (a field a reload added), and
 * *filled says so: the caller saves it.  b->state_lock held.
 */
char *
cube_revalidate(struct broker *b, struct cube *c, bool *filled)
{
	struct cub_val *doc = NULL, *errv = NULL, *body, *ports;
	const char *msg = "no schema";
	uint32_t i;
	char *why;
	int r = -ENOMEM;

	*filled = false;
	/* The one read-only field a document stores is the broker's: the
	 * port indices (ports_prepare()); a create would refuse them. */
	body = cub_val__dup(c->doc);
	ports = body ? (struct cub_val *)cub_val__get(body, "ports") : NULL;
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++)
		cub_val__del(ports->arr.items[i], "index");
	if (body && c->svc->schema)
		r = cubi_tree__new_doc(c->svc->schema, c->name, c->svc->name,
		    NULL, body, &doc, &errv);
	cub_val__free(body);
	if (!r) {
		pthread_mutex_lock(&b->lock); /* others read c->doc under it */
		r = doc_fill(c->doc, doc);
		pthread_mutex_unlock(&b->lock);
		cub_val__free(doc);
		if (r < 0)
			log_err("cube '%s': out of memory adding the defaults "
				"of its schema v%u",
			    c->name, c->svc->schema_version);
		else if (r > 0)
			log_info("cube '%s': %d default value(s) of schema v%u "
				 "added to its document",
			    c->name, r, c->svc->schema_version);
		*filled = r != 0;
		return NULL;
	}
	cub_val__free(doc);
	if (r == -ENOMEM && !errv)
		msg = "out of memory";
	if (errv)
		cub_err_parse(errv, &msg);
	if (asprintf(&why, "refused by schema v%u: %s", c->svc->schema_version,
		msg) < 0)
		why = strdup("refused by its schema");
	cub_val__free(errv);
	return why;
}

int
cube_sync(struct broker *b, struct cube *c, bool create, struct cub_val **errv)
{
	/* A transparent cube's document carries its attach point's
	 * parameters (tcube_config), a copy; any other goes as it is. */
	struct cub_val *tdoc = c->tp ? tcube_config(b, c) : NULL;
	int r;

	if (c->tp && !tdoc) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	c->syncing = true;
	r = doc_send(b, c, tdoc ? tdoc : c->doc, create, errv);
	c->syncing = false;
	cub_val__free(tdoc);

	if (!r) /* the worker has all of it */
		c->unsent = cub_val__free(c->unsent);
	if (!r && !c->obj) {
		*errv = cub_err_val(CUB_E_REFUSED,
		    "service '%s' did not load a program for cube '%s'",
		    c->svc->name, c->name);
		return -ENOENT;
	}
	return r;
}

static const struct cub_val *
doc_ports(const struct cub_val *doc)
{
	const struct cub_val *ports = cub_val__get(doc, "ports");

	return ports && ports->kind == CUB_V_ARRAY ? ports : NULL;
}

/* The desired peer of a port entry, "" when none. */
static const char *
entry_peer(const struct cub_val *e)
{
	const char *peer = cub_val__get_str(e, "peer");

	return peer ? peer : "";
}

/*
 * Give every port entry of doc without an index the lowest free one, and
 * check every peer: it exists, and no other port (of any cube, or of this
 * document) uses it.
 */
static int
ports_prepare(struct broker *b, struct cube *c, struct cub_val *doc,
    struct cub_val **errv)
{
	const struct cub_val *ports = doc_ports(doc);
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct bport *owner_port;
	struct cube *owner, *c2;
	const char *peer, *name;
	uint32_t i, j;

	if (c->svc->transparent && ports && ports->arr.len) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' is transparent (service '%s'): it has no ports; "
		    "attach it to a netdev with 'cubicle attach %s <netdev>'",
		    c->name, c->svc->name, c->name);
		return -EINVAL;
	}
	if (cubi_doc__port_indices(doc, CUB_MAX_PORTS)) {
		*errv = cub_err_val(CUB_E_LIMIT, "cube '%s': at most %d ports",
		    c->name, CUB_MAX_PORTS);
		return -ENOSPC;
	}
	for (i = 0; ports && i < ports->arr.len; i++) {
		struct cub_val *e = ports->arr.items[i];

		name = cub_val__get_str(e, "name");
		peer = entry_peer(e);
		if (!peer[0])
			continue;
		if (strchr(peer, ':')) {
			if (!topo_peer_split(peer, cname, pname)) {
				*errv = cub_err_val(CUB_E_INVAL,
				    "cube '%s' port '%s': peer '%s' is neither "
				    "a netdev nor cube:port",
				    c->name, name, peer);
				return -EINVAL;
			}
			/* A tenant's peer: one of its own cubes. */
			if (!(c2 = cube_find(b, cname)) || !api_sees(c2) ||
			    !topo_port(c2, pname)) {
				*errv = cub_err_val(CUB_E_NOTFOUND,
				    "cube '%s' port '%s': peer '%s': no cube "
				    "'%s' with a port '%s'",
				    c->name, name, peer, cname, pname);
				return -ENOENT;
			}
			/*
			 * Not with a cube whose creation waits for its worker:
			 * it may yet be refused, and its name then go to a
			 * cube of another service.
			 */
			if (c2 != c && c2->stored_absent) {
				*errv = cub_err_val(CUB_E_BUSY,
				    "cube '%s' port '%s': peer '%s': cube '%s' "
				    "is being created; try again when its "
				    "creation has ended",
				    c->name, name, peer, cname);
				return -EBUSY;
			}
		} else if (strlen(peer) >= IF_NAMESIZE) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "cube '%s' port '%s': peer '%s' is neither a netdev "
			    "name (at most %d characters) nor cube:port",
			    c->name, name, peer, IF_NAMESIZE - 1);
			return -EINVAL;
		} else if (api_netdev_granted(peer, errv)) {
			/* Before its existence: what is not granted is
			 * not the tenant's to know of. */
			return -EPERM;
		} else if (!if_nametoindex(peer)) {
			*errv = cub_err_val(CUB_E_NODEV,
			    "cube '%s' port '%s': netdev '%s' does not exist",
			    c->name, name, peer);
			return -ENODEV;
		}
		owner = topo_netdev_owner(b, peer, &owner_port);
		if (owner && (owner != c || strcmp(owner_port->name, name))) {
			if (!api_sees(owner))
				*errv = cub_err_val(CUB_E_BUSY,
				    "'%s' is already the peer of a port of a "
				    "cube that is not yours",
				    peer);
			else
				*errv = cub_err_val(CUB_E_BUSY,
				    "'%s' is already the peer of cube '%s' "
				    "port '%s'",
				    peer, owner->name, owner_port->name);
			return -EBUSY;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(entry_peer(ports->arr.items[j]), peer)) {
				*errv = cub_err_val(CUB_E_BUSY,
				    "netdev '%s' is the peer of two ports of "
				    "cube '%s'",
				    peer, c->name);
				return -EBUSY;
			}
	}
	return 0;
}

static void
port_event(struct broker *b, struct cube *c, struct bport *p, bool up)
{
	struct cub_val *ev = cub_val__map();

	cub_val__set(ev, "cube", cub_val__str(c->name));
	cub_val__set(ev, "port", cub_val__str(p->name));
	cub_val__set(ev, "peer", cub_val__str(p->peer));
	api_publish(b, up ? CUB_EV_PORT_UP : CUB_EV_PORT_DOWN, ev, c->owner);
}

/*
 * Make c->ports match doc: remove, add, re-peer.  Lock held.  On failure
 * the ports that changed are listed in the error; the caller rolls back by
 * calling this again with the old document.
 */
static int
ports_reconcile(struct broker *b, struct cube *c, const struct cub_val *doc,
    struct cub_val **errv)
{
	const struct cub_val *ports = doc_ports(doc);
	struct bport *p, **pp;
	const struct cub_val *e;
	const char *name, *peer;
	uint64_t idx;
	uint32_t i;
	int r;

	/* Removed ports first: they free netdevs new ports may take. */
	for (pp = &c->ports; (p = *pp);) {
		e = cubi_tree__find(doc, "ports", "name", p->name);
		if (e && !strcmp(entry_peer(e), p->peer)) {
			pp = &p->next;
			continue;
		}
		if (topo_attached(p)) {
			topo_detach(b, c, p);
			port_event(b, c, p, false);
		}
		p->peer[0] = '\0';
		if (e) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p);
	}
	for (i = 0; ports && i < ports->arr.len; i++) {
		e = ports->arr.items[i];
		name = cub_val__get_str(e, "name");
		peer = entry_peer(e);
		p = topo_port(c, name);
		if (!p) {
			p = calloc(1, sizeof(*p));
			if (!p) {
				*errv = cub_err_val(
				    CUB_E_INTERNAL, "out of memory");
				return -ENOMEM;
			}
			snprintf(p->name, sizeof(p->name), "%s", name);
			cub_val__as_u64(cub_val__get(e, "index"), &idx);
			p->index = (uint32_t)idx;
			p->next = c->ports;
			c->ports = p;
		}
		if (!peer[0] || p->peer[0])
			continue;
		if ((r = topo_attach(b, c, p, peer, errv)))
			return r;
		if (topo_attached(p))
			port_event(b, c, p, true);
	}
	return 0;
}

int
cube_create(struct broker *b, struct service *svc, const char *name,
    const struct cub_val *args, const struct cub_val *body,
    struct cub_val **errv)
{
	struct cub_val *doc = NULL, *e2 = NULL, *ev;
	struct cube *c, *n;
	const char *p, *held;
	unsigned count = 0;
	int r, r2, unpeered;

	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			break;
	if (*p || !*name || strlen(name) > CUB_NAME_MAX ||
	    !isalpha((unsigned char)name[0])) {
		char shown[CUB_NAME_MAX * 4 + 8];

		cubi_text_escape(shown, sizeof(shown), name, strlen(name));
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube name '%s': use 1 to %d letters, digits, '-' or "
		    "'_', starting with a letter",
		    shown, CUB_NAME_MAX);
		return -EINVAL;
	}
	if (cubi_word_reserved(name)) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube name '%s' is reserved: it is a built-in word of "
		    "cubicle; choose another name",
		    name);
		return -EINVAL;
	}
	if (svc_find(b, name)) {
		*errv = cub_err_val(CUB_E_EXISTS,
		    "cube name '%s' is reserved: it is the name of a "
		    "service; choose another name",
		    name);
		return -EEXIST;
	}
	/*
	 * Cube names are one namespace.  A tenant is told the same of any
	 * cube of that name, its own, another tenant's, a kept one or one
	 * being deleted: that the name is taken, and no more (not whose,
	 * nor of which service).
	 */
	pthread_mutex_lock(&b->lock);
	r = cube_dying(b, name);
	pthread_mutex_unlock(&b->lock);
	if (api_tenant() &&
	    (cube_find(b, name) || broker_kept_service(name) || r)) {
		*errv = cub_err_val(CUB_E_EXISTS,
		    "cube name '%s' is taken; choose another name (cube "
		    "names are one namespace, shared with other tenants)",
		    name);
		return -EEXIST;
	}
	if (cube_find(b, name)) {
		*errv =
		    cub_err_val(CUB_E_EXISTS, "cube '%s' already exists", name);
		return -EEXIST;
	}
	if ((held = broker_kept_service(name))) {
		/* Its record, pins and dataplane are kept for it. */
		*errv = cub_err_val(CUB_E_EXISTS,
		    "cube name '%s' is held by a kept cube of service '%s', "
		    "%s; choose another name",
		    name, held,
		    svc_find(b, held) ? "not loaded (the store names it twice)"
				      : "not installed");
		return -EEXIST;
	}
	pthread_mutex_lock(&b->lock);
	r = cube_dying(b, name);
	pthread_mutex_unlock(&b->lock);
	if (r) {
		/* Its pins go when its deletion (or its load) ends. */
		*errv = cub_err_val(CUB_E_BUSY,
		    "cube '%s' is being deleted (a load of its object may "
		    "still run): try again in a few seconds",
		    name);
		return -EBUSY;
	}
	for (n = b->cubes; n; n = n->next)
		count++;
	if (count >= MAX_CUBES) {
		*errv = cub_err_val(CUB_E_LIMIT, "at most %d cubes", MAX_CUBES);
		return -ENOSPC;
	}
	if ((r = quota_cube_add(b, errv)))
		return r;
	if ((r = cubi_tree__new_doc(
		 svc->schema, name, svc->name, args, body, &doc, errv)))
		return r;
	c = calloc(1, sizeof(*c));
	if (!c) {
		cub_val__free(doc);
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	/* A tenant's cube is its own, stored with it (persist.c). */
	if (api_tenant())
		snprintf(c->owner, sizeof(c->owner), "%s", api_tenant()->name);
	c->svc = svc;
	c->doc = doc;
	c->loglevel = cubelog_doc_level(doc);
	hook_parse(cub_val__get_str(doc, "type"), &c->hook);
	if ((r = quota_ports(b, c, c->doc, NULL, errv)) ||
	    (r = ports_prepare(b, c, c->doc, errv)) ||
	    (r = graph_check(
		 b, &(struct graph_change){c, c->doc, NULL}, 1, errv))) {
		cube_free(c);
		return r;
	}
	pthread_mutex_lock(&b->lock);
	/* Peers are recorded now and attached when the program loads. */
	r = ports_reconcile(b, c, c->doc, errv);
	c->stored_absent = true; /* until the worker has it */
	c->next = b->cubes;
	b->cubes = c;
	pthread_mutex_unlock(&b->lock);
	if (!r)
		r = cube_sync(b, c, true, errv);
	if (!r && svc->hostwide)
		r = tcube_host_join(b, c, errv);
	c->stored_absent = false;
	if (!r)
		r = broker_save_cube(
		    b, c, NULL, CUBI_ADD, NULL, NULL, NULL, errv);
	if (r) {
		c->stored_absent = true;
		struct cub_val *res = NULL, *dp = cub_val__map();

		cub_val__set(dp, "cube", cub_val__str(name));
		sup_call(svc, CUB_M_CUBE_DESTROY, dp, &res, &e2, 2000);
		cub_val__free(res);
		cub_val__free(e2);
		pthread_mutex_lock(&b->lock);
		for (struct bport *bp = c->ports; bp; bp = bp->next)
			topo_detach(b, c, bp);
		/*
		 * As a deletion: no port of another cube keeps a peer of a
		 * cube that never was (ports_prepare() refuses to peer with
		 * a cube being created; this is the second line).
		 */
		unpeered = topo_cube_gone(b, c);
		tcube_gone(b, c);
		/* A load the worker began may still run (it timed out). */
		cube_remove(b, c);
		cube_release(b, c);
		pthread_mutex_unlock(&b->lock);
		if (unpeered && (r2 = broker_save(b, NULL, NULL)))
			log_errno(r2, "cube '%s': saving the unpeered ports",
			    name);
		return r;
	}
	ev = cub_val__map();
	cub_val__set(ev, "cube", cub_val__str(name));
	cub_val__set(ev, "service", cub_val__str(svc->name));
	api_publish(b, CUB_EV_CUBE_CREATED, ev,
	    api_tenant() ? api_tenant()->name : NULL);
	log_info(
	    "cube '%s' (%s, %s) created", name, svc->name, hook_name(c->hook));
	return 0;
}

/*
 * After a change that is recorded: the ports of other cubes that peered
 * with a port old had and c has no more are unpeered, in the store too.
 */
static void
ports_gone(struct broker *b, struct cube *c, const struct cub_val *old)
{
	const struct cub_val *ports = doc_ports(old);
	const char *name;
	uint32_t i;
	int n = 0, r;

	pthread_mutex_lock(&b->lock);
	for (i = 0; ports && i < ports->arr.len; i++) {
		name = cub_val__get_str(ports->arr.items[i], "name");
		if (name && !topo_port(c, name))
			n += topo_port_gone(b, c, name) +
			     tcube_port_gone(b, c, name);
	}
	pthread_mutex_unlock(&b->lock);
	if (n && (r = broker_save(b, NULL, NULL)))
		log_errno(r, "cube '%s': saving the unpeered ports", c->name);
}

/*
 * The worker told of a change: with change(), the change list (from the
 * tree engine's res, or the diff of the two documents); without, the whole
 * new document.  *changes is what was sent (for a rollback), or NULL.
 */
static int
worker_change(struct broker *b, struct cube *c, const struct cub_val *old,
    const struct cubi_result *res, struct cub_val **changes,
    struct cub_val **errv)
{
	struct cub_val *all;
	uint32_t i;
	int r;

	*changes = NULL;
	/*
	 * Its worker refused its replay (supervisor.c): it lacks the cube,
	 * so the change goes as the retry, the new document whole; taken,
	 * the retries end; refused, they go on with the document the cube
	 * keeps.
	 */
	if (c->replay_wait_ms) {
		if ((r = cube_sync(b, c, true, errv)))
			return r;
		sup_replay_done(c);
		return 0;
	}
	if (!c->svc->changes)
		return cube_sync(b, c, false, errv);
	r = res ? cubi_tree__changes(res, changes)
		: cubi_tree__diff(c->svc->schema, old, c->doc, changes);
	if (r) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return r;
	}
	if (!c->unsent || !c->unsent->arr.len)
		return changes_send(b, c, *changes, errv);
	/* What the worker was not told yet goes first. */
	all = cub_val__dup(c->unsent);
	for (i = 0; all && i < (*changes)->arr.len; i++)
		if (cub_val__push(all, cub_val__dup((*changes)->arr.items[i])))
			all = NULL;
	if (!all) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	r = changes_send(b, c, all, errv);
	cub_val__free(all);
	if (!r)
		c->unsent = cub_val__free(c->unsent);
	return r;
}

/* A change the worker is not told of now (off its service's thread):
 * its change list d. */
static void
unsent_push(struct cube *c, const struct cub_val *d)
{
	uint32_t i;

	if (!c->svc->changes)
		return;
	if (!c->unsent)
		c->unsent = cub_val__array();
	if (!c->unsent || !d) {
		log_err("cube '%s': out of memory keeping a change for its "
			"worker",
		    c->name);
		return;
	}
	for (i = 0; i < d->arr.len; i++)
		cub_val__push(c->unsent, cub_val__dup(d->arr.items[i]));
}

/* The same for a whole new document, from the documents' diff. */
static void
unsent_diff(struct cube *c, const struct cub_val *old)
{
	struct cub_val *d = NULL;

	if (!c->svc->changes)
		return;
	if (cubi_tree__diff(c->svc->schema, old, c->doc, &d))
		d = NULL;
	unsent_push(c, d);
	cub_val__free(d);
}

/* Back to the previous configuration after the worker took a change. */
static int
worker_unchange(struct broker *b, struct cube *c,
    const struct cub_val *changes, struct cub_val **errv)
{
	struct cub_val *inv;
	int r;

	if (!c->svc->changes || !changes)
		return cube_sync(b, c, false, errv);
	if (!(inv = cubi_changes__invert(changes))) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	r = changes_send(b, c, inv, errv);
	cub_val__free(inv);
	return r;
}

/* The worker back to what it had before sent (freed), if it was told. */
static void
worker_rollback(
    struct broker *b, struct cube *c, bool tell, struct cub_val *sent)
{
	struct cub_val *e2 = NULL;

	if (tell && worker_unchange(b, c, sent, &e2))
		log_err("cube '%s': rollback to the previous configuration "
			"failed",
		    c->name);
	cub_val__free(e2);
	cub_val__free(sent);
}

/* A whole new document (connect, disconnect, a peer's unpeering). */
int
cube_update(struct broker *b, struct cube *c, struct cub_val *newdoc,
    struct cub_val **errv)
{
	struct cub_val *old = c->doc, *e2 = NULL, *sent = NULL;
	bool tell = sup_on_thread(c->svc);
	int r;

	/*
	 * Off c's service's thread (connect/disconnect of a port of another
	 * service's cube, on the first cube's thread): only framework fields
	 * (a port's peer) change, so the broker applies it alone and the
	 * worker is handed the new document with its next apply or replay.
	 * Not while c's own change waits for its worker: that change would
	 * then restore a document this one replaced.
	 */
	if (!tell &&
	    ((c->stored_doc && !broker_journal_holds(c)) || c->stored_absent ||
		c->syncing || c->inflight)) {
		cub_val__free(newdoc);
		*errv = cub_err_val(CUB_E_BUSY,
		    "cube '%s' has a change or a re-sync in flight; try "
		    "again",
		    c->name);
		return -EBUSY;
	}
	if ((r = quota_ports(b, c, newdoc, c->doc, errv)) ||
	    (r = ports_prepare(b, c, newdoc, errv)) ||
	    (r = graph_check(
		 b, &(struct graph_change){c, newdoc, NULL}, 1, errv))) {
		cub_val__free(newdoc);
		return r;
	}
	c->doc = newdoc;
	c->stored_doc = old;
	/* The new loglevel first: the worker logs the change at it. */
	cubelog_update(b, c);
	r = tell ? worker_change(b, c, old, NULL, &sent, errv) : 0;
	/*
	 * stored_doc stays old until the change is recorded: a snapshot
	 * another request writes meanwhile holds old, which the journal
	 * record (from old to newdoc) follows.  broker_save_cube() clears it.
	 */
	if (r) {
		c->stored_doc = NULL;
		c->doc = old;
		cubelog_update(b, c);
		cub_val__free(newdoc);
		cub_val__free(sent);
		/* The worker refused (or died): it still runs the old doc. */
		return r;
	}
	pthread_mutex_lock(&b->lock);
	r = ports_reconcile(b, c, newdoc, errv);
	if (r) {
		ports_reconcile(b, c, old, &e2);
		cub_val__free(e2);
		e2 = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	if (!r && (r = broker_save_cube(
			  b, c, old, CUBI_SHOW, NULL, NULL, NULL, errv))) {
		/* Not recorded: the ports and the worker go back too. */
		pthread_mutex_lock(&b->lock);
		ports_reconcile(b, c, old, &e2);
		pthread_mutex_unlock(&b->lock);
		cub_val__free(e2);
		e2 = NULL;
	}
	if (r) {
		c->stored_doc = NULL;
		c->doc = old;
		cubelog_update(b, c);
		cub_val__free(newdoc);
		worker_rollback(b, c, tell, sent);
		return r;
	}
	cub_val__free(sent);
	if (!tell)
		unsent_diff(c, old);
	ports_gone(b, c, old);
	cub_val__free(old);
	return 0;
}


/*
 * Peers in c->doc that name a cube:port that is no more: after an undo,
 * the settled document may again hold a peer that a deletion of the
 * peer's cube removed meanwhile (topo_port_gone() unpeers the document as
 * the change left it).  Lock held.
 */
static void
peers_recheck(struct broker *b, struct cube *c)
{
	const struct cub_val *ports = doc_ports(c->doc);
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct cube *c2;
	const char *peer;
	uint32_t i;

	for (i = 0; ports && i < ports->arr.len; i++) {
		peer = entry_peer(ports->arr.items[i]);
		if (strchr(peer, ':') && topo_peer_split(peer, cname, pname) &&
		    (!(c2 = cube_find(b, cname)) || !topo_port(c2, pname)))
			cub_val__del(ports->arr.items[i], "peer");
	}
}

/* Put c->doc back as it was before the change res made in place;
 * waited: after its worker wait (other requests ran meanwhile). */
static void
doc_undo(struct broker *b, struct cube *c, struct cubi_result *res,
    bool waited)
{
	pthread_mutex_lock(&b->lock);
	c->inflight = NULL;
	if (cubi_tree__undo(res))
		log_err("cube '%s': out of memory putting its document back; "
			"an entry is missing until it is set again",
		    c->name);
	if (waited)
		peers_recheck(b, c);
	pthread_mutex_unlock(&b->lock);
	cubelog_update(b, c);
}

int
cube_change(struct broker *b, struct cube *c, struct cubi_result *res,
    const struct cub_val *words, const struct cub_val *where,
    struct cub_val *oldports, struct cub_val **errv)
{
	struct cub_val *e2 = NULL, *sent = NULL, *chg = NULL, *old;
	bool tell = sup_on_thread(c->svc);
	int r;

	/* As cube_update(): not off its thread while a change waits. */
	if (!tell &&
	    (c->stored_doc || c->stored_absent || c->syncing || c->inflight)) {
		cub_val__free(oldports);
		doc_undo(b, c, res, false);
		*errv = cub_err_val(CUB_E_BUSY,
		    "cube '%s' has a change in flight; try again", c->name);
		return -EBUSY;
	}
	/* The document before, as far as ports go (for the rollback and
	 * the unpeering of ports that went): its port list only. */
	old = cub_val__map();
	if (old && oldports && cub_val__set(old, "ports", oldports))
		old = cub_val__free(old); /* it freed oldports */
	else if (!old)
		cub_val__free(oldports);
	if (!old) {
		doc_undo(b, c, res, false);
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	/* Its ports before: old's (none there: the change left them). */
	if ((cub_val__get(old, "ports") &&
		(r = quota_ports(b, c, c->doc, old, errv))) ||
	    (r = ports_prepare(b, c, c->doc, errv)) ||
	    (r = graph_check(
		 b, &(struct graph_change){c, c->doc, old}, 1, errv)))
		goto undo;
	pthread_mutex_lock(&b->lock);
	c->inflight = res;
	pthread_mutex_unlock(&b->lock);
	/* The new loglevel first: the worker logs the change at it. */
	cubelog_update(b, c);
	r = tell ? worker_change(b, c, NULL, res, &sent, errv) : 0;
	/*
	 * c->inflight stays until the change is recorded: a snapshot another
	 * request writes meanwhile holds the document before it, which the
	 * journal record follows.  broker_save_cube() clears it.
	 */
	if (r) {
		/* The worker refused (or died): it runs the old document. */
		cub_val__free(sent);
		cub_val__free(old);
		doc_undo(b, c, res, true);
		return r;
	}
	chg = sent;
	if (!chg && cubi_tree__changes(res, &chg)) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		r = -ENOMEM;
	}
	pthread_mutex_lock(&b->lock);
	if (!r && (r = ports_reconcile(b, c, c->doc, errv))) {
		ports_reconcile(b, c, old, &e2);
		cub_val__free(e2);
		e2 = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	if (!r && (r = broker_save_cube(
			b, c, NULL, res->verb, words, where, chg, errv))) {
		/* Not recorded: the ports and the worker go back too. */
		pthread_mutex_lock(&b->lock);
		ports_reconcile(b, c, old, &e2);
		pthread_mutex_unlock(&b->lock);
		cub_val__free(e2);
		e2 = NULL;
	}
	if (r) {
		/* The document first: a worker without change lists is
		 * sent all of it again. */
		if (chg != sent)
			cub_val__free(chg);
		cub_val__free(old);
		doc_undo(b, c, res, true);
		worker_rollback(b, c, tell, sent);
		return r;
	}
	if (!tell)
		unsent_push(c, chg);
	if (chg != sent)
		cub_val__free(chg);
	cub_val__free(sent);
	ports_gone(b, c, old);
	cub_val__free(old);
	return 0;
undo:
	cub_val__free(old);
	doc_undo(b, c, res, false);
	return r;
}

int
cube_delete(struct broker *b, struct cube *c, struct cub_val **errv)
{
	struct cub_val *p, *res = NULL, *e2 = NULL, *ev;
	struct service *svc = c->svc;
	struct bport *bp;
	char name[CUB_NAME_MAX + 1], owner[TENANT_NAME_MAX + 1];
	int r;

	snprintf(name, sizeof(name), "%s", c->name);
	snprintf(owner, sizeof(owner), "%s", c->owner);
	/*
	 * Recorded as gone before anything is destroyed, in one save with
	 * the ports of other cubes that peer with it unpeered (cube_record()
	 * leaves those peers out): no later save has to succeed for the
	 * store to be right.
	 */
	if ((r = broker_save(b, c, errv)))
		return r;
	c->stored_absent = true;
	/*
	 * Out of the cube list before the worker is told: a load of its
	 * object that runs now (without the lock) installs nothing, and its
	 * worker can start no other.  Its name stays taken (b->dying) until
	 * cube_release().
	 */
	pthread_mutex_lock(&b->lock);
	for (bp = c->ports; bp; bp = bp->next)
		if (topo_attached(bp)) {
			topo_detach(b, c, bp);
			port_event(b, c, bp, false);
		}
	topo_cube_gone(b, c);
	tcube_gone(b, c);
	cube_remove(b, c);
	pthread_mutex_unlock(&b->lock);
	/* The dataplane is the broker's: a worker that is down is told on
	 * replay (the cube is simply not replayed). */
	p = cub_val__map();
	cub_val__set(p, "cube", cub_val__str(name));
	if (sup_call(svc, CUB_M_CUBE_DESTROY, p, &res, &e2, 5000))
		log_warn("cube '%s': worker not told of deletion", name);
	cub_val__free(res);
	cub_val__free(e2);
	pthread_mutex_lock(&b->lock);
	r = cube_release(b, c);
	pthread_mutex_unlock(&b->lock);
	if (r)
		log_errno(r, "cube '%s': unpin", name);
	ev = cub_val__map();
	cub_val__set(ev, "cube", cub_val__str(name));
	api_publish(b, CUB_EV_CUBE_DELETED, ev, owner);
	log_info("cube '%s' deleted", name);
	return 0;
}
