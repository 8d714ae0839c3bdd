// SPDX-License-Identifier: BSD-2-Clause
/* cubicle CLI: parsing and rendering, kept apart from I/O for tests. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "names.h"
#include "parse.h"
#include "text.h"

void
cli_cmd_clear(struct cli_cmd *cmd)
{
	cmd->words = cub_val__free(cmd->words);
	cmd->args = cub_val__free(cmd->args);
}

static int
parse_out(const char *s, enum cli_out *out)
{
	if (!strcmp(s, "text"))
		*out = CLI_TEXT;
	else if (!strcmp(s, "json"))
		*out = CLI_JSON;
	else if (!strcmp(s, "yaml"))
		*out = CLI_YAML;
	else
		return -EINVAL;
	return 0;
}

static bool
is_key(const char *s, size_t len)
{
	size_t i;

	if (!len || len > 64)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

#define USAGE(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static int
parse_args(int argc, char **argv, struct cli_cmd *cmd, char *err, size_t errlen)
{
	bool opts = true;
	const char *a, *val, *eq;
	uint64_t n;
	size_t at;
	int i;

	memset(cmd, 0, sizeof(*cmd));
	cmd->words = cub_val__array();
	cmd->args = cub_val__map();
	if (!cmd->words || !cmd->args)
		return USAGE("out of memory");
	for (i = 0; i < argc; i++) {
		a = argv[i];
		/* The broker would refuse the frame: say which argument. */
		if (cubi_text_check(a, strlen(a), &at) == -EILSEQ)
			return USAGE("argument %d ('%.64s') is not valid UTF-8 "
				     "(byte %zu)",
			    i + 1, a, at + 1);
		if (opts && !strcmp(a, "--")) {
			opts = false;
			continue;
		}
		if (opts && a[0] == '-' && a[1]) {
			const char *name = a + (a[1] == '-' ? 2 : 1);
			size_t nlen = strcspn(name, "=");

			val = name[nlen] == '=' ? name + nlen + 1 : NULL;
#define OPT(s) (nlen == strlen(s) && !strncmp(name, s, nlen))
#define NEEDVAL()                                                              \
	do {                                                                   \
		if (!val) {                                                    \
			if (i + 1 >= argc)                                     \
				return USAGE("option '%s' needs a value", a);  \
			val = argv[++i];                                       \
		}                                                              \
	} while (0)
			if (OPT("h") || OPT("help")) {
				cmd->help = true;
			} else if (OPT("version")) {
				cmd->version = true;
			} else if (OPT("json")) {
				cmd->out = CLI_JSON;
			} else if (OPT("yaml")) {
				cmd->out = CLI_YAML;
			} else if (OPT("o") || OPT("output")) {
				NEEDVAL();
				if (parse_out(val, &cmd->out))
					return USAGE("output format '%s': use "
						     "text, json or yaml",
					    val);
			} else if (OPT("socket-dir")) {
				NEEDVAL();
				cmd->socket_dir = val;
			} else if (OPT("connect")) {
				NEEDVAL();
				if (strncmp(val, "tls+tcp://", 10) &&
				    strncmp(val, "tcp://", 6) &&
				    strncmp(val, "ipc://", 6))
					return USAGE("--connect '%s': a "
						     "tls+tcp://HOST:PORT URL "
						     "(or tcp://, ipc://)",
					    val);
				cmd->connect = val;
			} else if (OPT("tls-ca")) {
				NEEDVAL();
				cmd->tls_ca = val;
			} else if (OPT("tls-cert")) {
				NEEDVAL();
				cmd->tls_cert = val;
			} else if (OPT("tls-key")) {
				NEEDVAL();
				cmd->tls_key = val;
			} else if (OPT("f") || OPT("file")) {
				NEEDVAL();
				cmd->file = val;
			} else if (OPT("save")) {
				NEEDVAL();
				cmd->save = val;
			} else if (OPT("rid")) {
				NEEDVAL();
				if (!*val || strlen(val) > 64)
					return USAGE(
					    "--rid: 1 to 64 characters");
				cmd->rid = val;
			} else if (OPT("as")) {
				/* USER[:ROLE]; the broker checks both. */
				NEEDVAL();
				if (!*val || *val == ':')
					return USAGE("--as: USER[:ROLE], e.g. "
						     "alice:reader");
				cmd->as = val;
			} else if (OPT("count")) {
				NEEDVAL();
				if (cubi_parse_uint(val, 1, INT32_MAX, &n))
					return USAGE("--count: '%s' is not a "
						     "positive number",
					    val);
				cmd->count = (int)n;
			} else if (OPT("timeout")) {
				NEEDVAL();
				if (cubi_parse_uint(val, 1, 3600000, &n))
					return USAGE("--timeout: '%s' is not "
						     "a number of "
						     "milliseconds",
					    val);
				cmd->timeout_ms = (int)n;
			} else {
				return USAGE("unknown option '%s'", a);
			}
#undef OPT
#undef NEEDVAL
			continue;
		}
		eq = strchr(a, '=');
		if (eq) {
			if (!is_key(a, (size_t)(eq - a)))
				return USAGE("'%s': a key=value argument needs "
					     "a key of letters, digits, '-' "
					     "or '_'",
				    a);
			{
				char key[65];

				snprintf(
				    key, sizeof(key), "%.*s", (int)(eq - a), a);
				if (cub_val__get(cmd->args, key))
					return USAGE(
					    "'%s' is given twice", key);
				if (cub_val__set(
					cmd->args, key, cub_val__str(eq + 1)))
					return USAGE("bad value for '%s'", key);
			}
			continue;
		}
		if (!*a)
			return USAGE("empty word in the command");
		if (cub_val__push(cmd->words, cub_val__str(a)))
			return USAGE("bad word '%s'", a);
	}
	return 0;
}

bool
cli_wants_events(const struct cli_cmd *cmd)
{
	const char *w = cmd->words->arr.len == 1
			    ? cub_val__as_str(cmd->words->arr.items[0])
			    : NULL;

	/* A word the CLI interprets is in the reserved set (names.c). */
	return w && !strcmp(w, CUBI_W_EVENTS);
}

bool
cli_wants_body(const struct cli_cmd *cmd)
{
	uint32_t i;

	for (i = 0; i < cmd->words->arr.len; i++) {
		const char *w = cub_val__as_str(cmd->words->arr.items[i]);

		/* append and insert: an ordered list's add */
		if (w && (!strcmp(w, "add") || !strcmp(w, "set") ||
			     !strcmp(w, "append") || !strcmp(w, "insert")))
			return true;
	}
	return false;
}

/* Text rendering. */

/* A leaf-list: a non-empty array of scalars, shown as "a,b,c" (the way
 * the CLI takes it). */
static bool
is_leaflist(const struct cub_val *v)
{
	uint32_t i;

	if (v->kind != CUB_V_ARRAY || !v->arr.len)
		return false;
	for (i = 0; i < v->arr.len; i++)
		if (v->arr.items[i]->kind == CUB_V_ARRAY ||
		    v->arr.items[i]->kind == CUB_V_MAP)
			return false;
	return true;
}

static bool
is_scalar(const struct cub_val *v)
{
	return (v->kind != CUB_V_ARRAY && v->kind != CUB_V_MAP) ||
	       is_leaflist(v);
}

char *
cli_escape(const char *s)
{
	return cubi_text_escape_dup(s ? s : "");
}

/* Everything shown as text is escaped: no control character (a netdev
 * name may hold ESC) reaches the terminal raw. */
static char *
esc(const char *s)
{
	return cli_escape(s);
}

static char *scalar_text(const struct cub_val *v);

/* The values of a leaf-list joined by commas. */
static char *
leaflist_text(const struct cub_val *v)
{
	size_t len = 0, n;
	char *out = NULL, *p, *one;
	uint32_t i;

	for (i = 0; i < v->arr.len; i++) {
		one = scalar_text(v->arr.items[i]);
		n = one ? strlen(one) : 0;
		p = realloc(out, len + n + 2);
		if (!p) {
			free(one);
			free(out);
			return NULL;
		}
		out = p;
		if (i)
			out[len++] = ',';
		memcpy(out + len, one ? one : "", n + 1);
		len += n;
		free(one);
	}
	return out;
}

static char *
scalar_text(const struct cub_val *v)
{
	char *s = NULL;

	if (is_leaflist(v))
		return leaflist_text(v);
	switch (v->kind) {
	case CUB_V_STR:
		return esc(v->str.ptr);
	case CUB_V_NIL:
		return strdup("");
	default:
		s = cub_json_emit(v, false);
		return s ? s : strdup("?");
	}
}

static bool
is_table(const struct cub_val *v)
{
	uint32_t i;

	if (v->kind != CUB_V_ARRAY || !v->arr.len)
		return false;
	for (i = 0; i < v->arr.len; i++)
		if (v->arr.items[i]->kind != CUB_V_MAP)
			return false;
	return true;
}

/* A value on one line: a scalar or a leaf-list as scalar_text() shows
 * it, anything nested (an ANY field's value) as compact JSON, which
 * escapes every control character: nothing breaks a row. */
static char *
cell_text(const struct cub_val *v)
{
	char *s;

	if (is_scalar(v))
		return scalar_text(v);
	s = cub_json_emit(v, false);
	return s ? s : strdup("?");
}

static bool
is_empty(const struct cub_val *v)
{
	return (v->kind == CUB_V_ARRAY && !v->arr.len) ||
	       (v->kind == CUB_V_MAP && !v->map.len);
}

/*
 * Columns: the keys of all rows but empty lists and containers, in
 * first-seen order, the columns with
 * nested values (shown as JSON, polycubectl's way) after the others so
 * that a long one does not push the rest away.
 */
static void
render_table(FILE *f, const struct cub_val *rows, int indent)
{
	const char *cols[64], *key;
	bool nested[64];
	char *heads[64];
	size_t width[64];
	unsigned ncols = 0, c, d, flat;
	uint32_t i, j;
	char *s;

	for (i = 0; i < rows->arr.len; i++) {
		const struct cub_val *r = rows->arr.items[i];

		for (j = 0; j < r->map.len; j++) {
			key = r->map.items[j].key;
			/* An empty list or container alone makes no column:
			 * nothing to show. */
			if (is_empty(r->map.items[j].val))
				continue;
			for (c = 0; c < ncols; c++)
				if (!strcmp(cols[c], key))
					break;
			if (c == ncols && ncols < 64) {
				cols[ncols] = key;
				nested[ncols++] = false;
			}
			if (c < ncols && !is_scalar(r->map.items[j].val))
				nested[c] = true;
		}
	}
	/* Stable: the flat columns, then the nested ones. */
	for (c = flat = 0; c < ncols; c++) {
		if (nested[c])
			continue;
		key = cols[c];
		for (d = c; d > flat; d--) {
			cols[d] = cols[d - 1];
			nested[d] = nested[d - 1];
		}
		cols[flat] = key;
		nested[flat++] = false;
	}
	for (c = 0; c < ncols; c++) {
		heads[c] = esc(cols[c]);
		width[c] = heads[c] ? strlen(heads[c]) : 0;
	}
	for (i = 0; i < rows->arr.len; i++)
		for (c = 0; c < ncols; c++) {
			const struct cub_val *v =
			    cub_val__get(rows->arr.items[i], cols[c]);

			if (!v)
				continue;
			s = cell_text(v);
			if (s && strlen(s) > width[c])
				width[c] = strlen(s);
			free(s);
		}
	fprintf(f, "%*s", indent, "");
	for (c = 0; c < ncols; c++)
		if (c + 1 < ncols)
			fprintf(f, "%-*s  ", (int)width[c], heads[c] ?: "");
		else
			fprintf(f, "%s\n", heads[c] ?: "");
	for (i = 0; i < rows->arr.len; i++) {
		fprintf(f, "%*s", indent, "");
		for (c = 0; c < ncols; c++) {
			const struct cub_val *v =
			    cub_val__get(rows->arr.items[i], cols[c]);

			s = v ? cell_text(v) : strdup("");
			if (c + 1 < ncols)
				fprintf(f, "%-*s  ", (int)width[c], s ? s : "");
			else
				fprintf(f, "%s\n", s ? s : "");
			free(s);
		}
	}
	for (c = 0; c < ncols; c++)
		free(heads[c]);
}

static void
render_map(FILE *f, const struct cub_val *m, int indent)
{
	size_t w = 0, l;
	uint32_t i;
	char *s, *k;

	for (i = 0; i < m->map.len; i++) {
		if (!is_scalar(m->map.items[i].val))
			continue;
		k = esc(m->map.items[i].key);
		if (k && (l = strlen(k)) > w)
			w = l;
		free(k);
	}
	for (i = 0; i < m->map.len; i++) {
		const struct cub_val *v = m->map.items[i].val;

		if (!is_scalar(v))
			continue;
		s = scalar_text(v);
		k = esc(m->map.items[i].key);
		fprintf(f, "%*s%-*s  %s\n", indent, "", (int)w, k ? k : "",
		    s ? s : "");
		free(k);
		free(s);
	}
	for (i = 0; i < m->map.len; i++) {
		const struct cub_val *v = m->map.items[i].val;

		if (is_scalar(v))
			continue;
		k = esc(m->map.items[i].key);
		fprintf(f, "\n%*s%s:\n", indent, "", k ? k : "");
		free(k);
		if (is_table(v))
			render_table(f, v, indent + 2);
		else if (v->kind == CUB_V_MAP)
			render_map(f, v, indent + 2);
		else {
			/* One item a line; a null one as JSON's null, not
			 * as an empty line. */
			for (uint32_t j = 0; j < v->arr.len; j++) {
				s = v->arr.items[j]->kind == CUB_V_NIL
					? strdup("null")
					: cell_text(v->arr.items[j]);
				fprintf(
				    f, "%*s%s\n", indent + 2, "", s ? s : "");
				free(s);
			}
		}
	}
}

static const char *
flag_words(uint64_t flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", flags & 0x1 ? "key " : "",
	    flags & 0x2 ? "read-only " : "", flags & 0x4 ? "init-only " : "",
	    flags & 0x8 ? "required " : "");
	if (*buf)
		buf[strlen(buf) - 1] = '\0';
	return buf;
}

/* A parameter's type, with its values for an enum: enum(a|b|c). */
static struct cub_val *
type_text(const struct cub_val *row)
{
	const struct cub_val *en = cub_val__get(row, "enum");
	const char *type = cub_val__get_str(row, "type");
	char buf[512];
	size_t n;
	uint32_t i;

	if (!en || en->kind != CUB_V_ARRAY)
		return cub_val__str(type ? type : "");
	n = (size_t)snprintf(buf, sizeof(buf), "%s(", type ? type : "enum");
	for (i = 0; i < en->arr.len && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
		    i ? "|" : "", cub_val__as_str(en->arr.items[i]) ?: "");
	if (n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, ")");
	return cub_val__str(buf);
}

/* Help replies: {path, keywords: [...], params: [...], example}. */
static void
render_help(FILE *f, const struct cub_val *h)
{
	const struct cub_val *kws = cub_val__get(h, "keywords");
	const struct cub_val *params = cub_val__get(h, "params");
	const char *ex = cub_val__get_str(h, "example");
	struct cub_val *rows, *r;
	const struct cub_val *p;
	char buf[64];
	uint64_t flags;
	uint32_t i;

	if (kws && is_table(kws)) {
		rows = cub_val__array();
		for (i = 0; i < kws->arr.len; i++) {
			p = kws->arr.items[i];
			r = cub_val__map();
			cub_val__set(r, "keyword",
			    cub_val__str(cub_val__get_str(p, "name") ?: ""));
			cub_val__set(r, "kind",
			    cub_val__str(cub_val__get_str(p, "kind") ?: ""));
			cub_val__set(r, "description",
			    cub_val__str(cub_val__get_str(p, "help") ?: ""));
			cub_val__push(rows, r);
		}
		fprintf(f, "Keywords:\n");
		render_table(f, rows, 2);
		cub_val__free(rows);
	}
	if (params && is_table(params)) {
		rows = cub_val__array();
		for (i = 0; i < params->arr.len; i++) {
			p = params->arr.items[i];
			flags = 0;
			cub_val__as_u64(cub_val__get(p, "flags"), &flags);
			r = cub_val__map();
			cub_val__set(r, "parameter",
			    cub_val__str(cub_val__get_str(p, "name") ?: ""));
			cub_val__set(r, "type", type_text(p));
			cub_val__set(r, "flags",
			    cub_val__str(flag_words(flags, buf, sizeof(buf))));
			cub_val__set(r, "default",
			    cub_val__get(p, "default")
				? cub_val__dup(cub_val__get(p, "default"))
				: cub_val__str(""));
			cub_val__set(r, "description",
			    cub_val__str(cub_val__get_str(p, "help") ?: ""));
			cub_val__push(rows, r);
		}
		fprintf(f, "\nParameters:\n");
		render_table(f, rows, 2);
		cub_val__free(rows);
	}
	if (ex && *ex) {
		char *e = esc(ex);

		fprintf(f, "\nExample:\n  %s\n", e ? e : "");
		free(e);
	}
}

/*
 * A show of one text field that holds lines (dynmon's `open-metrics
 * show`): the text itself, a line each, each line escaped as every value
 * is, so that it is what a scraper would read and still no control
 * character reaches the terminal.  NULL when v is not such a show.
 */
static const char *
lines_field(const struct cub_val *v)
{
	const char *s;

	if (v->kind == CUB_V_MAP && v->map.len == 1)
		v = v->map.items[0].val;
	s = cub_val__as_str(v);
	return s && strchr(s, '\n') ? s : NULL;
}

static void
render_lines(FILE *f, const char *s)
{
	const char *nl;
	char *line, *e;

	while (*s) {
		nl = strchr(s, '\n');
		line = strndup(s, nl ? (size_t)(nl - s) : strlen(s));
		e = line ? esc(line) : NULL;
		fprintf(f, "%s\n", e ? e : "");
		free(e);
		free(line);
		if (!nl)
			break;
		s = nl + 1;
	}
}

void
cli_render(FILE *f, const struct cub_val *v, enum cli_out out)
{
	const char *text;
	char *s;

	if (out != CLI_TEXT) {
		s = out == CLI_JSON ? cub_json_emit(v, true) : cub_yaml_emit(v);
		if (s) {
			fputs(s, f);
			if (out == CLI_JSON && s[0] && s[strlen(s) - 1] != '\n')
				fputc('\n', f);
		}
		free(s);
		return;
	}
	if ((text = lines_field(v)))
		render_lines(f, text);
	else if (v->kind == CUB_V_MAP && cub_val__get(v, "keywords"))
		render_help(f, v);
	else if (v->kind == CUB_V_MAP)
		render_map(f, v, 0);
	else if (is_table(v))
		render_table(f, v, 0);
	else if (v->kind == CUB_V_ARRAY && !v->arr.len)
		; /* nothing to show */
	else {
		s = scalar_text(v);
		fprintf(f, "%s\n", s ? s : "");
		free(s);
	}
}

/* On failure nothing is left to free: the caller only prints err. */
int
cli_parse(int argc, char **argv, struct cli_cmd *cmd, char *err, size_t errlen)
{
	int r;

	r = parse_args(argc, argv, cmd, err, errlen);
	if (r)
		cli_cmd_clear(cmd);
	return r;
}

/* One attach point's chains, Polycube's `topology show <netdev>` lines. */
static void
render_chains(FILE *f, const struct cub_val *tp, int indent)
{
	const char *k[] = {"ingress service chain", "egress service chain"};
	char *s;
	unsigned i;

	for (i = 0; i < 2; i++) {
		if (i && !cub_val__get(tp, k[i]))
			continue; /* an XDP stack: ingress only */
		s = esc(cub_val__get_str(tp, k[i]) ?: "");
		fprintf(f, "%*s%s: %s\n", indent, "", k[i], s ? s : "");
		free(s);
	}
}

void
cli_render_topology(FILE *f, const struct cub_val *v)
{
	const struct cub_val *cubes = cub_val__get(v, "cubes");
	const struct cub_val *nds = cub_val__get(v, "netdevs");
	const struct cub_val *c, *ports, *p;
	char *a, *b2, *c2, *d;
	uint32_t i, j;

	if (cub_val__get(v, "ingress service chain")) {
		render_chains(f, v, 0);
		return;
	}
	for (i = 0; cubes && cubes->kind == CUB_V_ARRAY && i < cubes->arr.len;
	     i++) {
		c = cubes->arr.items[i];
		a = esc(cub_val__get_str(c, "name") ?: "");
		b2 = esc(cub_val__get_str(c, "service") ?: "");
		c2 = esc(cub_val__get_str(c, "type") ?: "");
		d = esc(cub_val__get_str(c, "attached") ?: "");
		fprintf(f, "cube %s (%s, %s)%s%s\n", a ? a : "", b2 ? b2 : "",
		    c2 ? c2 : "", d && *d ? " attached to " : "", d ? d : "");
		free(a);
		free(b2);
		free(c2);
		free(d);
		ports = cub_val__get(c, "ports");
		for (j = 0; ports && ports->kind == CUB_V_ARRAY &&
			    j < ports->arr.len;
		     j++) {
			p = ports->arr.items[j];
			a = esc(cub_val__get_str(p, "name") ?: "");
			b2 = esc(cub_val__get_str(p, "peer") ?: "");
			fprintf(f, "  port %s%s%s\n", a ? a : "",
			    b2 && *b2 ? " peer " : "", b2 ? b2 : "");
			free(a);
			free(b2);
		}
	}
	for (i = 0; nds && nds->kind == CUB_V_ARRAY && i < nds->arr.len; i++) {
		a = esc(cub_val__get_str(nds->arr.items[i], "name") ?: "");
		fprintf(f, "netdev %s\n", a ? a : "");
		free(a);
		render_chains(f, nds->arr.items[i], 2);
	}
}
