/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CUBICLE_WORKERS_SANDBOX_H
#define CUBICLE_WORKERS_SANDBOX_H

#include <sys/resource.h>
#include <sys/types.h>

/*
 * Limits and identity for a worker's sandbox. A zero limit selects the
 * default: 1 GiB of address space, 256 file descriptors, 512 processes
 * (threads count) for the worker's uid. A non-zero parent is the process
 * the worker must die with: after the uid switch the parent-death signal
 * (SIGKILL) is set again and the sandbox refuses (-ESRCH) if the parent
 * is no longer that one.
 */
struct sandbox_opts {
	uid_t uid;
	gid_t gid;
	pid_t parent;
	/*
	 * If > 0, an open file (the plugin): Landlock then lets the process
	 * read only it and the system libraries (/usr/lib, /lib, ...).
	 */
	int read_fd;
	rlim_t max_as_bytes;
	rlim_t max_nofile;
	rlim_t max_nproc;
};

/*
 * @brief **sandbox_enter()** confines the calling process for good, before
 * it loads any plugin: it switches to o->uid/o->gid with no supplementary
 * groups, sets the parent-death signal again (o->parent), empties every
 * capability set, sets no_new_privs, restricts reads with Landlock to
 * o->read_fd and the system libraries (if the kernel has Landlock),
 * installs the seccomp filter on all threads and sets rlimits. The filter
 * is final: seccomp() fails with EPERM afterwards, so plugin code cannot
 * stack or fake anything. It allows what dlopen() needs: read-only opens
 * and newfstatat() with AT_EMPTY_PATH (fstat()); stat(), access() and
 * readlink() of a path and AF_UNIX socket() or connect() fail with EACCES,
 * a new process with EPERM; other sockets, accept(), execve() kill it.
 * Threads may still be created.
 *
 * Must run as root, from the main thread, after the nng sockets are
 * dialed: no socket can be created or connected afterwards. Logs nothing.
 *
 * @param o identity and limits; uid 0 and gid 0 are refused.
 * @return 0, or -errno (-ESRCH: the parent is gone); on failure the
 * process is half-confined and the caller must exit.
 */
int sandbox_enter(const struct sandbox_opts *o);

#endif
