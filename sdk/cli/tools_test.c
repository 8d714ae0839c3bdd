// SPDX-License-Identifier: BSD-2-Clause
/* The CLI's dynmon tools and "set <container>" (tools.c). */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tools.h"

/* Split line at blanks and parse it; the copies live for the test. */
static int
parse(struct cli_cmd *cmd, char *err, const char *line)
{
	static char bufs[16][512];
	static unsigned next;
	char *copy = bufs[next++ % 16], *argv[32], *tok, *save;
	int argc = 0;

	snprintf(copy, 512, "%s", line);
	for (tok = strtok_r(copy, " ", &save); tok && argc < 32;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	return cli_parse(argc, argv, cmd, err, 256);
}

/*
 * Parse line as a tool: its return, t filled, err the message.  t's
 * strings point into the command's words, kept until the next call or
 * tool_done().
 */
static struct cli_cmd last;
static bool have_last;

static void
tool_done(void)
{
	if (have_last)
		cli_cmd_clear(&last);
	have_last = false;
}

static int
tool(const char *line, struct cli_tool_args *t, char *err)
{
	tool_done();
	ck_assert_int_eq(parse(&last, err, line), 0);
	have_last = true;
	return cli_tool_parse(&last, t, err, 256);
}

START_TEST(inject_args)
{
	struct cli_tool_args t;
	char err[256];

	ck_assert_int_eq(tool("dynmon inject mon1 veth1 c.json", &t, err), 0);
	ck_assert_int_eq(t.tool, CLI_TOOL_INJECT);
	ck_assert_str_eq(t.cube, "mon1");
	ck_assert_str_eq(t.target, "veth1");
	ck_assert_str_eq(t.file, "c.json");
	ck_assert_ptr_null(t.type);
	ck_assert_int_eq(
	    tool("dynmon inject mon1 sf1:p1 - type=xdp_drv", &t, err), 0);
	ck_assert_str_eq(t.target, "sf1:p1");
	ck_assert_str_eq(t.file, "-");
	ck_assert_str_eq(t.type, "XDP_DRV");
	ck_assert_int_eq(
	    tool("dynmon inject mon1 veth1 --file c.yaml", &t, err), 0);
	ck_assert_str_eq(t.file, "c.yaml");
	/* Refusals name what is wrong. */
	ck_assert_int_eq(tool("dynmon inject mon1 veth1", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too few words"));
	ck_assert_ptr_nonnull(strstr(err, "usage: cubicle dynmon inject"));
	ck_assert_int_eq(tool("dynmon inject a b c d", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too many words"));
	ck_assert_int_eq(
	    tool("dynmon inject mon1 veth1 c.json type=XDP", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "type 'XDP'"));
	ck_assert_int_eq(
	    tool("dynmon inject mon1 veth1 c.json loglevel=DEBUG", &t, err),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "'loglevel='"));
	ck_assert_int_eq(
	    tool("dynmon inject mon1 veth1 a.json --file b.json", &t, err),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "two files"));
	ck_assert_int_eq(
	    tool("dynmon inject mon1 veth1 a.json --save x", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "--save"));
	tool_done();
}
END_TEST

START_TEST(extract_args)
{
	struct cli_tool_args t;
	char err[256];

	ck_assert_int_eq(tool("dynmon extract mon1", &t, err), 0);
	ck_assert_int_eq(t.tool, CLI_TOOL_EXTRACT);
	ck_assert_str_eq(t.cube, "mon1");
	ck_assert_ptr_null(t.path);
	ck_assert_ptr_null(t.metric);
	ck_assert_ptr_null(t.save);
	ck_assert_int_eq(tool("dynmon extract mon1 all", &t, err), 0);
	ck_assert_ptr_null(t.path);
	ck_assert_int_eq(
	    tool("dynmon extract mon1 egress --save /tmp/m.json", &t, err), 0);
	ck_assert_str_eq(t.path, "egress");
	ck_assert_str_eq(t.save, "/tmp/m.json");
	ck_assert_int_eq(
	    tool("dynmon extract mon1 ingress packets_total", &t, err), 0);
	ck_assert_str_eq(t.path, "ingress");
	ck_assert_str_eq(t.metric, "packets_total");
	/* Refusals. */
	ck_assert_int_eq(
	    tool("dynmon extract mon1 sideways", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "'sideways' is not a path"));
	ck_assert_int_eq(tool("dynmon extract mon1 all pk", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "needs its path"));
	ck_assert_int_eq(tool("dynmon extract", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too few words"));
	ck_assert_int_eq(
	    tool("dynmon extract mon1 ingress a b", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too many words"));
	ck_assert_int_eq(
	    tool("dynmon extract mon1 --file x.json", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "--save FILE"));
	ck_assert_int_eq(tool("dynmon extract mon1 n=1", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "'n='"));
	tool_done();
}
END_TEST

START_TEST(not_a_tool)
{
	struct cli_tool_args t;
	char err[256];

	ck_assert_int_eq(tool("dynmon add mon1 type=TC", &t, err), 0);
	ck_assert_int_eq(t.tool, CLI_TOOL_NONE);
	ck_assert_int_eq(tool("mon1 inject show", &t, err), 0);
	ck_assert_int_eq(t.tool, CLI_TOOL_NONE);
	ck_assert_int_eq(tool("dynmon", &t, err), 0);
	ck_assert_int_eq(t.tool, CLI_TOOL_NONE);
	ck_assert_int_eq(tool("mon1 show --save f", &t, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "--save is for"));
	tool_done();
}
END_TEST

/* The words of line after cli_words_set_first(), blank-separated. */
static const char *
reorder(const char *line)
{
	static char out[256];
	struct cli_cmd c;
	char err[256];
	size_t o = 0;
	uint32_t i;

	ck_assert_int_eq(parse(&c, err, line), 0);
	cli_words_set_first(c.words);
	out[0] = '\0';
	for (i = 0; i < c.words->arr.len; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s",
		    i ? " " : "", cub_val__as_str(c.words->arr.items[i]));
	cli_cmd_clear(&c);
	return out;
}

START_TEST(set_first)
{
	ck_assert_str_eq(reorder("mon1 set dataplane-config --file f.json"),
	    "mon1 dataplane-config set");
	ck_assert_str_eq(
	    reorder("sf1 set ports p1 action=drop"), "sf1 ports p1 set");
	/* The broker's spellings stay as they are. */
	ck_assert_str_eq(
	    reorder("mon1 dataplane-config set"), "mon1 dataplane-config set");
	ck_assert_str_eq(reorder("sf1 set loglevel=DEBUG"), "sf1 set");
	ck_assert_str_eq(reorder("sf1 ports p1 set"), "sf1 ports p1 set");
	/* "set" as a name: another verb is there. */
	ck_assert_str_eq(
	    reorder("sf1 ports add set peer=veth1"), "sf1 ports add set");
	ck_assert_str_eq(reorder("sf1 ports set show"), "sf1 ports set show");
	ck_assert_str_eq(reorder("set x"), "set x");
}
END_TEST

static struct cub_val *
json(const char *s)
{
	char err[256];
	struct cub_val *v = cub_json_parse(s, strlen(s), err, sizeof(err));

	ck_assert_msg(v, "%s: %s", s, err);
	return v;
}

START_TEST(dataplane_check)
{
	struct cub_val *v;
	char err[256];

	v = json("{\"ingress-path\": {\"name\": \"n\", \"code\": \"c\", "
		 "\"metric-configs\": []}, \"egress-path\": {}}");
	ck_assert_int_eq(cli_dataplane_check(v, err, sizeof(err)), 0);
	cub_val__free(v);
	v = json("{}");
	ck_assert_int_eq(cli_dataplane_check(v, err, sizeof(err)), 0);
	cub_val__free(v);
	v = json("{\"ingress\": {}}");
	ck_assert_int_eq(cli_dataplane_check(v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not \"ingress\""));
	cub_val__free(v);
	v = json("{\"egress-path\": \"code\"}");
	ck_assert_int_eq(cli_dataplane_check(v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "\"egress-path\" is a string"));
	cub_val__free(v);
	ck_assert_int_eq(cli_dataplane_check(NULL, err, sizeof(err)), -EINVAL);
}
END_TEST

static const char *const topo_json =
    "{\"cubes\": ["
    " {\"name\": \"mon1\", \"service\": \"dynmon\", \"type\": \"TC\","
    "  \"attached\": \"veth1\", \"ports\": []},"
    " {\"name\": \"mon2\", \"service\": \"dynmon\", \"type\": \"XDP_DRV\","
    "  \"ports\": []},"
    " {\"name\": \"sf1\", \"service\": \"simpleforwarder\", \"type\": \"TC\","
    "  \"ports\": [{\"name\": \"p1\", \"peer\": \"\"}]}],"
    " \"netdevs\": []}";
static const char *const netdevs_json =
    "[{\"name\": \"lo\"}, {\"name\": \"veth1\"}, {\"name\": \"veth2\"}]";

/* Plan "dynmon inject CUBE TARGET f [type=T]": its return; err. */
static int
plan(const char *cube, const char *target, const char *type,
    struct cli_inject_plan *p, char *err)
{
	struct cub_val *topo = json(topo_json), *nd = json(netdevs_json);
	struct cli_tool_args t = {.tool = CLI_TOOL_INJECT,
	    .cube = cube,
	    .target = target,
	    .file = "f",
	    .type = type};
	static char det[64];
	int r;

	r = cli_inject_plan(topo, nd, &t, p, err, 256);
	/* plan's strings point into topo: copy before freeing it. */
	if (p->detach) {
		snprintf(det, sizeof(det), "%s", p->detach);
		p->detach = det;
	}
	cub_val__free(topo);
	cub_val__free(nd);
	return r;
}

START_TEST(inject_plan)
{
	struct cli_inject_plan p;
	char err[256];

	/* A new cube: created with its dataplane, then attached. */
	ck_assert_int_eq(plan("mon9", "veth2", NULL, &p, err), 0);
	ck_assert(p.create && p.attach && !p.detach);
	ck_assert_int_eq(plan("mon9", "sf1:p1", "XDP_SKB", &p, err), 0);
	ck_assert(p.create && p.attach);
	/* Already there: only the dataplane. */
	ck_assert_int_eq(plan("mon1", "veth1", NULL, &p, err), 0);
	ck_assert(!p.create && !p.attach && !p.detach);
	ck_assert_int_eq(plan("mon1", "veth1", "TC", &p, err), 0);
	/* Attached elsewhere: re-attached. */
	ck_assert_int_eq(plan("mon1", "veth2", NULL, &p, err), 0);
	ck_assert(!p.create && p.attach);
	ck_assert_str_eq(p.detach, "veth1");
	/* Not attached: attached. */
	ck_assert_int_eq(plan("mon2", "sf1:p1", NULL, &p, err), 0);
	ck_assert(!p.create && p.attach && !p.detach);
	/* Refused, nothing to do. */
	ck_assert_int_eq(plan("sf1", "veth1", NULL, &p, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "is a simpleforwarder cube"));
	ck_assert_int_eq(plan("mon2", "veth1", "TC", &p, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "of type XDP_DRV, not TC"));
	ck_assert_int_eq(plan("mon9", "veth7", NULL, &p, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no netdev 'veth7'"));
	ck_assert(!p.create && !p.attach);
	ck_assert_int_eq(plan("mon9", "sf1:p2", NULL, &p, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "has no port 'p2'"));
	ck_assert_int_eq(plan("mon9", "sf2:p1", NULL, &p, err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no cube 'sf2'"));
}
END_TEST

static const char *
words_text(const struct cli_tool_args *t)
{
	static char out[256];
	struct cub_val *w = cli_extract_words(t);
	size_t o = 0;
	uint32_t i;

	ck_assert_ptr_nonnull(w);
	out[0] = '\0';
	for (i = 0; i < w->arr.len; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s",
		    i ? " " : "", cub_val__as_str(w->arr.items[i]));
	cub_val__free(w);
	return out;
}

START_TEST(extract_words)
{
	struct cli_tool_args t = {.tool = CLI_TOOL_EXTRACT, .cube = "mon1"};

	ck_assert_str_eq(words_text(&t), "mon1 metrics show");
	t.path = "ingress";
	ck_assert_str_eq(words_text(&t), "mon1 metrics ingress-metrics show");
	t.path = "egress";
	t.metric = "bytes";
	ck_assert_str_eq(
	    words_text(&t), "mon1 metrics egress-metrics bytes show");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cli-tools");
	TCase *tc = tcase_create("cli-tools");

	tcase_add_test(tc, inject_args);
	tcase_add_test(tc, extract_args);
	tcase_add_test(tc, not_a_tool);
	tcase_add_test(tc, set_first);
	tcase_add_test(tc, dataplane_check);
	tcase_add_test(tc, inject_plan);
	tcase_add_test(tc, extract_words);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
