/* SPDX-License-Identifier: BSD-2-Clause */
/* The desired-state store file (store.c). */
#ifndef CUBICLED_STORE_H
#define CUBICLED_STORE_H

#include <stddef.h>

#include "cubicle/val.h"

/*
 * The store's caps (rule 19), its own, not the wire's: a cube's record
 * (its name, service, hash, config and ports) up to STORE_REC_BYTES_MAX
 * bytes and STORE_REC_ELEMS_MAX MessagePack elements (a list entry of
 * three fields is seven), up to STORE_RECS_MAX - 1 cubes, the file up to
 * STORE_FILE_MAX bytes.  store_save() refuses what is over them, naming
 * the cube, and writes nothing; store_load() reads all it wrote.
 */
#define STORE_REC_BYTES_MAX (128u << 20)
#define STORE_REC_ELEMS_MAX (1u << 23)
#define STORE_RECS_MAX (1u << 16)
#define STORE_FILE_MAX (4ull << 30)

/*
 * doc is {..., cubes: [record, ...]}: each cube is a record of its own.
 * Atomically replace path with doc: temp file, fsync, rename, fsync dir.
 * 0, or -errno with the failed step and file in err.
 */
int store_save(
    const char *path, const struct cub_val *doc, char *err, size_t errlen);
/*
 * Read and verify path (magic, version, length, crc32, MessagePack).
 * 0, -ENOENT when absent, -EBADMSG with a message in err when damaged or
 * not a regular file (a symbolic link, FIFO, directory or device: named
 * in err), another -errno with err set when it cannot be read.
 */
int store_load(
    const char *path, struct cub_val **doc, char *err, size_t errlen);

#endif
