// SPDX-License-Identifier: BSD-2-Clause
/* The CLI parser and text rendering. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int
parse(struct cli_cmd *cmd, char *err, const char *line)
{
	static char bufs[8][256];
	static unsigned next;
	char *copy = bufs[next++ % 8], *argv[32], *tok, *save;
	int argc = 0, r;

	snprintf(copy, 256, "%s", line);

	for (tok = strtok_r(copy, " ", &save); tok && argc < 32;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	r = cli_parse(argc, argv, cmd, err, 256);
	/* Values point into copy: keep it for the test's lifetime. */
	return r;
}

static const char *
word(const struct cli_cmd *c, unsigned i)
{
	return cub_val__as_str(c->words->arr.items[i]);
}

START_TEST(words_and_args)
{
	struct cli_cmd c;
	char err[256];

	ck_assert_int_eq(
	    parse(&c, err, "sf1 ports p1 set action=drop outport="), 0);
	ck_assert_uint_eq(c.words->arr.len, 4);
	ck_assert_str_eq(word(&c, 0), "sf1");
	ck_assert_str_eq(word(&c, 3), "set");
	ck_assert_str_eq(cub_val__get_str(c.args, "action"), "drop");
	ck_assert_str_eq(cub_val__get_str(c.args, "outport"), "");
	ck_assert(cli_wants_body(&c));
	ck_assert_int_eq(c.out, CLI_TEXT);
	cli_cmd_clear(&c);
}
END_TEST

START_TEST(options_anywhere)
{
	struct cli_cmd c;
	char err[256];

	ck_assert_int_eq(
	    parse(
		&c, err, "--socket-dir /tmp/s sf1 show -o json --timeout 500"),
	    0);
	ck_assert_str_eq(c.socket_dir, "/tmp/s");
	ck_assert_int_eq(c.out, CLI_JSON);
	ck_assert_int_eq(c.timeout_ms, 500);
	ck_assert_uint_eq(c.words->arr.len, 2);
	ck_assert(!cli_wants_body(&c));
	cli_cmd_clear(&c);
	ck_assert_int_eq(parse(&c, err, "show cubes -yaml"), 0);
	ck_assert_int_eq(c.out, CLI_YAML);
	cli_cmd_clear(&c);
	ck_assert_int_eq(parse(&c, err, "--output=text sf1 ?"), 0);
	ck_assert_str_eq(word(&c, 1), "?");
	cli_cmd_clear(&c);
	ck_assert_int_eq(parse(&c, err, "-- -weird"), 0);
	ck_assert_str_eq(word(&c, 0), "-weird");
	cli_cmd_clear(&c);
}
END_TEST

START_TEST(usage_errors)
{
	struct cli_cmd c;
	char err[256];

	ck_assert_int_ne(parse(&c, err, "sf1 -o xml"), 0);
	ck_assert_ptr_nonnull(strstr(err, "xml"));
	cli_cmd_clear(&c);
	ck_assert_int_ne(parse(&c, err, "sf1 --bogus"), 0);
	ck_assert_ptr_nonnull(strstr(err, "--bogus"));
	cli_cmd_clear(&c);
	ck_assert_int_ne(parse(&c, err, "sf1 set a=1 a=2"), 0);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	cli_cmd_clear(&c);
	ck_assert_int_ne(parse(&c, err, "sf1 set =1"), 0);
	cli_cmd_clear(&c);
	ck_assert_int_ne(parse(&c, err, "sf1 --socket-dir"), 0);
	ck_assert_ptr_nonnull(strstr(err, "needs a value"));
	cli_cmd_clear(&c);
	ck_assert_int_ne(parse(&c, err, "sf1 --timeout -5"), 0);
	cli_cmd_clear(&c);
	/* Out of range, not wrapped around into a small number. */
	ck_assert_int_ne(parse(&c, err, "events --count 4294967297"), 0);
	cli_cmd_clear(&c);
	ck_assert_int_ne(parse(&c, err, "sf1 --timeout 12ms"), 0);
	cli_cmd_clear(&c);
}
END_TEST

static char *
render(const struct cub_val *v, enum cli_out out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_render(f, v, out);
	fclose(f);
	return buf;
}

START_TEST(render_table)
{
	struct cub_val *arr = cub_val__array(), *r;
	char *s;

	r = cub_val__map();
	cub_val__set(r, "name", cub_val__str("sf1"));
	cub_val__set(r, "ports", cub_val__uint(2));
	cub_val__push(arr, r);
	r = cub_val__map();
	cub_val__set(r, "name", cub_val__str("longername"));
	cub_val__set(r, "ports", cub_val__uint(10));
	cub_val__push(arr, r);
	s = render(arr, CLI_TEXT);
	ck_assert_str_eq(s, "name        ports\n"
			    "sf1         2\n"
			    "longername  10\n");
	free(s);
	s = render(arr, CLI_JSON);
	ck_assert_ptr_nonnull(strstr(s, "\"longername\""));
	free(s);
	cub_val__free(arr);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");

	tcase_add_test(tc, words_and_args);
	tcase_add_test(tc, options_anywhere);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, render_table);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
