/* SPDX-License-Identifier: BSD-2-Clause */
/* The main() of every check-based unit test: run a suite, exit 0 or 1. */
#ifndef CUBI_CHECK_RUN_H
#define CUBI_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int
cubi_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
