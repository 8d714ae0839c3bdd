/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MessagePack <-> cub_val.  Decoding is two passes: cub_mp_check() walks
 * the bytes without allocating and proves that they hold exactly one
 * object within the caps (style rule 21), and only then does msgpack-c
 * unpack them.  msgpack-c sizes its allocations from the declared counts,
 * so the check is what keeps `dd ff 00 00 00` from asking for 64 GiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "cubicle/val.h"
#include "util/text.h"

int
cubi_errf(int r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

int
cubi_map_append(struct cub_val *m, char *key, struct cub_val *val)
{
	struct cub_kv *items;
	uint32_t ncap;

	if (!key || !val) {
		free(key);
		cub_val__free(val);
		return -ENOMEM;
	}
	if (!m || m->kind != CUB_V_MAP) {
		free(key);
		cub_val__free(val);
		return -EINVAL;
	}
	if (m->map.len == m->map.cap) {
		if (m->map.cap >= UINT32_MAX / 2) {
			free(key);
			cub_val__free(val);
			return -ENOMEM;
		}
		ncap = m->map.cap ? m->map.cap * 2 : 4;
		items = reallocarray(m->map.items, ncap, sizeof(*items));
		if (!items) {
			free(key);
			cub_val__free(val);
			return -ENOMEM;
		}
		m->map.items = items;
		m->map.cap = ncap;
	}
	m->map.items[m->map.len].key = key;
	m->map.items[m->map.len].val = val;
	m->map.len++;
	return 0;
}

static int
keycmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
cubi_map_dupkey(const struct cub_val *m, const char **dup)
{
	const char **keys;
	uint32_t i;

	*dup = NULL;
	if (!m || m->kind != CUB_V_MAP || m->map.len < 2)
		return 0;
	keys = calloc(m->map.len, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < m->map.len; i++)
		keys[i] = m->map.items[i].key;
	qsort(keys, m->map.len, sizeof(*keys), keycmp);
	for (i = 1; i < m->map.len; i++) {
		if (!strcmp(keys[i - 1], keys[i])) {
			/* Point into the map, not into the array freed below.
			 */
			*dup = keys[i];
			break;
		}
	}
	free(keys);
	return 0;
}

/* The pre-walk: a cursor over the message and where to write errors. */
struct mp_walk {
	const uint8_t *p;
	size_t len;
	size_t off;
	uint64_t elems; /* container elements seen so far */
	uint64_t elems_max;
	char *err;
	size_t errlen;
};

enum mp_shape {
	MP_SCALAR,
	MP_STR,
	MP_BIN,
	MP_ARRAY,
	MP_MAP,
};

static const char *
mp_type_name(uint8_t b)
{
	if (b <= 0x7f || b >= 0xe0)
		return "integer";
	if ((b & 0xf0) == 0x80)
		return "map";
	if ((b & 0xf0) == 0x90)
		return "array";
	if ((b & 0xe0) == 0xa0)
		return "string";
	switch (b) {
	case 0xc0:
		return "nil";
	case 0xc2:
	case 0xc3:
		return "boolean";
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return "binary";
	case 0xc7:
	case 0xc8:
	case 0xc9:
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return "extension";
	case 0xca:
	case 0xcb:
		return "float";
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3:
		return "integer";
	case 0xd9:
	case 0xda:
	case 0xdb:
		return "string";
	case 0xdc:
	case 0xdd:
		return "array";
	case 0xde:
	case 0xdf:
		return "map";
	default:
		return "invalid byte";
	}
}

static uint64_t
read_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Strings are UTF-8 without NUL, so that JSON shows them as they are. */
static int
mp_check_str(struct mp_walk *w, size_t at, size_t n)
{
	const unsigned char *p = w->p + w->off;
	size_t i = 0, run;

	while (i < n) {
		if (!p[i])
			return cubi_errf(-EBADMSG, w->err, w->errlen,
			    "string at offset %zu contains a NUL byte", at);
		run = cubi_text_utf8_len(p + i, n - i);
		if (!run)
			return cubi_errf(-EBADMSG, w->err, w->errlen,
			    "string at offset %zu has invalid UTF-8 at offset "
			    "%zu",
			    at, w->off + i);
		i += run;
	}
	w->off += n;
	return 0;
}

static int
mp_check_obj(struct mp_walk *w, unsigned depth)
{
	size_t at = w->off, left, hdr = 0, payload = 0;
	enum mp_shape shape = MP_SCALAR;
	uint64_t n = 0, i;
	uint8_t b;
	int r;

	if (w->off >= w->len)
		return cubi_errf(-EBADMSG, w->err, w->errlen,
		    "message ends at offset %zu where a value was expected",
		    at);
	b = w->p[w->off];
	if (b <= 0x7f || b >= 0xe0) {
		w->off++;
		return 0;
	}
	if ((b & 0xf0) == 0x80) {
		shape = MP_MAP;
		n = b & 0x0f;
	} else if ((b & 0xf0) == 0x90) {
		shape = MP_ARRAY;
		n = b & 0x0f;
	} else if ((b & 0xe0) == 0xa0) {
		shape = MP_STR;
		n = b & 0x1f;
	} else {
		switch (b) {
		case 0xc0:
		case 0xc2:
		case 0xc3:
			break;
		case 0xc4:
			shape = MP_BIN;
			hdr = 1;
			break;
		case 0xc5:
			shape = MP_BIN;
			hdr = 2;
			break;
		case 0xc6:
			shape = MP_BIN;
			hdr = 4;
			break;
		case 0xca:
			payload = 4;
			break;
		case 0xcb:
			payload = 8;
			break;
		case 0xcc:
		case 0xd0:
			payload = 1;
			break;
		case 0xcd:
		case 0xd1:
			payload = 2;
			break;
		case 0xce:
		case 0xd2:
			payload = 4;
			break;
		case 0xcf:
		case 0xd3:
			payload = 8;
			break;
		case 0xd9:
			shape = MP_STR;
			hdr = 1;
			break;
		case 0xda:
			shape = MP_STR;
			hdr = 2;
			break;
		case 0xdb:
			shape = MP_STR;
			hdr = 4;
			break;
		case 0xdc:
			shape = MP_ARRAY;
			hdr = 2;
			break;
		case 0xdd:
			shape = MP_ARRAY;
			hdr = 4;
			break;
		case 0xde:
			shape = MP_MAP;
			hdr = 2;
			break;
		case 0xdf:
			shape = MP_MAP;
			hdr = 4;
			break;
		case 0xc1:
			return cubi_errf(-EBADMSG, w->err, w->errlen,
			    "byte 0xc1 at offset %zu is not a MessagePack type",
			    at);
		default:
			return cubi_errf(-EBADMSG, w->err, w->errlen,
			    "extension type (byte 0x%02x) at offset %zu is not "
			    "accepted",
			    b, at);
		}
	}
	w->off++;
	left = w->len - w->off;
	if (hdr + payload > left)
		return cubi_errf(-EBADMSG, w->err, w->errlen,
		    "%s at offset %zu needs %zu more bytes but only %zu follow",
		    mp_type_name(b), at, hdr + payload, left);
	if (hdr) {
		n = read_be(w->p + w->off, hdr);
		w->off += hdr;
		left -= hdr;
	}
	w->off += payload;

	switch (shape) {
	case MP_SCALAR:
		return 0;
	case MP_STR:
	case MP_BIN:
		if (n > left)
			return cubi_errf(-EBADMSG, w->err, w->errlen,
			    "%s at offset %zu declares %" PRIu64
			    " bytes but only %zu follow",
			    mp_type_name(b), at, n, left);
		if (n > CUB_STR_MAX)
			return cubi_errf(-EMSGSIZE, w->err, w->errlen,
			    "%s at offset %zu is %" PRIu64
			    " bytes, over the cap of %u",
			    mp_type_name(b), at, n, CUB_STR_MAX);
		if (shape == MP_STR)
			return mp_check_str(w, at, (size_t)n);
		w->off += n;
		return 0;
	case MP_ARRAY:
		if (n > left)
			return cubi_errf(-EBADMSG, w->err, w->errlen,
			    "array at offset %zu declares %" PRIu64
			    " elements but only %zu bytes follow",
			    at, n, left);
		break;
	case MP_MAP:
		if (n * 2 > left)
			return cubi_errf(-EBADMSG, w->err, w->errlen,
			    "map at offset %zu declares %" PRIu64
			    " pairs but only %zu bytes follow",
			    at, n, left);
		break;
	}
	/* Bounds what decoding allocates: about 80 bytes an element. */
	w->elems += shape == MP_MAP ? 2 * n : n;
	if (w->elems > w->elems_max)
		return cubi_errf(-EMSGSIZE, w->err, w->errlen,
		    "%s at offset %zu takes the message over the cap of "
		    "%" PRIu64 " elements",
		    mp_type_name(b), at, w->elems_max);
	if (depth + 1 > CUB_DEPTH_MAX)
		return cubi_errf(-ELOOP, w->err, w->errlen,
		    "%s at offset %zu nests deeper than %u levels",
		    mp_type_name(b), at, CUB_DEPTH_MAX);
	for (i = 0; i < n; i++) {
		if (shape == MP_MAP) {
			b = w->off < w->len ? w->p[w->off] : 0xc0;
			if (w->off < w->len &&
			    strcmp(mp_type_name(b), "string"))
				return cubi_errf(-EBADMSG, w->err, w->errlen,
				    "map key at offset %zu is of type %s, not "
				    "a string",
				    w->off, mp_type_name(b));
			r = mp_check_obj(w, depth + 1);
			if (r)
				return r;
		}
		r = mp_check_obj(w, depth + 1);
		if (r)
			return r;
	}
	return 0;
}

/* The walk under caps: the wire's (cub_mp_check) or the store's. */
static int
mp_check_caps(const void *buf, size_t len, const struct cubi_mp_caps *caps,
    char *err, size_t errlen)
{
	struct mp_walk w = {
	    .p = buf,
	    .len = len,
	    .elems_max = caps->elems_max,
	    .err = err,
	    .errlen = errlen,
	};
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (len > caps->bytes_max)
		return cubi_errf(-EMSGSIZE, err, errlen,
		    "message is %zu bytes, over the cap of %zu", len,
		    caps->bytes_max);
	if (!len)
		return cubi_errf(-EBADMSG, err, errlen, "message is empty");
	if (!buf)
		return cubi_errf(-EINVAL, err, errlen, "no buffer");
	r = mp_check_obj(&w, 0);
	if (r)
		return r;
	if (w.off != len)
		return cubi_errf(-EBADMSG, err, errlen,
		    "%zu trailing bytes at offset %zu after the value",
		    len - w.off, w.off);
	return 0;
}

static const struct cubi_mp_caps wire_caps = {
    .bytes_max = CUB_MSG_MAX,
    .elems_max = CUB_ELEMS_MAX,
};

int
cub_mp_check(const void *buf, size_t len, char *err, size_t errlen)
{
	return mp_check_caps(buf, len, &wire_caps, err, errlen);
}

int
cubi_mp_check_caps(const void *buf, size_t len, const struct cubi_mp_caps *caps,
    char *err, size_t errlen)
{
	return mp_check_caps(buf, len, caps, err, errlen);
}

static int
mp_to_val(
    const msgpack_object *o, struct cub_val **out, char *err, size_t errlen)
{
	struct cub_val *v = NULL, *item;
	const char *dup;
	uint32_t i;
	char *key;
	int r;

	*out = NULL;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		v = cub_val__nil();
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		v = cub_val__bool(o->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		v = cub_val__uint(o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		v = cub_val__int(o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		v = cub_val__float(o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		/* msgpack-c gives empty strings a NULL ptr. */
		if (o->via.str.size &&
		    memchr(o->via.str.ptr, '\0', o->via.str.size))
			return cubi_errf(-EBADMSG, err, errlen,
			    "string contains a NUL byte");
		v = cub_val__strn(
		    o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		v = cub_val__bin(o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		v = cub_val__array();
		for (i = 0; v && i < o->via.array.size; i++) {
			r = mp_to_val(&o->via.array.ptr[i], &item, err, errlen);
			if (!r)
				r = cub_val__push(v, item);
			if (r) {
				cub_val__free(v);
				return r;
			}
		}
		break;
	case MSGPACK_OBJECT_MAP:
		v = cub_val__map();
		for (i = 0; v && i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;

			if (k->type != MSGPACK_OBJECT_STR ||
			    (k->via.str.size && memchr(k->via.str.ptr, '\0',
						    k->via.str.size))) {
				cub_val__free(v);
				return cubi_errf(-EBADMSG, err, errlen,
				    "map key is not a string");
			}
			r = mp_to_val(
			    &o->via.map.ptr[i].val, &item, err, errlen);
			if (r) {
				cub_val__free(v);
				return r;
			}
			key = strndup(k->via.str.size ? k->via.str.ptr : "",
			    k->via.str.size);
			r = cubi_map_append(v, key, item);
			if (r) {
				cub_val__free(v);
				return r;
			}
		}
		if (v && cubi_map_dupkey(v, &dup)) {
			cub_val__free(v);
			return -ENOMEM;
		}
		if (v && dup) {
			r = cubi_errf(-EBADMSG, err, errlen,
			    "map has the key '%.64s' twice", dup);
			cub_val__free(v);
			return r;
		}
		break;
	default:
		return cubi_errf(-EBADMSG, err, errlen,
		    "MessagePack type %d is not accepted", (int)o->type);
	}
	if (!v)
		return cubi_errf(-ENOMEM, err, errlen, "out of memory");
	*out = v;
	return 0;
}

static int
mp_decode_caps(const void *buf, size_t len, const struct cubi_mp_caps *caps,
    struct cub_val **out, char *err, size_t errlen)
{
	msgpack_unpacked res;
	msgpack_unpack_return ur;
	size_t off = 0;
	int r;

	*out = NULL;
	r = mp_check_caps(buf, len, caps, err, errlen);
	if (r)
		return r;
	msgpack_unpacked_init(&res);
	ur = msgpack_unpack_next(&res, buf, len, &off);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		r = cubi_errf(-ENOMEM, err, errlen, "out of memory");
	else if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
		r = cubi_errf(-EBADMSG, err, errlen,
		    "msgpack-c refused a message that passed the check "
		    "(status %d, offset %zu)",
		    (int)ur, off);
	else
		r = mp_to_val(&res.data, out, err, errlen);
	msgpack_unpacked_destroy(&res);
	return r;
}

int
cub_mp_decode(
    const void *buf, size_t len, struct cub_val **out, char *err, size_t errlen)
{
	return mp_decode_caps(buf, len, &wire_caps, out, err, errlen);
}

int
cubi_mp_decode_caps(const void *buf, size_t len,
    const struct cubi_mp_caps *caps, struct cub_val **out, char *err,
    size_t errlen)
{
	return mp_decode_caps(buf, len, caps, out, err, errlen);
}

static int
mp_pack(msgpack_packer *pk, const struct cub_val *v, unsigned depth)
{
	size_t klen;
	uint32_t i;
	int r;

	if (!v)
		return -EINVAL;
	switch (v->kind) {
	case CUB_V_NIL:
		return msgpack_pack_nil(pk) ? -ENOMEM : 0;
	case CUB_V_BOOL:
		r = v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		return r ? -ENOMEM : 0;
	case CUB_V_INT:
		return msgpack_pack_int64(pk, v->i) ? -ENOMEM : 0;
	case CUB_V_UINT:
		return msgpack_pack_uint64(pk, v->u) ? -ENOMEM : 0;
	case CUB_V_FLOAT:
		return msgpack_pack_double(pk, v->f) ? -ENOMEM : 0;
	case CUB_V_STR:
		if (v->str.len > CUB_STR_MAX)
			return -EINVAL;
		if (msgpack_pack_str(pk, v->str.len) ||
		    msgpack_pack_str_body(pk, v->str.ptr, v->str.len))
			return -ENOMEM;
		return 0;
	case CUB_V_BIN:
		if (v->bin.len > CUB_STR_MAX)
			return -EINVAL;
		if (msgpack_pack_bin(pk, v->bin.len) ||
		    msgpack_pack_bin_body(pk, v->bin.ptr, v->bin.len))
			return -ENOMEM;
		return 0;
	case CUB_V_ARRAY:
		if (depth + 1 > CUB_DEPTH_MAX)
			return -EINVAL;
		if (msgpack_pack_array(pk, v->arr.len))
			return -ENOMEM;
		for (i = 0; i < v->arr.len; i++) {
			r = mp_pack(pk, v->arr.items[i], depth + 1);
			if (r)
				return r;
		}
		return 0;
	case CUB_V_MAP:
		if (depth + 1 > CUB_DEPTH_MAX)
			return -EINVAL;
		if (msgpack_pack_map(pk, v->map.len))
			return -ENOMEM;
		for (i = 0; i < v->map.len; i++) {
			if (!v->map.items[i].key)
				return -EINVAL;
			klen = strlen(v->map.items[i].key);
			if (klen > CUB_STR_MAX)
				return -EINVAL;
			if (msgpack_pack_str(pk, klen) ||
			    msgpack_pack_str_body(
				pk, v->map.items[i].key, klen))
				return -ENOMEM;
			r = mp_pack(pk, v->map.items[i].val, depth + 1);
			if (r)
				return r;
		}
		return 0;
	}
	return -EINVAL;
}

static int
mp_encode_max(
    const struct cub_val *v, size_t bytes_max, void **buf, size_t *len)
{
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	int r;

	*buf = NULL;
	*len = 0;
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	r = mp_pack(&pk, v, 0);
	if (!r && sbuf.size > bytes_max)
		r = -EMSGSIZE;
	if (r) {
		msgpack_sbuffer_destroy(&sbuf);
		return r;
	}
	*len = sbuf.size;
	*buf = msgpack_sbuffer_release(&sbuf);
	return 0;
}

int
cub_mp_encode(const struct cub_val *v, void **buf, size_t *len)
{
	return mp_encode_max(v, CUB_MSG_MAX, buf, len);
}

int
cubi_mp_encode_max(
    const struct cub_val *v, size_t bytes_max, void **buf, size_t *len)
{
	return mp_encode_max(v, bytes_max, buf, len);
}
