/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the wire error table. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/errors.h"
#include "cubicle/val.h"

START_TEST(test_names)
{
	int i, j;

	for (i = 0; i < CUB_E__MAX; i++) {
		const char *name = cub_err_name(i);

		ck_assert_ptr_nonnull(name);
		ck_assert_str_ne(name, "unknown");
		ck_assert_int_eq(cub_err_from_name(name), i);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(name, cub_err_name(j));
	}
	ck_assert_str_eq(cub_err_name(-1), "unknown");
	ck_assert_str_eq(cub_err_name(CUB_E__MAX), "unknown");
	ck_assert_int_eq(cub_err_from_name("unknown"), -1);
	ck_assert_int_eq(cub_err_from_name("no-such-name"), -1);
	ck_assert_int_eq(cub_err_from_name(NULL), -1);
	/* Stable values: these are on the wire. */
	ck_assert_str_eq(cub_err_name(CUB_E_NOTFOUND), "not-found");
	ck_assert_int_eq(CUB_E_NOTFOUND, 4);
}
END_TEST

START_TEST(test_val_round_trip)
{
	struct cub_val *e, *bad;
	const char *msg;
	void *buf;
	size_t len;
	int i;

	for (i = 0; i < CUB_E__MAX; i++) {
		struct cub_val *back;

		e = cub_err_val(i, "code %d: %s", i, cub_err_name(i));
		ck_assert_ptr_nonnull(e);
		ck_assert_str_eq(cub_val__get_str(e, "name"), cub_err_name(i));
		ck_assert_int_eq(cub_err_parse(e, &msg), i);
		ck_assert_ptr_nonnull(strstr(msg, cub_err_name(i)));
		/* And through the wire encoding. */
		ck_assert_int_eq(cub_mp_encode(e, &buf, &len), 0);
		ck_assert_int_eq(cub_mp_decode(buf, len, &back, NULL, 0), 0);
		ck_assert_int_eq(cub_err_parse(back, &msg), i);
		cub_val__free(back);
		free(buf);
		cub_val__free(e);
	}

	ck_assert_int_eq(cub_err_parse(NULL, &msg), CUB_E_BADMSG);
	ck_assert_str_eq(msg, "malformed error from peer");
	bad = cub_val__map();
	ck_assert_int_eq(cub_val__set(bad, "code", cub_val__uint(99)), 0);
	ck_assert_int_eq(cub_val__set(bad, "message", cub_val__str("m")), 0);
	ck_assert_int_eq(cub_err_parse(bad, &msg), CUB_E_BADMSG);
	ck_assert_int_eq(cub_val__set(bad, "code", cub_val__uint(5)), 0);
	ck_assert_int_eq(cub_err_parse(bad, &msg), CUB_E_EXISTS);
	ck_assert_str_eq(msg, "m");
	ck_assert_int_eq(cub_val__del(bad, "message"), 0);
	ck_assert_int_eq(cub_err_parse(bad, &msg), CUB_E_BADMSG);
	cub_val__free(bad);
}
END_TEST

START_TEST(test_from_errno)
{
	ck_assert_int_eq(cub_err_from_errno(-ENOENT), CUB_E_NOTFOUND);
	ck_assert_int_eq(cub_err_from_errno(ENOENT), CUB_E_NOTFOUND);
	ck_assert_int_eq(cub_err_from_errno(-EEXIST), CUB_E_EXISTS);
	ck_assert_int_eq(cub_err_from_errno(-EINVAL), CUB_E_INVAL);
	ck_assert_int_eq(cub_err_from_errno(-ENODEV), CUB_E_NODEV);
	ck_assert_int_eq(cub_err_from_errno(0), CUB_E_OK);
	ck_assert_int_eq(cub_err_from_errno(-EBADMSG), CUB_E_BADMSG);
	ck_assert_int_eq(cub_err_from_errno(-EMSGSIZE), CUB_E_TOOBIG);
	ck_assert_int_eq(cub_err_from_errno(-ELOOP), CUB_E_TOOBIG);
	ck_assert_int_eq(cub_err_from_errno(-ENOMEM), CUB_E_INTERNAL);
}
END_TEST

static Suite *
errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_val_round_trip);
	tcase_add_test(tc, test_from_errno);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(errors_suite());
}
