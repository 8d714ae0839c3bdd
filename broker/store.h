/* SPDX-License-Identifier: BSD-2-Clause */
/* The desired-state store file (store.c). */
#ifndef CUBICLED_STORE_H
#define CUBICLED_STORE_H

#include <stddef.h>

#include "cubicle/val.h"

/*
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
