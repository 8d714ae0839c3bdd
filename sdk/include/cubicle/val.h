/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cub_val: the one in-memory document type of Cubicle.  Requests, replies,
 * cube configurations, schemas and the on-disk store are all trees of
 * cub_val, encoded as MessagePack on the wire and on disk, and as JSON or
 * YAML for people.  Map keys are always strings.
 *
 * Ownership: a container owns its children.  Functions that take a
 * "struct cub_val *" to store it take ownership of it even when they fail.
 */
#ifndef CUBICLE_VAL_H
#define CUBICLE_VAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum cub_val_kind {
	CUB_V_NIL = 0,
	CUB_V_BOOL,
	CUB_V_INT,  /* negative integers only after decoding */
	CUB_V_UINT, /* non-negative integers */
	CUB_V_FLOAT,
	CUB_V_STR, /* NUL-terminated, may not contain NUL */
	CUB_V_BIN,
	CUB_V_ARRAY,
	CUB_V_MAP,
};

struct cub_val;

struct cub_kv {
	char *key;
	struct cub_val *val;
};

/*
 * Private to the resource-tree engine: an index over the entries of a keyed
 * list, hung on the array that holds them.  The array owns it: it is freed
 * with the array and never copied by cub_val__dup().  Code outside the
 * engine leaves it alone.
 */
struct cub_val_aux {
	void (*free)(struct cub_val_aux *aux);
};

struct cub_val {
	enum cub_val_kind kind;
	union {
		bool b;
		int64_t i;
		uint64_t u;
		double f;
		struct {
			char *ptr;
			uint32_t len;
		} str;
		struct {
			uint8_t *ptr;
			uint32_t len;
		} bin;
		struct {
			struct cub_val **items;
			uint32_t len, cap;
			struct cub_val_aux *aux; /* engine index or NULL */
		} arr;
		struct {
			struct cub_kv *items; /* insertion order is kept */
			uint32_t len, cap;
		} map;
	};
};

/* Hard caps that every decoder enforces (rule 19). */
#define CUB_MSG_MAX (4u << 20) /* bytes in one message */
#define CUB_DEPTH_MAX 32u      /* container nesting */
#define CUB_STR_MAX (1u << 20) /* bytes in one string or bin */
#define CUB_ELEMS_MAX (1u << 18) /* container elements in one message */

/* Constructors return NULL with errno = ENOMEM on failure. */
struct cub_val *cub_val__nil(void);
struct cub_val *cub_val__bool(bool b);
struct cub_val *cub_val__int(int64_t i); /* stored as UINT when i >= 0 */
struct cub_val *cub_val__uint(uint64_t u);
struct cub_val *cub_val__float(double f);
struct cub_val *cub_val__str(const char *s);
struct cub_val *cub_val__strn(const char *s, size_t len);
struct cub_val *cub_val__strf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
struct cub_val *cub_val__bin(const void *p, size_t len);
struct cub_val *cub_val__array(void);
struct cub_val *cub_val__map(void);

/* Frees v and its children; takes NULL; returns NULL. */
struct cub_val *cub_val__free(struct cub_val *v);
/* Deep copy; NULL on ENOMEM. */
struct cub_val *cub_val__dup(const struct cub_val *v);
/* Deep equality; maps compare as sets of keys (order ignored). */
bool cub_val__equal(const struct cub_val *a, const struct cub_val *b);
/*
 * What v costs on the wire, added to *bytes (an upper bound of its
 * MessagePack bytes) and *elems (the decoder's elements: every value,
 * v's own included, and every map key), the measures of CUB_MSG_MAX and
 * CUB_ELEMS_MAX.
 */
void cub_val__cost(const struct cub_val *v, uint64_t *bytes, uint64_t *elems);

/* Array: append (takes ownership of item; frees it on failure). */
int cub_val__push(struct cub_val *arr, struct cub_val *item);

/* Map access.  get returns NULL when absent or when m is not a map. */
struct cub_val *cub_val__get(const struct cub_val *m, const char *key);
/* Insert or replace; takes ownership of val (freed on failure). */
int cub_val__set(struct cub_val *m, const char *key, struct cub_val *val);
/* Detach and return the value under key (caller owns it), NULL if absent. */
struct cub_val *cub_val__take(struct cub_val *m, const char *key);
/* Remove and free; returns 0, or -ENOENT when absent. */
int cub_val__del(struct cub_val *m, const char *key);

/* Typed getters: return the value when v has that shape. */
const char *cub_val__as_str(const struct cub_val *v); /* NULL if not STR */
int cub_val__as_u64(
    const struct cub_val *v, uint64_t *out); /* UINT, or INT >= 0 */
int cub_val__as_i64(const struct cub_val *v, int64_t *out);
int cub_val__as_bool(const struct cub_val *v, bool *out);
/* Shortcuts on maps: cub_val__as_str(cub_val__get(m, key)). */
const char *cub_val__get_str(const struct cub_val *m, const char *key);

/*
 * Typed views of the values the schema engine stores as canonical text
 * (schema.h), for a plugin to turn a field into map keys: 0, or -EINVAL
 * when v is not a string in that form.
 */
struct cub_ip {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; an IPv4 address in addr[0..3] */
	uint8_t plen;     /* prefix length; 32 or 128 for an address */
};
/* IPV4, IPV6 or IP: an address of either family. */
int cub_val__as_ip(const struct cub_val *v, struct cub_ip *out);
/* IPV4_PREFIX, IPV6_PREFIX or IP_PREFIX: "addr/len". */
int cub_val__as_ip_prefix(const struct cub_val *v, struct cub_ip *out);
/* PORT_RANGE: "lo:hi", or "p" for lo == hi == p. */
int cub_val__as_port_range(const struct cub_val *v, uint16_t *lo, uint16_t *hi);
/* MAC: "xx:xx:xx:xx:xx:xx" (either case). */
int cub_val__as_mac(const struct cub_val *v, uint8_t mac[6]);

/* Human-readable kind name ("string", "map", ...) for error messages. */
const char *cub_val__kind_name(enum cub_val_kind kind);

/*
 * MessagePack.  cub_mp_check() walks buf without allocating and verifies
 * that it holds exactly one well-formed object within the caps: every
 * declared string/bin length and element count is checked against the
 * bytes left before anything else happens, so `dd ff 00 00 00` fails at
 * once.  Extension types and non-string map keys are refused.
 * cub_mp_decode() runs that check, then decodes.  Both return 0 or
 * -EBADMSG (malformed, truncated, trailing bytes, wrong types),
 * -EMSGSIZE (over CUB_MSG_MAX / CUB_STR_MAX / CUB_ELEMS_MAX), -ELOOP (deeper than
 * CUB_DEPTH_MAX), -ENOMEM; on error they write a sentence naming what was
 * wrong and at which byte offset into err (if err != NULL).
 */
int cub_mp_check(const void *buf, size_t len, char *err, size_t errlen);
int cub_mp_decode(const void *buf, size_t len, struct cub_val **out, char *err,
    size_t errlen);
/* Encode into a malloc'd buffer; 0 or -ENOMEM/-EINVAL. */
int cub_mp_encode(const struct cub_val *v, void **buf, size_t *len);

/*
 * JSON (RFC 8259) in and out.  The parser enforces the same caps and
 * returns NULL with errno = EINVAL and a message in err naming the line
 * and column of the first error.  Integers without fraction/exponent
 * become INT/UINT, others FLOAT.
 */
struct cub_val *cub_json_parse(
    const char *s, size_t len, char *err, size_t errlen);
/* malloc'd NUL-terminated text; pretty = 2-space indent + newline. BIN is
 * emitted as a base64 string.  NULL on ENOMEM. */
char *cub_json_emit(const struct cub_val *v, bool pretty);
/* Block-style YAML 1.2 (strings quoted when needed), ends in newline. */
char *cub_yaml_emit(const struct cub_val *v);
/*
 * YAML in, parsed by libyaml: one document of mappings, sequences and
 * scalars (typed by the YAML 1.2 core schema when plain), with the caps
 * of the JSON parser.  Anchors, aliases, tags, non-scalar and duplicate
 * keys are refused.  NULL with errno = EINVAL and "line L, column C: ..."
 * in err on error.
 */
struct cub_val *cub_yaml_parse(
    const char *s, size_t len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
