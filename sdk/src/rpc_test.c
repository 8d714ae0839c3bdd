/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the MessagePack-RPC frame codec. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "cubicle/val.h"

static struct cub_val *
params(void)
{
	struct cub_val *p = cub_val__map();

	ck_assert_int_eq(cub_val__set(p, "cube", cub_val__str("fw1")), 0);
	ck_assert_int_eq(cub_val__set(p, "n", cub_val__int(-4)), 0);
	return p;
}

/* Decode a frame given as JSON (encoded to MessagePack first). */
static int
decode_json(const char *json, struct cub_rpc *rpc, char *err, size_t errlen)
{
	struct cub_val *v = cub_json_parse(json, strlen(json), NULL, 0);
	size_t len;
	void *buf;
	int r;

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(cub_mp_encode(v, &buf, &len), 0);
	cub_val__free(v);
	r = cub_rpc__decode(buf, len, rpc, err, errlen);
	free(buf);
	return r;
}

static void
refused(const char *json, int want, const char *msg)
{
	struct cub_rpc rpc;
	char err[256] = "";

	ck_assert_msg(decode_json(json, &rpc, err, sizeof(err)) == want,
	    "%s: %s", json, err);
	ck_assert_msg(
	    strstr(err, msg), "%s: got '%s', want '%s'", json, err, msg);
	ck_assert_ptr_null(rpc.method);
	ck_assert_ptr_null(rpc.params);
	ck_assert_ptr_null(rpc.error);
	ck_assert_ptr_null(rpc.result);
}

START_TEST(test_request)
{
	struct cub_val *want = params();
	struct cub_rpc rpc;
	char err[256];
	size_t len;
	void *buf;

	ck_assert_int_eq(cub_rpc__encode_request(
			     0xfffffffe, CUB_M_PING, params(), &buf, &len),
	    0);
	ck_assert_int_eq(cub_rpc__decode(buf, len, &rpc, err, sizeof(err)), 0);
	ck_assert_int_eq(rpc.type, CUB_RPC_REQUEST);
	ck_assert_uint_eq(rpc.msgid, 0xfffffffe);
	ck_assert_str_eq(rpc.method, "ping");
	ck_assert(cub_val__equal(rpc.params, want));
	ck_assert_ptr_null(rpc.error);
	ck_assert_ptr_null(rpc.result);
	cub_rpc__clear(&rpc);
	ck_assert_ptr_null(rpc.method);
	cub_rpc__clear(&rpc);
	free(buf);

	/* NULL params go out as {}. */
	ck_assert_int_eq(cub_rpc__encode_request(1, "x", NULL, &buf, &len), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert_mem_eq(buf, "\x94\x00\x01\xa1x\x80", 6);
	free(buf);
	cub_val__free(want);
}
END_TEST

START_TEST(test_response)
{
	struct cub_val *res = cub_val__array(), *e;
	struct cub_rpc rpc;
	const char *msg;
	char err[256];
	size_t len;
	void *buf;

	ck_assert_int_eq(cub_val__push(res, cub_val__str("r")), 0);
	ck_assert_int_eq(
	    cub_rpc__encode_response(7, NULL, cub_val__dup(res), &buf, &len),
	    0);
	ck_assert_int_eq(cub_rpc__decode(buf, len, &rpc, err, sizeof(err)), 0);
	ck_assert_int_eq(rpc.type, CUB_RPC_RESPONSE);
	ck_assert_uint_eq(rpc.msgid, 7);
	ck_assert_ptr_null(rpc.method);
	ck_assert_ptr_null(rpc.params);
	ck_assert_ptr_null(rpc.error);
	ck_assert(cub_val__equal(rpc.result, res));
	cub_rpc__clear(&rpc);
	free(buf);

	/* No result: a nil value, not NULL. */
	ck_assert_int_eq(
	    cub_rpc__encode_response(8, NULL, NULL, &buf, &len), 0);
	ck_assert_mem_eq(buf, "\x94\x01\x08\xc0\xc0", 5);
	ck_assert_int_eq(cub_rpc__decode(buf, len, &rpc, err, sizeof(err)), 0);
	ck_assert_ptr_null(rpc.error);
	ck_assert_ptr_nonnull(rpc.result);
	ck_assert_int_eq(rpc.result->kind, CUB_V_NIL);
	cub_rpc__clear(&rpc);
	free(buf);

	/* Error: the result is dropped. */
	e = cub_err_val(CUB_E_NOTFOUND, "cube '%s' does not exist", "fw9");
	ck_assert_int_eq(cub_rpc__encode_response(9, e, res, &buf, &len), 0);
	ck_assert_int_eq(cub_rpc__decode(buf, len, &rpc, err, sizeof(err)), 0);
	ck_assert_ptr_null(rpc.result);
	ck_assert_int_eq(cub_err_parse(rpc.error, &msg), CUB_E_NOTFOUND);
	ck_assert_str_eq(msg, "cube 'fw9' does not exist");
	cub_rpc__clear(&rpc);
	free(buf);

	/* An error that is not a map is refused, and freed. */
	ck_assert_int_eq(cub_rpc__encode_response(1, cub_val__str("x"),
			     cub_val__uint(1), &buf, &len),
	    -EINVAL);
	ck_assert_ptr_null(buf);
}
END_TEST

START_TEST(test_notify)
{
	struct cub_val *want = params();
	struct cub_rpc rpc;
	char err[256];
	size_t len;
	void *buf;

	ck_assert_int_eq(
	    cub_rpc__encode_notify(CUB_EV_PORT_UP, params(), &buf, &len), 0);
	ck_assert_int_eq(cub_rpc__decode(buf, len, &rpc, err, sizeof(err)), 0);
	ck_assert_int_eq(rpc.type, CUB_RPC_NOTIFY);
	ck_assert_uint_eq(rpc.msgid, 0);
	ck_assert_str_eq(rpc.method, "port.up");
	ck_assert(cub_val__equal(rpc.params, want));
	cub_rpc__clear(&rpc);
	free(buf);
	cub_val__free(want);
}
END_TEST

START_TEST(test_encode_refused)
{
	char long_method[CUB_METHOD_MAX + 2];
	size_t len;
	void *buf;

	memset(long_method, 'm', sizeof(long_method) - 1);
	long_method[sizeof(long_method) - 1] = '\0';
	/* Ownership is taken on failure too: ASan/LSan would see a leak. */
	ck_assert_int_eq(
	    cub_rpc__encode_request(1, long_method, params(), &buf, &len),
	    -EINVAL);
	ck_assert_int_eq(
	    cub_rpc__encode_request(1, "", params(), &buf, &len), -EINVAL);
	ck_assert_int_eq(
	    cub_rpc__encode_request(1, NULL, NULL, &buf, &len), -EINVAL);
	ck_assert_int_eq(
	    cub_rpc__encode_request(1, "m", cub_val__array(), &buf, &len),
	    -EINVAL);
	ck_assert_int_eq(
	    cub_rpc__encode_notify("m", cub_val__uint(1), &buf, &len), -EINVAL);
	ck_assert_int_eq(
	    cub_rpc__encode_notify(long_method, NULL, &buf, &len), -EINVAL);
	long_method[CUB_METHOD_MAX] = '\0';
	ck_assert_int_eq(
	    cub_rpc__encode_notify(long_method, NULL, &buf, &len), 0);
	free(buf);
}
END_TEST

START_TEST(test_shapes_refused)
{
	refused("{}", -EBADMSG, "frame is a map, not an array");
	refused("[]", -EBADMSG, "frame must start with type 0, 1 or 2");
	refused("[3, 1, \"m\", {}]", -EBADMSG, "type 0, 1 or 2");
	refused("[-1, 1, \"m\", {}]", -EBADMSG, "type 0, 1 or 2");
	refused("[\"0\", 1, \"m\", {}]", -EBADMSG, "type 0, 1 or 2");
	refused(
	    "[0, 1, \"m\"]", -EBADMSG, "request frame has 3 elements, not 4");
	refused("[0, 1, \"m\", {}, 5]", -EBADMSG, "has 5 elements, not 4");
	refused("[1, 1, null]", -EBADMSG, "response frame has 3 elements");
	refused("[2, \"m\", {}, 1]", -EBADMSG,
	    "notification frame has 4 elements, not 3");
	refused("[0, -1, \"m\", {}]", -EBADMSG,
	    "request msgid must be an unsigned integer, not a negative");
	refused("[0, 4294967296, \"m\", {}]", -EBADMSG,
	    "msgid 4294967296 does not fit in 32 bits");
	refused("[0, 1.0, \"m\", {}]", -EBADMSG, "not a float");
	refused("[1, \"1\", null, null]", -EBADMSG,
	    "response msgid must be an unsigned integer, not a string");
	refused("[0, 1, 5, {}]", -EBADMSG,
	    "request method must be a string, not an integer");
	refused("[0, 1, \"\", {}]", -EBADMSG, "request method is empty");
	refused(
	    "[0, 1, \"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
	    "mmmmmmmmmmm\", {}]",
	    -EMSGSIZE, "method is 65 bytes, over the cap of 64");
	refused("[0, 1, \"m\", []]", -EBADMSG,
	    "request params must be a map, not an array");
	refused(
	    "[0, 1, \"m\", null]", -EBADMSG, "params must be a map, not nil");
	refused("[2, \"m\", \"x\"]", -EBADMSG,
	    "notification params must be a map, not a string");
	refused("[2, null, {}]", -EBADMSG, "notification method must be");
	refused("[1, 1, \"boom\", null]", -EBADMSG,
	    "response error must be nil or a map, not a string");
	refused("[1, 1, [], null]", -EBADMSG, "not an array");
}
END_TEST

START_TEST(test_bad_bytes)
{
	struct cub_rpc rpc;
	char err[256];

	ck_assert_int_eq(
	    cub_rpc__decode("\xdd\xff\x00\x00\x00", 5, &rpc, err, sizeof(err)),
	    -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "array at offset 0 declares"));
	ck_assert_int_eq(cub_rpc__decode("\x94\x00\x01\xa1x\x80\xc0", 7, &rpc,
			     err, sizeof(err)),
	    -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "trailing"));
	ck_assert_int_eq(
	    cub_rpc__decode("\x94\x00\x01\xa1x", 5, &rpc, NULL, 0), -EBADMSG);
	ck_assert_int_eq(
	    cub_rpc__decode("\x94\x00\x01\xa1x\x80", 6, &rpc, NULL, 0), 0);
	cub_rpc__clear(&rpc);
}
END_TEST

/* A frame that fails to decode still names its request's msgid. */
START_TEST(test_msgid_recovered)
{
	static const struct {
		const char *bytes;
		size_t len;
		uint32_t msgid;
		enum cub_rpc_type type;
	} cases[] = {
	    /* [0, 7, "request", {"w": "\xff"}]: invalid UTF-8. */
	    {"\x94\x00\x07\xa7request\x81\xa1w\xa1\xff", 14, 7,
		CUB_RPC_REQUEST},
	    /* msgid as uint32 0xfffffffe, then a truncated method. */
	    {"\x94\x00\xce\xff\xff\xff\xfe\xa7req", 11, 0xfffffffe,
		CUB_RPC_REQUEST},
	    /* array16 header, uint8 msgid, trailing byte. */
	    {"\xdc\x00\x04\x00\xcc\xc8\xa1m\x80\xc0", 10, 200, CUB_RPC_REQUEST},
	    /* A method of the wrong type, decoded far enough to fail. */
	    {"\x94\x00\x09\x05\x80", 5, 9, CUB_RPC_REQUEST},
	    /* Not requests, or no msgid to read: 0. */
	    {"\x94\x01\x07\xc0\xc1", 5, 0, 0},
	    {"\x93\x00\x07\xa1m", 5, 0, 0},
	    {"\x94\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xa1m\x80", 14, 0, 0},
	    {"\x94\x00\xcd\x01", 4, 0, 0},
	    {"\x94\x00", 2, 0, 0},
	    {"\xc1", 1, 0, 0},
	};
	struct cub_rpc rpc;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_ne(cub_rpc__decode(cases[i].bytes, cases[i].len,
				     &rpc, err, sizeof(err)),
		    0);
		ck_assert_msg(rpc.msgid == cases[i].msgid,
		    "case %zu: msgid %u, want %u", i, rpc.msgid,
		    cases[i].msgid);
		ck_assert_int_eq(rpc.type, cases[i].type);
		ck_assert_ptr_null(rpc.method);
		ck_assert_ptr_null(rpc.params);
	}
	ck_assert_int_eq(
	    cub_rpc__decode("", 0, &rpc, err, sizeof(err)), -EBADMSG);
	ck_assert_uint_eq(rpc.msgid, 0);
}
END_TEST

static Suite *
rpc_suite(void)
{
	Suite *s = suite_create("rpc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_request);
	tcase_add_test(tc, test_response);
	tcase_add_test(tc, test_notify);
	tcase_add_test(tc, test_encode_refused);
	tcase_add_test(tc, test_shapes_refused);
	tcase_add_test(tc, test_bad_bytes);
	tcase_add_test(tc, test_msgid_recovered);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(rpc_suite());
}
