// SPDX-License-Identifier: BSD-2-Clause
/*
 * The cube graph: Polycube's `connect` and `disconnect` verbs, and the
 * tail-call budget every change that peers a port with a cube is checked
 * against.
 *
 * connect/disconnect are changes of the ports' `peer` fields, made as
 * `set peer=` is made (cube_update(): worker, ports, store), on both
 * sides of a cube-to-cube link: everything is checked first, so that a
 * refused request changes nothing, and a failure of the second side puts
 * the first one back.
 *
 * The budget: the kernel allows 33 tail calls per packet
 * (MAX_TAIL_CALL_CNT).  A packet that enters a cube from a netdev costs
 * none; leaving a cube costs one (cub_forward() -> the broker's egress
 * program), entering the next cube one more (egress program -> that
 * cube's program, through cub_peers).  A chain of N cubes makes 2N - 1,
 * so at most 17 cubes.  The graph is taken port by port: a packet that
 * entered cube X by port i may leave by any other port j of X, and if j
 * peers with Y:k it enters Y by k.  A cube that sends a packet back out
 * of the port it came in by (a reply) is not counted as a hop.  A loop
 * (sf1:p2 -> sf2:p1, sf2:p2 -> sf1:p1) has no longest chain: it is
 * refused like a chain over the budget (docs/architecture.md).
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "cleanup.h"
#include "cubicle/errors.h"
#include "graph_walk.h"
#include "log.h"

static const struct cub_val *
override_doc(const struct cube *c, const struct graph_change *ch, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (ch[i].c == c)
			return ch[i].doc;
	return c->doc;
}

/*
 * Whether ch gives some port a cube peer it does not have now (every
 * cube peer of a cube being created, which is in no list yet).
 */
static bool
adds_cube_peer(struct broker *b, const struct graph_change *ch, unsigned nch)
{
	const struct cub_val *ports, *old;
	const char *name, *peer;
	struct cube *c;
	unsigned k;
	uint32_t i;

	for (k = 0; k < nch; k++) {
		for (c = b->cubes; c && c != ch[k].c; c = c->next)
			;
		ports = graph_doc_ports(ch[k].doc);
		for (i = 0; ports && i < ports->arr.len; i++) {
			peer = graph_entry_peer(ports->arr.items[i]);
			name = cub_val__get_str(ports->arr.items[i], "name");
			if (!strchr(peer, ':') || !name)
				continue;
			old = ch[k].old ? cubi_tree__find(ch[k].old, "ports",
						"name", name)
			    : c	       ? cubi_tree__find(
					  c->doc, "ports", "name", name)
				       : NULL;
			if (!old || strcmp(graph_entry_peer(old), peer))
				return true;
		}
	}
	return false;
}

int
graph_check(struct broker *b, const struct graph_change *ch, unsigned nch,
    struct cub_val **errv)
{
	struct graph_result *res = calloc(1, sizeof(*res));
	struct graph_cube *gc = NULL;
	uint32_t n = 0, i;
	struct cube *c;
	unsigned k;
	int r;

	pthread_mutex_lock(&b->lock);
	if (!res || !adds_cube_peer(b, ch, nch)) {
		pthread_mutex_unlock(&b->lock);
		free(res);
		if (res)
			return 0;
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	for (c = b->cubes; c; c = c->next)
		n++;
	gc = calloc(n + nch + 1, sizeof(*gc));
	for (c = b->cubes, i = 0; gc && c; c = c->next, i++) {
		gc[i].name = c->name;
		gc[i].doc = override_doc(c, ch, nch);
	}
	/* A cube being created is in no list yet. */
	for (k = 0; gc && k < nch; k++) {
		for (c = b->cubes; c && c != ch[k].c; c = c->next)
			;
		if (!c) {
			gc[i].name = ch[k].c->name;
			gc[i++].doc = ch[k].doc;
		}
	}
	r = gc ? graph_walk(gc, i, res) : -ENOMEM;
	pthread_mutex_unlock(&b->lock);
	free(gc);
	if (r == -ENOMEM)
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
	else if (r == -ELOOP)
		*errv = cub_err_val(CUB_E_LIMIT,
		    "the change would close a loop of cube ports: %s; a "
		    "packet forwarded around it would make more than the "
		    "kernel's %d tail calls, so loops are refused",
		    res->chain, GRAPH_TAIL_CALLS_MAX);
	else if (r == -E2BIG)
		*errv = cub_err_val(CUB_E_LIMIT,
		    "the change would make a chain of %u cubes (%s), %u tail "
		    "calls per packet: over the kernel's limit of %d (each "
		    "hop costs 2, the broker's egress program and the next "
		    "cube's program, so at most %d cubes in a chain)",
		    res->cubes, res->chain, 2 * res->cubes - 1,
		    GRAPH_TAIL_CALLS_MAX, GRAPH_CUBES_MAX);
	else if (!r && (res->longest ? 2 * res->longest - 1 : 0) +
			      tcube_budget(b) >
			  GRAPH_TAIL_CALLS_MAX) {
		*errv = cub_err_val(CUB_E_LIMIT,
		    "the change would make a chain of %u cubes (%u tail "
		    "calls) with transparent stacks on cube ports adding up "
		    "to %u more: over the kernel's limit of %d",
		    res->longest, 2 * res->longest - 1, tcube_budget(b),
		    GRAPH_TAIL_CALLS_MAX);
		r = -E2BIG;
	} else
		log_info("cube graph: the longest chain is %u cubes, %u of "
			 "%d tail calls (+%u for transparent stacks)",
		    res->longest, res->longest ? 2 * res->longest - 1 : 0,
		    GRAPH_TAIL_CALLS_MAX, tcube_budget(b));
	free(res);
	return r == -ENOMEM ? r : r ? -EINVAL : 0;
}

static int
budget(struct broker *b, unsigned extra, const char *target, bool held,
    struct cub_val **errv);

int
graph_budget(struct broker *b, unsigned extra, const char *target,
    struct cub_val **errv)
{
	return budget(b, extra, target, false, errv);
}

int
graph_budget_held(struct broker *b, unsigned extra, const char *target,
    struct cub_val **errv)
{
	return budget(b, extra, target, true, errv);
}

static int
budget(struct broker *b, unsigned extra, const char *target, bool held,
    struct cub_val **errv)
{
	struct graph_result *res = calloc(1, sizeof(*res));
	struct graph_cube *gc = NULL;
	unsigned calls, stacks;
	uint32_t n = 0, i;
	struct cube *c;
	int r;

	if (!held)
		pthread_mutex_lock(&b->lock);
	for (c = b->cubes; c; c = c->next)
		n++;
	gc = res ? calloc(n + 1, sizeof(*gc)) : NULL;
	for (c = b->cubes, i = 0; gc && c; c = c->next, i++) {
		gc[i].name = c->name;
		gc[i].doc = c->doc;
	}
	r = gc ? graph_walk(gc, i, res) : -ENOMEM;
	stacks = tcube_budget(b);
	if (!held)
		pthread_mutex_unlock(&b->lock);
	free(gc);
	if (r == -ENOMEM) {
		free(res);
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return r;
	}
	/* A loop or an over-long chain was refused when it was made. */
	calls = (res->longest ? 2 * res->longest - 1 : 1) + stacks + extra;
	if (r || calls > GRAPH_TAIL_CALLS_MAX) {
		*errv = cub_err_val(CUB_E_LIMIT,
		    "attach to '%s': the longest chain of cubes (%u) with the "
		    "transparent stacks on cube ports would make %u tail calls "
		    "per packet, over the kernel's limit of %d (each "
		    "transparent cube costs 2, each stack 2 more)",
		    target, res->longest, calls, GRAPH_TAIL_CALLS_MAX);
		free(res);
		return -E2BIG;
	}
	free(res);
	return 0;
}

/* One end of a connect or disconnect: cube:port, or a netdev. */
struct end {
	const char *word;
	struct cube *c; /* NULL: a netdev */
	char port[CUB_NAME_MAX + 1];
	const char *peer; /* the port's peer now, "" when none */
};

static bool
netdev_name_ok(const char *s)
{
	const char *p;

	if (!*s || strlen(s) >= IF_NAMESIZE || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return false;
	for (p = s; *p; p++)
		if (*p == '/' || *p == ':' || (unsigned char)*p <= ' ' ||
		    *p == 0x7f)
			return false;
	return true;
}

static int
end_parse(
    struct broker *b, const char *word, struct end *e, struct cub_val **errv)
{
	char cname[CUB_NAME_MAX + 1];
	const struct cub_val *entry;

	memset(e, 0, sizeof(*e));
	e->word = word;
	e->peer = "";
	if (!strchr(word, ':')) {
		if (netdev_name_ok(word))
			return 0;
		goto odd;
	}
	if (!topo_peer_split(word, cname, e->port) || strchr(e->port, ':'))
		goto odd;
	/* A tenant's ends: its own cubes (another's is not there). */
	if (!(e->c = cube_find(b, cname)) || !api_sees(e->c)) {
		e->c = NULL;
		*errv = cub_err_val(
		    CUB_E_NOTFOUND, "'%s': no cube named '%s'", word, cname);
		return -ENOENT;
	}
	entry = cubi_tree__find(e->c->doc, "ports", "name", e->port);
	if (!entry) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "'%s': cube '%s' has no port '%s'", word, cname, e->port);
		return -ENOENT;
	}
	e->peer = graph_entry_peer(entry);
	return 0;
odd:
	*errv = cub_err_val(CUB_E_INVAL,
	    "'%s' is neither cube:port (names of at most %d characters) nor "
	    "a netdev name (at most %d characters, no '/', ':' or blanks)",
	    word, CUB_NAME_MAX, IF_NAMESIZE - 1);
	return -EINVAL;
}

/*
 * A copy of base (e's cube document when NULL) with e's port peering with
 * peer ("": none).
 */
static int
doc_with_peer(const struct end *e, const struct cub_val *base, const char *peer,
    struct cub_val **doc, struct cub_val **errv)
{
	struct cub_val *words = cub_val__array(), *args = cub_val__map();
	struct cubi_result res = {0};
	int r = -ENOMEM;

	*doc = cub_val__dup(base ? base : e->c->doc);
	if (!*doc || !words || !args ||
	    cub_val__push(words, cub_val__str("ports")) ||
	    cub_val__push(words, cub_val__str(e->port)) ||
	    cub_val__push(words, cub_val__str("set")) ||
	    cub_val__set(args, "peer", cub_val__str(peer)))
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
	else
		r = cubi_tree__apply(
		    e->c->svc->schema, *doc, words, args, NULL, &res, errv);
	cubi_result__clear(&res);
	cub_val__free(words);
	cub_val__free(args);
	if (r)
		*doc = cub_val__free(*doc);
	return r;
}

/* The other port that peers with e now (not `except`), if any. */
static struct cube *
peered_by(struct broker *b, const struct end *e, const struct end *except,
    struct bport **port)
{
	struct cube *c;

	c = topo_netdev_owner(b, e->word, port);
	if (c && except && except->c == c &&
	    !strcmp((*port)->name, except->port))
		return NULL;
	return c;
}

static int
connect_check(struct broker *b, const struct end *a, const struct end *z,
    struct cub_val **errv)
{
	const struct end *e, *other;
	struct bport *bp;
	struct cube *x;
	int i;

	if (z->c && (a->c->hook == HOOK_TC) != (z->c->hook == HOOK_TC)) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cannot connect '%s' and '%s': cube '%s' is %s and '%s' "
		    "is %s; connected cubes must both be TC or both XDP",
		    a->word, z->word, a->c->name, hook_name(a->c->hook),
		    z->c->name, hook_name(z->c->hook));
		return -EINVAL;
	}
	if (!strcmp(a->peer, z->word) && (!z->c || !strcmp(z->peer, a->word))) {
		*errv = cub_err_val(CUB_E_EXISTS,
		    "'%s' and '%s' are already connected", a->word, z->word);
		return -EEXIST;
	}
	for (i = 0; i < 2; i++) {
		e = i ? z : a;
		other = i ? a : z;
		if (!e->c)
			continue;
		if (e->peer[0] && strcmp(e->peer, other->word)) {
			*errv = cub_err_val(CUB_E_BUSY,
			    "cube '%s' port '%s' is already connected to "
			    "'%s'; disconnect it first",
			    e->c->name, e->port, e->peer);
			return -EBUSY;
		}
		if ((x = peered_by(b, e, other, &bp))) {
			*errv = api_sees(x)
				    ? cub_err_val(CUB_E_BUSY,
					  "'%s' is already the peer of cube "
					  "'%s' port '%s'; disconnect that "
					  "first",
					  e->word, x->name, bp->name)
				    : cub_err_val(CUB_E_BUSY,
					  "'%s' is already the peer of a port "
					  "of a cube that is not yours",
					  e->word);
			return -EBUSY;
		}
	}
	if (!z->c) {
		int r;

		/* A tenant's netdev: granted to it, or not its to know of. */
		if ((r = api_netdev_granted(z->word, errv)))
			return r;
		if (!if_nametoindex(z->word)) {
			*errv = cub_err_val(
			    CUB_E_NODEV, "netdev '%s' does not exist", z->word);
			return -ENODEV;
		}
		if ((x = peered_by(b, z, a, &bp))) {
			*errv = api_sees(x)
				    ? cub_err_val(CUB_E_BUSY,
					  "netdev '%s' is already the peer of "
					  "cube '%s' port '%s'; disconnect "
					  "that first",
					  z->word, x->name, bp->name)
				    : cub_err_val(CUB_E_BUSY,
					  "netdev '%s' is already the peer of "
					  "a port of a cube that is not yours",
					  z->word);
			return -EBUSY;
		}
	}
	return 0;
}

static int
disconnect_check(
    const struct end *a, const struct end *z, struct cub_val **errv)
{
	bool az = !strcmp(a->peer, z->word);
	bool za = z->c && !strcmp(z->peer, a->word);

	if (az || za)
		return 0;
	if (!z->c)
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "'%s' is not connected to netdev '%s' (its peer is "
		    "%s%s%s)",
		    a->word, z->word, a->peer[0] ? "'" : "",
		    a->peer[0] ? a->peer : "none", a->peer[0] ? "'" : "");
	else
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "'%s' and '%s' are not connected to each other (the peer "
		    "of '%s' is '%s', of '%s' '%s')",
		    a->word, z->word, a->word, a->peer, z->word, z->peer);
	return -ENOENT;
}

int
graph_connect(struct broker *b, const struct cub_val *words,
    const struct cub_val *args, bool connect, struct cub_val **errv)
{
	const char *verb = connect ? "connect" : "disconnect";
	struct graph_change ch[2] = {0};
	struct cub_val *e2 = NULL, *undo[2] = {NULL, NULL};
	struct end ends[2], *a = &ends[0], *z = &ends[1], *e;
	const char *peer[2];
	unsigned n = 0, i;
	int r;

	if (words->arr.len != 3 ||
	    (args && args->kind == CUB_V_MAP && args->map.len)) {
		*errv = cub_err_val(CUB_E_MISSING,
		    "usage: %s <cube>:<port> <cube>:<port> | %s <cube>:<port> "
		    "<netdev>",
		    verb, verb);
		return -EINVAL;
	}
	for (i = 0; i < 2; i++)
		if ((r = end_parse(
			 b, words->arr.items[i + 1]->str.ptr, &ends[i], errv)))
			return r;
	if (!a->c && !z->c) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "'%s' and '%s' are both netdevs: %s needs a cube port",
		    a->word, z->word, verb);
		return -EINVAL;
	}
	if (!a->c) {
		struct end t = *a;

		*a = *z;
		*z = t;
	}
	if (z->c == a->c && !strcmp(z->port, a->port)) {
		*errv = cub_err_val(
		    CUB_E_INVAL, "cannot %s '%s' with itself", verb, a->word);
		return -EINVAL;
	}
	if ((r = connect ? connect_check(b, a, z, errv)
			 : disconnect_check(a, z, errv)))
		return r;
	/* The sides that change and their new documents. */
	for (i = 0; i < 2; i++) {
		e = &ends[i];
		if (!e->c)
			continue;
		if (connect)
			peer[n] = i ? a->word : z->word;
		else if (!strcmp(e->peer, i ? a->word : z->word))
			peer[n] = "";
		else
			continue;
		if (!strcmp(e->peer, peer[n]))
			continue;
		/* Two ports of one cube: one document, one change. */
		if (n && ch[0].c == e->c) {
			struct cub_val *d = NULL;

			r = doc_with_peer(e, ch[0].doc, peer[n], &d, errv);
			cub_val__free(ch[0].doc);
			if (r)
				return r;
			ch[0].doc = d;
			continue;
		}
		ch[n].c = e->c;
		if ((r = doc_with_peer(e, NULL, peer[n], &ch[n].doc, errv))) {
			if (n)
				cub_val__free(ch[0].doc);
			return r;
		}
		n++;
	}
	if (!n)
		return 0;
	if ((r = graph_check(b, ch, n, errv))) {
		for (i = 0; i < n; i++)
			cub_val__free(ch[i].doc);
		return r;
	}
	if (n == 1) {
		if ((r = cube_update(b, ch[0].c, ch[0].doc, errv)))
			return r;
		goto logged;
	}
	/*
	 * Both sides' old peers, to put back if the second side or the
	 * store fails.  The two sides are one journal record.
	 */
	e = ch[0].c == a->c ? a : z;
	if ((r = doc_with_peer(e, NULL, e->peer, &undo[0], errv)) ||
	    (r = doc_with_peer(e == a ? z : a, NULL, (e == a ? z : a)->peer,
		 &undo[1], errv))) {
		cub_val__free(undo[0]);
		cub_val__free(ch[0].doc);
		cub_val__free(ch[1].doc);
		return r;
	}
	broker_journal_begin();
	if ((r = cube_update(b, ch[0].c, ch[0].doc, errv))) {
		cub_val__free(ch[1].doc);
		goto refused;
	}
	if ((r = cube_update(b, ch[1].c, ch[1].doc, errv))) {
		if (cube_update(b, ch[0].c, TAKE_PTR(undo[0]), &e2))
			log_err("%s %s %s: putting cube '%s' back failed", verb,
			    a->word, z->word, ch[0].c->name);
		cub_val__free(e2);
		e2 = NULL;
		goto refused;
	}
	if ((r = broker_journal_commit(b, errv))) {
		/* Not recorded: both sides back, as one record again. */
		broker_journal_begin();
		for (i = 2; i-- > 0;)
			if (cube_update(b, ch[i].c, TAKE_PTR(undo[i]), &e2)) {
				log_err("%s %s %s: putting cube '%s' back "
					"failed",
				    verb, a->word, z->word, ch[i].c->name);
				cub_val__free(e2);
				e2 = NULL;
			}
		if (broker_journal_commit(b, NULL))
			log_err("%s %s %s: the store is behind memory until "
				"the next change",
			    verb, a->word, z->word);
	}
	goto done;
refused:
	/* What was undone in memory is recorded so (held: a snapshot). */
	broker_journal_commit(b, NULL);
done:
	cub_val__free(undo[0]);
	cub_val__free(undo[1]);
	if (r)
		return r;
logged:
	log_info("%s %s %s", connect ? "connected" : "disconnected", a->word,
	    z->word);
	return 0;
}
