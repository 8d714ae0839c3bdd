// SPDX-License-Identifier: BSD-2-Clause
/*
 * The client API: decode, check, dispatch, answer.  Everything a client
 * sends is checked before it is acted on: frame shape (rpc.c), then the
 * size and types of the request's parts here, then the tree engine checks
 * the words and values against the service's schema.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "call.h"
#include "cleanup.h"
#include "counters.h"
#include "cub_config.h"
#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "log.h"
#include "names.h"

static const char *
word(const struct cubi_request *q, uint32_t i)
{
	return i < q->words->arr.len ? q->words->arr.items[i]->str.ptr : NULL;
}

/* Client connections, their caps and the reply path: clients.c. */

void
api_publish(struct broker *b, const char *event, struct cub_val *params,
    const char *owner)
{
	size_t tlen = strlen(event) + 1, len;
	char *msg;
	void *buf;

	if (cub_rpc__encode_notify(event, params, &buf, &len))
		return;
	/* The topic is the event name and a NUL, then the frame. */
	if ((msg = malloc(tlen + len))) {
		memcpy(msg, event, tlen);
		memcpy(msg + tlen, buf, len);
		clients_publish(b, msg, tlen + len, owner ? owner : "");
		free(msg);
	}
	free(buf);
}

/*
 * Who sent the request being served (api_serve() sets it around
 * on_request()): its connection's uid and role, and for a gateway's
 * request on behalf of a user ("as"), that user and the role vouched;
 * a tenant's request (its own connection's, or vouched by a gateway),
 * the tenant.  Per thread, like rid_clash.
 */
struct api_who {
	uint32_t uid;
	enum client_role conn_role;  /* of the connection */
	enum client_role role;       /* what the request may do */
	char user[CUB_NAME_MAX + 1]; /* vouched user, or "" */
	const struct tenant *tenant; /* ROLE_TENANT's */
};

static __thread const struct api_who *who;

const struct tenant *
api_tenant(void)
{
	return who && who->role == ROLE_TENANT ? who->tenant : NULL;
}

bool
api_sees(const struct cube *c)
{
	const struct tenant *t = api_tenant();

	return !t || !strcmp(c->owner, t->name);
}

int
api_netdev_granted(const char *ifname, struct cub_val **errv)
{
	const struct tenant *t = api_tenant();

	if (!t || tenant_netdev_ok(t, ifname))
		return 0;
	*errv = cub_err_val(CUB_E_PERM,
	    "netdev '%s' is not granted to tenant '%s' (--tenants: its "
	    "netdevs= patterns)",
	    ifname, t->name);
	return -EPERM;
}

/* cube_find() as the request's sender sees the cubes. */
static struct cube *
cube_seen(struct broker *b, const char *name)
{
	struct cube *c = cube_find(b, name);

	return c && api_sees(c) ? c : NULL;
}

/* Is s host-wide (its cubes on every netdev: iptables)? */
static bool
svc_hostwide(const struct service *s)
{
	return s->schema_wire ? s->hostwide : s->stored_hostwide;
}

static struct cub_val *
list_cubes(struct broker *b, struct service *only)
{
	struct cub_val *arr = cub_val__array(), *e;
	const struct cub_val *ports;
	struct cube *c;

	for (c = b->cubes; c; c = c->next) {
		if ((only && c->svc != only) || !api_sees(c))
			continue;
		ports = cub_val__get(c->doc, "ports");
		e = cub_val__map();
		cub_val__set(e, "name", cub_val__str(c->name));
		cub_val__set(e, "service", cub_val__str(c->svc->name));
		/* The tenant that made it, or "admin" (no tenant's name). */
		cub_val__set(
		    e, "owner", cub_val__str(c->owner[0] ? c->owner : "admin"));
		cub_val__set(e, "type", cub_val__str(hook_name(c->hook)));
		cub_val__set(e, "ports",
		    cub_val__uint(ports && ports->kind == CUB_V_ARRAY
				      ? ports->arr.len
				      : 0));
		if (c->refused)
			cub_val__set(e, "refused", cub_val__str(c->refused));
		/* Packet-in (slowpath.c): sent one way, and dropped. */
		cub_val__set(e, "pktin_sent",
		    cub_val__uint(__atomic_load_n(
			&c->pktin_sent, __ATOMIC_RELAXED)));
		cub_val__set(e, "pktin_dropped",
		    cub_val__uint(__atomic_load_n(
			&c->pktin_dropped, __ATOMIC_RELAXED)));
		/* Of those, over its tenant's pktin-pps (quota.c). */
		if (__atomic_load_n(&c->pktin_quota_dropped, __ATOMIC_RELAXED))
			cub_val__set(e, "pktin_quota_dropped",
			    cub_val__uint(__atomic_load_n(
				&c->pktin_quota_dropped, __ATOMIC_RELAXED)));
		/* A refused replay, retried (supervisor.c). */
		if (c->replay_wait_ms) {
			int64_t in = c->replay_next_ms - now_ms();

			cub_val__set(e, "replay",
			    cub_val__strf("refused (%s), retry in %lld s",
				c->replay_err,
				(long long)(in > 0 ? (in + 999) / 1000 : 0)));
		}
		cub_val__push(arr, e);
	}
	return arr;
}

/*
 * Why a service's worker is not running, or which of its cubes its
 * schema refused, for 'cubicle services': schema (the version accepted),
 * refused (cubes kept but refused), last_exit, last_error, next_retry_ms
 * (while a restart is due) and why (one line: what to do).
 */
/* What a tenant reads for a text that may name others' cubes. */
#define TENANT_TEXT_HIDDEN "an admin's 'cubicle services' says why"

static void
service_why(
    struct broker *b, struct service *s, unsigned nref, struct cub_val *e)
{
	char why[640], err[256], rerr[256], words[256];
	int64_t now = now_ms();
	bool reload;

	pthread_mutex_lock(&b->lock);
	snprintf(err, sizeof(err), "%s", s->last_error);
	snprintf(rerr, sizeof(rerr), "%s", s->reload_err);
	reload = s->reload;
	pthread_mutex_unlock(&b->lock);
	snprintf(words, sizeof(words), "%s", s->exit_words);
	if (api_tenant()) {
		/* The broker's and the worker's texts name any tenant's
		 * cubes: a tenant reads that there is one, not what. */
		words[0] = '\0';
		if (err[0])
			snprintf(err, sizeof(err), "%s", TENANT_TEXT_HIDDEN);
		if (rerr[0])
			snprintf(rerr, sizeof(rerr), "the last reload failed (%s)",
			    TENANT_TEXT_HIDDEN);
	}
	cub_val__set(e, "schema", cub_val__uint(s->schema_version));
	cub_val__set(e, "refused", cub_val__uint(nref));
	if (s->last_exit[0])
		cub_val__set(e, "last_exit", cub_val__str(s->last_exit));
	if (err[0])
		cub_val__set(e, "last_error", cub_val__str(err));
	if (!s->pid && !s->stopped)
		cub_val__set(e, "next_retry_ms",
		    cub_val__uint(s->next_start_ms > now
				      ? (uint64_t)(s->next_start_ms - now)
				      : 0));
	why[0] = '\0';
	if (rerr[0])
		cub_val__set(e, "reload_error", cub_val__str(rerr));
	if (reload)
		snprintf(why, sizeof(why), "reloading");
	else if (rerr[0] && s->ready)
		snprintf(why, sizeof(why),
		    "%.200s; serving schema v%u with the plugin it replaced",
		    rerr, s->schema_version);
	else if (rerr[0])
		snprintf(why, sizeof(why), "%.200s; %s", rerr,
		    s->stopped ? "stopped" : "restarting");
	else if (s->stopped)
		snprintf(why, sizeof(why),
		    "stopped after %u refused hellos: %s", SUP_HELLO_REFUSALS,
		    err[0] ? err : s->last_exit);
	else if (!s->ready && err[0])
		snprintf(why, sizeof(why), "%s", err);
	else if (!s->ready && s->last_exit[0] && words[0])
		snprintf(why, sizeof(why), "last worker %s; it said: \"%s\"",
		    s->last_exit, words);
	else if (!s->ready && s->last_exit[0])
		snprintf(why, sizeof(why), "last worker %s", s->last_exit);
	else if (nref)
		snprintf(why, sizeof(why),
		    "%u cube(s) refused by schema v%u, kept unchanged "
		    "(cubicle show cubes)",
		    nref, s->schema_version);
	if (why[0])
		cub_val__set(e, "why", cub_val__str(why));
}

static struct cub_val *
list_services(struct broker *b)
{
	struct cub_val *arr = cub_val__array(), *e;
	struct service *s;
	struct cube *c;
	uint64_t dropped, nsent, ndropped, nqueued, osent, odropped;
	unsigned n, nref, refusals;

	for (s = b->svcs; s; s = s->next) {
		osent = odropped = 0;
		for (n = 0, dropped = 0, c = b->cubes; c; c = c->next) {
			/* A tenant counts its own cubes only. */
			if (!api_sees(c))
				continue;
			n += c->svc == s;
			osent += c->svc == s ? __atomic_load_n(&c->pktout_sent,
						   __ATOMIC_RELAXED)
					     : 0;
			odropped += c->svc == s
					? __atomic_load_n(
					      &c->pktout_dropped, __ATOMIC_RELAXED)
					: 0;
			dropped += c->svc == s ? __atomic_load_n(&c->pktin_dropped,
						  __ATOMIC_RELAXED)
					    : 0;
		}
		for (nref = 0, c = b->cubes; c; c = c->next)
			nref += c->svc == s && c->refused && api_sees(c);
		e = cub_val__map();
		cub_val__set(e, "name", cub_val__str(s->name));
		pthread_mutex_lock(&b->lock);
		refusals = s->hello_refusals;
		pthread_mutex_unlock(&b->lock);
		cub_val__set(e, "status",
		    cub_val__str(s->ready     ? "running"
				 : s->stopped ? "stopped"
				 : refusals   ? "refused"
					      : "starting"));
		cub_val__set(e, "pid", cub_val__uint((uint64_t)s->pid));
		cub_val__set(e, "uid", cub_val__uint(s->uid));
		cub_val__set(e, "restarts", cub_val__uint(s->restarts));
		/* --unhardened-service: verified with CAP_PERFMON */
		cub_val__set(
		    e, "hardened", cub_val__bool(!bpfobj_unhardened(b, s)));
		cub_val__set(e, "cubes", cub_val__uint(n));
		cub_val__set(e, "queued", cub_val__uint(s->jq_len));
		cub_val__set(e, "worker_calls",
		    cub_val__uint(__atomic_load_n(
			&s->worker_calls, __ATOMIC_RELAXED)));
		cub_val__set(e, "doc_copies",
		    cub_val__uint(__atomic_load_n(
			&s->doc_copies, __ATOMIC_RELAXED)));
		cub_val__set(e, "pktin_dropped", cub_val__uint(dropped));
		cub_val__set(e, "pktout_sent", cub_val__uint(osent));
		cub_val__set(e, "pktout_dropped", cub_val__uint(odropped));
		netmon_service_stats(s, &nsent, &ndropped, &nqueued);
		cub_val__set(e, "netdev_sent", cub_val__uint(nsent));
		cub_val__set(e, "netdev_dropped", cub_val__uint(ndropped));
		cub_val__set(e, "netdev_queued", cub_val__uint(nqueued));
		service_why(b, s, nref, e);
		cub_val__push(arr, e);
	}
	return arr;
}

static void
kw(struct cub_val *arr, const char *name, const char *kind, const char *help)
{
	struct cub_val *e = cub_val__map();

	cub_val__set(e, "name", cub_val__str(name));
	cub_val__set(e, "kind", cub_val__str(kind));
	cub_val__set(e, "type", cub_val__str(""));
	cub_val__set(e, "help", cub_val__str(help));
	cub_val__push(arr, e);
}

/* connect ? and disconnect ?: the two ends they take. */
static struct cub_val *
graph_help(const char *verb)
{
	struct cub_val *h = cub_val__map(), *k = cub_val__array();
	char ex[96];

	kw(k, "<cube>:<port>", "end", "a port of a cube");
	kw(k, "<netdev>", "end",
	    "a netdev (at most 15 characters); the other end is then a cube "
	    "port");
	snprintf(ex, sizeof(ex), "cubicle %s sf1:p2 sf2:p1", verb);
	cub_val__set(h, "path", cub_val__str(verb));
	cub_val__set(h, "keywords", k);
	cub_val__set(h, "example", cub_val__str(ex));
	return h;
}

static struct cub_val *
top_help(struct broker *b)
{
	struct cub_val *h = cub_val__map(), *k = cub_val__array();
	struct service *s;
	struct cube *c;
	char help[96];

	kw(k, "show", "verb",
	    "show cubes | show services | show tenants (their use against "
	    "their quotas)");
	kw(k, "cubes", "verb", "list every cube");
	kw(k, "services", "verb",
	    "list services and their workers | services reload <service>: "
	    "take the schema and policy of its reinstalled plugin (admin)");
	kw(k, CUBI_W_NETDEVS, "verb",
	    "netdevs show: every netdev, its MAC, mtu, state, addresses "
	    "and the cube ports using it");
	kw(k, "connect", "verb",
	    "connect <cube>:<port> <cube>:<port> | <cube>:<port> <netdev>");
	kw(k, "disconnect", "verb",
	    "disconnect <cube>:<port> <cube>:<port> | <cube>:<port> <netdev>");
	kw(k, "attach", "verb",
	    "attach <cube> <netdev> [position=first|last | before=<cube> | "
	    "after=<cube>]: a transparent cube");
	kw(k, "detach", "verb", "detach <cube> <netdev>");
	kw(k, "topology", "verb",
	    "topology show [<netdev>]: cubes, ports, peers and the "
	    "transparent stacks");
	kw(k, CUBI_W_CUBE, "verb",
	    "cube <name> ...: any cube by name, even a reserved one");
	for (s = b->svcs; s; s = s->next) {
		snprintf(help, sizeof(help),
		    "service: add <name> to create a "
		    "cube");
		kw(k, s->name, "service", help);
	}
	for (c = b->cubes; c; c = c->next) {
		if (!api_sees(c))
			continue;
		snprintf(help, sizeof(help), "%s cube", c->svc->name);
		kw(k, c->name, "cube", help);
	}
	cub_val__set(h, "path", cub_val__str(""));
	cub_val__set(h, "keywords", k);
	cub_val__set(h, "example",
	    cub_val__str("cubicle simpleforwarder add "
			 "sf1"));
	return h;
}

/*
 * The ro fields of a show, as SHOW_OVERLAYS overlays: port status and the
 * service's bound counters (counters.c), both read by the broker, and the
 * worker's answer to a show of config (taken: the part shown, from
 * cubi_tree__read(), or the whole document).  The worker is asked only
 * when the service has ro fields no counter binding covers; without its
 * worker (restarting) such a show would silently lack them: it is refused
 * instead, and the client can retry.
 */
#define SHOW_OVERLAYS 3

/*
 * A show's config that would not fit one message (a router's 100k
 * routes, the whole document a show of a shown list carries): its lists
 * of more than SHOW_TRIM_ENTRIES entries, at the root or in a container
 * under it, are sent empty, so that the show reaches the worker at all
 * (it reads its own maps for what such lists hold; the worker's config
 * is a courtesy there).  Below the cap the config goes whole.
 */
#define SHOW_TRIM_ENTRIES 1024

static void
show_trim_map(struct cub_val *m, int depth)
{
	struct cub_val *v;
	uint32_t i;

	for (i = 0; m && m->kind == CUB_V_MAP && i < m->map.len; i++) {
		v = m->map.items[i].val;
		if (v->kind == CUB_V_ARRAY && v->arr.len > SHOW_TRIM_ENTRIES &&
		    strcmp(m->map.items[i].key, "ports"))
			cub_val__set(m, m->map.items[i].key, cub_val__array());
		else if (v->kind == CUB_V_MAP && depth < 2)
			show_trim_map(v, depth + 1);
	}
}

static void
show_trim(struct cub_val *config)
{
	uint64_t bytes = 0, elems = 0;

	cub_val__cost(config, &bytes, &elems);
	if (bytes > CUB_MSG_MAX / 2 || elems > CUB_ELEMS_MAX / 2)
		show_trim_map(config, 0);
}

static int
show_overlays(struct broker *b, struct cube *c, struct cub_val *config,
    const struct cub_val *words, struct cub_val *ovs[SHOW_OVERLAYS],
    struct cub_val **errv)
{
	const struct cub_val *ports = cub_val__get(c->doc, "ports");
	struct cub_val *p, *ov = NULL, *e2 = NULL, *st, *sports;
	const char *name;
	struct bport *bp;
	uint32_t i;

	/* Port status, from the broker: {ports: [{name, status}]}. */
	st = cub_val__map();
	sports = cub_val__array();
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		name = cub_val__get_str(ports->arr.items[i], "name") ?: "";
		bp = topo_port(c, name);
		p = cub_val__map();
		cub_val__set(p, "name", cub_val__str(name));
		cub_val__set(p, "status",
		    cub_val__str(bp && bp->ifindex && netmon_up(b, bp->ifindex)
				     ? "UP"
				     : "DOWN"));
		cub_val__push(sports, p);
	}
	cub_val__set(st, "ports", sports);
	ovs[0] = st;
	ovs[1] = counters_overlay(b, c, config);
	ovs[2] = NULL;
	if (!counters_worker_show(c->svc->counters)) {
		cub_val__free(config);
		return 0;
	}
	show_trim(config);
	p = cub_val__map();
	cub_val__set(p, "cube", cub_val__str(c->name));
	cub_val__set(p, "config", config);
	/* The request's words after the cube's name: what is shown, when
	 * config is the whole document (cub_cube__show_words()). */
	if (words)
		cub_val__set(p, "words", cub_val__dup(words));
	if (sup_call(
		c->svc, CUB_M_CUBE_SHOW, p, &ov, &e2, b->o.call_timeout_ms)) {
		const char *msg;
		int code = cub_err_parse(e2, &msg);
		char pre[CUB_NAME_MAX + 16];

		/* The worker's own refusal of the words (a metric it does
		 * not have) is the client's error, not an outage to retry. */
		snprintf(pre, sizeof(pre), "cube '%s': ", c->name);
		if (code == CUB_E_NOTFOUND || code == CUB_E_INVAL ||
		    code == CUB_E_VERB || code == CUB_E_TOOBIG ||
		    code == CUB_E_LIMIT)
			*errv = cub_err_val(code, "%s%s",
			    strncmp(msg, pre, strlen(pre)) ? pre : "", msg);
		else
			*errv = cub_err_val(CUB_E_UNAVAIL,
			    "cube '%s': counters and state unavailable: %s",
			    c->name, msg);
		cub_val__free(e2);
		ovs[0] = cub_val__free(ovs[0]);
		ovs[1] = cub_val__free(ovs[1]);
		return -EAGAIN;
	}
	if (ov && ov->kind != CUB_V_MAP)
		ov = cub_val__free(ov);
	ovs[2] = ov;
	return 0;
}

/* A whole-document copy with the ro fields, for shows inside read-only
 * lists (cubi_tree__read() hands those back). */
static struct cub_val *
doc_for_show(struct broker *b, struct cube *c, const struct cub_val *words,
    struct cub_val **errv)
{
	struct cub_val *doc, *ovs[SHOW_OVERLAYS];
	uint32_t i;

	cube_copied(c);
	cube_copied(c);
	if (show_overlays(b, c, cub_val__dup(c->doc), words, ovs, errv))
		return NULL;
	doc = cub_val__dup(c->doc);
	for (i = 0; doc && i < SHOW_OVERLAYS; i++)
		if (ovs[i])
			cubi_tree__merge_overlay(c->svc->schema, doc, ovs[i]);
	for (i = 0; i < SHOW_OVERLAYS; i++)
		cub_val__free(ovs[i]);
	return doc;
}

/* The cached answer whose rid the request being served reuses for a
 * different request (api_serve() sets it around on_request()).  Per
 * thread: another request thread runs while this one waits for its
 * worker. */
static __thread const struct rid_entry *rid_clash;

/*
 * A change in progress holds its rid from mutating() until its answer is
 * cached: any request that reuses that rid meanwhile is refused.  A
 * resend of the same request does not meet its original in progress: it
 * routes to the same request thread, which runs one request at a time in
 * order, so it runs after the original's answer is cached and gets it
 * (were it to, it would be refused like any other, and answered from the
 * cache when resent).  The entries live in api_serve()'s frame, which
 * spans the whole request; the list is guarded by b->state_lock.
 */
struct rid_pending {
	const char *rid;
	const struct tenant *tenant; /* whose id (rid_find()) */
	bool linked; /* in rid_pendings: its rid is reserved */
	struct rid_pending *next;
};

static struct rid_pending *rid_pendings;
static __thread struct rid_pending *rid_self;

/* Reserve the rid of the change being served, before it does anything. */
static int
rid_reserve(struct cubi_request *q, struct cub_val **errv)
{
	struct rid_pending *me = rid_self, *p;

	if (!me || me->linked)
		return 0;
	for (p = rid_pendings;
	     p && (p->tenant != me->tenant || strcmp(p->rid, q->rid));
	     p = p->next)
		;
	if (p) {
		*errv = cub_err_val(CUB_E_EXISTS,
		    "request id '%s' already names another request, still in "
		    "progress; a new request needs a new id",
		    q->rid);
		return -EEXIST;
	}
	me->linked = true;
	me->next = rid_pendings;
	rid_pendings = me;
	return 0;
}

/* The change me has its answer cached: its rid is free. */
static void
rid_release(struct rid_pending *me)
{
	struct rid_pending **pp;

	for (pp = &rid_pendings; *pp; pp = &(*pp)->next)
		if (*pp == me) {
			*pp = me->next;
			break;
		}
	me->linked = false;
}

/* The request being served, whose answer a handler may send later
 * itself (taken set: api_serve() sends none).  Per thread. */
struct api_defer {
	const struct client_req *req;
	uint32_t msgid;
	bool taken;
};

static __thread struct api_defer *defer;

static const char *const role_names[] = {
    [ROLE_ADMIN] = "admin",
    [ROLE_READER] = "reader",
    [ROLE_GATEWAY] = "gateway",
    [ROLE_TENANT] = "tenant",
};

/* The request's words and string args, for messages (the words are
 * names and keywords; values are printable, or shown as '?'):
 * "sf1 ports p1 set action=drop". */
static void
words_text(const struct cubi_request *q, char *buf, size_t len)
{
	const struct cub_val *v;
	size_t n = 0, k;
	uint32_t i;

	buf[0] = '\0';
	for (i = 0; i < q->words->arr.len && n + 1 < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "",
		    word(q, i));
	for (i = 0; q->args && i < q->args->map.len && n + 1 < len; i++) {
		v = q->args->map.items[i].val;
		n += (size_t)snprintf(buf + n, len - n, " %s=%s",
		    q->args->map.items[i].key,
		    v->kind == CUB_V_STR ? v->str.ptr : "?");
	}
	if (n >= len)
		n = len - 1;
	/* Whatever a client sent goes into logs: no control bytes. */
	for (k = 0; k < n; k++)
		if ((unsigned char)buf[k] < ' ' || buf[k] == 0x7f)
			buf[k] = '?';
}

/*
 * The cube's log says who changes it, as the broker's log does: the
 * client's uid and role, and for a gateway's request the user it vouched
 * for and that user's role; before the change, so that the worker's line
 * about it follows (a refusal by the worker or the kernel then adds a
 * "refused" line; one by the tree engine reaches no cube and logs none).
 */
static void
log_changer(struct cube *c, const struct cubi_request *q)
{
	char what[CUBELOG_TEXT_MAX];

	if (!who)
		return;
	words_text(q, what, sizeof(what));
	if (who->user[0])
		cubelog_broker_line(c, CUB_LOG_INFO,
		    "request by client uid %" PRIu32 " (role gateway) on behalf "
		    "of user '%s' (role %s): %s",
		    who->uid, who->user, role_names[who->role], what);
	else if (who->tenant)
		cubelog_broker_line(c, CUB_LOG_INFO,
		    "request by client uid %" PRIu32 " (tenant '%s'): %s",
		    who->uid, who->tenant->name, what);
	else
		cubelog_broker_line(c, CUB_LOG_INFO,
		    "request by client uid %" PRIu32 " (role %s): %s", who->uid,
		    role_names[who->conn_role], what);
}

/*
 * Only an admin (root, --admin-group, or a gateway's request vouched as
 * admin) changes state, and a tenant its own cubes (the handlers find
 * only those for it); readers and gateways read.  admin_only: what only
 * an admin may do, a tenant neither (services reload).
 */
static int
change_allowed(
    const struct cubi_request *q, bool admin_only, struct cub_val **errv)
{
	char what[128];

	if (!who || who->role == ROLE_ADMIN ||
	    (who->role == ROLE_TENANT && !admin_only))
		return 0;
	words_text(q, what, sizeof(what));
	if (who->role == ROLE_TENANT) {
		*errv = cub_err_val(CUB_E_PERM,
		    "client uid %" PRIu32 " (tenant '%s') may not '%s': it "
		    "needs role admin (root or --admin-group)",
		    who->uid, who->tenant->name, what);
		return -EPERM;
	}
	if (who->user[0])
		*errv = cub_err_val(CUB_E_PERM,
		    "client uid %" PRIu32 " (role gateway) on behalf of user "
		    "'%s' (role %s) may not '%s': changes need role admin",
		    who->uid, who->user, role_names[who->role], what);
	else
		*errv = cub_err_val(CUB_E_PERM,
		    "client uid %" PRIu32 " (role %s) may not '%s': changes "
		    "need role admin (root or --admin-group)",
		    who->uid, role_names[who->conn_role], what);
	return -EPERM;
}

static int
may_change(const struct cubi_request *q, struct cub_val **errv)
{
	return change_allowed(q, false, errv);
}

/*
 * A request that changes state must carry a request id, so that a resend
 * (nng REQ resends after a reconnect) is answered, not applied again.  A
 * rid names one request: a change that reuses the rid of a different one
 * is refused before it does anything.
 */
static int
mutating(struct cubi_request *q, struct cub_val **errv)
{
	int r;

	if ((r = may_change(q, errv)))
		return r;
	q->mutating = true;
	if (q->rid && rid_clash) {
		*errv = cub_err_val(CUB_E_EXISTS,
		    "request id '%s' already names another request; a new "
		    "request needs a new id",
		    q->rid);
		return -EEXIST;
	}
	if (q->rid)
		return rid_reserve(q, errv);
	*errv = cub_err_val(CUB_E_MISSING,
	    "a request that changes state needs a request id ('rid')");
	return -EINVAL;
}

static int
on_cube(struct broker *b, struct cube *c, struct cubi_request *q,
    struct cub_val **result, struct cub_val **errv)
{
	struct cubi_result res = {0};
	struct cub_val *rest = cub_val__array(), *work = NULL, *p;
	struct cub_val *ovs[SHOW_OVERLAYS], *where = NULL, *oldports = NULL;
	struct service *s = c->svc;
	bool in_place = false;
	uint32_t i;
	int r;

	/* The cube's log is the framework's, whatever the service. */
	if (q->words->arr.len >= 2 && !strcmp(word(q, 1), "log")) {
		cub_val__free(rest);
		if (q->args && q->args->kind == CUB_V_MAP && q->args->map.len) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "cube '%s': log show takes no key=value arguments "
			    "(set the level with '%s set loglevel=...')",
			    c->name, c->name);
			return -EINVAL;
		}
		return cubelog_show(b, c, q->words, result, errv);
	}
	if (!s->schema) {
		cub_val__free(rest);
		*errv = cub_err_val(
		    CUB_E_UNAVAIL, "service '%s' has not started yet", s->name);
		return -EAGAIN;
	}
	if (c->refused) {
		/* Kept as it was: shown as stored, or deleted. */
		uint32_t nw = q->words->arr.len;

		cub_val__free(rest);
		if (nw == 1 || (nw == 2 && !strcmp(word(q, 1), "show"))) {
			*result = cub_val__dup(c->doc);
			return 0;
		}
		if (nw == 2 && !strcmp(word(q, 1), "del")) {
			if ((r = mutating(q, errv)))
				return r;
			return cube_delete(b, c, errv);
		}
		*errv = cub_err_val(CUB_E_REFUSED,
		    "cube '%s' is %s; it is kept as stored and its program "
		    "still runs: show it, delete it, or install a plugin "
		    "whose schema takes it and run 'cubicle services reload "
		    "%s'",
		    c->name, c->refused, s->name);
		return -EPERM;
	}
	for (i = 1; i < q->words->arr.len; i++)
		cub_val__push(rest, cub_val__str(word(q, i)));
	/*
	 * Reads run on the document itself, and so do changes: in place,
	 * with the undo record that puts it back on any refusal
	 * (cube_change()), and res says what changed, for the worker's
	 * cube.change and the store's journal.  What a refusal needs of
	 * the document before is kept, small: its ports, and a del's
	 * entry's place.
	 */
	r = cubi_tree__read(
	    s->schema, c->doc, rest, q->args, NULL, 0, &res, errv);
	if (r == CUBI_NEEDS_COPY) {
		if (res.verb == CUBI_DEL)
			where = broker_journal_where(c, CUBI_DEL, rest);
		cubi_result__clear(&res);
		p = (struct cub_val *)cub_val__get(c->doc, "ports");
		if (p && !(oldports = cub_val__dup(p))) {
			*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
			r = -ENOMEM;
			goto out;
		}
		in_place = true;
		r = cubi_tree__change(
		    s->schema, c->doc, rest, q->args, q->body, &res, errv);
		if (!r && res.copied)
			cube_copied(c); /* the undo record holds the node */
	}
	if (r)
		goto out;
	if (res.del_cube) {
		if ((r = mutating(q, errv)))
			goto out;
		r = cube_delete(b, c, errv);
		goto out;
	}
	switch (res.verb) {
	case CUBI_SHOW:
		if (!in_place && !res.want_overlay) {
			*result = TAKE_PTR(res.reply);
			break;
		}
		if (!in_place) {
			/* Ro fields: the worker shows the part shown only,
			 * and its overlay is merged into that part. */
			p = TAKE_PTR(res.scope);
			cubi_result__clear(&res);
			if ((r = show_overlays(b, c, p, rest, ovs, errv)))
				break;
			r = cubi_tree__read(s->schema, c->doc, rest, q->args,
			    (const struct cub_val *const *)ovs, SHOW_OVERLAYS,
			    &res, errv);
			for (i = 0; i < SHOW_OVERLAYS; i++)
				cub_val__free(ovs[i]);
			if (!r)
				*result = TAKE_PTR(res.reply);
			break;
		}
		/* Inside a read-only list: resolve the words again on a copy
		 * of the document with the ro fields. */
		cubi_result__clear(&res);
		work = doc_for_show(b, c, rest, errv);
		if (!work) {
			r = -EAGAIN;
			break;
		}
		r = cubi_tree__apply(
		    s->schema, work, rest, q->args, q->body, &res, errv);
		if (!r)
			*result = TAKE_PTR(res.reply);
		break;
	case CUBI_HELP:
		*result = TAKE_PTR(res.reply);
		/* The cube's own words: the framework's log too. */
		if (rest->arr.len == 1 &&
		    (p = (struct cub_val *)cub_val__get(*result, "keywords")) &&
		    p->kind == CUB_V_ARRAY)
			kw(p, "log", "verb",
			    "log show: the cube's recent log lines (its "
			    "worker's and its programs'), at its loglevel");
		break;
	case CUBI_ACTION:
		if ((r = mutating(q, errv)))
			break;
		p = cub_val__map();
		cub_val__set(p, "cube", cub_val__str(c->name));
		cub_val__set(p, "path", TAKE_PTR(res.action_path));
		cub_val__set(p, "action", cub_val__str(res.action));
		cub_val__set(p, "args",
		    res.action_args ? TAKE_PTR(res.action_args)
				    : cub_val__map());
		/* The cube's document as it is now, for a plugin that asked
		 * (action_config): a copy, as the lock is dropped meanwhile. */
		if (s->action_config) {
			cube_copied(c);
			cub_val__set(p, "config", cub_val__dup(c->doc));
		}
		r = sup_call(s, CUB_M_CUBE_ACTION, p, result, errv,
		    b->o.call_timeout_ms);
		break;
	default:
		if ((r = mutating(q, errv))) {
			cubi_tree__undo(&res);
			break;
		}
		if (!res.changed)
			break;
		log_changer(c, q);
		r = cube_change(
		    b, c, &res, rest, where, TAKE_PTR(oldports), errv);
		if (r) {
			const char *msg = NULL;

			cub_err_parse(*errv, &msg);
			cubelog_broker_line(c, CUB_LOG_WARN, "refused: %s",
			    msg ? msg : "(no message)");
		}
		break;
	}
out:
	cubi_result__clear(&res);
	cub_val__free(work);
	cub_val__free(where);
	cub_val__free(oldports);
	cub_val__free(rest);
	return r;
}

static int on_cube_from(struct broker *b, struct cube *c,
    struct cubi_request *q, uint32_t from, struct cub_val **result,
    struct cub_val **errv);

static int
on_service(struct broker *b, struct service *s, struct cubi_request *q,
    struct cub_val **result, struct cub_val **errv)
{
	const char *verb = word(q, 1);
	struct cube *c;
	uint32_t n = q->words->arr.len;
	int r;

	/* Host-wide services act on every netdev, every tenant's. */
	if (api_tenant() && svc_hostwide(s)) {
		*errv = cub_err_val(CUB_E_PERM,
		    "service '%s' is host-wide (its cubes sit on every "
		    "netdev): admin only; tenant '%s' may not use it",
		    s->name, api_tenant()->name);
		return -EPERM;
	}
	if (!s->schema) {
		*errv = cub_err_val(
		    CUB_E_UNAVAIL, "service '%s' has not started yet", s->name);
		return -EAGAIN;
	}
	if (!verb || !strcmp(verb, "show")) {
		*result = list_cubes(b, s);
		return 0;
	}
	if (!strcmp(verb, "?") || !strcmp(verb, "help")) {
		*result = cubi_tree__service_help(s->schema, s->name);
		return 0;
	}
	if (!strcmp(verb, "add") || !strcmp(verb, "del")) {
		if (n != 3) {
			*errv = cub_err_val(CUB_E_MISSING,
			    "usage: %s %s <name>%s", s->name, verb,
			    verb[0] == 'a' ? " [field=value ...]" : "");
			return -EINVAL;
		}
		if ((r = mutating(q, errv)))
			return r;
		if (verb[0] == 'a')
			return cube_create(
			    b, s, word(q, 2), q->args, q->body, errv);
		c = cube_seen(b, word(q, 2));
		if (!c || c->svc != s) {
			*errv = cub_err_val(CUB_E_NOTFOUND,
			    "no %s cube named '%s'", s->name, word(q, 2));
			return -ENOENT;
		}
		return cube_delete(b, c, errv);
	}
	/* <service> schema: {base, service}, the base cube fields and the
	 * service's schema in wire form (the gateway's /openapi.json and
	 * REST paths). */
	if (!strcmp(verb, "schema") && n == 2) {
		*result = cub_val__map();
		if (*result &&
		    (cub_val__set(*result, "base", cubi_tree__base_wire()) ||
			cub_val__set(*result, "service",
			    s->schema_wire ? cub_val__dup(s->schema_wire)
					   : cub_val__array())))
			*result = cub_val__free(*result);
		if (!*result) {
			*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	/* <service> <cube> [words...]: polycubectl's service prefix (the
	 * gateway's /polycube/v1/<service>/<cube>/...): the cube's words,
	 * only if the cube is of that service. */
	if ((c = cube_seen(b, verb))) {
		if (c->svc != s) {
			*errv = cub_err_val(CUB_E_NOTFOUND,
			    "no %s cube named '%s' (it is a %s cube)",
			    s->name, verb, c->svc->name);
			return -ENOENT;
		}
		return on_cube_from(b, c, q, 1, result, errv);
	}
	*errv = cub_err_val(CUB_E_VERB,
	    "'%s' is neither a command of service '%s' (try add, del, show "
	    "or ?) nor one of its cubes",
	    verb, s->name);
	return -EINVAL;
}

/*
 * cube <name> [words...]: the cube named <name>, whatever the name, so a
 * cube stored under a name that is now reserved (a built-in word or a
 * service, after an upgrade) stays reachable.
 */
static int
on_cube_escape(struct broker *b, struct cubi_request *q,
    struct cub_val **result, struct cub_val **errv)
{
	struct cube *c;

	if (q->words->arr.len < 2) {
		*errv = cub_err_val(CUB_E_MISSING,
		    "usage: cube <name> [words...] (reaches a cube by name, "
		    "even one named like a built-in word)");
		return -EINVAL;
	}
	c = cube_seen(b, word(q, 1));
	if (!c) {
		*errv = cub_err_val(
		    CUB_E_NOTFOUND, "no cube named '%s'", word(q, 1));
		return -ENOENT;
	}
	return on_cube_from(b, c, q, 1, result, errv);
}

/* Cube c's request, its words from word from (its name) on. */
static int
on_cube_from(struct broker *b, struct cube *c, struct cubi_request *q,
    uint32_t from, struct cub_val **result, struct cub_val **errv)
{
	struct cubi_request sub = *q;
	struct cub_val *words;
	uint32_t i;
	int r;

	words = cub_val__array();
	for (i = from; words && i < q->words->arr.len; i++)
		if (cub_val__push(words, cub_val__str(word(q, i))))
			words = cub_val__free(words);
	if (!words) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	sub.words = words;
	r = on_cube(b, c, &sub, result, errv);
	q->mutating = sub.mutating;
	cub_val__free(words);
	return r;
}

/* netdevs [show | stats | ?] and show netdevs (netmon.c). */
static int
on_netdevs(struct broker *b, struct cubi_request *q, struct cub_val **result,
    struct cub_val **errv)
{
	uint32_t nw = q->words->arr.len;
	const char *verb = nw < 2 ? "show" : word(q, 1);
	struct cub_val *h, *k;

	if (!strcmp(word(q, 0), "show"))
		verb = nw == 2 ? "show" : "";
	if (nw <= 2 && (!strcmp(verb, "?") || !strcmp(verb, "help"))) {
		h = cub_val__map();
		k = cub_val__array();
		kw(k, "show", "verb",
		    "every netdev: name, ifindex, mac, mtu, state, addresses, "
		    "used_by");
		kw(k, "stats", "verb",
		    "the table's counts: netdevs, rtnetlink overruns");
		cub_val__set(h, "path", cub_val__str(CUBI_W_NETDEVS));
		cub_val__set(h, "keywords", k);
		cub_val__set(h, "example", cub_val__str("cubicle netdevs show"));
		*result = h;
		return 0;
	}
	if (nw > 2 || (strcmp(verb, "show") && strcmp(verb, "stats"))) {
		*errv = cub_err_val(CUB_E_VERB,
		    "netdevs: expected 'netdevs show' or 'netdevs stats', got "
		    "'%s'",
		    nw > 2 ? word(q, 2) : verb);
		return -EINVAL;
	}
	if (q->body || (q->args && q->args->kind == CUB_V_MAP &&
			   q->args->map.len)) {
		*errv = cub_err_val(
		    CUB_E_INVAL, "netdevs %s takes no arguments", verb);
		return -EINVAL;
	}
	if (!strcmp(verb, "stats")) {
		*result = netmon_stats(b);
		return 0;
	}
	return netmon_show(b, q->words, result, errv);
}

/*
 * services reload <service> (admin): its worker restarts, and the schema
 * and policy its plugin file declares now become the service's; every
 * stored cube is checked against them (supervisor.c sup_reload()).  The
 * answer comes after the replay: the cubes taken and those refused.
 */
static int
on_reload(struct broker *b, struct cubi_request *q, struct cub_val **errv)
{
	struct service *s;
	int r;

	if (q->words->arr.len != 3 || !strcmp(word(q, 2), "?")) {
		*errv = cub_err_val(CUB_E_MISSING,
		    "usage: services reload <service> (takes the schema and "
		    "policy of its reinstalled plugin; cubicle services lists "
		    "them)");
		return -EINVAL;
	}
	if (q->body ||
	    (q->args && q->args->kind == CUB_V_MAP && q->args->map.len)) {
		*errv = cub_err_val(
		    CUB_E_INVAL, "services reload takes no arguments");
		return -EINVAL;
	}
	if ((r = change_allowed(q, true, errv)))
		return r;
	if (!(s = svc_find(b, word(q, 2)))) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "no service named '%s' (cubicle services lists them)",
		    word(q, 2));
		return -ENOENT;
	}
	if (!defer) {
		*errv = cub_err_val(CUB_E_INTERNAL, "reload outside a request");
		return -EINVAL;
	}
	if ((r = sup_reload(b, s, defer->req, defer->msgid, errv)))
		return r;
	defer->taken = true;
	return 0;
}

static int
on_request(struct broker *b, struct cubi_request *q, struct cub_val **result,
    struct cub_val **errv)
{
	const char *w0 = word(q, 0), *w1 = word(q, 1);
	struct service *s;
	struct cube *c;
	int r;

	if (!w0 || !strcmp(w0, "?") || !strcmp(w0, "help")) {
		*result = top_help(b);
		return 0;
	}
	if ((!strcmp(w0, "cubes") && (!w1 || !strcmp(w1, "show"))) ||
	    (!strcmp(w0, "show") && w1 && !strcmp(w1, "cubes"))) {
		*result = list_cubes(b, NULL);
		return 0;
	}
	/* Tenants' use against their quotas (quota.c); a tenant: its own. */
	if (!strcmp(w0, "show") && w1 && !strcmp(w1, "tenants")) {
		*result = quota_show(b);
		return 0;
	}
	if (!strcmp(w0, "services") && w1 && !strcmp(w1, "reload"))
		return on_reload(b, q, errv);
	if ((!strcmp(w0, "services") && (!w1 || !strcmp(w1, "show"))) ||
	    (!strcmp(w0, "show") && w1 && !strcmp(w1, "services"))) {
		*result = list_services(b);
		return 0;
	}
	if (!strcmp(w0, CUBI_W_NETDEVS) ||
	    (!strcmp(w0, "show") && w1 && !strcmp(w1, CUBI_W_NETDEVS)))
		return on_netdevs(b, q, result, errv);
	if (!strcmp(w0, CUBI_W_CUBE))
		return on_cube_escape(b, q, result, errv);
	/* show topology [netdev] | topology [show] [netdev] */
	if ((!strcmp(w0, "show") && w1 && !strcmp(w1, "topology")) ||
	    !strcmp(w0, "topology")) {
		uint32_t n = q->words->arr.len, i = 1;

		if (!strcmp(w0, "topology") && w1 && !strcmp(w1, "show"))
			i = 2;
		else if (!strcmp(w0, "show"))
			i = 2;
		if (n > i + 1) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "usage: show topology [<netdev>]");
			return -EINVAL;
		}
		return tcube_topology(
		    b, n == i + 1 ? word(q, i) : NULL, result, errv);
	}
	if (!strcmp(w0, "attach") || !strcmp(w0, "detach")) {
		if ((r = mutating(q, errv)))
			return r;
		if (q->body) {
			*errv =
			    cub_err_val(CUB_E_INVAL, "%s takes no body", w0);
			return -EINVAL;
		}
		return tcube_attach_cmd(
		    b, q->words, q->args, w0[0] == 'a', errv);
	}
	if (!strcmp(w0, "connect") || !strcmp(w0, "disconnect")) {
		if (w1 && q->words->arr.len == 2 &&
		    (!strcmp(w1, "?") || !strcmp(w1, "help"))) {
			*result = graph_help(w0);
			return 0;
		}
		if ((r = mutating(q, errv)))
			return r;
		if (q->body) {
			*errv =
			    cub_err_val(CUB_E_INVAL, "%s takes no body", w0);
			return -EINVAL;
		}
		return graph_connect(b, q->words, q->args, w0[0] == 'c', errv);
	}
	/* Built-in words, then services, then cubes: a cube stored under a
	 * name that became reserved is reached as 'cube <name> ...'. */
	if ((s = svc_find(b, w0)))
		return on_service(b, s, q, result, errv);
	if ((c = cube_seen(b, w0)))
		return on_cube(b, c, q, result, errv);
	*errv = cub_err_val(CUB_E_NOTFOUND,
	    "no cube or service named '%s' (cubicle ? lists them)", w0);
	return -ENOENT;
}

/*
 * Answers to mutating requests, by request id, so a resend is not
 * applied twice.  Each answer is kept with a hash of the request it
 * answers (method and params but the rid): only the same request gets it.
 */
static uint64_t
request_hash(
    const char *method, const struct cub_val *params, const struct tenant *t)
{
	struct cub_val *p = cub_val__dup(params);
	uint64_t h = 0xcbf29ce484222325ull;
	const uint8_t *c;
	void *buf = NULL;
	size_t len = 0, i;

	for (c = (const uint8_t *)method;; c++) {
		h = (h ^ *c) * 0x100000001b3ull;
		if (!*c)
			break;
	}
	if (p)
		cub_val__del(p, "rid");
	if (!p || cub_mp_encode(p, &buf, &len)) {
		/* Cannot tell requests apart: match no cached answer. */
		cub_val__free(p);
		return 0;
	}
	for (i = 0; i < len; i++)
		h = (h ^ ((const uint8_t *)buf)[i]) * 0x100000001b3ull;
	for (c = (const uint8_t *)(t ? t->name : ""); *c; c++)
		h = (h ^ *c) * 0x100000001b3ull;
	free(buf);
	cub_val__free(p);
	return h ? h : 1;
}

/* Request ids are one namespace per tenant (t NULL: the admins'), so
 * one tenant's id neither clashes with nor reveals another's. */
static struct rid_entry *
rid_find(struct broker *b, const char *rid, const struct tenant *t)
{
	unsigned i;

	for (i = 0; i < RID_CACHE; i++)
		if (b->rids[i].reply && b->rids[i].tenant == t &&
		    !strcmp(b->rids[i].rid, rid))
			return &b->rids[i];
	return NULL;
}

static void
rid_store(struct broker *b, const char *rid, const struct tenant *t,
    uint64_t hash, const struct cub_val *errv, const struct cub_val *result)
{
	struct rid_entry *e = &b->rids[b->rid_next++ % RID_CACHE];
	struct cub_val *v = cub_val__map();

	cub_val__free(e->reply);
	snprintf(e->rid, sizeof(e->rid), "%s", rid);
	e->tenant = t;
	e->hash = hash;
	cub_val__set(v, "error", errv ? cub_val__dup(errv) : cub_val__nil());
	cub_val__set(
	    v, "result", result ? cub_val__dup(result) : cub_val__nil());
	e->reply = v;
}

/*
 * Answer the request req describes, without blocking: clients.c puts
 * its backtrace back and queues it on its connection.  Takes errv and result.  Any thread,
 * b->state_lock held or not.
 */
static void
reply(struct broker *b, const struct client_req *req, uint32_t msgid,
    struct cub_val *errv, struct cub_val *result)
{
	void *buf;
	size_t len;
	int r;

	if ((r = cubi_reply_encode(msgid, errv, result, &buf, &len))) {
		log_warn(
		    "reply to request %" PRIu32 ": %s", msgid, strerror(-r));
		return;
	}
	clients_reply(b, req, buf, len);
	free(buf);
}

/* Answer a request served later (a reload) with result (taken). */
void
api_answer(struct broker *b, const struct client_req *req, uint32_t msgid,
    struct cub_val *result)
{
	reply(b, req, msgid, NULL, result);
}

/* Answer a request that will not be served with errv (taken). */
void
api_refuse(struct broker *b, const struct client_req *req, uint32_t msgid,
    struct cub_val *errv)
{
	reply(b, req, msgid, errv, NULL);
}

/*
 * Who the request is from, and what it may do (docs/architecture.md,
 * Client roles): a gateway's request may name, in "as", a user it
 * vouches for and that user's role, one of --gateway-may; no one else's
 * may.  A gateway's own requests read.
 */
static int
who_decide(struct broker *b, const struct client_req *req,
    const struct cub_val *params, const struct cubi_request *q,
    struct api_who *w, struct cub_val **errv)
{
	const struct cub_val *as = cub_val__get(params, "as"), *v;
	const char *user, *role;
	char what[128];
	uint32_t i;
	size_t n;

	w->uid = req->uid;
	w->conn_role = w->role = req->role;
	w->user[0] = '\0';
	w->tenant = req->role == ROLE_TENANT ? req->tenant : NULL;
	if (req->role == ROLE_GATEWAY)
		w->role = ROLE_READER;
	if (!as)
		return 0;
	if (req->role != ROLE_GATEWAY) {
		*errv = cub_err_val(CUB_E_PERM,
		    "client uid %" PRIu32 " (role %s) may not send 'as': only "
		    "a gateway (--gateway-group) sends requests on behalf of "
		    "a user",
		    req->uid, role_names[req->role]);
		return -EPERM;
	}
	if (as->kind != CUB_V_MAP) {
		*errv = cub_err_val(CUB_E_TYPE,
		    "'as' must be a map {user: NAME, role: "
		    "reader|tenant|admin}");
		return -EINVAL;
	}
	for (i = 0; i < as->map.len; i++)
		if (strcmp(as->map.items[i].key, "user") &&
		    strcmp(as->map.items[i].key, "role")) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "'as' has an unknown field '%s' (it takes user "
			    "and role)",
			    as->map.items[i].key);
			return -EINVAL;
		}
	user = cub_val__get_str(as, "user");
	n = user ? strlen(user) : 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)user[i] <= ' ' ||
		    (unsigned char)user[i] >= 0x7f)
			break;
	if (!n || n > CUB_NAME_MAX || i < n) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "'as': 'user' must be a name of 1 to %d printable ASCII "
		    "characters without spaces",
		    CUB_NAME_MAX);
		return -EINVAL;
	}
	v = cub_val__get(as, "role");
	role = v ? cub_val__get_str(as, "role") : "reader";
	if (!role || (strcmp(role, "reader") && strcmp(role, "admin") &&
			 strcmp(role, "tenant"))) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "'as': 'role' must be reader, tenant or admin");
		return -EINVAL;
	}
	w->role = role[0] == 'a'   ? ROLE_ADMIN
		  : role[0] == 't' ? ROLE_TENANT
				   : ROLE_READER;
	if (!(b->o.gateway_may & 1u << w->role)) {
		unsigned m = b->o.gateway_may;
		const char *allows =
		    m & 1u << ROLE_TENANT
			? (m & 1u << ROLE_ADMIN ? "reader, tenant and admin"
						: "reader and tenant")
			: (m & 1u << ROLE_ADMIN ? "reader and admin"
						: "reader only");

		*errv = cub_err_val(CUB_E_PERM,
		    "client uid %" PRIu32 " (role gateway) may not vouch "
		    "for role %s (user '%s'): --gateway-may allows %s",
		    req->uid, role, user, allows);
		return -EPERM;
	}
	/* A tenant is vouched for by its name (--tenants). */
	if (w->role == ROLE_TENANT &&
	    !(w->tenant = tenants_find(b->tenants, b->ntenants, user))) {
		*errv = cub_err_val(CUB_E_PERM,
		    "client uid %" PRIu32 " (role gateway) vouched for "
		    "tenant '%s': no such tenant (--tenants)",
		    req->uid, user);
		return -EPERM;
	}
	memcpy(w->user, user, n + 1);
	words_text(q, what, sizeof(what));
	log_info("client uid %" PRIu32 " (role gateway) on behalf of user "
		 "'%s' (role %s): %s",
	    req->uid, user, role, what);
	return 0;
}

/* Serve a checked request; b->state_lock held.  Takes rpc's content. */
void
api_serve(struct broker *b, const struct client_req *req, struct cub_rpc *rpc)
{
	struct cub_val *result = NULL, *errv = NULL;
	struct rid_entry *cached;
	struct cubi_request q;
	struct api_who w;
	uint64_t hash;

	if (!cubi_request__check(rpc->params, &q, &errv) &&
	    !who_decide(b, req, rpc->params, &q, &w, &errv)) {
		/* Only changes are cached, and only admins and tenants
		 * change; the hash names the tenant too (one tenant's
		 * request never gets another's answer). */
		cached =
		    q.rid && (w.role == ROLE_ADMIN || w.role == ROLE_TENANT)
			? rid_find(b, q.rid, w.tenant)
			: NULL;
		hash = cached ? request_hash(rpc->method, rpc->params, w.tenant)
			      : 0;
		if (cached && hash && cached->hash == hash) {
			const struct cub_val *ce =
			    cub_val__get(cached->reply, "error");

			log_info("request %s answered again from cache", q.rid);
			errv = ce->kind == CUB_V_NIL ? NULL : cub_val__dup(ce);
			result =
			    cub_val__dup(cub_val__get(cached->reply, "result"));
		} else {
			/* A read is served afresh; a change is refused by
			 * mutating(). */
			struct rid_pending me = {.rid = q.rid,
			    .tenant = w.tenant};

			struct api_defer d = {.req = req, .msgid = rpc->msgid};

			rid_clash = cached;
			rid_self = q.rid ? &me : NULL;
			who = &w;
			defer = &d;
			on_request(b, &q, &result, &errv);
			defer = NULL;
			who = NULL;
			if (d.taken) {
				/* Answered later, uncached (a reload). */
				if (me.linked)
					rid_release(&me);
				cub_rpc__clear(rpc);
				return;
			}
			rid_clash = NULL;
			rid_self = NULL;
			if (q.rid && q.mutating && !cached && me.linked)
				rid_store(b, q.rid, w.tenant,
				    request_hash(
					rpc->method, rpc->params, w.tenant),
				    errv, result);
			if (me.linked)
				rid_release(&me);
		}
	}
	reply(b, req, rpc->msgid, errv, result);
	cub_rpc__clear(rpc);
}

/*
 * The service whose request thread must serve a request: the one whose
 * cube or service the first words name.  NULL: the main thread serves it
 * (built-in words, unknown names, bad requests).  b->state_lock held.
 */
struct service *
api_route(struct broker *b, const struct cub_rpc *rpc)
{
	struct cub_val *errv = NULL;
	struct cubi_request q;
	const char *w0, *w1;
	struct service *s;
	struct cube *c;

	if (cubi_request__check(rpc->params, &q, &errv)) {
		cub_val__free(errv);
		return NULL;
	}
	w0 = word(&q, 0);
	w1 = word(&q, 1);
	if (!w0)
		return NULL;
	if (!strcmp(w0, CUBI_W_CUBE))
		return w1 && (c = cube_find(b, w1)) ? c->svc : NULL;
	/* attach|detach <cube> ...: its thread tells its worker. */
	if (!strcmp(w0, "attach") || !strcmp(w0, "detach"))
		return w1 && (c = cube_find(b, w1)) ? c->svc : NULL;
	/* connect/disconnect <cube>:<port> ...: the first cube's thread
	 * (graph.c applies the other end, of any service, from there). */
	if (!strcmp(w0, "connect") || !strcmp(w0, "disconnect")) {
		char name[CUB_NAME_MAX + 1], port[CUB_NAME_MAX + 1];

		if (!w1 || !topo_peer_split(w1, name, port))
			return NULL;
		return (c = cube_find(b, name)) ? c->svc : NULL;
	}
	if (!strcmp(w0, "?") || !strcmp(w0, "help") ||
	    !strcmp(w0, "cubes") || !strcmp(w0, "services") ||
	    !strcmp(w0, CUBI_W_NETDEVS) || !strcmp(w0, "show") ||
	    !strcmp(w0, "topology"))
		return NULL;
	if ((s = svc_find(b, w0)))
		return s;
	if ((c = cube_find(b, w0)))
		return c->svc;
	return NULL;
}

/*
 * One received request (body, len: after its backtrace); main thread,
 * b->state_lock held.  Built-in requests are answered here; one for a
 * service's cube goes to that service's request thread with req, its way
 * back.
 */
void
api_handle(struct broker *b, const struct client_req *req, const void *body,
    size_t len)
{
	struct cub_val *result = NULL, *errv = NULL;
	struct cub_rpc rpc = {0};
	struct service *s;
	char err[256];
	int r;

	r = cub_rpc__decode(body, len, &rpc, err, sizeof(err));
	if (r || rpc.type != CUB_RPC_REQUEST) {
		reply(b, req, rpc.msgid,
		    cub_err_val(r == -EMSGSIZE || r == -ELOOP ? CUB_E_TOOBIG
							      : CUB_E_BADMSG,
			"%s",
			r ? err
			  : "expected a request [0, msgid, method, "
			    "params]"),
		    NULL);
		cub_rpc__clear(&rpc);
		return;
	}
	if (!strcmp(rpc.method, CUB_M_PING)) {
		bool ready = true;

		for (s = b->svcs; s; s = s->next)
			ready &= s->ready || s->stopped;
		result = cub_val__map();
		cub_val__set(result, "version", cub_val__str(CUB_VERSION));
		cub_val__set(result, "pid", cub_val__uint((uint64_t)getpid()));
		cub_val__set(result, "ready", cub_val__bool(ready));
	} else if (!strcmp(rpc.method, CUB_M_REQUEST) &&
		   quota_request(b, req, rpc.params, &errv)) {
		/* Over its tenant's rps: refused now, never queued. */
	} else if (!strcmp(rpc.method, CUB_M_REQUEST)) {
		s = api_route(b, &rpc);
		if (!s) {
			api_serve(b, req, &rpc);
			return;
		}
		if (!sup_enqueue(s, req, &rpc, &errv))
			return; /* answered by the service's thread */
	} else {
		errv =
		    cub_err_val(CUB_E_NOMETHOD, "no method '%s'", rpc.method);
	}
	reply(b, req, rpc.msgid, errv, result);
	cub_rpc__clear(&rpc);
}
