/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private helpers shared by the decoders (msgpack.c, json.c, rpc.c).
 * cub_val__set() looks keys up linearly, so a decoder that filled a map
 * through it would be quadratic in the number of keys; the decoders append
 * with cubi_map_append() and check for duplicates once, in n log n.
 */
#ifndef CUBI_CODEC_H
#define CUBI_CODEC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cubicle/val.h"

/* Append without a lookup; takes ownership of key and val, even on error. */
int cubi_map_append(struct cub_val *m, char *key, struct cub_val *val);
/* A key present twice in m, or NULL; -ENOMEM leaves *dup NULL. */
int cubi_map_dupkey(const struct cub_val *m, const char **dup);
/* snprintf into err when err != NULL; returns r. */
int cubi_errf(int r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Caps other than the wire's, for the broker's store (broker/store.c):
 * its records are larger than any message.  The wire keeps CUB_MSG_MAX
 * and CUB_ELEMS_MAX through cub_mp_check/decode/encode; these take the
 * caps as a parameter and are otherwise the same walk, decoder and
 * encoder (strings stay under CUB_STR_MAX, nesting under CUB_DEPTH_MAX).
 */
struct cubi_mp_caps {
	size_t bytes_max;   /* bytes in one object */
	uint64_t elems_max; /* container elements in one object */
};
int cubi_mp_check_caps(const void *buf, size_t len,
    const struct cubi_mp_caps *caps, char *err, size_t errlen);
int cubi_mp_decode_caps(const void *buf, size_t len,
    const struct cubi_mp_caps *caps, struct cub_val **out, char *err,
    size_t errlen);
/* Encode without the wire's byte cap: -EMSGSIZE over bytes_max. */
int cubi_mp_encode_max(
    const struct cub_val *v, size_t bytes_max, void **buf, size_t *len);

#endif
