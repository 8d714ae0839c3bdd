/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The REST mapping of cubicle-gateway (rest.h).  Polycube's paths:
 * /polycube/v1/<service>/<cube>/<field>/..., a list's entry by its key
 * values as segments (/ports/p1/, /service/198.18.0.1/80/TCP/ for a list
 * of three keys), an action by its name after the node it is declared on.
 * The service's schema says which segment is what, so a path resolves
 * the way the tree engine resolves the CLI's words:
 *
 *   GET    show (a leaf: its parent's show, then that field)
 *   POST   the cube: <service> add <cube> (body: its fields);
 *          a list entry: <list> add <keys...> (body: its fields);
 *          a list with a body holding the keys: the same;
 *          an action: the action (body: its input)
 *   PUT    set with the body (a CUB_F_REPLACE container, e.g. dynmon's
 *   PATCH  dataplane-config, is replaced whole; else the body's fields
 *          are set); a leaf: set FIELD=<the JSON value>
 *   DELETE the cube (<service> del <cube>) or a list entry
 *
 * Every cube request goes as <service> <cube> ...: the broker answers it
 * only if the cube is of that service.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cubicle/errors.h"
#include "cubicle/schema.h"
#include "rest.h"
#include "text.h"

static unsigned
say(unsigned status, char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static unsigned
say(unsigned status, char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return status;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

unsigned
gw_rest_split(const char *t, size_t len, struct gw_rest_path *p, char *msg,
    size_t msglen)
{
	size_t pl = strlen(GW_REST_PREFIX), i, e;

	p->n = 0;
	/* absolute-form: from the path on */
	if (len >= 7 && !strncasecmp(t, "http://", 7)) {
		const char *s = memchr(t + 7, '/', len - 7);

		if (!s)
			return 1;
		len -= (size_t)(s - t);
		t = s;
	}
	for (e = 0; e < len && t[e] != '?' && t[e] != '#'; e++)
		;
	/* Under the prefix, or the same path without it (not "/"). */
	if (e >= pl && !memcmp(t, GW_REST_PREFIX, pl) &&
	    (e == pl || t[pl] == '/'))
		i = pl;
	else if (e > 1 && t[0] == '/')
		i = 0;
	else
		return 1;
	while (i < e) {
		size_t o = 0;
		char *seg;

		while (i < e && t[i] == '/')
			i++;
		if (i == e)
			break;
		if (p->n == GW_REST_SEGS_MAX)
			return say(414, msg, msglen,
			    "the path has over %d segments", GW_REST_SEGS_MAX);
		seg = p->seg[p->n];
		for (; i < e && t[i] != '/'; i++) {
			char c = t[i];

			if (c == '%') {
				int h, l;

				if (i + 2 >= e)
					return say(400, msg, msglen,
					    "bad percent escape in the path");
				h = hexval(t[i + 1]);
				l = hexval(t[i + 2]);
				if (h < 0 || l < 0 || (h == 0 && l == 0))
					return say(400, msg, msglen,
					    "bad percent escape in the path");
				c = (char)(h << 4 | l);
				i += 2;
			}
			if (o + 1 >= GW_REST_SEG_MAX)
				return say(414, msg, msglen,
				    "a path segment is over %d bytes",
				    GW_REST_SEG_MAX - 1);
			seg[o++] = c;
		}
		seg[o] = '\0';
		if (!strcmp(seg, ".") || !strcmp(seg, ".."))
			return say(400, msg, msglen,
			    "'%s' is not a path segment", seg);
		p->n++;
	}
	return 0;
}

bool
gw_rest_needs_schema(const struct gw_rest_path *p)
{
	return p->n >= 2 && strcmp(p->seg[0], "cubes") &&
	       strcmp(p->seg[0], "services");
}

void
gw_rest_call_clear(struct gw_rest_call *c)
{
	cub_val__free(c->words);
	cub_val__free(c->args);
	cub_val__free(c->body);
	memset(c, 0, sizeof(*c));
}

/* ---- the schema ------------------------------------------------------ */

static const struct cub_val *
fields_of(const struct cub_val *wire)
{
	if (wire && wire->kind == CUB_V_MAP)
		wire = cub_val__get(wire, "fields");
	return wire && wire->kind == CUB_V_ARRAY ? wire : NULL;
}

static const struct cub_val *
find_named(const struct cub_val *arr, const char *name)
{
	uint32_t i;

	for (i = 0; arr && arr->kind == CUB_V_ARRAY && i < arr->arr.len; i++) {
		const char *n = cub_val__get_str(arr->arr.items[i], "name");

		if (n && !strcmp(n, name))
			return arr->arr.items[i];
	}
	return NULL;
}

static uint64_t
flags_of(const struct cub_val *f)
{
	uint64_t u = 0;

	cub_val__as_u64(cub_val__get(f, "flags"), &u);
	return u;
}

static const char *
type_of(const struct cub_val *f)
{
	const char *t = cub_val__get_str(f, "type");

	return t ? t : "";
}

/*
 * The cube's fields, base and service merged (the service's "ports"
 * extends the base's): a new array, and the cube's actions (borrowed).
 */
static struct cub_val *
merged_root(const struct cub_val *schema, const struct cub_val **actions)
{
	const struct cub_val *base = fields_of(cub_val__get(schema, "base"));
	const struct cub_val *sw = cub_val__get(schema, "service");
	const struct cub_val *svc = fields_of(sw);
	struct cub_val *root = base ? cub_val__dup(base) : cub_val__array();
	uint32_t i, j;

	*actions = sw && sw->kind == CUB_V_MAP ? cub_val__get(sw, "actions")
					       : NULL;
	for (i = 0; root && svc && i < svc->arr.len; i++) {
		const struct cub_val *f = svc->arr.items[i];
		const char *n = cub_val__get_str(f, "name");
		struct cub_val *bp = n && !strcmp(n, "ports")
					 ? (struct cub_val *)find_named(root, n)
					 : NULL;

		if (bp) {
			const struct cub_val *ch = cub_val__get(f, "children");
			struct cub_val *bch = cub_val__get(bp, "children");
			const struct cub_val *ac = cub_val__get(f, "actions");

			for (j = 0; ch && bch && ch->kind == CUB_V_ARRAY &&
				    j < ch->arr.len;
			     j++)
				cub_val__push(
				    bch, cub_val__dup(ch->arr.items[j]));
			if (ac)
				cub_val__set(bp, "actions", cub_val__dup(ac));
			continue;
		}
		if (cub_val__push(root, cub_val__dup(f)))
			root = cub_val__free(root);
	}
	return root;
}

enum wkind { W_ROOT, W_CONTAINER, W_LIST, W_ENTRY, W_LEAF, W_ACTION };

struct walk {
	enum wkind kind;
	const struct cub_val *node;    /* the list, container or leaf field */
	const struct cub_val *fields;  /* the fields under the node */
	const struct cub_val *actions; /* the node's actions */
	const char *last;              /* the leaf's or action's name */
	char where[512];               /* the path so far, for messages */
};

static bool
is_list(const struct cub_val *f)
{
	return !strcmp(type_of(f), "list");
}

static bool
is_container(const struct cub_val *f)
{
	return !strcmp(type_of(f), "container");
}

static unsigned
nkeys(const struct cub_val *list)
{
	const struct cub_val *ch = cub_val__get(list, "children");
	unsigned n = 0;
	uint32_t i;

	for (i = 0; ch && ch->kind == CUB_V_ARRAY && i < ch->arr.len; i++)
		if (flags_of(ch->arr.items[i]) & CUB_F_KEY)
			n++;
	return n;
}

static void
where_add(struct walk *w, const char *seg)
{
	size_t l = strlen(w->where);

	snprintf(w->where + l, sizeof(w->where) - l, "%s%s", l ? "/" : "",
	    seg);
}

/* Walks p's segments from 2 on, pushing the CLI's words onto words. */
static unsigned
walk(const struct gw_rest_path *p, const struct cub_val *root,
    const struct cub_val *root_actions, struct cub_val *words, struct walk *w,
    char *msg, size_t msglen)
{
	unsigned i = 2, k, nk;

	memset(w, 0, sizeof(*w));
	w->kind = W_ROOT;
	w->fields = root;
	w->actions = root_actions;
	snprintf(w->where, sizeof(w->where), "%s/%s", p->seg[0], p->seg[1]);
	while (i < p->n) {
		const char *seg = p->seg[i];
		const struct cub_val *f;

		if (w->kind == W_LEAF || w->kind == W_ACTION)
			return say(404, msg, msglen,
			    "%s: '%s' is a %s: nothing is under it", w->where,
			    w->last,
			    w->kind == W_LEAF ? "field" : "action");
		if (w->kind == W_LIST) {
			nk = nkeys(w->node);
			if (i + nk > p->n)
				return say(404, msg, msglen,
				    "%s: an entry takes %u key segment%s, the "
				    "path has %u",
				    w->where, nk, nk == 1 ? "" : "s",
				    p->n - i);
			for (k = 0; k < nk; k++) {
				cub_val__push(words, cub_val__str(p->seg[i]));
				where_add(w, p->seg[i++]);
			}
			w->kind = W_ENTRY;
			w->actions = cub_val__get(w->node, "actions");
			continue;
		}
		if ((f = find_named(w->fields, seg))) {
			where_add(w, seg);
			i++;
			if (is_list(f) || is_container(f)) {
				cub_val__push(words, cub_val__str(seg));
				w->kind = is_list(f) ? W_LIST : W_CONTAINER;
				w->node = f;
				w->fields = cub_val__get(f, "children");
				w->actions = is_list(f)
						 ? NULL
						 : cub_val__get(f, "actions");
			} else {
				w->kind = W_LEAF;
				w->node = f;
				w->last = cub_val__get_str(f, "name");
			}
			continue;
		}
		if (find_named(w->actions, seg)) {
			where_add(w, seg);
			i++;
			w->kind = W_ACTION;
			w->node = find_named(w->actions, seg);
			w->last = cub_val__get_str(w->node, "name");
			continue;
		}
		return say(404, msg, msglen,
		    "%s: no field or action named '%s'", w->where, seg);
	}
	return 0;
}

/* A key value from a body, as the text a path segment would give it. */
static int
key_text(const struct cub_val *v, char *out, size_t len)
{
	if (!v)
		return -ENOENT;
	if (v->kind == CUB_V_STR)
		snprintf(out, len, "%s", v->str.ptr);
	else if (v->kind == CUB_V_UINT)
		snprintf(out, len, "%" PRIu64, v->u);
	else if (v->kind == CUB_V_INT)
		snprintf(out, len, "%" PRId64, v->i);
	else if (v->kind == CUB_V_BOOL)
		snprintf(out, len, "%s", v->b ? "true" : "false");
	else
		return -EINVAL;
	return 0;
}

static struct cub_val *
words_of(const char *a, const char *b, const char *c)
{
	struct cub_val *w = cub_val__array();

	if (w && a)
		cub_val__push(w, cub_val__str(a));
	if (w && b)
		cub_val__push(w, cub_val__str(b));
	if (w && c)
		cub_val__push(w, cub_val__str(c));
	return w;
}

static const char *const kind_names[] = {
    [W_ROOT] = "a cube",
    [W_CONTAINER] = "a container",
    [W_LIST] = "a list",
    [W_ENTRY] = "a list entry",
    [W_LEAF] = "a field",
    [W_ACTION] = "an action",
};

static unsigned
not_allowed(const struct walk *w, const char **allow, char *msg,
    size_t msglen)
{
	static const char *const allows[] = {
	    [W_ROOT] = "GET, POST, PUT, PATCH, DELETE",
	    [W_CONTAINER] = "GET, PUT, PATCH",
	    [W_LIST] = "GET, POST",
	    [W_ENTRY] = "GET, POST, PUT, PATCH, DELETE",
	    [W_LEAF] = "GET, PUT, PATCH",
	    [W_ACTION] = "POST",
	};

	*allow = allows[w->kind];
	return say(405, msg, msglen, "%s: %s takes %s", w->where,
	    kind_names[w->kind], allows[w->kind]);
}

static unsigned
need_map_body(const struct cub_val *body, const char *what, char *msg,
    size_t msglen)
{
	if (body && body->kind != CUB_V_MAP)
		return say(400, msg, msglen,
		    "%s takes a JSON object as its body, not a %s", what,
		    cub_val__kind_name(body->kind));
	return 0;
}

static unsigned
translate_cube(enum gw_rest_method m, const struct gw_rest_path *p,
    const struct cub_val *schema, const struct cub_val *body,
    struct gw_rest_call *c, const char **allow, char *msg, size_t msglen)
{
	const struct cub_val *ractions, *ch;
	const char *svc = p->seg[0], *cube = p->seg[1];
	struct cub_val *root = merged_root(schema, &ractions);
	struct walk w;
	unsigned st;
	uint32_t i;

	if (!root)
		return say(500, msg, msglen, "out of memory");
	c->words = words_of(svc, cube, NULL);
	st = walk(p, root, ractions, c->words, &w, msg, msglen);
	if (st)
		goto out;
	switch (m) {
	case GW_REST_GET:
		if (w.kind == W_ACTION) {
			st = not_allowed(&w, allow, msg, msglen);
			break;
		}
		if (body) {
			st = say(400, msg, msglen, "GET takes no body");
			break;
		}
		if (w.kind == W_LEAF)
			snprintf(c->leaf, sizeof(c->leaf), "%s", w.last);
		cub_val__push(c->words, cub_val__str("show"));
		break;
	case GW_REST_POST:
		c->write = true;
		if (w.kind == W_ROOT) {
			if ((st = need_map_body(body, "a cube's POST", msg,
				 msglen)))
				break;
			cub_val__free(c->words);
			c->words = words_of(svc, "add", cube);
			c->body = body ? cub_val__dup(body) : NULL;
			c->ok_status = 201;
			break;
		}
		if (w.kind == W_ACTION) {
			if ((st = need_map_body(body, "an action", msg, msglen)))
				break;
			cub_val__push(c->words, cub_val__str(w.last));
			c->args = body ? cub_val__dup(body) : NULL;
			break;
		}
		if (w.kind == W_LIST) {
			/* The keys from the body. */
			char kt[GW_REST_SEG_MAX];

			if (!body || body->kind != CUB_V_MAP) {
				st = say(400, msg, msglen,
				    "%s: a POST to a list takes the new "
				    "entry's keys in the path or in a JSON "
				    "object",
				    w.where);
				break;
			}
			cub_val__push(c->words, cub_val__str("add"));
			c->body = cub_val__dup(body);
			ch = cub_val__get(w.node, "children");
			for (i = 0; ch && i < ch->arr.len; i++) {
				const struct cub_val *f = ch->arr.items[i];
				const char *kn = cub_val__get_str(f, "name");

				if (!(flags_of(f) & CUB_F_KEY) || !kn)
					continue;
				if (key_text(cub_val__get(body, kn), kt,
					sizeof(kt))) {
					st = say(400, msg, msglen,
					    "%s: the body has no key '%s' "
					    "(a string or a number)",
					    w.where, kn);
					break;
				}
				cub_val__push(c->words, cub_val__str(kt));
				cub_val__del(c->body, kn);
			}
			c->ok_status = 201;
			break;
		}
		if (w.kind == W_ENTRY) {
			uint32_t nk = nkeys(w.node), n = c->words->arr.len;
			struct cub_val *ws = cub_val__array();

			if ((st = need_map_body(body, "an entry's POST", msg,
				 msglen))) {
				cub_val__free(ws);
				break;
			}
			/* [.., list, k1.., ] -> [.., list, add, k1..] */
			for (i = 0; ws && i < n; i++) {
				if (i == n - nk)
					cub_val__push(ws, cub_val__str("add"));
				cub_val__push(ws, cub_val__dup(c->words->arr.items[i]));
			}
			cub_val__free(c->words);
			c->words = ws;
			c->body = body ? cub_val__dup(body) : NULL;
			c->ok_status = 201;
			break;
		}
		st = not_allowed(&w, allow, msg, msglen);
		break;
	case GW_REST_PUT:
	case GW_REST_PATCH:
		c->write = true;
		if (!body) {
			st = say(400, msg, msglen, "%s takes a JSON body",
			    m == GW_REST_PUT ? "PUT" : "PATCH");
			break;
		}
		if (w.kind == W_LEAF) {
			if (body->kind == CUB_V_MAP || body->kind == CUB_V_NIL) {
				st = say(400, msg, msglen,
				    "%s: field '%s' takes a JSON value (a "
				    "string, number, boolean or array), not "
				    "a %s",
				    w.where, w.last,
				    cub_val__kind_name(body->kind));
				break;
			}
			cub_val__push(c->words, cub_val__str("set"));
			c->args = cub_val__map();
			cub_val__set(c->args, w.last, cub_val__dup(body));
			break;
		}
		if (w.kind == W_ROOT || w.kind == W_CONTAINER ||
		    w.kind == W_ENTRY) {
			if ((st = need_map_body(body, "a set", msg, msglen)))
				break;
			cub_val__push(c->words, cub_val__str("set"));
			c->body = cub_val__dup(body);
			break;
		}
		st = not_allowed(&w, allow, msg, msglen);
		break;
	case GW_REST_DELETE:
		c->write = true;
		if (body) {
			st = say(400, msg, msglen, "DELETE takes no body");
			break;
		}
		if (w.kind == W_ROOT) {
			cub_val__free(c->words);
			c->words = words_of(svc, "del", cube);
			break;
		}
		if (w.kind == W_ENTRY) {
			cub_val__push(c->words, cub_val__str("del"));
			break;
		}
		st = not_allowed(&w, allow, msg, msglen);
		break;
	default:
		*allow = "GET, POST, PUT, PATCH, DELETE";
		st = say(405, msg, msglen,
		    "method not allowed: GET, POST, PUT, PATCH or DELETE");
		break;
	}
out:
	cub_val__free(root);
	if (!st && (!c->words || (c->args && c->args->kind != CUB_V_MAP)))
		st = say(500, msg, msglen, "out of memory");
	if (!c->ok_status)
		c->ok_status = 200;
	return st;
}

unsigned
gw_rest_translate(enum gw_rest_method m, const struct gw_rest_path *p,
    const struct cub_val *schema, const struct cub_val *body,
    struct gw_rest_call *c, const char **allow, char *msg, size_t msglen)
{
	unsigned st;

	memset(c, 0, sizeof(*c));
	*allow = NULL;
	c->ok_status = 200;
	if (p->n <= 1) {
		if (m != GW_REST_GET) {
			*allow = "GET";
			return say(405, msg, msglen, "/%s lists%s: GET only",
			    p->n ? p->seg[0] : "",
			    p->n ? "" : " the cubes");
		}
		if (body)
			return say(400, msg, msglen, "GET takes no body");
		if (p->n == 0 || !strcmp(p->seg[0], "cubes"))
			c->words = words_of("cubes", NULL, NULL);
		else if (!strcmp(p->seg[0], "services"))
			c->words = words_of("services", NULL, NULL);
		else
			c->words = words_of(p->seg[0], "show", NULL);
		return c->words ? 0 : say(500, msg, msglen, "out of memory");
	}
	if (!gw_rest_needs_schema(p)) {
		/* /cubes/<cube>: the cube, whatever its service. */
		if (p->n != 2 || strcmp(p->seg[0], "cubes"))
			return say(404, msg, msglen,
			    "/%s/%s: no such path (GET /%s lists them)",
			    p->seg[0], p->seg[1], p->seg[0]);
		if (m != GW_REST_GET) {
			*allow = "GET";
			return say(405, msg, msglen,
			    "/cubes/%s: GET only (the cube's own path, "
			    "/<service>/%s/, takes the others)",
			    p->seg[1], p->seg[1]);
		}
		if (body)
			return say(400, msg, msglen, "GET takes no body");
		c->words = words_of("cube", p->seg[1], "show");
		return c->words ? 0 : say(500, msg, msglen, "out of memory");
	}
	st = translate_cube(m, p, schema, body, c, allow, msg, msglen);
	if (st)
		gw_rest_call_clear(c);
	return st;
}

unsigned
gw_rest_status(int code)
{
	switch (code) {
	case CUB_E_BADMSG:
	case CUB_E_INVAL:
	case CUB_E_TYPE:
	case CUB_E_MISSING:
	case CUB_E_NODEV:
	case CUB_E_RO:
	case CUB_E_REFUSED:
		return 400;
	case CUB_E_TOOBIG:
		return 413;
	case CUB_E_NOTFOUND:
	case CUB_E_VERB:
	case CUB_E_NOMETHOD:
		return 404;
	case CUB_E_PERM:
		return 403;
	case CUB_E_EXISTS:
	case CUB_E_BUSY:
	case CUB_E_LIMIT:
		return 409;
	case CUB_E_QUOTA:
		return 429; /* a tenant's quota: rps, or its cubes' */
	case CUB_E_UNAVAIL:
		return 503;
	case CUB_E_TIMEOUT:
		return 504;
	default:
		return 500;
	}
}

char *
gw_rest_error_json(int code, const char *message)
{
	struct cub_val *e = cub_val__map(), *o = cub_val__map();
	char *s = NULL;

	if (e && o && !cub_val__set(o, "code", cub_val__uint((unsigned)code)) &&
	    !cub_val__set(o, "name", cub_val__str(cub_err_name(code))) &&
	    !cub_val__set(o, "message", cub_val__str(message ? message : "")) &&
	    !cub_val__set(e, "error", o)) {
		o = NULL;
		s = cub_json_emit(e, false);
	}
	cub_val__free(o);
	cub_val__free(e);
	return s;
}

/* ---- OpenAPI 3.0 ----------------------------------------------------- */

/* A JSON schema for field f. */
static struct cub_val *oa_field(const struct cub_val *f, unsigned depth);

static struct cub_val *
oa_object(const struct cub_val *fields, unsigned depth)
{
	struct cub_val *o = cub_val__map(), *props = cub_val__map();
	uint32_t i;

	cub_val__set(o, "type", cub_val__str("object"));
	for (i = 0; fields && fields->kind == CUB_V_ARRAY && i < fields->arr.len;
	     i++) {
		const char *n = cub_val__get_str(fields->arr.items[i], "name");

		if (n)
			cub_val__set(
			    props, n, oa_field(fields->arr.items[i], depth + 1));
	}
	cub_val__set(o, "properties", props);
	return o;
}

static struct cub_val *
oa_scalar(const char *t)
{
	struct cub_val *s = cub_val__map();

	if (!strcmp(t, "u8") || !strcmp(t, "u16") || !strcmp(t, "u32") ||
	    !strcmp(t, "u64")) {
		cub_val__set(s, "type", cub_val__str("integer"));
		cub_val__set(s, "minimum", cub_val__uint(0));
		if (!strcmp(t, "u64"))
			cub_val__set(s, "format", cub_val__str("uint64"));
	} else if (!strcmp(t, "bool")) {
		cub_val__set(s, "type", cub_val__str("boolean"));
	} else if (!strcmp(t, "any")) {
		/* any value: no constraint */
	} else {
		cub_val__set(s, "type", cub_val__str("string"));
		if (strcmp(t, "string") && strcmp(t, "enum"))
			cub_val__set(s, "format", cub_val__str(t));
	}
	return s;
}

static struct cub_val *
oa_field(const struct cub_val *f, unsigned depth)
{
	const char *t = type_of(f), *help = cub_val__get_str(f, "help");
	const struct cub_val *en = cub_val__get(f, "enum");
	uint64_t fl = flags_of(f);
	struct cub_val *s;

	if (depth > CUB_SCHEMA_DEPTH_MAX + 2)
		return cub_val__map();
	if (!strcmp(t, "list")) {
		s = cub_val__map();
		cub_val__set(s, "type", cub_val__str("array"));
		cub_val__set(s, "items",
		    oa_object(cub_val__get(f, "children"), depth));
	} else if (!strcmp(t, "container")) {
		s = oa_object(cub_val__get(f, "children"), depth);
	} else if (fl & CUB_F_LEAFLIST) {
		s = cub_val__map();
		cub_val__set(s, "type", cub_val__str("array"));
		cub_val__set(s, "items", oa_scalar(t));
	} else {
		s = oa_scalar(t);
		if (en && en->kind == CUB_V_ARRAY)
			cub_val__set(s, "enum", cub_val__dup(en));
		if (cub_val__get(f, "default"))
			cub_val__set(s, "default",
			    cub_val__dup(cub_val__get(f, "default")));
	}
	if (help && *help)
		cub_val__set(s, "description", cub_val__str(help));
	if (fl & CUB_F_RO)
		cub_val__set(s, "readOnly", cub_val__bool(true));
	if (fl & CUB_F_KEY)
		cub_val__set(s, "x-key", cub_val__bool(true));
	return s;
}

static struct cub_val *
oa_json(struct cub_val *schema)
{
	struct cub_val *c = cub_val__map(), *j = cub_val__map();

	cub_val__set(j, "schema", schema);
	cub_val__set(c, "application/json", j);
	return c;
}

static struct cub_val *
oa_op(const char *summary, const char *ref, struct cub_val *body)
{
	struct cub_val *op = cub_val__map(), *resp = cub_val__map();
	struct cub_val *ok = cub_val__map(), *err = cub_val__map(), *r;

	cub_val__set(op, "summary", cub_val__str(summary));
	if (body) {
		struct cub_val *rb = cub_val__map();

		cub_val__set(rb, "content", oa_json(body));
		cub_val__set(op, "requestBody", rb);
	}
	cub_val__set(ok, "description", cub_val__str("done"));
	if (ref) {
		r = cub_val__map();
		cub_val__set(r, "$ref", cub_val__str(ref));
		cub_val__set(ok, "content", oa_json(r));
	}
	cub_val__set(resp, "200", ok);
	cub_val__set(err, "description",
	    cub_val__str("the broker's error: {error: {code, name, message}}"));
	r = cub_val__map();
	cub_val__set(r, "$ref", cub_val__str("#/components/schemas/Error"));
	cub_val__set(err, "content", oa_json(r));
	cub_val__set(resp, "default", err);
	cub_val__set(op, "responses", resp);
	return op;
}

static struct cub_val *
oa_ref(const char *ref)
{
	struct cub_val *r = cub_val__map();

	cub_val__set(r, "$ref", cub_val__str(ref));
	return r;
}

static struct cub_val *
oa_param(const char *name)
{
	struct cub_val *p = cub_val__map(), *s = cub_val__map();

	cub_val__set(p, "name", cub_val__str(name));
	cub_val__set(p, "in", cub_val__str("path"));
	cub_val__set(p, "required", cub_val__bool(true));
	cub_val__set(s, "type", cub_val__str("string"));
	cub_val__set(p, "schema", s);
	return p;
}

struct oa {
	struct cub_val *paths;
	const char *svc;
};

/* The path items of the nodes under fields/actions at path (with its
 * parameters params, an array), recursively. */
static void
oa_walk(struct oa *oa, const char *path, const struct cub_val *params,
    const struct cub_val *fields, const struct cub_val *actions,
    unsigned depth)
{
	uint32_t i, j;
	char sub[2100];

	if (depth > CUB_SCHEMA_DEPTH_MAX + 2)
		return;
	for (i = 0; actions && actions->kind == CUB_V_ARRAY &&
		    i < actions->arr.len;
	     i++) {
		const struct cub_val *a = actions->arr.items[i];
		const char *n = cub_val__get_str(a, "name");
		const char *h = cub_val__get_str(a, "help");
		struct cub_val *item;

		if (!n)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s/", path, n);
		item = cub_val__map();
		cub_val__set(item, "parameters", cub_val__dup(params));
		cub_val__set(item, "post",
		    oa_op(h && *h ? h : n, NULL,
			oa_object(cub_val__get(a, "args"), depth)));
		cub_val__set(oa->paths, sub, item);
	}
	for (i = 0; fields && fields->kind == CUB_V_ARRAY && i < fields->arr.len;
	     i++) {
		const struct cub_val *f = fields->arr.items[i];
		const char *n = cub_val__get_str(f, "name");
		const char *h = cub_val__get_str(f, "help");
		struct cub_val *item, *ps;
		bool ro = flags_of(f) & CUB_F_RO;

		if (!n)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s/", path, n);
		item = cub_val__map();
		cub_val__set(item, "parameters", cub_val__dup(params));
		cub_val__set(item, "get",
		    oa_op(h && *h ? h : n, NULL, NULL));
		cub_val__set(oa->paths, sub, item);
		if (is_list(f)) {
			const struct cub_val *ch = cub_val__get(f, "children");
			struct cub_val *entry;
			char epath[2048];

			/* get the list, post an entry with its keys */
			if (!ro)
				cub_val__set(item, "post",
				    oa_op("add an entry (its keys in the body)",
					NULL, oa_object(ch, depth)));
			ps = cub_val__dup(params);
			snprintf(epath, sizeof(epath), "%s/%s", path, n);
			for (j = 0; ch && ch->kind == CUB_V_ARRAY &&
				    j < ch->arr.len;
			     j++) {
				const struct cub_val *k = ch->arr.items[j];
				const char *kn = cub_val__get_str(k, "name");
				size_t l = strlen(epath);

				if (!(flags_of(k) & CUB_F_KEY) || !kn)
					continue;
				snprintf(epath + l, sizeof(epath) - l, "/{%s}",
				    kn);
				cub_val__push(ps, oa_param(kn));
			}
			snprintf(sub, sizeof(sub), "%s/", epath);
			entry = cub_val__map();
			cub_val__set(entry, "parameters", cub_val__dup(ps));
			cub_val__set(entry, "get", oa_op("show the entry", NULL,
						       NULL));
			if (!ro) {
				cub_val__set(entry, "post",
				    oa_op("add the entry", NULL,
					oa_object(ch, depth)));
				cub_val__set(entry, "put",
				    oa_op("set the entry's fields", NULL,
					oa_object(ch, depth)));
				cub_val__set(entry, "patch",
				    oa_op("set the entry's fields", NULL,
					oa_object(ch, depth)));
				cub_val__set(entry, "delete",
				    oa_op("delete the entry", NULL, NULL));
			}
			cub_val__set(oa->paths, sub, entry);
			oa_walk(oa, epath, ps, ch, cub_val__get(f, "actions"),
			    depth + 1);
			cub_val__free(ps);
		} else if (is_container(f)) {
			if (!ro) {
				cub_val__set(item, "put",
				    oa_op(flags_of(f) & CUB_F_REPLACE
					      ? "replace the container"
					      : "set the container's fields",
					NULL,
					oa_object(cub_val__get(f, "children"),
					    depth)));
				cub_val__set(item, "patch",
				    oa_op("set the container's fields", NULL,
					oa_object(cub_val__get(f, "children"),
					    depth)));
			}
			snprintf(sub, sizeof(sub), "%s/%s", path, n);
			oa_walk(oa, sub, params, cub_val__get(f, "children"),
			    cub_val__get(f, "actions"), depth + 1);
		} else if (!ro) {
			cub_val__set(item, "put",
			    oa_op("set the field", NULL, oa_field(f, depth)));
			cub_val__set(item, "patch",
			    oa_op("set the field", NULL, oa_field(f, depth)));
		}
	}
}

static struct cub_val *
oa_error_schema(void)
{
	struct cub_val *e = cub_val__map(), *p = cub_val__map();
	struct cub_val *in = cub_val__map(), *ip = cub_val__map(), *t;

	t = cub_val__map();
	cub_val__set(t, "type", cub_val__str("integer"));
	cub_val__set(ip, "code", t);
	t = cub_val__map();
	cub_val__set(t, "type", cub_val__str("string"));
	cub_val__set(ip, "name", t);
	t = cub_val__map();
	cub_val__set(t, "type", cub_val__str("string"));
	cub_val__set(ip, "message", t);
	cub_val__set(in, "type", cub_val__str("object"));
	cub_val__set(in, "properties", ip);
	cub_val__set(p, "error", in);
	cub_val__set(e, "type", cub_val__str("object"));
	cub_val__set(e, "properties", p);
	return e;
}

struct cub_val *
gw_rest_openapi(const struct cub_val *services)
{
	struct cub_val *doc = cub_val__map(), *info = cub_val__map();
	struct cub_val *comp = cub_val__map(), *schemas = cub_val__map();
	struct cub_val *item, *params;
	struct oa oa = {.paths = cub_val__map()};
	char path[512], ref[600];
	uint32_t i;

	if (!doc || !info || !comp || !schemas || !oa.paths) {
		cub_val__free(doc);
		cub_val__free(info);
		cub_val__free(comp);
		cub_val__free(schemas);
		cub_val__free(oa.paths);
		return NULL;
	}
	cub_val__set(doc, "openapi", cub_val__str("3.0.3"));
	cub_val__set(info, "title", cub_val__str("Cubicle REST API"));
	cub_val__set(info, "version", cub_val__str("1"));
	cub_val__set(doc, "info", info);
	item = cub_val__map();
	cub_val__set(item, "get", oa_op("every cube", NULL, NULL));
	cub_val__set(oa.paths, GW_REST_PREFIX "/", item);
	item = cub_val__map();
	cub_val__set(item, "get", oa_op("every cube", NULL, NULL));
	cub_val__set(oa.paths, GW_REST_PREFIX "/cubes/", item);
	item = cub_val__map();
	cub_val__set(item, "get", oa_op("every service", NULL, NULL));
	cub_val__set(oa.paths, GW_REST_PREFIX "/services/", item);
	for (i = 0; services && services->kind == CUB_V_MAP &&
		    i < services->map.len;
	     i++) {
		const char *svc = services->map.items[i].key;
		const struct cub_val *sch = services->map.items[i].val;
		const struct cub_val *acts;
		struct cub_val *root = merged_root(sch, &acts);

		if (!root)
			continue;
		oa.svc = svc;
		snprintf(path, sizeof(path), GW_REST_PREFIX "/%s/", svc);
		item = cub_val__map();
		cub_val__set(item, "get",
		    oa_op("the service's cubes", NULL, NULL));
		cub_val__set(oa.paths, path, item);
		cub_val__set(schemas, svc, oa_object(root, 0));
		snprintf(ref, sizeof(ref), "#/components/schemas/%s", svc);
		snprintf(path, sizeof(path), GW_REST_PREFIX "/%s/{cube}", svc);
		params = cub_val__array();
		cub_val__push(params, oa_param("cube"));
		item = cub_val__map();
		cub_val__set(item, "parameters", cub_val__dup(params));
		cub_val__set(item, "get", oa_op("show the cube", ref, NULL));
		cub_val__set(item, "post",
		    oa_op("add the cube", NULL, oa_ref(ref)));
		cub_val__set(item, "put",
		    oa_op("set the cube's fields", NULL, oa_ref(ref)));
		cub_val__set(item, "patch",
		    oa_op("set the cube's fields", NULL, oa_ref(ref)));
		cub_val__set(item, "delete", oa_op("delete the cube", NULL,
						   NULL));
		snprintf(ref, sizeof(ref), "%s/", path);
		cub_val__set(oa.paths, ref, item);
		oa_walk(&oa, path, params, root, acts, 0);
		cub_val__free(params);
		cub_val__free(root);
	}
	cub_val__set(doc, "paths", oa.paths);
	cub_val__set(schemas, "Error", oa_error_schema());
	cub_val__set(comp, "schemas", schemas);
	cub_val__set(doc, "components", comp);
	return doc;
}

/* ---- bearer tokens --------------------------------------------------- */

int
gw_tokens_parse(const char *text, size_t len, struct gw_token **out,
    unsigned *n, char *err, size_t errlen)
{
	struct gw_token *t = calloc(GW_TOKENS_MAX, sizeof(*t));
	const char *p = text, *end = text + len;
	unsigned line = 0, k = 0, i;

	*out = NULL;
	*n = 0;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (p < end) {
		char buf[512], tenant[128], role[16], hex[80], extra[8];
		int f;

		if (cubi_text_line(
			&p, end, buf, sizeof(buf), &line, err, errlen))
			goto fail;
		f = sscanf(buf, "%127s %15s %79s %7s", tenant, role, hex, extra);
		if (f <= 0 || tenant[0] == '#')
			continue;
		if (f != 3) {
			snprintf(err, errlen,
			    "line %u: want TENANT ROLE SHA256 (three words)",
			    line);
			goto fail;
		}
		if (strlen(tenant) > GW_TENANT_MAX) {
			snprintf(err, errlen,
			    "line %u: tenant '%.20s...' over %d characters",
			    line, tenant, GW_TENANT_MAX);
			goto fail;
		}
		for (i = 0; tenant[i]; i++)
			if ((unsigned char)tenant[i] >= 0x7f)
				break;
		if (tenant[i]) {
			snprintf(err, errlen,
			    "line %u: tenant '%s' is not printable ASCII",
			    line, tenant);
			goto fail;
		}
		if (strcmp(role, "reader") && strcmp(role, "admin") &&
		    strcmp(role, "tenant")) {
			snprintf(err, errlen,
			    "line %u: role '%s' is not reader, tenant or admin",
			    line, role);
			goto fail;
		}
		if (strlen(hex) != 64) {
			snprintf(err, errlen,
			    "line %u: the hash is not 64 hex digits (a "
			    "SHA-256: printf %%s TOKEN | sha256sum)",
			    line);
			goto fail;
		}
		if (k == GW_TOKENS_MAX) {
			snprintf(err, errlen, "line %u: over %d tokens", line,
			    GW_TOKENS_MAX);
			goto fail;
		}
		for (i = 0; i < 32; i++) {
			int h = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

			if (h < 0 || lo < 0) {
				snprintf(err, errlen,
				    "line %u: the hash is not 64 hex digits",
				    line);
				goto fail;
			}
			t[k].hash[i] = (unsigned char)(h << 4 | lo);
		}
		for (i = 0; i < k; i++)
			if (!memcmp(t[i].hash, t[k].hash, 32)) {
				snprintf(err, errlen,
				    "line %u: the same hash as tenant '%s'",
				    line, t[i].tenant);
				goto fail;
			}
		snprintf(t[k].tenant, sizeof(t[k].tenant), "%s", tenant);
		t[k].admin = role[0] == 'a';
		t[k].as_tenant = role[0] == 't';
		k++;
	}
	*out = t;
	*n = k;
	return 0;
fail:
	free(t);
	return -1;
}

const struct gw_token *
gw_tokens_find(const struct gw_token *t, unsigned n, const char *authz,
    const char **why)
{
	const struct gw_token *found = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *tok;
	unsigned i;

	if (strncasecmp(authz, "Bearer ", 7)) {
		*why = "the Authorization scheme is not Bearer";
		return NULL;
	}
	for (tok = authz + 7; *tok == ' '; tok++)
		;
	if (!*tok) {
		*why = "the bearer token is empty";
		return NULL;
	}
	if (!EVP_Digest(tok, strlen(tok), md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32) {
		*why = "cannot hash the token";
		return NULL;
	}
	/* Every entry compared, in constant time each. */
	for (i = 0; i < n; i++)
		if (!CRYPTO_memcmp(md, t[i].hash, 32) && !found)
			found = &t[i];
	if (!found)
		*why = "the bearer token is not known";
	return found;
}
