// SPDX-License-Identifier: BSD-2-Clause
/*
 * The desired-state store: a snapshot and a journal of the changes since
 * (below, store_journal_*).  The snapshot is written to a temporary name,
 * fsync'd, renamed over the old one, and the directory fsync'd, so a crash
 * leaves either the old or the new state, never a mix.  Layout:
 *   "CUBSTATE" | u32 version (2) | u32 crc32 of payload | u64 payload length
 *   | payload
 * all integers little-endian.  The payload is a sequence of records, each
 *   u32 length | MessagePack object
 * the first the document without its "cubes", then one record per cube.
 * Records have the store's own caps (STORE_REC_BYTES_MAX, _ELEMS_MAX),
 * far above the wire's 4 MiB and 256 Ki elements, and a save checks every
 * record it writes with the very walk a load runs, so what is written can
 * be read back.  Version 1 (one MessagePack document, written before) is
 * read too.  A file that fails any check is refused with a message saying
 * which.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cleanup.h"
#include "codec.h"
#include "log.h"
#include "store.h"

#define STORE_MAGIC "CUBSTATE"
#define STORE_VERSION 2
#define STORE_HDR 24
#define STORE_REC_HDR 4

static const struct cubi_mp_caps store_caps = {
    .bytes_max = STORE_REC_BYTES_MAX,
    .elems_max = STORE_REC_ELEMS_MAX,
};

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* What a file of this mode is, for messages. */
static const char *
file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "not a regular file";
	}
}

#define FAIL(r, ...)                                                           \
	do {                                                                   \
		snprintf(err, errlen, __VA_ARGS__);                            \
		return (r);                                                    \
	} while (0)

/* The document without its cubes: the first record. */
static struct cub_val *
store_head(const struct cub_val *doc)
{
	struct cub_val *head = cub_val__map(), *v;
	uint32_t i;

	for (i = 0; head && i < doc->map.len; i++) {
		if (!strcmp(doc->map.items[i].key, "cubes"))
			continue;
		v = cub_val__dup(doc->map.items[i].val);
		if (!v || cub_val__set(head, doc->map.items[i].key, v))
			head = cub_val__free(head);
	}
	return head;
}

/*
 * Encode one record and prove it loads: the walk a load runs, with the
 * same caps.  0, or -errno with the record named in err.
 */
static int
store_encode_rec(const struct cub_val *v, uint32_t idx, void **buf, size_t *len,
    char *err, size_t errlen)
{
	const char *name = cub_val__get_str(v, "name");
	char why[256];
	int r;

	r = cubi_mp_encode_max(v, STORE_REC_BYTES_MAX, buf, len);
	if (r == -EMSGSIZE)
		snprintf(why, sizeof(why), "over the store's cap of %u bytes",
		    STORE_REC_BYTES_MAX);
	else if (r)
		snprintf(why, sizeof(why), "%s", strerror(-r));
	else if ((r = cubi_mp_check_caps(
		      *buf, *len, &store_caps, why, sizeof(why)))) {
		free(*buf);
		*buf = NULL;
	}
	if (!r)
		return 0;
	if (idx)
		FAIL(r, "encode cube record %u%s%s%s: %s", idx,
		    name ? " ('" : "", name ?: "", name ? "')" : "", why);
	FAIL(r, "encode the store's head record: %s", why);
}

int
store_save(
    const char *path, const struct cub_val *doc, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	uint8_t hdr[STORE_HDR], rhdr[STORE_REC_HDR];
	_cleanup_close_ int fd = -1;
	const struct cub_val *cubes;
	struct cub_val *head;
	const char *step;
	uint64_t total = 0;
	uLong crc = crc32_z(0L, Z_NULL, 0);
	uint32_t v32, i, n;
	uint64_t v64;
	void *buf;
	size_t len;
	int dfd, r;

	if (!doc || doc->kind != CUB_V_MAP)
		FAIL(-EINVAL, "the document is not a map");
	cubes = cub_val__get(doc, "cubes");
	if (cubes && cubes->kind != CUB_V_ARRAY)
		FAIL(-EINVAL, "'cubes' is %s, not an array",
		    cub_val__kind_name(cubes->kind));
	n = cubes ? cubes->arr.len : 0;
	if (n > STORE_RECS_MAX - 1)
		FAIL(-EMSGSIZE, "%u cubes, over the store's cap of %u", n,
		    STORE_RECS_MAX - 1);

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		FAIL(-ENAMETOOLONG, "%s.tmp: %s", path, strerror(ENAMETOOLONG));
	/*
	 * A fresh file, never one that is there: a leftover of a crash is
	 * removed, and a link or a FIFO at the temporary path is neither
	 * followed nor opened.
	 */
	if (unlink(tmp) && errno != ENOENT) {
		r = -errno;
		FAIL(r, "remove %s: %s", tmp, strerror(-r));
	}
	fd = open(
	    tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		FAIL(r, "create %s: %s", tmp, strerror(-r));
	}
	/* The header goes last, once the checksum is known. */
	memset(hdr, 0, sizeof(hdr));
	step = "write";
	if ((r = write_all(fd, hdr, sizeof(hdr))))
		goto fail;
	/* One record in memory at a time: the head, then each cube. */
	for (i = 0; i <= n; i++) {
		if (!i) {
			head = store_head(doc);
			if (!head) {
				r = -ENOMEM;
				snprintf(err, errlen, "encode: %s",
				    strerror(ENOMEM));
				goto fail_quiet;
			}
			r = store_encode_rec(head, 0, &buf, &len, err, errlen);
			cub_val__free(head);
		} else {
			r = store_encode_rec(cubes->arr.items[i - 1], i, &buf,
			    &len, err, errlen);
		}
		if (r)
			goto fail_quiet;
		if (total + STORE_REC_HDR + len > STORE_FILE_MAX - STORE_HDR) {
			free(buf);
			r = -EMSGSIZE;
			snprintf(err, errlen,
			    "the store would be over its cap of %llu bytes "
			    "at record %u",
			    (unsigned long long)STORE_FILE_MAX, i);
			goto fail_quiet;
		}
		v32 = htole32((uint32_t)len);
		memcpy(rhdr, &v32, 4);
		crc = crc32_z(crc, rhdr, sizeof(rhdr));
		crc = crc32_z(crc, buf, len);
		total += STORE_REC_HDR + len;
		if (!(r = write_all(fd, rhdr, sizeof(rhdr))))
			r = write_all(fd, buf, len);
		free(buf);
		if (r)
			goto fail;
	}
	memcpy(hdr, STORE_MAGIC, 8);
	v32 = htole32(STORE_VERSION);
	memcpy(hdr + 8, &v32, 4);
	v32 = htole32((uint32_t)crc);
	memcpy(hdr + 12, &v32, 4);
	v64 = htole64(total);
	memcpy(hdr + 16, &v64, 8);
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		r = errno ? -errno : -EIO;
		goto fail;
	}
	step = "fsync";
	if (fsync(fd)) {
		r = -errno;
		goto fail;
	}
	step = "rename over the store";
	if (rename(tmp, path)) {
		r = -errno;
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	snprintf(err, errlen, "%s %s: %s", step, tmp, strerror(-r));
fail_quiet:
	unlink(tmp);
	return r;
}

/*
 * Open path for reading only if it is a regular file: a symbolic link is
 * not followed (a dangling one would look like no store at all), and a
 * FIFO, device or directory is refused before it is opened for reading,
 * so nothing blocks and no device sees an open().
 */
static int
store_open(const char *path, struct stat *st, char *err, size_t errlen)
{
	_cleanup_close_ int pfd = -1;
	struct stat st2;
	int fd, r;

	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		r = -errno;
		FAIL(r, "%s: %s", path, strerror(-r));
	}
	if (fstat(pfd, st)) {
		r = -errno;
		FAIL(r, "%s: %s", path, strerror(-r));
	}
	if (S_ISLNK(st->st_mode)) {
		char to[PATH_MAX];
		ssize_t n = readlinkat(pfd, "", to, sizeof(to) - 1);

		to[n > 0 ? n : 0] = '\0';
		FAIL(-EBADMSG,
		    "%s is a symbolic link (to '%s'), not a store "
		    "file; links are not followed",
		    path, to);
	}
	if (!S_ISREG(st->st_mode))
		FAIL(-EBADMSG, "%s is %s, not a store file", path,
		    file_kind(st->st_mode));
	fd = open(
	    path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		FAIL(r == -ENOENT ? -EBADMSG : r, "%s: %s", path, strerror(-r));
	}
	if (fstat(fd, &st2) || !S_ISREG(st2.st_mode) ||
	    st2.st_dev != st->st_dev || st2.st_ino != st->st_ino) {
		close(fd);
		FAIL(-EBADMSG, "%s was replaced while it was opened", path);
	}
	*st = st2;
	return fd;
}

/* Version 2: the records, back into one document. */
static int
store_parse_recs(const char *path, const uint8_t *p, uint64_t len,
    struct cub_val **doc, char *err, size_t errlen)
{
	struct cub_val *cubes = NULL, *v = NULL;
	char why[256];
	uint64_t off = 0;
	uint32_t rlen, i;
	int r;

	for (i = 0; off < len; i++) {
		if (i >= STORE_RECS_MAX) {
			r = -EBADMSG;
			snprintf(err, errlen,
			    "%s: more than %u records, over the store's cap",
			    path, STORE_RECS_MAX);
			goto fail;
		}
		if (len - off < STORE_REC_HDR) {
			r = -EBADMSG;
			snprintf(err, errlen,
			    "%s: record %u at payload offset %llu: truncated "
			    "length",
			    path, i, (unsigned long long)off);
			goto fail;
		}
		memcpy(&rlen, p + off, 4);
		rlen = le32toh(rlen);
		off += STORE_REC_HDR;
		if (rlen > len - off) {
			r = -EBADMSG;
			snprintf(err, errlen,
			    "%s: record %u at payload offset %llu declares %u "
			    "bytes but only %llu follow",
			    path, i, (unsigned long long)off - STORE_REC_HDR,
			    rlen, (unsigned long long)(len - off));
			goto fail;
		}
		r = cubi_mp_decode_caps(
		    p + off, rlen, &store_caps, &v, why, sizeof(why));
		if (!r && v->kind != CUB_V_MAP) {
			snprintf(why, sizeof(why), "%s, not a map",
			    cub_val__kind_name(v->kind));
			r = -EBADMSG;
		}
		if (r) {
			snprintf(err, errlen,
			    "%s: record %u at payload offset %llu: %s", path, i,
			    (unsigned long long)off - STORE_REC_HDR, why);
			goto fail;
		}
		off += rlen;
		if (!i) {
			*doc = v;
			cubes = cub_val__array();
			if (!cubes || cub_val__set(*doc, "cubes", cubes)) {
				r = -ENOMEM;
				v = NULL;
				snprintf(err, errlen, "%s: %s", path,
				    strerror(ENOMEM));
				goto fail;
			}
		} else if ((r = cub_val__push(cubes, v))) {
			v = NULL;
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			goto fail;
		}
		v = NULL;
	}
	if (!*doc) {
		snprintf(err, errlen, "%s: no records", path);
		return -EBADMSG;
	}
	return 0;
fail:
	if (v != *doc)
		cub_val__free(v);
	*doc = cub_val__free(*doc);
	return r;
}

int
store_load(const char *path, struct cub_val **doc, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -1;
	uint32_t version, crc;
	uint64_t len;
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int r;

	*doc = NULL;
	fd = store_open(path, &st, err, errlen);
	if (fd < 0)
		return fd;
	if (st.st_size < STORE_HDR || (uint64_t)st.st_size > STORE_FILE_MAX) {
		snprintf(err, errlen, "%s: size %lld is not that of a store",
		    path, (long long)st.st_size);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf)
		FAIL(-ENOMEM, "%s: %s", path, strerror(ENOMEM));
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			FAIL(r, "%s: read: %s", path, strerror(-r));
		}
		if (!n)
			FAIL(-EBADMSG, "%s: short read (%zu of %lld bytes)",
			    path, got, (long long)st.st_size);
		got += (size_t)n;
	}
	memcpy(&version, buf + 8, 4);
	memcpy(&crc, buf + 12, 4);
	memcpy(&len, buf + 16, 8);
	version = le32toh(version);
	crc = le32toh(crc);
	len = le64toh(len);
	if (memcmp(buf, STORE_MAGIC, 8)) {
		snprintf(
		    err, errlen, "%s: bad magic, not a cubicle store", path);
		return -EBADMSG;
	}
	if (version != STORE_VERSION && version != 1) {
		snprintf(err, errlen, "%s: version %u, expected 1 or %u", path,
		    version, STORE_VERSION);
		return -EBADMSG;
	}
	if (len != (uint64_t)st.st_size - STORE_HDR) {
		snprintf(err, errlen,
		    "%s: header says %llu payload bytes, file has %lld", path,
		    (unsigned long long)len, (long long)st.st_size - STORE_HDR);
		return -EBADMSG;
	}
	if ((uint32_t)crc32_z(0L, buf + STORE_HDR, (size_t)len) != crc) {
		snprintf(
		    err, errlen, "%s: checksum mismatch (corrupted)", path);
		return -EBADMSG;
	}
	if (version == 2)
		return store_parse_recs(
		    path, buf + STORE_HDR, len, doc, err, errlen);
	/*
	 * Version 1: one document.  Those main wrote past the wire's element
	 * cap are read with the store's.
	 */
	if (len > STORE_REC_BYTES_MAX) {
		snprintf(err, errlen,
		    "%s: a version 1 payload of %llu bytes is over the "
		    "store's cap of %u",
		    path, (unsigned long long)len, STORE_REC_BYTES_MAX);
		return -EBADMSG;
	}
	return cubi_mp_decode_caps(
	    buf + STORE_HDR, (size_t)len, &store_caps, doc, err, errlen);
}

/*
 * The journal: the changes acknowledged since the snapshot, one record
 * each, appended and fsync'd before the change is acknowledged.  Layout:
 *   "CUBJ" | u32 payload length | u64 sequence | u32 crc32 | payload
 * all little-endian, the crc over the length, the sequence and the
 * payload; the payload is one MessagePack map (store_apply()).  The
 * snapshot's head record says the last sequence it holds (journal_seq),
 * so records at or below it are skipped: a crash between a compaction's
 * rename and the journal's truncation replays nothing twice.
 */
#define JOURNAL_MAGIC "CUBJ"
#define JOURNAL_HDR 20

void
store_journal_path(const char *snap, char *out, size_t len)
{
	size_t n = strlen(snap);

	if (n > 3 && !strcmp(snap + n - 3, ".db"))
		snprintf(out, len, "%.*s.journal", (int)(n - 3), snap);
	else
		snprintf(out, len, "%s.journal", snap);
}

int
store_journal_open(struct store_journal *j, const char *snap, uint64_t seq,
    char *err, size_t errlen)
{
	struct stat st;
	int fd, pfd, r;

	j->fd = -1;
	j->seq = seq;
	j->bytes = j->recs = 0;
	j->broken = false;
	store_journal_path(snap, j->path, sizeof(j->path));
	/*
	 * Never through a link, never a FIFO or a device: what is there is
	 * looked at first (O_PATH, not followed), then opened O_NOFOLLOW and
	 * O_NONBLOCK (a FIFO put there meanwhile does not block the open)
	 * and checked again.
	 */
	pfd = open(j->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd >= 0) {
		r = fstat(pfd, &st) ? -errno : 0;
		if (!r && S_ISLNK(st.st_mode)) {
			char to[PATH_MAX];
			ssize_t n = readlinkat(pfd, "", to, sizeof(to) - 1);

			to[n > 0 ? n : 0] = '\0';
			close(pfd);
			FAIL(-EBADMSG,
			    "%s is a symbolic link (to '%s'), not a journal "
			    "file; links are not followed",
			    j->path, to);
		}
		close(pfd);
		if (r)
			FAIL(r, "%s: %s", j->path, strerror(-r));
		if (!S_ISREG(st.st_mode))
			FAIL(-EBADMSG, "%s is %s, not a journal file", j->path,
			    file_kind(st.st_mode));
	} else if (errno != ENOENT) {
		r = -errno;
		FAIL(r, "%s: %s", j->path, strerror(-r));
	}
	fd = open(j->path,
	    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
		O_NOCTTY | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		r = -errno;
		FAIL(r, "%s: %s", j->path, strerror(-r));
	}
	if (fstat(fd, &st)) {
		r = -errno;
		close(fd);
		FAIL(r, "%s: %s", j->path, strerror(-r));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		FAIL(-EBADMSG, "%s is %s, not a journal file", j->path,
		    file_kind(st.st_mode));
	}
	j->fd = fd;
	j->bytes = (uint64_t)st.st_size;
	return 0;
}

void
store_journal_close(struct store_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

int
store_journal_append(struct store_journal *j, const struct cub_val *rec,
    char *err, size_t errlen)
{
	uint8_t hdr[JOURNAL_HDR];
	const char *step = "write";
	uint32_t v32;
	uint64_t v64;
	uLong crc;
	void *buf;
	size_t len;
	int r;

	if (j->fd < 0)
		FAIL(-EBADF, "%s: the journal is not open", j->path);
	if (j->broken)
		FAIL(-EIO,
		    "%s: an earlier append failed and could not be cut off",
		    j->path);
	if ((r = store_encode_rec(rec, 0, &buf, &len, err, errlen)))
		return r;
	memcpy(hdr, JOURNAL_MAGIC, 4);
	v32 = htole32((uint32_t)len);
	memcpy(hdr + 4, &v32, 4);
	v64 = htole64(j->seq + 1);
	memcpy(hdr + 8, &v64, 8);
	crc = crc32_z(0L, hdr + 4, 12);
	crc = crc32_z(crc, buf, len);
	v32 = htole32((uint32_t)crc);
	memcpy(hdr + 16, &v32, 4);
	if (!(r = write_all(j->fd, hdr, sizeof(hdr))))
		r = write_all(j->fd, buf, len);
	free(buf);
	if (!r) {
		step = "fsync";
		if (fdatasync(j->fd))
			r = -errno;
	}
	if (r) {
		/*
		 * Not acknowledged: cut what was written off, so that the
		 * next record does not follow a torn one (a damaged
		 * journal).  When even that fails, no more appends: the
		 * caller compacts.
		 */
		if (ftruncate(j->fd, (off_t)j->bytes) || fdatasync(j->fd))
			j->broken = true;
		FAIL(r, "%s %s: %s", step, j->path, strerror(-r));
	}
	j->seq++;
	j->recs++;
	j->bytes += sizeof(hdr) + len;
	return 0;
}

int
store_journal_reset(struct store_journal *j, char *err, size_t errlen)
{
	int r;

	if (j->fd < 0)
		FAIL(-EBADF, "%s: the journal is not open", j->path);
	if (ftruncate(j->fd, 0) || fdatasync(j->fd)) {
		r = -errno;
		j->broken = true;
		FAIL(r, "truncate %s: %s", j->path, strerror(-r));
	}
	j->bytes = j->recs = 0;
	j->broken = false;
	return 0;
}

bool
store_journal_full(const struct store_journal *j, uint64_t snap_bytes)
{
	return j->broken || j->recs >= STORE_JOURNAL_RECS_MAX ||
	       (j->bytes > STORE_JOURNAL_MIN && j->bytes > snap_bytes);
}

/* Is there a whole record with a good crc at p (len bytes)? Its size. */
static uint64_t
journal_rec_ok(const uint8_t *p, uint64_t len, uint64_t *seq, uint32_t *plen)
{
	uint32_t v32, crc;
	uint64_t v64;

	if (len < JOURNAL_HDR || memcmp(p, JOURNAL_MAGIC, 4))
		return 0;
	memcpy(&v32, p + 4, 4);
	v32 = le32toh(v32);
	if (v32 > STORE_REC_BYTES_MAX || v32 > len - JOURNAL_HDR)
		return 0;
	memcpy(&v64, p + 8, 8);
	memcpy(&crc, p + 16, 4);
	if ((uint32_t)crc32_z(crc32_z(0L, p + 4, 12), p + JOURNAL_HDR, v32) !=
	    le32toh(crc))
		return 0;
	*seq = le64toh(v64);
	*plen = v32;
	return JOURNAL_HDR + (uint64_t)v32;
}

int
store_journal_replay(const char *snap, struct cub_val *doc, uint64_t after,
    struct store_replay *out, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX], why[256];
	uint64_t off = 0, seq, next = after + 1, n, k, s2;
	struct cub_val *rec;
	struct stat st;
	uint32_t plen, p2;
	size_t got = 0;
	ssize_t rd;
	int r;

	memset(out, 0, sizeof(*out));
	out->last = after;
	store_journal_path(snap, path, sizeof(path));
	fd = store_open(path, &st, err, errlen);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size > STORE_FILE_MAX)
		FAIL(-EBADMSG, "%s: size %lld is over the store's cap", path,
		    (long long)st.st_size);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		FAIL(-ENOMEM, "%s: %s", path, strerror(ENOMEM));
	while (got < (size_t)st.st_size) {
		rd = read(fd, buf + got, (size_t)st.st_size - got);
		if (rd < 0 && errno == EINTR)
			continue;
		if (rd < 0) {
			r = -errno;
			FAIL(r, "%s: read: %s", path, strerror(-r));
		}
		if (!rd)
			break;
		got += (size_t)rd;
	}
	while (off < got) {
		n = journal_rec_ok(buf + off, got - off, &seq, &plen);
		if (!n) {
			/*
			 * A bad record: the torn tail of an append that was
			 * never acknowledged, unless a good record follows
			 * it, and then the journal is damaged.
			 */
			for (k = off + 1; k + JOURNAL_HDR <= got; k++)
				if (buf[k] == 'C' &&
				    journal_rec_ok(buf + k, got - k, &s2, &p2))
					FAIL(-EBADMSG,
					    "%s: record at offset %llu is "
					    "damaged (bad header or checksum) "
					    "and a good record follows at "
					    "offset %llu",
					    path, (unsigned long long)off,
					    (unsigned long long)k);
			out->torn = got - off;
			out->torn_off = off;
			break;
		}
		if (seq <= after) {
			off += n;
			continue;
		}
		if (seq != next)
			FAIL(-EBADMSG,
			    "%s: record at offset %llu has sequence %llu, "
			    "expected %llu",
			    path, (unsigned long long)off,
			    (unsigned long long)seq, (unsigned long long)next);
		r = cubi_mp_decode_caps(buf + off + JOURNAL_HDR, plen,
		    &store_caps, &rec, why, sizeof(why));
		if (r)
			FAIL(-EBADMSG, "%s: record at offset %llu: %s", path,
			    (unsigned long long)off, why);
		r = store_apply(doc, rec, why, sizeof(why));
		cub_val__free(rec);
		if (r)
			FAIL(-EBADMSG,
			    "%s: record at offset %llu (sequence %llu) does "
			    "not apply: %s",
			    path, (unsigned long long)off,
			    (unsigned long long)seq, why);
		out->last = seq;
		out->applied++;
		next++;
		off += n;
	}
	out->bytes = got;
	return 0;
}

/*
 * Applying a record.  A record is {cube: name, put: record} (the cube's
 * whole record, replaced or added as the newest) or {cube: name, edits:
 * [edit...]}, an edit {op: "set" | "del" | "ins", path: [step...], value}
 * addressing the cube's record: a step is a map key (a string) or an
 * array index (an integer).  set replaces or adds the map key or
 * replaces the array element; del removes it; ins inserts value at the
 * index (the array's length appends).  The store applies a record without
 * the service's schema: indices are exact because a record is applied to
 * the very document it was computed against.
 */
static struct cub_val *
store_cube_rec(struct cub_val *doc, const char *name, uint32_t *idx)
{
	struct cub_val *cubes = cub_val__get(doc, "cubes");
	const char *n;
	uint32_t i;

	for (i = 0; cubes && cubes->kind == CUB_V_ARRAY && i < cubes->arr.len;
	     i++) {
		n = cub_val__get_str(cubes->arr.items[i], "name");
		if (n && !strcmp(n, name)) {
			*idx = i;
			return cubes->arr.items[i];
		}
	}
	return NULL;
}

/* Insert v (owned) at index i of arr (i <= len). */
static int
arr_insert(struct cub_val *arr, uint32_t i, struct cub_val *v)
{
	int r;

	if ((r = cub_val__push(arr, v)))
		return r;
	memmove(&arr->arr.items[i + 1], &arr->arr.items[i],
	    (arr->arr.len - 1 - i) * sizeof(*arr->arr.items));
	arr->arr.items[i] = v;
	return 0;
}

/* An index into arr the engine may have hung on it is out of date. */
static void
arr_touched(struct cub_val *arr)
{
	if (arr->arr.aux) {
		arr->arr.aux->free(arr->arr.aux);
		arr->arr.aux = NULL;
	}
}

static int
store_apply_edit(struct cub_val *rec, const struct cub_val *e, char *err,
    size_t errlen)
{
	const char *op = cub_val__get_str(e, "op");
	const struct cub_val *path = cub_val__get(e, "path");
	const struct cub_val *value = cub_val__get(e, "value"), *st;
	struct cub_val *node = rec, *v;
	uint64_t idx = 0;
	uint32_t i, last;
	bool is_idx;

	if (!op || (strcmp(op, "set") && strcmp(op, "del") && strcmp(op, "ins")))
		FAIL(-EINVAL, "edit op '%s' is not set, del or ins",
		    op ?: "(none)");
	if (!path || path->kind != CUB_V_ARRAY || !path->arr.len)
		FAIL(-EINVAL, "edit %s: no path", op);
	if (op[0] != 'd' && !value)
		FAIL(-EINVAL, "edit %s: no value", op);
	last = path->arr.len - 1;
	for (i = 0; i <= last; i++) {
		st = path->arr.items[i];
		is_idx = !cub_val__as_u64(st, &idx);
		if (!is_idx && st->kind != CUB_V_STR)
			FAIL(-EINVAL, "step %u: %s, not a key or an index", i,
			    cub_val__kind_name(st->kind));
		if (is_idx != (node->kind == CUB_V_ARRAY) ||
		    (!is_idx && node->kind != CUB_V_MAP))
			FAIL(-EINVAL, "step %u: %s into a %s", i,
			    is_idx ? "an index" : "a key",
			    cub_val__kind_name(node->kind));
		if (i == last)
			break;
		if (is_idx) {
			if (idx >= node->arr.len)
				FAIL(-EINVAL, "step %u: index %llu of %u", i,
				    (unsigned long long)idx, node->arr.len);
			node = node->arr.items[idx];
		} else if (!(node = cub_val__get(node, st->str.ptr))) {
			FAIL(-EINVAL, "step %u: no key '%s'", i,
			    st->str.ptr);
		}
	}
	st = path->arr.items[last];
	if (!is_idx) {
		if (op[0] == 'i')
			FAIL(-EINVAL, "ins at key '%s': not an index",
			    st->str.ptr);
		if (op[0] == 'd') {
			if (cub_val__del(node, st->str.ptr))
				FAIL(-EINVAL, "del: no key '%s'", st->str.ptr);
			return 0;
		}
		if (!(v = cub_val__dup(value)))
			FAIL(-ENOMEM, "%s", strerror(ENOMEM));
		return cub_val__set(node, st->str.ptr, v);
	}
	if (idx > node->arr.len || (op[0] != 'i' && idx == node->arr.len))
		FAIL(-EINVAL, "%s at index %llu of %u", op,
		    (unsigned long long)idx, node->arr.len);
	arr_touched(node);
	if (op[0] == 'd') {
		cub_val__free(node->arr.items[idx]);
		memmove(&node->arr.items[idx], &node->arr.items[idx + 1],
		    (node->arr.len - 1 - idx) * sizeof(*node->arr.items));
		node->arr.len--;
		return 0;
	}
	if (!(v = cub_val__dup(value)))
		FAIL(-ENOMEM, "%s", strerror(ENOMEM));
	if (op[0] == 'i')
		return arr_insert(node, (uint32_t)idx, v);
	cub_val__free(node->arr.items[idx]);
	node->arr.items[idx] = v;
	return 0;
}

static int store_apply_one(struct cub_val *doc, const struct cub_val *rec,
    char *err, size_t errlen);

/*
 * A record is one cube's ({cube, ...}) or a group, {group: [record...]},
 * the cubes of one request (connect, disconnect) in one checksummed
 * record, applied in order: a torn group is dropped whole like any torn
 * record.  One that does not apply is damage and stops the start, as a
 * cube's record does, so what it applied before does not matter.
 */
int
store_apply(struct cub_val *doc, const struct cub_val *rec, char *err,
    size_t errlen)
{
	const struct cub_val *group = cub_val__get(rec, "group");
	char why[300];
	uint32_t i;
	int r;

	if (!group)
		return store_apply_one(doc, rec, err, errlen);
	if (group->kind != CUB_V_ARRAY || !group->arr.len ||
	    cub_val__get(rec, "cube"))
		FAIL(-EINVAL, "a group record that is not a list of records");
	for (i = 0; i < group->arr.len; i++) {
		if (cub_val__get(group->arr.items[i], "group"))
			FAIL(-EINVAL, "group record %u: a group inside a group",
			    i);
		if ((r = store_apply_one(
			 doc, group->arr.items[i], why, sizeof(why))))
			FAIL(r, "group record %u: %s", i, why);
	}
	return 0;
}

static int
store_apply_one(struct cub_val *doc, const struct cub_val *rec, char *err,
    size_t errlen)
{
	const char *name = cub_val__get_str(rec, "cube");
	const struct cub_val *put = cub_val__get(rec, "put");
	const struct cub_val *edits = cub_val__get(rec, "edits");
	struct cub_val *cubes = cub_val__get(doc, "cubes"), *c, *v;
	uint32_t i, idx = 0;
	char why[200];
	int r;

	if (!name)
		FAIL(-EINVAL, "the record names no cube");
	if (!cubes || cubes->kind != CUB_V_ARRAY)
		FAIL(-EINVAL, "the store has no cube array");
	c = store_cube_rec(doc, name, &idx);
	if (put) {
		if (put->kind != CUB_V_MAP ||
		    strcmp(cub_val__get_str(put, "name") ?: "", name))
			FAIL(-EINVAL, "cube '%s': put of a record of another "
				      "name or shape", name);
		if (!(v = cub_val__dup(put)))
			FAIL(-ENOMEM, "%s", strerror(ENOMEM));
		if (c) {
			cub_val__free(c);
			cubes->arr.items[idx] = v;
			return 0;
		}
		/* A new cube is the newest: first, as the broker lists. */
		return arr_insert(cubes, 0, v);
	}
	if (!edits || edits->kind != CUB_V_ARRAY)
		FAIL(-EINVAL, "cube '%s': neither put nor edits", name);
	if (!c)
		FAIL(-EINVAL, "cube '%s': edits of a cube the store lacks",
		    name);
	for (i = 0; i < edits->arr.len; i++)
		if ((r = store_apply_edit(c, edits->arr.items[i], why,
			 sizeof(why))))
			FAIL(r, "cube '%s' edit %u: %s", name, i, why);
	return 0;
}

/*
 * The diff: edits that turn a into b, appended to edits with path as the
 * prefix (path is restored before returning).  -E2BIG past max edits.
 */
static int diff_val(const struct cub_val *a, const struct cub_val *b,
    struct cub_val *path, struct cub_val *edits, uint32_t max);

static int
diff_emit(const char *op, struct cub_val *path, const struct cub_val *v,
    struct cub_val *edits, uint32_t max)
{
	struct cub_val *e;

	if (edits->arr.len >= max)
		return -E2BIG;
	e = cub_val__map();
	if (!e || cub_val__set(e, "op", cub_val__str(op)) ||
	    cub_val__set(e, "path", cub_val__dup(path)) ||
	    (v && cub_val__set(e, "value", cub_val__dup(v))))
		return cub_val__free(e), -ENOMEM;
	return cub_val__push(edits, e);
}

static void
path_pop(struct cub_val *path)
{
	cub_val__free(path->arr.items[--path->arr.len]);
}

/* Recurse into a step (key or index) of the path. */
static int
diff_step(const struct cub_val *a, const struct cub_val *b,
    struct cub_val *step, struct cub_val *path, struct cub_val *edits,
    uint32_t max)
{
	int r;

	if ((r = cub_val__push(path, step)))
		return r;
	r = diff_val(a, b, path, edits, max);
	path_pop(path);
	return r;
}

static int
diff_emit_at(const char *op, struct cub_val *step, struct cub_val *path,
    const struct cub_val *v, struct cub_val *edits, uint32_t max)
{
	int r;

	if ((r = cub_val__push(path, step)))
		return r;
	r = diff_emit(op, path, v, edits, max);
	path_pop(path);
	return r;
}

static int
diff_arr(const struct cub_val *a, const struct cub_val *b,
    struct cub_val *path, struct cub_val *edits, uint32_t max)
{
	uint32_t na = a->arr.len, nb = b->arr.len, i, k;
	int r;

	if (na == nb) {
		for (i = 0; i < na; i++)
			if (!cub_val__equal(a->arr.items[i], b->arr.items[i]) &&
			    (r = diff_step(a->arr.items[i], b->arr.items[i],
				 cub_val__uint(i), path, edits, max)))
				return r;
		return 0;
	}
	if (na + 1 == nb || nb + 1 == na) {
		/* One entry added or removed: where, and is that all? */
		const struct cub_val *lo = na < nb ? a : b, *hi = na < nb ? b : a;

		for (i = 0; i < lo->arr.len; i++)
			if (!cub_val__equal(lo->arr.items[i], hi->arr.items[i]))
				break;
		for (k = i; k < lo->arr.len; k++)
			if (!cub_val__equal(
				lo->arr.items[k], hi->arr.items[k + 1]))
				break;
		if (k == lo->arr.len)
			return diff_emit_at(na < nb ? "ins" : "del",
			    cub_val__uint(i), path,
			    na < nb ? b->arr.items[i] : NULL, edits, max);
	}
	return diff_emit("set", path, b, edits, max);
}

static int
diff_val(const struct cub_val *a, const struct cub_val *b,
    struct cub_val *path, struct cub_val *edits, uint32_t max)
{
	const struct cub_val *va;
	uint32_t i;
	int r;

	if (!a || !b)
		return !a && !b ? 0
				: diff_emit(a ? "del" : "set", path, b, edits,
				      max);
	if (a->kind == CUB_V_ARRAY && b->kind == CUB_V_ARRAY)
		return diff_arr(a, b, path, edits, max);
	if (a->kind != CUB_V_MAP || b->kind != CUB_V_MAP || !path->arr.len)
		return cub_val__equal(a, b)
			   ? 0
			   : diff_emit("set", path, b, edits, max);
	for (i = 0; i < a->map.len; i++)
		if (!cub_val__get(b, a->map.items[i].key) &&
		    (r = diff_emit_at("del", cub_val__str(a->map.items[i].key),
			 path, NULL, edits, max)))
			return r;
	for (i = 0; i < b->map.len; i++) {
		va = cub_val__get(a, b->map.items[i].key);
		if (va && cub_val__equal(va, b->map.items[i].val))
			continue;
		r = va ? diff_step(va, b->map.items[i].val,
			     cub_val__str(b->map.items[i].key), path, edits,
			     max)
		       : diff_emit_at("set", cub_val__str(b->map.items[i].key),
			     path, b->map.items[i].val, edits, max);
		if (r)
			return r;
	}
	return 0;
}

int
store_diff_at(const struct cub_val *a, const struct cub_val *b,
    const struct cub_val *at, struct cub_val *edits, uint32_t max)
{
	struct cub_val *path = cub_val__dup(at);
	int r;

	if (!path || path->kind != CUB_V_ARRAY || !path->arr.len) {
		cub_val__free(path);
		return path ? -EINVAL : -ENOMEM;
	}
	r = diff_val(a, b, path, edits, max);
	cub_val__free(path);
	return r;
}

int
store_diff(const struct cub_val *a, const struct cub_val *b,
    const char *key, struct cub_val *edits, uint32_t max)
{
	struct cub_val *path = cub_val__array();
	int r;

	if (!path || cub_val__push(path, cub_val__str(key))) {
		cub_val__free(path);
		return -ENOMEM;
	}
	r = store_diff_at(a, b, path, edits, max);
	cub_val__free(path);
	return r;
}
