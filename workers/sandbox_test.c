/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sandbox_enter() tests. Runs as root. Each test forks a "worker" child that
 * starts nng the way cubicle-worker does (a REP socket listening and a REQ
 * socket dialing it, one round trip, so nng's threads run), enters the
 * sandbox and then does one thing; the test inspects how the child ended.
 * The child reports failures on stderr and with its exit code, never through
 * check, whose state belongs to the test process.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "check_run.h"
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "sandbox.h"

#define TEST_UID 64999
#define TEST_GID 64999
#define MAX_TASKS 128

/* Exit code of a child that survived a call the sandbox should kill. */
#define CHILD_SURVIVED 42

#define CHILD_CHECK(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			dprintf(STDERR_FILENO,                                 \
			    "%s:%d: child check failed: %s\n", __FILE__,       \
			    __LINE__, #cond);                                  \
			_exit(1);                                              \
		}                                                              \
	} while (0)

static char test_dir[64];
static char worker_url[256];
static char broker_url[256];
static char broker_path[128];
static char missing_url[256];

/* The worker's nng sockets, opened before the sandbox. */
static nng_socket worker_rep;
static nng_socket worker_req;

/* Write end of a pipe: a child writes one byte to show it got this far. */
static int reached_fd = -1;

/* /dev/null, opened before the sandbox. */
static int null_fd = -1;

/* /proc status files of every task, opened before the sandbox. */
static int status_fds[MAX_TASKS];
static int n_status_fds;

static void
dir_setup(void)
{
	strcpy(test_dir, "/tmp/cubi-sandbox-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(test_dir));
	/* The sandboxed uid must reach the sockets inside. */
	ck_assert_int_eq(chmod(test_dir, 0711), 0);
	snprintf(
	    worker_url, sizeof(worker_url), "ipc://%s/worker.ipc", test_dir);
	snprintf(broker_path, sizeof(broker_path), "%s/broker.ipc", test_dir);
	snprintf(broker_url, sizeof(broker_url), "ipc://%s", broker_path);
	snprintf(
	    missing_url, sizeof(missing_url), "ipc://%s/missing.ipc", test_dir);
}

static void
dir_teardown(void)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/worker.ipc", test_dir);
	unlink(path);
	unlink(broker_path);
	rmdir(test_dir);
}

static void
set_timeouts(nng_socket s)
{
	CHILD_CHECK(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000) == 0);
	CHILD_CHECK(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000) == 0);
}

/* One request and its reply between two sockets of this process. */
static void
round_trip(nng_socket req, nng_socket rep)
{
	char buf[16];
	size_t sz = sizeof(buf);

	CHILD_CHECK(nng_send(req, "ping", 5, 0) == 0);
	CHILD_CHECK(nng_recv(rep, buf, &sz, 0) == 0);
	CHILD_CHECK(sz == 5 && strcmp(buf, "ping") == 0);
	CHILD_CHECK(nng_send(rep, "pong", 5, 0) == 0);
	sz = sizeof(buf);
	CHILD_CHECK(nng_recv(req, buf, &sz, 0) == 0);
	CHILD_CHECK(sz == 5 && strcmp(buf, "pong") == 0);
}

/* What cubicle-worker does before sandbox_enter(): open its sockets. */
static void
worker_setup(void)
{
	CHILD_CHECK(nng_rep0_open(&worker_rep) == 0);
	CHILD_CHECK(nng_req0_open(&worker_req) == 0);
	set_timeouts(worker_rep);
	set_timeouts(worker_req);
	CHILD_CHECK(nng_listen(worker_rep, worker_url, NULL, 0) == 0);
	CHILD_CHECK(nng_dial(worker_req, worker_url, NULL, 0) == 0);
	/*
	 * Let the listener finish accepting before the sandbox: the sandbox
	 * kills accept4(), which a worker (a dialer) never needs.
	 */
	round_trip(worker_req, worker_rep);
}

static void
open_task_status(void)
{
	DIR *d;
	struct dirent *de;
	char path[320];
	int fd;

	d = opendir("/proc/self/task");
	CHILD_CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		CHILD_CHECK(n_status_fds < MAX_TASKS);
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
		    de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(fd >= 0);
		status_fds[n_status_fds++] = fd;
	}
	closedir(d);
}

/* Called by a child body right before the call under test. */
static void
reached(void)
{
	CHILD_CHECK(write(reached_fd, "x", 1) == 1);
}

/*
 * Fork a worker child that runs body() in the sandbox; return its status
 * and, in *did_reach, whether body() called reached().
 */
static int
run_sandboxed(void (*body)(void), bool want_status_fds, bool *did_reach)
{
	struct sandbox_opts o = {.uid = TEST_UID, .gid = TEST_GID};
	pid_t pid;
	int status, r, fds[2];
	char c;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		reached_fd = fds[1];
		worker_setup();
		if (want_status_fds)
			open_task_status();
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		CHILD_CHECK(null_fd >= 0);
		r = sandbox_enter(&o);
		if (r < 0) {
			dprintf(
			    STDERR_FILENO, "sandbox_enter: %s\n", strerror(-r));
			_exit(2);
		}
		body();
		/* _exit(): no atexit handlers, nng left as it is. */
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (did_reach)
		*did_reach = read(fds[0], &c, 1) == 1;
	close(fds[0]);
	return status;
}

static void
assert_exit_ok(int status)
{
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

static void
assert_sigsys(int status)
{
	ck_assert_msg(WIFSIGNALED(status), "child exited with %d",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	ck_assert_int_eq(WTERMSIG(status), SIGSYS);
}

/*
 * A stand-in for the broker in a process of its own (root, no sandbox): REP
 * echo on broker_url, so the sandboxed child can make a fresh dial. Writes
 * one byte to ready_fd once it listens.
 */
static pid_t
broker_start(void)
{
	int ready[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		nng_socket s;
		char buf[64];
		size_t sz;

		close(ready[0]);
		CHILD_CHECK(nng_rep0_open(&s) == 0);
		CHILD_CHECK(nng_listen(s, broker_url, NULL, 0) == 0);
		CHILD_CHECK(chmod(broker_path, 0666) == 0);
		CHILD_CHECK(write(ready[1], "r", 1) == 1);
		for (;;) {
			sz = sizeof(buf);
			if (nng_recv(s, buf, &sz, 0) != 0)
				_exit(1);
			if (nng_send(s, buf, sz, 0) != 0)
				_exit(1);
		}
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void
broker_stop(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static bool
status_field(const char *text, const char *name, char *val, size_t len)
{
	const char *p, *end;
	size_t n = strlen(name);

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) != 0 || p[n] != ':')
			continue;
		p += n + 1;
		while (*p == '\t' || *p == ' ')
			p++;
		end = strchrnul(p, '\n');
		if ((size_t)(end - p) >= len)
			return false;
		memcpy(val, p, end - p);
		val[end - p] = '\0';
		return true;
	}
	return false;
}

static unsigned long long
status_hex(const char *text, const char *name)
{
	char val[64];

	CHILD_CHECK(status_field(text, name, val, sizeof(val)));
	return strtoull(val, NULL, 16);
}

static long
status_long(const char *text, const char *name)
{
	char val[64];

	CHILD_CHECK(status_field(text, name, val, sizeof(val)));
	return strtol(val, NULL, 10);
}

static void
status_ids(const char *text, const char *name, unsigned long want)
{
	char val[64], *p, *end;
	int i;

	CHILD_CHECK(status_field(text, name, val, sizeof(val)));
	p = val;
	for (i = 0; i < 4; i++) {
		CHILD_CHECK(strtoul(p, &end, 10) == want);
		CHILD_CHECK(end != p);
		p = end;
	}
}

/*
 * Checks one task's status. Thread creds are per thread: the bounding and
 * inheritable sets are only emptied on the thread that called
 * sandbox_enter(); the others lose their effective and permitted sets with
 * the uid change and get no_new_privs and the filter through TSYNC.
 */
static void
check_status(int fd, bool main_thread)
{
	char text[4096], val[64];
	ssize_t n;

	n = pread(fd, text, sizeof(text) - 1, 0);
	CHILD_CHECK(n > 0);
	text[n] = '\0';
	CHILD_CHECK(status_hex(text, "CapEff") == 0);
	CHILD_CHECK(status_hex(text, "CapPrm") == 0);
	CHILD_CHECK(status_hex(text, "CapAmb") == 0);
	if (main_thread) {
		CHILD_CHECK(status_hex(text, "CapInh") == 0);
		CHILD_CHECK(status_hex(text, "CapBnd") == 0);
	}
	CHILD_CHECK(status_long(text, "NoNewPrivs") == 1);
	CHILD_CHECK(status_long(text, "Seccomp") == 2);
	CHILD_CHECK(status_long(text, "Seccomp_filters") >= 1);
	status_ids(text, "Uid", TEST_UID);
	status_ids(text, "Gid", TEST_GID);
	CHILD_CHECK(status_field(text, "Groups", val, sizeof(val)));
	CHILD_CHECK(val[0] == '\0');
}

static void
body_status_and_ipc(void)
{
	nng_socket s;
	char buf[16];
	size_t sz = sizeof(buf);
	int i, fd, r;

	/* /proc/self/status: the thread group leader, i.e. this thread. */
	fd = status_fds[0];
	for (i = 0; i < n_status_fds; i++) {
		char text[4096];
		ssize_t n = pread(status_fds[i], text, sizeof(text) - 1, 0);

		CHILD_CHECK(n > 0);
		text[n] = '\0';
		if (status_long(text, "Pid") == getpid())
			fd = status_fds[i];
	}
	for (i = 0; i < n_status_fds; i++)
		check_status(status_fds[i], status_fds[i] == fd);
	CHILD_CHECK(n_status_fds > 1);

	/*
	 * stdio on a character device, as a worker logging to a terminal:
	 * glibc probes it with fstat, lseek and ioctl(TCGETS).
	 */
	CHILD_CHECK(dprintf(null_fd, "%s\n", "a log line") == 11);

	/* The sockets opened before the sandbox still work. */
	round_trip(worker_req, worker_rep);

	/*
	 * No fresh dial, as nng would redial after a broker restart: the
	 * socket is refused, the worker lives on.
	 */
	CHILD_CHECK(nng_req0_open(&s) == 0);
	set_timeouts(s);
	r = nng_dial(s, broker_url, NULL, 0);
	CHILD_CHECK(r != 0);
	CHILD_CHECK(nng_send(s, "hello", 6, NNG_FLAG_NONBLOCK) != 0 ||
		    nng_recv(s, buf, &sz, NNG_FLAG_NONBLOCK) != 0);
	CHILD_CHECK(nng_close(s) == 0);
}

START_TEST(test_status_and_ipc)
{
	pid_t broker;
	int status;

	dir_setup();
	broker = broker_start();
	status = run_sandboxed(body_status_and_ipc, true, NULL);
	broker_stop(broker);
	dir_teardown();
	assert_exit_ok(status);
}
END_TEST

static void
body_bpf(void)
{
	reached();
	syscall(__NR_bpf, 0, NULL, 0);
	_exit(CHILD_SURVIVED);
}

static void
body_execve(void)
{
	char *const argv[] = {"/bin/true", NULL};
	char *const envp[] = {NULL};

	reached();
	execve("/bin/true", argv, envp);
	_exit(CHILD_SURVIVED);
}

static void
body_socket_inet(void)
{
	reached();
	socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	_exit(CHILD_SURVIVED);
}

static void
body_socket_netlink(void)
{
	reached();
	socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	_exit(CHILD_SURVIVED);
}

static void
body_kill_parent(void)
{
	reached();
	kill(getppid(), 0);
	_exit(CHILD_SURVIVED);
}

static void
body_ptrace(void)
{
	reached();
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	_exit(CHILD_SURVIVED);
}

static void
body_setuid(void)
{
	reached();
	setuid(0);
	_exit(CHILD_SURVIVED);
}

/* Calls that must kill the worker with SIGSYS. */
static void (*const killed_bodies[])(void) = {
    body_bpf,
    body_execve,
    body_socket_inet,
    body_socket_netlink,
    body_kill_parent,
    body_ptrace,
    body_setuid,
};

START_TEST(test_killed)
{
	bool did_reach;
	int status;

	dir_setup();
	status = run_sandboxed(killed_bodies[_i], false, &did_reach);
	dir_teardown();
	ck_assert_msg(did_reach, "child died before the call under test");
	assert_sigsys(status);
}
END_TEST

static void
body_abort(void)
{
	reached();
	abort();
}

/* abort() signals itself with tgkill(): SIGABRT, not SIGSYS. */
START_TEST(test_abort)
{
	bool did_reach;
	int status;

	dir_setup();
	status = run_sandboxed(body_abort, false, &did_reach);
	dir_teardown();
	ck_assert(did_reach);
	ck_assert_msg(WIFSIGNALED(status), "child exited");
	ck_assert_int_eq(WTERMSIG(status), SIGABRT);
}
END_TEST

/* /etc/passwd is not in the worker's root. */
static void
body_openat(void)
{
	int fd = openat(AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC);

	CHILD_CHECK(fd == -1);
	CHILD_CHECK(errno == ENOENT);
}

START_TEST(test_openat_refused)
{
	int status;

	dir_setup();
	status = run_sandboxed(body_openat, false, NULL);
	dir_teardown();
	assert_exit_ok(status);
}
END_TEST

static void *
thread_main(void *arg)
{
	*(int *)arg = 1;
	return NULL;
}

static void
body_thread(void)
{
	pthread_t t;
	int ran = 0;

	CHILD_CHECK(pthread_create(&t, NULL, thread_main, &ran) == 0);
	CHILD_CHECK(pthread_join(t, NULL) == 0);
	CHILD_CHECK(ran == 1);
}

START_TEST(test_thread)
{
	int status;

	dir_setup();
	status = run_sandboxed(body_thread, false, NULL);
	dir_teardown();
	assert_exit_ok(status);
}
END_TEST

static int
int_cmp(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) -
	       (*(const int *)a < *(const int *)b);
}

/* glibc's qsort() of more than 1 KiB calls sysinfo() (_SC_PHYS_PAGES):
 * a render of a family of 1000 samples in the worker did. */
static void
body_qsort(void)
{
	int v[4096], i;

	for (i = 0; i < 4096; i++)
		v[i] = 4096 - i;
	qsort(v, 4096, sizeof(v[0]), int_cmp);
	CHILD_CHECK(v[0] == 1 && v[4095] == 4096);
}

START_TEST(test_qsort)
{
	int status;

	dir_setup();
	status = run_sandboxed(body_qsort, false, NULL);
	dir_teardown();
	assert_exit_ok(status);
}
END_TEST

START_TEST(test_root_refused)
{
	struct sandbox_opts o = {.uid = 0, .gid = TEST_GID};

	/* Refused before anything changes, so no child is needed. */
	ck_assert_int_eq(sandbox_enter(&o), -EINVAL);
	o = (struct sandbox_opts){.uid = TEST_UID, .gid = 0};
	ck_assert_int_eq(sandbox_enter(&o), -EINVAL);
	ck_assert_int_eq(getuid(), 0);
}
END_TEST

/* No new socket or connection, and no path named: EACCES, not SIGSYS. */
static void
body_no_reach(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[64];
	struct stat st;
	int sv[2];

	CHILD_CHECK(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) == -1);
	CHILD_CHECK(errno == EACCES);
	CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1);
	CHILD_CHECK(errno == EACCES);
	/* Abstract "cubi-test": no path needed, and none of ours. */
	memcpy(sa.sun_path + 1, "cubi-test", 9);
	CHILD_CHECK(connect(null_fd, (struct sockaddr *)&sa, sizeof(sa)) == -1);
	CHILD_CHECK(errno == EACCES);
	CHILD_CHECK(stat("/etc/passwd", &st) == -1 && errno == EACCES);
	CHILD_CHECK(lstat("/etc/passwd", &st) == -1 && errno == EACCES);
	CHILD_CHECK(fstatat(AT_FDCWD, "/etc/passwd", &st, 0) == -1);
	CHILD_CHECK(errno == EACCES);
	/* (With AT_EMPTY_PATH a path still resolves: fstat() needs it.) */
	CHILD_CHECK(
	    syscall(__NR_statx, AT_FDCWD, "/etc/passwd", 0, 0x7ff, buf) == -1);
	CHILD_CHECK(errno == EACCES);
	CHILD_CHECK(access("/etc/passwd", F_OK) == -1 && errno == EACCES);
	CHILD_CHECK(readlink("/proc/self/exe", buf, sizeof(buf)) == -1);
	CHILD_CHECK(errno == EACCES);
	/* fstat() on a descriptor (both system calls) still works. */
	CHILD_CHECK(syscall(__NR_fstat, null_fd, &st) == 0);
	CHILD_CHECK(fstat(null_fd, &st) == 0);
}

START_TEST(test_no_reach)
{
	pid_t broker;
	int status;

	dir_setup();
	broker = broker_start();
	status = run_sandboxed(body_no_reach, false, NULL);
	broker_stop(broker);
	dir_teardown();
	assert_exit_ok(status);
}
END_TEST

/*
 * What a plugin constructor runs under is the final sandbox: a filter of
 * its own (one that would make a later seccomp() a no-op) is refused, so
 * is a new process, and no path outside Landlock's opens; the filter
 * count stays the worker's one. The calls fail with an error: the child
 * must exit 0 (a sandbox that kills them fails the test).
 */
START_TEST(test_constructor_stage)
{
	struct sock_filter f[] = {
	    BPF_STMT(
		BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	struct sandbox_opts o = {.uid = TEST_UID, .gid = TEST_GID};
	int status;
	pid_t pid;

	dir_setup();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char text[4096];
		ssize_t n;
		pid_t child;
		int fd;

		worker_setup();
		o.parent = getppid();
		/* Landlock keeps /proc closed afterwards. */
		fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK(sandbox_enter(&o) == 0);
		CHILD_CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
				SECCOMP_FILTER_FLAG_TSYNC, &prog) == -1);
		CHILD_CHECK(errno == EPERM);
		CHILD_CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0,
				NULL) == -1);
		CHILD_CHECK(errno == EPERM);
		n = pread(fd, text, sizeof(text) - 1, 0);
		CHILD_CHECK(n > 0);
		text[n] = '\0';
		close(fd);
		CHILD_CHECK(status_hex(text, "CapEff") == 0);
		CHILD_CHECK(status_long(text, "NoNewPrivs") == 1);
		CHILD_CHECK(status_long(text, "Seccomp") == 2);
		CHILD_CHECK(status_long(text, "Seccomp_filters") == 1);
		status_ids(text, "Uid", TEST_UID);
		CHILD_CHECK(open("/etc/shadow", O_RDONLY | O_CLOEXEC) == -1);
		CHILD_CHECK(errno == ENOENT);
		CHILD_CHECK(open("/etc/passwd", O_RDONLY | O_CLOEXEC) == -1);
		CHILD_CHECK(errno == ENOENT);
		child = fork();
		if (child == 0)
			_exit(CHILD_SURVIVED);
		CHILD_CHECK(child == -1 && errno == EPERM);
		round_trip(worker_req, worker_rep);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	dir_teardown();
	assert_exit_ok(status);
}
END_TEST

/*
 * Landlock: the file given (the plugin, at SANDBOX_PLUGIN) and the system
 * libraries open for reading, nothing else does, world-readable or not:
 * not even the worker's own root directory, which the mount namespace
 * alone would let it list.
 */
START_TEST(test_landlock)
{
	struct sandbox_opts o = {.uid = TEST_UID, .gid = TEST_GID};
	char path[128];
	int status, fd;
	pid_t pid;

	dir_setup();
	snprintf(path, sizeof(path), "%s/plugin.so", test_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;

		o.read_fd = open(path, O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(o.read_fd > 0);
		CHILD_CHECK(sandbox_enter(&o) == 0);
		fd = open(SANDBOX_PLUGIN, O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK(read(fd, &c, 1) == 1 && c == 'x');
		close(fd);
		fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(fd >= 0 || errno == ENOENT);
		if (fd >= 0)
			close(fd);
		fd = open("/usr/lib", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHILD_CHECK(fd >= 0);
		close(fd);
		CHILD_CHECK(
		    open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) == -1);
		CHILD_CHECK(errno == EACCES);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	unlink(path);
	dir_teardown();
	assert_exit_ok(status);
}
END_TEST

/*
 * The worker's root: no host path names anything, whichever way a path
 * gets past the filter (a raw newfstatat() with AT_EMPTY_PATH, from
 * AT_FDCWD and from an O_PATH descriptor of "/", an O_PATH open), and its
 * "/" is not the host's; the working directory is "/"; the root and the
 * plugin are read-only. A file made for the test in a traversable
 * directory, and /etc/shadow, are the probes.
 */
static char probe_path[160];
static struct stat host_root;

static void
body_root(void)
{
	const char *paths[] = {probe_path, "/etc/shadow", "/root", "/proc"};
	struct stat st, cwd;
	size_t i;
	int rootfd, fd;

	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHILD_CHECK(rootfd >= 0);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		CHILD_CHECK(syscall(__NR_newfstatat, AT_FDCWD, paths[i], &st,
				AT_EMPTY_PATH) == -1);
		CHILD_CHECK(errno == ENOENT);
		CHILD_CHECK(syscall(__NR_newfstatat, rootfd, paths[i] + 1, &st,
				AT_EMPTY_PATH) == -1);
		CHILD_CHECK(errno == ENOENT);
		fd = open(paths[i], O_PATH | O_CLOEXEC);
		CHILD_CHECK(fd == -1 && errno == ENOENT);
	}
	/* ".." of the root is the root. */
	CHILD_CHECK(syscall(__NR_newfstatat, rootfd, "../../tmp", &st,
			AT_EMPTY_PATH) == -1);
	CHILD_CHECK(errno == ENOENT);
	CHILD_CHECK(fstat(rootfd, &st) == 0);
	CHILD_CHECK(
	    st.st_dev != host_root.st_dev || st.st_ino != host_root.st_ino);
	/* The working directory is the root. */
	CHILD_CHECK(
	    syscall(__NR_newfstatat, AT_FDCWD, "", &cwd, AT_EMPTY_PATH) == 0);
	CHILD_CHECK(cwd.st_dev == st.st_dev && cwd.st_ino == st.st_ino);
	fd = open(SANDBOX_PLUGIN, O_PATH | O_CLOEXEC);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(fstat(fd, &st) == 0 && st.st_size == 3);
	close(fd);
	close(rootfd);
}

START_TEST(test_root)
{
	struct sandbox_opts o = {.uid = TEST_UID, .gid = TEST_GID};
	int status, fd;
	pid_t pid;

	dir_setup();
	ck_assert_int_eq(stat("/", &host_root), 0);
	snprintf(probe_path, sizeof(probe_path), "%s/probe", test_dir);
	fd = open(probe_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	close(fd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		o.read_fd = open(probe_path, O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(o.read_fd > 0);
		/* Outside the sandbox the probe is there, with its size. */
		CHILD_CHECK(syscall(__NR_newfstatat, AT_FDCWD, probe_path,
				&(struct stat){0}, AT_EMPTY_PATH) == 0);
		CHILD_CHECK(sandbox_enter(&o) == 0);
		body_root();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	unlink(probe_path);
	dir_teardown();
	assert_exit_ok(status);
}
END_TEST

/*
 * The plugin is bound only if its path still names the file that was
 * opened: one deleted since is refused (its path, "<path> (deleted)", is
 * gone), and so is one whose path names another file now (a file made at
 * that very name: -ESTALE), never bound in its place.
 */
static int
enter_with_gone_plugin(bool replace)
{
	struct sandbox_opts o = {.uid = TEST_UID, .gid = TEST_GID};
	char path[160], deleted[192];
	int status, fd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/gone", test_dir);
	snprintf(deleted, sizeof(deleted), "%s (deleted)", path);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		o.read_fd = open(path, O_RDONLY | O_CLOEXEC);
		CHILD_CHECK(o.read_fd > 0);
		CHILD_CHECK(unlink(path) == 0);
		if (replace) {
			fd =
			    open(deleted, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			CHILD_CHECK(fd >= 0);
			close(fd);
		}
		_exit(-sandbox_enter(&o));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	unlink(deleted);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_root_plugin_gone)
{
	dir_setup();
	ck_assert_int_eq(enter_with_gone_plugin(false), ENOENT);
	ck_assert_int_eq(enter_with_gone_plugin(true), ESTALE);
	dir_teardown();
}
END_TEST

/*
 * A plugin that is not a regular file is refused before anything changes
 * (the caller's mount namespace and root among them).
 */
START_TEST(test_root_not_file)
{
	struct sandbox_opts o = {.uid = TEST_UID, .gid = TEST_GID};
	struct stat before, after;
	char ns_before[64], ns_after[64];
	ssize_t n;

	ck_assert_int_eq(stat("/", &before), 0);
	n = readlink("/proc/self/ns/mnt", ns_before, sizeof(ns_before) - 1);
	ck_assert_int_gt(n, 0);
	ns_before[n] = '\0';
	o.read_fd = open("/usr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_gt(o.read_fd, 0);
	ck_assert_int_eq(sandbox_enter(&o), -EINVAL);
	close(o.read_fd);
	ck_assert_int_eq(stat("/", &after), 0);
	ck_assert(
	    before.st_dev == after.st_dev && before.st_ino == after.st_ino);
	n = readlink("/proc/self/ns/mnt", ns_after, sizeof(ns_after) - 1);
	ck_assert_int_gt(n, 0);
	ns_after[n] = '\0';
	ck_assert_str_eq(ns_before, ns_after);
	ck_assert_int_eq(getuid(), 0);
}
END_TEST

/*
 * The uid switch clears the parent-death signal: sandbox_enter() sets it
 * again. A worker whose parent (a stand-in broker) dies is killed; one
 * whose parent is no longer the expected one is refused.
 */
START_TEST(test_dies_with_parent)
{
	int ready[2], pids[2], status, i, r;
	pid_t broker, worker;
	char c;

	dir_setup();
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pids, O_CLOEXEC), 0);
	broker = fork();
	ck_assert_int_ge(broker, 0);
	if (broker == 0) {
		close(pids[0]);
		worker = fork();
		CHILD_CHECK(worker >= 0);
		if (worker == 0) {
			struct sandbox_opts o = {.uid = TEST_UID,
			    .gid = TEST_GID,
			    .parent = getppid()};

			CHILD_CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0);
			CHILD_CHECK(sandbox_enter(&o) == 0);
			CHILD_CHECK(write(ready[1], "r", 1) == 1);
			for (;;)
				sleep(1); /* pause() is not allowed */
		}
		close(ready[1]);
		CHILD_CHECK(
		    write(pids[1], &worker, sizeof(worker)) == sizeof(worker));
		/* Wait for the sandboxed worker, then die. */
		CHILD_CHECK(read(ready[0], &c, 1) == 1);
		_exit(0);
	}
	close(ready[0]);
	close(ready[1]);
	close(pids[1]);
	ck_assert_int_eq(
	    read(pids[0], &worker, sizeof(worker)), (ssize_t)sizeof(worker));
	close(pids[0]);
	ck_assert_int_eq(waitpid(broker, &status, 0), broker);
	assert_exit_ok(status);
	/* The orphan is ours (subreaper): it must be killed (5 s deadline). */
	for (i = 0; i < 500 && (r = waitpid(worker, &status, WNOHANG)) == 0;
	     i++)
		usleep(10000);
	if (r == 0) {
		kill(worker, SIGKILL);
		waitpid(worker, &status, 0);
		ck_abort_msg(
		    "worker %d outlived its parent by 5 s", (int)worker);
	}
	ck_assert_msg(r == worker, "waitpid(worker %d): %s", (int)worker,
	    strerror(errno));
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "worker outlived its parent (status %#x)", status);

	/* A parent that is not the expected one: refused. */
	worker = fork();
	ck_assert_int_ge(worker, 0);
	if (worker == 0) {
		struct sandbox_opts o = {
		    .uid = TEST_UID, .gid = TEST_GID, .parent = getppid() + 1};

		_exit(sandbox_enter(&o) == -ESRCH ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(worker, &status, 0), worker);
	assert_exit_ok(status);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
	dir_teardown();
}
END_TEST

static Suite *
sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("sandbox");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_status_and_ipc);
	tcase_add_loop_test(tc, test_killed, 0,
	    sizeof(killed_bodies) / sizeof(killed_bodies[0]));
	tcase_add_test(tc, test_abort);
	tcase_add_test(tc, test_openat_refused);
	tcase_add_test(tc, test_thread);
	tcase_add_test(tc, test_qsort);
	tcase_add_test(tc, test_root_refused);
	tcase_add_test(tc, test_no_reach);
	tcase_add_test(tc, test_constructor_stage);
	tcase_add_test(tc, test_dies_with_parent);
	tcase_add_test(tc, test_landlock);
	tcase_add_test(tc, test_root);
	tcase_add_test(tc, test_root_not_file);
	tcase_add_test(tc, test_root_plugin_gone);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "sandbox_test: needs root, skipping\n");
		return 77;
	}
	return cubi_check_run(sandbox_suite());
}
