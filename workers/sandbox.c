/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker sandbox. One function per step, called in this fixed order by
 * sandbox_enter(): the root (a mount namespace of its own), ids (and the
 * parent-death signal), capabilities, no_new_privs, Landlock, the seccomp
 * filter, rlimits. It all happens before the plugin is loaded, and nothing
 * is added afterwards: plugin code runs in the worker's address space and
 * could fake any later step.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "newroot.h"
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
    /* glibc's qsort() of more than 1 KiB asks for the memory size
     * (_SC_PHYS_PAGES): a render of a family of over 128 samples. */
    "sysinfo",
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
    /* nng IPC pipes (dialed before the sandbox): data, credentials. */
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

/*
 * A server's additions (sandbox_server_confine()): connections accepted
 * on the listener it opened before, its own /proc/self directories read,
 * signals waited for.  Still no bind, listen, execve, ptrace, bpf, setuid.
 */
static const char *const sandbox_server_allowed[] = {
    "accept4",
    "accept",
    "getdents64",
    "rt_sigtimedwait",
    "uname",
};

/* Where the new root is built, in the worker's mount namespace only. */
#define SANDBOX_BUILD_DIR "/tmp"

/*
 * Step 0: a root of the worker's own, so that no path outside it names
 * anything: seccomp cannot read a path and Landlock does not cover stat()
 * or O_PATH opens, so without it a worker could still learn whether any
 * host file exists, its size, owner and times (/etc/shadow, other
 * services' state). In a mount namespace of its own (private: nothing
 * propagates back to the host), a read-only tmpfs holds, bound read-only,
 * the plugin file (o->read_fd, at SANDBOX_PLUGIN) and the system library
 * directories, and nothing else: no /proc, /dev, /etc or socket
 * directory (the broker's sockets are dialed before, the worker never
 * dials again). The worker pivots into it, detaches the old root and
 * works from "/". Needs CAP_SYS_ADMIN: it runs before the uid drop.
 */
static int
sandbox_root(const struct sandbox_opts *o)
{
	char fdpath[64], src[PATH_MAX];
	int plugin = -1, libfd[NEWROOT_NLIBS];
	struct stat st, bound;
	ssize_t n;
	size_t i;
	int r;

	/*
	 * A mount of the namespace left behind cannot be bound in the new
	 * one: find the plugin again in the new one by its path (with no
	 * link in it, as the kernel resolved it when it was opened), before
	 * the tmpfs may hide it, check it is the file that was opened, and
	 * bind that.
	 */
	if (o->read_fd > 0) {
		if (fstat(o->read_fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return -EINVAL;
		snprintf(
		    fdpath, sizeof(fdpath), "/proc/self/fd/%d", o->read_fd);
		n = readlink(fdpath, src, sizeof(src) - 1);
		if (n < 0)
			return -errno;
		if ((size_t)n == sizeof(src) - 1 || src[0] != '/')
			return -ENAMETOOLONG;
		src[n] = '\0';
	}
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (o->read_fd > 0) {
		plugin = open(src, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (plugin < 0)
			return -errno;
		if (fstat(plugin, &bound) < 0 || bound.st_dev != st.st_dev ||
		    bound.st_ino != st.st_ino) {
			close(plugin);
			return -ESTALE; /* renamed or replaced since */
		}
	}
	/* Opened in the new namespace too; closed before the pivot, so
	 * that no descriptor of the old root survives into the plugin. */
	for (i = 0; i < NEWROOT_NLIBS; i++)
		libfd[i] = open(newroot_libs[i], O_PATH | O_CLOEXEC);
	if (mount("cubicle-root", SANDBOX_BUILD_DIR, "tmpfs",
		MS_NOSUID | MS_NODEV | MS_NOEXEC,
		"mode=0755,size=64k,nr_inodes=64") < 0)
		r = -errno;
	else if (plugin >= 0)
		r = newroot_bind(SANDBOX_BUILD_DIR, plugin, SANDBOX_PLUGIN);
	else
		r = 0;
	for (i = 0; !r && i < NEWROOT_NLIBS; i++)
		r = newroot_lib(SANDBOX_BUILD_DIR, newroot_libs[i], libfd[i]);
	if (plugin >= 0)
		close(plugin);
	for (i = 0; i < NEWROOT_NLIBS; i++)
		if (libfd[i] >= 0)
			close(libfd[i]);
	if (r)
		return r;
	if (mount(NULL, SANDBOX_BUILD_DIR, NULL,
		MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		    MS_NOEXEC,
		NULL) < 0)
		return -errno;
	/* pivot_root(".", "."): the old root lands on top, then goes. */
	if (chdir(SANDBOX_BUILD_DIR) < 0)
		return -errno;
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	if (umount2(".", MNT_DETACH) < 0)
		return -errno;
	if (chdir("/") < 0)
		return -errno;
	return 0;
}

/*
 * Step 1: leave root for o->uid/o->gid with no supplementary groups. The
 * uid change clears the parent-death signal the supervisor set: set it
 * again, then check the parent is still the one it was for, so a broker
 * that died in between cannot leave the worker behind.
 */
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
	if (o->parent) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			return -errno;
		if (getppid() != o->parent)
			return -ESRCH;
	}
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
 * Step 3b: Landlock lets the process open for reading only the plugin file
 * (o->read_fd, if > 0) and the system's libraries (what dlopen() may need
 * for a dependency): no other file, whatever the seccomp filter lets
 * through. The domain stays for the worker's life. A kernel without
 * Landlock skips this step (then read-only opens of what the uid may read
 * remain possible).
 */
/* Newer than Debian 12's headers (Landlock ABI 3 and 5). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

static int
landlock_allow(int ruleset, int fd, uint64_t access)
{
	struct landlock_path_beneath_attr pb = {
	    .allowed_access = access, .parent_fd = fd};

	if (syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
		&pb, 0) < 0)
		return -errno;
	return 0;
}

static int
sandbox_landlock(const struct sandbox_opts *o)
{
	struct landlock_ruleset_attr attr = {0};
	uint64_t read = LANDLOCK_ACCESS_FS_READ_FILE;
	int abi, ruleset, fd, r = 0;
	size_t i;

	abi = (int)syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return errno == ENOSYS || errno == EOPNOTSUPP ? 0 : -errno;
	/* Every file-system right this kernel knows is handled (denied). */
	attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	ruleset =
	    (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return -errno;
	if (o->read_fd > 0)
		r = landlock_allow(ruleset, o->read_fd, read);
	for (i = 0; !r && i < NEWROOT_NLIBS; i++) {
		fd = open(newroot_libs[i], O_PATH | O_CLOEXEC);
		if (fd < 0)
			continue; /* not on this system */
		r = landlock_allow(ruleset, fd,
		    read | (strcmp(newroot_libs[i], "/etc/ld.so.cache")
				   ? LANDLOCK_ACCESS_FS_READ_DIR
				   : 0));
		close(fd);
	}
	if (!r && syscall(__NR_landlock_restrict_self, ruleset, 0) < 0)
		r = -errno;
	close(ruleset);
	return r;
}

/*
 * Step 4: the seccomp allow-list, loaded on every thread at once (nng's
 * threads already run) before the plugin is loaded, and the worker's last
 * one. Anything not listed kills the whole process with SIGSYS, notably
 * bpf, execve, ptrace, kill, mount, the setuid family, bind, listen and
 * accept. No socket or connection can be made: the worker dials its broker
 * before the sandbox and never again.
 *
 * There is no second, stricter filter stacked after dlopen(): a plugin
 * constructor runs in the worker's address space and could keep it from
 * being installed (a filter of its own making seccomp() return 0, or a
 * patch of the worker's code) and any check of it. So this filter already
 * refuses seccomp() itself, and allows what dlopen() needs for the life of
 * the worker: read-only opens (Landlock, step 3b, limits them to the plugin
 * and the system libraries) and newfstatat() with AT_EMPTY_PATH (glibc's
 * fstat()). A new process fails with EPERM rather than killing, so that a
 * constructor which tries gets an error and the plugin still loads.
 */
static int
sandbox_seccomp(bool server)
{
	/* A server (cubicle-gateway) re-dials its broker and accepts. */
	const uint32_t unix_act = server ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EACCES);
	const uint32_t thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
	const uint32_t writes = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC;
	/* Calls allowed (or refused without killing) by their arguments. */
	const struct {
		const char *name;
		uint32_t action;
		unsigned nargs;
		struct scmp_arg_cmp cmp[2];
	} rules[] = {
	    /* No new socket after the dial; others than AF_UNIX kill. */
	    {"socket", unix_act, 1, {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)}},
	    {"socketpair", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    {"connect", unix_act, 0, {{0}}},
	    /* Threads only: the flags glibc's pthread_create() passes. */
	    {"clone", SCMP_ACT_ALLOW, 1,
		{SCMP_A0(SCMP_CMP_MASKED_EQ, thread, thread)}},
	    /* A new process is an error, not fatal. */
	    {"clone", SCMP_ACT_ERRNO(EPERM), 1,
		{SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)}},
	    /* A filter cannot read clone3's flags: glibc falls back to clone.
	     */
	    {"clone3", SCMP_ACT_ERRNO(ENOSYS), 0, {{0}}},
	    /* No filter can be added, by the plugin least of all. */
	    {"seccomp", SCMP_ACT_ERRNO(EPERM), 0, {{0}}},
	    /* dlopen() reads the plugin; nothing is written. Landlock limits
	     * what opens. */
	    {"openat", SCMP_ACT_ALLOW, 1,
		{SCMP_A2(SCMP_CMP_MASKED_EQ, writes, 0)}},
	    {"open", SCMP_ACT_ALLOW, 1,
		{SCMP_A1(SCMP_CMP_MASKED_EQ, writes, 0)}},
	    /* glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH): allowed.
	     * stat() and lstat() (no AT_EMPTY_PATH) fail; a path given with
	     * AT_EMPTY_PATH still resolves (a filter cannot read it). */
	    {"newfstatat", SCMP_ACT_ALLOW, 1,
		{SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)}},
	    {"newfstatat", SCMP_ACT_ERRNO(EACCES), 1,
		{SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0)}},
	    /* What a plugin may ask about its own confinement. */
	    {"capget", SCMP_ACT_ALLOW, 0, {{0}}},
	    {"prctl", SCMP_ACT_ALLOW, 1,
		{SCMP_A0(SCMP_CMP_EQ, PR_GET_NO_NEW_PRIVS)}},
	    {"prctl", SCMP_ACT_ALLOW, 1,
		{SCMP_A0(SCMP_CMP_EQ, PR_GET_SECCOMP)}},
	    /* Naming paths otherwise is refused, not fatal: a plugin may
	     * probe. */
	    {"statx", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    {"stat", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    {"lstat", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    {"access", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    {"faccessat", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    {"faccessat2", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    {"readlink", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    {"readlinkat", SCMP_ACT_ERRNO(EACCES), 0, {{0}}},
	    /* Thread names (pthread_setname_np on the calling thread). */
	    {"prctl", SCMP_ACT_ALLOW, 1, {SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)}},
	    {"prctl", SCMP_ACT_ALLOW, 1, {SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)}},
	    /* isatty(): glibc stdio asks when it first buffers a terminal. */
	    {"ioctl", SCMP_ACT_ALLOW, 1, {SCMP_A1(SCMP_CMP_EQ, TCGETS)}},
	    /* abort() and raise(): signals to our own threads only. */
	    {"tgkill", SCMP_ACT_ALLOW, 1,
		{SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())}},
	    /* setrlimit()/getrlimit() on ourselves, for step 5 and glibc. */
	    {"prlimit64", SCMP_ACT_ALLOW, 1, {SCMP_A0(SCMP_CMP_EQ, 0)}},
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
	/* Step 3 set it. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
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

	/*
	 * A call's rule without arguments overrides its rules with arguments
	 * in libseccomp, so no call has both: an open for writing is not
	 * listed and kills.
	 */
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		nr = seccomp_syscall_resolve_name(rules[i].name);
		if (nr == __NR_SCMP_ERROR) {
			r = -EINVAL;
			goto out;
		}
		r = seccomp_rule_add_array(
		    ctx, rules[i].action, nr, rules[i].nargs, rules[i].cmp);
		if (r < 0)
			goto out;
	}
	for (i = 0; server && i < sizeof(sandbox_server_allowed) /
				     sizeof(sandbox_server_allowed[0]);
	     i++) {
		nr = seccomp_syscall_resolve_name(sandbox_server_allowed[i]);
		if (nr == __NR_SCMP_ERROR) {
			r = -EINVAL;
			goto out;
		}
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
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

	/* Refused before anything changes. */
	if (o->uid == 0 || o->gid == 0)
		return -EINVAL;
	r = sandbox_root(o);
	if (r < 0)
		return r;
	r = sandbox_ids(o);
	if (r < 0)
		return r;
	r = sandbox_caps();
	if (r < 0)
		return r;
	r = sandbox_no_new_privs();
	if (r < 0)
		return r;
	r = sandbox_landlock(o);
	if (r < 0)
		return r;
	r = sandbox_seccomp(false);
	if (r < 0)
		return r;
	return sandbox_rlimits(o);
}

int
sandbox_server_confine(void)
{
	int r;

	/* A process that left root holds no capability; anything else is
	 * dropped (what it may drop without CAP_SETPCAP), then checked. */
	if (capng_get_caps_process() < 0)
		return -EIO;
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
		capng_clear(CAPNG_SELECT_ALL);
		if (capng_apply(CAPNG_SELECT_CAPS) < 0)
			return -EPERM;
		if (capng_get_caps_process() < 0)
			return -EIO;
		if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
			return -EPERM;
	}
	r = sandbox_no_new_privs();
	if (r < 0)
		return r;
	return sandbox_seccomp(true);
}
