/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the REST mapping (rest.c): path -> broker request. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/errors.h"
#include "cubicle/schema.h"
#include "rest.h"

/* A schema as the broker's `<service> schema` gives it: the base fields
 * (a part of them) and a service with ports fields, a container with a
 * nested two-key list, an action on the cube and one on the entries. */
static const char schema_json[] =
    "{\"base\": ["
    " {\"name\": \"name\", \"type\": \"string\", \"flags\": 1},"
    " {\"name\": \"loglevel\", \"type\": \"enum\", \"flags\": 0,"
    "  \"enum\": [\"INFO\", \"DEBUG\"], \"default\": \"INFO\","
    "  \"help\": \"log level\"},"
    " {\"name\": \"ports\", \"type\": \"list\", \"flags\": 0, \"children\": ["
    "  {\"name\": \"name\", \"type\": \"string\", \"flags\": 1},"
    "  {\"name\": \"peer\", \"type\": \"string\", \"flags\": 0}]}],"
    " \"service\": {\"fields\": ["
    " {\"name\": \"ports\", \"type\": \"list\", \"flags\": 0, \"children\": ["
    "  {\"name\": \"action\", \"type\": \"enum\", \"flags\": 0,"
    "   \"enum\": [\"drop\", \"forward\"]},"
    "  {\"name\": \"rx\", \"type\": \"u64\", \"flags\": 2}],"
    "  \"actions\": [{\"name\": \"kick\", \"help\": \"kick it\"}]},"
    " {\"name\": \"cfg\", \"type\": \"container\", \"flags\": 64,"
    "  \"children\": ["
    "  {\"name\": \"code\", \"type\": \"string\", \"flags\": 0},"
    "  {\"name\": \"svc\", \"type\": \"list\", \"flags\": 0, \"children\": ["
    "   {\"name\": \"ip\", \"type\": \"ipv4\", \"flags\": 1},"
    "   {\"name\": \"port\", \"type\": \"u16\", \"flags\": 1},"
    "   {\"name\": \"weight\", \"type\": \"u32\", \"flags\": 0}]}]}],"
    " \"actions\": [{\"name\": \"reset-counters\", \"help\": \"zero\"}]}}";

static struct cub_val *schema;

static void
setup(void)
{
	char err[128];

	schema = cub_json_parse(schema_json, strlen(schema_json), err, sizeof(err));
	ck_assert_msg(schema != NULL, "schema: %s", err);
}

static void
teardown(void)
{
	schema = cub_val__free(schema);
}

/* Translates m target body; returns the status, c filled, words as a
 * space-joined string in w. */
static unsigned
tr(enum gw_rest_method m, const char *target, const char *body,
    struct gw_rest_call *c, char *w, size_t wl, char *msg)
{
	struct gw_rest_path p;
	struct cub_val *b = NULL;
	const char *allow;
	char err[128];
	unsigned st;
	uint32_t i;

	st = gw_rest_split(target, strlen(target), &p, msg, 256);
	if (st)
		return st;
	if (body) {
		b = cub_json_parse(body, strlen(body), err, sizeof(err));
		ck_assert_msg(b != NULL, "body: %s", err);
	}
	st = gw_rest_translate(m, &p, gw_rest_needs_schema(&p) ? schema : NULL,
	    b, c, &allow, msg, 256);
	cub_val__free(b);
	w[0] = '\0';
	for (i = 0; !st && i < c->words->arr.len; i++) {
		size_t l = strlen(w);

		snprintf(w + l, wl - l, "%s%s", i ? " " : "",
		    cub_val__as_str(c->words->arr.items[i]));
	}
	return st;
}

#define OK(m, target, body, words)                                             \
	do {                                                                   \
		unsigned st_ = tr(m, target, body, &c, w, sizeof(w), msg);     \
		ck_assert_msg(st_ == 0, "%s: %u %s", target, st_, msg);        \
		ck_assert_str_eq(w, words);                                    \
	} while (0)

#define REFUSED(m, target, body, status, re)                                  \
	do {                                                                   \
		unsigned st_ = tr(m, target, body, &c, w, sizeof(w), msg);     \
		ck_assert_msg(st_ == (status), "%s: %u, not %u (%s)", target,  \
		    st_, (unsigned)(status), msg);                             \
		ck_assert_msg(strstr(msg, re), "%s: '%s' lacks '%s'", target,  \
		    msg, re);                                                  \
		ck_assert_ptr_null(c.words);                                   \
	} while (0)

START_TEST(test_top)
{
	struct gw_rest_call c;
	char w[512], msg[256];

	OK(GW_REST_GET, "/polycube/v1", NULL, "cubes");
	ck_assert(!c.write && c.ok_status == 200);
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "/polycube/v1/", NULL, "cubes");
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "/polycube/v1/cubes/", NULL, "cubes");
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "/polycube/v1/cubes/sf1?x=1", NULL, "cube sf1 show");
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "/polycube/v1/services", NULL, "services");
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "http://h:9000/polycube/v1/sf/", NULL, "sf show");
	gw_rest_call_clear(&c);
	REFUSED(GW_REST_POST, "/polycube/v1/cubes", "{}", 405, "GET only");
	REFUSED(GW_REST_DELETE, "/polycube/v1/sf/", NULL, 405, "GET only");
	REFUSED(GW_REST_GET, "/polycube/v1/services/x/y", NULL, 404,
	    "no such path");
	ck_assert_uint_eq(tr(GW_REST_GET, "/", NULL, &c, w, sizeof(w), msg),
	    1);
	/* Without the prefix: the same tree. */
	OK(GW_REST_GET, "/cubes", NULL, "cubes");
	gw_rest_call_clear(&c);
	OK(GW_REST_PATCH, "/sf/sf1/ports/p1", "{}", "sf sf1 ports p1 set");
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "/polycube/v10/", NULL, "polycube v10 show");
	gw_rest_call_clear(&c);
}
END_TEST

START_TEST(test_split)
{
	struct gw_rest_path p;
	char msg[256], big[GW_REST_SEG_MAX + 32];
	const char *t;

	t = "/polycube/v1//sf/a%20b%2Fc/";
	ck_assert_uint_eq(gw_rest_split(t, strlen(t), &p, msg, sizeof(msg)), 0);
	ck_assert_uint_eq(p.n, 2);
	ck_assert_str_eq(p.seg[0], "sf");
	ck_assert_str_eq(p.seg[1], "a b/c");
	t = "/polycube/v1/sf/%2";
	ck_assert_uint_eq(
	    gw_rest_split(t, strlen(t), &p, msg, sizeof(msg)), 400);
	t = "/polycube/v1/sf/%zz";
	ck_assert_uint_eq(
	    gw_rest_split(t, strlen(t), &p, msg, sizeof(msg)), 400);
	t = "/polycube/v1/sf/a%00";
	ck_assert_uint_eq(
	    gw_rest_split(t, strlen(t), &p, msg, sizeof(msg)), 400);
	t = "/polycube/v1/sf/../x";
	ck_assert_uint_eq(
	    gw_rest_split(t, strlen(t), &p, msg, sizeof(msg)), 400);
	snprintf(big, sizeof(big), "/polycube/v1/%0*d", GW_REST_SEG_MAX, 7);
	ck_assert_uint_eq(
	    gw_rest_split(big, strlen(big), &p, msg, sizeof(msg)), 414);
	ck_assert(strstr(msg, "over 255 bytes"));
}
END_TEST

START_TEST(test_cube)
{
	struct gw_rest_call c;
	char w[512], msg[256];

	OK(GW_REST_GET, "/polycube/v1/sf/sf1/", NULL, "sf sf1 show");
	gw_rest_call_clear(&c);
	OK(GW_REST_POST, "/polycube/v1/sf/sf1", "{\"loglevel\": \"DEBUG\"}",
	    "sf add sf1");
	ck_assert(c.write && c.ok_status == 201);
	ck_assert_str_eq(cub_val__get_str(c.body, "loglevel"), "DEBUG");
	gw_rest_call_clear(&c);
	OK(GW_REST_POST, "/polycube/v1/sf/sf1", NULL, "sf add sf1");
	ck_assert_ptr_null(c.body);
	gw_rest_call_clear(&c);
	OK(GW_REST_PATCH, "/polycube/v1/sf/sf1/", "{\"loglevel\": \"INFO\"}",
	    "sf sf1 set");
	ck_assert(c.write && c.body);
	gw_rest_call_clear(&c);
	OK(GW_REST_DELETE, "/polycube/v1/sf/sf1/", NULL, "sf del sf1");
	ck_assert(c.write);
	gw_rest_call_clear(&c);
	/* A leaf: its parent's set with FIELD=value, its parent's show. */
	OK(GW_REST_PUT, "/polycube/v1/sf/sf1/loglevel", "\"DEBUG\"",
	    "sf sf1 set");
	ck_assert_str_eq(cub_val__get_str(c.args, "loglevel"), "DEBUG");
	ck_assert_ptr_null(c.body);
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "/polycube/v1/sf/sf1/loglevel/", NULL, "sf sf1 show");
	ck_assert_str_eq(c.leaf, "loglevel");
	gw_rest_call_clear(&c);
	/* The cube's action: its input as args. */
	OK(GW_REST_POST, "/polycube/v1/sf/sf1/reset-counters", "{\"a\": 1}",
	    "sf sf1 reset-counters");
	ck_assert(c.write && c.ok_status == 200);
	ck_assert_ptr_nonnull(cub_val__get(c.args, "a"));
	gw_rest_call_clear(&c);
	REFUSED(GW_REST_GET, "/polycube/v1/sf/sf1/reset-counters", NULL, 405,
	    "an action takes POST");
	REFUSED(GW_REST_DELETE, "/polycube/v1/sf/sf1/loglevel", NULL, 405,
	    "a field takes GET, PUT, PATCH");
	REFUSED(GW_REST_GET, "/polycube/v1/sf/sf1/nosuch", NULL, 404,
	    "sf/sf1: no field or action named 'nosuch'");
	REFUSED(GW_REST_GET, "/polycube/v1/sf/sf1/loglevel/x", NULL, 404,
	    "is a field: nothing is under it");
	REFUSED(GW_REST_POST, "/polycube/v1/sf/sf1", "[1]", 400,
	    "takes a JSON object");
	REFUSED(GW_REST_PUT, "/polycube/v1/sf/sf1/loglevel", "{}", 400,
	    "takes a JSON value");
	REFUSED(GW_REST_PATCH, "/polycube/v1/sf/sf1", NULL, 400,
	    "PATCH takes a JSON body");
	REFUSED(GW_REST_GET, "/polycube/v1/sf/sf1", "{}", 400,
	    "GET takes no body");
	REFUSED(GW_REST_OTHER, "/polycube/v1/sf/sf1", NULL, 405,
	    "method not allowed");
}
END_TEST

START_TEST(test_lists)
{
	struct gw_rest_call c;
	char w[512], msg[256];

	OK(GW_REST_GET, "/polycube/v1/sf/sf1/ports/", NULL,
	    "sf sf1 ports show");
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "/polycube/v1/sf/sf1/ports/p1/", NULL,
	    "sf sf1 ports p1 show");
	gw_rest_call_clear(&c);
	/* An entry: add with its keys after the verb, the body its
	 * fields. */
	OK(GW_REST_POST, "/polycube/v1/sf/sf1/ports/p1/",
	    "{\"action\": \"drop\"}", "sf sf1 ports add p1");
	ck_assert(c.write && c.ok_status == 201);
	ck_assert_str_eq(cub_val__get_str(c.body, "action"), "drop");
	gw_rest_call_clear(&c);
	/* The keys from the body of a POST to the list. */
	OK(GW_REST_POST, "/polycube/v1/sf/sf1/ports",
	    "{\"name\": \"p2\", \"peer\": \"veth1\"}", "sf sf1 ports add p2");
	ck_assert_ptr_null(cub_val__get(c.body, "name"));
	ck_assert_str_eq(cub_val__get_str(c.body, "peer"), "veth1");
	gw_rest_call_clear(&c);
	REFUSED(GW_REST_POST, "/polycube/v1/sf/sf1/ports", "{\"peer\": \"x\"}",
	    400, "the body has no key 'name'");
	OK(GW_REST_PATCH, "/polycube/v1/sf/sf1/ports/p1",
	    "{\"action\": \"forward\"}", "sf sf1 ports p1 set");
	gw_rest_call_clear(&c);
	OK(GW_REST_PUT, "/polycube/v1/sf/sf1/ports/p1/action", "\"forward\"",
	    "sf sf1 ports p1 set");
	ck_assert_str_eq(cub_val__get_str(c.args, "action"), "forward");
	gw_rest_call_clear(&c);
	OK(GW_REST_DELETE, "/polycube/v1/sf/sf1/ports/p1/", NULL,
	    "sf sf1 ports p1 del");
	gw_rest_call_clear(&c);
	/* An entry's action (the service's ports actions, merged). */
	OK(GW_REST_POST, "/polycube/v1/sf/sf1/ports/p1/kick", NULL,
	    "sf sf1 ports p1 kick");
	gw_rest_call_clear(&c);
	REFUSED(GW_REST_DELETE, "/polycube/v1/sf/sf1/ports/", NULL, 405,
	    "a list takes GET, POST");
	/* A container, a two-key list in it, by two key segments. */
	OK(GW_REST_PUT, "/polycube/v1/sf/sf1/cfg", "{\"code\": \"x\"}",
	    "sf sf1 cfg set");
	ck_assert_ptr_nonnull(c.body);
	gw_rest_call_clear(&c);
	OK(GW_REST_POST, "/polycube/v1/sf/sf1/cfg/svc/198.18.0.1/80/",
	    "{\"weight\": 3}", "sf sf1 cfg svc add 198.18.0.1 80");
	gw_rest_call_clear(&c);
	OK(GW_REST_POST, "/polycube/v1/sf/sf1/cfg/svc",
	    "{\"ip\": \"198.18.0.2\", \"port\": 443}",
	    "sf sf1 cfg svc add 198.18.0.2 443");
	gw_rest_call_clear(&c);
	OK(GW_REST_GET, "/polycube/v1/sf/sf1/cfg/svc/198.18.0.1/80/weight",
	    NULL, "sf sf1 cfg svc 198.18.0.1 80 show");
	ck_assert_str_eq(c.leaf, "weight");
	gw_rest_call_clear(&c);
	OK(GW_REST_DELETE, "/polycube/v1/sf/sf1/cfg/svc/198.18.0.1/80", NULL,
	    "sf sf1 cfg svc 198.18.0.1 80 del");
	gw_rest_call_clear(&c);
	REFUSED(GW_REST_GET, "/polycube/v1/sf/sf1/cfg/svc/198.18.0.1", NULL,
	    404, "an entry takes 2 key segments, the path has 1");
	REFUSED(GW_REST_DELETE, "/polycube/v1/sf/sf1/cfg", NULL, 405,
	    "a container takes GET, PUT, PATCH");
}
END_TEST

START_TEST(test_status)
{
	char *j;

	ck_assert_uint_eq(gw_rest_status(CUB_E_INVAL), 400);
	ck_assert_uint_eq(gw_rest_status(CUB_E_TYPE), 400);
	ck_assert_uint_eq(gw_rest_status(CUB_E_MISSING), 400);
	ck_assert_uint_eq(gw_rest_status(CUB_E_RO), 400);
	ck_assert_uint_eq(gw_rest_status(CUB_E_NOTFOUND), 404);
	ck_assert_uint_eq(gw_rest_status(CUB_E_VERB), 404);
	ck_assert_uint_eq(gw_rest_status(CUB_E_PERM), 403);
	ck_assert_uint_eq(gw_rest_status(CUB_E_EXISTS), 409);
	ck_assert_uint_eq(gw_rest_status(CUB_E_BUSY), 409);
	ck_assert_uint_eq(gw_rest_status(CUB_E_QUOTA), 429);
	ck_assert_uint_eq(gw_rest_status(CUB_E_TOOBIG), 413);
	ck_assert_uint_eq(gw_rest_status(CUB_E_UNAVAIL), 503);
	ck_assert_uint_eq(gw_rest_status(CUB_E_KERNEL), 500);
	ck_assert_uint_eq(gw_rest_status(CUB_E_INTERNAL), 500);
	j = gw_rest_error_json(CUB_E_EXISTS, "cube 'a\"b' already exists");
	ck_assert_str_eq(j, "{\"error\":{\"code\":5,\"name\":\"exists\","
			    "\"message\":\"cube 'a\\\"b' already exists\"}}");
	free(j);
}
END_TEST

static const struct cub_val *
path_item(const struct cub_val *doc, const char *p)
{
	return cub_val__get(cub_val__get(doc, "paths"), p);
}

START_TEST(test_openapi)
{
	struct cub_val *svcs = cub_val__map(), *doc;
	const struct cub_val *item, *port, *v;

	cub_val__set(svcs, "sf", cub_val__dup(schema));
	doc = gw_rest_openapi(svcs);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(cub_val__get_str(doc, "openapi"), "3.0.3");
	item = path_item(doc, "/polycube/v1/sf/{cube}/");
	ck_assert_ptr_nonnull(item);
	ck_assert(cub_val__get(item, "get") && cub_val__get(item, "post") &&
		  cub_val__get(item, "put") && cub_val__get(item, "patch") &&
		  cub_val__get(item, "delete"));
	item = path_item(doc, "/polycube/v1/sf/{cube}/ports/{name}/");
	ck_assert(item && cub_val__get(item, "delete"));
	ck_assert_uint_eq(cub_val__get(item, "parameters")->arr.len, 2);
	item = path_item(doc, "/polycube/v1/sf/{cube}/ports/{name}/kick/");
	ck_assert(item && cub_val__get(item, "post") &&
		  !cub_val__get(item, "get"));
	item = path_item(doc, "/polycube/v1/sf/{cube}/reset-counters/");
	ck_assert(item && cub_val__get(item, "post"));
	item = path_item(doc, "/polycube/v1/sf/{cube}/cfg/svc/{ip}/{port}/");
	ck_assert(item && cub_val__get(item, "patch"));
	ck_assert_uint_eq(cub_val__get(item, "parameters")->arr.len, 3);
	/* A read-only leaf: GET only. */
	item = path_item(doc, "/polycube/v1/sf/{cube}/ports/{name}/rx/");
	ck_assert(item && cub_val__get(item, "get") &&
		  !cub_val__get(item, "put"));
	item = path_item(doc, "/polycube/v1/sf/{cube}/loglevel/");
	ck_assert(item && cub_val__get(item, "put"));
	/* Components: the cube's fields with types, enums, keys. */
	v = cub_val__get(cub_val__get(doc, "components"), "schemas");
	port = cub_val__get(cub_val__get(cub_val__get(cub_val__get(
	    cub_val__get(cub_val__get(v, "sf"), "properties"), "ports"),
	    "items"), "properties"), "action");
	ck_assert_ptr_nonnull(port);
	ck_assert_uint_eq(cub_val__get(port, "enum")->arr.len, 2);
	port = cub_val__get(cub_val__get(cub_val__get(cub_val__get(
	    cub_val__get(cub_val__get(v, "sf"), "properties"), "ports"),
	    "items"), "properties"), "rx");
	ck_assert_str_eq(cub_val__get_str(port, "type"), "integer");
	ck_assert(cub_val__get(port, "readOnly"));
	ck_assert_ptr_nonnull(cub_val__get(v, "Error"));
	cub_val__free(doc);
	cub_val__free(svcs);
}
END_TEST

/* Some hash (alice's: no token of the test has it). */
#define HA "2a0a2d5ed49b2a1a1ee1d6c7bbd2b7d0d4a9a1f8c7b3a3f7cfe56f1ce3ab6e2f"

START_TEST(test_tokens)
{
	char text[1024], err[256], hb[65];
	struct gw_token *t;
	const struct gw_token *f;
	const char *why;
	unsigned n, i;
	FILE *p;

	/* The hash of "tok-b" by sha256sum, as an operator makes it, in
	 * mixed case. */
	p = popen("printf %s tok-b | sha256sum", "r");
	ck_assert_ptr_nonnull(p);
	ck_assert(fscanf(p, "%64s", hb) == 1);
	pclose(p);
	for (i = 0; i < 64; i++)
		hb[i] = (char)(i % 2 ? hb[i] : (hb[i] >= 'a' ? hb[i] - 32 : hb[i]));
	snprintf(text, sizeof(text),
	    "# tenants\n\nalice admin " HA "\n  bob reader %s\r\n", hb);
	ck_assert_int_eq(
	    gw_tokens_parse(text, strlen(text), &t, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(t[0].tenant, "alice");
	ck_assert(t[0].admin && !t[1].admin);
	ck_assert(!t[0].as_tenant && !t[1].as_tenant);
	f = gw_tokens_find(t, n, "bearer  tok-b", &why);
	ck_assert_ptr_eq(f, &t[1]);
	ck_assert_ptr_null(gw_tokens_find(t, n, "Bearer tok-c", &why));
	ck_assert_str_eq(why, "the bearer token is not known");
	ck_assert_ptr_null(gw_tokens_find(t, n, "Basic dG9r", &why));
	ck_assert_str_eq(why, "the Authorization scheme is not Bearer");
	ck_assert_ptr_null(gw_tokens_find(t, n, "Bearer ", &why));
	free(t);

#define BAD(txt, re)                                                           \
	do {                                                                   \
		ck_assert_int_eq(gw_tokens_parse(txt, strlen(txt), &t, &n, err, \
				     sizeof(err)),                             \
		    -1);                                                       \
		ck_assert_msg(strstr(err, re), "'%s' lacks '%s'", err, re);    \
	} while (0)
	BAD("alice admin\n", "line 1: want TENANT ROLE SHA256");
	BAD("\nalice root " HA "\n", "line 2: role 'root' is not reader");
	BAD("alice admin abc\n", "not 64 hex digits");
	BAD("alice admin " HA " x\n", "three words");
	BAD("a admin " HA "\nb reader " HA "\n", "the same hash as tenant 'a'");
	BAD("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa admin " HA "\n",
	    "over 32 characters");
	BAD("alice admin "
	    "zz0a2d5ed49b2a1a1ee1d6c7bbd2b7d0d4a9a1f8c7b3a3f7cfe56f1ce3ab6e2f",
	    "not 64 hex digits");
#undef BAD
	/* Role tenant: neither admin, and every request as the tenant. */
	ck_assert_int_eq(
	    gw_tokens_parse("ta tenant " HA "\n", strlen("ta tenant " HA "\n"),
		&t, &n, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(n, 1);
	ck_assert(t[0].as_tenant && !t[0].admin);
	ck_assert_str_eq(t[0].tenant, "ta");
	free(t);
	ck_assert_int_eq(gw_tokens_parse("", 0, &t, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	free(t);
}
END_TEST

static Suite *
rest_suite(void)
{
	Suite *s = suite_create("gateway-rest");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_top);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_cube);
	tcase_add_test(tc, test_lists);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_openapi);
	tcase_add_test(tc, test_tokens);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(rest_suite());
}
