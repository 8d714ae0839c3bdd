// SPDX-License-Identifier: BSD-2-Clause
/* cub_val: construction, access and destruction of documents. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"
#include "cubicle/val.h"

static struct cub_val *
val_new(enum cub_val_kind kind)
{
	struct cub_val *v = calloc(1, sizeof(*v));

	if (v)
		v->kind = kind;
	return v;
}

struct cub_val *
cub_val__nil(void)
{
	return val_new(CUB_V_NIL);
}

struct cub_val *
cub_val__bool(bool b)
{
	struct cub_val *v = val_new(CUB_V_BOOL);

	if (v)
		v->b = b;
	return v;
}

struct cub_val *
cub_val__int(int64_t i)
{
	struct cub_val *v;

	if (i >= 0)
		return cub_val__uint((uint64_t)i);
	v = val_new(CUB_V_INT);
	if (v)
		v->i = i;
	return v;
}

struct cub_val *
cub_val__uint(uint64_t u)
{
	struct cub_val *v = val_new(CUB_V_UINT);

	if (v)
		v->u = u;
	return v;
}

struct cub_val *
cub_val__float(double f)
{
	struct cub_val *v = val_new(CUB_V_FLOAT);

	if (v)
		v->f = f;
	return v;
}

struct cub_val *
cub_val__strn(const char *s, size_t len)
{
	struct cub_val *v;

	if (len > UINT32_MAX || memchr(s, '\0', len)) {
		errno = EINVAL;
		return NULL;
	}
	v = val_new(CUB_V_STR);
	if (!v)
		return NULL;
	v->str.ptr = malloc(len + 1);
	if (!v->str.ptr) {
		free(v);
		return NULL;
	}
	memcpy(v->str.ptr, s, len);
	v->str.ptr[len] = '\0';
	v->str.len = (uint32_t)len;
	return v;
}

struct cub_val *
cub_val__str(const char *s)
{
	return cub_val__strn(s, strlen(s));
}

struct cub_val *
cub_val__strf(const char *fmt, ...)
{
	struct cub_val *v;
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	v = cub_val__strn(s, (size_t)n);
	free(s);
	return v;
}

struct cub_val *
cub_val__bin(const void *p, size_t len)
{
	struct cub_val *v;

	if (len > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	v = val_new(CUB_V_BIN);
	if (!v)
		return NULL;
	v->bin.ptr = malloc(len ? len : 1);
	if (!v->bin.ptr) {
		free(v);
		return NULL;
	}
	if (len)
		memcpy(v->bin.ptr, p, len);
	v->bin.len = (uint32_t)len;
	return v;
}

struct cub_val *
cub_val__array(void)
{
	return val_new(CUB_V_ARRAY);
}

struct cub_val *
cub_val__map(void)
{
	return val_new(CUB_V_MAP);
}

struct cub_val *
cub_val__free(struct cub_val *v)
{
	uint32_t i;

	if (!v)
		return NULL;
	switch (v->kind) {
	case CUB_V_STR:
		free(v->str.ptr);
		break;
	case CUB_V_BIN:
		free(v->bin.ptr);
		break;
	case CUB_V_ARRAY:
		for (i = 0; i < v->arr.len; i++)
			cub_val__free(v->arr.items[i]);
		free(v->arr.items);
		if (v->arr.aux)
			v->arr.aux->free(v->arr.aux);
		break;
	case CUB_V_MAP:
		for (i = 0; i < v->map.len; i++) {
			free(v->map.items[i].key);
			cub_val__free(v->map.items[i].val);
		}
		free(v->map.items);
		break;
	default:
		break;
	}
	free(v);
	return NULL;
}

struct cub_val *
cub_val__dup(const struct cub_val *v)
{
	struct cub_val *d;
	uint32_t i;

	if (!v) {
		errno = EINVAL;
		return NULL;
	}
	switch (v->kind) {
	case CUB_V_STR:
		return cub_val__strn(v->str.ptr, v->str.len);
	case CUB_V_BIN:
		return cub_val__bin(v->bin.ptr, v->bin.len);
	case CUB_V_ARRAY:
		d = cub_val__array();
		for (i = 0; d && i < v->arr.len; i++)
			if (cub_val__push(d, cub_val__dup(v->arr.items[i])))
				d = cub_val__free(d);
		return d;
	case CUB_V_MAP:
		d = cub_val__map();
		for (i = 0; d && i < v->map.len; i++)
			if (cub_val__set(d, v->map.items[i].key,
				cub_val__dup(v->map.items[i].val)))
				d = cub_val__free(d);
		return d;
	default:
		d = val_new(v->kind);
		if (d)
			*d = *v;
		return d;
	}
}

void
cub_val__cost(const struct cub_val *v, uint64_t *bytes, uint64_t *elems)
{
	uint32_t i;

	*bytes += 9;
	*elems += 1;
	switch (v->kind) {
	case CUB_V_STR:
		*bytes += v->str.len;
		break;
	case CUB_V_BIN:
		*bytes += v->bin.len;
		break;
	case CUB_V_ARRAY:
		for (i = 0; i < v->arr.len; i++)
			cub_val__cost(v->arr.items[i], bytes, elems);
		break;
	case CUB_V_MAP:
		for (i = 0; i < v->map.len; i++) {
			*bytes += 5 + strlen(v->map.items[i].key);
			*elems += 1;
			cub_val__cost(v->map.items[i].val, bytes, elems);
		}
		break;
	default:
		break;
	}
}

bool
cub_val__equal(const struct cub_val *a, const struct cub_val *b)
{
	uint32_t i;

	if (!a || !b)
		return a == b;
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case CUB_V_NIL:
		return true;
	case CUB_V_BOOL:
		return a->b == b->b;
	case CUB_V_INT:
		return a->i == b->i;
	case CUB_V_UINT:
		return a->u == b->u;
	case CUB_V_FLOAT:
		return a->f == b->f;
	case CUB_V_STR:
		return a->str.len == b->str.len &&
		       !memcmp(a->str.ptr, b->str.ptr, a->str.len);
	case CUB_V_BIN:
		return a->bin.len == b->bin.len &&
		       !memcmp(a->bin.ptr, b->bin.ptr, a->bin.len);
	case CUB_V_ARRAY:
		if (a->arr.len != b->arr.len)
			return false;
		for (i = 0; i < a->arr.len; i++)
			if (!cub_val__equal(a->arr.items[i], b->arr.items[i]))
				return false;
		return true;
	case CUB_V_MAP:
		if (a->map.len != b->map.len)
			return false;
		for (i = 0; i < a->map.len; i++)
			if (!cub_val__equal(a->map.items[i].val,
				cub_val__get(b, a->map.items[i].key)))
				return false;
		return true;
	}
	return false;
}

static int
grow(void **items, uint32_t *cap, uint32_t len, size_t size)
{
	uint32_t ncap;
	void *p;

	if (len < *cap)
		return 0;
	if (*cap >= UINT32_MAX / 2)
		return -ENOMEM;
	ncap = *cap ? *cap * 2 : 4;
	p = reallocarray(*items, ncap, size);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = ncap;
	return 0;
}

int
cub_val__push(struct cub_val *arr, struct cub_val *item)
{
	if (!item)
		return -ENOMEM;
	if (!arr || arr->kind != CUB_V_ARRAY) {
		cub_val__free(item);
		return -EINVAL;
	}
	if (grow((void **)&arr->arr.items, &arr->arr.cap, arr->arr.len,
		sizeof(*arr->arr.items))) {
		cub_val__free(item);
		return -ENOMEM;
	}
	arr->arr.items[arr->arr.len++] = item;
	return 0;
}

static struct cub_kv *
map_find(const struct cub_val *m, const char *key)
{
	uint32_t i;

	if (!m || m->kind != CUB_V_MAP || !key)
		return NULL;
	for (i = 0; i < m->map.len; i++)
		if (!strcmp(m->map.items[i].key, key))
			return &m->map.items[i];
	return NULL;
}

struct cub_val *
cub_val__get(const struct cub_val *m, const char *key)
{
	struct cub_kv *kv = map_find(m, key);

	return kv ? kv->val : NULL;
}

int
cub_val__set(struct cub_val *m, const char *key, struct cub_val *val)
{
	struct cub_kv *kv;
	char *k;

	if (!val)
		return -ENOMEM;
	if (!m || m->kind != CUB_V_MAP || !key) {
		cub_val__free(val);
		return -EINVAL;
	}
	kv = map_find(m, key);
	if (kv) {
		cub_val__free(kv->val);
		kv->val = val;
		return 0;
	}
	k = strdup(key);
	if (!k || grow((void **)&m->map.items, &m->map.cap, m->map.len,
		      sizeof(*m->map.items))) {
		free(k);
		cub_val__free(val);
		return -ENOMEM;
	}
	m->map.items[m->map.len].key = k;
	m->map.items[m->map.len].val = val;
	m->map.len++;
	return 0;
}

struct cub_val *
cub_val__take(struct cub_val *m, const char *key)
{
	struct cub_kv *kv = map_find(m, key);
	struct cub_val *v;
	size_t idx;

	if (!kv)
		return NULL;
	v = kv->val;
	free(kv->key);
	idx = (size_t)(kv - m->map.items);
	memmove(kv, kv + 1, (m->map.len - idx - 1) * sizeof(*kv));
	m->map.len--;
	return v;
}

int
cub_val__del(struct cub_val *m, const char *key)
{
	struct cub_val *v = cub_val__take(m, key);

	if (!v)
		return -ENOENT;
	cub_val__free(v);
	return 0;
}

const char *
cub_val__as_str(const struct cub_val *v)
{
	return v && v->kind == CUB_V_STR ? v->str.ptr : NULL;
}

const char *
cub_val__get_str(const struct cub_val *m, const char *key)
{
	return cub_val__as_str(cub_val__get(m, key));
}

int
cub_val__as_u64(const struct cub_val *v, uint64_t *out)
{
	if (v && v->kind == CUB_V_UINT) {
		*out = v->u;
		return 0;
	}
	if (v && v->kind == CUB_V_INT && v->i >= 0) {
		*out = (uint64_t)v->i;
		return 0;
	}
	return -EINVAL;
}

int
cub_val__as_i64(const struct cub_val *v, int64_t *out)
{
	if (v && v->kind == CUB_V_INT) {
		*out = v->i;
		return 0;
	}
	if (v && v->kind == CUB_V_UINT && v->u <= INT64_MAX) {
		*out = (int64_t)v->u;
		return 0;
	}
	return -EINVAL;
}

int
cub_val__as_bool(const struct cub_val *v, bool *out)
{
	if (!v || v->kind != CUB_V_BOOL)
		return -EINVAL;
	*out = v->b;
	return 0;
}

/* Parses text as an address of family (AF_UNSPEC: either, by a ':'). */
static int
ip_text(const char *s, size_t len, struct cub_ip *out)
{
	char buf[INET6_ADDRSTRLEN];

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	out->family = memchr(buf, ':', len) ? AF_INET6 : AF_INET;
	out->plen = out->family == AF_INET ? 32 : 128;
	return inet_pton(out->family, buf, out->addr) == 1 ? 0 : -EINVAL;
}

int
cub_val__as_ip(const struct cub_val *v, struct cub_ip *out)
{
	if (!v || v->kind != CUB_V_STR || !out)
		return -EINVAL;
	return ip_text(v->str.ptr, v->str.len, out);
}

int
cub_val__as_ip_prefix(const struct cub_val *v, struct cub_ip *out)
{
	const char *slash, *p;
	unsigned plen = 0;

	if (!v || v->kind != CUB_V_STR || !out)
		return -EINVAL;
	slash = memchr(v->str.ptr, '/', v->str.len);
	if (!slash || ip_text(v->str.ptr, (size_t)(slash - v->str.ptr), out))
		return -EINVAL;
	p = slash + 1;
	if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 3)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		plen = plen * 10 + (unsigned)(*p - '0');
	}
	if (plen > (out->family == AF_INET ? 32u : 128u))
		return -EINVAL;
	out->plen = (uint8_t)plen;
	return 0;
}

/* A port: decimal, no sign, 0 to 65535; *end past it. */
static int
port_text(const char *s, const char **end, uint16_t *out)
{
	unsigned long v = 0;
	int d;

	for (d = 0; s[d] >= '0' && s[d] <= '9'; d++) {
		if (d == 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[d] - '0');
	}
	if (!d || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	*end = s + d;
	return 0;
}

int
cub_val__as_port_range(const struct cub_val *v, uint16_t *lo, uint16_t *hi)
{
	const char *end;

	if (!v || v->kind != CUB_V_STR || !lo || !hi ||
	    port_text(v->str.ptr, &end, lo))
		return -EINVAL;
	if (!*end) {
		*hi = *lo;
		return 0;
	}
	if (*end != ':' || port_text(end + 1, &end, hi) || *end || *lo > *hi)
		return -EINVAL;
	return 0;
}

int
cub_val__as_mac(const struct cub_val *v, uint8_t mac[6])
{
	if (!v || v->kind != CUB_V_STR || !mac ||
	    cubi_text_mac_parse(v->str.ptr, v->str.len, mac))
		return -EINVAL;
	return 0;
}

const char *
cub_val__kind_name(enum cub_val_kind kind)
{
	static const char *const names[] = {
	    [CUB_V_NIL] = "nil",
	    [CUB_V_BOOL] = "boolean",
	    [CUB_V_INT] = "integer",
	    [CUB_V_UINT] = "integer",
	    [CUB_V_FLOAT] = "float",
	    [CUB_V_STR] = "string",
	    [CUB_V_BIN] = "binary",
	    [CUB_V_ARRAY] = "array",
	    [CUB_V_MAP] = "map",
	};

	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[kind];
}
