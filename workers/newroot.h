/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * newroot.c: the pieces of a read-only root that a confined process
 * pivots into, shared by the worker sandbox (sandbox.c) and the helper
 * launcher (helper.c).  The caller mounts a tmpfs at a build directory
 * of its own mount namespace, adds what the root holds with these
 * functions, remounts it read-only and pivots.  Paths are the ones the
 * process will see; every file is created under the build directory.
 * Logs nothing; returns 0 or -errno.
 */
#ifndef CUBICLE_WORKERS_NEWROOT_H
#define CUBICLE_WORKERS_NEWROOT_H

/*
 * The system library directories, as the dynamic loader and its cache
 * name them: what dlopen() or a dynamically linked binary may need to
 * read.  Missing ones are skipped.
 */
#define NEWROOT_NLIBS 6
extern const char *const newroot_libs[NEWROOT_NLIBS];

/*
 * @brief **newroot_parents()** mkdir -p of @path's parent directories
 * (not @path) under @build.
 */
int newroot_parents(const char *build, const char *path);

/*
 * @brief **newroot_bind()** bind @fd (an O_PATH descriptor of a directory
 * or a regular file, opened in the caller's mount namespace before the
 * tmpfs at @build could hide its path) read-only, nosuid and nodev at
 * @path of the new root, and noexec if its own mount is.  A directory is
 * bound alone, without the mounts below it (MS_REC would bring those in
 * writable).
 * @return 0, -EINVAL if @fd is neither a directory nor a regular file,
 * or -errno.
 */
int newroot_bind(const char *build, int fd, const char *path);

/*
 * @brief **newroot_lib()** a system path (one of newroot_libs) into the
 * new root: a symbolic link is copied as a link (/lib -> usr/lib on a
 * merged /usr), anything else is bound from @fd (its O_PATH descriptor,
 * -1 if it could not be opened), a missing path is skipped.
 * @return 0, or -errno (-ENOENT: the path exists but @fd is -1).
 */
int newroot_lib(const char *build, const char *path, int fd);

#endif
