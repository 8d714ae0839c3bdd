// SPDX-License-Identifier: BSD-2-Clause
/*
 * The broker's state as a store document, and back:
 *   {version: 1, cubes: [{name, service, owner, hash, checked, rules,
 *                         transparent,
 *                         config,
 *                         ports: [{name, peer, qdisc}],
 *                         attach: {target, rank, qdisc}}]}
 * config is the desired state; hash and ports are what the broker needs to
 * adopt the pinned objects and attachments after a restart; checked is the
 * exit checker's version its object passed (EXITCHECK_VERSION: absent or
 * older, the pinned program is not adopted into a stack), rules what it
 * was checked under (bpfobj.c rules_of(): other rules, and a refused
 * reload retires the program), transparent what
 * its service's hello declared (a first hello after a restart must agree,
 * and only cubes of a transparent service go back into stacks).  Cubes of a
 * service that is not installed any more are kept as they are.
 *
 * The store is the truth.  A cube in the store whose pins are gone (a
 * reboot) is rebuilt: the worker loads its program again and its ports
 * are attached again.  A cube pinned but not in the store (a create the
 * broker was killed in before it was acknowledged, or a store restored
 * from before) is a stray: its programs are detached and its pins
 * removed.  With no store at all, pins are refused: the broker does not
 * guess whether the store was lost or meant to go; --discard-strays says.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "broker.h"
#include "cleanup.h"
#include "cubicle/errors.h"
#include "log.h"
#include "names.h"

/*
 * Records kept untouched and saved again: cubes of services not present,
 * and records a load refused (a name taken twice).  Their names stay taken.
 */
static struct cub_val *orphans;

/*
 * The store's "services" (the snapshot's head record): per service name,
 * {schema_version, schema} as last accepted, so that a version counts
 * across broker runs (docs/architecture.md, "Plugin upgrades").  Entries
 * of services not installed are kept and saved again.
 */
static struct cub_val *kept_svcs;

/* Does peer ("cube:port" or a netdev) name a port of cube gone? */
static bool
peer_of(const char *peer, const struct cube *gone)
{
	size_t n = gone ? strlen(gone->name) : 0;

	return peer && n && !strncmp(peer, gone->name, n) && peer[n] == ':';
}

/*
 * c's record, with config as its configuration; gone (NULL: none) is
 * being deleted, and the peers of its ports are left out, so that the
 * save recording the deletion records the unpeering too (topo_cube_gone()
 * follows it in memory).
 */
/*
 * What c's record holds besides its configuration: {hash, checked, rules,
 * transparent, hostwide (only when true), ports}.
 */
static struct cub_val *
cube_meta(struct cube *c, const struct cube *gone)
{
	struct cub_val *m = cub_val__map(), *ports = cub_val__array(), *p;
	struct bport *bp;

	cub_val__set(m, "hash", cub_val__uint(c->obj ? c->obj->hash : 0));
	cub_val__set(m, "checked", cub_val__uint(c->obj ? c->obj->checked : 0));
	cub_val__set(m, "rules", cub_val__uint(c->obj ? c->obj->rules : 0));
	if (c->svc->schema_wire || c->svc->stored_known)
		cub_val__set(m, "transparent",
		    cub_val__bool(c->svc->schema_wire
				      ? c->svc->transparent
				      : c->svc->stored_transparent));
	if (c->svc->schema_wire ? c->svc->hostwide : c->svc->stored_hostwide)
		cub_val__set(m, "hostwide", cub_val__bool(true));
	for (bp = c->ports; bp; bp = bp->next) {
		p = cub_val__map();
		cub_val__set(p, "name", cub_val__str(bp->name));
		cub_val__set(p, "peer",
		    cub_val__str(peer_of(bp->peer, gone) ? "" : bp->peer));
		cub_val__set(p, "qdisc", cub_val__bool(bp->hook_created));
		cub_val__push(ports, p);
	}
	cub_val__set(m, "ports", ports);
	return m;
}

static struct cub_val *
cube_record(struct cube *c, const struct cub_val *conf, const struct cube *gone)
{
	struct cub_val *r = cub_val__map(), *m = cube_meta(c, gone);
	const struct cub_val *cports;
	struct cub_val *config, *p;
	uint32_t i;

	cub_val__set(r, "name", cub_val__str(c->name));
	cub_val__set(r, "service", cub_val__str(c->svc->name));
	/* The tenant that made it (never changes after); none: an admin's. */
	if (c->owner[0])
		cub_val__set(r, "owner", cub_val__str(c->owner));
	cub_val__set(r, "hash", cub_val__take(m, "hash"));
	cub_val__set(r, "checked", cub_val__take(m, "checked"));
	cub_val__set(r, "rules", cub_val__take(m, "rules"));
	if (cub_val__get(m, "transparent"))
		cub_val__set(r, "transparent", cub_val__take(m, "transparent"));
	if (cub_val__get(m, "hostwide"))
		cub_val__set(r, "hostwide", cub_val__take(m, "hostwide"));
	config = cub_val__dup(conf);
	cports = cub_val__get(config, "ports");
	for (i = 0; gone && cports && cports->kind == CUB_V_ARRAY &&
		    i < cports->arr.len;
	     i++)
		if (peer_of(cub_val__get_str(cports->arr.items[i], "peer"),
			gone))
			cub_val__del(cports->arr.items[i], "peer");
	cub_val__set(r, "config", config);
	cub_val__set(r, "ports", cub_val__take(m, "ports"));
	cub_val__free(m);
	if ((p = tcube_record(c, gone)))
		cub_val__set(r, "attach", p);
	return r;
}

/*
 * The store: a snapshot and its journal (store.h).  store_mu orders every
 * write of either, and is taken before b->lock.  meta holds, per cube
 * name, what the store has of its record besides the configuration
 * ({hash, ports}), so that a change journals only what changed of it.
 * stale: a snapshot could not be written for a change that was not rolled
 * back (an unpeering), so memory holds what the store does not: the next
 * change writes a snapshot, not a journal record.
 */
static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;
static struct store_journal journal = {.fd = -1};
static struct cub_val *meta;
static uint64_t snap_bytes;
static bool snap_exists, stale;

/* Edits of a record past which the whole record is journaled. */
#define JOURNAL_EDITS_MAX 64

static struct cub_val *
meta_of(const struct cub_val *rec)
{
	struct cub_val *m = cub_val__map();

	cub_val__set(m, "hash", cub_val__dup(cub_val__get(rec, "hash")));
	if (cub_val__get(rec, "checked"))
		cub_val__set(
		    m, "checked", cub_val__dup(cub_val__get(rec, "checked")));
	if (cub_val__get(rec, "rules"))
		cub_val__set(
		    m, "rules", cub_val__dup(cub_val__get(rec, "rules")));
	if (cub_val__get(rec, "transparent"))
		cub_val__set(m, "transparent",
		    cub_val__dup(cub_val__get(rec, "transparent")));
	if (cub_val__get(rec, "hostwide"))
		cub_val__set(m, "hostwide",
		    cub_val__dup(cub_val__get(rec, "hostwide")));
	cub_val__set(m, "ports", cub_val__dup(cub_val__get(rec, "ports")));
	return m;
}

/* A policy as the store keeps it: its three numbers. */
static struct cub_val *
policy_val(const struct cub_bpf_policy *p)
{
	struct cub_val *v = cub_val__map();

	cub_val__set(v, "prog_types", cub_val__uint(p->prog_types));
	cub_val__set(v, "map_types", cub_val__uint(p->map_types));
	cub_val__set(v, "max_map_bytes", cub_val__uint(p->max_map_bytes));
	return v;
}

/* The stored policy of e, if it has one of the right shape. */
static bool
policy_load(const struct cub_val *e, struct cub_bpf_policy *p)
{
	const struct cub_val *v = cub_val__get(e, "policy");
	uint64_t pt, mt, mb;

	if (!v || cub_val__as_u64(cub_val__get(v, "prog_types"), &pt) ||
	    pt > UINT32_MAX ||
	    cub_val__as_u64(cub_val__get(v, "map_types"), &mt) ||
	    cub_val__as_u64(cub_val__get(v, "max_map_bytes"), &mb))
		return false;
	*p = (struct cub_bpf_policy){(uint32_t)pt, mt, mb};
	return true;
}

/* Whether s's accepted policy is the store's (or the store has none). */
bool
svc_policy_stored(const struct service *s)
{
	return !s->stored_policy_known ||
	       !memcmp(&s->stored_policy, &s->policy, sizeof(s->policy));
}

/* The snapshot, store_mu held; the journal emptied after it. */
/* The store's "services": what each service accepted, its schema and
 * policy with the version that counts them.  b->lock held. */
static struct cub_val *
services_record(struct broker *b)
{
	struct cub_val *m = cub_val__map(), *e;
	struct service *s;
	uint32_t i;

	for (i = 0; kept_svcs && i < kept_svcs->map.len; i++)
		cub_val__set(m, kept_svcs->map.items[i].key,
		    cub_val__dup(kept_svcs->map.items[i].val));
	for (s = b->svcs; s; s = s->next) {
		if (!s->schema_wire && !s->stored_version)
			continue;
		e = cub_val__map();
		cub_val__set(e, "schema_version",
		    cub_val__uint(s->schema_wire ? s->schema_version
						 : s->stored_version));
		cub_val__set(e, "schema",
		    cub_val__dup(s->schema_wire ?: s->stored_schema));
		if (s->schema_wire || s->stored_policy_known)
			cub_val__set(e, "policy",
			    policy_val(s->schema_wire ? &s->policy
						      : &s->stored_policy));
		cub_val__set(m, s->name, e);
	}
	return m;
}

/* The store's "services" of a load: each service's, the rest kept. */
static void
services_load(struct broker *b, const struct cub_val *svcs)
{
	const struct cub_val *e;
	struct service *s;
	uint64_t v;
	uint32_t i;

	cub_val__free(kept_svcs);
	kept_svcs = cub_val__map();
	for (i = 0; svcs && svcs->kind == CUB_V_MAP && i < svcs->map.len; i++) {
		e = svcs->map.items[i].val;
		for (s = b->svcs;
		     s && strcmp(s->name, svcs->map.items[i].key); s = s->next)
			;
		if (!s) {
			cub_val__set(kept_svcs, svcs->map.items[i].key,
			    cub_val__dup(e));
			continue;
		}
		if (cub_val__as_u64(cub_val__get(e, "schema_version"), &v) ||
		    !v || v > UINT32_MAX || !cub_val__get(e, "schema")) {
			log_warn("state store: service '%s': no schema "
				 "version recorded; counting from 1",
			    s->name);
			continue;
		}
		s->stored_version = (unsigned)v;
		s->stored_schema = cub_val__dup(cub_val__get(e, "schema"));
		s->stored_policy_known = policy_load(e, &s->stored_policy);
	}
}

bool
svc_version_due(struct broker *b, struct service *s)
{
	bool due;

	pthread_mutex_lock(&b->lock);
	due = s->schema_wire &&
	      (s->stored_version != s->schema_version ||
		  !cub_val__equal(s->stored_schema, s->schema_wire) ||
		  !s->stored_policy_known || !svc_policy_stored(s));
	pthread_mutex_unlock(&b->lock);
	return due;
}

void
svc_version_saved(struct broker *b, struct service *s)
{
	pthread_mutex_lock(&b->lock);
	if (s->schema_wire) {
		s->stored_version = s->schema_version;
		cub_val__free(s->stored_schema);
		s->stored_schema = cub_val__dup(s->schema_wire);
		s->stored_policy = s->policy;
		s->stored_policy_known = true;
	}
	pthread_mutex_unlock(&b->lock);
}

static int
save_snapshot(struct broker *b, const struct cube *skip, struct cub_val **errv)
{
	struct cub_val *doc = cub_val__map(), *cubes = cub_val__array();
	struct cub_val *m = cub_val__map(), *rec, *before, *svcs;
	char err[PATH_MAX + 128];
	struct cube *c;
	struct stat st;
	uint32_t i;
	int r;

	pthread_mutex_lock(&b->lock);
	for (c = b->cubes; c; c = c->next) {
		if (c == skip || c->stored_absent)
			continue;
		if (c->inflight) {
			/* A change in place waits for its worker: what the
			 * store writes is the document before it. */
			before = cubi_tree__before(c->inflight, c->doc);
			if (!before) {
				pthread_mutex_unlock(&b->lock);
				cub_val__free(doc);
				cub_val__free(cubes);
				cub_val__free(m);
				if (errv)
					*errv = cub_err_val(CUB_E_INTERNAL,
					    "out of memory");
				return -ENOMEM;
			}
			rec = cube_record(c, before, skip);
			cub_val__free(before);
		} else {
			rec = cube_record(c, c->stored_doc ?: c->doc, skip);
		}
		cub_val__set(m, c->name, meta_of(rec));
		cub_val__push(cubes, rec);
	}
	svcs = services_record(b);
	pthread_mutex_unlock(&b->lock);
	for (i = 0; orphans && i < orphans->arr.len; i++)
		cub_val__push(cubes, cub_val__dup(orphans->arr.items[i]));
	cub_val__set(doc, "version", cub_val__uint(1));
	cub_val__set(doc, "services", svcs);
	cub_val__set(doc, "journal_seq", cub_val__uint(journal.seq));
	cub_val__set(doc, "cubes", cubes);
	r = store_save(b->store_path, doc, err, sizeof(err));
	cub_val__free(doc);
	if (r) {
		cub_val__free(m);
		log_err("state store %s: %s", b->store_path, err);
		if (errv)
			*errv = cub_err_val(CUB_E_KERNEL,
			    "state store %s: %s; the change was not made",
			    b->store_path, err);
		return r;
	}
	cub_val__free(meta);
	meta = m;
	stale = false;
	snap_exists = true;
	snap_bytes = stat(b->store_path, &st) ? 0 : (uint64_t)st.st_size;
	/*
	 * The snapshot holds every record: a journal that cannot be emptied
	 * is marked broken, and the next change writes a snapshot again
	 * (its records are at or below journal_seq and never replayed).
	 */
	if (journal.fd >= 0 && store_journal_reset(&journal, err, sizeof(err)))
		log_err("state store: %s", err);
	return 0;
}

int
broker_save(struct broker *b, const struct cube *skip, struct cub_val **errv)
{
	int r;

	pthread_mutex_lock(&store_mu);
	r = save_snapshot(b, skip, errv);
	/*
	 * A caller that cannot refuse (errv NULL: an unpeering already made
	 * in memory) leaves memory ahead of the store: the next change
	 * writes a snapshot.  A refused change was rolled back.
	 */
	if (r && !errv)
		stale = true;
	pthread_mutex_unlock(&store_mu);
	return r;
}

/* The node at path (steps: map keys, array indices) in v, or NULL. */
static const struct cub_val *
node_at(const struct cub_val *v, const struct cub_val *path, uint32_t n)
{
	const struct cub_val *st;
	uint64_t idx;
	uint32_t i;

	for (i = 0; v && i < n; i++) {
		st = path->arr.items[i];
		if (!cub_val__as_u64(st, &idx))
			v = v->kind == CUB_V_ARRAY && idx < v->arr.len
				? v->arr.items[idx]
				: NULL;
		else
			v = cub_val__get(v, cub_val__as_str(st) ?: "");
	}
	return v;
}

/* "config" then path: a journal edit's path. */
static struct cub_val *
edit_path(const struct cub_val *path)
{
	struct cub_val *p = cub_val__array();
	uint32_t i;

	if (!p || cub_val__push(p, cub_val__str("config")))
		return cub_val__free(p);
	for (i = 0; i < path->arr.len; i++)
		if (cub_val__push(p, cub_val__dup(path->arr.items[i])))
			return cub_val__free(p);
	return p;
}

/*
 * The words of the node a request (verb, words) addressed, without its
 * verb, for cubi_tree__locate(): 0 with *w, 1 when no node applies (the
 * cube's own fields, another verb), -ENOMEM.
 */
static int
node_words(enum cubi_verb verb, const struct cub_val *words,
    struct cub_val **w)
{
	const char *last;
	uint32_t n, i, j;

	*w = NULL;
	if (!words || words->kind != CUB_V_ARRAY || !words->arr.len ||
	    (verb != CUBI_SET && verb != CUBI_ADD && verb != CUBI_DEL))
		return 1;
	n = words->arr.len;
	last = cub_val__as_str(words->arr.items[n - 1]) ?: "";
	if (verb == CUBI_SET || (verb == CUBI_DEL && !strcmp(last, "del"))) {
		j = n - 1;
	} else {
		for (j = n - 1; j > 0; j--)
			if (!strcmp(cub_val__as_str(words->arr.items[j - 1]) ?: "",
				verb == CUBI_ADD ? "add" : "del"))
				break;
		if (!j)
			return 1;
		j--;
	}
	if (verb == CUBI_SET && !j)
		return 1; /* the cube's own fields: all of it is compared */
	*w = cub_val__array();
	for (i = 0; *w && i < n; i++)
		if (i != j && cub_val__push(*w, cub_val__dup(words->arr.items[i])))
			*w = cub_val__free(*w);
	return *w ? 0 : -ENOMEM;
}

struct cub_val *
broker_journal_where(struct cube *c, enum cubi_verb verb,
    const struct cub_val *words)
{
	struct cub_val *w, *path = NULL, *errv = NULL;

	if (!c->svc->schema || node_words(verb, words, &w))
		return NULL;
	if (cubi_tree__locate(c->svc->schema, c->doc, w, &path, &errv))
		path = NULL;
	cub_val__free(errv);
	cub_val__free(w);
	return path;
}

/*
 * The edits of a change made in place (cube_change()), from its change
 * list: one set, add or del of the node the request addressed; where is
 * that node's place in the document before a del (the entry is gone
 * now).  1 when the list says more than that (the caller writes the whole
 * record), 0, -errno.
 */
static int
changes_edits(struct cube *c, enum cubi_verb verb,
    const struct cub_val *words, const struct cub_val *where,
    const struct cub_val *changes, struct cub_val *edits)
{
	struct cub_val *path = NULL, *ep = NULL, *e = NULL;
	const struct cub_val *ch, *a, *bv, *lb;
	const char *op;
	int r = 1;

	if (!changes || changes->kind != CUB_V_ARRAY || changes->arr.len != 1)
		return 1;
	ch = changes->arr.items[0];
	op = cub_val__get_str(ch, "op") ?: "";
	if (strcmp(op, verb == CUBI_SET ? "set"
			: verb == CUBI_ADD ? "add"
			: verb == CUBI_DEL ? "del"
					   : ""))
		return 1;
	a = cub_val__get(ch, "path");
	if (verb == CUBI_DEL)
		path = where ? cub_val__dup(where) : NULL;
	else if (verb == CUBI_SET && a && a->kind == CUB_V_ARRAY && !a->arr.len)
		path = cub_val__array(); /* the cube's own fields */
	else
		path = broker_journal_where(c, verb, words);
	if (!path || path->kind != CUB_V_ARRAY ||
	    (!path->arr.len && verb != CUBI_SET))
		goto out;
	if (!(ep = edit_path(path))) {
		r = -ENOMEM;
		goto out;
	}
	if (verb == CUBI_SET) {
		/* The leaf fields of the one node, old and new: a node that
		 * had none may be one the set created (not in the store). */
		a = cub_val__get(ch, "old");
		bv = cub_val__get(ch, "new");
		if (!a || !bv || a->kind != CUB_V_MAP || !a->map.len ||
		    bv->kind != CUB_V_MAP)
			goto out;
		r = store_diff_at(a, bv, ep, edits, JOURNAL_EDITS_MAX);
		goto out;
	}
	/* An entry: the last step is its index in its list, which was
	 * there before (an add that made the list is the whole record). */
	lb = node_at(c->doc, path, path->arr.len - 1);
	bv = verb == CUBI_ADD ? node_at(c->doc, path, path->arr.len) : NULL;
	if (!lb || lb->kind != CUB_V_ARRAY ||
	    (verb == CUBI_ADD && (lb->arr.len < 2 || !bv)))
		goto out;
	e = cub_val__map();
	if (!e || cub_val__set(e, "op",
		      cub_val__str(verb == CUBI_ADD ? "ins" : "del")) ||
	    cub_val__set(e, "path", TAKE_PTR(ep)) ||
	    (verb == CUBI_ADD && cub_val__set(e, "value", cub_val__dup(bv)))) {
		r = -ENOMEM;
		goto out;
	}
	r = cub_val__push(edits, TAKE_PTR(e));
out:
	cub_val__free(e);
	cub_val__free(ep);
	cub_val__free(path);
	return r;
}

/*
 * The edits of a request that addressed one node (verb, words): a set of
 * an entry or a container compares that node only, an add or a delete of
 * an entry is one ins or del, found through the keyed list's index
 * (cubi_tree__locate()), so that the cost is the entry's, not the cube's.
 * 1 when no hint applies (the caller compares everything), 0, -errno.
 */
static int
hinted_edits(struct cube *c, const struct cub_val *old,
    enum cubi_verb verb, const struct cub_val *words, struct cub_val *edits)
{
	struct cub_val *w = NULL, *path = NULL, *e = NULL, *ep, *errv = NULL;
	const struct cub_val *a, *bv, *la, *lb;
	int r;

	if (!c->svc->schema)
		return 1;
	if ((r = node_words(verb, words, &w)))
		return r;
	r = 1;
	/* An added entry is found where it is now, a deleted one where it
	 * was. */
	if (cubi_tree__locate(c->svc->schema, verb == CUBI_ADD ? c->doc : old,
		w, &path, &errv))
		goto out;
	a = node_at(old, path, path->arr.len);
	bv = node_at(c->doc, path, path->arr.len);
	if (verb == CUBI_SET) {
		if (!a || !bv)
			goto out;
		ep = edit_path(path);
		if (!ep) {
			r = -ENOMEM;
			goto out;
		}
		/* store_diff() takes the first step as a key: walk the rest. */
		r = store_diff_at(a, bv, ep, edits, JOURNAL_EDITS_MAX);
		cub_val__free(ep);
		goto out;
	}
	/* An entry: the last step is its index in a list one longer or
	 * one shorter than before. */
	la = node_at(old, path, path->arr.len - 1);
	lb = node_at(c->doc, path, path->arr.len - 1);
	if (!la || !lb || la->kind != CUB_V_ARRAY || lb->kind != CUB_V_ARRAY ||
	    lb->arr.len != la->arr.len + (verb == CUBI_ADD ? 1 : -1) ||
	    !(verb == CUBI_ADD ? bv : a))
		goto out;
	e = cub_val__map();
	ep = edit_path(path);
	if (!e || !ep || cub_val__set(e, "op",
			     cub_val__str(verb == CUBI_ADD ? "ins" : "del")) ||
	    cub_val__set(e, "path", ep) ||
	    (verb == CUBI_ADD && cub_val__set(e, "value", cub_val__dup(bv)))) {
		if (!e)
			cub_val__free(ep);
		r = -ENOMEM;
		goto out;
	}
	r = cub_val__push(edits, TAKE_PTR(e));
out:
	cub_val__free(e);
	cub_val__free(errv);
	cub_val__free(path);
	cub_val__free(w);
	return r;
}

/*
 * c's journal record: its whole record when new (old NULL) or when more
 * changed than JOURNAL_EDITS_MAX edits say, else the edits from old (the
 * configuration the store has) and the meta the store has to now; *nm is
 * the meta now.  NULL when nothing changed; *rerr -ENOMEM when out of
 * memory.  b->lock held.
 */
static struct cub_val *
journal_rec(struct cube *c, const struct cub_val *old, enum cubi_verb verb,
    const struct cub_val *words, const struct cub_val *where,
    const struct cub_val *changes, struct cub_val **nm, int *rerr)
{
	struct cub_val *rec = cub_val__map(), *edits = cub_val__array();
	const struct cub_val *m =
	    old || changes ? cub_val__get(meta, c->name) : NULL;
	int r = 0, h = 1;

	*nm = cube_meta(c, NULL);
	if (!rec || !edits || !*nm ||
	    cub_val__set(rec, "cube", cub_val__str(c->name))) {
		r = -ENOMEM;
		goto out;
	}
	/* The node the request addressed, or else all of the config. */
	if (m && old && edits)
		h = hinted_edits(c, old, verb, words, edits);
	else if (m && changes && edits)
		h = changes_edits(c, verb, words, where, changes, edits);
	if (h < 0)
		r = h;
	else if (m && h == 1 && old)
		r = store_diff(old, c->doc, "config", edits, JOURNAL_EDITS_MAX);
	else if (m && h == 1)
		r = -E2BIG; /* no old document to compare: all of it */
	if (m && !r &&
	    !(r = store_diff(cub_val__get(m, "hash"), cub_val__get(*nm, "hash"),
		  "hash", edits, JOURNAL_EDITS_MAX)) &&
	    !(r = store_diff(cub_val__get(m, "checked"),
		  cub_val__get(*nm, "checked"), "checked", edits,
		  JOURNAL_EDITS_MAX)) &&
	    !(r = store_diff(cub_val__get(m, "rules"),
		  cub_val__get(*nm, "rules"), "rules", edits,
		  JOURNAL_EDITS_MAX)) &&
	    !(r = store_diff(cub_val__get(m, "transparent"),
		  cub_val__get(*nm, "transparent"), "transparent", edits,
		  JOURNAL_EDITS_MAX)) &&
	    !(r = store_diff(cub_val__get(m, "hostwide"),
		  cub_val__get(*nm, "hostwide"), "hostwide", edits,
		  JOURNAL_EDITS_MAX)) &&
	    !(r = store_diff(cub_val__get(m, "ports"),
		  cub_val__get(*nm, "ports"), "ports", edits,
		  JOURNAL_EDITS_MAX))) {
		if (!edits->arr.len) {
			rec = cub_val__free(rec);
			goto out;
		}
		r = cub_val__set(rec, "edits", TAKE_PTR(edits));
		goto out;
	}
	if (!r || r == -E2BIG) {
		cube_copied(c);
		r = cub_val__set(rec, "put", cube_record(c, c->doc, NULL));
	}
out:
	cub_val__free(edits);
	if (r) {
		*rerr = r;
		rec = cub_val__free(rec);
	}
	return rec;
}

/*
 * A journal group: the records of one request that changes several cubes
 * (connect, disconnect), held until broker_journal_commit() writes them as
 * one journal record, {group: [record...]}, so that a kill -9 between two
 * cubes' records leaves neither.  Per thread: the request's own.  Each cube
 * keeps stored_doc = old (a copy the group owns) until the commit, so that
 * a snapshot another request writes meanwhile holds what the group's
 * record follows.  A cube recorded twice (an undo), or a store that needs
 * a snapshot anyway, makes the commit one snapshot instead.
 */
#define JGROUP_MAX 2

struct jgroup {
	unsigned n;
	bool snapshot;
	struct cube *c[JGROUP_MAX];
	struct cub_val *rec[JGROUP_MAX], *nm[JGROUP_MAX], *old[JGROUP_MAX];
};

static __thread struct jgroup *jgroup;

void
broker_journal_begin(void)
{
	assert(!jgroup);
	jgroup = calloc(1, sizeof(*jgroup));
	/* Out of memory: the changes are journaled one by one, as before. */
	if (!jgroup)
		log_warn("journal group: out of memory; changes are "
			 "recorded one cube at a time");
}

bool
broker_journal_holds(const struct cube *c)
{
	unsigned i;

	for (i = 0; jgroup && i < jgroup->n; i++)
		if (jgroup->c[i] == c)
			return true;
	return false;
}

/* c's change, into the group: store_mu held. */
static int
group_add(struct broker *b, struct cube *c, const struct cub_val *old,
    enum cubi_verb verb, const struct cub_val *words,
    const struct cub_val *where, const struct cub_val *changes,
    struct cub_val **errv)
{
	struct jgroup *g = jgroup;
	struct cub_val *rec = NULL, *nm = NULL, *dup;
	unsigned i;
	int r = 0;

	for (i = 0; i < g->n && g->c[i] != c; i++)
		;
	if (i == JGROUP_MAX || !old) {
		/* Not what a group is for: all of it, at the commit. */
		g->snapshot = true;
		pthread_mutex_lock(&b->lock);
		c->stored_doc = i < g->n ? g->old[i] : NULL;
		c->inflight = NULL;
		pthread_mutex_unlock(&b->lock);
		return 0;
	}
	if (i < g->n) {
		/* Twice (an undo): the store still has g->old[i]. */
		g->snapshot = true;
		pthread_mutex_lock(&b->lock);
		c->stored_doc = g->old[i];
		pthread_mutex_unlock(&b->lock);
		return 0;
	}
	if (!(dup = cub_val__dup(old))) {
		r = -ENOMEM;
		goto out;
	}
	if (!g->snapshot && !stale && snap_exists && journal.fd >= 0 &&
	    !journal.broken) {
		pthread_mutex_lock(&b->lock);
		rec = journal_rec(c, old, verb, words, where, changes, &nm, &r);
		pthread_mutex_unlock(&b->lock);
		if (r) {
			cub_val__free(dup);
			goto out;
		}
	} else {
		g->snapshot = true;
	}
	g->c[i] = c;
	g->old[i] = dup;
	g->rec[i] = rec;
	g->nm[i] = nm;
	g->n++;
	pthread_mutex_lock(&b->lock);
	c->stored_doc = dup;
	c->inflight = NULL;
	pthread_mutex_unlock(&b->lock);
out:
	if (r && errv)
		*errv = cub_err_val(CUB_E_INTERNAL,
		    "state store %s: %s; the change was not made",
		    b->store_path, strerror(-r));
	return r;
}

int
broker_journal_commit(struct broker *b, struct cub_val **errv)
{
	struct jgroup *g = TAKE_PTR(jgroup);
	struct cub_val *rec = NULL, *recs;
	char err[PATH_MAX + 128];
	unsigned i, n = 0;
	int r = 0;

	if (!g || !g->n) {
		free(g);
		return 0;
	}
	pthread_mutex_lock(&store_mu);
	for (i = 0; i < g->n; i++)
		n += !!g->rec[i];
	if (!g->snapshot && (stale || !snap_exists || journal.fd < 0 ||
				journal.broken))
		g->snapshot = true;
	if (!g->snapshot && n) {
		rec = cub_val__map();
		recs = cub_val__array();
		for (i = 0; i < g->n; i++)
			if (g->rec[i])
				cub_val__push(recs, TAKE_PTR(g->rec[i]));
		if (!rec || !recs || cub_val__set(rec, "group", recs))
			r = -ENOMEM;
		if (r && errv)
			*errv = cub_err_val(CUB_E_INTERNAL,
			    "state store %s: %s; the change was not made",
			    b->store_path, strerror(-r));
		if (!r && (r = store_journal_append(
			       &journal, rec, err, sizeof(err)))) {
			log_err("state store %s: %s", b->store_path, err);
			if (errv)
				*errv = cub_err_val(CUB_E_KERNEL,
				    "state store %s: %s; the change was not "
				    "made",
				    b->store_path, err);
		}
	}
	/* Recorded (or failed): the cubes' documents are theirs again. */
	pthread_mutex_lock(&b->lock);
	for (i = 0; i < g->n; i++) {
		g->c[i]->stored_doc = NULL;
		if (!g->snapshot && !r && g->nm[i])
			cub_val__set(meta, g->c[i]->name, TAKE_PTR(g->nm[i]));
	}
	pthread_mutex_unlock(&b->lock);
	if (g->snapshot) {
		r = save_snapshot(b, NULL, errv);
		if (r && !errv)
			stale = true;
	} else if (r) {
		/*
		 * The caller undoes the changes in memory; the records it
		 * then makes follow documents the store does not have.
		 */
		stale = true;
	} else if (store_journal_full(&journal, snap_bytes) &&
		   save_snapshot(b, NULL, NULL)) {
		log_warn("state store %s: compaction failed; the journal "
			 "keeps growing until a snapshot is written",
		    b->store_path);
	}
	pthread_mutex_unlock(&store_mu);
	cub_val__free(rec);
	for (i = 0; i < g->n; i++) {
		cub_val__free(g->rec[i]);
		cub_val__free(g->nm[i]);
		cub_val__free(g->old[i]);
	}
	free(g);
	return r;
}

int
broker_save_cube(struct broker *b, struct cube *c, const struct cub_val *old,
    enum cubi_verb verb, const struct cub_val *words,
    const struct cub_val *where, const struct cub_val *changes,
    struct cub_val **errv)
{
	struct cub_val *rec = NULL, *nm = NULL;
	char err[PATH_MAX + 128];
	int r = 0;

	/* A port's fields may have changed: what is attached to its ports
	 * hears of it (if the change is then undone, it hears again). */
	tcube_cube_changed(b, c, old);
	pthread_mutex_lock(&store_mu);
	if (jgroup) {
		r = group_add(b, c, old, verb, words, where, changes, errv);
		pthread_mutex_unlock(&store_mu);
		return r;
	}
	if (stale || !snap_exists || journal.fd < 0 || journal.broken) {
		/* What the store has is not known to be old: all of it. */
		pthread_mutex_lock(&b->lock);
		c->stored_doc = NULL;
		c->inflight = NULL;
		pthread_mutex_unlock(&b->lock);
		r = save_snapshot(b, NULL, errv);
		goto out;
	}
	pthread_mutex_lock(&b->lock);
	rec = journal_rec(c, old, verb, words, where, changes, &nm, &r);
	pthread_mutex_unlock(&b->lock);
	if (r) {
		if (errv)
			*errv = cub_err_val(CUB_E_INTERNAL,
			    "state store %s: %s; the change was not made",
			    b->store_path, strerror(-r));
		goto out;
	}
	if (rec && (r = store_journal_append(&journal, rec, err, sizeof(err)))) {
		log_err("state store %s: %s", b->store_path, err);
		if (errv)
			*errv = cub_err_val(CUB_E_KERNEL,
			    "state store %s: %s; the change was not made",
			    b->store_path, err);
		goto out;
	}
	/* Recorded: from now on a snapshot writes c's new document. */
	pthread_mutex_lock(&b->lock);
	c->stored_doc = NULL;
	c->inflight = NULL;
	cub_val__set(meta, c->name, TAKE_PTR(nm));
	pthread_mutex_unlock(&b->lock);
	if (store_journal_full(&journal, snap_bytes) &&
	    save_snapshot(b, NULL, NULL))
		log_warn("state store %s: compaction failed; the journal "
			 "keeps growing until a snapshot is written",
		    b->store_path);
out:
	cub_val__free(rec);
	cub_val__free(nm);
	pthread_mutex_unlock(&store_mu);
	return r;
}

static bool cube_known(struct broker *b, const char *name);

/*
 * Load one cube record and link it at *tail: the list keeps the order it
 * was saved in (newest first), so `show cubes` is the same after a start.
 */
static int
load_cube(struct broker *b, const struct cub_val *rec, struct cube ***tail)
{
	const char *name = cub_val__get_str(rec, "name");
	const char *svcname = cub_val__get_str(rec, "service");
	const struct cub_val *config = cub_val__get(rec, "config");
	const struct cub_val *ov = cub_val__get(rec, "owner");
	const char *owner = cub_val__get_str(rec, "owner");
	const struct cub_val *rp;
	const struct cub_val *cports;
	struct service *svc;
	struct bport *bp;
	struct cube *c;
	const struct cub_val *tv;
	uint64_t hash = 0, idx, checked = 0, rules = 0;
	uint32_t i;
	bool qdisc, t;
	int r;

	if (!name || !svcname || !config || config->kind != CUB_V_MAP ||
	    strlen(name) > CUB_NAME_MAX ||
	    (ov && (!owner || !*owner || strlen(owner) > TENANT_NAME_MAX)))
		return -EBADMSG;
	if (cube_known(b, name)) {
		/*
		 * Two cubes of one name would share one pin directory, and
		 * every lookup by name would reach the first: the later
		 * record is not loaded, and kept as it is.
		 */
		log_err("state: cube '%s' (service '%s'): the store has "
			"another cube of that name before it; this record is "
			"not loaded and is kept untouched",
		    name, svcname);
		if (!orphans)
			orphans = cub_val__array();
		return cub_val__push(orphans, cub_val__dup(rec));
	}
	svc = svc_find(b, svcname);
	if (!svc) {
		log_err("cube '%s': service '%s' is not installed; keeping its "
			"state untouched",
		    name, svcname);
		if (!orphans)
			orphans = cub_val__array();
		return cub_val__push(orphans, cub_val__dup(rec));
	}
	if (cubi_word_reserved(name) || svc_find(b, name))
		log_warn("cube '%s': its name is reserved (%s); it is loaded "
			 "and reached as 'cubicle cube %s ...'",
		    name, svc_find(b, name) ? "a service" : "a built-in word",
		    name);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", name);
	/* Its owner as stored, whether or not --tenants still names it
	 * (then only admins reach it). */
	if (owner)
		snprintf(c->owner, sizeof(c->owner), "%s", owner);
	c->svc = svc;
	c->doc = cub_val__dup(config);
	c->loglevel = cubelog_doc_level(c->doc);
	hook_parse(cub_val__get_str(config, "type"), &c->hook);
	cub_val__as_u64(cub_val__get(rec, "hash"), &hash);
	cports = cub_val__get(config, "ports");
	for (i = 0;
	     cports && cports->kind == CUB_V_ARRAY && i < cports->arr.len;
	     i++) {
		const struct cub_val *e = cports->arr.items[i];
		const char *pname = cub_val__get_str(e, "name");

		if (!pname || cub_val__as_u64(cub_val__get(e, "index"), &idx))
			continue;
		bp = calloc(1, sizeof(*bp));
		if (!bp)
			break;
		snprintf(bp->name, sizeof(bp->name), "%s", pname);
		bp->index = (uint32_t)idx;
		rp = cubi_tree__find(rec, "ports", "name", pname);
		snprintf(bp->peer, sizeof(bp->peer), "%s",
		    cub_val__get_str(rp, "peer") ?: "");
		if (!cub_val__as_bool(cub_val__get(rp, "qdisc"), &qdisc))
			bp->hook_created = qdisc;
		bp->next = c->ports;
		c->ports = bp;
	}
	tcube_load_record(c, rec);
	/* The service's transparency as stored; a record with an attach
	 * point and no flag (an older store) was a transparent cube's. */
	if (cub_val__get(rec, "hostwide") &&
	    !cub_val__as_bool(cub_val__get(rec, "hostwide"), &t) && t)
		svc->stored_hostwide = true;
	tv = cub_val__get(rec, "transparent");
	if (tv && !cub_val__as_bool(tv, &t)) {
		svc->stored_known = true;
		svc->stored_transparent |= t;
	} else if (c->attached[0]) {
		svc->stored_known = true;
		svc->stored_transparent = true;
	}
	cub_val__as_u64(cub_val__get(rec, "checked"), &checked);
	cub_val__as_u64(cub_val__get(rec, "rules"), &rules);
	/* Adopt what is pinned: forwarding never stopped, and continues. */
	r = bpfobj_adopt(b, c, hash, (uint32_t)checked, rules);
	if (!r)
		r = topo_reattach_all(b, c, -1);
	if (r)
		log_warn("cube '%s': pinned objects not adopted (%s); the "
			 "worker will load them again",
		    name, strerror(-r));
	else
		log_info("cube '%s': adopted pinned program id %u", name,
		    c->obj->prog_id);
	**tail = c;
	*tail = &c->next;
	return 0;
}

/* Is name a cube the broker has, or one of a service not installed? */
static bool
cube_known(struct broker *b, const char *name)
{
	struct cube *c;
	uint32_t i;

	for (c = b->cubes; c; c = c->next)
		if (!strcmp(c->name, name))
			return true;
	for (i = 0; orphans && i < orphans->arr.len; i++) {
		const char *o = cub_val__get_str(orphans->arr.items[i], "name");

		if (o && !strcmp(o, name))
			return true;
	}
	return false;
}

const char *
broker_kept_service(const char *name)
{
	uint32_t i;

	for (i = 0; orphans && i < orphans->arr.len; i++) {
		const struct cub_val *rec = orphans->arr.items[i];
		const char *o = cub_val__get_str(rec, "name");

		if (o && !strcmp(o, name))
			return cub_val__get_str(rec, "service") ?: "?";
	}
	return NULL;
}

/*
 * Is the pin root's entry name a cube the store does not know?  A cube's
 * pins are a directory holding "prog" and "cub_ports": nothing else under
 * the pin root is taken for one.
 */
static bool
is_stray(struct broker *b, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (name[0] == '.' || strlen(name) > CUB_NAME_MAX ||
	    cube_known(b, name))
		return false;
	return !pin_path(b, path, sizeof(path), name, "prog") &&
	       !stat(path, &st) &&
	       !pin_path(b, path, sizeof(path), name, "cub_ports") &&
	       !stat(path, &st);
}

/* The strays, comma-separated into list (truncated); their number. */
static int
strays_list(struct broker *b, char *list, size_t len)
{
	struct dirent *de;
	size_t off = 0;
	DIR *d;
	int n = 0;

	list[0] = '\0';
	d = opendir(b->o.pin_root);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!is_stray(b, de->d_name))
			continue;
		if (off < len)
			off += (size_t)snprintf(list + off, len - off, "%s%s",
			    n ? ", " : "", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* Detach and unpin one stray cube. */
static void
stray_discard(struct broker *b, const char *name)
{
	struct bpf_prog_info pinfo = {0};
	struct bpf_map_info minfo = {0};
	__u32 plen = sizeof(pinfo), mlen = sizeof(minfo);
	char path[PATH_MAX];
	int fd, n, r;

	if (!pin_path(b, path, sizeof(path), name, "prog") &&
	    (fd = bpf_obj_get(path)) >= 0) {
		if (bpf_obj_get_info_by_fd(fd, &pinfo, &plen))
			pinfo.id = 0;
		close(fd);
	}
	if (!pin_path(b, path, sizeof(path), name, "cub_ports") &&
	    (fd = bpf_obj_get(path)) >= 0) {
		if (bpf_obj_get_info_by_fd(fd, &minfo, &mlen))
			minfo.id = 0;
		close(fd);
	}
	n = pinfo.id || minfo.id ? topo_detach_stray(pinfo.id, minfo.id) : 0;
	if ((r = bpfobj_unpin(b, name)))
		log_errno(r, "stray cube '%s': unpin", name);
	log_warn("stray cube '%s': pinned but not in the store; %d hook(s) "
		 "detached, pins removed",
	    name, n < 0 ? 0 : n);
}

/* Remove every stray: the pinned cubes the store does not know. */
static void
strays_discard(struct broker *b)
{
	char(*names)[CUB_NAME_MAX + 1] = NULL, (*more)[CUB_NAME_MAX + 1];
	struct dirent *de;
	size_t n = 0, cap = 0, i;
	DIR *d;

	d = opendir(b->o.pin_root);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!is_stray(b, de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			more = reallocarray(names, cap, sizeof(*names));
			if (!more)
				break;
			names = more;
		}
		/* is_stray() checked the length. */
		memcpy(names[n++], de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
	for (i = 0; i < n; i++)
		stray_discard(b, names[i]);
	free(names);
}

/*
 * Open the journal after the load (replay.last), and compact: a journal
 * that was replayed is folded into a new snapshot at once.
 */
static int
journal_start(struct broker *b, const struct store_replay *rep)
{
	char err[PATH_MAX + 128];
	int r;

	if ((r = store_journal_open(
		 &journal, b->store_path, rep->last, err, sizeof(err)))) {
		log_err("refusing to start: state store journal: %s", err);
		return r;
	}
	if (rep->torn) {
		log_warn("state store %s: dropped a torn last record (%llu "
			 "bytes at offset %llu): a change never acknowledged",
		    journal.path, (unsigned long long)rep->torn,
		    (unsigned long long)rep->torn_off);
		/* Cut off now: the next record must not follow it, even if
		 * the compaction below fails. */
		if (ftruncate(journal.fd, (off_t)rep->torn_off) ||
		    fdatasync(journal.fd)) {
			log_errno(-errno, "truncate %s", journal.path);
			journal.broken = true;
		} else {
			journal.bytes = rep->torn_off;
		}
	}
	if (!snap_exists)
		return 0;
	if (rep->applied || rep->torn || journal.bytes) {
		log_info("state store: %llu journal record(s) replayed; "
			 "compacting",
		    (unsigned long long)rep->applied);
		if ((r = save_snapshot(b, NULL, NULL)))
			log_warn("state store %s: compaction at start failed; "
				 "changes go on being journaled",
			    b->store_path);
	}
	return 0;
}

int
broker_load(struct broker *b)
{
	struct cub_val *doc = NULL, *m;
	const struct cub_val *cubes;
	struct cube **tail = &b->cubes;
	struct store_replay rep = {0};
	char err[PATH_MAX + 128], list[512];
	uint64_t seq = 0;
	struct stat st;
	uint32_t i;
	int r, n;

	meta = cub_val__map();
	if (!meta)
		return -ENOMEM;
	r = store_load(b->store_path, &doc, err, sizeof(err));
	if (r == -ENOENT) {
		n = strays_list(b, list, sizeof(list));
		if (n && !b->o.discard_strays) {
			log_err(
			    "refusing to start: the state store %s is "
			    "missing, but the pin root %s holds %d cube(s) "
			    "of an earlier run (%s) that only the store "
			    "describes: restore the store, or start once "
			    "with --discard-strays to detach and unpin them",
			    b->store_path, b->o.pin_root, n, list);
			return -EEXIST;
		}
		strays_discard(b);
		/*
		 * A journal without its snapshot belongs to a store that is
		 * gone (moved away to start empty): its records are not
		 * replayed onto another.  The first change writes a snapshot.
		 */
		store_journal_path(b->store_path, list, sizeof(list));
		if (!lstat(list, &st) && S_ISREG(st.st_mode) && st.st_size) {
			log_warn("state store %s is missing: its journal %s is "
				 "not replayed, and is emptied",
			    b->store_path, list);
			if (truncate(list, 0))
				log_errno(-errno, "truncate %s", list);
		}
		tcube_restore(b);
		return journal_start(b, &rep);
	}
	if (!r && cub_val__as_u64(cub_val__get(doc, "journal_seq"), &seq) &&
	    cub_val__get(doc, "journal_seq")) {
		snprintf(err, sizeof(err), "%s: journal_seq is not a number",
		    b->store_path);
		r = -EBADMSG;
	}
	if (!r)
		r = store_journal_replay(
		    b->store_path, doc, seq, &rep, err, sizeof(err));
	if (r) {
		cub_val__free(doc);
		log_err("refusing to start: state store unreadable: %s (move "
			"it away, and start with --discard-strays, to start "
			"empty)",
		    err);
		return r;
	}
	snap_exists = true;
	if (!stat(b->store_path, &st))
		snap_bytes = (uint64_t)st.st_size;
	services_load(b, cub_val__get(doc, "services"));
	cubes = cub_val__get(doc, "cubes");
	tcube_prepare(b, cubes);
	for (i = 0; cubes && cubes->kind == CUB_V_ARRAY && i < cubes->arr.len;
	     i++)
		if ((r = load_cube(b, cubes->arr.items[i], &tail)))
			log_errno(r, "state: cube record %u skipped", i);
		else if ((m = meta_of(cubes->arr.items[i])))
			cub_val__set(meta,
			    cub_val__get_str(cubes->arr.items[i], "name"), m);
	cub_val__free(doc);
	strays_discard(b);
	tcube_restore(b);
	return journal_start(b, &rep);
}

void
broker_store_close(struct broker *b)
{
	pthread_mutex_lock(&store_mu);
	if (journal.fd >= 0 && (journal.bytes || journal.broken || stale) &&
	    snap_exists && save_snapshot(b, NULL, NULL))
		log_warn("state store %s: no snapshot at stop; the journal "
			 "%s is replayed at the next start",
		    b->store_path, journal.path);
	store_journal_close(&journal);
	meta = cub_val__free(meta);
	pthread_mutex_unlock(&store_mu);
}
