// SPDX-License-Identifier: BSD-2-Clause
/*
 * The read-only root of a confined process, piece by piece (newroot.h).
 * Once the worker sandbox's and the helper launcher's own copies, which
 * differed only in their build directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "newroot.h"

const char *const newroot_libs[NEWROOT_NLIBS] = {"/usr/lib", "/usr/lib64",
    "/usr/local/lib", "/lib", "/lib64", "/etc/ld.so.cache"};

int
newroot_parents(const char *build, const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s%s", build, path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + strlen(build) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int
newroot_bind(const char *build, int fd, const char *path)
{
	unsigned long flags =
	    MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
	char src[64], dst[PATH_MAX];
	struct statvfs vfs;
	struct stat st;
	int f, r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return -EINVAL;
	if ((r = newroot_parents(build, path)))
		return r;
	snprintf(dst, sizeof(dst), "%s%s", build, path);
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return -errno;
	} else {
		f = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (f < 0)
			return -errno;
		close(f);
	}
	if (fstatvfs(fd, &vfs) < 0)
		return -errno;
	if (vfs.f_flag & ST_NOEXEC)
		flags |= MS_NOEXEC;
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return -errno;
	if (mount(NULL, dst, NULL, flags, NULL) < 0)
		return -errno;
	return 0;
}

int
newroot_lib(const char *build, const char *path, int fd)
{
	char target[PATH_MAX], dst[PATH_MAX];
	struct stat st;
	ssize_t n;
	int r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISLNK(st.st_mode))
		return fd < 0 ? -ENOENT : newroot_bind(build, fd, path);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if ((r = newroot_parents(build, path)))
		return r;
	snprintf(dst, sizeof(dst), "%s%s", build, path);
	if (symlink(target, dst) < 0)
		return -errno;
	return 0;
}
