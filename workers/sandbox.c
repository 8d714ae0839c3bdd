/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker sandbox. One function per step, called in this fixed order by
 * sandbox_enter(): ids, capabilities, no_new_privs, seccomp, rlimits.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "sandbox.h"

#define SANDBOX_DEFAULT_AS (1024ULL * 1024 * 1024)
#define SANDBOX_DEFAULT_NOFILE 256
#define SANDBOX_DEFAULT_NPROC 512

/*
 * AddressSanitizer reserves terabytes of shadow address space at start, so
 * any RLIMIT_AS makes its next mmap() fail: sanitizer builds go without it.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_LIMIT_AS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_LIMIT_AS 0
#endif
#endif
#ifndef SANDBOX_LIMIT_AS
#define SANDBOX_LIMIT_AS 1
#endif

/*
 * System calls a sandboxed worker may make with any arguments: what the
 * worker loop, glibc (malloc, pthreads, stdio, abort), msgpack-c and nng
 * 1.5.2 (epoll poller, eventfd, IPC pipes, timers) were seen to use under
 * strace -f. Calls that need their arguments checked are in
 * sandbox_seccomp() below.
 */
static const char *const sandbox_allowed[] = {
    /* I/O on descriptors that are already open. */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "close",
    "fstat",
    "newfstatat",
    "lseek",
    "fcntl",
    /* Memory. */
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "brk",
    "mremap",
    /* Threads, locks, time. */
    "futex",
    "set_robust_list",
    "rseq",
    "sched_yield",
    "sched_getaffinity",
    "gettid",
    "getpid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getrandom",
    "clock_gettime",
    "clock_nanosleep",
    "nanosleep",
    "restart_syscall",
    "exit",
    "exit_group",
    /* Signals of our own. */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    /* nng's poller and notification descriptors. */
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "eventfd2",
    "pipe2",
    "poll",
    "ppoll",
    /* nng IPC pipes: dialing, data, peer credentials. */
    "connect",
    "sendmsg",
    "recvmsg",
    "sendto",
    "recvfrom",
    "shutdown",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
};

/* Step 1: leave root for o->uid/o->gid with no supplementary groups. */
static int
sandbox_ids(const struct sandbox_opts *o)
{
	if (o->uid == 0 || o->gid == 0)
		return -EINVAL;
	/*
	 * Keep the permitted set across the uid change so the next step still
	 * holds CAP_SETPCAP, which emptying the bounding set needs. glibc
	 * applies the id changes to every thread; the kernel clears the
	 * effective and ambient sets there, and the permitted set of every
	 * thread but this one.
	 */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (setgroups(0, NULL) < 0)
		return -errno;
	if (setresgid(o->gid, o->gid, o->gid) < 0)
		return -errno;
	if (setresuid(o->uid, o->uid, o->uid) < 0)
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/*
 * Step 2: empty the effective, permitted, inheritable, ambient and bounding
 * sets, then read them back. libcap-ng only drops the bounding set while
 * CAP_SETPCAP is effective, so raise that one first, from the permitted
 * set step 1 kept. Capability sets belong to threads: threads that already
 * run (nng's) keep their bounding set, but hold no effective or permitted
 * capability after step 1, and step 4 kills execve() on every thread.
 */
static int
sandbox_caps(void)
{
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_update(
		CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SETPCAP) < 0)
		return -EINVAL;
	if (capng_apply(CAPNG_SELECT_CAPS) < 0)
		return -EPERM;
	if (capng_apply(CAPNG_SELECT_BOUNDS) < 0)
		return -EPERM;
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0)
		return -EPERM;
	if (capng_apply(CAPNG_SELECT_AMBIENT) < 0)
		return -EPERM;
	if (capng_get_caps_process() < 0)
		return -EIO;
	if (capng_have_capabilities(CAPNG_SELECT_ALL) != CAPNG_NONE)
		return -EPERM;
	return 0;
}

/* Step 3: no execve() can ever grant privileges again. */
static int
sandbox_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/*
 * Step 4: the seccomp allow-list, loaded on every thread at once (nng's
 * threads already run). Anything not listed kills the whole process with
 * SIGSYS, notably bpf, execve, ptrace, kill, mount, the setuid family,
 * non-AF_UNIX sockets, accept and new processes.
 */
static int
sandbox_seccomp(void)
{
	const uint32_t thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
	/* Calls allowed (or refused without killing) by their arguments. */
	const struct {
		int nr;
		uint32_t action;
		unsigned nargs;
		struct scmp_arg_cmp cmp;
	} rules[] = {
	    /* nng redials the broker after a restart: AF_UNIX sockets only. */
	    {SCMP_SYS(socket), SCMP_ACT_ALLOW, 1,
		SCMP_A0(SCMP_CMP_EQ, AF_UNIX)},
	    /* Threads only: the flags glibc's pthread_create() passes. */
	    {SCMP_SYS(clone), SCMP_ACT_ALLOW, 1,
		SCMP_A0(SCMP_CMP_MASKED_EQ, thread, thread)},
	    /* A filter cannot read clone3's flags: glibc falls back to clone.
	     */
	    {SCMP_SYS(clone3), SCMP_ACT_ERRNO(ENOSYS), 0, {0}},
	    /* Opening files is refused, not fatal: a plugin may probe. */
	    {SCMP_SYS(openat), SCMP_ACT_ERRNO(EACCES), 0, {0}},
	    {SCMP_SYS(open), SCMP_ACT_ERRNO(EACCES), 0, {0}},
	    /* Thread names (pthread_setname_np on the calling thread). */
	    {SCMP_SYS(prctl), SCMP_ACT_ALLOW, 1,
		SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)},
	    {SCMP_SYS(prctl), SCMP_ACT_ALLOW, 1,
		SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)},
	    /* isatty(): glibc stdio asks when it first buffers a terminal. */
	    {SCMP_SYS(ioctl), SCMP_ACT_ALLOW, 1, SCMP_A1(SCMP_CMP_EQ, TCGETS)},
	    /* abort() and raise(): signals to our own threads only. */
	    {SCMP_SYS(tgkill), SCMP_ACT_ALLOW, 1,
		SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())},
	    /* setrlimit()/getrlimit() on ourselves, for step 5 and glibc. */
	    {SCMP_SYS(prlimit64), SCMP_ACT_ALLOW, 1, SCMP_A0(SCMP_CMP_EQ, 0)},
	};
	scmp_filter_ctx ctx;
	size_t i;
	int nr, r;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(
	    ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		goto out;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0)
		goto out;

	for (i = 0; i < sizeof(sandbox_allowed) / sizeof(sandbox_allowed[0]);
	     i++) {
		nr = seccomp_syscall_resolve_name(sandbox_allowed[i]);
		if (nr == __NR_SCMP_ERROR) {
			r = -EINVAL;
			goto out;
		}
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			goto out;
	}

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		r = seccomp_rule_add_array(ctx, rules[i].action, rules[i].nr,
		    rules[i].nargs, &rules[i].cmp);
		if (r < 0)
			goto out;
	}

	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}

static int
sandbox_rlimit(int resource, rlim_t value)
{
	struct rlimit rl = {.rlim_cur = value, .rlim_max = value};

	if (setrlimit(resource, &rl) < 0)
		return -errno;
	return 0;
}

/* Step 5: resource limits; hard limits too, so they cannot be raised. */
static int
sandbox_rlimits(const struct sandbox_opts *o)
{
	int r;

	if (SANDBOX_LIMIT_AS) {
		r = sandbox_rlimit(RLIMIT_AS,
		    o->max_as_bytes ? o->max_as_bytes : SANDBOX_DEFAULT_AS);
		if (r < 0)
			return r;
	}
	r = sandbox_rlimit(RLIMIT_NOFILE,
	    o->max_nofile ? o->max_nofile : SANDBOX_DEFAULT_NOFILE);
	if (r < 0)
		return r;
	r = sandbox_rlimit(
	    RLIMIT_NPROC, o->max_nproc ? o->max_nproc : SANDBOX_DEFAULT_NPROC);
	if (r < 0)
		return r;
	return sandbox_rlimit(RLIMIT_CORE, 0);
}

int
sandbox_enter(const struct sandbox_opts *o)
{
	int r;

	r = sandbox_ids(o);
	if (r < 0)
		return r;
	r = sandbox_caps();
	if (r < 0)
		return r;
	r = sandbox_no_new_privs();
	if (r < 0)
		return r;
	r = sandbox_seccomp();
	if (r < 0)
		return r;
	return sandbox_rlimits(o);
}
