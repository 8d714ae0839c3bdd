// SPDX-License-Identifier: BSD-2-Clause
/*
 * The desired-state store: one snapshot file, written to a temporary name,
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
