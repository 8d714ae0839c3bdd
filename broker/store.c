// SPDX-License-Identifier: BSD-2-Clause
/*
 * The desired-state store: one snapshot file, written to a temporary name,
 * fsync'd, renamed over the old one, and the directory fsync'd, so a crash
 * leaves either the old or the new state, never a mix.  Layout:
 *   "CUBSTATE" | u32 version (1) | u32 crc32 of payload | u64 payload length
 *   | payload (MessagePack)
 * all integers little-endian.  A file that fails any check is refused
 * with a message saying which.
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
#include "log.h"
#include "store.h"

#define STORE_MAGIC "CUBSTATE"
#define STORE_VERSION 1
#define STORE_HDR 24

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

int
store_save(
    const char *path, const struct cub_val *doc, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	uint8_t hdr[STORE_HDR];
	_cleanup_free_ void *buf = NULL;
	_cleanup_close_ int fd = -1;
	const char *step;
	uint32_t v32;
	uint64_t v64;
	size_t len;
	int dfd, r;

	if ((r = cub_mp_encode(doc, &buf, &len)))
		FAIL(r, "encode: %s", strerror(-r));
	memcpy(hdr, STORE_MAGIC, 8);
	v32 = htole32(STORE_VERSION);
	memcpy(hdr + 8, &v32, 4);
	v32 = htole32((uint32_t)crc32(0L, buf, (uInt)len));
	memcpy(hdr + 12, &v32, 4);
	v64 = htole64(len);
	memcpy(hdr + 16, &v64, 8);

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
	step = "write";
	if ((r = write_all(fd, hdr, sizeof(hdr))) ||
	    (r = write_all(fd, buf, len)))
		goto fail;
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
	if (st.st_size < STORE_HDR ||
	    st.st_size > STORE_HDR + CUB_MSG_MAX * 16ll) {
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
	if (version != STORE_VERSION) {
		snprintf(err, errlen, "%s: version %u, expected %u", path,
		    version, STORE_VERSION);
		return -EBADMSG;
	}
	if (len != (uint64_t)st.st_size - STORE_HDR) {
		snprintf(err, errlen,
		    "%s: header says %llu payload bytes, file has %lld", path,
		    (unsigned long long)len, (long long)st.st_size - STORE_HDR);
		return -EBADMSG;
	}
	if ((uint32_t)crc32(0L, buf + STORE_HDR, (uInt)len) != crc) {
		snprintf(
		    err, errlen, "%s: checksum mismatch (corrupted)", path);
		return -EBADMSG;
	}
	return cub_mp_decode(buf + STORE_HDR, len, doc, err, errlen);
}
