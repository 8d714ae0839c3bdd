/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the decoders (style rule 23): cub_rpc__decode(),
 * cub_mp_decode(), cub_json_parse() and cub_yaml_parse() on the same
 * input.  Whatever decodes must encode, and decode again to the same
 * document; abort() on any mismatch.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/proto.h"
#include "cubicle/val.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
has_nan(const struct cub_val *v)
{
	uint32_t i;

	if (!v)
		return false;
	switch (v->kind) {
	case CUB_V_FLOAT:
		return isnan(v->f);
	case CUB_V_ARRAY:
		for (i = 0; i < v->arr.len; i++)
			if (has_nan(v->arr.items[i]))
				return true;
		return false;
	case CUB_V_MAP:
		for (i = 0; i < v->map.len; i++)
			if (has_nan(v->map.items[i].val))
				return true;
		return false;
	default:
		return false;
	}
}

/* NaN != NaN, so documents holding one are compared by their bytes. */
static void
assert_same(const struct cub_val *a, const struct cub_val *b)
{
	if (!has_nan(a) && !cub_val__equal(a, b))
		abort();
}

/* encode -> decode -> encode: both decodes agree, both encodings match. */
static void
mp_round_trip(const struct cub_val *v)
{
	struct cub_val *back = NULL;
	void *b1, *b2;
	size_t l1, l2;
	char err[256];

	if (cub_mp_encode(v, &b1, &l1))
		abort();
	if (cub_mp_decode(b1, l1, &back, err, sizeof(err)))
		abort();
	assert_same(v, back);
	if (cub_mp_encode(back, &b2, &l2))
		abort();
	if (l1 != l2 || memcmp(b1, b2, l1))
		abort();
	cub_val__free(back);
	free(b1);
	free(b2);
}

static void
fuzz_rpc(const uint8_t *data, size_t size)
{
	struct cub_rpc rpc, again;
	char err[256];
	size_t len = 0;
	void *buf = NULL;
	int r = -1;

	if (cub_rpc__decode(data, size, &rpc, err, sizeof(err)))
		return;
	switch (rpc.type) {
	case CUB_RPC_REQUEST:
		r = cub_rpc__encode_request(rpc.msgid, rpc.method,
		    cub_val__dup(rpc.params), &buf, &len);
		break;
	case CUB_RPC_RESPONSE:
		r = cub_rpc__encode_response(rpc.msgid,
		    rpc.error ? cub_val__dup(rpc.error) : NULL,
		    rpc.result ? cub_val__dup(rpc.result) : NULL, &buf, &len);
		break;
	case CUB_RPC_NOTIFY:
		r = cub_rpc__encode_notify(
		    rpc.method, cub_val__dup(rpc.params), &buf, &len);
		break;
	}
	if (r || cub_rpc__decode(buf, len, &again, err, sizeof(err)))
		abort();
	if (again.type != rpc.type || again.msgid != rpc.msgid ||
	    (!rpc.method != !again.method) ||
	    (rpc.method && strcmp(rpc.method, again.method)) ||
	    (!rpc.params != !again.params) || (!rpc.error != !again.error) ||
	    (!rpc.result != !again.result))
		abort();
	assert_same(rpc.params, again.params);
	assert_same(rpc.error, again.error);
	assert_same(rpc.result, again.result);
	cub_rpc__clear(&again);
	cub_rpc__clear(&rpc);
	free(buf);
}

/* JSON and YAML output of any document must not fail; JSON parses back. */
static void
emit_all(const struct cub_val *v)
{
	struct cub_val *back;
	char err[256];
	char *s;
	int pretty;

	for (pretty = 0; pretty < 2; pretty++) {
		s = cub_json_emit(v, pretty);
		if (!s)
			abort();
		back = cub_json_parse(s, strlen(s), err, sizeof(err));
		if (!back)
			abort();
		cub_val__free(back);
		free(s);
	}
	s = cub_yaml_emit(v);
	if (!s || !*s || s[strlen(s) - 1] != '\n')
		abort();
	free(s);
}

static void
fuzz_mp(const uint8_t *data, size_t size)
{
	struct cub_val *v = NULL;
	char err[256];
	int r, c;

	r = cub_mp_decode(data, size, &v, err, sizeof(err));
	c = cub_mp_check(data, size, NULL, 0);
	/* Decoding may refuse more (duplicate keys), never less. */
	if (c && r != c)
		abort();
	if (r)
		return;
	mp_round_trip(v);
	emit_all(v);
	cub_val__free(v);
}

static void
fuzz_json(const uint8_t *data, size_t size)
{
	struct cub_val *v, *back;
	char err[256];
	char *s;
	int pretty;

	v = cub_json_parse((const char *)data, size, err, sizeof(err));
	if (!v)
		return;
	for (pretty = 0; pretty < 2; pretty++) {
		s = cub_json_emit(v, pretty);
		if (!s)
			abort();
		back = cub_json_parse(s, strlen(s), err, sizeof(err));
		if (!back || !cub_val__equal(v, back))
			abort();
		cub_val__free(back);
		free(s);
	}
	mp_round_trip(v);
	s = cub_yaml_emit(v);
	if (!s)
		abort();
	free(s);
	cub_val__free(v);
}

/* What the YAML parser reads, the YAML emitter writes back the same. */
static void
fuzz_yaml(const uint8_t *data, size_t size)
{
	struct cub_val *v, *back;
	char err[256];
	char *s;

	v = cub_yaml_parse((const char *)data, size, err, sizeof(err));
	if (!v)
		return;
	s = cub_yaml_emit(v);
	if (!s)
		abort();
	back = cub_yaml_parse(s, strlen(s), err, sizeof(err));
	if (!back)
		abort();
	assert_same(v, back);
	cub_val__free(back);
	free(s);
	mp_round_trip(v);
	cub_val__free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_rpc(data, size);
	fuzz_mp(data, size);
	fuzz_json(data, size);
	fuzz_yaml(data, size);
	return 0;
}
