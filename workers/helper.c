// SPDX-License-Identifier: BSD-2-Clause
/*
 * cubicle-helper: the launcher the broker execs (broker/helper.c) for one
 * run of a registered helper binary.  It runs as root, confines a child
 * for good and execs the helper in it:
 *
 *   cubicle-helper UID CPU_SECONDS PATH [READ_ONLY_PATH...]
 *
 * The launcher itself enters fresh mount, network, PID, IPC and UTS
 * namespaces and forks: the child is PID 1 of the new PID namespace, so
 * that when it exits (or is killed) the kernel kills every process it
 * made, whatever they did to their process group.  The launcher waits for
 * it, writes "exit N" or "signal N" to fd 3 (the broker's status pipe)
 * and exits with its status (128 + signal if it was killed, with a line
 * on stderr).  The child, in order: a read-only tmpfs root holding
 * only PATH (at HELPER_BIN), the system libraries, the READ_ONLY_PATHs, a
 * writable tmpfs work directory (HELPER_WORK, the working directory) and
 * a /proc of its own PID namespace (subset=pid); uid/gid UID with no
 * supplementary groups; no capability in any set, bounding included;
 * no_new_privs; Landlock (the ABI the kernel reports); a seccomp
 * deny-list; rlimits; then execve() with a minimal environment.  Its
 * network namespace holds only lo, down.  stdin, stdout and stderr are
 * the broker's pipes; every other descriptor is closed first.
 *
 * A failure before the exec exits 125 with "cubicle-helper: STEP: ERROR"
 * on stderr.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/landlock.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "newroot.h"

#define HELPER_BIN "/helper"
#define HELPER_WORK "/work"
#define HELPER_BUILD "/tmp" /* in the child's mount namespace only */
#define HELPER_MAX_RO 16
#define HELPER_EXIT_SETUP 125

/* Limits of a helper run (the CPU time comes from the broker). */
#define HELPER_AS (2048ULL << 20)
#define HELPER_FSIZE (64ULL << 20)
#define HELPER_NOFILE 256
#define HELPER_NPROC 64
#define HELPER_WORK_OPTS "mode=0700,size=64m,nr_inodes=4096,uid=%lu,gid=%lu"

/* As in sandbox.c: ASan reserves terabytes, so no RLIMIT_AS under it. */
#if defined(__SANITIZE_ADDRESS__)
#define HELPER_LIMIT_AS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HELPER_LIMIT_AS 0
#endif
#endif
#ifndef HELPER_LIMIT_AS
#define HELPER_LIMIT_AS 1
#endif

/*
 * A sanitizer build's launcher: LeakSanitizer's tracer would be born in
 * the new PID namespace, where the launcher's threads have no pid, and
 * fail the run at exit.  (A weak hook of the runtime, unused otherwise.)
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}

static __attribute__((noreturn)) void
die(const char *step, int err)
{
	fprintf(stderr, "cubicle-helper: %s: %s\n", step, strerror(err));
	_exit(HELPER_EXIT_SETUP);
}

/*
 * The child's root.  Every source is opened O_PATH before the tmpfs at
 * HELPER_BUILD could hide it (a path under /tmp stays bindable).
 */
static void
helper_root(const char *bin, char **ro, int nro, unsigned long uid)
{
	int binfd, libfd[NEWROOT_NLIBS], rofd[HELPER_MAX_RO];
	char dst[PATH_MAX], opts[128];
	size_t i;
	int r;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("mount private", errno);
	binfd = open(bin, O_PATH | O_CLOEXEC);
	if (binfd < 0)
		die(bin, errno);
	for (i = 0; i < NEWROOT_NLIBS; i++)
		libfd[i] = open(newroot_libs[i], O_PATH | O_CLOEXEC);
	for (r = 0; r < nro; r++)
		if ((rofd[r] = open(ro[r], O_PATH | O_CLOEXEC)) < 0)
			die(ro[r], errno);
	if (mount("cubicle-helper", HELPER_BUILD, "tmpfs",
		MS_NOSUID | MS_NODEV | MS_NOEXEC,
		"mode=0755,size=64k,nr_inodes=256") < 0)
		die("tmpfs root", errno);
	if ((r = newroot_bind(HELPER_BUILD, binfd, HELPER_BIN)))
		die("bind the helper", -r);
	for (i = 0; i < NEWROOT_NLIBS; i++)
		if ((r = newroot_lib(HELPER_BUILD, newroot_libs[i], libfd[i])))
			die(newroot_libs[i], -r);
	for (r = 0; r < nro; r++) {
		int e = newroot_bind(HELPER_BUILD, rofd[r], ro[r]);

		if (e)
			die(ro[r], -e);
	}
	if (mkdir(HELPER_BUILD HELPER_WORK, 0755) < 0 ||
	    mkdir(HELPER_BUILD "/proc", 0555) < 0)
		die("mkdir", errno);
	/* The helper's own: writable by its uid only. */
	snprintf(opts, sizeof(opts), HELPER_WORK_OPTS, uid, uid);
	if (mount("cubicle-work", HELPER_BUILD HELPER_WORK, "tmpfs",
		MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		die("tmpfs work", errno);
	/* Only the processes of this PID namespace, no /proc/sys. */
	if (mount("proc", HELPER_BUILD "/proc", "proc",
		MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid") < 0)
		die("proc", errno);
	snprintf(dst, sizeof(dst), "%s", HELPER_BUILD);
	if (mount(NULL, dst, NULL,
		MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		    MS_NOEXEC,
		NULL) < 0)
		die("remount root", errno);
	if (chdir(HELPER_BUILD) < 0)
		die("chdir", errno);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root", errno);
	if (umount2(".", MNT_DETACH) < 0)
		die("umount old root", errno);
	if (chdir(HELPER_WORK) < 0)
		die("chdir work", errno);
	close(binfd);
	for (i = 0; i < NEWROOT_NLIBS; i++)
		if (libfd[i] >= 0)
			close(libfd[i]);
	for (r = 0; r < nro; r++)
		close(rofd[r]);
}

/*
 * Ids and capabilities: the bounding set is emptied while still root
 * (CAP_SETPCAP), then the uid change clears the effective and permitted
 * sets (no PR_SET_KEEPCAPS) and the rest is cleared and read back.
 */
static void
helper_ids(uid_t uid, pid_t parent)
{
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_BOUNDS) < 0)
		die("bounding set", EPERM);
	if (setgroups(0, NULL) < 0)
		die("setgroups", errno);
	if (setresgid(uid, uid, uid) < 0)
		die("setresgid", errno);
	if (setresuid(uid, uid, uid) < 0)
		die("setresuid", errno);
	/* The uid change cleared the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die("pdeathsig", errno);
	if (getppid() != parent)
		die("parent", ESRCH);
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0 ||
	    capng_apply(CAPNG_SELECT_AMBIENT) < 0)
		die("capabilities", EPERM);
	if (capng_get_caps_process() < 0 ||
	    capng_have_capabilities(CAPNG_SELECT_ALL) != CAPNG_NONE)
		die("capabilities left", EPERM);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("no_new_privs", errno);
}

/*
 * Landlock.  Debian 12's headers stop at ABI 3: the newer constants and
 * the ruleset attribute's newer fields are defined here.  ABI 4: TCP
 * bind/connect (handled_access_net); 5: device ioctls; 6: scopes (abstract
 * UNIX sockets, signals out of the domain).
 */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#define HELPER_LL_FS_IOCTL_DEV (1ULL << 15)
#define HELPER_LL_NET_BIND_TCP (1ULL << 0)
#define HELPER_LL_NET_CONNECT_TCP (1ULL << 1)
#define HELPER_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define HELPER_LL_SCOPE_SIGNAL (1ULL << 1)

struct helper_ll_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

static void
ll_allow(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr pb = {.allowed_access = access};

	pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0)
		return; /* not in this root (a missing library dir) */
	if (syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
		&pb, 0) < 0)
		die(path, errno);
	close(pb.parent_fd);
}

static void
helper_landlock(char **ro, int nro)
{
	const uint64_t rx = LANDLOCK_ACCESS_FS_READ_FILE |
			    LANDLOCK_ACCESS_FS_READ_DIR |
			    LANDLOCK_ACCESS_FS_EXECUTE;
	struct helper_ll_attr attr = {0};
	size_t size = sizeof(uint64_t), i;
	uint64_t all;
	int abi, ruleset, r;

	abi = (int)syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		if (errno == ENOSYS || errno == EOPNOTSUPP)
			return; /* no Landlock: the root alone limits paths */
		die("landlock version", errno);
	}
	all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		all |= HELPER_LL_FS_IOCTL_DEV;
	attr.handled_access_fs = all;
	if (abi >= 4) {
		attr.handled_access_net =
		    HELPER_LL_NET_BIND_TCP | HELPER_LL_NET_CONNECT_TCP;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped =
		    HELPER_LL_SCOPE_ABSTRACT_UNIX | HELPER_LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0)
		die("landlock ruleset", errno);
	ll_allow(ruleset, HELPER_BIN,
	    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE);
	for (i = 0; i < NEWROOT_NLIBS; i++)
		ll_allow(ruleset, newroot_libs[i],
		    strcmp(newroot_libs[i], "/etc/ld.so.cache")
			? rx
			: LANDLOCK_ACCESS_FS_READ_FILE);
	for (r = 0; r < nro; r++)
		ll_allow(ruleset, ro[r], rx);
	ll_allow(ruleset, "/proc",
	    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR);
	ll_allow(ruleset, HELPER_WORK, all & ~LANDLOCK_ACCESS_FS_EXECUTE);
	if (syscall(__NR_landlock_restrict_self, ruleset, 0) < 0)
		die("landlock restrict", errno);
	close(ruleset);
}

/*
 * A modest deny-list (a compiler needs none of it): calls that change the
 * kernel, namespaces, mounts or other processes fail with EPERM, and so
 * does any socket but AF_UNIX.  clone3 reports ENOSYS (a filter cannot
 * read its flags; glibc falls back to clone), and clone is refused any
 * namespace flag.
 */
static void
helper_seccomp(void)
{
	static const char *const denied[] = {"ptrace", "bpf", "mount",
	    "umount2", "pivot_root", "chroot", "unshare", "setns", "kexec_load",
	    "kexec_file_load", "init_module", "finit_module", "delete_module",
	    "reboot", "swapon", "swapoff", "perf_event_open", "keyctl",
	    "add_key", "request_key", "userfaultfd", "io_uring_setup",
	    "process_vm_readv", "process_vm_writev", "open_by_handle_at",
	    "name_to_handle_at", "fsopen", "fsmount", "move_mount", "open_tree",
	    "mount_setattr", "acct", "settimeofday", "clock_settime",
	    "sethostname", "setdomainname", "iopl", "ioperm", "quotactl",
	    "seccomp"};
	static const uint64_t ns[] = {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID,
	    CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP};
	scmp_filter_ctx ctx;
	size_t i;
	int r = 0;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		die("seccomp", ENOMEM);
	r = seccomp_attr_set(
	    ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (i = 0; !r && i < sizeof(denied) / sizeof(denied[0]); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
	/* One rule a flag: any of them set refuses the clone. */
	for (i = 0; !r && i < sizeof(ns) / sizeof(ns[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]));
	if (!r)
		r = seccomp_rule_add(
		    ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r)
		die("seccomp", -r);
}

static void
helper_rlimit(int resource, rlim_t v, const char *what)
{
	struct rlimit rl = {.rlim_cur = v, .rlim_max = v};

	if (setrlimit(resource, &rl) < 0)
		die(what, errno);
}

static void
helper_rlimits(rlim_t cpu)
{
	helper_rlimit(RLIMIT_CPU, cpu, "RLIMIT_CPU");
	if (HELPER_LIMIT_AS)
		helper_rlimit(RLIMIT_AS, HELPER_AS, "RLIMIT_AS");
	helper_rlimit(RLIMIT_FSIZE, HELPER_FSIZE, "RLIMIT_FSIZE");
	helper_rlimit(RLIMIT_NOFILE, HELPER_NOFILE, "RLIMIT_NOFILE");
	helper_rlimit(RLIMIT_NPROC, HELPER_NPROC, "RLIMIT_NPROC");
	helper_rlimit(RLIMIT_CORE, 0, "RLIMIT_CORE");
}

int
main(int argc, char **argv)
{
	char *env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" HELPER_WORK,
	    "TMPDIR=" HELPER_WORK, NULL};
	char *hargv[] = {HELPER_BIN, NULL};
	unsigned long uid, cpu;
	pid_t broker = getppid(), me, pid;
	char *end;
	int st;

	if (argc < 4 || argc - 4 > HELPER_MAX_RO) {
		fprintf(stderr,
		    "usage: cubicle-helper UID CPU_SECONDS PATH "
		    "[READ_ONLY_PATH...] (at most %d)\n",
		    HELPER_MAX_RO);
		return 2;
	}
	errno = 0;
	uid = strtoul(argv[1], &end, 10);
	if (errno || *end || uid == 0 || uid >= UINT32_MAX)
		die("UID", EINVAL);
	cpu = strtoul(argv[2], &end, 10);
	if (errno || *end || cpu == 0 || cpu > 3600)
		die("CPU_SECONDS", EINVAL);
	/* fd 3: the status pipe, written once the helper is done. */
	if (fcntl(3, F_GETFD) < 0)
		die("status pipe (fd 3)", errno);
	if (syscall(SYS_close_range, 4, ~0U, 0) < 0)
		die("close_range", errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die("pdeathsig", errno);
	if (getppid() != broker || broker == 1)
		die("parent", ESRCH);
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC |
		    CLONE_NEWUTS) < 0)
		die("unshare", errno);
	me = getpid();
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		close(3);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			die("pdeathsig", errno);
		if (getppid() != 0 && getppid() != me)
			die("parent", ESRCH);
		helper_root(argv[3], argv + 4, argc - 4, uid);
		helper_ids((uid_t)uid, getppid());
		helper_landlock(argv + 4, argc - 4);
		helper_seccomp();
		helper_rlimits((rlim_t)cpu);
		execve(HELPER_BIN, hargv, env);
		die("execve", errno);
	}
	close(0);
	close(1);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid", errno);
	if (WIFEXITED(st)) {
		dprintf(3, "exit %d", WEXITSTATUS(st));
		return WEXITSTATUS(st);
	}
	fprintf(stderr, "cubicle-helper: helper killed by signal %d (%s)\n",
	    WTERMSIG(st), strsignal(WTERMSIG(st)));
	dprintf(3, "signal %d", WTERMSIG(st));
	return 128 + WTERMSIG(st);
}
