/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MessagePack-RPC frames (proto.h): strict decoding of the three frame
 * shapes on top of cub_mp_decode(), and their encoders.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "cubicle/proto.h"
#include "cubicle/val.h"

static const char *const frame_names[] = {
    [CUB_RPC_REQUEST] = "request",
    [CUB_RPC_RESPONSE] = "response",
    [CUB_RPC_NOTIFY] = "notification",
};

/* "a map", "an array": the kind with its article, for messages. */
static const char *
a_kind(enum cub_val_kind kind)
{
	static const char *const names[] = {
	    [CUB_V_NIL] = "nil",
	    [CUB_V_BOOL] = "a boolean",
	    [CUB_V_INT] = "a negative integer",
	    [CUB_V_UINT] = "an integer",
	    [CUB_V_FLOAT] = "a float",
	    [CUB_V_STR] = "a string",
	    [CUB_V_BIN] = "binary data",
	    [CUB_V_ARRAY] = "an array",
	    [CUB_V_MAP] = "a map",
	};

	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[kind];
}

/* Detach element i of arr so that freeing arr leaves it alone. */
static struct cub_val *
steal(struct cub_val *arr, uint32_t i)
{
	struct cub_val *v = arr->arr.items[i];

	arr->arr.items[i] = NULL;
	return v;
}

static int
get_msgid(const struct cub_val *v, uint32_t *msgid, const char *frame,
    char *err, size_t errlen)
{
	if (v->kind != CUB_V_UINT)
		return cubi_errf(-EBADMSG, err, errlen,
		    "%s msgid must be an unsigned integer, not %s", frame,
		    a_kind(v->kind));
	if (v->u > UINT32_MAX)
		return cubi_errf(-EBADMSG, err, errlen,
		    "%s msgid %" PRIu64 " does not fit in 32 bits", frame,
		    v->u);
	*msgid = (uint32_t)v->u;
	return 0;
}

static int
get_method(struct cub_val *arr, uint32_t i, char **method, const char *frame,
    char *err, size_t errlen)
{
	struct cub_val *v = arr->arr.items[i];

	if (v->kind != CUB_V_STR)
		return cubi_errf(-EBADMSG, err, errlen,
		    "%s method must be a string, not %s", frame,
		    a_kind(v->kind));
	if (!v->str.len)
		return cubi_errf(
		    -EBADMSG, err, errlen, "%s method is empty", frame);
	if (v->str.len > CUB_METHOD_MAX)
		return cubi_errf(-EMSGSIZE, err, errlen,
		    "%s method is %u bytes, over the cap of %d", frame,
		    v->str.len, CUB_METHOD_MAX);
	*method = v->str.ptr;
	v->str.ptr = NULL;
	return 0;
}

static int
get_params(struct cub_val *arr, uint32_t i, struct cub_val **params,
    const char *frame, char *err, size_t errlen)
{
	const struct cub_val *v = arr->arr.items[i];

	if (v->kind != CUB_V_MAP)
		return cubi_errf(-EBADMSG, err, errlen,
		    "%s params must be a map, not %s", frame, a_kind(v->kind));
	*params = steal(arr, i);
	return 0;
}

/* A MessagePack unsigned integer at p[*off]; 0 or -EBADMSG. */
static int
peek_uint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	size_t n, i;

	if (*off >= len)
		return -EBADMSG;
	if (p[*off] <= 0x7f) {
		*v = p[(*off)++];
		return 0;
	}
	switch (p[*off]) {
	case 0xcc:
		n = 1;
		break;
	case 0xcd:
		n = 2;
		break;
	case 0xce:
		n = 4;
		break;
	case 0xcf:
		n = 8;
		break;
	default:
		return -EBADMSG;
	}
	if (len - *off - 1 < n)
		return -EBADMSG;
	for (*v = 0, i = 1; i <= n; i++)
		*v = *v << 8 | p[*off + i];
	*off += 1 + n;
	return 0;
}

/*
 * The msgid of a frame that starts like a request, [0, msgid, ...], read
 * from the raw bytes: a frame that fails to decode further on (a bad
 * string in its params, say) still gets an error reply its sender can
 * match.  0 or -EBADMSG.
 */
static int
peek_request_msgid(const void *buf, size_t len, uint32_t *msgid)
{
	const uint8_t *p = buf;
	uint64_t n, v;
	size_t off = 1;

	if (!len)
		return -EBADMSG;
	if ((p[0] & 0xf0) == 0x90) {
		n = p[0] & 0x0f;
	} else if (p[0] == 0xdc && len >= 3) {
		n = (uint64_t)p[1] << 8 | p[2];
		off = 3;
	} else if (p[0] == 0xdd && len >= 5) {
		n = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 |
		    (uint64_t)p[3] << 8 | p[4];
		off = 5;
	} else {
		return -EBADMSG;
	}
	if (n != 4 || peek_uint(p, len, &off, &v) || v != CUB_RPC_REQUEST ||
	    peek_uint(p, len, &off, &v) || v > UINT32_MAX)
		return -EBADMSG;
	*msgid = (uint32_t)v;
	return 0;
}

int
cub_rpc__decode(
    const void *buf, size_t len, struct cub_rpc *rpc, char *err, size_t errlen)
{
	struct cub_val *v = NULL, *e;
	const char *frame;
	uint32_t want;
	int r;

	memset(rpc, 0, sizeof(*rpc));
	r = cub_mp_decode(buf, len, &v, err, errlen);
	if (r)
		goto out;
	if (v->kind != CUB_V_ARRAY) {
		r = cubi_errf(-EBADMSG, err, errlen,
		    "frame is %s, not an array", a_kind(v->kind));
		goto out;
	}
	if (!v->arr.len || v->arr.items[0]->kind != CUB_V_UINT ||
	    v->arr.items[0]->u > CUB_RPC_NOTIFY) {
		r = cubi_errf(-EBADMSG, err, errlen,
		    "frame must start with type 0, 1 or 2");
		goto out;
	}
	rpc->type = (enum cub_rpc_type)v->arr.items[0]->u;
	frame = frame_names[rpc->type];
	want = rpc->type == CUB_RPC_NOTIFY ? 3 : 4;
	if (v->arr.len != want) {
		r = cubi_errf(-EBADMSG, err, errlen,
		    "%s frame has %u elements, not %u", frame, v->arr.len,
		    want);
		goto out;
	}
	switch (rpc->type) {
	case CUB_RPC_REQUEST:
		r = get_msgid(v->arr.items[1], &rpc->msgid, frame, err, errlen);
		if (!r)
			r = get_method(v, 2, &rpc->method, frame, err, errlen);
		if (!r)
			r = get_params(v, 3, &rpc->params, frame, err, errlen);
		break;
	case CUB_RPC_RESPONSE:
		r = get_msgid(v->arr.items[1], &rpc->msgid, frame, err, errlen);
		if (r)
			break;
		e = v->arr.items[2];
		if (e->kind == CUB_V_NIL) {
			rpc->result = steal(v, 3);
		} else if (e->kind == CUB_V_MAP) {
			rpc->error = steal(v, 2);
		} else {
			r = cubi_errf(-EBADMSG, err, errlen,
			    "response error must be nil or a map, not %s",
			    a_kind(e->kind));
		}
		break;
	case CUB_RPC_NOTIFY:
		r = get_method(v, 1, &rpc->method, frame, err, errlen);
		if (!r)
			r = get_params(v, 2, &rpc->params, frame, err, errlen);
		break;
	}
out:
	cub_val__free(v);
	if (r) {
		cub_rpc__clear(rpc);
		if (!peek_request_msgid(buf, len, &rpc->msgid))
			rpc->type = CUB_RPC_REQUEST;
	}
	return r;
}

void
cub_rpc__clear(struct cub_rpc *rpc)
{
	if (!rpc)
		return;
	free(rpc->method);
	cub_val__free(rpc->params);
	cub_val__free(rpc->error);
	cub_val__free(rpc->result);
	memset(rpc, 0, sizeof(*rpc));
}

static int
check_method(const char *method)
{
	size_t n = method ? strlen(method) : 0;

	return n && n <= CUB_METHOD_MAX ? 0 : -EINVAL;
}

/*
 * Encode the array of n items; takes ownership of every item, even on
 * failure.  A NULL item (a constructor that ran out of memory) fails.
 */
static int
encode_frame(struct cub_val **items, size_t n, void **buf, size_t *len)
{
	struct cub_val *f = cub_val__array();
	int r = f ? 0 : -ENOMEM;
	size_t i;

	*buf = NULL;
	*len = 0;
	for (i = 0; i < n; i++) {
		if (r)
			cub_val__free(items[i]);
		else
			r = cub_val__push(f, items[i]);
	}
	if (!r)
		r = cub_mp_encode(f, buf, len);
	cub_val__free(f);
	return r;
}

/* Params (NULL means {}) must be a map; freed on failure. */
static int
take_params(const char *method, struct cub_val **params)
{
	if (check_method(method) || (*params && (*params)->kind != CUB_V_MAP)) {
		*params = cub_val__free(*params);
		return -EINVAL;
	}
	if (!*params)
		*params = cub_val__map();
	return *params ? 0 : -ENOMEM;
}

int
cub_rpc__encode_request(uint32_t msgid, const char *method,
    struct cub_val *params, void **buf, size_t *len)
{
	struct cub_val *items[4];
	int r;

	*buf = NULL;
	*len = 0;
	r = take_params(method, &params);
	if (r)
		return r;
	items[0] = cub_val__uint(CUB_RPC_REQUEST);
	items[1] = cub_val__uint(msgid);
	items[2] = cub_val__str(method);
	items[3] = params;
	return encode_frame(items, 4, buf, len);
}

int
cub_rpc__encode_response(uint32_t msgid, struct cub_val *error,
    struct cub_val *result, void **buf, size_t *len)
{
	struct cub_val *items[4];

	*buf = NULL;
	*len = 0;
	if (error && error->kind != CUB_V_MAP) {
		cub_val__free(error);
		cub_val__free(result);
		return -EINVAL;
	}
	if (error) {
		/* An error response carries no result. */
		cub_val__free(result);
		result = cub_val__nil();
	} else {
		error = cub_val__nil();
		if (!result)
			result = cub_val__nil();
	}
	items[0] = cub_val__uint(CUB_RPC_RESPONSE);
	items[1] = cub_val__uint(msgid);
	items[2] = error;
	items[3] = result;
	return encode_frame(items, 4, buf, len);
}

int
cub_rpc__encode_notify(
    const char *method, struct cub_val *params, void **buf, size_t *len)
{
	struct cub_val *items[3];
	int r;

	*buf = NULL;
	*len = 0;
	r = take_params(method, &params);
	if (r)
		return r;
	items[0] = cub_val__uint(CUB_RPC_NOTIFY);
	items[1] = cub_val__str(method);
	items[2] = params;
	return encode_frame(items, 3, buf, len);
}
