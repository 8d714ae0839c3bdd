/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the worker runtime's descriptor check and of how it hands
 * a plugin documents in parts (cube.apply more + cube.entries) and change
 * lists (cube.change).  The test plugin's ops never call the broker.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/errors.h"
#include "cubicle/plugin.h"
#include "cubicle/proto.h"
#include "worker_rt.h"

static struct {
	unsigned applies, changes;
	uint32_t entries; /* in the last apply's "rules" */
	uint32_t n;       /* changes in the last change call */
	enum cub_change_op op0;
	char path0[64];
	bool refuse;
} seen;

static int
t_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	const struct cub_val *rules = cub_val__get(config, "rules");

	(void)create;
	seen.applies++;
	seen.entries = rules && rules->kind == CUB_V_ARRAY ? rules->arr.len : 0;
	if (seen.refuse)
		return cub_cube__set_error(cube, CUB_E_INVAL, "refused here");
	return 0;
}

static int
t_change(struct cub_cube *cube, const struct cub_change *ch, uint32_t n)
{
	uint32_t j;

	seen.changes++;
	seen.n = n;
	seen.op0 = n ? ch[0].op : 0;
	seen.path0[0] = '\0';
	for (j = 0; n && j < ch[0].path->arr.len; j++)
		snprintf(seen.path0 + strlen(seen.path0),
		    sizeof(seen.path0) - strlen(seen.path0), "%s%s",
		    j ? "/" : "", cub_val__as_str(ch[0].path->arr.items[j]));
	if (seen.refuse)
		return cub_cube__set_error(cube, CUB_E_INVAL, "no change");
	return 0;
}

static const struct cub_plugin_ops ops3 = {
    .apply = t_apply,
    .change = t_change,
};

static const struct cub_plugin plug3 = {
    .abi = CUB_PLUGIN_ABI,
    .name = "t3",
    .ops = &ops3,
    CUB_PLUGIN_SIZES,
};

/* A plugin built against ABI 2: no sizes, no change. */
static const struct cub_plugin_ops ops2 = {.apply = t_apply};
static const struct cub_plugin plug2 = {.abi = 2, .name = "t2", .ops = &ops2};

/* Runs one request through the runtime; returns the error code, or 0. */
static const char *
req(const char *method, struct cub_val *params)
{
	static char name[64];
	struct cub_rpc rpc = {.type = CUB_RPC_REQUEST, .msgid = 1};
	struct cub_val *result = NULL, *errv = NULL;
	const char *msg;

	rpc.method = (char *)method;
	rpc.params = params;
	cubi_worker__dispatch(&rpc, &result, &errv);
	cub_val__free(params);
	name[0] = '\0';
	if (errv) {
		snprintf(name, sizeof(name), "%s",
		    cub_err_name(cub_err_parse(errv, &msg)));
		ck_assert_ptr_null(result);
	} else {
		ck_assert_ptr_nonnull(result);
	}
	cub_val__free(result);
	cub_val__free(errv);
	return name;
}

static struct cub_val *
rules(uint32_t from, uint32_t to)
{
	struct cub_val *a = cub_val__array(), *e;
	uint32_t i;

	for (i = from; i < to; i++) {
		e = cub_val__map();
		cub_val__set(e, "id", cub_val__uint(i));
		cub_val__push(a, e);
	}
	return a;
}

static struct cub_val *
apply_more(const char *cube, bool more)
{
	struct cub_val *p = cub_val__map(), *cfg = cub_val__map();

	cub_val__set(cfg, "name", cub_val__str(cube));
	cub_val__set(cfg, "rules", cub_val__array());
	cub_val__set(p, "cube", cub_val__str(cube));
	cub_val__set(p, "config", cfg);
	cub_val__set(p, "create", cub_val__bool(true));
	if (more)
		cub_val__set(p, "more", cub_val__bool(true));
	return p;
}

static struct cub_val *
entries(const char *cube, uint32_t from, uint32_t to, bool last)
{
	struct cub_val *p = cub_val__map(), *path = cub_val__array();

	cub_val__push(path, cub_val__str("rules"));
	cub_val__set(p, "cube", cub_val__str(cube));
	cub_val__set(p, "path", path);
	cub_val__set(p, "entries", rules(from, to));
	cub_val__set(p, "last", cub_val__bool(last));
	return p;
}

/* A change list of n sets on rules/<i>, or one bad change. */
static struct cub_val *
change(const char *cube, uint32_t from, uint32_t n, bool last, bool bad)
{
	struct cub_val *p = cub_val__map(), *chs = cub_val__array(), *c, *w;
	uint32_t i;

	for (i = from; i < from + n; i++) {
		c = cub_val__map();
		w = cub_val__array();
		cub_val__push(w, cub_val__str("rules"));
		cub_val__push(w, cub_val__strf("%u", i));
		cub_val__set(c, "op", cub_val__str(bad ? "move" : "set"));
		cub_val__set(c, "path", w);
		cub_val__set(c, "old", cub_val__map());
		cub_val__set(c, "new", cub_val__map());
		cub_val__push(chs, c);
	}
	cub_val__set(p, "cube", cub_val__str(cube));
	cub_val__set(p, "changes", chs);
	if (!last)
		cub_val__set(p, "last", cub_val__bool(false));
	return p;
}

START_TEST(test_descriptor)
{
	struct cub_plugin_ops ops;
	struct cub_plugin p, desc;
	char err[160];
	struct {
		struct cub_plugin_ops o;
		void *newer_op;
	} big = {.o = {.apply = t_apply}};

	/* ABI 3 with sizes; ABI 3 without (0 = ABI 3's first sizes); ABI 2,
	 * whose descriptor ends at policy (what follows is not read). */
	ck_assert_int_eq(
	    cubi_plugin__check(&plug3, NULL, &ops, err, sizeof(err)), 0);
	ck_assert_ptr_eq(ops.change, t_change);
	p = plug3;
	p.sz = p.ops_sz = 0;
	ck_assert_int_eq(
	    cubi_plugin__check(&p, NULL, &ops, err, sizeof(err)), 0);
	ck_assert_ptr_eq(ops.change, t_change); /* ABI 3's ops */
	p = plug2;
	p.sz = 12345;
	p.ops_sz = 9999;
	p.netdev_events = p.apply_timeout_ms = p.flags = 0xff;
	ck_assert_int_eq(
	    cubi_plugin__check(&p, &desc, &ops, err, sizeof(err)), 0);
	ck_assert_ptr_null(ops.change); /* past ABI 2's ops: not read */
	/* Past ABI 2's descriptor: not read either. */
	ck_assert_uint_eq(
	    desc.netdev_events | desc.apply_timeout_ms | desc.flags, 0);
	ck_assert_str_eq(desc.name, p.name);

	/* Ops past what this worker knows: refused if set, fine if NULL. */
	p = plug3;
	p.ops = &big.o;
	p.ops_sz = sizeof(big);
	ck_assert_int_eq(
	    cubi_plugin__check(&p, NULL, &ops, err, sizeof(err)), 0);
	big.newer_op = &p;
	ck_assert_int_eq(
	    cubi_plugin__check(&p, NULL, &ops, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "refuses ops it does not know"));

	/* Too old, too new, too small, no apply. */
	p = plug3;
	p.abi = 1;
	ck_assert_int_eq(
	    cubi_plugin__check(&p, NULL, &ops, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "plugin ABI 1, expected 2 to 3"));
	p.abi = 4;
	ck_assert_int_eq(
	    cubi_plugin__check(&p, NULL, &ops, err, sizeof(err)), -EINVAL);
	p = plug3;
	p.ops_sz = 8;
	ck_assert_int_eq(
	    cubi_plugin__check(&p, NULL, &ops, err, sizeof(err)), -EINVAL);
	p = plug2;
	p.ops = &(const struct cub_plugin_ops){.change = t_change};
	ck_assert_int_eq(
	    cubi_plugin__check(&p, NULL, &ops, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no apply op"));
}
END_TEST

/* Actions on the cube itself: read only from a descriptor that has
 * them (its sz), and sent as the schema's {fields, actions}. */
START_TEST(test_cube_actions)
{
	static const struct cub_action acts[] = {
	    {.name = "reset-counters", .help = "zero"}, {0}};
	static const struct cub_field fields[] = {
	    {.name = "color", .type = CUB_T_STR}, {0}};
	struct cub_plugin_ops ops;
	struct cub_plugin p = plug3, desc;
	struct cub_val *wire;
	char err[160];

	p.actions = acts;
	ck_assert_int_eq(
	    cubi_plugin__check(&p, &desc, &ops, err, sizeof(err)), 0);
	ck_assert_ptr_eq(desc.actions, acts);
	/* A plugin built before actions: its descriptor ends before. */
	p.sz = offsetof(struct cub_plugin, actions);
	ck_assert_int_eq(
	    cubi_plugin__check(&p, &desc, &ops, err, sizeof(err)), 0);
	ck_assert_ptr_null(desc.actions);

	wire = cub_schema__wire(fields, NULL);
	ck_assert_int_eq(wire->kind, CUB_V_ARRAY);
	cub_val__free(wire);
	wire = cub_schema__wire(fields, acts);
	ck_assert_int_eq(wire->kind, CUB_V_MAP);
	ck_assert_int_eq(cub_val__get(wire, "fields")->kind, CUB_V_ARRAY);
	ck_assert_str_eq(
	    cub_val__get_str(
		cub_val__get(wire, "actions")->arr.items[0], "name"),
	    "reset-counters");
	cub_val__free(wire);
}
END_TEST

/* cub_config__enum_index(): the field's value in its table, without
 * case, as the CLI's enums; dflt when absent, not a string or unknown. */
START_TEST(test_enum_index)
{
	static const char *const acts[] = {"DROP", "SLOWPATH", "FORWARD", NULL};
	struct cub_val *c = cub_val__map();

	ck_assert_int_eq(cub_config__enum_index(c, "action", acts, 7), 7);
	ck_assert_int_eq(cub_config__enum_index(NULL, "action", acts, 7), 7);
	cub_val__set(c, "action", cub_val__str("FORWARD"));
	ck_assert_int_eq(cub_config__enum_index(c, "action", acts, 7), 2);
	cub_val__set(c, "action", cub_val__str("slowPath"));
	ck_assert_int_eq(cub_config__enum_index(c, "action", acts, 7), 1);
	cub_val__set(c, "action", cub_val__str("drop"));
	ck_assert_int_eq(cub_config__enum_index(c, "action", acts, 7), 0);
	cub_val__set(c, "action", cub_val__str("SLOW"));
	ck_assert_int_eq(cub_config__enum_index(c, "action", acts, 7), 7);
	cub_val__set(c, "action", cub_val__uint(1));
	ck_assert_int_eq(cub_config__enum_index(c, "action", acts, -1), -1);
	cub_val__free(c);
}
END_TEST

START_TEST(test_document_in_parts)
{
	nng_socket none = NNG_SOCKET_INITIALIZER;

	ck_assert_int_eq(cubi_worker__init(&plug3, none), 0);
	memset(&seen, 0, sizeof(seen));
	/* A skeleton and three parts: one apply, with all 30000 entries. */
	ck_assert_str_eq(req(CUB_M_CUBE_APPLY, apply_more("c1", true)), "");
	ck_assert_str_eq(
	    req(CUB_M_CUBE_ENTRIES, entries("c1", 0, 10000, false)), "");
	ck_assert_str_eq(
	    req(CUB_M_CUBE_ENTRIES, entries("c1", 10000, 20000, false)), "");
	ck_assert_uint_eq(seen.applies, 0);
	ck_assert_str_eq(
	    req(CUB_M_CUBE_ENTRIES, entries("c1", 20000, 30000, true)), "");
	ck_assert_uint_eq(seen.applies, 1);
	ck_assert_uint_eq(seen.entries, 30000);
	/* No part without a skeleton before it. */
	ck_assert_str_eq(req(CUB_M_CUBE_ENTRIES, entries("c1", 0, 1, true)),
	    "invalid-value");
	ck_assert_str_eq(req(CUB_M_CUBE_ENTRIES, entries("c2", 0, 1, true)),
	    "invalid-value");
	/* A refusal at the last part: no cube; a new apply starts over. */
	seen.refuse = true;
	ck_assert_str_eq(req(CUB_M_CUBE_APPLY, apply_more("c3", true)), "");
	ck_assert_str_eq(req(CUB_M_CUBE_ENTRIES, entries("c3", 0, 5, true)),
	    "invalid-value");
	ck_assert_str_eq(
	    req(CUB_M_CUBE_CHANGE, change("c3", 0, 1, true, false)),
	    "not-found");
	seen.refuse = false;
	ck_assert_str_eq(req(CUB_M_CUBE_APPLY, apply_more("c3", true)), "");
	ck_assert_str_eq(req(CUB_M_CUBE_APPLY, apply_more("c3", false)), "");
	ck_assert_str_eq(req(CUB_M_CUBE_ENTRIES, entries("c3", 0, 5, true)),
	    "invalid-value"); /* the whole apply dropped what was pending */
	ck_assert_uint_eq(seen.entries, 0);
}
END_TEST

START_TEST(test_changes_in_parts)
{
	nng_socket none = NNG_SOCKET_INITIALIZER;

	ck_assert_int_eq(cubi_worker__init(&plug3, none), 0);
	memset(&seen, 0, sizeof(seen));
	ck_assert_str_eq(req(CUB_M_CUBE_APPLY, apply_more("c1", false)), "");
	/* One message, then three that are one call. */
	ck_assert_str_eq(
	    req(CUB_M_CUBE_CHANGE, change("c1", 7, 1, true, false)), "");
	ck_assert_uint_eq(seen.changes, 1);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_int_eq(seen.op0, CUB_CHANGE_SET);
	ck_assert_str_eq(seen.path0, "rules/7");
	ck_assert_str_eq(
	    req(CUB_M_CUBE_CHANGE, change("c1", 0, 5000, false, false)), "");
	ck_assert_str_eq(
	    req(CUB_M_CUBE_CHANGE, change("c1", 5000, 5000, false, false)), "");
	ck_assert_uint_eq(seen.changes, 1);
	ck_assert_str_eq(
	    req(CUB_M_CUBE_CHANGE, change("c1", 10000, 1, true, false)), "");
	ck_assert_uint_eq(seen.changes, 2);
	ck_assert_uint_eq(seen.n, 10001);
	ck_assert_str_eq(seen.path0, "rules/0");
	/* A bad change: refused before the plugin sees any. */
	ck_assert_str_eq(req(CUB_M_CUBE_CHANGE, change("c1", 0, 1, true, true)),
	    "invalid-value");
	ck_assert_uint_eq(seen.changes, 2);
	/* The plugin's refusal comes back as its error. */
	seen.refuse = true;
	ck_assert_str_eq(
	    req(CUB_M_CUBE_CHANGE, change("c1", 0, 2, true, false)),
	    "invalid-value");
	ck_assert_uint_eq(seen.changes, 3);
}
END_TEST

START_TEST(test_abi2_takes_no_changes)
{
	nng_socket none = NNG_SOCKET_INITIALIZER;

	ck_assert_int_eq(cubi_worker__init(&plug2, none), 0);
	memset(&seen, 0, sizeof(seen));
	ck_assert_str_eq(req(CUB_M_CUBE_APPLY, apply_more("c1", true)), "");
	ck_assert_str_eq(
	    req(CUB_M_CUBE_ENTRIES, entries("c1", 0, 3, true)), "");
	ck_assert_uint_eq(seen.entries, 3);
	ck_assert_str_eq(
	    req(CUB_M_CUBE_CHANGE, change("c1", 0, 1, true, false)),
	    "no-such-method");
}
END_TEST

static Suite *
plugin_suite(void)
{
	Suite *s = suite_create("plugin");
	TCase *tc = tcase_create("runtime");

	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_cube_actions);
	tcase_add_test(tc, test_enum_index);
	tcase_add_test(tc, test_document_in_parts);
	tcase_add_test(tc, test_changes_in_parts);
	tcase_add_test(tc, test_abi2_takes_no_changes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(plugin_suite());
}
