// SPDX-License-Identifier: BSD-2-Clause
/* The CLI's dynmon tools and Polycube's "set <container>": see tools.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tools.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static const char *
word(const struct cub_val *words, uint32_t i)
{
	return i < words->arr.len ? cub_val__as_str(words->arr.items[i]) : NULL;
}

static const char *const inject_usage =
    "usage: cubicle dynmon inject CUBE TARGET FILE "
    "[type=TC|XDP_SKB|XDP_DRV] (TARGET: a netdev or CUBE:PORT; FILE: a "
    "dataplane-config, '-' for stdin)";
static const char *const extract_usage =
    "usage: cubicle dynmon extract CUBE [ingress|egress|all] [NAME] "
    "[--save FILE]";

static int
parse_inject(const struct cli_cmd *cmd, struct cli_tool_args *t, char *err,
    size_t errlen)
{
	static const char *const types[] = {"TC", "XDP_SKB", "XDP_DRV", NULL};
	const struct cub_val *w = cmd->words;
	uint32_t n = w->arr.len, i;
	const char *type;

	if (cmd->save)
		return FAIL(
		    "dynmon inject: --save is extract's; %s", inject_usage);
	if (n == 4 && cmd->file)
		t->file = cmd->file;
	else if (n == 5 && !cmd->file)
		t->file = word(w, 4);
	else if (n == 5)
		return FAIL("dynmon inject: two files ('%s' and --file %s); %s",
		    word(w, 4), cmd->file, inject_usage);
	else
		return FAIL("dynmon inject: %s words; %s",
		    n < 5 ? "too few" : "too many", inject_usage);
	t->cube = word(w, 2);
	t->target = word(w, 3);
	for (i = 0; i < cmd->args->map.len; i++)
		if (strcmp(cmd->args->map.items[i].key, "type"))
			return FAIL(
			    "dynmon inject: unknown argument '%s=' (only "
			    "type=TC|XDP_SKB|XDP_DRV); %s",
			    cmd->args->map.items[i].key, inject_usage);
	type = cub_val__get_str(cmd->args, "type");
	if (type) {
		for (i = 0; types[i] && strcasecmp(types[i], type); i++)
			;
		if (!types[i])
			return FAIL("dynmon inject: type '%s': use TC, XDP_SKB "
				    "or XDP_DRV",
			    type);
		t->type = types[i];
	}
	return 0;
}

static int
parse_extract(const struct cli_cmd *cmd, struct cli_tool_args *t, char *err,
    size_t errlen)
{
	const struct cub_val *w = cmd->words;
	uint32_t n = w->arr.len;
	const char *p;

	if (cmd->file)
		return FAIL("dynmon extract: --file is inject's (to write the "
			    "metrics to a file: --save FILE); %s",
		    extract_usage);
	if (cmd->args->map.len)
		return FAIL("dynmon extract: no key=value arguments ('%s=' "
			    "given); %s",
		    cmd->args->map.items[0].key, extract_usage);
	if (n < 3 || n > 5)
		return FAIL("dynmon extract: %s words; %s",
		    n < 3 ? "too few" : "too many", extract_usage);
	t->cube = word(w, 2);
	p = word(w, 3);
	if (p && strcmp(p, "ingress") && strcmp(p, "egress") &&
	    strcmp(p, "all"))
		return FAIL("dynmon extract: '%s' is not a path (ingress, "
			    "egress or all); %s",
		    p, extract_usage);
	t->path = p && strcmp(p, "all") ? p : NULL;
	t->metric = word(w, 4);
	if (t->metric && !t->path)
		return FAIL("dynmon extract: a metric name needs its path "
			    "(ingress or egress); %s",
		    extract_usage);
	t->save = cmd->save;
	if (t->save && !*t->save)
		return FAIL("dynmon extract: --save needs a file name");
	return 0;
}

int
cli_tool_parse(const struct cli_cmd *cmd, struct cli_tool_args *t, char *err,
    size_t errlen)
{
	const char *w0 = word(cmd->words, 0), *w1 = word(cmd->words, 1);

	memset(t, 0, sizeof(*t));
	if (w0 && w1 && !strcmp(w0, CLI_DYNMON_SERVICE)) {
		if (!strcmp(w1, "inject")) {
			t->tool = CLI_TOOL_INJECT;
			return parse_inject(cmd, t, err, errlen);
		}
		if (!strcmp(w1, "extract")) {
			t->tool = CLI_TOOL_EXTRACT;
			return parse_extract(cmd, t, err, errlen);
		}
	}
	if (cmd->save)
		return FAIL("--save is for 'cubicle dynmon extract' only");
	return 0;
}

static bool
is_verb(const char *w)
{
	static const char *const verbs[] = {"add", "del", "set", "show",
	    "append", "insert", "help", "?", "attach", "detach", "connect",
	    "disconnect", NULL};
	size_t i;

	for (i = 0; w && verbs[i]; i++)
		if (!strcmp(w, verbs[i]))
			return true;
	return false;
}

void
cli_words_set_first(struct cub_val *words)
{
	uint32_t n = words->arr.len, i, at = n, verbs = 0;
	struct cub_val *set;

	for (i = 0; i < n; i++) {
		const char *w = word(words, i);

		if (!is_verb(w))
			continue;
		verbs++;
		if (!strcmp(w, "set"))
			at = i;
	}
	/* "sf1 set x=1" and "sf1 ports p1 set" are the broker's already. */
	if (verbs != 1 || at == 0 || at >= n - 1)
		return;
	set = words->arr.items[at];
	memmove(&words->arr.items[at], &words->arr.items[at + 1],
	    (n - at - 1) * sizeof(words->arr.items[0]));
	words->arr.items[n - 1] = set;
}

int
cli_dataplane_check(const struct cub_val *body, char *err, size_t errlen)
{
	const struct cub_val *v;
	uint32_t i;

	if (!body || body->kind != CUB_V_MAP)
		return FAIL("a dataplane-config is an object of "
			    "\"ingress-path\" and \"egress-path\"");
	for (i = 0; i < body->map.len; i++) {
		const char *k = body->map.items[i].key;

		v = body->map.items[i].val;
		if (strcmp(k, "ingress-path") && strcmp(k, "egress-path"))
			return FAIL("a dataplane-config has \"ingress-path\" "
				    "and \"egress-path\", not \"%s\"",
			    k);
		if (v->kind != CUB_V_MAP)
			return FAIL("\"%s\" is a %s, not an object", k,
			    cub_val__kind_name(v->kind));
	}
	return 0;
}

/* The row of topology's "cubes" named name, or NULL. */
static const struct cub_val *
find_row(const struct cub_val *rows, const char *name)
{
	uint32_t i;

	for (i = 0; rows && rows->kind == CUB_V_ARRAY && i < rows->arr.len;
	     i++) {
		const char *n = cub_val__get_str(rows->arr.items[i], "name");

		if (n && !strcmp(n, name))
			return rows->arr.items[i];
	}
	return NULL;
}

/* Whether target (a netdev, or CUBE:PORT) exists. */
static int
check_target(const struct cub_val *topology, const struct cub_val *netdevs,
    const char *target, char *err, size_t errlen)
{
	const char *colon = strchr(target, ':');
	const struct cub_val *row;
	char cube[256];

	if (!colon) {
		if (!find_row(netdevs, target))
			return FAIL("no netdev '%s' (cubicle netdevs show "
				    "lists them)",
			    target);
		return 0;
	}
	snprintf(cube, sizeof(cube), "%.*s", (int)(colon - target), target);
	row = find_row(cub_val__get(topology, "cubes"), cube);
	if (!row)
		return FAIL("target '%s': no cube '%s'", target, cube);
	if (!find_row(cub_val__get(row, "ports"), colon + 1))
		return FAIL("target '%s': cube '%s' has no port '%s'", target,
		    cube, colon + 1);
	return 0;
}

int
cli_inject_plan(const struct cub_val *topology, const struct cub_val *netdevs,
    const struct cli_tool_args *t, struct cli_inject_plan *plan, char *err,
    size_t errlen)
{
	const struct cub_val *row;
	const char *svc, *type, *at;
	int r;

	memset(plan, 0, sizeof(*plan));
	if (!topology || topology->kind != CUB_V_MAP)
		return FAIL("the broker's topology is not an object");
	r = check_target(topology, netdevs, t->target, err, errlen);
	if (r)
		return r;
	row = find_row(cub_val__get(topology, "cubes"), t->cube);
	if (!row) {
		plan->create = plan->attach = true;
		return 0;
	}
	svc = cub_val__get_str(row, "service");
	if (!svc || strcmp(svc, CLI_DYNMON_SERVICE))
		return FAIL("cube '%s' is a %s cube, not %s", t->cube,
		    svc ? svc : "(unknown)", CLI_DYNMON_SERVICE);
	type = cub_val__get_str(row, "type");
	if (t->type && (!type || strcasecmp(type, t->type)))
		return FAIL("cube '%s' is of type %s, not %s: a cube keeps its "
			    "type (delete it to make it anew)",
		    t->cube, type ? type : "(unknown)", t->type);
	at = cub_val__get_str(row, "attached");
	if (at && *at && !strcmp(at, t->target))
		return 0;
	plan->detach = at && *at ? at : NULL;
	plan->attach = true;
	return 0;
}

struct cub_val *
cli_extract_words(const struct cli_tool_args *t)
{
	struct cub_val *w = cub_val__array();
	char path[32];
	int fail;

	if (!w)
		return NULL;
	fail = cub_val__push(w, cub_val__str(t->cube)) ||
	       cub_val__push(w, cub_val__str("metrics"));
	if (t->path) {
		snprintf(path, sizeof(path), "%s-metrics", t->path);
		fail |= cub_val__push(w, cub_val__str(path));
	}
	if (t->metric)
		fail |= cub_val__push(w, cub_val__str(t->metric));
	fail |= cub_val__push(w, cub_val__str("show"));
	return fail ? cub_val__free(w) : w;
}
