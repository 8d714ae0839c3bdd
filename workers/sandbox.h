/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CUBICLE_WORKERS_SANDBOX_H
#define CUBICLE_WORKERS_SANDBOX_H

#include <sys/resource.h>
#include <sys/types.h>

/*
 * Limits and identity for a worker's sandbox. A zero limit selects the
 * default: 1 GiB of address space, 256 file descriptors, 512 processes
 * (threads count) for the worker's uid.
 */
struct sandbox_opts {
	uid_t uid;
	gid_t gid;
	rlim_t max_as_bytes;
	rlim_t max_nofile;
	rlim_t max_nproc;
};

/*
 * @brief **sandbox_enter()** confines the calling process for good: it
 * switches to o->uid/o->gid with no supplementary groups, empties every
 * capability set, sets no_new_privs, installs a seccomp allow-list on all
 * threads (anything else kills the process with SIGSYS) and sets rlimits.
 *
 * Must run as root, from the main thread, after every file, library and
 * nng socket the worker needs is open: afterwards openat() fails with
 * EACCES, only AF_UNIX sockets can be created, accept() and new processes
 * kill the worker. Threads may still be created. Logs nothing.
 *
 * @param o identity and limits; uid 0 and gid 0 are refused.
 * @return 0, or -errno; on failure the process is half-confined and the
 * caller must exit.
 */
int sandbox_enter(const struct sandbox_opts *o);

#endif
