// SPDX-License-Identifier: BSD-2-Clause
/*
 * The broker's state as a store document, and back:
 *   {version: 1, cubes: [{name, service, hash, config,
 *                         ports: [{name, peer, qdisc}],
 *                         attach: {target, rank, qdisc}}]}
 * config is the desired state; hash and ports are what the broker needs to
 * adopt the pinned objects and attachments after a restart.  Cubes of a
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
#include "cubicle/errors.h"
#include "log.h"
#include "names.h"

/*
 * Records kept untouched and saved again: cubes of services not present,
 * and records a load refused (a name taken twice).  Their names stay taken.
 */
static struct cub_val *orphans;

/* Does peer ("cube:port" or a netdev) name a port of cube gone? */
static bool
peer_of(const char *peer, const struct cube *gone)
{
	size_t n = gone ? strlen(gone->name) : 0;

	return peer && n && !strncmp(peer, gone->name, n) && peer[n] == ':';
}

/*
 * c's record; gone (NULL: none) is being deleted, and the peers of its
 * ports are left out, so that the save recording the deletion records
 * the unpeering too (topo_cube_gone() follows it in memory).
 */
static struct cub_val *
cube_record(struct cube *c, const struct cube *gone)
{
	struct cub_val *r = cub_val__map(), *ports = cub_val__array(), *p;
	const struct cub_val *cports;
	struct cub_val *config;
	struct bport *bp;
	uint32_t i;

	cub_val__set(r, "name", cub_val__str(c->name));
	cub_val__set(r, "service", cub_val__str(c->svc->name));
	cub_val__set(r, "hash", cub_val__uint(c->obj ? c->obj->hash : 0));
	config = cub_val__dup(c->stored_doc ? c->stored_doc : c->doc);
	cports = cub_val__get(config, "ports");
	for (i = 0; gone && cports && cports->kind == CUB_V_ARRAY &&
		    i < cports->arr.len;
	     i++)
		if (peer_of(cub_val__get_str(cports->arr.items[i], "peer"),
			gone))
			cub_val__del(cports->arr.items[i], "peer");
	cub_val__set(r, "config", config);
	for (bp = c->ports; bp; bp = bp->next) {
		p = cub_val__map();
		cub_val__set(p, "name", cub_val__str(bp->name));
		cub_val__set(p, "peer",
		    cub_val__str(peer_of(bp->peer, gone) ? "" : bp->peer));
		cub_val__set(p, "qdisc", cub_val__bool(bp->hook_created));
		cub_val__push(ports, p);
	}
	cub_val__set(r, "ports", ports);
	if ((p = tcube_record(c, gone)))
		cub_val__set(r, "attach", p);
	return r;
}

int
broker_save(struct broker *b, const struct cube *skip, struct cub_val **errv)
{
	struct cub_val *doc = cub_val__map(), *cubes = cub_val__array();
	struct cube *c;
	char err[PATH_MAX + 128];
	uint32_t i;
	int r;

	pthread_mutex_lock(&b->lock);
	for (c = b->cubes; c; c = c->next)
		if (c != skip && !c->stored_absent)
			cub_val__push(cubes, cube_record(c, skip));
	pthread_mutex_unlock(&b->lock);
	for (i = 0; orphans && i < orphans->arr.len; i++)
		cub_val__push(cubes, cub_val__dup(orphans->arr.items[i]));
	cub_val__set(doc, "version", cub_val__uint(1));
	cub_val__set(doc, "cubes", cubes);
	r = store_save(b->store_path, doc, err, sizeof(err));
	cub_val__free(doc);
	if (!r)
		return 0;
	log_err("state store %s: %s", b->store_path, err);
	if (errv)
		*errv = cub_err_val(CUB_E_KERNEL,
		    "state store %s: %s; the change was not made",
		    b->store_path, err);
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
	const struct cub_val *rp;
	const struct cub_val *cports;
	struct service *svc;
	struct bport *bp;
	struct cube *c;
	uint64_t hash = 0, idx;
	uint32_t i;
	bool qdisc;
	int r;

	if (!name || !svcname || !config || config->kind != CUB_V_MAP ||
	    strlen(name) > CUB_NAME_MAX)
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
	/* Adopt what is pinned: forwarding never stopped, and continues. */
	r = bpfobj_adopt(b, c, hash);
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

int
broker_load(struct broker *b)
{
	struct cub_val *doc = NULL;
	const struct cub_val *cubes;
	struct cube **tail = &b->cubes;
	char err[512], list[512];
	uint32_t i;
	int r, n;

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
		tcube_restore(b);
		return 0;
	}
	if (r) {
		log_err("refusing to start: state store unreadable: %s (move "
			"it away, and start with --discard-strays, to start "
			"empty)",
		    err);
		return r;
	}
	cubes = cub_val__get(doc, "cubes");
	tcube_prepare(b, cubes);
	for (i = 0; cubes && cubes->kind == CUB_V_ARRAY && i < cubes->arr.len;
	     i++)
		if ((r = load_cube(b, cubes->arr.items[i], &tail)))
			log_errno(r, "state: cube record %u skipped", i);
	cub_val__free(doc);
	strays_discard(b);
	tcube_restore(b);
	return 0;
}
