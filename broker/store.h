/* SPDX-License-Identifier: BSD-2-Clause */
/* The desired-state store file (store.c). */
#ifndef CUBICLED_STORE_H
#define CUBICLED_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * The journal (store_journal_*): the changes acknowledged since the
 * snapshot, appended next to it (state.db: state.journal), one
 * checksummed record each, fdatasync'd before the change is acknowledged.
 * The snapshot's head record holds journal_seq, the last record it
 * includes; a load reads the snapshot, then replays the records after
 * it.  A torn or bad last record is an append that was never
 * acknowledged and is dropped; a bad record with a good one after it is
 * damage, refused with the file and offset.  Compaction (the caller's):
 * when store_journal_full(), save a snapshot holding journal_seq = seq,
 * then store_journal_reset().
 */
#define STORE_JOURNAL_MIN (1u << 20)       /* bytes before compaction */
#define STORE_JOURNAL_RECS_MAX 100000u     /* records before compaction */

struct store_journal {
	char path[PATH_MAX];
	int fd;          /* -1: not open */
	uint64_t seq;    /* the last sequence number written */
	uint64_t bytes;  /* the journal's size */
	uint64_t recs;   /* records in it since the last reset */
	bool broken;     /* a failed append could not be cut off: compact */
};

/* The journal's path for the snapshot snap. */
void store_journal_path(const char *snap, char *out, size_t len);
/*
 * Open (create) the journal of snap for appending after sequence seq:
 * a symbolic link, FIFO, directory or device there is refused (-EBADMSG,
 * named in err).  0 or -errno.
 */
int store_journal_open(struct store_journal *j, const char *snap,
    uint64_t seq, char *err, size_t errlen);
void store_journal_close(struct store_journal *j);
/*
 * Append rec (a map, see store_apply()) as record seq + 1 and fdatasync.
 * On failure what was written is cut off (or the journal is marked broken:
 * compact) and nothing is acknowledged: -errno with the step in err.
 */
int store_journal_append(struct store_journal *j, const struct cub_val *rec,
    char *err, size_t errlen);
/* After a snapshot holding every record: empty the journal. */
int store_journal_reset(struct store_journal *j, char *err, size_t errlen);
/* Is it time to compact (a snapshot of snap_bytes)? */
bool store_journal_full(const struct store_journal *j, uint64_t snap_bytes);

struct store_replay {
	uint64_t last;     /* the last sequence number applied (or after) */
	uint64_t applied;  /* records applied */
	uint64_t bytes;    /* the journal's size */
	uint64_t torn;     /* bytes of a torn tail dropped (0: none) */
	uint64_t torn_off; /* where it began */
};
/*
 * Apply to doc (as store_load() returned it) the records of snap's
 * journal after sequence after, in order.  0 (also when there is no
 * journal), or -EBADMSG with file and offset in err (damaged, a gap in
 * the sequence, a record that does not apply), -errno.
 */
int store_journal_replay(const char *snap, struct cub_val *doc,
    uint64_t after, struct store_replay *out, char *err, size_t errlen);

/*
 * Apply one journal record to doc, without any schema: {cube, put:
 * record} replaces the cube's record or adds it first; {cube, edits:
 * [{op: set|del|ins, path: [key|index...], value}]} edits it, the path
 * starting at the cube's record; {group: [record...]} applies the
 * records of several cubes, written by one request, in order (one
 * checksummed record: all or nothing across a kill).  0, or -errno with
 * what was wrong.
 */
int store_apply(struct cub_val *doc, const struct cub_val *rec, char *err,
    size_t errlen);
/*
 * Append to edits (an array) the edits turning a into b, under the
 * record's key (a path's first step): O(size of a and b) to compare,
 * O(what changed) to write; one entry added to or removed from an array
 * is one ins or del.  0, -E2BIG past max edits (write the whole record),
 * -ENOMEM.
 */
int store_diff(const struct cub_val *a, const struct cub_val *b,
    const char *key, struct cub_val *edits, uint32_t max);
/* store_diff() of the nodes at path (an array of steps, not empty). */
int store_diff_at(const struct cub_val *a, const struct cub_val *b,
    const struct cub_val *path, struct cub_val *edits, uint32_t max);

#endif
