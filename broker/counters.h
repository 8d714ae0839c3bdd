/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Counters the broker reads itself (counters.c): the ro schema fields a
 * service binds to a map of its cube's object (struct cub_counter).
 * Called from the main thread (show) and the service threads (hello,
 * load); counters_overlay() takes b->lock, the others need no lock.
 */
#ifndef CUBICLED_COUNTERS_H
#define CUBICLED_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cubicle/schema.h"
#include "cubicle/val.h"

#define CTR_MAX 256               /* bound fields of one service (rule 19) */
#define CTR_KEYS_MAX 8            /* key fields of a list with counters */
#define CTR_OFFSET_MAX (1u << 16) /* bytes into a value */
#define CTR_VALUE_MAX (64u << 10) /* a value over every CPU */
#define CTR_PATH_MAX (2 * CUB_NAME_MAX + 2)

/* One binding, checked (counters_parse()). */
struct ctr {
	char field[CUB_NAME_MAX + 1];
	char path[CTR_PATH_MAX]; /* "ports.rx_packets", for messages */
	char map[16];
	char key_field[CUB_NAME_MAX + 1]; /* "" = the fixed key */
	uint64_t key;
	uint32_t key_size, offset, width;
};

struct ctr_table; /* a service's bindings */
struct broker;
struct cube;
struct bpf_object;

/*
 * The bindings in a service's schema (wire form, already accepted by
 * cubi_schema__parse()).  Refuses, naming the field: a binding on a field
 * that is not a ro u32/u64, a map name that is not a plain identifier of
 * at most 15 characters or is one of the broker's cub_* maps, key_size
 * other than 4 or 8, width other than 4 or 8 or wider than the field, an
 * offset not a multiple of the width, a key_field that is not an integer
 * field of the same list entry or wider than key_size, a fixed key wider
 * than key_size, bindings deeper than an entry of a cube-level list or
 * container, or inside a ro list or container, more than CTR_MAX.
 * 0 and *out (free with counters_free()), or -EINVAL and err.
 */
int counters_parse(const struct cub_val *wire, struct ctr_table **out,
    char *err, size_t errlen);
struct ctr_table *counters_free(struct ctr_table *t);
/* Whether a show needs the worker: a ro field no binding covers. */
bool counters_worker_show(const struct ctr_table *t);
uint32_t counters_count(const struct ctr_table *t);

/*
 * Before the kernel sees obj (opened, not loaded): each binding's map is
 * a map of obj (never a libbpf internal one), an array or hash of plain
 * values, with the binding's key size, and offset + width lie within one
 * value (per-CPU: one CPU's value, not the padding to 8 bytes), and a
 * value over ncpus CPUs fits CTR_VALUE_MAX.  0, or -errno and *errv
 * naming the cube, the field and the mismatch.
 */
int counters_check_object(const struct ctr_table *t, const char *cube,
    struct bpf_object *obj, int ncpus, struct cub_val **errv);

/*
 * Sum of the width-byte (4 or 8) integers at offset of each of ncpus
 * values of value_size bytes laid out as the kernel copies a per-CPU
 * value (each rounded up to 8 bytes; ncpus = 1 for other maps).
 */
uint64_t counters_sum(const void *values, uint32_t value_size, uint32_t ncpus,
    uint32_t offset, uint32_t width);

/*
 * The counters of the part of c's document in scope (the document's
 * shape: list entries carry their key fields and, when shown, their
 * key_field), read from the broker's map fds now: an overlay for
 * cubi_tree__merge_overlay(), or NULL when the service has none.  Takes
 * b->lock; one lookup per (map, key).  A key without an entry reads 0.
 */
struct cub_val *counters_overlay(
    struct broker *b, struct cube *c, const struct cub_val *scope);

#endif
