// SPDX-License-Identifier: BSD-2-Clause
/* The CLI parser and text rendering. */
#include <check.h>

#include "check_run.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "names.h"

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
	ck_assert_int_eq(parse(&c, err,
			     "--connect tls+tcp://198.18.0.1:7701 --tls-ca "
			     "ca.pem --tls-cert=me.pem --tls-key me.key show "
			     "cubes"),
	    0);
	ck_assert_str_eq(c.connect, "tls+tcp://198.18.0.1:7701");
	ck_assert_str_eq(c.tls_ca, "ca.pem");
	ck_assert_str_eq(c.tls_cert, "me.pem");
	ck_assert_str_eq(c.tls_key, "me.key");
	ck_assert_uint_eq(c.words->arr.len, 2);
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
	ck_assert_int_ne(parse(&c, err, "show --connect http://198.18.0.1"), 0);
	ck_assert_ptr_nonnull(strstr(err, "tls+tcp://HOST:PORT"));
	cli_cmd_clear(&c);
	ck_assert_int_ne(parse(&c, err, "show --tls-key"), 0);
	ck_assert_ptr_nonnull(strstr(err, "needs a value"));
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

/* Leaf-lists show as the CLI takes them: values joined by commas, in a
 * map, a table and alone; an empty one, like an empty list, is a
 * heading with nothing under it. */
START_TEST(render_leaflist)
{
	struct cub_val *m = cub_val__map(), *ll = cub_val__array(), *arr;
	char *s;

	cub_val__push(ll, cub_val__uint(80));
	cub_val__push(ll, cub_val__uint(443));
	cub_val__set(m, "id", cub_val__uint(1));
	cub_val__set(m, "dports", cub_val__dup(ll));
	cub_val__set(m, "nets", cub_val__array());
	s = render(m, CLI_TEXT);
	ck_assert_str_eq(s, "id      1\n"
			    "dports  80,443\n"
			    "\n"
			    "nets:\n");
	free(s);
	arr = cub_val__array();
	cub_val__push(arr, cub_val__dup(m));
	s = render(arr, CLI_TEXT);
	ck_assert_str_eq(s, "id  dports\n"
			    "1   80,443\n");
	free(s);
	s = render(ll, CLI_TEXT);
	ck_assert_str_eq(s, "80,443\n");
	free(s);
	cub_val__free(arr);
	cub_val__free(ll);
	cub_val__free(m);
}
END_TEST

/* An argument that is not UTF-8 is named by its place (17). */
START_TEST(usage_utf8)
{
	char *argv[] = {"sf1", "ports", "add", "p\3771", NULL};
	char *argv2[] = {"sf1", "set", "peer=\xc3(", NULL};
	struct cli_cmd c;
	char err[256];

	ck_assert_int_ne(cli_parse(4, argv, &c, err, sizeof(err)), 0);
	ck_assert_msg(
	    strstr(err, "argument 4") && strstr(err, "not valid UTF-8"), "%s",
	    err);
	cli_cmd_clear(&c);
	ck_assert_int_ne(cli_parse(3, argv2, &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "argument 3"));
	cli_cmd_clear(&c);
	/* Printable UTF-8 and control characters are the broker's call. */
	argv[3] = "p\xc3\xa9\033";
	ck_assert_int_eq(cli_parse(4, argv, &c, err, sizeof(err)), 0);
	cli_cmd_clear(&c);
}
END_TEST

/* No control character reaches the terminal raw (15). */
START_TEST(render_escapes)
{
	struct cub_val *arr = cub_val__array(), *r, *m;
	char *s;

	r = cub_val__map();
	cub_val__set(r, "name", cub_val__str("p1"));
	cub_val__set(r, "peer", cub_val__str("d\033x"));
	cub_val__push(arr, r);
	r = cub_val__map();
	cub_val__set(r, "name", cub_val__str("p2"));
	cub_val__set(r, "peer", cub_val__str("c\xc2\x9bx\n\t\x7f"));
	cub_val__push(arr, r);
	s = render(arr, CLI_TEXT);
	ck_assert_str_eq(s, "name  peer\n"
			    "p1    d\\x1bx\n"
			    "p2    c\\u009bx\\n\\t\\x7f\n");
	free(s);
	s = render(arr, CLI_JSON);
	ck_assert_ptr_nonnull(strstr(s, "d\\u001bx"));
	ck_assert_ptr_nonnull(strstr(s, "c\\u009bx\\n\\t\\u007f"));
	free(s);
	s = render(arr, CLI_YAML);
	ck_assert_ptr_null(strpbrk(s, "\033\t\x7f"));
	ck_assert_ptr_null(strstr(s, "\xc2\x9b"));
	free(s);
	m = cub_val__map();
	cub_val__set(m, "k\033", cub_val__str("v\033"));
	cub_val__set(m, "rows", arr);
	s = render(m, CLI_TEXT);
	ck_assert_ptr_null(strchr(s, '\033'));
	ck_assert_ptr_nonnull(strstr(s, "k\\x1b  v\\x1b"));
	free(s);
	cub_val__free(m);
	s = cli_escape("a\033[2Jb\xff\\n");
	ck_assert_str_eq(s, "a\\x1b[2Jb\\xff\\n");
	free(s);
}
END_TEST

/* Polycube dynmon's value shapes (issue 7's ANY fields): a struct-keyed
 * list with per-CPU values, a u64 over 2^53, a string with quotes and a
 * newline. */
static struct cub_val *
any_rows(void)
{
	struct cub_val *rows = cub_val__array(), *r, *v, *e, *k, *pcpu;

	r = cub_val__map();
	cub_val__set(r, "name", cub_val__str("flows"));
	v = cub_val__array();
	e = cub_val__map();
	k = cub_val__map();
	cub_val__set(k, "saddr", cub_val__str("198.18.0.1"));
	cub_val__set(k, "proto", cub_val__uint(6));
	cub_val__set(e, "key", k);
	pcpu = cub_val__array();
	cub_val__push(pcpu, cub_val__uint(1));
	cub_val__push(pcpu, cub_val__uint(2));
	cub_val__set(e, "value", pcpu);
	cub_val__push(v, e);
	cub_val__set(r, "value", v);
	cub_val__set(r, "timestamp", cub_val__uint(1700000000000001));
	cub_val__push(rows, r);
	r = cub_val__map();
	cub_val__set(r, "name", cub_val__str("big"));
	cub_val__set(r, "value", cub_val__uint(18446744073709551615u));
	cub_val__set(r, "timestamp", cub_val__uint(1700000000000002));
	cub_val__push(rows, r);
	r = cub_val__map();
	cub_val__set(r, "name", cub_val__str("note"));
	cub_val__set(r, "value", cub_val__str("say \"hi\"\nbye"));
	cub_val__set(r, "timestamp", cub_val__uint(3));
	cub_val__push(rows, r);
	return rows;
}

/* Same value, same map key order at every level. */
static bool
same_order(const struct cub_val *a, const struct cub_val *b)
{
	uint32_t i;

	if (!cub_val__equal(a, b) || a->kind != b->kind)
		return false;
	if (a->kind == CUB_V_ARRAY)
		for (i = 0; i < a->arr.len; i++)
			if (!same_order(a->arr.items[i], b->arr.items[i]))
				return false;
	if (a->kind == CUB_V_MAP)
		for (i = 0; i < a->map.len; i++)
			if (strcmp(a->map.items[i].key, b->map.items[i].key) ||
			    !same_order(
				a->map.items[i].val, b->map.items[i].val))
				return false;
	return true;
}

START_TEST(render_any)
{
	struct cub_val *rows = any_rows(), *m, *back;
	char *s, err[128];

	/* A table: nested values as one line of JSON, in the last
	 * columns; strings escaped; nothing breaks a row. */
	s = render(rows, CLI_TEXT);
	ck_assert_str_eq(s, "name   timestamp         value\n"
			    "flows  1700000000000001  "
			    "[{\"key\":{\"saddr\":\"198.18.0.1\",\"proto\":6},"
			    "\"value\":[1,2]}]\n"
			    "big    1700000000000002  18446744073709551615\n"
			    "note   3                 say \"hi\"\\nbye\n");
	free(s);
	/* One entry: its flat fields, then the nested value's own table. */
	s = render(rows->arr.items[0], CLI_TEXT);
	ck_assert_str_eq(s,
	    "name       flows\n"
	    "timestamp  1700000000000001\n"
	    "\n"
	    "value:\n"
	    "  value  key\n"
	    "  1,2    {\"saddr\":\"198.18.0.1\",\"proto\":6}\n");
	free(s);
	/* The value alone. */
	s = render(cub_val__get(rows->arr.items[1], "value"), CLI_TEXT);
	ck_assert_str_eq(s, "18446744073709551615\n");
	free(s);
	s = render(cub_val__get(rows->arr.items[2], "value"), CLI_TEXT);
	/* A text of lines shown alone is its lines (render_lines). */
	ck_assert_str_eq(s, "say \"hi\"\nbye\n");
	free(s);
	/* A list mixing kinds: one item a line, null as null. */
	m = cub_val__map();
	back = cub_val__array();
	cub_val__push(back, cub_val__nil());
	cub_val__push(
	    back, cub_val__dup(cub_val__get(rows->arr.items[0], "value")));
	cub_val__push(back, cub_val__str("a\nb"));
	cub_val__set(m, "v", back);
	s = render(m, CLI_TEXT);
	ck_assert_str_eq(s,
	    "\n"
	    "v:\n"
	    "  null\n"
	    "  [{\"key\":{\"saddr\":\"198.18.0.1\",\"proto\":6},"
	    "\"value\":[1,2]}]\n"
	    "  a\\nb\n");
	free(s);
	cub_val__free(m);

	/* JSON and YAML: the value embedded exactly, u64 and order kept. */
	s = render(rows, CLI_JSON);
	ck_assert_ptr_nonnull(strstr(s, "18446744073709551615"));
	ck_assert_ptr_nonnull(strstr(s, "\"say \\\"hi\\\"\\nbye\""));
	back = cub_json_parse(s, strlen(s), err, sizeof(err));
	ck_assert_msg(back, "%s", err);
	ck_assert(same_order(back, rows));
	cub_val__free(back);
	free(s);
	s = render(rows, CLI_YAML);
	ck_assert_ptr_nonnull(strstr(s, "18446744073709551615"));
	back = cub_yaml_parse(s, strlen(s), err, sizeof(err));
	ck_assert_msg(back, "%s", err);
	ck_assert(same_order(back, rows));
	cub_val__free(back);
	free(s);
	cub_val__free(rows);
}
END_TEST

/* The words the CLI and the broker interpret are reserved names (16). */
START_TEST(reserved_words)
{
	static const char *const words[] = {"events", "cubes", "services",
	    "netdevs", "cube", "ping", "show", "help", "?", "add", "del", "set",
	    "attach", "detach", "topology", NULL};
	struct cli_cmd c;
	char err[256];
	unsigned i;

	for (i = 0; words[i]; i++)
		ck_assert_msg(cubi_word_reserved(words[i]), "%s", words[i]);
	ck_assert(!cubi_word_reserved("sf1"));
	ck_assert(!cubi_word_reserved("Events"));
	ck_assert_int_eq(parse(&c, err, "events --count 2"), 0);
	ck_assert(cli_wants_events(&c));
	cli_cmd_clear(&c);
	ck_assert_int_eq(parse(&c, err, "cube events show"), 0);
	ck_assert(!cli_wants_events(&c));
	cli_cmd_clear(&c);
}
END_TEST

/* A show of one field of lines (`open-metrics show`) prints the lines,
 * each escaped; a one-line text stays a row. */
START_TEST(render_lines)
{
	struct cub_val *m = cub_val__map();
	char *s;

	cub_val__set(m, "open-metrics",
	    cub_val__str("# TYPE x counter\nx_total{a=\"\033\"} 1\n# EOF\n"));
	s = render(m, CLI_TEXT);
	ck_assert_str_eq(s, "# TYPE x counter\n"
			    "x_total{a=\"\\x1b\"} 1\n"
			    "# EOF\n");
	free(s);
	cub_val__free(m);
	m = cub_val__str("# EOF\n");
	s = render(m, CLI_TEXT);
	ck_assert_str_eq(s, "# EOF\n");
	free(s);
	cub_val__free(m);
	m = cub_val__map();
	cub_val__set(m, "open-metrics", cub_val__str("one line"));
	s = render(m, CLI_TEXT);
	ck_assert_str_eq(s, "open-metrics  one line\n");
	free(s);
	cub_val__set(m, "other", cub_val__str("a\nb"));
	s = render(m, CLI_TEXT);
	ck_assert_ptr_nonnull(strstr(s, "a\\nb"));
	free(s);
	cub_val__free(m);
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
	tcase_add_test(tc, render_leaflist);
	tcase_add_test(tc, usage_utf8);
	tcase_add_test(tc, render_escapes);
	tcase_add_test(tc, render_any);
	tcase_add_test(tc, render_lines);
	tcase_add_test(tc, reserved_words);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
