/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CUBICLE_WORKERS_SANDBOX_H
#define CUBICLE_WORKERS_SANDBOX_H

#include <sys/resource.h>
#include <sys/types.h>

/*
 * Where the plugin file (sandbox_opts.read_fd) is in the worker's root,
 * the path to dlopen() once the sandbox is entered.
 */
#define SANDBOX_PLUGIN "/plugin.so"

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
	 * If > 0, an open regular file (the plugin): it is bound read-only
	 * at SANDBOX_PLUGIN in the worker's root, and Landlock then lets the
	 * process read only it and the system libraries (/usr/lib, /lib,
	 * ...).
	 */
	int read_fd;
	rlim_t max_as_bytes;
	rlim_t max_nofile;
	rlim_t max_nproc;
};

/*
 * @brief **sandbox_enter()** confines the calling process for good, before
 * it loads any plugin: it enters a mount namespace of its own whose root
 * is a read-only tmpfs holding only the plugin (at SANDBOX_PLUGIN) and
 * the system library directories, bound read-only, so that no other path
 * names anything (newfstatat() or an O_PATH open of a host path fails
 * with ENOENT) and the working directory is "/"; it switches to
 * o->uid/o->gid with no supplementary groups, sets the parent-death
 * signal again (o->parent), empties every capability set, sets
 * no_new_privs, restricts reads with Landlock to o->read_fd and the
 * system libraries (if the kernel has Landlock), installs the seccomp
 * filter on all threads and sets rlimits. The filter is final: seccomp()
 * fails with EPERM afterwards, so plugin code cannot stack or fake
 * anything. It allows what dlopen() needs: read-only opens and
 * newfstatat() with AT_EMPTY_PATH (fstat()); stat(), access() and
 * readlink() of a path and AF_UNIX socket() or connect() fail with EACCES,
 * a new process with EPERM; other sockets, accept(), execve() kill it.
 * Threads may still be created.
 *
 * Must run as root, from the main thread, after the nng sockets are
 * dialed: no socket can be created or connected afterwards, and their
 * directory is not in the new root. Descriptors opened before stay
 * usable. Logs nothing.
 *
 * @param o identity and limits; uid 0 and gid 0 are refused.
 * @return 0, or -errno (-ESRCH: the parent is gone; -EINVAL: read_fd is
 * not a regular file, and nothing changed; -ESTALE: the plugin's path
 * names another file now); on failure the process is half-confined and
 * the caller must exit.
 */
int sandbox_enter(const struct sandbox_opts *o);

/*
 * @brief **sandbox_server_confine()** confines cubicle-gateway, which has
 * already left root (or never had it): it checks that no capability is
 * left (dropping any it may), sets no_new_privs and installs the worker's
 * seccomp filter with a server's additions: socket(AF_UNIX) and connect()
 * (nng re-dials the broker), accept4() on the listener opened before,
 * getdents64() (/proc/self/fd), rt_sigtimedwait().  On all threads; final.
 * @return 0, or -errno (then the caller must exit).
 */
int sandbox_server_confine(void);

#endif
