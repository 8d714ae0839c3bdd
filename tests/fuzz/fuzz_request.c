/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for request validation (style rule 23): what the broker
 * does with a client's request params before any side effect.
 *
 * The first byte selects the mode, the rest is MessagePack:
 *   even  request params {words, args, body, rid}: the shape checks of
 *         cubi_request__check() (as the broker), then cubi_tree__apply() on a copy
 *         of a realistic cube document;
 *   odd   a service schema in wire form: cubi_schema__parse(), and when it
 *         is accepted cubi_tree__new_doc() and an empty overlay merge.
 * abort() on any broken invariant (see check_apply()).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/errors.h"
#include "cubicle/schema.h"
#include "cubicle/val.h"
#include "tree.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- a simpleforwarder + router-like service ------------------------- */

static const char *const port_actions_enum[] = { "forward", "drop",
	"slowpath", NULL };

static const struct cub_field port_fields[] = {
	{ .name = "action", .type = CUB_T_ENUM, .enums = port_actions_enum,
	    .dflt = "drop", .help = "what to do with packets" },
	{ .name = "outport", .type = CUB_T_STR, .max = CUB_NAME_MAX,
	    .help = "port to send packets to when action is forward" },
	{ .name = "rx_packets", .type = CUB_T_U64, .flags = CUB_F_RO },
	{ .name = "rx_bytes", .type = CUB_T_U64, .flags = CUB_F_RO },
	{ .name = "tx_packets", .type = CUB_T_U64, .flags = CUB_F_RO },
	{ .name = "tx_bytes", .type = CUB_T_U64, .flags = CUB_F_RO },
	{ .name = "drops", .type = CUB_T_U64, .flags = CUB_F_RO },
	{ .name = "slowpath", .type = CUB_T_U64, .flags = CUB_F_RO },
	{ 0 },
};

static const struct cub_field reset_args[] = {
	{ .name = "hard", .type = CUB_T_BOOL, .flags = CUB_F_REQUIRED },
	{ 0 },
};

static const struct cub_action port_actions[] = {
	{ .name = "reset", .help = "reset counters", .args = reset_args },
	{ 0 },
};

static const struct cub_field route_fields[] = {
	{ .name = "network", .type = CUB_T_IPV4_PREFIX, .flags = CUB_F_KEY },
	{ .name = "nexthop", .type = CUB_T_IPV4, .flags = CUB_F_KEY },
	{ .name = "pathcost", .type = CUB_T_U32, .dflt = "1", .min = 1,
	    .max = 255 },
	{ 0 },
};

static const struct cub_field flush_args[] = {
	{ .name = "port", .type = CUB_T_STR },
	{ .name = "age", .type = CUB_T_U32, .dflt = "300", .max = 3600 },
	{ 0 },
};

static const struct cub_action fdb_actions[] = {
	{ .name = "flush", .help = "flush the table", .args = flush_args },
	{ 0 },
};

static const struct cub_field fdb_entry[] = {
	{ .name = "mac", .type = CUB_T_MAC, .flags = CUB_F_KEY },
	{ .name = "port", .type = CUB_T_STR },
	{ 0 },
};

static const struct cub_field fdb_fields[] = {
	{ .name = "aging", .type = CUB_T_U32, .dflt = "300", .min = 1,
	    .max = 3600 },
	{ .name = "entry", .type = CUB_T_LIST, .flags = CUB_F_RO,
	    .children = fdb_entry },
	{ 0 },
};

/* Issue 7's types: a set list and an ordered chain referring to it. */
static const struct cub_field set_fields[] = {
	{ .name = "name", .type = CUB_T_STR, .flags = CUB_F_KEY },
	{ .name = "nets", .type = CUB_T_IP_PREFIX, .flags = CUB_F_LEAFLIST,
	    .max_items = 8 },
	{ 0 },
};

static const struct cub_field chain_fields[] = {
	{ .name = "id", .type = CUB_T_U16, .flags = CUB_F_KEY },
	{ .name = "proto", .type = CUB_T_U8 },
	{ .name = "src6", .type = CUB_T_IPV6_PREFIX },
	{ .name = "gw6", .type = CUB_T_IPV6 },
	{ .name = "dst", .type = CUB_T_IP },
	{ .name = "sport", .type = CUB_T_PORT_RANGE },
	{ .name = "dports", .type = CUB_T_U16, .flags = CUB_F_LEAFLIST,
	    .max_items = 4 },
	{ .name = "match", .type = CUB_T_STR, .ref = "sets" },
	{ .name = "also", .type = CUB_T_STR, .flags = CUB_F_LEAFLIST,
	    .ref = "sets" },
	{ .name = "jump", .type = CUB_T_U16, .ref = "chain" },
	{ 0 },
};

static const struct cub_field svc_fields[] = {
	{ .name = "ports", .type = CUB_T_LIST, .children = port_fields,
	    .actions = port_actions },
	{ .name = "mtu", .type = CUB_T_U32, .dflt = "1500", .min = 68,
	    .max = 9000 },
	{ .name = "debug", .type = CUB_T_BOOL, .dflt = "false" },
	{ .name = "mac", .type = CUB_T_MAC, .dflt = "02:00:00:00:00:01" },
	{ .name = "fdb", .type = CUB_T_CONTAINER, .children = fdb_fields,
	    .actions = fdb_actions },
	{ .name = "route", .type = CUB_T_LIST, .children = route_fields },
	{ .name = "sets", .type = CUB_T_LIST, .children = set_fields },
	{ .name = "chain", .type = CUB_T_LIST, .flags = CUB_F_ORDERED,
	    .children = chain_fields },
	{ 0 },
};

static struct cubi_schema *schema;
static struct cub_val *base_doc; /* never modified after init */
static struct cub_val *overlay;  /* what a worker's show would add */

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c))                                                    \
			abort();                                             \
	} while (0)

static struct cub_val *
kv(const char *k1, struct cub_val *v1, const char *k2, struct cub_val *v2,
    const char *k3, struct cub_val *v3, const char *k4, struct cub_val *v4)
{
	struct cub_val *m = cub_val__map();

	CHECK(m);
	CHECK(!cub_val__set(m, k1, v1));
	if (k2)
		CHECK(!cub_val__set(m, k2, v2));
	if (k3)
		CHECK(!cub_val__set(m, k3, v3));
	if (k4)
		CHECK(!cub_val__set(m, k4, v4));
	return m;
}

#define S(x) cub_val__str(x)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cub_val *wire, *body, *ports, *routes, *errv = NULL, *ent;
	struct cub_val *sets, *chain;
	char err[256];

	(void)argc;
	(void)argv;
	wire = cub_schema__to_val(svc_fields);
	CHECK(wire);
	schema = cubi_schema__parse(wire, err, sizeof(err));
	CHECK(schema);
	cub_val__free(wire);

	ports = cub_val__array();
	CHECK(ports);
	CHECK(!cub_val__push(ports,
	    kv("name", S("p1"), "peer", S("veth1"), "action", S("forward"),
		"outport", S("p2"))));
	CHECK(!cub_val__push(ports,
	    kv("name", S("p2"), "peer", S("veth2"), NULL, NULL, NULL,
		NULL)));
	routes = cub_val__array();
	CHECK(routes);
	CHECK(!cub_val__push(routes,
	    kv("network", S("10.0.3.0/24"), "nexthop", S("10.0.1.2"),
		"pathcost", cub_val__uint(5), NULL, NULL)));
	CHECK(!cub_val__push(routes,
	    kv("network", S("0.0.0.0/0"), "nexthop", S("10.0.1.1"), NULL,
		NULL, NULL, NULL)));
	sets = cub_val__array();
	CHECK(sets);
	CHECK(!cub_val__push(sets, kv("name", S("web"), NULL, NULL, NULL,
	    NULL, NULL, NULL)));
	CHECK(!cub_val__push(sets, kv("name", S("db"), NULL, NULL, NULL,
	    NULL, NULL, NULL)));
	chain = cub_val__array();
	CHECK(chain);
	CHECK(!cub_val__push(chain, kv("id", cub_val__uint(1), "match",
	    S("web"), "dports", S("80,443"), "gw6", S("2001:db8::1"))));
	CHECK(!cub_val__push(chain, kv("id", cub_val__uint(2), "jump",
	    cub_val__uint(1), "also", S("db,web"), NULL, NULL)));
	body = kv("ports", ports, "route", routes, "mtu", S("1400"), "sets",
	    sets);
	CHECK(!cub_val__set(body, "chain", chain));
	if (cubi_tree__new_doc(
		schema, "r1", "router", NULL, body, &base_doc, &errv))
		abort();
	cub_val__free(body);

	/* A worker's answer to show: counters, port state, fdb entries. */
	ports = cub_val__array();
	CHECK(ports);
	CHECK(!cub_val__push(ports,
	    kv("name", S("p1"), "rx_packets", cub_val__uint(10), "status",
		S("UP"), "index", cub_val__uint(1))));
	CHECK(!cub_val__push(ports,
	    kv("name", S("p9"), "rx_packets", cub_val__uint(1), NULL, NULL,
		NULL, NULL)));
	ent = cub_val__array();
	CHECK(ent);
	CHECK(!cub_val__push(ent,
	    kv("mac", S("02:00:00:00:00:0a"), "port", S("p1"), NULL, NULL,
		NULL, NULL)));
	overlay = kv("ports", ports, "fdb",
	    kv("entry", ent, "aging", cub_val__uint(5), NULL, NULL, NULL,
		NULL),
	    NULL, NULL, NULL, NULL);
	return 0;
}

/* ---- request mode ----------------------------------------------------- */

/* The broker's request checks: cubi_request__check() (tree.c). */

/* A well-formed error map with a real code and a message. */
static void
check_err(int r, const struct cub_val *errv)
{
	const char *msg = NULL;
	int code;

	CHECK(r < 0);
	CHECK(errv);
	code = cub_err_parse(errv, &msg);
	CHECK(code > CUB_E_BADMSG && code < CUB_E__MAX);
	CHECK(msg && *msg);
}

static struct cub_val *
words_of(const char *w)
{
	struct cub_val *a = cub_val__array();

	CHECK(a);
	if (w)
		CHECK(!cub_val__push(a, cub_val__str(w)));
	return a;
}

static void
mp_round_trip(const struct cub_val *v)
{
	struct cub_val *back = NULL;
	char err[256];
	size_t len;
	void *buf;

	CHECK(!cub_mp_encode(v, &buf, &len));
	CHECK(!cub_mp_decode(buf, len, &back, err, sizeof(err)));
	CHECK(cub_val__equal(v, back));
	cub_val__free(back);
	free(buf);
}

/* A changed document is still one new_doc would build. */
static void
check_doc(const struct cub_val *doc)
{
	struct cub_val *w, *body, *again = NULL, *errv = NULL;
	struct cubi_result res;
	const char *name, *service;

	CHECK(doc && doc->kind == CUB_V_MAP);
	name = cub_val__get_str(doc, "name");
	service = cub_val__get_str(doc, "service");
	CHECK(name && !strcmp(name, "r1"));
	CHECK(service && !strcmp(service, "router"));

	/* ["show"] resolves and returns the document. */
	w = words_of("show");
	if (cubi_tree__apply(schema, (struct cub_val *)doc, w, NULL, NULL,
		&res, &errv))
		abort();
	CHECK(res.reply && cub_val__equal(res.reply, doc));
	cubi_result__clear(&res);
	cub_val__free(w);

	mp_round_trip(doc);

	/* Built again from scratch, it validates and comes out the same. */
	body = cub_val__dup(doc);
	CHECK(body);
	cub_val__del(body, "name");
	cub_val__del(body, "service");
	if (cubi_tree__new_doc(schema, name, service, NULL, body, &again, &errv))
		abort();
	CHECK(cub_val__equal(again, doc));
	cub_val__free(again);
	cub_val__free(body);
}

/* The broker resolves a show again on the document plus the overlay. */
static void
show_with_overlay(const struct cubi_request *q)
{
	struct cub_val *work = cub_val__dup(base_doc), *errv = NULL;
	struct cubi_result res;
	int r;

	CHECK(work);
	CHECK(!cubi_tree__merge_overlay(schema, work, overlay));
	r = cubi_tree__apply(
	    schema, work, q->words, q->args, q->body, &res, &errv);
	if (r)
		check_err(r, errv);
	else
		CHECK(res.reply);
	cubi_result__clear(&res);
	cub_val__free(errv);
	cub_val__free(work);
}

static void
fuzz_request(const struct cub_val *p)
{
	struct cub_val *doc, *errv = NULL;
	struct cubi_result res;
	struct cubi_request q;
	int r;

	r = cubi_request__check(p, &q, &errv);
	if (r) {
		check_err(r, errv);
		cub_val__free(errv);
		return;
	}
	doc = cub_val__dup(base_doc);
	CHECK(doc);
	r = cubi_tree__apply(schema, doc, q.words, q.args, q.body, &res, &errv);
	if (r) {
		check_err(r, errv);
		CHECK(cub_val__equal(doc, base_doc));
		CHECK(!res.reply && !res.action && !res.action_path &&
		    !res.action_args);
		cub_val__free(errv);
		cub_val__free(doc);
		return;
	}
	CHECK(!errv);
	switch (res.verb) {
	case CUBI_SHOW:
		CHECK(res.reply);
		show_with_overlay(&q);
		break;
	case CUBI_HELP:
		CHECK(res.reply && res.reply->kind == CUB_V_MAP);
		CHECK(cub_val__get_str(res.reply, "path"));
		break;
	case CUBI_ACTION:
		CHECK(res.action && *res.action);
		CHECK(res.action_path &&
		    res.action_path->kind == CUB_V_ARRAY);
		CHECK(!res.action_args ||
		    res.action_args->kind == CUB_V_MAP);
		break;
	case CUBI_ADD:
	case CUBI_SET:
	case CUBI_DEL:
		break;
	}
	if (res.changed) {
		CHECK(res.verb == CUBI_ADD || res.verb == CUBI_SET ||
		    res.verb == CUBI_DEL);
		check_doc(doc);
	} else {
		CHECK(cub_val__equal(doc, base_doc));
	}
	if (res.del_cube)
		CHECK(res.verb == CUBI_DEL && !res.changed);
	cubi_result__clear(&res);
	cub_val__free(doc);
}

/* ---- schema mode ------------------------------------------------------ */

static void
fuzz_schema(const struct cub_val *wire)
{
	struct cub_val *doc = NULL, *errv = NULL, *empty, *w, *h;
	struct cubi_result res;
	struct cubi_schema *s;
	char err[256];
	int r;

	err[0] = 0;
	s = cubi_schema__parse(wire, err, sizeof(err));
	if (!s) {
		CHECK(err[0]);
		return;
	}
	h = cubi_tree__service_help(s, "svc");
	CHECK(h);
	cub_val__free(h);
	r = cubi_tree__new_doc(s, "c1", "svc", NULL, NULL, &doc, &errv);
	if (r) {
		check_err(r, errv);
		CHECK(!doc);
		cub_val__free(errv);
		cubi_schema__free(s);
		return;
	}
	empty = cub_val__map();
	CHECK(empty);
	CHECK(!cubi_tree__merge_overlay(s, doc, empty));
	cub_val__free(empty);
	w = words_of("?");
	CHECK(!cubi_tree__apply(s, doc, w, NULL, NULL, &res, &errv));
	CHECK(res.reply);
	cubi_result__clear(&res);
	cub_val__free(w);
	w = words_of(NULL);
	CHECK(!cubi_tree__apply(s, doc, w, NULL, NULL, &res, &errv));
	CHECK(res.reply && cub_val__equal(res.reply, doc));
	cubi_result__clear(&res);
	cub_val__free(w);
	cub_val__free(doc);
	cubi_schema__free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cub_val *v = NULL;
	char err[256];

	if (size < 1)
		return 0;
	if (cub_mp_decode(data + 1, size - 1, &v, err, sizeof(err)))
		return 0;
	if (data[0] & 1)
		fuzz_schema(v);
	else if (v->kind == CUB_V_MAP)
		fuzz_request(v);
	cub_val__free(v);
	return 0;
}
