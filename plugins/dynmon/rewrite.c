// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon's rewriter (rewrite.h).  A tokenizer-level rewrite, not regexes
 * over text: the source is cut into tokens (identifiers, numbers, string
 * and char literals, punctuators, whole preprocessor lines), comments and
 * whitespace being the gaps between them, which are copied verbatim, so
 * every user line stays on its line and one #line 1 "<path>" gives clang
 * the user's line numbers.  Pass 1 finds the map declarations at file
 * scope (BCC's BPF_* macros and libbpf's `NAME SEC(".maps")`) and
 * handle_rx; pass 2 copies the tokens, replacing a BPF_* declaration with
 * its libbpf definition (one line; the newlines it spanned follow it),
 * `MAP.method(args)` with the prelude's DM_* macro, and every other use of
 * a map's name with its object name (i_NAME / e_NAME).  Preprocessor
 * lines are copied as they are, but for BCC's <uapi/...> include paths.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

/*
 * FNV-1a: the suffix of a long name's object name.  Object names are
 * at most 15 characters (the kernel's, and the broker's pins).
 */
void
dm_map_objname(char path, const char *user, char *out)
{
	size_t n = strlen(user);
	uint32_t h = 2166136261u;
	size_t i;

	if (n <= DM_NAME_MAX) {
		snprintf(out, DM_OBJ_NAME_MAX + 1, "%c_%s", path, user);
		return;
	}
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)user[i]) * 16777619u;
	snprintf(out, DM_OBJ_NAME_MAX + 1, "%c_%.9s%04x", path, user,
	    (unsigned)((h >> 16) ^ (h & 0xffff)));
}

const char dm_default_code[] =
    "static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)\n"
    "{\n\treturn RX_OK;\n}\n";

enum tk_kind { TK_IDENT, TK_NUM, TK_STR, TK_CHR, TK_PUNCT, TK_PP };

struct tok {
	enum tk_kind kind;
	size_t off, len; /* in the source */
	int line;
};

enum map_form { MF_BCC, MF_PLAIN };

struct umap {
	char name[DM_USER_NAME_MAX + 1];
	char obj[DM_OBJ_NAME_MAX + 1]; /* dm_map_objname() */
	enum map_form form;
	const char *type;     /* BPF_MAP_TYPE_... (BCC form) */
	bool keyless;	      /* QUEUE, STACK */
	char *key, *val, *size; /* source text (BCC form) */
	int swap;	      /* swap set index, or -1 */
	size_t first, last;   /* its declaration's tokens (BCC form) */
	size_t decl;	      /* its name's token in its declaration */
	int line;
};

#define RW_MAPS_MAX 64

struct rw {
	const char *src;
	size_t len;
	const struct dm_rw_opts *o;
	struct tok *t;
	size_t nt, cap;
	struct umap maps[RW_MAPS_MAX];
	size_t nmaps;
	char *err;
	size_t errlen;
	bool failed; /* a refusal was recorded */
	/* output */
	char *buf;
	size_t blen, bcap;
	bool oom;
};

static int
rw_fail(struct rw *w, int line, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	w->failed = true;
	if (w->err && w->errlen) {
		n = snprintf(w->err, w->errlen, "line %d: ", line);
		if (n < 0 || (size_t)n >= w->errlen)
			return -EINVAL;
		va_start(ap, fmt);
		vsnprintf(w->err + n, w->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Output buffer. */
static void
put(struct rw *w, const char *s, size_t n)
{
	if (w->oom)
		return;
	if (w->blen + n + 1 > w->bcap) {
		size_t cap = w->bcap ? w->bcap : 4096;
		char *b;

		while (w->blen + n + 1 > cap)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b) {
			w->oom = true;
			return;
		}
		w->buf = b;
		w->bcap = cap;
	}
	memcpy(w->buf + w->blen, s, n);
	w->blen += n;
	w->buf[w->blen] = 0;
}

static void
puts_(struct rw *w, const char *s)
{
	put(w, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct rw *w, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		w->oom = true; /* our own formats stay short */
		return;
	}
	put(w, tmp, n);
}

/* Tokenizer. */
static int
tok_add(struct rw *w, enum tk_kind k, size_t off, size_t len, int line)
{
	if (w->nt == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct tok *t = realloc(w->t, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		w->t = t;
		w->cap = cap;
	}
	w->t[w->nt++] = (struct tok){k, off, len, line};
	return 0;
}

static bool
is_ident_start(int c)
{
	return isalpha(c) || c == '_' || c == '$';
}

static bool
is_ident(int c)
{
	return isalnum(c) || c == '_' || c == '$';
}

static const char *const punct3[] = {"<<=", ">>=", "...", NULL};
static const char *const punct2[] = {"->", "++", "--", "<<", ">>", "<=",
    ">=", "==", "!=", "&&", "||", "*=", "/=", "%=", "+=", "-=", "&=", "^=",
    "|=", "##", NULL};

static size_t
punct_len(const char *s, size_t left)
{
	size_t i;

	for (i = 0; left >= 3 && punct3[i]; i++)
		if (!memcmp(s, punct3[i], 3))
			return 3;
	for (i = 0; left >= 2 && punct2[i]; i++)
		if (!memcmp(s, punct2[i], 2))
			return 2;
	return 1;
}

static int
tokenize(struct rw *w)
{
	const char *s = w->src;
	size_t i = 0, n = w->len, st;
	bool bol = true; /* only blanks since the line began */
	int line = 1, sl, r;

	while (i < n) {
		char c = s[i];

		if (c == '\n') {
			line++;
			bol = true;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
		    c == '\v') {
			i++;
			continue;
		}
		if (c == '\\' && i + 1 < n &&
		    (s[i + 1] == '\n' ||
			(s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n'))) {
			i += s[i + 1] == '\n' ? 2 : 3;
			line++;
			continue;
		}
		if (c == '/' && i + 1 < n && s[i + 1] == '/') {
			while (i < n && s[i] != '\n') {
				if (s[i] == '\\' && i + 1 < n &&
				    s[i + 1] == '\n') {
					line++;
					i++;
				}
				i++;
			}
			continue;
		}
		if (c == '/' && i + 1 < n && s[i + 1] == '*') {
			sl = line;
			for (i += 2; i < n && !(s[i] == '*' && i + 1 < n &&
						  s[i + 1] == '/');
			     i++)
				if (s[i] == '\n')
					line++;
			if (i >= n)
				return rw_fail(w, sl, "unterminated comment");
			i += 2;
			continue;
		}
		st = i;
		sl = line;
		if (c == '#' && bol) {
			/* A directive: to the end of the line, continuations
			 * and comments included. */
			while (i < n && s[i] != '\n') {
				if (s[i] == '\\' && i + 1 < n &&
				    (s[i + 1] == '\n' || s[i + 1] == '\r')) {
					i++;
					if (s[i] == '\r' && i + 1 < n &&
					    s[i + 1] == '\n')
						i++;
					line++;
				} else if (s[i] == '/' && i + 1 < n &&
				    s[i + 1] == '*') {
					for (i += 2; i < n &&
					     !(s[i] == '*' && i + 1 < n &&
						 s[i + 1] == '/');
					     i++)
						if (s[i] == '\n')
							line++;
					if (i >= n)
						return rw_fail(w, sl,
						    "unterminated comment");
					i++;
				}
				i++;
			}
			if ((r = tok_add(w, TK_PP, st, i - st, sl)))
				return r;
			continue;
		}
		bol = false;
		if (c == '"' || c == '\'') {
			for (i++; i < n && s[i] != c && s[i] != '\n'; i++)
				if (s[i] == '\\' && i + 1 < n) {
					i++;
					if (s[i] == '\n')
						line++;
				}
			if (i >= n || s[i] != c)
				return rw_fail(w, sl, "unterminated %s literal",
				    c == '"' ? "string" : "character");
			i++;
			r = tok_add(w, c == '"' ? TK_STR : TK_CHR, st, i - st,
			    sl);
		} else if (is_ident_start((unsigned char)c)) {
			while (i < n && is_ident((unsigned char)s[i]))
				i++;
			/* L"..", u8"..": a prefixed literal. */
			if (i < n && (s[i] == '"' || s[i] == '\''))
				continue; /* lexed with the quote next round */
			r = tok_add(w, TK_IDENT, st, i - st, sl);
		} else if (isdigit((unsigned char)c) ||
		    (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
			while (i < n &&
			    (is_ident((unsigned char)s[i]) || s[i] == '.' ||
				((s[i] == '+' || s[i] == '-') &&
				    strchr("eEpP", s[i - 1]))))
				i++;
			r = tok_add(w, TK_NUM, st, i - st, sl);
		} else if (ispunct((unsigned char)c)) {
			i += punct_len(s + i, n - i);
			r = tok_add(w, TK_PUNCT, st, i - st, sl);
		} else {
			return rw_fail(w, sl, "unexpected character 0x%02x",
			    (unsigned char)c);
		}
		if (r)
			return r;
	}
	return 0;
}

static bool
tok_is(const struct rw *w, size_t i, const char *s)
{
	return i < w->nt && w->t[i].len == strlen(s) &&
	    !memcmp(w->src + w->t[i].off, s, w->t[i].len);
}

/* Index of the token closing the bracket at @open, or nt. */
static size_t
match_close(const struct rw *w, size_t open)
{
	int depth = 0;
	size_t i;

	for (i = open; i < w->nt; i++) {
		if (w->t[i].kind != TK_PUNCT)
			continue;
		if (tok_is(w, i, "(") || tok_is(w, i, "[") || tok_is(w, i, "{"))
			depth++;
		else if (tok_is(w, i, ")") || tok_is(w, i, "]") ||
		    tok_is(w, i, "}")) {
			if (--depth == 0)
				return i;
		}
	}
	return w->nt;
}

/* Split the arguments between @open's ( and its ) into [lo, hi) ranges. */
#define ARGS_MAX 8
struct args {
	size_t n;
	size_t lo[ARGS_MAX], hi[ARGS_MAX];
};

static int
split_args(struct rw *w, size_t open, size_t close, struct args *a)
{
	size_t i, start = open + 1;
	int depth = 0;

	a->n = 0;
	if (close == open + 1)
		return 0;
	for (i = open + 1; i <= close; i++) {
		if (i < close && w->t[i].kind == TK_PUNCT) {
			if (tok_is(w, i, "(") || tok_is(w, i, "[") ||
			    tok_is(w, i, "{"))
				depth++;
			else if (tok_is(w, i, ")") || tok_is(w, i, "]") ||
			    tok_is(w, i, "}"))
				depth--;
		}
		if (i == close || (depth == 0 && tok_is(w, i, ","))) {
			if (a->n == ARGS_MAX)
				return rw_fail(w, w->t[open].line,
				    "too many arguments");
			if (i == start)
				return rw_fail(w, w->t[open].line,
				    "empty argument");
			a->lo[a->n] = start;
			a->hi[a->n++] = i;
			start = i + 1;
		}
	}
	return 0;
}

/* The source text of tokens [lo, hi), gaps included. */
static char *
text_of(const struct rw *w, size_t lo, size_t hi)
{
	size_t a = w->t[lo].off, b = w->t[hi - 1].off + w->t[hi - 1].len;
	char *s = strndup(w->src + a, b - a), *p;

	/* One line: the definition replaces the declaration on its line. */
	for (p = s; p && *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\\')
			*p = ' ';
	return s;
}

static struct umap *
map_find(struct rw *w, size_t i)
{
	size_t m;

	if (w->t[i].kind != TK_IDENT || w->t[i].len > DM_USER_NAME_MAX)
		return NULL;
	for (m = 0; m < w->nmaps; m++)
		if (strlen(w->maps[m].name) == w->t[i].len &&
		    !memcmp(w->maps[m].name, w->src + w->t[i].off, w->t[i].len))
			return &w->maps[m];
	return NULL;
}

static int
map_add(struct rw *w, size_t nametok, enum map_form form, struct umap **out)
{
	const struct tok *t = &w->t[nametok];
	struct umap *m;

	if (t->kind != TK_IDENT)
		return rw_fail(w, t->line, "a map's name must be an identifier");
	if (t->len > DM_USER_NAME_MAX)
		return rw_fail(w, t->line,
		    "map name '%.*s...' is longer than %d characters", 16,
		    w->src + t->off, DM_USER_NAME_MAX);
	if (map_find(w, nametok))
		return rw_fail(w, t->line, "map '%.*s' is declared twice",
		    (int)t->len, w->src + t->off);
	if (w->nmaps == RW_MAPS_MAX)
		return rw_fail(w, t->line, "more than %d maps", RW_MAPS_MAX);
	m = &w->maps[w->nmaps++];
	memset(m, 0, sizeof(*m));
	memcpy(m->name, w->src + t->off, t->len);
	dm_map_objname(w->o->path, m->name, m->obj);
	for (size_t j = 0; j + 1 < w->nmaps; j++)
		if (!strcmp(w->maps[j].obj, m->obj))
			return rw_fail(w, t->line,
			    "maps '%s' and '%s' have the same object name '%s'; "
			    "rename one",
			    w->maps[j].name, m->name, m->obj);
	m->form = form;
	m->swap = -1;
	m->decl = nametok;
	m->line = t->line;
	*out = m;
	return 0;
}

static const struct {
	const char *bcc, *type;
} table_types[] = {
    {"\"hash\"", "BPF_MAP_TYPE_HASH"},
    {"\"array\"", "BPF_MAP_TYPE_ARRAY"},
    {"\"percpu_array\"", "BPF_MAP_TYPE_PERCPU_ARRAY"},
    {"\"percpu_hash\"", "BPF_MAP_TYPE_PERCPU_HASH"},
    {"\"lru_hash\"", "BPF_MAP_TYPE_LRU_HASH"},
    {"\"lru_percpu_hash\"", "BPF_MAP_TYPE_LRU_PERCPU_HASH"},
};

/*
 * BCC's declarations (src/cc/export/helpers.h): BPF_ARRAY(name[, leaf[,
 * size]]) has an int key, u64 leaves and 10240 entries by default;
 * BPF_HASH(name[, key[, leaf[, size]]]) u64 keys and leaves, 10240;
 * the PERCPU forms the same; BPF_QUEUE/BPF_STACK(name, leaf, size).
 */
static int
parse_decl(struct rw *w, size_t i)
{
	const struct tok *t = &w->t[i];
	size_t close = match_close(w, i + 1), k;
	const char *mac = w->src + t->off;
	int ml = (int)t->len;
	struct args a;
	struct umap *m;
	int r;

	if (close >= w->nt)
		return rw_fail(w, t->line, "unbalanced '(' after %.*s", ml, mac);
	if ((r = split_args(w, i + 1, close, &a)))
		return r;
#define IS(s) (t->len == strlen(s) && !memcmp(mac, s, t->len))
	if (IS("BPF_TABLE")) {
		if (a.n != 5)
			return rw_fail(w, t->line,
			    "BPF_TABLE takes 5 arguments (type, key, leaf, "
			    "name, size), not %zu",
			    a.n);
		if (a.hi[0] != a.lo[0] + 1 || w->t[a.lo[0]].kind != TK_STR)
			return rw_fail(w, t->line,
			    "BPF_TABLE's first argument must be a string");
		for (k = 0; k < sizeof(table_types) / sizeof(table_types[0]);
		     k++)
			if (tok_is(w, a.lo[0], table_types[k].bcc))
				break;
		if (k == sizeof(table_types) / sizeof(table_types[0]))
			return rw_fail(w, t->line,
			    "unknown map type %.*s (known: hash, array, "
			    "percpu_array, percpu_hash, lru_hash, "
			    "lru_percpu_hash)",
			    (int)w->t[a.lo[0]].len, w->src + w->t[a.lo[0]].off);
		if (a.hi[3] != a.lo[3] + 1)
			return rw_fail(w, t->line,
			    "BPF_TABLE's map name must be an identifier");
		if ((r = map_add(w, a.lo[3], MF_BCC, &m)))
			return r;
		m->type = table_types[k].type;
		m->key = text_of(w, a.lo[1], a.hi[1]);
		m->val = text_of(w, a.lo[2], a.hi[2]);
		m->size = text_of(w, a.lo[4], a.hi[4]);
	} else if (IS("BPF_ARRAY") || IS("BPF_PERCPU_ARRAY") ||
	    IS("BPF_HASH") || IS("BPF_PERCPU_HASH")) {
		bool array = IS("BPF_ARRAY") || IS("BPF_PERCPU_ARRAY");
		size_t max = array ? 3 : 4;

		if (a.n < 1 || a.n > max)
			return rw_fail(w, t->line,
			    "%.*s takes 1 to %zu arguments, not %zu", ml, mac,
			    max, a.n);
		if (a.hi[0] != a.lo[0] + 1)
			return rw_fail(w, t->line,
			    "%.*s's map name must be an identifier", ml, mac);
		if ((r = map_add(w, a.lo[0], MF_BCC, &m)))
			return r;
		m->type = IS("BPF_ARRAY")	    ? "BPF_MAP_TYPE_ARRAY"
		    : IS("BPF_PERCPU_ARRAY") ? "BPF_MAP_TYPE_PERCPU_ARRAY"
		    : IS("BPF_HASH")	    ? "BPF_MAP_TYPE_HASH"
					    : "BPF_MAP_TYPE_PERCPU_HASH";
		if (array) {
			m->key = strdup("int");
			m->val = a.n > 1 ? text_of(w, a.lo[1], a.hi[1])
					 : strdup("u64");
			m->size = a.n > 2 ? text_of(w, a.lo[2], a.hi[2])
					  : strdup("10240");
		} else {
			m->key = a.n > 1 ? text_of(w, a.lo[1], a.hi[1])
					 : strdup("u64");
			m->val = a.n > 2 ? text_of(w, a.lo[2], a.hi[2])
					 : strdup("u64");
			m->size = a.n > 3 ? text_of(w, a.lo[3], a.hi[3])
					  : strdup("10240");
		}
	} else if (IS("BPF_QUEUE") || IS("BPF_STACK")) {
		if (a.n != 3)
			return rw_fail(w, t->line,
			    "%.*s takes 3 arguments (name, leaf, size), not "
			    "%zu",
			    ml, mac, a.n);
		if (a.hi[0] != a.lo[0] + 1)
			return rw_fail(w, t->line,
			    "%.*s's map name must be an identifier", ml, mac);
		if ((r = map_add(w, a.lo[0], MF_BCC, &m)))
			return r;
		m->type = IS("BPF_QUEUE") ? "BPF_MAP_TYPE_QUEUE"
					  : "BPF_MAP_TYPE_STACK";
		m->keyless = true;
		m->val = text_of(w, a.lo[1], a.hi[1]);
		m->size = text_of(w, a.lo[2], a.hi[2]);
	} else {
		return rw_fail(w, t->line,
		    "unsupported declaration %.*s (supported: BPF_TABLE, "
		    "BPF_ARRAY, BPF_HASH, BPF_PERCPU_ARRAY, BPF_PERCPU_HASH, "
		    "BPF_QUEUE, BPF_STACK)",
		    ml, mac);
	}
#undef IS
	if ((m->key == NULL && !m->keyless) || !m->val || !m->size)
		return -ENOMEM;
	m->first = i;
	m->last = close;
	return 0;
}

/* Pass 1: declarations at file scope, handle_rx, swap sets. */
static int
scan(struct rw *w)
{
	int braces = 0, parens = 0, r;
	bool handle_rx = false;
	size_t i, k;

	for (i = 0; i < w->nt; i++) {
		const struct tok *t = &w->t[i];

		if (t->kind == TK_PUNCT) {
			if (tok_is(w, i, "{"))
				braces++;
			else if (tok_is(w, i, "}") && --braces < 0)
				return rw_fail(w, t->line, "unbalanced '}'");
			else if (tok_is(w, i, "("))
				parens++;
			else if (tok_is(w, i, ")") && --parens < 0)
				return rw_fail(w, t->line, "unbalanced ')'");
			continue;
		}
		if (t->kind != TK_IDENT || braces || parens)
			continue;
		if (tok_is(w, i, "handle_rx") && tok_is(w, i + 1, "("))
			handle_rx = true;
		if (t->len > 4 && !memcmp(w->src + t->off, "BPF_", 4) &&
		    tok_is(w, i + 1, "(")) {
			if ((r = parse_decl(w, i)))
				return r;
			i = w->maps[w->nmaps - 1].last;
			continue;
		}
		if (tok_is(w, i + 1, "SEC") && tok_is(w, i + 2, "(") &&
		    tok_is(w, i + 3, "\".maps\"")) {
			struct umap *m;

			if ((r = map_add(w, i, MF_PLAIN, &m)))
				return r;
		}
	}
	if (braces)
		return rw_fail(w, w->nt ? w->t[w->nt - 1].line : 1,
		    "unbalanced '{' (end of code)");
	if (parens)
		return rw_fail(w, w->nt ? w->t[w->nt - 1].line : 1,
		    "unbalanced '(' (end of code)");
	if (!handle_rx)
		return rw_fail(w, w->nt ? w->t[w->nt - 1].line : 1,
		    "the code defines no handle_rx(ctx, md) function");
	if (w->o->nswap > DM_SWAP_SETS)
		return rw_fail(w, 1,
		    "%zu swap-on-read maps in one path (at most %d)",
		    w->o->nswap, DM_SWAP_SETS);
	for (k = 0; k < w->o->nswap; k++) {
		const char *sn = w->o->swap[k];
		struct umap *m = NULL;
		size_t j;

		for (j = 0; j < w->nmaps; j++)
			if (!strcmp(w->maps[j].name, sn))
				m = &w->maps[j];
		if (!m)
			return rw_fail(w, 1,
			    "swap-on-read map '%s' is not declared in the code",
			    sn);
		if (m->form != MF_BCC)
			return rw_fail(w, m->line,
			    "swap-on-read map '%s' must be declared with a "
			    "BPF_* macro",
			    sn);
		if (m->swap >= 0)
			return rw_fail(w, m->line,
			    "swap-on-read map '%s' is listed twice", sn);
		m->swap = (int)k;
	}
	return 0;
}

/* Pass 2. */
static void emit_range(struct rw *w, size_t lo, size_t hi);

static size_t
count_nl(const char *s, size_t n)
{
	size_t k = 0;

	while (n--)
		if (*s++ == '\n')
			k++;
	return k;
}

static void
emit_gap(struct rw *w, size_t i)
{
	size_t from = i ? w->t[i - 1].off + w->t[i - 1].len : 0;

	put(w, w->src + from, w->t[i].off - from);
}

/*
 * The user's whole name on the map's variable, as a BTF declaration tag
 * "dm_map:<name>": the object name is hashed past 13 characters, so the
 * catalogue finds a metric's map by this tag, never by the object name
 * (catalog.c dm_catalog_find(); review12-dynmon-mapname).
 */
static void
emit_name_tag(struct rw *w, const struct umap *m)
{
	putf(w, "__attribute__((btf_decl_tag(\"" DM_MAP_TAG "%s\")))",
	    m->name);
}

static void
emit_map_def(struct rw *w, const struct umap *m)
{
	char p = w->o->path;

	putf(w, "struct dm_mt_%c_%s { __uint(type, %s); ", p, m->name,
	    m->type);
	if (!m->keyless) {
		puts_(w, "__type(key, ");
		puts_(w, m->key);
		puts_(w, "); ");
	}
	puts_(w, "__type(value, ");
	puts_(w, m->val);
	puts_(w, "); __uint(max_entries, ");
	puts_(w, m->size);
	puts_(w, "); }");
	if (m->swap < 0) {
		putf(w, " %s ", m->obj);
		emit_name_tag(w, m);
		puts_(w, " SEC(\".maps\")");
		return;
	}
	putf(w, " %c%d_c0 SEC(\".maps\"), %c%d_c1 SEC(\".maps\"); ", p,
	    m->swap, p, m->swap);
	putf(w, "CUB_SWAP_SET(%c%d); ", p, m->swap);
	putf(w,
	    "CUB_SWAP_MEMBER(%c%d, m, struct dm_mt_%c_%s, %d) = "
	    "{ .values = { &%c%d_c0, &%c%d_c1 } }",
	    p, m->swap, p, m->name, DM_SWAP_COPIES, p, m->swap, p, m->swap);
}

/* The map and its type, as the DM_* macros take them. */
static void
emit_mref(struct rw *w, const struct umap *m)
{
	char p = w->o->path;

	if (m->swap >= 0)
		putf(w, "DM_SWAP(%c%d, %d), __typeof__(%c%d_c0)", p, m->swap,
		    m->swap, p, m->swap);
	else
		putf(w, "&%s, __typeof__(%s)", m->obj, m->obj);
}

/*
 * An argument written &X, X a postfix expression (a.b, a->b, a[i],
 * (struct k){...}): the method copies X into dm_scratch.  Returns whether
 * it is one, and X's tokens.
 */
static bool
arg_lvalue(const struct rw *w, size_t lo, size_t hi, size_t *xlo)
{
	size_t i = lo + 1;

	if (!tok_is(w, lo, "&") || i >= hi)
		return false;
	if (tok_is(w, i, "(")) {
		/* a compound literal: (type){...} */
		size_t c = match_close(w, i);

		if (c >= hi || !tok_is(w, c + 1, "{") ||
		    match_close(w, c + 1) != hi - 1)
			return false;
		*xlo = lo + 1;
		return true;
	}
	if (w->t[i].kind != TK_IDENT)
		return false;
	for (i++; i < hi;) {
		if ((tok_is(w, i, ".") || tok_is(w, i, "->")) && i + 1 < hi &&
		    w->t[i + 1].kind == TK_IDENT)
			i += 2;
		else if (tok_is(w, i, "[")) {
			size_t c = match_close(w, i);

			if (c >= hi)
				return false;
			i = c + 1;
		} else
			return false;
	}
	*xlo = lo + 1;
	return true;
}

/* Emit argument a.lo[k]..a.hi[k] (an lvalue's X when @lv) in parens. */
static void
emit_arg(struct rw *w, const struct args *a, size_t k, bool *lv)
{
	size_t xlo = 0;

	*lv = arg_lvalue(w, a->lo[k], a->hi[k], &xlo);
	puts_(w, "(");
	emit_range(w, *lv ? xlo : a->lo[k], a->hi[k]);
	puts_(w, ")");
}

static const struct {
	const char *name;
	size_t min, max;
} methods[] = {
    {"lookup", 1, 1}, {"update", 2, 3}, {"insert", 2, 2}, {"delete", 1, 1},
    {"lookup_or_try_init", 2, 2}, {"increment", 1, 2},
    {"atomic_increment", 1, 2}, {"push", 1, 2}, {"pop", 1, 1},
    {"peek", 1, 1},
};

/*
 * MAP.method(args) at token @i (the map's name); returns the index of the
 * call's ')', or 0 after recording a refusal.
 */
static size_t
emit_method(struct rw *w, const struct umap *m, size_t i)
{
	size_t name = i + 2, open = i + 3, close = match_close(w, open), k;
	const struct tok *t = &w->t[name];
	struct args a;
	bool lv0 = false, lv1 = false;
	char *tmp;
	size_t save;

	for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++)
		if (tok_is(w, name, methods[k].name))
			break;
	if (k == sizeof(methods) / sizeof(methods[0])) {
		rw_fail(w, t->line, "unsupported map method '%.*s' of '%s'",
		    (int)t->len, w->src + t->off, m->name);
		return 0;
	}
	if (close >= w->nt || split_args(w, open, close, &a))
		return 0;
	if (a.n < methods[k].min || a.n > methods[k].max) {
		if (methods[k].max == methods[k].min)
			rw_fail(w, t->line, "%s.%s() takes %zu argument%s, not %zu",
			    m->name, methods[k].name, methods[k].min,
			    methods[k].min > 1 ? "s" : "", a.n);
		else
			rw_fail(w, t->line,
			    "%s.%s() takes %zu or %zu arguments, not %zu",
			    m->name, methods[k].name, methods[k].min,
			    methods[k].max, a.n);
		return 0;
	}
	if (m->keyless != (k >= 7))
		return rw_fail(w, t->line, "%s.%s(): %s", m->name,
			   methods[k].name,
			   m->keyless ? "a queue or stack has only push, pop "
					"and peek"
				      : "push, pop and peek are for queues "
					"and stacks"),
		       0;
	/*
	 * The macro's name depends on how the arguments are written, which
	 * is known once they are emitted: emit them into a side buffer.
	 */
	save = w->blen;
	switch (k) {
	case 0: /* lookup */
	case 3: /* delete */
		emit_arg(w, &a, 0, &lv0);
		break;
	case 1: /* update */
	case 2: /* insert */
	case 4: /* lookup_or_try_init */
		emit_arg(w, &a, 0, &lv0);
		puts_(w, ", ");
		emit_arg(w, &a, 1, &lv1);
		if (a.n > 2) {
			puts_(w, ", (");
			emit_range(w, a.lo[2], a.hi[2]);
			puts_(w, ")");
		}
		break;
	case 5: /* increment */
	case 6:
		puts_(w, "(");
		emit_range(w, a.lo[0], a.hi[0]);
		puts_(w, "), ");
		if (a.n > 1) {
			puts_(w, "(");
			emit_range(w, a.lo[1], a.hi[1]);
			puts_(w, ")");
		} else {
			puts_(w, "1");
		}
		break;
	case 7: /* push */
		emit_arg(w, &a, 0, &lv0);
		puts_(w, ", ");
		if (a.n > 1) {
			puts_(w, "(");
			emit_range(w, a.lo[1], a.hi[1]);
			puts_(w, ")");
		} else {
			puts_(w, "0");
		}
		break;
	default: /* pop, peek: the value is written: a pointer as given */
		puts_(w, "(");
		emit_range(w, a.lo[0], a.hi[0]);
		puts_(w, ")");
		break;
	}
	if (w->oom)
		return 0;
	tmp = strndup(w->buf + save, w->blen - save);
	if (!tmp) {
		w->oom = true;
		return 0;
	}
	w->blen = save;
	switch (k) {
	case 0:
		putf(w, "DM_LOOKUP_%s(", lv0 ? "V" : "P");
		break;
	case 3:
		putf(w, "DM_DELETE_%s(", lv0 ? "V" : "P");
		break;
	case 1:
	case 2:
		putf(w, "DM_UPDATE_%s%s(", lv0 ? "V" : "P", lv1 ? "V" : "P");
		break;
	case 4:
		puts_(w, "DM_LOTI(");
		break;
	case 5:
	case 6:
		puts_(w, "DM_INCR(");
		break;
	case 7:
		putf(w, "DM_PUSH_%s(", lv0 ? "V" : "P");
		break;
	case 8:
		puts_(w, "DM_POP(");
		break;
	default:
		puts_(w, "DM_PEEK(");
		break;
	}
	emit_mref(w, m);
	puts_(w, ", ");
	puts_(w, tmp);
	free(tmp);
	if (k == 1)
		puts_(w, a.n > 2 ? "" : ", BPF_ANY");
	if (k == 2)
		puts_(w, ", BPF_NOEXIST");
	if (k == 4)
		putf(w, ", %s, %s", lv0 ? "DM_ARG_CP_K" : "DM_ARG_PTR",
		    lv1 ? "DM_ARG_CP_V" : "DM_ARG_PTR");
	puts_(w, ")");
	return close;
}

static void
emit_pp(struct rw *w, size_t i)
{
	const char *s = w->src + w->t[i].off, *p = s + 1, *e = s + w->t[i].len;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (e - p > 7 && !memcmp(p, "include", 7)) {
		const char *q = p + 7;

		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		/* BCC's <uapi/linux/x.h> is the system's <linux/x.h>. */
		if (e - q > 6 && !memcmp(q, "<uapi/", 6)) {
			put(w, s, q + 1 - s);
			put(w, q + 6, e - (q + 6));
			return;
		}
	}
	put(w, s, w->t[i].len);
}

static void
emit_range(struct rw *w, size_t lo, size_t hi)
{
	size_t i, j;
	struct umap *m;

	for (i = lo; i < hi && !w->oom && !w->failed; i++) {
		const struct tok *t = &w->t[i];
		bool member;

		if (i > lo)
			emit_gap(w, i);
		if (t->kind == TK_PP) {
			emit_pp(w, i);
			continue;
		}
		m = map_find(w, i);
		member = i > 0 &&
		    (tok_is(w, i - 1, ".") || tok_is(w, i - 1, "->") ||
			tok_is(w, i - 1, "struct") || tok_is(w, i - 1, "union") ||
			tok_is(w, i - 1, "enum"));
		if (!m || member) {
			put(w, w->src + t->off, t->len);
			continue;
		}
		if (tok_is(w, i + 1, ".") && i + 3 < w->nt &&
		    w->t[i + 2].kind == TK_IDENT && tok_is(w, i + 3, "(")) {
			size_t start = w->blen, orig, got;

			j = emit_method(w, m, i);
			if (!j)
				return;
			/* Keep the lines after the call on their lines. */
			orig = count_nl(w->src + t->off,
			    w->t[j].off + 1 - t->off);
			got = w->oom ? 0 : count_nl(w->buf + start,
			    w->blen - start);
			for (; got < orig; got++)
				put(w, "\n", 1);
			i = j;
			continue;
		}
		if (m->swap >= 0) {
			rw_fail(w, t->line,
			    "swap-on-read map '%s' is used other than through "
			    "its methods",
			    m->name);
			return;
		}
		puts_(w, m->obj);
		if (m->form == MF_PLAIN && i == m->decl) {
			puts_(w, " ");
			emit_name_tag(w, m);
		}
	}
}

/* The whole unit: header, declarations replaced, the rest by emit_range. */
static void
emit_unit(struct rw *w)
{
	const char *pname = w->o->path == 'i' ? "ingress" : "egress";
	size_t i = 0, m, next, k;

	putf(w,
	    "#define DM_PATH_CHAR '%c'\n#define DM_PATH_NAME %c\n"
	    "#define CTXTYPE %s\n#include \"dynmon.bpf.h\"\n#line 1 \"%s\"\n",
	    w->o->path, w->o->path, w->o->xdp ? "xdp_md" : "__sk_buff", pname);
	if (w->nt)
		put(w, w->src, w->t[0].off);
	while (i < w->nt && !w->oom && !w->failed) {
		const struct umap *d = NULL;

		for (m = 0; m < w->nmaps; m++)
			if (w->maps[m].form == MF_BCC && w->maps[m].first >= i &&
			    (!d || w->maps[m].first < d->first))
				d = &w->maps[m];
		next = d ? d->first : w->nt;
		if (next > i) {
			emit_range(w, i, next);
			if (next < w->nt)
				emit_gap(w, next);
		}
		if (!d)
			break;
		emit_map_def(w, d);
		/* the newlines the declaration spanned, after it */
		for (k = d->first; k < d->last; k++) {
			const char *s = w->src + w->t[k].off + w->t[k].len;
			const char *e = w->src + w->t[k + 1].off;

			for (; s < e; s++)
				if (*s == '\n')
					put(w, "\n", 1);
		}
		i = d->last + 1;
		if (i < w->nt)
			emit_gap(w, i);
	}
	if (w->nt) {
		const struct tok *l = &w->t[w->nt - 1];

		put(w, w->src + l->off + l->len, w->len - (l->off + l->len));
	} else {
		put(w, w->src, w->len);
	}
	putf(w, "\n#line 1 \"<dynmon %s>\"\n", pname);
	putf(w, "DM_PATH_ENTRY(dm_%c_rx_%s, %s, %s, ", w->o->path,
	    w->o->xdp ? "xdp" : "tc", w->o->xdp ? "xdp_md" : "__sk_buff",
	    w->o->xdp ? "bpf_xdp_get_buff_len(ctx)" : "ctx->len");
	for (k = 0; k < w->o->nswap; k++)
		putf(w, "DM_FETCH(%zu, %c%zu)", k, w->o->path, k);
	puts_(w, ")\n");
}

int
dm_rewrite(const char *code, size_t len, const struct dm_rw_opts *o,
    char **out, char *err, size_t errlen)
{
	struct rw w = {.src = code, .len = len, .o = o, .err = err,
	    .errlen = errlen};
	size_t i;
	int r;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (o->path != 'i' && o->path != 'e')
		return -EINVAL;
	if (memchr(code, 0, len)) {
		r = rw_fail(&w, 1, "the code contains a NUL byte");
		goto out;
	}
	if ((r = tokenize(&w)) || (r = scan(&w)))
		goto out;
	emit_unit(&w);
	if (w.oom)
		r = -ENOMEM;
	else if (w.failed)
		r = -EINVAL;
	if (!r) {
		*out = w.buf;
		w.buf = NULL;
	}
out:
	for (i = 0; i < w.nmaps; i++) {
		free(w.maps[i].key);
		free(w.maps[i].val);
		free(w.maps[i].size);
	}
	free(w.t);
	free(w.buf);
	return r;
}
