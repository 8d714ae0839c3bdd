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
 * @brief **sandbox_prepare()** confines the calling process for good, in
 * the loading stage: it switches to o->uid/o->gid with no supplementary
 * groups, sets the parent-death signal again (o->parent), empties every
 * capability set, sets no_new_privs, restricts reads with Landlock
 * (o->read_fd, if the kernel has it), installs the loading seccomp filter
 * on all threads and sets rlimits. The loading filter is the sealed one
 * plus what dlopen() needs: read-only opens, fstatat, and seccomp() to
 * stack the sealed filter; a new process fails with EPERM there.
 *
 * Must run as root, from the main thread, after the nng sockets are
 * dialed: no socket can be created or connected afterwards. Logs nothing.
 *
 * @param o identity and limits; uid 0 and gid 0 are refused.
 * @return 0, or -errno (-ESRCH: the parent is gone); on failure the
 * process is half-confined and the caller must exit.
 */
int sandbox_prepare(const struct sandbox_opts *o);

/*
 * @brief **sandbox_seal()** stacks the sealed seccomp filter after
 * sandbox_prepare() and the plugin's dlopen(): opening and stat'ing
 * paths fails with EACCES from now, and a new process kills.
 *
 * @return 0, or -errno; on failure the caller must exit.
 */
int sandbox_seal(void);

/*
 * @brief **sandbox_enter()** is sandbox_prepare() then sandbox_seal(), for
 * a process that loads nothing in between: afterwards openat(), stat()
 * and AF_UNIX socket() or connect() fail with EACCES; other sockets,
 * accept() and new processes kill it. Threads may still be created.
 *
 * @param o identity and limits; uid 0 and gid 0 are refused.
 * @return 0, or -errno; on failure the process is half-confined and the
 * caller must exit.
 */
int sandbox_enter(const struct sandbox_opts *o);

#endif
