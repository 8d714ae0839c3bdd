/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * YAML bodies (`--file x.yaml`, YAML on stdin), parsed by libyaml's event
 * parser into cub_val with the caps of the other decoders.  Only the part
 * of YAML that a document of fields needs: one document of mappings,
 * sequences and scalars.  Anchors and aliases (the "billion laughs"),
 * tags, non-scalar or duplicate keys and a second document are refused,
 * each with the line and column where it starts.
 *
 * Scalars are typed as YAML 1.2's core schema says for plain (unquoted)
 * scalars: null/~/empty, true/false, decimal integers (and 0x/0o), floats,
 * .inf/.nan; anything quoted or else is a string.  The tree engine parses
 * strings for typed fields anyway, so `port: "80"` and `port: 80` both
 * work.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "codec.h"
#include "cubicle/val.h"

struct yp {
	yaml_parser_t parser;
	yaml_event_t ev;
	bool have_ev;
	uint32_t elems;
	char *err;
	size_t errlen;
	bool failed;
};

static struct cub_val *__attribute__((format(printf, 3, 4)))
yp_fail(struct yp *p, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (p->failed)
		return NULL;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cubi_errf(0, p->err, p->errlen, "line %zu, column %zu: %s",
	    m->line + 1, m->column + 1, msg);
	return NULL;
}

/* The next event into p->ev (the previous one is freed); false on error. */
static bool
yp_next(struct yp *p)
{
	if (p->have_ev)
		yaml_event_delete(&p->ev);
	p->have_ev = false;
	if (!yaml_parser_parse(&p->parser, &p->ev)) {
		yp_fail(p, &p->parser.problem_mark, "%s%s%s",
		    p->parser.problem ? p->parser.problem : "malformed YAML",
		    p->parser.context ? " " : "",
		    p->parser.context ? p->parser.context : "");
		return false;
	}
	p->have_ev = true;
	return true;
}

static bool
word_in(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

/* A plain scalar as the YAML 1.2 core schema types it. */
static struct cub_val *
plain_scalar(const char *s, size_t n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL",
	    NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	static const char *const infs[] = {".inf", ".Inf", ".INF", "+.inf",
	    "+.Inf", "+.INF", NULL};
	static const char *const ninfs[] = {"-.inf", "-.Inf", "-.INF", NULL};
	static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
	unsigned long long u;
	long long i;
	char *end;
	double f;

	if (strlen(s) != n)
		return NULL; /* a NUL inside: keep it a string, refused later */
	if (word_in(s, nulls))
		return cub_val__nil();
	if (word_in(s, trues))
		return cub_val__bool(true);
	if (word_in(s, falses))
		return cub_val__bool(false);
	if (word_in(s, infs))
		return cub_val__float(INFINITY);
	if (word_in(s, ninfs))
		return cub_val__float(-INFINITY);
	if (word_in(s, nans))
		return cub_val__float(NAN);
	errno = 0;
	if (s[0] >= '0' && s[0] <= '9') {
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o') && s[2])
			u = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);
		else
			u = strtoull(s, &end, 10);
		if (!*end && !errno)
			return cub_val__uint(u);
	} else if (s[0] == '-' && s[1] >= '0' && s[1] <= '9') {
		i = strtoll(s, &end, 10);
		if (!*end && !errno)
			return cub_val__int(i);
	}
	if (strspn(s, "+-.0123456789eE") == n && strpbrk(s, "0123456789")) {
		f = strtod(s, &end);
		if (!*end && !errno)
			return cub_val__float(f);
	}
	return NULL;
}

static struct cub_val *yp_node(struct yp *p, unsigned depth);

static struct cub_val *
yp_scalar(struct yp *p)
{
	const char *s = (const char *)p->ev.data.scalar.value;
	size_t n = p->ev.data.scalar.length;
	struct cub_val *v = NULL;

	if (n > CUB_STR_MAX)
		return yp_fail(p, &p->ev.start_mark,
		    "a string of %zu bytes is over the cap of %u", n,
		    CUB_STR_MAX);
	if (p->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		v = plain_scalar(s, n);
	if (!v)
		v = cub_val__strn(s, n);
	if (!v)
		return yp_fail(p, &p->ev.start_mark, "out of memory");
	return v;
}

static bool
count_elem(struct yp *p)
{
	if (++p->elems <= CUB_ELEMS_MAX)
		return true;
	yp_fail(p, &p->ev.start_mark,
	    "more than %u elements in one document (the message cap)",
	    CUB_ELEMS_MAX);
	return false;
}

static struct cub_val *
yp_sequence(struct yp *p, unsigned depth)
{
	struct cub_val *arr = cub_val__array(), *item;

	if (!arr)
		return yp_fail(p, &p->ev.start_mark, "out of memory");
	for (;;) {
		if (!yp_next(p))
			return cub_val__free(arr);
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return arr;
		if (!count_elem(p) || !(item = yp_node(p, depth)))
			return cub_val__free(arr);
		if (cub_val__push(arr, item)) {
			yp_fail(p, &p->ev.start_mark, "out of memory");
			return cub_val__free(arr);
		}
	}
}

static struct cub_val *
yp_mapping(struct yp *p, unsigned depth)
{
	struct cub_val *m = cub_val__map(), *val;
	yaml_mark_t at;
	const char *dup;
	char *key;

	if (!m)
		return yp_fail(p, &p->ev.start_mark, "out of memory");
	for (;;) {
		if (!yp_next(p))
			return cub_val__free(m);
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		at = p->ev.start_mark;
		if (p->ev.type != YAML_SCALAR_EVENT) {
			yp_fail(p, &at, "a key must be a plain string");
			return cub_val__free(m);
		}
		if (strlen((const char *)p->ev.data.scalar.value) !=
		    p->ev.data.scalar.length) {
			yp_fail(p, &at, "a key holds a NUL byte");
			return cub_val__free(m);
		}
		key = strdup((const char *)p->ev.data.scalar.value);
		if (!key) {
			yp_fail(p, &at, "out of memory");
			return cub_val__free(m);
		}
		if (cub_val__get(m, key)) {
			yp_fail(p, &at, "duplicate key '%.64s'", key);
			free(key);
			return cub_val__free(m);
		}
		if (!count_elem(p) || !yp_next(p) ||
		    !(val = yp_node(p, depth))) {
			free(key);
			return cub_val__free(m);
		}
		if (cubi_map_append(m, key, val)) {
			yp_fail(p, &at, "out of memory");
			return cub_val__free(m);
		}
	}
	/* cub_val__get above is linear: fine for the fields of one entry. */
	if (cubi_map_dupkey(m, &dup) || dup) {
		yp_fail(p, &p->ev.start_mark, "duplicate key");
		return cub_val__free(m);
	}
	return m;
}

/* The node whose first event is p->ev. */
static struct cub_val *
yp_node(struct yp *p, unsigned depth)
{
	yaml_char_t *anchor = NULL, *tag = NULL;

	switch (p->ev.type) {
	case YAML_ALIAS_EVENT:
		return yp_fail(p, &p->ev.start_mark,
		    "aliases (*%.64s) are not accepted",
		    (const char *)p->ev.data.alias.anchor);
	case YAML_SCALAR_EVENT:
		anchor = p->ev.data.scalar.anchor;
		tag = p->ev.data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = p->ev.data.sequence_start.anchor;
		tag = p->ev.data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = p->ev.data.mapping_start.anchor;
		tag = p->ev.data.mapping_start.tag;
		break;
	default:
		return yp_fail(p, &p->ev.start_mark, "unexpected YAML event");
	}
	if (anchor)
		return yp_fail(p, &p->ev.start_mark,
		    "anchors (&%.64s) are not accepted", (const char *)anchor);
	if (tag)
		return yp_fail(p, &p->ev.start_mark,
		    "tags (%.64s) are not accepted", (const char *)tag);
	if (p->ev.type == YAML_SCALAR_EVENT)
		return yp_scalar(p);
	if (depth + 1 > CUB_DEPTH_MAX)
		return yp_fail(p, &p->ev.start_mark,
		    "nested deeper than %u levels", CUB_DEPTH_MAX);
	return p->ev.type == YAML_SEQUENCE_START_EVENT
		   ? yp_sequence(p, depth + 1)
		   : yp_mapping(p, depth + 1);
}

struct cub_val *
cub_yaml_parse(const char *s, size_t len, char *err, size_t errlen)
{
	struct yp p = {.err = err, .errlen = errlen};
	struct cub_val *v = NULL;
	yaml_mark_t zero = {0};

	if (err && errlen)
		err[0] = '\0';
	if (len > CUB_MSG_MAX) {
		cubi_errf(0, err, errlen, "input is %zu bytes, over the cap of %u",
		    len, CUB_MSG_MAX);
		errno = EINVAL;
		return NULL;
	}
	if (!s && len) {
		errno = EINVAL;
		return NULL;
	}
	if (!yaml_parser_initialize(&p.parser)) {
		errno = ENOMEM;
		return NULL;
	}
	yaml_parser_set_input_string(
	    &p.parser, (const unsigned char *)(s ? s : ""), len);
	/* STREAM-START, DOCUMENT-START, the node, DOCUMENT-END, STREAM-END. */
	if (yp_next(&p) && yp_next(&p)) {
		if (p.ev.type != YAML_DOCUMENT_START_EVENT)
			yp_fail(&p, &zero, "no document (the input is empty)");
		else if (yp_next(&p))
			v = yp_node(&p, 0);
	}
	if (v && yp_next(&p) && yp_next(&p) &&
	    p.ev.type != YAML_STREAM_END_EVENT)
		yp_fail(&p, &p.ev.start_mark,
		    "a second document; one body is one document");
	if (p.failed)
		v = cub_val__free(v);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.parser);
	if (!v)
		errno = EINVAL;
	return v;
}
