// SPDX-License-Identifier: BSD-2-Clause
/*
 * The resource-tree engine: schema parsing (from an untrusted worker),
 * value checking, and polycubectl-style command resolution on one cube
 * document.  See tree.h for the contract.
 *
 * Mutations are confined to the addressed subtree: SET merges into a copy
 * of the addressed map and swaps it in on success, ADD builds the whole
 * entry before appending it, DEL only unlinks.  So on any error the caller's
 * document is untouched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cubicle/errors.h"
#include "cleanup.h"
#include "names.h"
#include "text.h"
#include "tree.h"

#define ENUM_MAX 64           /* entries in one enum */
#define HELP_MAX 1024         /* bytes of help text */
#define ACTIONS_MAX 32        /* actions on one node */
#define STR_DFLT_MAX 255      /* STR max length when the schema says 0 */
/* Largest STR max a schema may declare: one wire string (dynmon's code). */
#define STR_CAP CUB_STR_MAX
#define WORDS_MAX 64          /* command words */
#define PATH_LEN 512          /* bytes of a path in messages */
#define LISTBUF_LEN 2048      /* bytes of "valid: a, b, c" lists */
#define MSG_LEN 4096

struct snode;

struct saction {
	char *name;
	char *help;
	struct snode **args;
	uint32_t nargs;
};

struct snode {
	char *name;
	enum cub_ftype type;
	uint32_t flags;
	char *help;
	struct cub_val *dflt; /* typed default, or NULL */
	char **enums;
	uint32_t nenums;
	uint64_t min, max;   /* effective range (STR: length) */
	struct snode **kids; /* LIST/CONTAINER children */
	uint32_t nkids;
	uint32_t nkeys; /* LIST: number of KEY children */
	struct saction **acts;
	uint32_t nacts;
	uint32_t max_items; /* LEAFLIST: values at most */
	char *ref;          /* reference: the target list's path, as given */
	/* A reference's target: the list (last) and the containers leading
	 * to it from the root; resolved once the whole schema is parsed. */
	const struct snode *tpath[CUB_SCHEMA_DEPTH_MAX];
	uint32_t ntpath;
	struct sref *refby; /* LIST: the fields that refer to its entries */
	uint32_t nrefby;
	bool has_ref; /* a reference field is at or under this node */
};

/* A field referring to a list's entries, and where it is: the nodes from
 * below the root down to the node that holds it. */
struct sref {
	const struct snode *field;
	const struct snode *chain[CUB_SCHEMA_DEPTH_MAX];
	uint32_t nchain;
};

struct cubi_schema {
	struct snode *root; /* a CONTAINER: the cube */
};

/* What cubi_tree__change() did, so that cubi_tree__undo() reverses it. */
enum undo_kind {
	UNDO_NONE = 0,
	UNDO_SWAP,     /* set: node's fields were swapped with old's */
	UNDO_REINSERT, /* del: old was removed from node at idx */
	UNDO_DROP_KEY, /* add/set created node[name] */
	UNDO_REMOVE,   /* add: an entry was inserted at idx of the list node */
};

struct cubi_undo {
	enum undo_kind kind;
	struct cub_val *node;     /* the map or array that changed */
	struct cub_val *old;      /* owned: what was replaced or removed */
	const struct snode *list; /* UNDO_REMOVE: the list's node */
	const char *name;         /* UNDO_DROP_KEY: schema-owned name */
	/* UNDO_SWAP of leaf fields only: the node's schema node; node and
	 * old share its containers and lists (shared_free()). */
	const struct snode *shared;
	uint32_t idx;
	/* What cubi_tree__changes() reports: the addressed node's words
	 * (owned), its schema node and whether it is a list (an add) or
	 * one entry of a list. */
	struct cub_val *path;
	const struct snode *sn;
	bool at_list, at_entry;
};

static void cubi_undo__free(struct cubi_undo *u);

/* ---- small helpers ---------------------------------------------------- */

/* The path verbs, from the one reserved set (util/names.c). */
static bool
is_reserved(const char *w)
{
	return cubi_path_word(w);
}

/* An ordered list's verbs besides add (Polycube's chain spellings): no
 * key of an ordered list is spelled so. */
#define VERB_APPEND "append"
#define VERB_INSERT "insert"

/* The args of an ordered list's add that say where the entry goes. */
static const char *const position_args[] = {
    "index", "position", "before", "after", NULL};

static bool
is_position_arg(const char *w)
{
	size_t i;

	for (i = 0; position_args[i]; i++)
		if (!strcmp(position_args[i], w))
			return true;
	return false;
}

static bool
is_ordered_verb(const struct snode *list, const char *w)
{
	return (list->flags & CUB_F_ORDERED) &&
	       (!strcmp(w, VERB_APPEND) || !strcmp(w, VERB_INSERT));
}

static bool
is_leaf(const struct snode *n)
{
	return n->type != CUB_T_LIST && n->type != CUB_T_CONTAINER;
}

static bool
is_uint_type(enum cub_ftype t)
{
	return t == CUB_T_U8 || t == CUB_T_U16 || t == CUB_T_U32 ||
	       t == CUB_T_U64;
}

static const char *
type_name(enum cub_ftype t)
{
	const char *name = cub_ftype__name(t);

	return name ? name : "unknown";
}

static int
push_ptr(void *arrp, uint32_t *n, void *p)
{
	void ***arr = arrp;
	void **na;

	na = reallocarray(*arr, (size_t)*n + 1, sizeof(void *));
	if (!na)
		return -ENOMEM;
	na[(*n)++] = p;
	*arr = na;
	return 0;
}

/* Appends ", word" to a bounded buffer, ending in "..." when full. */
static void
buf_add(char *buf, size_t len, const char *word)
{
	size_t used = strlen(buf);

	if (used + 4 >= len)
		return;
	if (used + strlen(word) + 6 >= len) {
		snprintf(buf + used, len - used, "%s...", used ? ", " : "");
		return;
	}
	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", word);
}

static int
code_errno(int code)
{
	switch (code) {
	case CUB_E_NOTFOUND:
		return -ENOENT;
	case CUB_E_EXISTS:
		return -EEXIST;
	case CUB_E_VERB:
		return -EOPNOTSUPP;
	case CUB_E_RO:
		return -EACCES;
	case CUB_E_LIMIT:
		return -ENOSPC;
	case CUB_E_INTERNAL:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

/*
 * Sets *errv to {code, name, "path: message"} and returns the matching
 * -errno.  path may be empty.
 */
static int __attribute__((format(printf, 4, 5)))
fail(struct cub_val **errv, int code, const char *path, const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errv) {
		cub_val__free(*errv);
		if (path && *path)
			*errv = cub_err_val(code, "%s: %s", path, msg);
		else
			*errv = cub_err_val(code, "%s", msg);
	}
	return code_errno(code);
}

static int
nomem(struct cub_val **errv)
{
	return fail(errv, CUB_E_INTERNAL, "", "out of memory");
}

/* dst = base + " " + word, truncated to len; base may be dst. */
static void
path_join(char *dst, size_t len, const char *base, const char *word)
{
	size_t bl = strnlen(base, len - 1), wl;
	char *p;

	memmove(dst, base, bl);
	p = dst + bl;
	if (bl && *word && bl + 1 < len)
		*p++ = ' ';
	wl = strnlen(word, len - 1 - (size_t)(p - dst));
	memcpy(p, word, wl);
	p[wl] = '\0';
}

/* ---- schema nodes ----------------------------------------------------- */

static struct snode *snode_free(struct snode *n);

static struct saction *
saction_free(struct saction *a)
{
	uint32_t i;

	if (!a)
		return NULL;
	for (i = 0; i < a->nargs; i++)
		snode_free(a->args[i]);
	free(a->args);
	free(a->name);
	free(a->help);
	free(a);
	return NULL;
}

static struct snode *
snode_free(struct snode *n)
{
	uint32_t i;

	if (!n)
		return NULL;
	for (i = 0; i < n->nkids; i++)
		snode_free(n->kids[i]);
	for (i = 0; i < n->nacts; i++)
		saction_free(n->acts[i]);
	for (i = 0; i < n->nenums; i++)
		free(n->enums[i]);
	free(n->kids);
	free(n->acts);
	free(n->enums);
	free(n->name);
	free(n->help);
	free(n->ref);
	free(n->refby);
	cub_val__free(n->dflt);
	free(n);
	return NULL;
}

static const struct snode *
find_kid(const struct snode *n, const char *name)
{
	uint32_t i;

	for (i = 0; i < n->nkids; i++)
		if (!strcmp(n->kids[i]->name, name))
			return n->kids[i];
	return NULL;
}

static const struct saction *
find_act(const struct snode *n, const char *name)
{
	uint32_t i;

	for (i = 0; i < n->nacts; i++)
		if (!strcmp(n->acts[i]->name, name))
			return n->acts[i];
	return NULL;
}

static const struct snode *
key_at(const struct snode *list, uint32_t k)
{
	uint32_t i, seen = 0;

	for (i = 0; i < list->nkids; i++)
		if (list->kids[i]->flags & CUB_F_KEY)
			if (seen++ == k)
				return list->kids[i];
	return NULL;
}

/* ---- values ----------------------------------------------------------- */

static int
parse_dec(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Parses a dotted quad; *end is set past it. */
static int
parse_ipv4(const char *s, const char **end, uint8_t ip[4])
{
	int i, d;
	unsigned v;

	for (i = 0; i < 4; i++) {
		if (i && *s++ != '.')
			return -EINVAL;
		v = 0;
		for (d = 0; s[d] >= '0' && s[d] <= '9'; d++) {
			if (d == 3)
				return -EINVAL;
			v = v * 10 + (unsigned)(s[d] - '0');
		}
		if (!d || v > 255 || (d > 1 && s[0] == '0'))
			return -EINVAL;
		ip[i] = (uint8_t)v;
		s += d;
	}
	*end = s;
	return 0;
}

/* A stored scalar as text, for messages. */
static void
val_text_short(const struct cub_val *v, char *buf, size_t len)
{
	if (v->kind == CUB_V_STR)
		snprintf(buf, len, "%.64s", v->str.ptr);
	else if (v->kind == CUB_V_UINT)
		snprintf(buf, len, "%" PRIu64, v->u);
	else if (v->kind == CUB_V_BOOL)
		snprintf(buf, len, "%s", v->b ? "true" : "false");
	else
		snprintf(buf, len, "<%s>", cub_val__kind_name(v->kind));
}

static void
enum_list(const struct snode *f, char *buf, size_t len)
{
	uint32_t i;

	buf[0] = '\0';
	for (i = 0; i < f->nenums; i++)
		buf_add(buf, len, f->enums[i]);
}

/*
 * The issue 7 scalars.  Each returns 0 and *out (canonical text), or a
 * CUB_E_* code with a sentence in msg as parse_scalar_text() does.
 */

/* A prefix length: decimal, no leading zero, at most max. */
static int
parse_plen(const char *s, unsigned max, unsigned *out)
{
	uint64_t v;

	if (!*s || strlen(s) > 3 || (s[0] == '0' && s[1]) || parse_dec(s, &v))
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

/* IPv6 text, as inet_pton() reads it; canonical form by inet_ntop(),
 * which writes RFC 5952's (lower case, the first longest run of two or
 * more zero groups as "::", a mapped IPv4 in dotted form). */
static int
parse_ipv6_text(const char *s, char canon[INET6_ADDRSTRLEN])
{
	struct in6_addr a;

	if (strlen(s) >= INET6_ADDRSTRLEN || inet_pton(AF_INET6, s, &a) != 1)
		return -EINVAL;
	if (!inet_ntop(AF_INET6, &a, canon, INET6_ADDRSTRLEN))
		return -EINVAL;
	return 0;
}

static int
parse_ipv6(
    const char *s, bool prefix, struct cub_val **out, char *msg, size_t len)
{
	char addr[INET6_ADDRSTRLEN + 8], canon[INET6_ADDRSTRLEN];
	const char *slash = strrchr(s, '/');
	unsigned plen = 0;
	int r = 0;

	if ((prefix && !slash) || (!prefix && slash) ||
	    (slash && (size_t)(slash - s) >= sizeof(addr))) {
		snprintf(msg, len, "'%.64s' is not an IPv6 %s (expected %s)", s,
		    prefix ? "prefix" : "address",
		    prefix ? "x:x::x/n" : "x:x::x");
		return CUB_E_TYPE;
	}
	snprintf(addr, sizeof(addr), "%.*s",
	    (int)(slash ? (size_t)(slash - s) : strlen(s)), s);
	if (parse_ipv6_text(addr, canon) ||
	    (slash && (r = parse_plen(slash + 1, 128, &plen)) == -EINVAL)) {
		snprintf(msg, len, "'%.64s' is not an IPv6 %s (expected %s)", s,
		    prefix ? "prefix" : "address",
		    prefix ? "x:x::x/n" : "x:x::x");
		return CUB_E_TYPE;
	}
	if (slash && r) {
		snprintf(msg, len, "'%.64s': prefix length %s is over 128", s,
		    slash + 1);
		return CUB_E_INVAL;
	}
	*out =
	    prefix ? cub_val__strf("%s/%u", canon, plen) : cub_val__str(canon);
	return 0;
}

/* "lo:hi" or one port; each 0 to 65535, lo <= hi; "p:p" becomes "p". */
static int
parse_port_range(const char *s, struct cub_val **out, char *msg, size_t len)
{
	const char *colon = strchr(s, ':');
	char lo_s[8];
	uint64_t lo, hi;
	int r1, r2;

	if (colon && (size_t)(colon - s) < sizeof(lo_s)) {
		snprintf(lo_s, sizeof(lo_s), "%.*s", (int)(colon - s), s);
		r1 = parse_dec(lo_s, &lo);
		r2 = parse_dec(colon + 1, &hi);
	} else if (!colon) {
		r1 = r2 = parse_dec(s, &lo);
		hi = lo;
	} else {
		r1 = r2 = -EINVAL;
	}
	if (r1 == -EINVAL || r2 == -EINVAL) {
		snprintf(msg, len,
		    "'%.64s' is not a port range (expected lo:hi or one port, "
		    "0 to 65535)",
		    s);
		return CUB_E_TYPE;
	}
	if (r1 || r2 || lo > 65535 || hi > 65535) {
		snprintf(msg, len, "'%.64s': a port is 0 to 65535", s);
		return CUB_E_INVAL;
	}
	if (lo > hi) {
		snprintf(msg, len,
		    "'%.64s': the first port %" PRIu64 " is over the last "
		    "%" PRIu64,
		    s, lo, hi);
		return CUB_E_INVAL;
	}
	*out = lo == hi ? cub_val__strf("%" PRIu64, lo)
			: cub_val__strf("%" PRIu64 ":%" PRIu64, lo, hi);
	return 0;
}

/*
 * Parses text s for field f.  Returns 0 and *out, or a CUB_E_* code with
 * a sentence in msg: CUB_E_TYPE when s cannot be read as the type at all,
 * CUB_E_INVAL when it can but is out of range, not a listed enum value or
 * too long, CUB_E_INTERNAL on ENOMEM.
 */
static int
parse_scalar_text(const struct snode *f, const char *s, struct cub_val **out,
    char *msg, size_t len)
{
	char buf[LISTBUF_LEN];
	const char *end;
	uint8_t ip[4], macb[6];
	uint64_t u, plen;
	size_t sl = strlen(s);
	uint32_t i;
	int r;
	char mac[18];

	*out = NULL;
	switch (f->type) {
	case CUB_T_ANY:
		/* Opaque: text stays text (only a show fills the field). */
		*out = cub_val__str(s);
		break;
	case CUB_T_STR:
		if (sl > f->max || sl < f->min) {
			snprintf(msg, len,
			    "'%.64s%s' has %zu characters, expected %" PRIu64
			    " to %" PRIu64,
			    s, sl > 64 ? "..." : "", sl, f->min, f->max);
			return CUB_E_INVAL;
		}
		*out = cub_val__str(s);
		break;
	case CUB_T_U8:
	case CUB_T_U16:
	case CUB_T_U32:
	case CUB_T_U64:
		r = parse_dec(s, &u);
		if (r == -EINVAL) {
			snprintf(msg, len,
			    "'%.64s' is not a %s (expected a "
			    "decimal number)",
			    s, type_name(f->type));
			return CUB_E_TYPE;
		}
		if (r || u < f->min || u > f->max) {
			snprintf(msg, len,
			    "'%.64s' is out of range [%" PRIu64 ", %" PRIu64
			    "]",
			    s, f->min, f->max);
			return CUB_E_INVAL;
		}
		*out = cub_val__uint(u);
		break;
	case CUB_T_BOOL:
		if (strcasecmp(s, "true") && strcasecmp(s, "false")) {
			snprintf(msg, len,
			    "'%.64s' is not a bool (expected true or false)",
			    s);
			return CUB_E_TYPE;
		}
		*out = cub_val__bool(!strcasecmp(s, "true"));
		break;
	case CUB_T_ENUM:
		for (i = 0; i < f->nenums; i++)
			if (!strcasecmp(f->enums[i], s))
				break;
		if (i == f->nenums) {
			enum_list(f, buf, sizeof(buf));
			snprintf(msg, len, "'%.64s' is not one of %s", s, buf);
			return CUB_E_INVAL;
		}
		*out = cub_val__str(f->enums[i]);
		break;
	case CUB_T_IPV4:
		if (parse_ipv4(s, &end, ip) || *end) {
			snprintf(msg, len,
			    "'%.64s' is not an IPv4 address "
			    "(expected a.b.c.d)",
			    s);
			return CUB_E_TYPE;
		}
		*out = cub_val__strf("%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
		break;
	case CUB_T_IPV4_PREFIX:
		if (parse_ipv4(s, &end, ip) || *end != '/' || !end[1] ||
		    strlen(end + 1) > 2 || (end[1] == '0' && end[2]) ||
		    parse_dec(end + 1, &plen)) {
			snprintf(msg, len,
			    "'%.64s' is not an IPv4 prefix "
			    "(expected a.b.c.d/n)",
			    s);
			return CUB_E_TYPE;
		}
		if (plen > 32) {
			snprintf(msg, len,
			    "'%.64s': prefix length %" PRIu64 " is over 32", s,
			    plen);
			return CUB_E_INVAL;
		}
		*out = cub_val__strf("%u.%u.%u.%u/%u", ip[0], ip[1], ip[2],
		    ip[3], (unsigned)plen);
		break;
	case CUB_T_MAC:
		if (cubi_text_mac_parse(s, sl, macb)) {
			snprintf(msg, len,
			    "'%.64s' is not a MAC address "
			    "(expected xx:xx:xx:xx:xx:xx)",
			    s);
			return CUB_E_TYPE;
		}
		for (i = 0; i < 17; i++)
			mac[i] =
			    (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a'
							      : s[i]);
		mac[17] = '\0';
		*out = cub_val__str(mac);
		break;
	case CUB_T_IPV6:
	case CUB_T_IPV6_PREFIX:
		r = parse_ipv6(s, f->type == CUB_T_IPV6_PREFIX, out, msg, len);
		if (r)
			return r;
		break;
	case CUB_T_IP:
	case CUB_T_IP_PREFIX:
		if (strchr(s, ':')) {
			r = parse_ipv6(
			    s, f->type == CUB_T_IP_PREFIX, out, msg, len);
		} else {
			struct snode v4 = *f;

			v4.type = f->type == CUB_T_IP ? CUB_T_IPV4
						      : CUB_T_IPV4_PREFIX;
			r = parse_scalar_text(&v4, s, out, msg, len);
		}
		if (r == CUB_E_TYPE)
			snprintf(msg, len,
			    "'%.64s' is not an IPv4 or IPv6 %s (expected "
			    "%s)",
			    s, f->type == CUB_T_IP ? "address" : "prefix",
			    f->type == CUB_T_IP ? "a.b.c.d or x:x::x"
						: "a.b.c.d/n or x:x::x/n");
		if (r)
			return r;
		break;
	case CUB_T_PORT_RANGE:
		r = parse_port_range(s, out, msg, len);
		if (r)
			return r;
		break;
	default:
		snprintf(msg, len, "is a %s, not a value", type_name(f->type));
		return CUB_E_TYPE;
	}
	if (!*out) {
		snprintf(msg, len, "out of memory");
		return CUB_E_INTERNAL;
	}
	return 0;
}

/* Like parse_scalar_text, for a string or a typed value. */
static int
parse_scalar(const struct snode *f, const struct cub_val *in,
    struct cub_val **out, char *msg, size_t len)
{
	char num[24];
	uint64_t u;

	*out = NULL;
	if (!in) {
		snprintf(msg, len, "no value");
		return CUB_E_TYPE;
	}
	if (f->type == CUB_T_ANY) {
		/* Opaque: the value as given, every level, map order kept. */
		*out = cub_val__dup(in);
		if (!*out) {
			snprintf(msg, len, "out of memory");
			return CUB_E_INTERNAL;
		}
		return 0;
	}
	if (in->kind == CUB_V_STR)
		return parse_scalar_text(f, in->str.ptr, out, msg, len);
	if (f->type == CUB_T_PORT_RANGE && in->kind == CUB_V_UINT) {
		snprintf(num, sizeof(num), "%" PRIu64, in->u);
		return parse_scalar_text(f, num, out, msg, len);
	}
	if (is_uint_type(f->type) &&
	    (in->kind == CUB_V_UINT || in->kind == CUB_V_INT)) {
		if (cub_val__as_u64(in, &u) || u < f->min || u > f->max) {
			if (in->kind == CUB_V_INT)
				snprintf(msg, len,
				    "%" PRId64 " is out of "
				    "range [%" PRIu64 ", %" PRIu64 "]",
				    in->i, f->min, f->max);
			else
				snprintf(msg, len,
				    "%" PRIu64 " is out of "
				    "range [%" PRIu64 ", %" PRIu64 "]",
				    in->u, f->min, f->max);
			return CUB_E_INVAL;
		}
		*out = cub_val__uint(u);
	} else if (f->type == CUB_T_BOOL && in->kind == CUB_V_BOOL) {
		*out = cub_val__bool(in->b);
	} else {
		snprintf(msg, len, "expected %s, got %s", type_name(f->type),
		    cub_val__kind_name(in->kind));
		return CUB_E_TYPE;
	}
	if (!*out) {
		snprintf(msg, len, "out of memory");
		return CUB_E_INTERNAL;
	}
	return 0;
}

/*
 * A leaf-list's values: an array of values, or text with the values
 * separated by commas (the CLI's `ports=80,443`; "" is the empty list).
 * At most f->max_items of them, no two equal.
 */
static int
parse_leaflist(const struct snode *f, const struct cub_val *in,
    struct cub_val **out, char *msg, size_t len)
{
	char sub[MSG_LEN / 2], shown[80];
	struct cub_val *arr, *v, piece = {.kind = CUB_V_STR};
	const char *p = NULL, *comma;
	uint32_t n, i, j;
	char *text = NULL;
	int r = 0;

	*out = NULL;
	if (!in || (in->kind != CUB_V_ARRAY && in->kind != CUB_V_STR)) {
		snprintf(msg, len,
		    "expected a list of %s (an array, or values separated by "
		    "commas), got %s",
		    type_name(f->type),
		    in ? cub_val__kind_name(in->kind) : "nothing");
		return CUB_E_TYPE;
	}
	if (in->kind == CUB_V_ARRAY) {
		n = in->arr.len;
	} else {
		p = in->str.ptr;
		for (n = *p ? 1 : 0, i = 0; p[i]; i++)
			n += p[i] == ',';
	}
	if (n > f->max_items) {
		snprintf(msg, len, "%u values, at most %u", n, f->max_items);
		return CUB_E_INVAL;
	}
	arr = cub_val__array();
	if (!arr || (p && !(text = strdup(p)))) {
		cub_val__free(arr);
		snprintf(msg, len, "out of memory");
		return CUB_E_INTERNAL;
	}
	p = text;
	for (i = 0; !r && i < n; i++) {
		if (text) {
			comma = strchr(p, ',');
			if (comma)
				text[comma - text] = '\0';
			piece.str.ptr = (char *)p;
			piece.str.len = (uint32_t)strlen(p);
			r = parse_scalar(f, &piece, &v, sub, sizeof(sub));
			p = comma ? comma + 1 : p + strlen(p);
		} else {
			r = parse_scalar(
			    f, in->arr.items[i], &v, sub, sizeof(sub));
		}
		if (r) {
			snprintf(msg, len, "value %u: %s", i + 1, sub);
			break;
		}
		for (j = 0; j < arr->arr.len; j++)
			if (cub_val__equal(arr->arr.items[j], v))
				break;
		if (j < arr->arr.len) {
			val_text_short(v, shown, sizeof(shown));
			snprintf(msg, len, "'%s' is given twice", shown);
			cub_val__free(v);
			r = CUB_E_INVAL;
		} else if (cub_val__push(arr, v)) {
			snprintf(msg, len, "out of memory");
			r = CUB_E_INTERNAL;
		}
	}
	free(text);
	if (r) {
		cub_val__free(arr);
		return r;
	}
	*out = arr;
	return 0;
}

static int
parse_value(const struct snode *f, const struct cub_val *in,
    struct cub_val **out, char *msg, size_t len)
{
	if (f->flags & CUB_F_LEAFLIST)
		return parse_leaflist(f, in, out, msg, len);
	return parse_scalar(f, in, out, msg, len);
}

/* Like parse_value, for text (a schema's default). */
static int
parse_text(const struct snode *f, const char *s, struct cub_val **out,
    char *msg, size_t len)
{
	struct cub_val in = {.kind = CUB_V_STR};

	in.str.ptr = (char *)s;
	in.str.len = (uint32_t)strlen(s);
	return parse_value(f, &in, out, msg, len);
}

/* ---- schema parsing --------------------------------------------------- */

struct pctx {
	char *err;
	size_t errlen;
	uint32_t count; /* fields and actions seen */
	bool base;      /* trusted base schema: KEY allowed at the root */
};

static int __attribute__((format(printf, 3, 4)))
perr(struct pctx *pc, const char *path, const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pc->err && pc->errlen)
		snprintf(pc->err, pc->errlen, "schema: %s%s%s", path,
		    *path ? ": " : "", msg);
	return -EINVAL;
}

static bool
valid_name(const char *s)
{
	size_t i;

	if (!s || !*s || strlen(s) > CUB_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
			s[i] == '-'))
			return false;
	return true;
}

static bool
valid_enum_value(const char *s)
{
	size_t i;

	if (!s || !*s || strlen(s) > CUB_NAME_MAX)
		return false;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
			s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

static bool
map_only_keys(
    const struct cub_val *m, const char *const *allowed, const char **bad)
{
	uint32_t i;
	size_t j;

	for (i = 0; i < m->map.len; i++) {
		for (j = 0; allowed[j]; j++)
			if (!strcmp(allowed[j], m->map.items[i].key))
				break;
		if (!allowed[j]) {
			*bad = m->map.items[i].key;
			return false;
		}
	}
	return true;
}

/* Optional string member; -EINVAL when present and not a string. */
static int
opt_str(const struct cub_val *m, const char *key, const char **out)
{
	const struct cub_val *v = cub_val__get(m, key);

	*out = NULL;
	if (!v)
		return 0;
	if (v->kind != CUB_V_STR)
		return -EINVAL;
	*out = v->str.ptr;
	return 0;
}

static int
opt_uint(const struct cub_val *m, const char *key, uint64_t *out)
{
	const struct cub_val *v = cub_val__get(m, key);

	*out = 0;
	if (!v)
		return 0;
	return cub_val__as_u64(v, out);
}

static int fields_parse(struct pctx *pc, struct snode *parent,
    const struct cub_val *arr, int depth, bool action_args, const char *path);

static int
check_sibling(struct pctx *pc, const struct snode *parent, const char *name,
    const char *path)
{
	if (find_kid(parent, name) || find_act(parent, name))
		return perr(pc, path, "duplicate name '%s'", name);
	return 0;
}

static int
actions_parse(struct pctx *pc, struct snode *n, const struct cub_val *arr,
    int depth, const char *path)
{
	static const char *const keys[] = {"name", "help", "args", NULL};
	const struct cub_val *m;
	const char *name, *help, *bad;
	struct saction *a;
	struct snode tmp;
	char sub[PATH_LEN];
	uint32_t i;
	int r;

	if (arr->kind != CUB_V_ARRAY)
		return perr(pc, path, "actions is not an array");
	if (arr->arr.len > ACTIONS_MAX)
		return perr(pc, path, "more than %d actions", ACTIONS_MAX);
	for (i = 0; i < arr->arr.len; i++) {
		m = arr->arr.items[i];
		if (m->kind != CUB_V_MAP)
			return perr(pc, path, "action %u is not a map", i);
		if (!map_only_keys(m, keys, &bad))
			return perr(pc, path,
			    "action %u: unknown member "
			    "'%.32s'",
			    i, bad);
		if (opt_str(m, "name", &name) || !valid_name(name))
			return perr(
			    pc, path, "action %u: bad or missing name", i);
		path_join(sub, sizeof(sub), path, name);
		if (is_reserved(name))
			return perr(pc, sub, "'%s' is a reserved word", name);
		if (++pc->count > CUB_SCHEMA_FIELDS_MAX)
			return perr(pc, sub, "more than %d fields",
			    CUB_SCHEMA_FIELDS_MAX);
		r = check_sibling(pc, n, name, sub);
		if (r)
			return r;
		if (opt_str(m, "help", &help) ||
		    (help && strlen(help) > HELP_MAX))
			return perr(pc, sub,
			    "help is not a string of at most "
			    "%d bytes",
			    HELP_MAX);
		a = calloc(1, sizeof(*a));
		if (!a || !(a->name = strdup(name)) ||
		    !(a->help = strdup(help ? help : "")) ||
		    push_ptr(&n->acts, &n->nacts, a)) {
			saction_free(a);
			return -ENOMEM;
		}
		if (cub_val__get(m, "args")) {
			memset(&tmp, 0, sizeof(tmp));
			tmp.type = CUB_T_CONTAINER;
			r = fields_parse(pc, &tmp, cub_val__get(m, "args"),
			    depth + 1, true, sub);
			a->args = tmp.kids;
			a->nargs = tmp.nkids;
			if (r)
				return r;
		}
	}
	return 0;
}

static int
range_parse(struct pctx *pc, struct snode *n, uint64_t min, uint64_t max,
    const char *path)
{
	uint64_t tmax;

	switch (n->type) {
	case CUB_T_U8:
	case CUB_T_U16:
	case CUB_T_U32:
	case CUB_T_U64:
		tmax = n->type == CUB_T_U8    ? UINT8_MAX
		       : n->type == CUB_T_U16 ? UINT16_MAX
		       : n->type == CUB_T_U32 ? UINT32_MAX
					      : UINT64_MAX;
		if (!max)
			max = tmax;
		break;
	case CUB_T_STR:
		tmax = STR_CAP;
		if (!max)
			max = STR_DFLT_MAX;
		break;
	default:
		if (min || max)
			return perr(pc, path, "min/max do not apply to %s",
			    type_name(n->type));
		return 0;
	}
	if (max > tmax)
		return perr(
		    pc, path, "max %" PRIu64 " is over %" PRIu64, max, tmax);
	if (min > max)
		return perr(
		    pc, path, "min %" PRIu64 " is over max %" PRIu64, min, max);
	n->min = min;
	n->max = max;
	return 0;
}

static int
enums_parse(struct pctx *pc, struct snode *n, const struct cub_val *en,
    const char *path)
{
	uint32_t i, j;
	const char *s;

	if (n->type != CUB_T_ENUM) {
		if (en)
			return perr(pc, path, "enum values on a %s",
			    type_name(n->type));
		return 0;
	}
	if (!en || en->kind != CUB_V_ARRAY || !en->arr.len ||
	    en->arr.len > ENUM_MAX)
		return perr(pc, path, "enum needs 1 to %d values", ENUM_MAX);
	for (i = 0; i < en->arr.len; i++) {
		s = cub_val__as_str(en->arr.items[i]);
		if (!valid_enum_value(s))
			return perr(pc, path,
			    "enum value %u is not a name of "
			    "1 to %d characters [A-Za-z0-9_.-]",
			    i, CUB_NAME_MAX);
		for (j = 0; j < n->nenums; j++)
			if (!strcasecmp(n->enums[j], s))
				return perr(pc, path,
				    "duplicate enum value "
				    "'%s'",
				    s);
		if (push_ptr(&n->enums, &n->nenums, NULL))
			return -ENOMEM;
		n->enums[n->nenums - 1] = strdup(s);
		if (!n->enums[n->nenums - 1])
			return -ENOMEM;
	}
	return 0;
}

static int
flags_check(struct pctx *pc, const struct snode *n, const struct snode *parent,
    bool action_args, const char *path)
{
	uint32_t f = n->flags;

	if (f & ~(CUB_F_KEY | CUB_F_RO | CUB_F_INIT | CUB_F_REQUIRED |
		    CUB_F_LEAFLIST | CUB_F_ORDERED | CUB_F_REPLACE |
		    CUB_F_SHOWN))
		return perr(pc, path, "unknown flags 0x%x", f);
	if ((f & CUB_F_SHOWN) &&
	    (n->type != CUB_T_LIST || (f & (CUB_F_RO | CUB_F_ORDERED))))
		return perr(pc, path,
		    "only a list that is neither ro nor ordered can be shown");
	if ((f & CUB_F_REPLACE) &&
	    (n->type != CUB_T_CONTAINER || (f & ~CUB_F_REPLACE)))
		return perr(pc, path,
		    "only a container can be replace, and with no other "
		    "flag");
	if (action_args && (f & ~(CUB_F_REQUIRED | CUB_F_LEAFLIST)))
		return perr(pc, path,
		    "action arguments may only be required or leaf-lists");
	if ((f & CUB_F_ORDERED) && n->type != CUB_T_LIST)
		return perr(pc, path, "only a list can be ordered");
	if ((f & CUB_F_LEAFLIST) && !is_leaf(n))
		return perr(
		    pc, path, "a %s cannot be a leaf-list", type_name(n->type));
	if ((f & CUB_F_LEAFLIST) && (f & CUB_F_KEY))
		return perr(pc, path, "a key cannot be a leaf-list");
	if (!is_leaf(n) &&
	    (f & ~(CUB_F_RO | CUB_F_ORDERED | CUB_F_REPLACE | CUB_F_SHOWN)))
		return perr(pc, path, "a %s may only be ro%s",
		    type_name(n->type),
		    n->type == CUB_T_LIST ? " or ordered" : "");
	if ((f & CUB_F_ORDERED) && (f & CUB_F_RO))
		return perr(pc, path, "a ro list cannot be ordered");
	if ((f & CUB_F_KEY) && parent->type != CUB_T_LIST && !pc->base)
		return perr(pc, path, "key outside a list");
	if ((f & CUB_F_RO) && (f & ~(CUB_F_RO | CUB_F_LEAFLIST)))
		return perr(pc, path,
		    "ro cannot be combined with other flags than leaf-list");
	if ((parent->flags & CUB_F_ORDERED) && is_position_arg(n->name))
		return perr(pc, path,
		    "'%s' is an insert position of an ordered list, not a "
		    "field name there",
		    n->name);
	return 0;
}

/*
 * An ANY field is a value the service's show fills, and nothing else: ro
 * (tree_finish() checks that, once a ro list has made its children ro),
 * no other flag, and none of the members that constrain a value.
 */
static int
any_check(struct pctx *pc, const struct snode *n, const struct cub_val *m,
    bool action_args, const char *path)
{
	static const char *const none[] = {"default", "enum", "max-items",
	    "ref", "counter", "children", "actions", NULL};
	static const char *const range[] = {"min", "max", NULL};
	const struct cub_val *v;
	uint64_t u;
	uint32_t i;

	if (n->type != CUB_T_ANY)
		return 0;
	if (action_args)
		return perr(
		    pc, path, "an action argument cannot be of type any");
	if (n->flags & CUB_F_KEY)
		return perr(pc, path, "a key cannot be of type any");
	if (n->flags & CUB_F_LEAFLIST)
		return perr(pc, path,
		    "an any field cannot be a leaf-list (its value may be "
		    "an array)");
	if (n->flags & ~CUB_F_RO)
		return perr(pc, path,
		    "an any field may only be ro (only the service's show "
		    "fills it)");
	for (i = 0; none[i]; i++)
		if (cub_val__get(m, none[i]))
			return perr(
			    pc, path, "an any field takes no %s", none[i]);
	/* cub_schema__to_val() sends min and max as 0 when unset. */
	for (i = 0; range[i]; i++) {
		v = cub_val__get(m, range[i]);
		if (v && (cub_val__as_u64(v, &u) || u))
			return perr(
			    pc, path, "an any field takes no %s", range[i]);
	}
	return 0;
}

/* The members issue 7 added: max-items (leaf-lists) and ref. */
static int
field_ext_parse(struct pctx *pc, struct snode *n, const struct cub_val *m,
    bool action_args, const char *path)
{
	const struct cub_val *mi = cub_val__get(m, "max-items");
	uint64_t max_items = 0;
	const char *ref;

	if (mi &&
	    (cub_val__as_u64(mi, &max_items) || max_items > CUB_LEAFLIST_MAX))
		return perr(pc, path, "max-items is not a number up to %d",
		    CUB_LEAFLIST_MAX);
	if (max_items && !(n->flags & CUB_F_LEAFLIST))
		return perr(pc, path,
		    "max-items on a field that is not a "
		    "leaf-list");
	if (n->flags & CUB_F_LEAFLIST)
		n->max_items =
		    max_items ? (uint32_t)max_items : CUB_LEAFLIST_DFLT;
	if (opt_str(m, "ref", &ref) ||
	    (ref && (!*ref || strlen(ref) >= PATH_LEN)))
		return perr(pc, path, "ref is not a list's path");
	if (!ref)
		return 0;
	if (!is_leaf(n) || action_args || (n->flags & CUB_F_RO))
		return perr(pc, path,
		    "only a writable field of a node can "
		    "refer to a list");
	n->ref = strdup(ref);
	return n->ref ? 0 : -ENOMEM;
}

static int
field_parse(struct pctx *pc, struct snode *parent, const struct cub_val *m,
    int depth, bool action_args, const char *ppath)
{
	/* "counter": a binding the broker checks (broker/counters.c). */
	static const char *const keys[] = {"name", "type", "flags", "help",
	    "default", "enum", "min", "max", "children", "actions", "counter",
	    "max-items", "ref", NULL};
	const char *name, *type, *help, *dflt, *bad;
	uint64_t flags, min, max;
	char sub[PATH_LEN], msg[MSG_LEN];
	struct snode *n;
	size_t t;
	int r;

	if (m->kind != CUB_V_MAP)
		return perr(pc, ppath, "field is a %s, not a map",
		    cub_val__kind_name(m->kind));
	if (opt_str(m, "name", &name) || !valid_name(name))
		return perr(pc, ppath,
		    "field name '%.40s' is not "
		    "[a-z][a-z0-9_-]* of at most %d characters",
		    name ? name : "", CUB_NAME_MAX);
	path_join(sub, sizeof(sub), ppath, name);
	if (!map_only_keys(m, keys, &bad))
		return perr(pc, sub, "unknown member '%.32s'", bad);
	if (++pc->count > CUB_SCHEMA_FIELDS_MAX)
		return perr(
		    pc, sub, "more than %d fields", CUB_SCHEMA_FIELDS_MAX);
	r = check_sibling(pc, parent, name, sub);
	if (r)
		return r;
	if (opt_str(m, "type", &type) || !type)
		return perr(pc, sub, "missing type");
	if ((r = cub_ftype__parse(type)) < 0)
		return perr(pc, sub, "unknown type '%.32s'", type);
	t = (unsigned)r;
	/* A leaf may be named help (Polycube's dynmon has one in its
	 * open-metrics-metadata): it is set in bodies and as help=...; as a
	 * path word, help stays the verb. */
	if (is_reserved(name) && (strcmp(name, "help") ||
				     t == CUB_T_LIST || t == CUB_T_CONTAINER))
		return perr(pc, sub, "'%s' is a reserved word", name);
	if (opt_uint(m, "flags", &flags) || flags > UINT32_MAX)
		return perr(pc, sub, "flags is not a u32");
	if (opt_str(m, "help", &help) || (help && strlen(help) > HELP_MAX))
		return perr(pc, sub, "help is not a string of at most %d bytes",
		    HELP_MAX);
	if (opt_str(m, "default", &dflt))
		return perr(pc, sub, "default is not a string");
	if (opt_uint(m, "min", &min) || opt_uint(m, "max", &max))
		return perr(pc, sub, "min/max are not unsigned integers");

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->type = (enum cub_ftype)t;
	n->flags = (uint32_t)flags;
	n->name = strdup(name);
	n->help = strdup(help ? help : "");
	if (!n->name || !n->help ||
	    push_ptr(&parent->kids, &parent->nkids, n)) {
		snode_free(n);
		return -ENOMEM;
	}
	/* n now belongs to parent: errors below leave it there. */
	r = any_check(pc, n, m, action_args, sub);
	if (!r)
		r = flags_check(pc, n, parent, action_args, sub);
	if (!r)
		r = range_parse(pc, n, min, max, sub);
	if (!r)
		r = enums_parse(pc, n, cub_val__get(m, "enum"), sub);
	if (!r)
		r = field_ext_parse(pc, n, m, action_args, sub);
	if (r)
		return r;
	if (n->flags & CUB_F_KEY)
		parent->nkeys++;
	if (dflt) {
		if (!is_leaf(n) ||
		    (n->flags & (CUB_F_KEY | CUB_F_RO | CUB_F_REQUIRED)))
			return perr(pc, sub, "a default on a %s%s field",
			    type_name(n->type),
			    is_leaf(n) ? " key, ro or required" : "");
		r = parse_text(n, dflt, &n->dflt, msg, sizeof(msg));
		if (r == CUB_E_INTERNAL)
			return -ENOMEM;
		if (r)
			return perr(pc, sub, "default %s", msg);
	}
	if (is_leaf(n)) {
		if (cub_val__get(m, "children") || cub_val__get(m, "actions"))
			return perr(pc, sub, "a %s has no children or actions",
			    type_name(n->type));
		return 0;
	}
	if (action_args)
		return perr(pc, sub, "action arguments must be values");
	if (depth + 1 > CUB_SCHEMA_DEPTH_MAX)
		return perr(
		    pc, sub, "nested deeper than %d", CUB_SCHEMA_DEPTH_MAX);
	if (cub_val__get(m, "children")) {
		r = fields_parse(
		    pc, n, cub_val__get(m, "children"), depth + 1, false, sub);
		if (r)
			return r;
	}
	if (cub_val__get(m, "actions"))
		return actions_parse(
		    pc, n, cub_val__get(m, "actions"), depth, sub);
	return 0;
}

static int
fields_parse(struct pctx *pc, struct snode *parent, const struct cub_val *arr,
    int depth, bool action_args, const char *path)
{
	uint32_t i;
	int r;

	if (depth > CUB_SCHEMA_DEPTH_MAX)
		return perr(
		    pc, path, "nested deeper than %d", CUB_SCHEMA_DEPTH_MAX);
	if (arr->kind != CUB_V_ARRAY)
		return perr(pc, path, "fields are a %s, not an array",
		    cub_val__kind_name(arr->kind));
	if (arr->arr.len > CUB_SCHEMA_FIELDS_MAX)
		return perr(
		    pc, path, "more than %d fields", CUB_SCHEMA_FIELDS_MAX);
	for (i = 0; i < arr->arr.len; i++) {
		r = field_parse(
		    pc, parent, arr->arr.items[i], depth, action_args, path);
		if (r)
			return r;
	}
	return 0;
}

/* Checks every list has a key; makes the children of ro nodes ro. */
static int
tree_finish(struct pctx *pc, struct snode *n, bool ro, const char *path)
{
	char sub[PATH_LEN];
	uint32_t i;
	int r;

	if (ro)
		n->flags =
		    (n->flags & ~(CUB_F_INIT | CUB_F_REQUIRED)) | CUB_F_RO;
	if (n->type == CUB_T_LIST && !n->nkeys)
		return perr(pc, path, "list has no key field");
	if (n->type == CUB_T_ANY && !(n->flags & CUB_F_RO))
		return perr(pc, path,
		    "a writable any field: it must be ro (only the service's "
		    "show fills it)");
	for (i = 0; i < n->nkids; i++) {
		path_join(sub, sizeof(sub), path, n->kids[i]->name);
		r = tree_finish(
		    pc, n->kids[i], ro || (n->flags & CUB_F_RO), sub);
		if (r)
			return r;
	}
	return 0;
}

/* Resolves ref's path from the root to the field's target list. */
static int
ref_target(struct pctx *pc, const struct snode *root, struct snode *f,
    const char *path)
{
	char part[CUB_NAME_MAX + 1];
	const struct snode *cur = root, *k = NULL;
	const char *p = f->ref, *slash;
	size_t n;

	f->ntpath = 0;
	while (*p) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (!n || n > CUB_NAME_MAX || f->ntpath == CUB_SCHEMA_DEPTH_MAX)
			return perr(pc, path,
			    "ref '%.64s' is not a path of "
			    "names",
			    f->ref);
		snprintf(part, sizeof(part), "%.*s", (int)n, p);
		k = cur->type == CUB_T_CONTAINER ? find_kid(cur, part) : NULL;
		if (!k || is_leaf(k))
			return perr(pc, path,
			    "ref '%.64s': no list or container '%s' there",
			    f->ref, part);
		f->tpath[f->ntpath++] = k;
		cur = k;
		p += n + (slash ? 1 : 0);
		if (slash && !*p)
			return perr(
			    pc, path, "ref '%.64s' ends in '/'", f->ref);
	}
	if (!k || k->type != CUB_T_LIST)
		return perr(
		    pc, path, "ref '%.64s' does not name a list", f->ref);
	if (k->flags & CUB_F_RO)
		return perr(pc, path,
		    "ref '%.64s': a read-only list is the service's", f->ref);
	if (k->nkeys != 1 || key_at(k, 0)->type != f->type)
		return perr(pc, path,
		    "ref '%.64s': that list must have one key of type %s",
		    f->ref, type_name(f->type));
	return 0;
}

/*
 * Resolves every ref under n (chain: the nodes from below the root to n)
 * and records each referring field on its target list.
 */
static int
refs_resolve(struct pctx *pc, struct snode *root, struct snode *n,
    const struct snode **chain, uint32_t nchain, const char *path)
{
	struct snode *k, *t;
	struct sref *nr;
	char sub[PATH_LEN];
	uint32_t i, j;
	int r;

	for (i = 0; i < n->nkids; i++) {
		k = n->kids[i];
		path_join(sub, sizeof(sub), path, k->name);
		if (!is_leaf(k)) {
			chain[nchain] = k;
			r = refs_resolve(pc, root, k, chain, nchain + 1, sub);
			if (r)
				return r;
			n->has_ref |= k->has_ref;
			continue;
		}
		if (!k->ref)
			continue;
		if ((r = ref_target(pc, root, k, sub)))
			return r;
		t = (struct snode *)k->tpath[k->ntpath - 1];
		nr = reallocarray(
		    t->refby, (size_t)t->nrefby + 1, sizeof(*t->refby));
		if (!nr)
			return -ENOMEM;
		t->refby = nr;
		nr = &t->refby[t->nrefby++];
		memset(nr, 0, sizeof(*nr));
		nr->field = k;
		for (j = 0; j < nchain; j++)
			nr->chain[j] = chain[j];
		nr->nchain = nchain;
		k->has_ref = n->has_ref = true;
	}
	return 0;
}

static const char *const base_types[] = {"TC", "XDP_SKB", "XDP_DRV", NULL};
static const char *const base_status[] = {"UP", "DOWN", NULL};
/* Polycube's loglevel values, in order (cube_shared.h enum cub_log_level). */
static const char *const base_loglevels[] = {
    "TRACE", "DEBUG", "INFO", "WARN", "ERR", "CRITICAL", "OFF", NULL};

static const struct cub_field base_port_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.help = "port name",
	.max = CUB_NAME_MAX},
    {.name = "peer",
	.type = CUB_T_STR,
	.help = "netdev, or cube:port of another cube, this port is "
		"connected to",
	.max = 2 * CUB_NAME_MAX + 1},
    {.name = "status",
	.type = CUB_T_ENUM,
	.flags = CUB_F_RO,
	.help = "link status",
	.enums = base_status},
    {.name = "index",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "port index in the data plane"},
    {0},
};

static const struct cub_field base_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.help = "cube name",
	.max = CUB_NAME_MAX},
    {.name = "service",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "service name"},
    {.name = "type",
	.type = CUB_T_ENUM,
	.flags = CUB_F_INIT,
	.help = "attach point: TC, XDP_SKB or XDP_DRV",
	.dflt = "TC",
	.enums = base_types},
    {.name = "loglevel",
	.type = CUB_T_ENUM,
	.help = "lowest level of the cube's log kept (cubicle <cube> log "
		"show): TRACE, DEBUG, INFO, WARN, ERR, CRITICAL or OFF",
	.dflt = "INFO",
	.enums = base_loglevels},
    {.name = "ports",
	.type = CUB_T_LIST,
	.help = "ports of the cube",
	.children = base_port_fields},
    {0},
};

struct cub_val *
cubi_tree__base_wire(void)
{
	return cub_schema__to_val(base_fields);
}

/* Moves the service's "ports" children and actions into the base one. */
static int
ports_extend(struct pctx *pc, struct snode *base, struct snode *svc)
{
	uint32_t i;
	int r;

	if (svc->type != CUB_T_LIST || svc->flags)
		return perr(pc, "ports",
		    "must be a list without flags to "
		    "extend the base ports");
	for (i = 0; i < svc->nkids; i++) {
		if (svc->kids[i]->flags & CUB_F_KEY)
			return perr(pc, "ports",
			    "'%s': ports are keyed by "
			    "name only",
			    svc->kids[i]->name);
		r = check_sibling(pc, base, svc->kids[i]->name, "ports");
		if (r)
			return r;
		if (push_ptr(&base->kids, &base->nkids, svc->kids[i]))
			return -ENOMEM;
		svc->kids[i] = NULL;
	}
	for (i = 0; i < svc->nacts; i++) {
		r = check_sibling(pc, base, svc->acts[i]->name, "ports");
		if (r)
			return r;
		if (push_ptr(&base->acts, &base->nacts, svc->acts[i]))
			return -ENOMEM;
		svc->acts[i] = NULL;
	}
	return 0;
}

struct cubi_schema *
cubi_schema__free(struct cubi_schema *s)
{
	if (!s)
		return NULL;
	snode_free(s->root);
	free(s);
	return NULL;
}

const struct cub_val *
cubi_schema__fields(const struct cub_val *wire)
{
	if (wire && wire->kind == CUB_V_MAP)
		wire = cub_val__get(wire, "fields");
	return wire && wire->kind == CUB_V_ARRAY ? wire : NULL;
}

struct cubi_schema *
cubi_schema__parse(const struct cub_val *wire, char *err, size_t errlen)
{
	struct pctx pc = {.err = err, .errlen = errlen, .base = true};
	struct snode *svc = NULL, *b;
	struct cubi_schema *s;
	struct cub_val *bw;
	uint32_t i, j;
	int r;

	if (err && errlen)
		err[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (!s || !(s->root = calloc(1, sizeof(*s->root))) ||
	    !(s->root->name = strdup("")) || !(s->root->help = strdup(""))) {
		r = -ENOMEM;
		goto out;
	}
	s->root->type = CUB_T_CONTAINER;
	bw = cub_schema__to_val(base_fields);
	if (!bw) {
		r = -ENOMEM;
		goto out;
	}
	r = fields_parse(&pc, s->root, bw, 1, false, "");
	cub_val__free(bw);
	if (r || !wire)
		goto finish;

	pc.base = false;
	pc.count = 0;
	svc = calloc(1, sizeof(*svc));
	if (!svc) {
		r = -ENOMEM;
		goto out;
	}
	svc->type = CUB_T_CONTAINER;
	if (wire->kind == CUB_V_MAP) {
		/* {fields, actions}: actions on the cube itself. */
		static const char *const keys[] = {"fields", "actions", NULL};
		const struct cub_val *acts = cub_val__get(wire, "actions");
		const char *bad;

		if (!map_only_keys(wire, keys, &bad)) {
			r = perr(
			    &pc, "", "schema: unknown member '%.32s'", bad);
			goto finish;
		}
		r = acts ? actions_parse(&pc, svc, acts, 1, "") : 0;
		for (i = 0; !r && i < svc->nacts; i++)
			if (find_kid(s->root, svc->acts[i]->name))
				r = perr(&pc, svc->acts[i]->name,
				    "action named like a base field");
		wire = cubi_schema__fields(wire);
		if (!r && !wire)
			r = perr(&pc, "", "schema: 'fields' missing");
		if (r)
			goto finish;
	}
	r = fields_parse(&pc, svc, wire, 1, false, "");
	for (i = 0; !r && i < svc->nkids; i++) {
		b = NULL;
		for (j = 0; j < s->root->nkids; j++)
			if (!strcmp(s->root->kids[j]->name, svc->kids[i]->name))
				b = s->root->kids[j];
		if (b && !strcmp(b->name, "ports")) {
			r = ports_extend(&pc, b, svc->kids[i]);
		} else if (b) {
			r = perr(&pc, svc->kids[i]->name,
			    "redefines a base "
			    "field");
		} else {
			r = push_ptr(
			    &s->root->kids, &s->root->nkids, svc->kids[i]);
			if (!r)
				svc->kids[i] = NULL;
		}
	}
	for (i = 0; !r && i < svc->nacts; i++) {
		r = push_ptr(&s->root->acts, &s->root->nacts, svc->acts[i]);
		if (!r)
			svc->acts[i] = NULL;
	}
finish:
	if (!r)
		r = tree_finish(&pc, s->root, false, "");
	if (!r) {
		const struct snode *chain[CUB_SCHEMA_DEPTH_MAX + 1];

		r = refs_resolve(&pc, s->root, s->root, chain, 0, "");
	}
out:
	snode_free(svc);
	if (r) {
		if (r == -ENOMEM && err && errlen && !err[0])
			snprintf(err, errlen, "schema: out of memory");
		cubi_schema__free(s);
		errno = -r;
		return NULL;
	}
	return s;
}

/* ---- documents -------------------------------------------------------- */

enum mode {
	M_CREATE, /* the node is being created: init-only fields allowed */
	M_SET,    /* the node exists: init-only fields refused */
};

/* Text of a stored scalar for messages and paths. */
static void
val_text(const struct cub_val *v, char *buf, size_t len)
{
	if (!v)
		snprintf(buf, len, "?");
	else if (v->kind == CUB_V_STR)
		snprintf(buf, len, "%.64s", v->str.ptr);
	else if (v->kind == CUB_V_UINT)
		snprintf(buf, len, "%" PRIu64, v->u);
	else if (v->kind == CUB_V_BOOL)
		snprintf(buf, len, "%s", v->b ? "true" : "false");
	else
		snprintf(buf, len, "<%s>", cub_val__kind_name(v->kind));
}

static void
kids_list(const struct snode *n, bool writable, char *buf, size_t len)
{
	uint32_t i;

	buf[0] = '\0';
	for (i = 0; i < n->nkids; i++)
		if (!writable || !(n->kids[i]->flags & CUB_F_RO))
			buf_add(buf, len, n->kids[i]->name);
}

static void
keys_free(struct cub_val **keys, uint32_t n)
{
	uint32_t i;

	if (!keys)
		return;
	for (i = 0; i < n; i++)
		cub_val__free(keys[i]);
	free(keys);
}

/* Parses one key value (text or typed); refuses reserved words. */
static int
key_parse(const struct snode *k, const struct cub_val *in, struct cub_val **out,
    const char *path, struct cub_val **errv)
{
	char msg[MSG_LEN], shown[256];
	size_t at;
	int r;

	/* A key is a name: printable UTF-8, so it can forge no log line
	 * and reach no terminal raw. */
	if (in && in->kind == CUB_V_STR &&
	    (r = cubi_text_check(in->str.ptr, in->str.len, &at))) {
		*out = NULL;
		cubi_text_escape(shown, sizeof(shown), in->str.ptr,
		    in->str.len > 64 ? 64 : in->str.len);
		return fail(errv, CUB_E_INVAL, path,
		    "%s: '%s%s' %s at byte %zu; names are printable UTF-8",
		    k->name, shown, in->str.len > 64 ? "..." : "",
		    r == -EILSEQ ? "is not valid UTF-8"
				 : "holds a control character",
		    at + 1);
	}
	r = parse_value(k, in, out, msg, sizeof(msg));
	if (r)
		return fail(errv, r, path, "%s: %s", k->name, msg);
	if ((*out)->kind == CUB_V_STR && is_reserved((*out)->str.ptr)) {
		*out = cub_val__free(*out);
		return fail(errv, CUB_E_INVAL, path,
		    "%s: '%s' is a reserved "
		    "word",
		    k->name, in->str.ptr);
	}
	if ((*out)->kind == CUB_V_STR && !(*out)->str.len) {
		*out = cub_val__free(*out);
		return fail(errv, CUB_E_INVAL, path,
		    "%s: a key cannot be empty", k->name);
	}
	return 0;
}

/* An ordered list's first key cannot be spelled like its verbs. */
static int
ordered_keys_ok(const struct snode *list, struct cub_val *const *keys,
    const char *path, struct cub_val **errv)
{
	if (keys && keys[0]->kind == CUB_V_STR &&
	    is_ordered_verb(list, keys[0]->str.ptr))
		return fail(errv, CUB_E_INVAL, path,
		    "%s: '%s' is a verb of an ordered list",
		    key_at(list, 0)->name, keys[0]->str.ptr);
	return 0;
}

/* Key values of a list entry given as a map (body, overlay). */
static int
keys_from_map(const struct snode *list, const struct cub_val *src,
    struct cub_val ***keysp, const char *path, struct cub_val **errv)
{
	struct cub_val **keys;
	const struct snode *k;
	const struct cub_val *v;
	uint32_t i;
	int r;

	*keysp = NULL;
	keys = calloc(list->nkeys, sizeof(*keys));
	if (!keys)
		return nomem(errv);
	for (i = 0; i < list->nkeys; i++) {
		k = key_at(list, i);
		v = cub_val__get(src, k->name);
		if (!v) {
			keys_free(keys, list->nkeys);
			return fail(errv, CUB_E_MISSING, path,
			    "entry without "
			    "key '%s'",
			    k->name);
		}
		r = key_parse(k, v, &keys[i], path, errv);
		if (r) {
			keys_free(keys, list->nkeys);
			return r;
		}
	}
	*keysp = keys;
	return 0;
}

static void
keys_text(const struct snode *list, struct cub_val *const *keys, char *buf,
    size_t len)
{
	char one[80];
	uint32_t i;

	buf[0] = '\0';
	for (i = 0; i < list->nkeys; i++) {
		val_text(keys[i], one, sizeof(one));
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    i ? " " : "", one);
	}
}

/*
 * The index of a keyed list: an open-addressing hash table (linear probing,
 * at most half full) from the entry's key values to its position in the
 * array, hung on the array (cub_val arr.aux) and built on first use.  It is
 * trusted only while arr.len is the length it was built for: the engine
 * updates it on every append and removal it makes, and anything else that
 * changes the length makes the next lookup rebuild it.  A hit is always
 * confirmed by comparing the entry's keys, so a stale slot can never name
 * the wrong entry.  Find and append cost O(1); a removal costs one memmove
 * of the array and one pass over the slots (no key comparisons).
 */
struct kindex {
	struct cub_val_aux aux;
	uint32_t len;    /* arr.len the index describes */
	uint32_t mask;   /* slots - 1 (a power of two) */
	uint32_t *slots; /* position + 1; 0 = empty */
};

static void
kindex_free(struct cub_val_aux *aux)
{
	struct kindex *ki = (struct kindex *)aux;

	free(ki->slots);
	free(ki);
}

static uint64_t
hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
hash_val(uint64_t h, const struct cub_val *v)
{
	if (!v)
		return hash_bytes(h, "", 1);
	h = hash_bytes(h, &v->kind, sizeof(v->kind));
	switch (v->kind) {
	case CUB_V_STR:
		return hash_bytes(h, v->str.ptr, v->str.len);
	case CUB_V_UINT:
		return hash_bytes(h, &v->u, sizeof(v->u));
	case CUB_V_INT:
		return hash_bytes(h, &v->i, sizeof(v->i));
	case CUB_V_BOOL:
		return hash_bytes(h, &v->b, sizeof(v->b));
	default:
		return h; /* keys are scalars; equal() decides the rest */
	}
}

static uint32_t
hash_keys(struct cub_val *const *keys, uint32_t nkeys)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t k;

	for (k = 0; k < nkeys; k++)
		h = hash_val(h, keys[k]);
	return (uint32_t)(h ^ (h >> 32));
}

static uint32_t
hash_entry(const struct snode *list, const struct cub_val *e)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t k;

	for (k = 0; k < list->nkeys; k++)
		h = hash_val(h, cub_val__get(e, key_at(list, k)->name));
	return (uint32_t)(h ^ (h >> 32));
}

static _Thread_local uint64_t key_compares;

uint64_t
cubi_tree__key_compares(void)
{
	return key_compares;
}

static bool
entry_has_keys(const struct snode *list, const struct cub_val *e,
    struct cub_val *const *keys)
{
	uint32_t k;

	key_compares++;
	for (k = 0; k < list->nkeys; k++)
		if (!cub_val__equal(
			cub_val__get(e, key_at(list, k)->name), keys[k]))
			return false;
	return true;
}

static void
kindex_put(struct kindex *ki, uint32_t h, uint32_t pos)
{
	uint32_t s = h & ki->mask;

	while (ki->slots[s])
		s = (s + 1) & ki->mask;
	ki->slots[s] = pos + 1;
}

/* (Re)fills ki->slots for the first n entries of arr, sized for want. */
static int
kindex_fill(const struct snode *list, struct kindex *ki,
    const struct cub_val *arr, uint32_t want)
{
	uint32_t nslots = 16, i, *slots;

	while (nslots < 2 * (uint64_t)want)
		nslots *= 2;
	slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	free(ki->slots);
	ki->slots = slots;
	ki->mask = nslots - 1;
	for (i = 0; i < arr->arr.len; i++)
		kindex_put(ki, hash_entry(list, arr->arr.items[i]), i);
	ki->len = arr->arr.len;
	return 0;
}

/* The index of arr, built or rebuilt when missing or stale; NULL on ENOMEM. */
static struct kindex *
kindex_get(const struct snode *list, struct cub_val *arr)
{
	struct kindex *ki = (struct kindex *)arr->arr.aux;

	if (ki && ki->len == arr->arr.len)
		return ki;
	if (!ki) {
		ki = calloc(1, sizeof(*ki));
		if (!ki)
			return NULL;
		ki->aux.free = kindex_free;
		arr->arr.aux = &ki->aux;
	}
	if (kindex_fill(list, ki, arr, arr->arr.len))
		return NULL;
	return ki;
}

/*
 * Finds the entry of arr whose keys are keys.  Falls back to a scan only
 * when the index cannot be allocated.
 */
static bool
find_entry(const struct snode *list, const struct cub_val *carr,
    struct cub_val *const *keys, uint32_t *idx)
{
	struct cub_val *arr = (struct cub_val *)carr; /* the index is a cache */
	struct kindex *ki;
	uint32_t s, i;

	if (!arr || arr->kind != CUB_V_ARRAY)
		return false;
	ki = kindex_get(list, arr);
	if (!ki) {
		for (i = 0; i < arr->arr.len; i++)
			if (entry_has_keys(list, arr->arr.items[i], keys)) {
				*idx = i;
				return true;
			}
		return false;
	}
	for (s = hash_keys(keys, list->nkeys) & ki->mask; ki->slots[s];
	     s = (s + 1) & ki->mask) {
		i = ki->slots[s] - 1;
		if (i < arr->arr.len &&
		    entry_has_keys(list, arr->arr.items[i], keys)) {
			*idx = i;
			return true;
		}
	}
	return false;
}

/* Appends entry e (owned) to the keyed list arr and indexes it. */
static int
list_push(const struct snode *list, struct cub_val *arr, struct cub_val *e)
{
	struct kindex *ki = (struct kindex *)arr->arr.aux;
	bool fresh = ki && ki->len == arr->arr.len;
	uint32_t h = hash_entry(list, e);

	if (cub_val__push(arr, e))
		return -ENOMEM;
	if (!fresh)
		return 0; /* rebuilt on the next lookup */
	if (2 * (uint64_t)arr->arr.len > ki->mask + 1) {
		if (kindex_fill(list, ki, arr, arr->arr.len))
			ki->len = UINT32_MAX; /* stale: rebuild later */
		return 0;
	}
	kindex_put(ki, h, arr->arr.len - 1);
	ki->len = arr->arr.len;
	return 0;
}

/*
 * Removes and frees entry idx of the keyed list arr, keeping the order of
 * the others, and keeps the index in step: the entry's slot is emptied with
 * a backward shift (so no probe chain is broken) and the positions after it
 * move down by one.
 */
static void
list_remove(const struct snode *list, struct cub_val *arr, uint32_t idx,
    struct cub_val **kept)
{
	struct kindex *ki = (struct kindex *)arr->arr.aux;
	bool fresh = ki && ki->len == arr->arr.len;
	uint32_t s, next, home, i;

	if (fresh) {
		s = hash_entry(list, arr->arr.items[idx]) & ki->mask;
		while (ki->slots[s] && ki->slots[s] != idx + 1)
			s = (s + 1) & ki->mask;
		if (!ki->slots[s]) {
			fresh = false; /* not where it should be: rebuild */
		} else {
			ki->slots[s] = 0;
			for (next = (s + 1) & ki->mask; ki->slots[next];
			     next = (next + 1) & ki->mask) {
				home = hash_entry(list,
					   arr->arr.items[ki->slots[next] - 1]) &
				       ki->mask;
				/* Move it back if its home is not in (s, next]. */
				if (((next - home) & ki->mask) >=
				    ((next - s) & ki->mask)) {
					ki->slots[s] = ki->slots[next];
					ki->slots[next] = 0;
					s = next;
				}
			}
			for (i = 0; i <= ki->mask; i++)
				if (ki->slots[i] > idx + 1)
					ki->slots[i]--;
		}
	}
	if (kept)
		*kept = arr->arr.items[idx];
	else
		cub_val__free(arr->arr.items[idx]);
	memmove(&arr->arr.items[idx], &arr->arr.items[idx + 1],
	    (arr->arr.len - idx - 1) * sizeof(*arr->arr.items));
	arr->arr.len--;
	if (ki)
		ki->len = fresh ? arr->arr.len : UINT32_MAX;
}

/* Puts entry e (owned) back at position idx: an undo, so the index is
 * simply rebuilt on the next lookup.  Fails only on ENOMEM. */
static int
list_insert(struct cub_val *arr, uint32_t idx, struct cub_val *e)
{
	struct kindex *ki = (struct kindex *)arr->arr.aux;

	if (cub_val__push(arr, e))
		return -ENOMEM;
	memmove(&arr->arr.items[idx + 1], &arr->arr.items[idx],
	    (arr->arr.len - 1 - idx) * sizeof(*arr->arr.items));
	arr->arr.items[idx] = e;
	if (ki)
		ki->len = UINT32_MAX;
	return 0;
}

/*
 * Inserts entry e (owned) at position idx of the keyed list arr (an
 * ordered list's add) and keeps the index in step: one pass over the
 * slots moves the positions at and after idx up by one, then e is put in
 * (no key comparisons, no rehash unless the table grows).
 */
static int
list_insert_at(const struct snode *list, struct cub_val *arr, uint32_t idx,
    struct cub_val *e)
{
	struct kindex *ki = (struct kindex *)arr->arr.aux;
	bool fresh = ki && ki->len == arr->arr.len;
	uint32_t h = hash_entry(list, e), i;

	if (idx == arr->arr.len)
		return list_push(list, arr, e);
	if (cub_val__push(arr, e))
		return -ENOMEM;
	memmove(&arr->arr.items[idx + 1], &arr->arr.items[idx],
	    (arr->arr.len - 1 - idx) * sizeof(*arr->arr.items));
	arr->arr.items[idx] = e;
	if (!fresh) {
		if (ki)
			ki->len = UINT32_MAX; /* rebuilt on the next lookup */
		return 0;
	}
	if (2 * (uint64_t)arr->arr.len > ki->mask + 1) {
		if (kindex_fill(list, ki, arr, arr->arr.len))
			ki->len = UINT32_MAX;
		return 0;
	}
	for (i = 0; i <= ki->mask; i++)
		if (ki->slots[i] > idx)
			ki->slots[i]++;
	kindex_put(ki, h, idx);
	ki->len = arr->arr.len;
	return 0;
}

/* ---- references ------------------------------------------------------- */

/* The keys of entry e of list, as a path names it, for messages. */
static void
entry_key_text(
    const struct snode *list, const struct cub_val *e, char *buf, size_t len)
{
	const struct cub_val *v;
	char one[80];
	uint32_t k;

	buf[0] = '\0';
	for (k = 0; k < list->nkeys; k++) {
		v = cub_val__get(e, key_at(list, k)->name);
		if (v)
			val_text_short(v, one, sizeof(one));
		else
			snprintf(one, sizeof(one), "?");
		path_join(buf, len, buf, one);
	}
}

/* The target list of reference field f in doc, or NULL when absent. */
static const struct cub_val *
ref_list(const struct cub_val *doc, const struct snode *f)
{
	const struct cub_val *cur = doc;
	uint32_t i;

	for (i = 0; cur && i < f->ntpath; i++)
		cur = cub_val__get(cur, f->tpath[i]->name);
	return cur && cur->kind == CUB_V_ARRAY ? cur : NULL;
}

static int
ref_one(const struct cub_val *doc, const struct snode *f,
    const struct cub_val *v, const char *path, struct cub_val **errv)
{
	struct cub_val *keys[1] = {(struct cub_val *)v};
	char shown[80];
	uint32_t idx;

	if (find_entry(f->tpath[f->ntpath - 1], ref_list(doc, f), keys, &idx))
		return 0;
	val_text_short(v, shown, sizeof(shown));
	return fail(errv, CUB_E_NOTFOUND, path,
	    "%s: '%s' is not an entry of %s", f->name, shown, f->ref);
}

static int refs_check(const struct cub_val *doc, const struct snode *n,
    const struct cub_val *v, const char *path, struct cub_val **errv);

/*
 * Checks that every reference in m, a map of node n, names an entry of
 * its target list in doc; the cost is that of the part with references.
 */
static int
refs_check_fields(const struct cub_val *doc, const struct snode *n,
    const struct cub_val *m, const char *path, bool leaves,
    struct cub_val **errv)
{
	const struct cub_val *v;
	const struct snode *k;
	char sub[PATH_LEN];
	uint32_t i, j;
	int r;

	if (!n->has_ref || !m || m->kind != CUB_V_MAP)
		return 0;
	for (i = 0; i < n->nkids; i++) {
		k = n->kids[i];
		if (!k->has_ref || (leaves && !is_leaf(k)) ||
		    !(v = cub_val__get(m, k->name)))
			continue;
		if (!is_leaf(k)) {
			path_join(sub, sizeof(sub), path, k->name);
			r = refs_check(doc, k, v, sub, errv);
		} else if (v->kind == CUB_V_ARRAY) {
			for (j = 0, r = 0; !r && j < v->arr.len; j++)
				r = ref_one(
				    doc, k, v->arr.items[j], path, errv);
		} else {
			r = ref_one(doc, k, v, path, errv);
		}
		if (r)
			return r;
	}
	return 0;
}

static int
refs_check_map(const struct cub_val *doc, const struct snode *n,
    const struct cub_val *m, const char *path, struct cub_val **errv)
{
	return refs_check_fields(doc, n, m, path, false, errv);
}

/* refs_check_map() for a container's map or a list's entries. */
static int
refs_check(const struct cub_val *doc, const struct snode *n,
    const struct cub_val *v, const char *path, struct cub_val **errv)
{
	char sub[PATH_LEN], kt[80];
	uint32_t i;
	int r;

	if (n->type != CUB_T_LIST)
		return refs_check_map(doc, n, v, path, errv);
	for (i = 0; v && v->kind == CUB_V_ARRAY && i < v->arr.len; i++) {
		entry_key_text(n, v->arr.items[i], kt, sizeof(kt));
		path_join(sub, sizeof(sub), path, kt);
		if ((r = refs_check_map(doc, n, v->arr.items[i], sub, errv)))
			return r;
	}
	return 0;
}

/*
 * Finds a use of key value kv by reference r below cur (at chain step d),
 * skipping the entry skip (the one being deleted, which may refer to
 * itself); writes where it is into where.  A scan of the referring part.
 */
static bool
ref_used(const struct sref *r, uint32_t d, const struct cub_val *cur,
    const struct cub_val *kv, const struct cub_val *skip, char *where,
    size_t len)
{
	const struct snode *n;
	const struct cub_val *v, *e;
	char kt[80];
	size_t at = strlen(where);
	uint32_t i;

	if (!cur || cur->kind != CUB_V_MAP)
		return false;
	if (d == r->nchain) {
		v = cub_val__get(cur, r->field->name);
		if (!v)
			return false;
		if (v->kind != CUB_V_ARRAY) {
			if (!cub_val__equal(v, kv))
				return false;
		} else {
			for (i = 0; i < v->arr.len; i++)
				if (cub_val__equal(v->arr.items[i], kv))
					break;
			if (i == v->arr.len)
				return false;
		}
		path_join(where, len, where, r->field->name);
		return true;
	}
	n = r->chain[d];
	v = cub_val__get(cur, n->name);
	path_join(where, len, where, n->name);
	if (n->type == CUB_T_CONTAINER) {
		if (ref_used(r, d + 1, v, kv, skip, where, len))
			return true;
		where[at] = '\0';
		return false;
	}
	for (i = 0; v && v->kind == CUB_V_ARRAY && i < v->arr.len; i++) {
		e = v->arr.items[i];
		if (e == skip)
			continue;
		entry_key_text(n, e, kt, sizeof(kt));
		path_join(where, len, where, kt);
		if (ref_used(r, d + 1, e, kv, skip, where, len))
			return true;
		where[at] = '\0';
		path_join(where, len, where, n->name);
	}
	where[at] = '\0';
	return false;
}

/* Refuses to delete entry e of list when a reference names it. */
static int
refs_held(const struct cub_val *doc, const struct snode *list,
    const struct cub_val *e, const char *path, struct cub_val **errv)
{
	const struct cub_val *kv;
	char where[PATH_LEN], shown[80];
	uint32_t i;

	if (!list->nrefby)
		return 0;
	kv = cub_val__get(e, key_at(list, 0)->name);
	for (i = 0; kv && i < list->nrefby; i++) {
		where[0] = '\0';
		if (!ref_used(
			&list->refby[i], 0, doc, kv, e, where, sizeof(where)))
			continue;
		val_text_short(kv, shown, sizeof(shown));
		return fail(errv, CUB_E_BUSY, path,
		    "'%s' is still referred to by %s", shown, where);
	}
	return 0;
}

/*
 * Fills defaults of a node being created, creates its containers and
 * lists, and checks its required fields.  Never stores ro fields.
 */
static int
fill_node(const struct snode *n, struct cub_val *m, const char *path,
    struct cub_val **errv)
{
	const struct snode *k;
	struct cub_val *v;
	char sub[PATH_LEN];
	uint32_t i;
	int r;

	for (i = 0; i < n->nkids; i++) {
		k = n->kids[i];
		if (k->flags & CUB_F_RO)
			continue;
		v = cub_val__get(m, k->name);
		if (is_leaf(k)) {
			if (v)
				continue;
			if (k->dflt) {
				if (cub_val__set(
					m, k->name, cub_val__dup(k->dflt)))
					return nomem(errv);
			} else if (k->flags & CUB_F_REQUIRED) {
				return fail(errv, CUB_E_MISSING, path,
				    "missing required field '%s'", k->name);
			}
		} else if (k->type == CUB_T_CONTAINER) {
			if (!v) {
				if (cub_val__set(m, k->name, cub_val__map()))
					return nomem(errv);
				v = cub_val__get(m, k->name);
			}
			path_join(sub, sizeof(sub), path, k->name);
			r = fill_node(k, v, sub, errv);
			if (r)
				return r;
		} else if (!v) {
			if (cub_val__set(m, k->name, cub_val__array()))
				return nomem(errv);
		}
	}
	return 0;
}

static int merge_map(const struct snode *n, struct cub_val *dst,
    const struct cub_val *src, enum mode mode, bool in_entry, const char *path,
    struct cub_val **errv);

/* Builds a new list entry: keys, then body, then args, then defaults. */
static int
new_entry(const struct snode *list, struct cub_val *const *keys,
    const struct cub_val *body, const struct cub_val *args, const char *path,
    struct cub_val **out, struct cub_val **errv)
{
	struct cub_val *m = cub_val__map();
	uint32_t i;
	int r;

	*out = NULL;
	if (!m)
		return nomem(errv);
	for (i = 0; i < list->nkeys; i++)
		if (cub_val__set(
			m, key_at(list, i)->name, cub_val__dup(keys[i]))) {
			cub_val__free(m);
			return nomem(errv);
		}
	r = merge_map(list, m, body, M_CREATE, true, path, errv);
	if (!r)
		r = merge_map(list, m, args, M_CREATE, true, path, errv);
	if (!r)
		r = fill_node(list, m, path, errv);
	if (r) {
		cub_val__free(m);
		return r;
	}
	*out = m;
	return 0;
}

static int
merge_list(const struct snode *k, struct cub_val *arr,
    const struct cub_val *src, enum mode mode, const char *path,
    struct cub_val **errv)
{
	struct cub_val **keys, *e;
	char sub[PATH_LEN], kt[PATH_LEN];
	uint32_t i, idx;
	int r;

	for (i = 0; i < src->arr.len; i++) {
		if (src->arr.items[i]->kind != CUB_V_MAP)
			return fail(errv, CUB_E_TYPE, path,
			    "entry %u is a %s, "
			    "not a map",
			    i, cub_val__kind_name(src->arr.items[i]->kind));
		r = keys_from_map(k, src->arr.items[i], &keys, path, errv);
		if (!r)
			r = ordered_keys_ok(k, keys, path, errv);
		if (r) {
			keys_free(keys, k->nkeys);
			return r;
		}
		keys_text(k, keys, kt, sizeof(kt));
		path_join(sub, sizeof(sub), path, kt);
		if (find_entry(k, arr, keys, &idx)) {
			if (mode == M_CREATE)
				r = fail(errv, CUB_E_EXISTS, path,
				    "duplicate "
				    "entry '%s'",
				    kt);
			else
				r = merge_map(k, arr->arr.items[idx],
				    src->arr.items[i], M_SET, true, sub, errv);
		} else if (arr->arr.len >= CUBI_LIST_ENTRIES_MAX) {
			r = fail(errv, CUB_E_LIMIT, path,
			    "the list is full: at most %u entries",
			    CUBI_LIST_ENTRIES_MAX);
		} else {
			r = new_entry(
			    k, keys, src->arr.items[i], NULL, sub, &e, errv);
			if (!r && list_push(k, arr, e))
				r = nomem(errv);
		}
		keys_free(keys, k->nkeys);
		if (r)
			return r;
	}
	return 0;
}

/* Checks and merges src (field -> value) into dst, a map of node n. */
static int
merge_map(const struct snode *n, struct cub_val *dst, const struct cub_val *src,
    enum mode mode, bool in_entry, const char *path, struct cub_val **errv)
{
	char msg[MSG_LEN], sub[PATH_LEN], valid[LISTBUF_LEN];
	const struct cub_val *v;
	const struct snode *k;
	struct cub_val *pv, *cur;
	const char *key;
	bool created;
	uint32_t i;
	int r;

	if (!src)
		return 0;
	if (src->kind != CUB_V_MAP)
		return fail(errv, CUB_E_TYPE, path,
		    "expected a map of "
		    "fields, got %s",
		    cub_val__kind_name(src->kind));
	for (i = 0; i < src->map.len; i++) {
		key = src->map.items[i].key;
		v = src->map.items[i].val;
		k = find_kid(n, key);
		if (!k) {
			kids_list(n, true, valid, sizeof(valid));
			return fail(errv, CUB_E_NOTFOUND, path,
			    "unknown field "
			    "'%.64s' (valid: %s)",
			    key, valid);
		}
		if (is_leaf(k)) {
			r = parse_value(k, v, &pv, msg, sizeof(msg));
			if (k->flags & (CUB_F_KEY | CUB_F_RO)) {
				cur = cub_val__get(dst, key);
				if (!r && cur && cub_val__equal(cur, pv)) {
					cub_val__free(pv);
					continue;
				}
				cub_val__free(pv);
				if (r == CUB_E_INTERNAL)
					return nomem(errv);
				if (k->flags & CUB_F_RO)
					return fail(errv, CUB_E_RO, path,
					    "%s: is read-only", key);
				if (mode == M_CREATE)
					return fail(errv, CUB_E_INVAL, path,
					    "%s: does not match the key", key);
				return fail(errv, CUB_E_RO, path,
				    "%s: is a "
				    "key and cannot be changed",
				    key);
			}
			if (r)
				return fail(errv, r, path, "%s: %s", key, msg);
			if (mode == M_SET && (k->flags & CUB_F_INIT)) {
				cub_val__free(pv);
				return fail(errv, CUB_E_RO, path,
				    "%s: can "
				    "only be set when the %s",
				    key,
				    in_entry ? "entry is added"
					     : "cube is created");
			}
			if (cub_val__set(dst, key, pv))
				return nomem(errv);
			continue;
		}
		path_join(sub, sizeof(sub), path, key);
		if (k->flags & CUB_F_RO)
			return fail(
			    errv, CUB_E_RO, path, "%s: is read-only", key);
		if (v->kind !=
		    (k->type == CUB_T_LIST ? CUB_V_ARRAY : CUB_V_MAP))
			return fail(errv, CUB_E_TYPE, path,
			    "%s: is a %s, "
			    "expected %s, got %s",
			    key, type_name(k->type),
			    k->type == CUB_T_LIST ? "an array" : "a map",
			    cub_val__kind_name(v->kind));
		cur = cub_val__get(dst, key);
		/* A replace container in a set starts again from empty. */
		if (cur && mode == M_SET && (k->flags & CUB_F_REPLACE)) {
			if (cub_val__set(dst, key, cub_val__map()))
				return nomem(errv);
			cur = NULL;
		}
		created = !cur;
		if (!cur) {
			if (cub_val__set(dst, key,
				k->type == CUB_T_LIST ? cub_val__array()
						      : cub_val__map()))
				return nomem(errv);
			cur = cub_val__get(dst, key);
		}
		if (cur->kind !=
		    (k->type == CUB_T_LIST ? CUB_V_ARRAY : CUB_V_MAP))
			return fail(errv, CUB_E_INTERNAL, path,
			    "%s: stored "
			    "value has the wrong shape",
			    key);
		if (k->type == CUB_T_LIST) {
			r = merge_list(k, cur, v, mode, sub, errv);
		} else {
			r = merge_map(k, cur, v, created ? M_CREATE : mode,
			    in_entry, sub, errv);
			if (!r && created)
				r = fill_node(k, cur, sub, errv);
		}
		if (r)
			return r;
	}
	return 0;
}

int
cubi_tree__new_doc(const struct cubi_schema *s, const char *name,
    const char *service, const struct cub_val *args, const struct cub_val *body,
    struct cub_val **doc, struct cub_val **errv)
{
	struct cub_val *d, *nv = NULL, tmp = {.kind = CUB_V_STR};
	int r;

	*doc = NULL;
	if (errv)
		*errv = NULL;
	if (!s || !name || !service)
		return fail(errv, CUB_E_INTERNAL, "", "bad arguments");
	tmp.str.ptr = (char *)name;
	tmp.str.len = (uint32_t)strlen(name);
	r = key_parse(find_kid(s->root, "name"), &tmp, &nv, "", errv);
	if (r)
		return r;
	d = cub_val__map();
	if (!d || cub_val__set(d, "name", nv) ||
	    cub_val__set(d, "service", cub_val__str(service))) {
		cub_val__free(d);
		return nomem(errv);
	}
	r = merge_map(s->root, d, body, M_CREATE, false, "", errv);
	if (!r)
		r = merge_map(s->root, d, args, M_CREATE, false, "", errv);
	if (!r)
		r = fill_node(s->root, d, "", errv);
	if (!r)
		r = refs_check_map(d, s->root, d, "", errv);
	if (r) {
		cub_val__free(d);
		return r;
	}
	*doc = d;
	return 0;
}

/* ---- help ------------------------------------------------------------- */

enum loc_kind {
	L_MAP,   /* the cube or a container */
	L_LIST,  /* a list */
	L_ENTRY, /* a list entry (n is the list) */
};

static int
set_str(struct cub_val *m, const char *key, const char *s)
{
	return cub_val__set(m, key, cub_val__str(s));
}

static int
add_keyword(struct cub_val *arr, const char *name, const char *kind,
    const char *type, const char *help)
{
	struct cub_val *m = cub_val__map();

	if (!m)
		return -ENOMEM;
	if (set_str(m, "name", name) || set_str(m, "kind", kind) ||
	    set_str(m, "type", type) || set_str(m, "help", help)) {
		cub_val__free(m);
		return -ENOMEM;
	}
	return cub_val__push(arr, m);
}

static int
add_param(struct cub_val *arr, const struct snode *f)
{
	struct cub_val *m = cub_val__map(), *en;
	uint32_t i;

	if (!m)
		return -ENOMEM;
	if (set_str(m, "name", f->name) ||
	    set_str(m, "type", type_name(f->type)) ||
	    set_str(m, "help", f->help) ||
	    cub_val__set(m, "flags", cub_val__uint(f->flags)) ||
	    (f->dflt && cub_val__set(m, "default", cub_val__dup(f->dflt))))
		goto fail;
	if (((f->flags & CUB_F_LEAFLIST) &&
		cub_val__set(m, "max-items", cub_val__uint(f->max_items))) ||
	    (f->ref && set_str(m, "ref", f->ref)))
		goto fail;
	if (f->nenums) {
		en = cub_val__array();
		for (i = 0; en && i < f->nenums; i++)
			if (cub_val__push(en, cub_val__str(f->enums[i])))
				en = cub_val__free(en);
		if (cub_val__set(m, "enum", en))
			goto fail;
	}
	return cub_val__push(arr, m);
fail:
	cub_val__free(m);
	return -ENOMEM;
}

/* Appends " name=<type>" for a field to an example line. */
static void
example_add(char *buf, size_t len, const struct snode *f)
{
	char alts[LISTBUF_LEN];
	uint32_t i;
	size_t used = strlen(buf);

	if (f->type == CUB_T_ENUM) {
		alts[0] = '\0';
		for (i = 0; i < f->nenums; i++)
			snprintf(alts + strlen(alts),
			    sizeof(alts) - strlen(alts), "%s%s", i ? "|" : "",
			    f->enums[i]);
		snprintf(buf + used, len - used, " %s=<%s>", f->name, alts);
	} else {
		snprintf(buf + used, len - used, " %s=<%s%s>", f->name,
		    type_name(f->type),
		    f->flags & CUB_F_LEAFLIST ? ",..." : "");
	}
}

static const struct {
	const char *name;
	const char *help;
} verb_help[] = {
    {"show", "show the configuration and state"},
    {"set", "change fields: set field=value..."},
    {"add", "add an entry: add <keys> [field=value...]"},
    {VERB_APPEND, "add an entry last: append <keys> [field=value...]"},
    {VERB_INSERT, "add an entry, first unless index=, before= or after= "
		  "says where: insert <keys> [field=value...]"},
    {"del", "delete"},
    {"help", "show this help (also ?)"},
};

static const char *
verb_text(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verb_help) / sizeof(verb_help[0]); i++)
		if (!strcmp(verb_help[i].name, name))
			return verb_help[i].help;
	return "";
}

/* verbs: NULL-terminated verb names valid at this node. */
static struct cub_val *
help_build(const struct snode *n, enum loc_kind kind, const char *const *verbs,
    const char *path, const char *prefix)
{
	struct cub_val *h = cub_val__map(), *kw, *params;
	char ex[LISTBUF_LEN];
	const struct snode *k;
	uint32_t i;
	int r = 0;

	kw = cub_val__array();
	params = cub_val__array();
	if (!h || !kw || !params)
		goto fail;
	for (i = 0; !r && verbs[i]; i++)
		r = add_keyword(
		    kw, verbs[i], "verb", "verb", verb_text(verbs[i]));
	for (i = 0; !r && kind != L_LIST && i < n->nkids; i++)
		if (!is_leaf(n->kids[i]))
			r = add_keyword(kw, n->kids[i]->name,
			    type_name(n->kids[i]->type),
			    type_name(n->kids[i]->type), n->kids[i]->help);
	for (i = 0; !r && kind != L_LIST && i < n->nacts; i++)
		r = add_keyword(
		    kw, n->acts[i]->name, "action", "action", n->acts[i]->help);
	for (i = 0; !r && i < n->nkids; i++)
		if (is_leaf(n->kids[i]))
			r = add_param(params, n->kids[i]);
	if (r)
		goto fail;

	if (kind == L_LIST) {
		snprintf(ex, sizeof(ex), "%s add", prefix);
		for (i = 0; i < n->nkeys; i++)
			snprintf(ex + strlen(ex), sizeof(ex) - strlen(ex),
			    " <%s>", key_at(n, i)->name);
		for (i = 0; i < n->nkids; i++) {
			k = n->kids[i];
			if (is_leaf(k) && !(k->flags & (CUB_F_KEY | CUB_F_RO)))
				example_add(ex, sizeof(ex), k);
		}
		if (n->flags & CUB_F_ORDERED)
			snprintf(ex + strlen(ex), sizeof(ex) - strlen(ex),
			    " [index=<n>|position=<first|last>|before=<key>|"
			    "after=<key>]");
	} else {
		snprintf(ex, sizeof(ex), "%s set", prefix);
		for (i = 0; i < n->nkids; i++) {
			k = n->kids[i];
			if (is_leaf(k) &&
			    !(k->flags & (CUB_F_KEY | CUB_F_RO | CUB_F_INIT)))
				example_add(ex, sizeof(ex), k);
		}
		if (!strcmp(ex + strlen(prefix), " set"))
			snprintf(ex, sizeof(ex), "%s show", prefix);
	}
	if (set_str(h, "path", path) || cub_val__set(h, "keywords", kw) ||
	    cub_val__set(h, "params", params) || set_str(h, "example", ex)) {
		kw = params = NULL;
		goto fail;
	}
	return h;
fail:
	cub_val__free(kw);
	cub_val__free(params);
	cub_val__free(h);
	errno = ENOMEM;
	return NULL;
}

struct cub_val *
cubi_tree__service_help(const struct cubi_schema *s, const char *service)
{
	static const char *const verbs[] = {"add", "show", "help", NULL};
	struct cub_val *h;
	char ex[LISTBUF_LEN], prefix[PATH_LEN];
	const struct snode *k;
	uint32_t i;

	snprintf(prefix, sizeof(prefix), "cubicle %.64s", service);
	h = help_build(s->root, L_MAP, verbs, service, prefix);
	if (!h)
		return NULL;
	/* add takes the cube-level fields, init-only ones included. */
	snprintf(ex, sizeof(ex), "%s add <name>", prefix);
	for (i = 0; i < s->root->nkids; i++) {
		k = s->root->kids[i];
		if (is_leaf(k) && !(k->flags & (CUB_F_KEY | CUB_F_RO)))
			example_add(ex, sizeof(ex), k);
	}
	if (set_str(h, "example", ex))
		return cub_val__free(h);
	return h;
}

/* ---- command resolution ----------------------------------------------- */

struct loc {
	const struct snode *n; /* the cube, a container or a list */
	enum loc_kind kind;
	bool root, in_entry;
	struct cub_val *dn;     /* map or array in doc; NULL when absent */
	struct cub_val *holder; /* the map holding dn (MAP/LIST) or the
				 * array holding it (ENTRY); NULL if absent */
	uint32_t idx;           /* ENTRY: index in holder */
	char path[PATH_LEN];    /* words for messages, without the cube */
	struct cub_val *pwords; /* canonical words so far */
	/* cubi_tree__read(): doc must not change, and the nodes from the
	 * root to dn are kept so that a show copies only that path. */
	bool readonly;
	struct cubi_undo *undo; /* cubi_tree__change(): record the undo */
	/* cubi_tree__change(): the words went through an entry of a ro list,
	 * which the stored document never holds (see tree.h). */
	bool ghost;
	const struct cub_val *const *ovs; /* overlays for a read's show */
	uint32_t novs;
	uint32_t nspine;
	struct step {
		const struct snode *n;  /* container/list node, or the list */
		enum loc_kind kind;
		const struct cub_val *dn; /* NULL when absent */
	} spine[WORDS_MAX + 1];
};

/* Returned by a read-only resolution when the request needs a copy. */
#define NEEDS_COPY CUBI_NEEDS_COPY

static void
spine_push(struct loc *l)
{
	if (l->nspine < WORDS_MAX + 1)
		l->spine[l->nspine++] =
		    (struct step){.n = l->n, .kind = l->kind, .dn = l->dn};
}

static bool
is_help(const char *w)
{
	return !strcmp(w, "?") || !strcmp(w, "help");
}

static const char *
word_at(const struct cub_val *words, uint32_t i)
{
	return words->arr.items[i]->str.ptr;
}

static int
unknown_word(const struct loc *l, const char *w, struct cub_val **errv)
{
	static const char *const map_verbs[] = {
	    "show", "set", "del", "?", NULL};
	static const char *const list_verbs[] = {
	    "add", "del", "show", "?", NULL};
	char valid[LISTBUF_LEN];
	uint32_t i;

	valid[0] = '\0';
	for (i = 0; l->kind == L_LIST && list_verbs[i]; i++)
		buf_add(valid, sizeof(valid), list_verbs[i]);
	if (l->kind == L_LIST && (l->n->flags & CUB_F_ORDERED)) {
		buf_add(valid, sizeof(valid), VERB_APPEND);
		buf_add(valid, sizeof(valid), VERB_INSERT);
	}
	for (i = 0; l->kind != L_LIST && map_verbs[i]; i++)
		if (strcmp(map_verbs[i], "del") || l->root ||
		    l->kind == L_ENTRY)
			buf_add(valid, sizeof(valid), map_verbs[i]);
	for (i = 0; l->kind != L_LIST && i < l->n->nkids; i++)
		if (!is_leaf(l->n->kids[i]))
			buf_add(valid, sizeof(valid), l->n->kids[i]->name);
	for (i = 0; l->kind != L_LIST && i < l->n->nacts; i++)
		buf_add(valid, sizeof(valid), l->n->acts[i]->name);
	if (l->kind == L_LIST)
		return fail(errv, CUB_E_VERB, l->path,
		    "unknown command "
		    "'%.64s' (valid: %s, or the key of an entry)",
		    w, valid);
	return fail(errv, CUB_E_VERB, l->path,
	    "unknown command '%.64s' "
	    "(valid: %s)",
	    w, valid);
}

/* Parses list keys from words[i..i+nkeys) (exactly up to the end if
 * exact). */
static int
keys_from_words(const struct loc *l, const struct cub_val *words, uint32_t i,
    bool exact, struct cub_val ***keysp, struct cub_val **errv)
{
	uint32_t nw = words->arr.len, k;
	struct cub_val **keys;
	int r;

	*keysp = NULL;
	for (k = 0; k < l->n->nkeys; k++)
		if (i + k >= nw || is_reserved(word_at(words, i + k)))
			return fail(errv, CUB_E_MISSING, l->path,
			    "missing "
			    "key '%s'",
			    key_at(l->n, k)->name);
	if (exact && i + l->n->nkeys < nw)
		return fail(errv, CUB_E_VERB, l->path,
		    "unexpected word "
		    "'%.64s' after the key",
		    word_at(words, i + l->n->nkeys));
	keys = calloc(l->n->nkeys, sizeof(*keys));
	if (!keys)
		return nomem(errv);
	for (k = 0; k < l->n->nkeys; k++) {
		r = key_parse(key_at(l->n, k), words->arr.items[i + k],
		    &keys[k], l->path, errv);
		if (r) {
			keys_free(keys, l->n->nkeys);
			return r;
		}
	}
	*keysp = keys;
	return 0;
}

static int
push_word(struct loc *l, const char *w)
{
	path_join(l->path, sizeof(l->path), l->path, w);
	return cub_val__push(l->pwords, cub_val__str(w));
}

static int
extra_words(const struct loc *l, const struct cub_val *words, uint32_t i,
    struct cub_val **errv)
{
	return fail(errv, CUB_E_VERB, l->path,
	    "unexpected word '%.64s' "
	    "after '%.64s'",
	    word_at(words, i), word_at(words, i - 1));
}

static const struct snode *find_kid(const struct snode *n, const char *name);
static bool leaves_equal(const struct snode *n, const struct cub_val *a,
    const struct cub_val *b);

/* Whether src (a set's args or body) names leaf fields of n only. */
static bool
names_leaves(const struct snode *n, const struct cub_val *src)
{
	const struct snode *k;
	uint32_t i;

	if (!src)
		return true;
	if (src->kind != CUB_V_MAP)
		return false;
	for (i = 0; i < src->map.len; i++) {
		k = find_kid(n, src->map.items[i].key);
		if (!k || !is_leaf(k))
			return false;
	}
	return true;
}

/*
 * A copy of the map m of node n for a set of its leaf fields: the leaf
 * fields copied, the containers and lists not copied but shared (the same
 * pointers as in m), so that a set of the cube's own fields costs its
 * fields, not its lists.  Freed with shared_free().
 */
static struct cub_val *
dup_shared(const struct snode *n, const struct cub_val *m)
{
	struct cub_val *out = cub_val__map();
	const struct snode *k;
	uint32_t i;

	/* Placeholders first: a failed set frees what it was given. */
	for (i = 0; out && i < m->map.len; i++) {
		k = find_kid(n, m->map.items[i].key);
		if (cub_val__set(out, m->map.items[i].key,
			k && !is_leaf(k) ? cub_val__nil()
					 : cub_val__dup(m->map.items[i].val)))
			out = cub_val__free(out);
	}
	for (i = 0; out && i < m->map.len; i++) {
		k = find_kid(n, m->map.items[i].key);
		if (k && !is_leaf(k)) {
			cub_val__free(out->map.items[i].val);
			out->map.items[i].val = m->map.items[i].val;
		}
	}
	return out;
}

/* Frees a map of dup_shared()'s, or the node it was swapped with,
 * without the containers and lists it shares. */
static void
shared_free(const struct snode *n, struct cub_val *m)
{
	const struct snode *k;
	uint32_t i;

	for (i = 0; m && m->kind == CUB_V_MAP && i < m->map.len; i++) {
		k = find_kid(n, m->map.items[i].key);
		if (k && !is_leaf(k))
			m->map.items[i].val = NULL;
	}
	cub_val__free(m);
}

static int
do_set(struct loc *l, const struct cub_val *args, const struct cub_val *body,
    struct cubi_result *res, struct cub_val **errv)
{
	char valid[LISTBUF_LEN];
	struct cub_val *work, tmp;
	bool created = !l->dn;
	/* A replace container set with a body: built again from empty. */
	bool fresh = created || ((l->n->flags & CUB_F_REPLACE) && body &&
				    body->kind == CUB_V_MAP && body->map.len);
	/* Leaf fields only: the node's lists are shared, not copied. */
	const struct snode *shared = !fresh && l->dn->kind == CUB_V_MAP &&
					     names_leaves(l->n, args) &&
					     names_leaves(l->n, body)
					 ? l->n
					 : NULL;
	int r;

	if ((!args || !args->map.len) && (!body || !body->map.len)) {
		kids_list(l->n, true, valid, sizeof(valid));
		return fail(errv, CUB_E_MISSING, l->path,
		    "nothing to set "
		    "(fields: %s)",
		    valid);
	}
	if (l->n->flags & CUB_F_RO)
		return fail(errv, CUB_E_RO, l->path, "is read-only");
	if (created && !l->holder)
		return fail(errv, CUB_E_NOTFOUND, l->path,
		    "not in the "
		    "document");
	work = fresh    ? cub_val__map()
	       : shared ? dup_shared(shared, l->dn)
			: cub_val__dup(l->dn);
	if (!work)
		return nomem(errv);
	r = merge_map(l->n, work, body, fresh ? M_CREATE : M_SET, l->in_entry,
	    l->path, errv);
	if (!r)
		r = merge_map(l->n, work, args, fresh ? M_CREATE : M_SET,
		    l->in_entry, l->path, errv);
	if (!r && fresh)
		r = fill_node(l->n, work, l->path, errv);
	if (r) {
		if (shared)
			shared_free(shared, work);
		else
			cub_val__free(work);
		return r;
	}
	if (created) {
		if (cub_val__set(l->holder, l->n->name, work))
			return nomem(errv);
		r = refs_check_map(l->spine[0].dn, l->n, work, l->path, errv);
		if (r) {
			cub_val__del(l->holder, l->n->name);
			return r;
		}
		if (l->undo)
			*l->undo = (struct cubi_undo){.kind = UNDO_DROP_KEY,
			    .node = l->holder, .name = l->n->name};
		res->changed = true;
		return 0;
	}
	/* Shared lists are the same on both sides: the leaves decide. */
	res->changed = shared ? !leaves_equal(shared, l->dn, work)
			      : !cub_val__equal(l->dn, work);
	res->copied = !shared;
	tmp = *l->dn;
	*l->dn = *work;
	*work = tmp;
	/* References are checked on the document as it would be (of the
	 * leaf fields only when only they changed). */
	r = refs_check_fields(
	    l->spine[0].dn, l->n, l->dn, l->path, shared != NULL, errv);
	if (r) {
		tmp = *l->dn;
		*l->dn = *work;
		*work = tmp;
		if (shared)
			shared_free(shared, work);
		else
			cub_val__free(work);
		res->changed = false;
		return r;
	}
	if (l->undo) {
		/* work now holds the old fields: swapped back on undo. */
		*l->undo = (struct cubi_undo){.kind = UNDO_SWAP,
		    .node = l->dn,
		    .old = work,
		    .shared = shared};
		return 0;
	}
	if (shared)
		shared_free(shared, work);
	else
		cub_val__free(work);
	return 0;
}

static int cursor_keys(const struct loc *l, const char *after,
    struct cub_val ***keys, struct cub_val **errv);

/*
 * Where an add puts the entry: *idx in 0..len (len appends).  An ordered
 * list takes one of index=N, position=first|last, before=KEY, after=KEY
 * (KEY as a path names the entry; keys joined by spaces); *rest is args
 * without them (a new map, or NULL when args had none).
 */
static int
add_position(struct loc *l, const char *verb, const struct cub_val *args,
    uint32_t *idx, struct cub_val **rest, struct cub_val **errv)
{
	uint32_t len = l->dn ? l->dn->arr.len : 0, i, at;
	const struct cub_val *pos = NULL, *v;
	const char *name = NULL, *text;
	struct cub_val **keys;
	uint64_t n;
	int r;

	/* Polycube's insert puts the rule first unless told otherwise. */
	*idx = !strcmp(verb, VERB_INSERT) ? 0 : len;
	*rest = NULL;
	for (i = 0; args && i < args->map.len; i++) {
		if (!is_position_arg(args->map.items[i].key))
			continue;
		if (!(l->n->flags & CUB_F_ORDERED) &&
		    find_kid(l->n, args->map.items[i].key))
			continue; /* a field of that name */
		if (!(l->n->flags & CUB_F_ORDERED))
			return fail(errv, CUB_E_INVAL, l->path,
			    "%s=: an insert position applies to an ordered "
			    "list, and %s is not one",
			    args->map.items[i].key, l->n->name);
		if (pos)
			return fail(errv, CUB_E_INVAL, l->path,
			    "%s= and %s=: give one insert position", name,
			    args->map.items[i].key);
		if (!strcmp(verb, VERB_APPEND))
			return fail(errv, CUB_E_INVAL, l->path,
			    "%s=: append puts the entry last; insert or add "
			    "take a position",
			    args->map.items[i].key);
		pos = args->map.items[i].val;
		name = args->map.items[i].key;
	}
	if (!pos)
		return 0;
	*rest = cub_val__map();
	for (i = 0; *rest && i < args->map.len; i++) {
		v = args->map.items[i].val;
		if (!is_position_arg(args->map.items[i].key) &&
		    cub_val__set(
			*rest, args->map.items[i].key, cub_val__dup(v)))
			*rest = cub_val__free(*rest);
	}
	if (!*rest)
		return nomem(errv);
	text = cub_val__as_str(pos);
	if (!strcmp(name, "position")) {
		if (!text ||
		    (strcasecmp(text, "first") && strcasecmp(text, "last")))
			return fail(errv, CUB_E_INVAL, l->path,
			    "position: expected first or last");
		*idx = strcasecmp(text, "first") ? len : 0;
		return 0;
	}
	if (!strcmp(name, "index")) {
		if (text ? parse_dec(text, &n) : cub_val__as_u64(pos, &n))
			return fail(errv, CUB_E_TYPE, l->path,
			    "index: expected a position from 0 to %u", len);
		if (n > len)
			return fail(errv, CUB_E_INVAL, l->path,
			    "index: %" PRIu64 " is past the end (the list has "
			    "%u entries: 0 to %u)",
			    n, len, len);
		*idx = (uint32_t)n;
		return 0;
	}
	if (!text || !*text)
		return fail(errv, CUB_E_TYPE, l->path,
		    "%s: expected the key of an entry", name);
	if ((r = cursor_keys(l, text, &keys, errv)))
		return r;
	if (!find_entry(l->n, l->dn, keys, &at)) {
		keys_free(keys, l->n->nkeys);
		return fail(errv, CUB_E_NOTFOUND, l->path,
		    "%s: no entry '%.64s'", name, text);
	}
	keys_free(keys, l->n->nkeys);
	*idx = !strcmp(name, "before") ? at : at + 1;
	return 0;
}

/* add, or an ordered list's Polycube spellings append and insert. */
static int
do_add(struct loc *l, const char *verb, const struct cub_val *words, uint32_t i,
    const struct cub_val *args, const struct cub_val *body,
    struct cubi_result *res, struct cub_val **errv)
{
	char kt[PATH_LEN], sub[PATH_LEN];
	struct cub_val **keys, *e, *arr, *rest = NULL;
	uint32_t idx, at = 0;
	int r;

	r = keys_from_words(l, words, i, true, &keys, errv);
	if (r)
		return r;
	keys_text(l->n, keys, kt, sizeof(kt));
	path_join(sub, sizeof(sub), l->path, kt);
	if (l->n->flags & CUB_F_RO)
		r = fail(errv, CUB_E_RO, l->path, "is read-only");
	else if ((r = ordered_keys_ok(l->n, keys, l->path, errv)))
		;
	else if (!l->holder || (l->dn && l->dn->kind != CUB_V_ARRAY))
		r = fail(errv, CUB_E_NOTFOUND, l->path, "not in the document");
	else if (find_entry(l->n, l->dn, keys, &idx))
		r = fail(errv, CUB_E_EXISTS, l->path,
		    "entry '%s' already "
		    "exists",
		    kt);
	else if (l->dn && l->dn->arr.len >= CUBI_LIST_ENTRIES_MAX)
		r = fail(errv, CUB_E_LIMIT, l->path,
		    "the list is full: at most %u entries",
		    CUBI_LIST_ENTRIES_MAX);
	else if (!(r = add_position(l, verb, args, &at, &rest, errv)))
		r = new_entry(
		    l->n, keys, body, rest ? rest : args, sub, &e, errv);
	keys_free(keys, l->n->nkeys);
	cub_val__free(rest);
	if (r)
		return r;
	if (l->dn) {
		if (list_insert_at(l->n, l->dn, at, e))
			return nomem(errv);
		r = refs_check_map(l->spine[0].dn, l->n, e, sub, errv);
		if (r) {
			list_remove(l->n, l->dn, at, NULL);
			return r;
		}
		if (l->undo)
			*l->undo = (struct cubi_undo){.kind = UNDO_REMOVE,
			    .node = l->dn,
			    .list = l->n,
			    .idx = at};
	} else {
		arr = cub_val__array();
		if (!arr || cub_val__push(arr, e)) {
			cub_val__free(arr);
			return nomem(errv);
		}
		if (cub_val__set(l->holder, l->n->name, arr))
			return nomem(errv);
		r = refs_check_map(l->spine[0].dn, l->n, e, sub, errv);
		if (r) {
			cub_val__del(l->holder, l->n->name);
			return r;
		}
		if (l->undo)
			*l->undo = (struct cubi_undo){.kind = UNDO_DROP_KEY,
			    .node = l->holder, .name = l->n->name};
	}
	res->changed = true;
	return 0;
}

static int
do_del_keys(struct loc *l, const struct cub_val *words, uint32_t i,
    struct cubi_result *res, struct cub_val **errv)
{
	struct cub_val **keys;
	char kt[PATH_LEN];
	uint32_t idx;
	int r;

	r = keys_from_words(l, words, i, true, &keys, errv);
	if (r)
		return r;
	keys_text(l->n, keys, kt, sizeof(kt));
	if (!find_entry(l->n, l->dn, keys, &idx))
		r = fail(errv, CUB_E_NOTFOUND, l->path, "no entry '%s'", kt);
	else if (l->n->flags & CUB_F_RO)
		r = fail(errv, CUB_E_RO, l->path, "is read-only");
	else
		r = refs_held(
		    l->spine[0].dn, l->n, l->dn->arr.items[idx], l->path, errv);
	keys_free(keys, l->n->nkeys);
	if (r)
		return r;
	list_remove(l->n, l->dn, idx, l->undo ? &l->undo->old : NULL);
	if (l->undo)
		*l->undo = (struct cubi_undo){.kind = UNDO_REINSERT,
		    .node = l->dn, .old = l->undo->old, .idx = idx};
	res->changed = true;
	return 0;
}

static int
do_action(struct loc *l, const struct saction *a, const struct cub_val *args,
    const struct cub_val *body, struct cubi_result *res, struct cub_val **errv)
{
	struct snode tmp = {.type = CUB_T_CONTAINER};
	char sub[PATH_LEN];
	struct cub_val *m;
	int r;

	/* A throw-away node whose children are the action's arguments. */
	tmp.kids = a->args;
	tmp.nkids = a->nargs;
	path_join(sub, sizeof(sub), l->path, a->name);
	m = cub_val__map();
	if (!m)
		return nomem(errv);
	r = merge_map(&tmp, m, body, M_CREATE, true, sub, errv);
	if (!r)
		r = merge_map(&tmp, m, args, M_CREATE, true, sub, errv);
	if (!r)
		r = fill_node(&tmp, m, sub, errv);
	if (r) {
		cub_val__free(m);
		return r;
	}
	res->action_args = m;
	res->action = strdup(a->name);
	res->action_path = cub_val__dup(l->pwords);
	if (!res->action || !res->action_path)
		return nomem(errv);
	return 0;
}

static int
do_help(struct loc *l, const struct cub_val *doc, struct cubi_result *res,
    struct cub_val **errv)
{
	static const char *const root_verbs[] = {
	    "show", "set", "del", "help", NULL};
	static const char *const cont_verbs[] = {"show", "set", "help", NULL};
	static const char *const list_verbs[] = {
	    "add", "del", "show", "help", NULL};
	static const char *const ordered_verbs[] = {
	    "add", VERB_APPEND, VERB_INSERT, "del", "show", "help", NULL};
	char full[PATH_LEN], prefix[PATH_LEN + 16];
	const char *cube = cub_val__get_str(doc, "name");
	const char *const *verbs;

	path_join(full, sizeof(full), cube ? cube : "", l->path);
	snprintf(prefix, sizeof(prefix), "cubicle %s", full);
	if (l->kind == L_LIST)
		verbs =
		    l->n->flags & CUB_F_ORDERED ? ordered_verbs : list_verbs;
	else if (l->kind == L_ENTRY || l->root)
		verbs = root_verbs;
	else
		verbs = cont_verbs;
	res->reply = help_build(l->n, l->kind, verbs, full, prefix);
	if (!res->reply)
		return nomem(errv);
	return 0;
}

void
cubi_result__clear(struct cubi_result *r)
{
	if (!r)
		return;
	cub_val__free(r->reply);
	cub_val__free(r->action_path);
	cub_val__free(r->action_args);
	cub_val__free(r->scope);
	cubi_undo__free(r->undo);
	free(r->action);
	memset(r, 0, sizeof(*r));
}

static int overlay_map(
    const struct snode *n, struct cub_val *dst, const struct cub_val *ov);

/* ---- show: paging, wire caps, read-only copies ------------------------- */

/* The MessagePack size of v and its container elements, as cub_mp_check()
 * counts them (a map's pair is two), and its nesting (v at depth d): an
 * ANY field's value adds its own to the document's. */
static void
mp_size(const struct cub_val *v, uint32_t d, uint64_t *bytes, uint64_t *elems,
    uint32_t *depth)
{
	uint64_t n;
	uint32_t i;

	switch (v->kind) {
	case CUB_V_UINT:
		*bytes += v->u < 128 ? 1 : v->u < 256 ? 2 : v->u < 65536 ? 3
			: v->u <= UINT32_MAX			 ? 5
								 : 9;
		break;
	case CUB_V_INT:
		*bytes += 9;
		break;
	case CUB_V_FLOAT:
		*bytes += 9;
		break;
	case CUB_V_STR:
	case CUB_V_BIN:
		n = v->kind == CUB_V_STR ? v->str.len : v->bin.len;
		*bytes += n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
		break;
	case CUB_V_ARRAY:
		*bytes += v->arr.len < 16 ? 1 : v->arr.len < 65536 ? 3 : 5;
		*elems += v->arr.len;
		if (d > *depth)
			*depth = d;
		for (i = 0; i < v->arr.len; i++)
			mp_size(v->arr.items[i], d + 1, bytes, elems, depth);
		break;
	case CUB_V_MAP:
		*bytes += v->map.len < 16 ? 1 : v->map.len < 65536 ? 3 : 5;
		*elems += 2 * (uint64_t)v->map.len;
		if (d > *depth)
			*depth = d;
		for (i = 0; i < v->map.len; i++) {
			n = strlen(v->map.items[i].key);
			*bytes +=
			    n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5);
			mp_size(
			    v->map.items[i].val, d + 1, bytes, elems, depth);
		}
		break;
	default:
		*bytes += 1;
		break;
	}
}

/* A reply must fit one message with its frame around it. */
static int
check_reply_size(const struct loc *l, const struct cub_val *reply,
    bool paged, struct cub_val **errv)
{
	uint64_t bytes = 0, elems = 0;
	uint32_t depth = 0;

	mp_size(reply, 1, &bytes, &elems, &depth);
	if (depth > CUB_DEPTH_MAX - CUBI_REPLY_DEPTH_HEADROOM)
		return fail(errv, CUB_E_TOOBIG, l->path,
		    "the reply nests %u containers deep, over the %u a reply "
		    "may (an any field's value is too deep)",
		    depth, CUB_DEPTH_MAX - CUBI_REPLY_DEPTH_HEADROOM);
	if (bytes <= CUB_MSG_MAX - CUBI_REPLY_HEADROOM &&
	    elems <= CUB_ELEMS_MAX - CUBI_REPLY_HEADROOM / 16)
		return 0;
	if (paged)
		return fail(errv, CUB_E_TOOBIG, l->path,
		    "this page is %" PRIu64 " bytes and %" PRIu64
		    " elements, over the message cap (%u bytes, %u "
		    "elements): ask for a smaller limit=",
		    bytes, elems, CUB_MSG_MAX, CUB_ELEMS_MAX);
	return fail(errv, CUB_E_TOOBIG, l->path,
	    "the reply is %" PRIu64 " bytes and %" PRIu64
	    " elements, over the message cap (%u bytes, %u elements): show "
	    "a list in pages with limit=N [after=KEY]",
	    bytes, elems, CUB_MSG_MAX, CUB_ELEMS_MAX);
}

/* The key text of entry e, in full: the value after= takes back. */
static struct cub_val *
entry_cursor(const struct snode *list, const struct cub_val *e)
{
	char *text = NULL, num[24];
	const struct cub_val *v;
	const char *part;
	size_t len = 0, n;
	struct cub_val *out;
	uint32_t k;
	char *p;

	for (k = 0; k < list->nkeys; k++) {
		v = cub_val__get(e, key_at(list, k)->name);
		if (v && v->kind == CUB_V_STR) {
			part = v->str.ptr;
		} else if (v && v->kind == CUB_V_UINT) {
			snprintf(num, sizeof(num), "%" PRIu64, v->u);
			part = num;
		} else {
			part = v && v->kind == CUB_V_BOOL && v->b ? "true"
								  : "false";
		}
		n = strlen(part);
		p = realloc(text, len + n + 2);
		if (!p) {
			free(text);
			return NULL;
		}
		text = p;
		if (k)
			text[len++] = ' ';
		memcpy(text + len, part, n + 1);
		len += n;
	}
	out = cub_val__str(text ? text : "");
	free(text);
	return out;
}

/* Splits after= into the list's key words (one word a key). */
static int
cursor_keys(const struct loc *l, const char *after, struct cub_val ***keys,
    struct cub_val **errv)
{
	struct cub_val *words = cub_val__array();
	const char *p = after, *sp;
	uint32_t k;
	int r;

	if (!words)
		return nomem(errv);
	for (k = 0; k < l->n->nkeys; k++) {
		sp = k + 1 < l->n->nkeys ? strchr(p, ' ') : NULL;
		if (cub_val__push(words,
			sp ? cub_val__strn(p, (size_t)(sp - p))
			   : cub_val__str(p))) {
			cub_val__free(words);
			return nomem(errv);
		}
		if (!sp)
			break;
		p = sp + 1;
	}
	r = keys_from_words(l, words, 0, true, keys, errv);
	cub_val__free(words);
	return r;
}

/*
 * The show args: a list takes limit=N (1..CUBI_SHOW_LIMIT_MAX entries) and
 * after=KEY (the entry the page starts after, as `next` gave it); nothing
 * else takes any.  *limit is 0 when not paging.
 */
static int
show_args(const struct loc *l, const struct snode *leaf,
    const struct cub_val *args, uint64_t *limit, const char **after,
    struct cub_val **errv)
{
	const struct cub_val *v;
	const char *key;
	uint32_t i;

	*limit = 0;
	*after = NULL;
	for (i = 0; args && i < args->map.len; i++) {
		key = args->map.items[i].key;
		v = args->map.items[i].val;
		if (strcmp(key, "limit") && strcmp(key, "after"))
			return fail(errv, CUB_E_NOTFOUND, l->path,
			    "show takes no argument '%.64s' (a list takes "
			    "limit= and after=)",
			    key);
		if (l->kind != L_LIST || leaf)
			return fail(errv, CUB_E_INVAL, l->path,
			    "%s= pages a list; this is not one", key);
		if (!strcmp(key, "after")) {
			*after = cub_val__as_str(v);
			if (!*after || !**after)
				return fail(errv, CUB_E_TYPE, l->path,
				    "after: expected the key of an entry");
			continue;
		}
		if ((v->kind == CUB_V_STR ? parse_dec(v->str.ptr, limit)
					  : cub_val__as_u64(v, limit)) ||
		    *limit < 1 || *limit > CUBI_SHOW_LIMIT_MAX)
			return fail(errv, CUB_E_INVAL, l->path,
			    "limit: expected a number of entries from 1 to %u",
			    CUBI_SHOW_LIMIT_MAX);
	}
	if (*after && !*limit)
		*limit = CUBI_SHOW_LIMIT_MAX;
	return 0;
}

/* One page of list arr: *out = copies of the entries after `after`. */
static int
page_copy(const struct loc *l, const struct cub_val *arr, uint64_t limit,
    const char *after, struct cub_val **out, struct cub_val **next,
    struct cub_val **errv)
{
	uint32_t len = arr ? arr->arr.len : 0, start = 0, end, i;
	struct cub_val **keys;
	struct cub_val *page;
	int r;

	*out = *next = NULL;
	if (after) {
		if ((r = cursor_keys(l, after, &keys, errv)))
			return r;
		if (!find_entry(l->n, arr, keys, &start)) {
			keys_free(keys, l->n->nkeys);
			return fail(errv, CUB_E_NOTFOUND, l->path,
			    "after: no entry '%.64s' to page after", after);
		}
		keys_free(keys, l->n->nkeys);
		start++;
	}
	end = limit < (uint64_t)(len - start) ? start + (uint32_t)limit : len;
	page = cub_val__array();
	for (i = start; page && i < end; i++)
		if (cub_val__push(page, cub_val__dup(arr->arr.items[i])))
			page = cub_val__free(page);
	if (!page)
		return nomem(errv);
	if (end < len && !(*next = entry_cursor(l->n, arr->arr.items[end - 1]))) {
		cub_val__free(page);
		return nomem(errv);
	}
	*out = page;
	return 0;
}

/* An entry with only its key fields: where an overlay's entry lands. */
static struct cub_val *
entry_skeleton(const struct snode *list, const struct cub_val *e)
{
	struct cub_val *m = cub_val__map();
	const struct cub_val *v;
	uint32_t k;

	for (k = 0; m && k < list->nkeys; k++) {
		v = cub_val__get(e, key_at(list, k)->name);
		if (v && cub_val__set(m, key_at(list, k)->name, cub_val__dup(v)))
			m = cub_val__free(m);
	}
	return m;
}

/*
 * The path from the root to the addressed node, copied (containers empty,
 * entries with their keys only), with node (owned) at its end: the part of
 * the document a read-only show works on.  NULL on ENOMEM (node freed).
 */
static struct cub_val *
path_wrap(const struct loc *l, struct cub_val *node)
{
	struct cub_val *root, *cur, *child;
	const struct step *st;
	uint32_t j;

	if (l->nspine <= 1)
		return node;
	root = cur = cub_val__map();
	for (j = 1; cur && j < l->nspine; j++) {
		st = &l->spine[j];
		if (j + 1 == l->nspine)
			child = TAKE_PTR(node);
		else if (st->kind == L_ENTRY)
			child = entry_skeleton(st->n, st->dn);
		else
			child = st->kind == L_LIST ? cub_val__array()
						   : cub_val__map();
		/* push and set free child when they fail */
		if (!child ||
		    (st->kind == L_ENTRY ? cub_val__push(cur, child)
					 : cub_val__set(cur, st->n->name, child)))
			cur = NULL;
		else
			cur = child;
	}
	if (!cur) {
		cub_val__free(node);
		return cub_val__free(root);
	}
	return root;
}

/* Takes the addressed node back out of path_wrap()'s copy and frees the
 * rest. */
static struct cub_val *
path_unwrap(const struct loc *l, struct cub_val *root)
{
	const struct step *st = &l->spine[l->nspine - 1];
	struct cub_val *cur = root, *node;
	uint32_t j;

	if (l->nspine <= 1)
		return root;
	for (j = 1; j + 1 < l->nspine; j++)
		cur = l->spine[j].kind == L_ENTRY
			  ? cur->arr.items[cur->arr.len - 1]
			  : cub_val__get(cur, l->spine[j].n->name);
	if (st->kind == L_ENTRY)
		node = cur->arr.items[--cur->arr.len];
	else
		node = cub_val__take(cur, st->n->name);
	cub_val__free(root);
	return node;
}

/* The scalar fields of a map (no lists, no containers). */
static struct cub_val *
scalar_copy(const struct cub_val *m)
{
	struct cub_val *out = cub_val__map(), *v;
	uint32_t i;

	for (i = 0; out && m && m->kind == CUB_V_MAP && i < m->map.len; i++) {
		v = m->map.items[i].val;
		if (v->kind == CUB_V_ARRAY || v->kind == CUB_V_MAP)
			continue;
		if (cub_val__set(out, m->map.items[i].key, cub_val__dup(v)))
			out = cub_val__free(out);
	}
	return out;
}

/* Whether n or anything under it is filled by the service (ro). */
static bool
snode_has_ro(const struct snode *n)
{
	uint32_t i;

	if (n->flags & CUB_F_RO)
		return true;
	for (i = 0; i < n->nkids; i++)
		if (snode_has_ro(n->kids[i]))
			return true;
	return false;
}

static int
do_show(struct loc *l, const struct cubi_schema *s, const struct snode *leaf,
    const struct cub_val *args, struct cubi_result *res,
    struct cub_val **errv)
{
	struct cub_val *node = NULL, *next = NULL, *v, *page;
	const char *after;
	uint64_t limit;
	bool want;
	uint32_t j;
	int r;

	if ((r = show_args(l, leaf, args, &limit, &after, errv)))
		return r;
	if (l->readonly && l->kind == L_LIST &&
	    (l->n->flags & (CUB_F_RO | CUB_F_SHOWN)))
		return NEEDS_COPY; /* its entries are the overlay's */
	want = l->readonly && !l->novs && snode_has_ro(leaf ? leaf : l->n);
	if (limit) {
		r = page_copy(l, l->dn, limit, after, &node, &next, errv);
		if (r)
			return r;
	} else if (leaf && (want || l->novs)) {
		/* The fields around it, for the service's show. */
		node = scalar_copy(l->dn);
	} else if (leaf) {
		node = cub_val__map();
		v = cub_val__get(l->dn, leaf->name);
		if (node && v &&
		    cub_val__set(node, leaf->name, cub_val__dup(v)))
			node = cub_val__free(node);
	} else if (l->dn) {
		node = cub_val__dup(l->dn);
	} else {
		node = l->kind == L_LIST ? cub_val__array() : cub_val__map();
	}
	if (!node) {
		cub_val__free(next);
		return nomem(errv);
	}
	if (want) {
		/* The caller fetches the overlays for this part and reads
		 * again. */
		cub_val__free(next);
		res->want_overlay = true;
		res->scope = path_wrap(l, node);
		return res->scope ? 0 : nomem(errv);
	}
	if (l->novs) {
		node = path_wrap(l, node);
		for (j = 0; node && !r && j < l->novs; j++)
			r = overlay_map(s->root, node, l->ovs[j]);
		node = node ? path_unwrap(l, node) : NULL;
		if (!node || r) {
			cub_val__free(node);
			cub_val__free(next);
			return nomem(errv);
		}
	}
	if (leaf) {
		v = cub_val__take(node, leaf->name);
		cub_val__free(node);
		node = v ? v : cub_val__nil();
		if (!node)
			return nomem(errv);
	} else if (limit) {
		page = node;
		node = cub_val__map();
		if (!node) {
			cub_val__free(page);
			cub_val__free(next);
			return nomem(errv);
		}
		r = cub_val__set(node, "entries", page);
		if (!r && next) {
			/* cub_val__set takes it, even on failure */
			r = cub_val__set(node, "next", TAKE_PTR(next));
		}
		if (r) {
			cub_val__free(node);
			cub_val__free(next);
			return nomem(errv);
		}
	}
	cub_val__free(next);
	if ((r = check_reply_size(l, node, limit != 0, errv))) {
		cub_val__free(node);
		return r;
	}
	res->reply = node;
	return 0;
}

static int
check_words(const struct cub_val *words, struct cub_val **errv)
{
	uint32_t i;

	if (!words)
		return 0;
	if (words->kind != CUB_V_ARRAY)
		return fail(errv, CUB_E_TYPE, "",
		    "words are a %s, not an array",
		    cub_val__kind_name(words->kind));
	if (words->arr.len > WORDS_MAX)
		return fail(
		    errv, CUB_E_LIMIT, "", "more than %d words", WORDS_MAX);
	for (i = 0; i < words->arr.len; i++)
		if (words->arr.items[i]->kind != CUB_V_STR)
			return fail(errv, CUB_E_TYPE, "",
			    "word %u is a %s, "
			    "not a string",
			    i, cub_val__kind_name(words->arr.items[i]->kind));
	return 0;
}

static int
resolve_and_run(const struct cubi_schema *s, struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    const struct cub_val *body, struct cubi_result *res, struct loc *l,
    struct cub_val **errv)
{
	uint32_t nw = words ? words->arr.len : 0, i = 0, idx;
	const struct snode *leaf = NULL, *k;
	const struct saction *a;
	struct cub_val **keys;
	char kt[PATH_LEN];
	const char *w;
	bool last, found;
	int r;

	while (i < nw) {
		w = word_at(words, i);
		last = i + 1 == nw;
		if (l->kind == L_LIST) {
			if (!strcmp(w, "add") ||
			    ((l->n->flags & CUB_F_ORDERED) &&
				(!strcmp(w, VERB_APPEND) ||
				    !strcmp(w, VERB_INSERT)))) {
				res->verb = CUBI_ADD;
				if (l->readonly)
					return NEEDS_COPY;
				return do_add(
				    l, w, words, i + 1, args, body, res, errv);
			}
			if (!strcmp(w, "del")) {
				res->verb = CUBI_DEL;
				if (l->readonly)
					return NEEDS_COPY;
				return do_del_keys(l, words, i + 1, res, errv);
			}
			if (!strcmp(w, "show") || is_help(w)) {
				if (!last)
					return extra_words(
					    l, words, i + 1, errv);
				res->verb = is_help(w) ? CUBI_HELP : CUBI_SHOW;
				break;
			}
			if (!strcmp(w, "set"))
				return fail(errv, CUB_E_VERB, l->path,
				    "'set' "
				    "applies to an entry: %s <key> set ...",
				    l->n->name);
			/* A read-only list is the service's: its entries come
			 * from the overlay, so resolve on an overlaid copy. */
			if (l->readonly &&
			    (l->n->flags & (CUB_F_RO | CUB_F_SHOWN)))
				return NEEDS_COPY;
			r = keys_from_words(l, words, i, false, &keys, errv);
			if (r)
				return r;
			keys_text(l->n, keys, kt, sizeof(kt));
			found = find_entry(l->n, l->dn, keys, &idx);
			keys_free(keys, l->n->nkeys);
			i += l->n->nkeys;
			if (!found && l->undo &&
			    ((l->n->flags & CUB_F_RO) ||
				((l->n->flags & CUB_F_SHOWN) && i < nw &&
				    !strcmp(word_at(words, i), "show"))))
				l->ghost = true;
			else if (!found &&
				 !(i + 1 == nw && is_help(word_at(words, i))))
				return fail(errv, CUB_E_NOTFOUND, l->path,
				    "no entry '%s'", kt);
			l->kind = L_ENTRY;
			l->in_entry = true;
			l->holder = found ? l->dn : NULL;
			l->dn = found ? l->dn->arr.items[idx] : NULL;
			l->idx = idx;
			spine_push(l);
			if (push_word(l, kt))
				return nomem(errv);
			continue;
		}
		if (!strcmp(w, "show")) {
			if (i + 2 == nw) {
				leaf = find_kid(l->n, word_at(words, i + 1));
				if (!leaf || !is_leaf(leaf))
					return extra_words(
					    l, words, i + 1, errv);
			} else if (!last) {
				return extra_words(l, words, i + 1, errv);
			}
			res->verb = CUBI_SHOW;
			break;
		}
		if (is_help(w) || !strcmp(w, "set") || !strcmp(w, "del")) {
			if (!last)
				return extra_words(l, words, i + 1, errv);
			if (is_help(w)) {
				res->verb = CUBI_HELP;
				break;
			}
			if (!strcmp(w, "set")) {
				res->verb = CUBI_SET;
				if (l->readonly)
					return NEEDS_COPY;
				return do_set(l, args, body, res, errv);
			}
			res->verb = CUBI_DEL;
			if (l->root) {
				res->del_cube = true;
				return 0;
			}
			if (l->kind != L_ENTRY)
				return fail(errv, CUB_E_VERB, l->path,
				    "a "
				    "container cannot be deleted");
			if (l->n->flags & CUB_F_RO)
				return fail(
				    errv, CUB_E_RO, l->path, "is read-only");
			if (l->readonly)
				return NEEDS_COPY;
			r = refs_held(l->spine[0].dn, l->n,
			    l->holder->arr.items[l->idx], l->path, errv);
			if (r)
				return r;
			list_remove(l->n, l->holder, l->idx,
			    l->undo ? &l->undo->old : NULL);
			if (l->undo)
				*l->undo = (struct cubi_undo){
				    .kind = UNDO_REINSERT,
				    .node = l->holder,
				    .old = l->undo->old,
				    .idx = l->idx};
			res->changed = true;
			return 0;
		}
		k = find_kid(l->n, w);
		if (k && !is_leaf(k)) {
			l->kind = k->type == CUB_T_LIST ? L_LIST : L_MAP;
			l->root = false;
			l->holder = l->dn;
			l->dn = cub_val__get(l->dn, w);
			l->n = k;
			spine_push(l);
			if (push_word(l, w))
				return nomem(errv);
			i++;
			continue;
		}
		if (k) {
			if (!last &&
			    !(i + 2 == nw &&
				!strcmp(word_at(words, i + 1), "show")))
				return extra_words(l, words, i + 1, errv);
			leaf = k;
			res->verb = CUBI_SHOW;
			break;
		}
		a = find_act(l->n, w);
		if (a) {
			if (!last)
				return extra_words(l, words, i + 1, errv);
			if (l->ghost)
				return fail(errv, CUB_E_NOTFOUND, l->path,
				    "no such entry in the document (a "
				    "read-only list's entries are the "
				    "service's)");
			res->verb = CUBI_ACTION;
			return do_action(l, a, args, body, res, errv);
		}
		return unknown_word(l, w, errv);
	}
	if (res->verb == CUBI_HELP)
		return do_help(l, doc, res, errv);
	res->verb = CUBI_SHOW;
	return do_show(l, s, leaf, args, res, errv);
}

/*
 * Clear res and *errv, then check what every read and write is given: a
 * schema, a map document, words (check_words()) and args, if any, a map.
 */
static int
check_call(const struct cubi_schema *s, const struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    struct cubi_result *res, struct cub_val **errv)
{
	int r;

	memset(res, 0, sizeof(*res));
	if (errv)
		*errv = NULL;
	if (!s || !doc || doc->kind != CUB_V_MAP)
		return fail(errv, CUB_E_INTERNAL, "", "bad arguments");
	r = check_words(words, errv);
	if (r)
		return r;
	if (args && args->kind != CUB_V_MAP)
		return fail(errv, CUB_E_TYPE, "", "args are a %s, not a map",
		    cub_val__kind_name(args->kind));
	return 0;
}

static int
apply_common(const struct cubi_schema *s, struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    const struct cub_val *body, struct cubi_result *res,
    struct cubi_undo *undo, struct cub_val **errv)
{
	struct loc l = {.undo = undo};
	int r;

	r = check_call(s, doc, words, args, res, errv);
	if (r)
		return r;
	if (body && body->kind != CUB_V_MAP)
		return fail(errv, CUB_E_TYPE, "", "body is a %s, not a map",
		    cub_val__kind_name(body->kind));
	l.n = s->root;
	l.kind = L_MAP;
	l.root = true;
	l.dn = doc;
	spine_push(&l);
	l.pwords = cub_val__array();
	if (!l.pwords)
		return nomem(errv);
	r = resolve_and_run(s, doc, words, args, body, res, &l, errv);
	if (!r && undo && undo->kind != UNDO_NONE) {
		undo->path = TAKE_PTR(l.pwords);
		undo->sn = l.n;
		undo->at_list = l.kind == L_LIST;
		undo->at_entry = l.kind == L_ENTRY;
	}
	cub_val__free(l.pwords);
	if (r)
		cubi_result__clear(res);
	return r;
}

int
cubi_tree__apply(const struct cubi_schema *s, struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    const struct cub_val *body, struct cubi_result *res, struct cub_val **errv)
{
	return apply_common(s, doc, words, args, body, res, NULL, errv);
}

int
cubi_tree__change(const struct cubi_schema *s, struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    const struct cub_val *body, struct cubi_result *res,
    struct cub_val **errv)
{
	struct cubi_undo *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return nomem(errv);
	r = apply_common(s, doc, words, args, body, res, u, errv);
	if (r || !res->changed) {
		cubi_undo__free(u);
		return r;
	}
	res->undo = u;
	return 0;
}

/* Frees what an undo record kept (the replaced values). */
static void
cubi_undo__free(struct cubi_undo *u)
{
	if (!u)
		return;
	if (u->shared)
		shared_free(u->shared, u->old);
	else
		cub_val__free(u->old);
	cub_val__free(u->path);
	free(u);
}

int
cubi_tree__undo(struct cubi_result *res)
{
	struct cubi_undo *u = res ? res->undo : NULL;
	struct cub_val tmp;
	int r = 0;

	if (!u)
		return 0;
	switch (u->kind) {
	case UNDO_SWAP:
		tmp = *u->node;
		*u->node = *u->old;
		*u->old = tmp;
		break;
	case UNDO_REMOVE:
		list_remove(u->list, u->node, u->idx, NULL);
		break;
	case UNDO_REINSERT:
		r = list_insert(u->node, u->idx, u->old);
		if (!r)
			u->old = NULL;
		break;
	case UNDO_DROP_KEY:
		cub_val__del(u->node, u->name);
		break;
	default:
		break;
	}
	res->undo = NULL;
	res->changed = false;
	cubi_undo__free(u);
	return r;
}

/* The steps (map item or array indices) from v down to target; depth
 * first.  true when found, *n steps in steps. */
static bool
path_to(const struct cub_val *v, const struct cub_val *target,
    uint32_t *steps, uint32_t depth, uint32_t *n)
{
	uint32_t i, len;

	if (v == target) {
		*n = depth;
		return true;
	}
	if (depth >= CUB_DEPTH_MAX ||
	    (v->kind != CUB_V_MAP && v->kind != CUB_V_ARRAY))
		return false;
	len = v->kind == CUB_V_MAP ? v->map.len : v->arr.len;
	for (i = 0; i < len; i++) {
		steps[depth] = i;
		if (path_to(v->kind == CUB_V_MAP ? v->map.items[i].val
						 : v->arr.items[i],
			target, steps, depth + 1, n))
			return true;
	}
	return false;
}

struct cub_val *
cubi_tree__before(const struct cubi_result *res, const struct cub_val *doc)
{
	const struct cubi_undo *u = res ? res->undo : NULL;
	uint32_t steps[CUB_DEPTH_MAX], n = 0, i;
	struct cub_val *copy, *node, *e, tmp;

	if (!u || u->kind == UNDO_NONE)
		return cub_val__dup(doc);
	if (!path_to(doc, u->node, steps, 0, &n))
		return NULL;
	if (!(copy = cub_val__dup(doc)))
		return NULL;
	for (node = copy, i = 0; i < n; i++)
		node = node->kind == CUB_V_MAP ? node->map.items[steps[i]].val
					       : node->arr.items[steps[i]];
	switch (u->kind) {
	case UNDO_SWAP:
		if (!(e = cub_val__dup(u->old)))
			break;
		tmp = *node;
		*node = *e;
		*e = tmp;
		cub_val__free(e);
		return copy;
	case UNDO_REMOVE:
		list_remove(u->list, node, u->idx, NULL);
		return copy;
	case UNDO_REINSERT:
		if (!(e = cub_val__dup(u->old)))
			break;
		if (list_insert(node, u->idx, e)) {
			cub_val__free(e);
			break;
		}
		return copy;
	case UNDO_DROP_KEY:
		cub_val__del(node, u->name);
		return copy;
	default:
		return copy;
	}
	return cub_val__free(copy);
}

/* ---- change lists ------------------------------------------------------ */

/*
 * A change list (cubi_tree__changes(), cubi_tree__diff()): one map per
 * entry-level change, {op, path, old, new, index}.  Each carries one node:
 * a set the leaf fields of one container or entry (nested lists and
 * containers are changes of their own), an add or del one whole entry.
 */
struct chg {
	struct cub_val *out; /* the array */
	bool oom;
};

/* path + word, a new array; NULL on ENOMEM. */
static struct cub_val *
path_plus(const struct cub_val *path, const char *word)
{
	struct cub_val *p = path ? cub_val__dup(path) : cub_val__array();

	if (p && cub_val__push(p, cub_val__str(word)))
		return NULL;
	return p;
}

/* The words of entry e of list: path + its keys, as one word. */
static struct cub_val *
path_entry(const struct cub_val *path, const struct snode *list,
    const struct cub_val *e)
{
	char kt[PATH_LEN];

	entry_key_text(list, e, kt, sizeof(kt));
	return path_plus(path, kt);
}

/* The leaf fields of m (scalars and leaf-lists), copied. */
static struct cub_val *
leaves_of(const struct snode *n, const struct cub_val *m)
{
	struct cub_val *out = cub_val__map();
	const struct snode *k;
	uint32_t i;

	for (i = 0; out && m && m->kind == CUB_V_MAP && i < m->map.len; i++) {
		k = find_kid(n, m->map.items[i].key);
		if (k && !is_leaf(k))
			continue;
		if (cub_val__set(out, m->map.items[i].key,
			cub_val__dup(m->map.items[i].val)))
			out = cub_val__free(out);
	}
	return out;
}

static uint32_t
leaf_count(const struct snode *n, const struct cub_val *m)
{
	const struct snode *k;
	uint32_t i, c = 0;

	for (i = 0; m && m->kind == CUB_V_MAP && i < m->map.len; i++) {
		k = find_kid(n, m->map.items[i].key);
		if (!k || is_leaf(k))
			c++;
	}
	return c;
}

static bool
leaves_equal(const struct snode *n, const struct cub_val *a,
    const struct cub_val *b)
{
	const struct cub_val *bv;
	const struct snode *k;
	uint32_t i;

	if (leaf_count(n, a) != leaf_count(n, b))
		return false;
	for (i = 0; a && a->kind == CUB_V_MAP && i < a->map.len; i++) {
		k = find_kid(n, a->map.items[i].key);
		if (k && !is_leaf(k))
			continue;
		bv = cub_val__get(b, a->map.items[i].key);
		if (!bv || !cub_val__equal(bv, a->map.items[i].val))
			return false;
	}
	return true;
}

/* Appends {op, path, old, new[, index]}; takes path, old and new. */
static void
chg_push(struct chg *c, const char *op, struct cub_val *path,
    struct cub_val *old, struct cub_val *new, int64_t index)
{
	struct cub_val *m = cub_val__map();

	if (!m || !path || cub_val__set(m, "op", cub_val__str(op)) ||
	    cub_val__set(m, "path", TAKE_PTR(path)) ||
	    (old && cub_val__set(m, "old", TAKE_PTR(old))) ||
	    (new && cub_val__set(m, "new", TAKE_PTR(new))) ||
	    (index >= 0 &&
		cub_val__set(m, "index", cub_val__uint((uint64_t)index))) ||
	    cub_val__push(c->out, TAKE_PTR(m)))
		c->oom = true;
	cub_val__free(m);
	cub_val__free(path);
	cub_val__free(old);
	cub_val__free(new);
}

static void
chg_add(struct chg *c, const struct snode *list, const struct cub_val *path,
    const struct cub_val *e, uint32_t idx)
{
	chg_push(c, "add", path_entry(path, list, e), NULL, cub_val__dup(e),
	    (list->flags & CUB_F_ORDERED) ? (int64_t)idx : -1);
}

static void
chg_del(struct chg *c, const struct snode *list, const struct cub_val *path,
    const struct cub_val *e)
{
	chg_push(c, "del", path_entry(path, list, e), cub_val__dup(e), NULL, -1);
}

/* Finds the entry of arr with e's keys. */
static bool
find_like(const struct snode *list, const struct cub_val *arr,
    const struct cub_val *e, uint32_t *idx)
{
	struct cub_val *keys[WORDS_MAX];
	uint32_t k;

	if (!arr || arr->kind != CUB_V_ARRAY || list->nkeys > WORDS_MAX)
		return false;
	for (k = 0; k < list->nkeys; k++)
		if (!(keys[k] = cub_val__get(e, key_at(list, k)->name)))
			return false;
	return find_entry(list, arr, keys, idx);
}

static void diff_map(struct chg *c, const struct snode *n,
    const struct cub_val *path, const struct cub_val *old,
    const struct cub_val *new);

/* Entries gone first (they free what new ones may take), then the rest. */
static void
diff_list(struct chg *c, const struct snode *list, const struct cub_val *path,
    const struct cub_val *old, const struct cub_val *new)
{
	struct cub_val *sub;
	uint32_t i, idx;

	if (old && old->kind != CUB_V_ARRAY)
		old = NULL;
	if (new && new->kind != CUB_V_ARRAY)
		new = NULL;
	for (i = 0; old && i < old->arr.len && !c->oom; i++)
		if (!find_like(list, new, old->arr.items[i], &idx))
			chg_del(c, list, path, old->arr.items[i]);
	for (i = 0; new && i < new->arr.len && !c->oom; i++) {
		if (!find_like(list, old, new->arr.items[i], &idx)) {
			chg_add(c, list, path, new->arr.items[i], i);
			continue;
		}
		if (cub_val__equal(old->arr.items[idx], new->arr.items[i]))
			continue;
		sub = path_entry(path, list, new->arr.items[i]);
		if (!sub) {
			c->oom = true;
			break;
		}
		diff_map(c, list, sub, old->arr.items[idx], new->arr.items[i]);
		cub_val__free(sub);
	}
}

static void
diff_map(struct chg *c, const struct snode *n, const struct cub_val *path,
    const struct cub_val *old, const struct cub_val *new)
{
	const struct cub_val *o, *nw;
	struct cub_val *sub;
	const struct snode *k;
	uint32_t i;

	if (!leaves_equal(n, old, new))
		chg_push(c, "set", cub_val__dup(path), leaves_of(n, old),
		    leaves_of(n, new), -1);
	for (i = 0; i < n->nkids && !c->oom; i++) {
		k = n->kids[i];
		if (is_leaf(k) || (k->flags & CUB_F_RO))
			continue;
		o = cub_val__get(old, k->name);
		nw = cub_val__get(new, k->name);
		/* o == nw: a list a set of leaf fields shares (do_set()). */
		if (o == nw || (o && nw && cub_val__equal(o, nw)))
			continue;
		if (!(sub = path_plus(path, k->name))) {
			c->oom = true;
			break;
		}
		if (k->type == CUB_T_LIST)
			diff_list(c, k, sub, o, nw);
		else
			diff_map(c, k, sub, o, nw);
		cub_val__free(sub);
	}
}

static int
chg_end(struct chg *c, struct cub_val **changes)
{
	if (c->oom) {
		cub_val__free(c->out);
		return -ENOMEM;
	}
	*changes = c->out;
	return 0;
}

int
cubi_tree__changes(const struct cubi_result *res, struct cub_val **changes)
{
	const struct cubi_undo *u = res ? res->undo : NULL;
	struct chg c = {.out = cub_val__array()};
	const struct cub_val *arr, *e;

	*changes = NULL;
	if (!c.out)
		return -ENOMEM;
	if (!u || !u->path || !u->sn)
		return chg_end(&c, changes);
	switch (u->kind) {
	case UNDO_REMOVE: /* an add into a list that was there */
		if (u->idx < u->node->arr.len)
			chg_add(&c, u->list, u->path,
			    u->node->arr.items[u->idx], u->idx);
		break;
	case UNDO_REINSERT: /* a del: the entry's words, then its keys */
		if (u->at_entry)
			chg_push(&c, "del", cub_val__dup(u->path),
			    cub_val__dup(u->old), NULL, -1);
		else
			chg_del(&c, u->sn, u->path, u->old);
		break;
	case UNDO_SWAP: /* a set: node holds the new fields, old the old */
		diff_map(&c, u->sn, u->path, u->old, u->node);
		break;
	case UNDO_DROP_KEY: /* a container or a list that was absent */
		arr = cub_val__get(u->node, u->name);
		if (u->at_list) {
			e = arr && arr->kind == CUB_V_ARRAY && arr->arr.len
				? arr->arr.items[0]
				: NULL;
			if (e)
				chg_add(&c, u->sn, u->path, e, 0);
		} else {
			diff_map(&c, u->sn, u->path, NULL, arr);
		}
		break;
	default:
		break;
	}
	return chg_end(&c, changes);
}

int
cubi_tree__diff(const struct cubi_schema *s, const struct cub_val *old,
    const struct cub_val *new, struct cub_val **changes)
{
	struct chg c = {.out = cub_val__array()};
	struct cub_val *root = cub_val__array();

	*changes = NULL;
	if (!c.out || !root || !s) {
		cub_val__free(c.out);
		cub_val__free(root);
		return !s ? -EINVAL : -ENOMEM;
	}
	diff_map(&c, s->root, root, old, new);
	cub_val__free(root);
	return chg_end(&c, changes);
}

struct cub_val *
cubi_changes__invert(const struct cub_val *changes)
{
	struct cub_val *out = cub_val__array(), *m, *v;
	const struct cub_val *e;
	const char *op;
	uint32_t i, j;

	for (i = changes && changes->kind == CUB_V_ARRAY ? changes->arr.len : 0;
	     out && i-- > 0;) {
		e = changes->arr.items[i];
		op = cub_val__get_str(e, "op") ?: "";
		if (!(m = cub_val__map()) ||
		    cub_val__set(m, "op",
			cub_val__str(!strcmp(op, "add")   ? "del"
				     : !strcmp(op, "del") ? "add"
							  : op))) {
			cub_val__free(m);
			return cub_val__free(out);
		}
		for (j = 0; j < e->map.len; j++) {
			const char *k = e->map.items[j].key;

			if (!strcmp(k, "op"))
				continue;
			if (!strcmp(k, "old"))
				k = "new";
			else if (!strcmp(k, "new"))
				k = "old";
			v = cub_val__dup(e->map.items[j].val);
			if (!v || cub_val__set(m, k, v)) {
				cub_val__free(m);
				return cub_val__free(out);
			}
		}
		if (cub_val__push(out, m))
			return cub_val__free(out);
	}
	return out;
}

int
cubi_tree__read(const struct cubi_schema *s, const struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    const struct cub_val *const *overlays, uint32_t noverlays,
    struct cubi_result *res, struct cub_val **errv)
{
	struct loc l = {0};
	enum cubi_verb verb;
	int r;

	r = check_call(s, doc, words, args, res, errv);
	if (r)
		return r;
	l.n = s->root;
	l.kind = L_MAP;
	l.root = true;
	/* Nothing below writes through dn when readonly is set; the keyed
	 * list index, a cache, is the one thing a lookup may build. */
	l.dn = (struct cub_val *)doc;
	l.readonly = true;
	l.ovs = overlays;
	l.novs = overlays ? noverlays : 0;
	spine_push(&l);
	l.pwords = cub_val__array();
	if (!l.pwords)
		return nomem(errv);
	r = resolve_and_run(s, l.dn, words, args, NULL, res, &l, errv);
	cub_val__free(l.pwords);
	if (r == NEEDS_COPY) {
		verb = res->verb;
		cubi_result__clear(res);
		res->verb = verb;
		return CUBI_NEEDS_COPY;
	}
	if (r)
		cubi_result__clear(res);
	return r;
}

/* ---- overlay and lookups ---------------------------------------------- */

static int overlay_map(
    const struct snode *n, struct cub_val *dst, const struct cub_val *ov);

/*
 * The writable leaves of an entry the service added to a shown list
 * (CUB_F_SHOWN): the whole entry is the service's, as a ro one is.
 */
static int
overlay_leaves(
    const struct snode *n, struct cub_val *dst, const struct cub_val *ov)
{
	char msg[MSG_LEN];
	const struct snode *k;
	struct cub_val *cur;
	uint32_t i;
	int r;

	for (i = 0; i < ov->map.len; i++) {
		k = find_kid(n, ov->map.items[i].key);
		if (!k || !is_leaf(k) || (k->flags & (CUB_F_RO | CUB_F_KEY)))
			continue;
		r = parse_value(k, ov->map.items[i].val, &cur, msg, sizeof(msg));
		if (r == CUB_E_INTERNAL)
			return -ENOMEM;
		if (!r && cub_val__set(dst, k->name, cur))
			return -ENOMEM;
	}
	return 0;
}

static int
overlay_list(
    const struct snode *k, struct cub_val *arr, const struct cub_val *ov)
{
	struct cub_val **keys, *e;
	uint32_t i, idx, j;
	int r = 0;

	for (i = 0; !r && i < ov->arr.len && i < CUBI_LIST_ENTRIES_MAX; i++) {
		if (ov->arr.items[i]->kind != CUB_V_MAP ||
		    keys_from_map(k, ov->arr.items[i], &keys, "", NULL))
			continue;
		if (find_entry(k, arr, keys, &idx)) {
			r = overlay_map(
			    k, arr->arr.items[idx], ov->arr.items[i]);
		} else if ((k->flags & (CUB_F_RO | CUB_F_SHOWN)) &&
			   arr->arr.len < CUBI_LIST_ENTRIES_MAX) {
			/* Ro lists are filled by the service alone; shown
			 * ones get the service's entries too. */
			e = cub_val__map();
			for (j = 0; e && j < k->nkeys; j++)
				if (cub_val__set(e, key_at(k, j)->name,
					cub_val__dup(keys[j])))
					e = cub_val__free(e);
			if (!e || list_push(k, arr, e))
				r = -ENOMEM;
			else if (!(r = overlay_map(k, e, ov->arr.items[i])) &&
				 !(k->flags & CUB_F_RO))
				r = overlay_leaves(k, e, ov->arr.items[i]);
		}
		keys_free(keys, k->nkeys);
	}
	return r;
}

static int
overlay_map(
    const struct snode *n, struct cub_val *dst, const struct cub_val *ov)
{
	char msg[MSG_LEN];
	const struct snode *k;
	struct cub_val *v, *cur;
	uint32_t i;
	int r;

	if (!ov || ov->kind != CUB_V_MAP || dst->kind != CUB_V_MAP)
		return 0;
	for (i = 0; i < ov->map.len; i++) {
		k = find_kid(n, ov->map.items[i].key);
		v = ov->map.items[i].val;
		if (!k)
			continue;
		if (is_leaf(k)) {
			if (!(k->flags & CUB_F_RO) || (k->flags & CUB_F_KEY))
				continue;
			r = parse_value(k, v, &cur, msg, sizeof(msg));
			if (r == CUB_E_INTERNAL)
				return -ENOMEM;
			if (r)
				continue;
			if (cub_val__set(dst, k->name, cur))
				return -ENOMEM;
			continue;
		}
		if (v->kind !=
		    (k->type == CUB_T_LIST ? CUB_V_ARRAY : CUB_V_MAP))
			continue;
		cur = cub_val__get(dst, k->name);
		if (!cur) {
			if (cub_val__set(dst, k->name,
				k->type == CUB_T_LIST ? cub_val__array()
						      : cub_val__map()))
				return -ENOMEM;
			cur = cub_val__get(dst, k->name);
		}
		if (cur->kind !=
		    (k->type == CUB_T_LIST ? CUB_V_ARRAY : CUB_V_MAP))
			continue;
		r = k->type == CUB_T_LIST ? overlay_list(k, cur, v)
					  : overlay_map(k, cur, v);
		if (r)
			return r;
	}
	return 0;
}

int
cubi_tree__merge_overlay(const struct cubi_schema *s, struct cub_val *doc,
    const struct cub_val *overlay)
{
	if (!s || !doc || doc->kind != CUB_V_MAP)
		return -EINVAL;
	return overlay_map(s->root, doc, overlay);
}

struct cub_val *
cubi_tree__find(const struct cub_val *doc, const char *list,
    const char *key_field, const char *key)
{
	const struct cub_val *arr = cub_val__get(doc, list);
	const char *v;
	uint32_t i;

	if (!arr || arr->kind != CUB_V_ARRAY || !key_field || !key)
		return NULL;
	for (i = 0; i < arr->arr.len; i++) {
		v = cub_val__get_str(arr->arr.items[i], key_field);
		if (v && !strcmp(v, key))
			return arr->arr.items[i];
	}
	return NULL;
}

/* The shape of a client request's params, before any word is resolved. */
int
cubi_request__check(const struct cub_val *p, struct cubi_request *q,
    struct cub_val **errv)
{
	uint32_t i;

	memset(q, 0, sizeof(*q));
	q->words = cub_val__get(p, "words");
	q->args = cub_val__get(p, "args");
	q->body = cub_val__get(p, "body");
	if (!q->words || q->words->kind != CUB_V_ARRAY) {
		*errv = cub_err_val(CUB_E_TYPE, "'words' must be an array");
		return -EINVAL;
	}
	if (q->words->arr.len > CUBI_REQ_WORDS_MAX) {
		*errv =
		    cub_err_val(CUB_E_TOOBIG, "more than %d words", CUBI_REQ_WORDS_MAX);
		return -E2BIG;
	}
	for (i = 0; i < q->words->arr.len; i++) {
		const struct cub_val *w = q->words->arr.items[i];

		if (w->kind != CUB_V_STR || w->str.len == 0 ||
		    w->str.len > CUBI_REQ_WORD_LEN_MAX) {
			*errv = cub_err_val(CUB_E_TYPE,
			    "word %u must be a string of 1 to %d bytes", i,
			    CUBI_REQ_WORD_LEN_MAX);
			return -EINVAL;
		}
	}
	if (q->args && q->args->kind == CUB_V_NIL)
		q->args = NULL;
	if (q->args &&
	    (q->args->kind != CUB_V_MAP || q->args->map.len > CUBI_REQ_ARGS_MAX)) {
		*errv = cub_err_val(CUB_E_TYPE,
		    "'args' must be a map of at most %d fields", CUBI_REQ_ARGS_MAX);
		return -EINVAL;
	}
	if (q->body && q->body->kind == CUB_V_NIL)
		q->body = NULL;
	if (q->body && q->body->kind != CUB_V_MAP) {
		*errv = cub_err_val(CUB_E_TYPE, "'body' must be a map");
		return -EINVAL;
	}
	if (cub_val__get(p, "rid")) {
		q->rid = cub_val__get_str(p, "rid");
		if (!q->rid || !*q->rid || strlen(q->rid) > CUBI_REQ_RID_MAX) {
			*errv = cub_err_val(CUB_E_TYPE,
			    "'rid' must be a string of 1 to %d bytes",
			    CUBI_REQ_RID_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

int
cubi_tree__locate(const struct cubi_schema *s, const struct cub_val *doc,
    const struct cub_val *words, struct cub_val **path, struct cub_val **errv)
{
	struct cub_val *w = cub_val__dup(words), *p = cub_val__array();
	const struct step *st;
	struct cubi_result res;
	enum cubi_verb verb;
	struct loc l = {0};
	uint32_t i, k;
	int r;

	*path = NULL;
	/* A set stops a read-only resolution at the node, before it runs. */
	if (!w || !p || w->kind != CUB_V_ARRAY ||
	    cub_val__push(w, cub_val__str("set"))) {
		cub_val__free(w);
		cub_val__free(p);
		return nomem(errv);
	}
	r = check_call(s, doc, w, NULL, &res, errv);
	if (!r) {
		l.n = s->root;
		l.kind = L_MAP;
		l.root = true;
		l.dn = (struct cub_val *)doc;
		l.readonly = true;
		spine_push(&l);
		l.pwords = cub_val__array();
		r = l.pwords ? resolve_and_run(s, (struct cub_val *)doc, w,
				   NULL, NULL, &res, &l, errv)
			     : nomem(errv);
		cub_val__free(l.pwords);
		verb = res.verb;
		cubi_result__clear(&res);
		if (r == NEEDS_COPY && verb == CUBI_SET)
			r = 0;
		else if (r >= 0)
			r = fail(errv, CUB_E_INVAL, l.path,
			    "not a container or an entry");
	}
	for (i = 1; !r && i < l.nspine; i++) {
		st = &l.spine[i];
		if (!st->dn) {
			r = fail(errv, CUB_E_NOTFOUND, l.path, "not present");
			break;
		}
		if (st->kind != L_ENTRY) {
			r = cub_val__push(p, cub_val__str(st->n->name));
			continue;
		}
		/* The entry's index in its list (the previous step): the
		 * last one was found through the list's index. */
		k = i + 1 == l.nspine && l.kind == L_ENTRY ? l.idx : 0;
		if (k < l.spine[i - 1].dn->arr.len &&
		    l.spine[i - 1].dn->arr.items[k] != st->dn)
			k = 0;
		for (; k < l.spine[i - 1].dn->arr.len; k++)
			if (l.spine[i - 1].dn->arr.items[k] == st->dn)
				break;
		r = k < l.spine[i - 1].dn->arr.len
			? cub_val__push(p, cub_val__uint(k))
			: fail(errv, CUB_E_INTERNAL, l.path, "entry not found");
	}
	cub_val__free(w);
	if (r) {
		cub_val__free(p);
		return r;
	}
	*path = p;
	return 0;
}

static bool
port_index_used(const struct cub_val *ports, uint64_t idx)
{
	uint64_t v;
	uint32_t i;

	for (i = 0; i < ports->arr.len; i++)
		if (!cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &v) &&
		    v == idx)
			return true;
	return false;
}

int
cubi_doc__port_indices(struct cub_val *doc, uint32_t max)
{
	const struct cub_val *ports = cub_val__get(doc, "ports");
	uint32_t i, idx;

	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		struct cub_val *e = ports->arr.items[i];

		if (cub_val__get(e, "index"))
			continue;
		for (idx = 0; idx < max; idx++)
			if (!port_index_used(ports, idx))
				break;
		if (idx == max)
			return -ENOSPC;
		if (cub_val__set(e, "index", cub_val__uint(idx)))
			return -ENOMEM;
	}
	return 0;
}
