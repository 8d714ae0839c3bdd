// SPDX-License-Identifier: BSD-2-Clause
/*
 * The sandbox attacks of the evil plugin (tests/integration/sandbox.sh):
 *   - a constructor that runs inside dlopen() and records what it could
 *     do there: its uid, capabilities, no_new_privs, seccomp mode, whether
 *     it could read /etc/shadow, /etc/passwd, /proc/self/status and "/"
 *     and fork a child;
 *   - cubicle <cube> debug constructor: reports that record;
 *   - cubicle <cube> debug escape abstract=NAME path=PATH: connects to an
 *     abstract and a pathname AF_UNIX socket, passes a descriptor with
 *     SCM_RIGHTS and stats /etc/shadow, and reports each outcome;
 *   - cubicle <cube> debug metadata path=PATH: asks for the metadata of
 *     PATH and /etc/shadow every way the filter lets a path through (a
 *     raw newfstatat() with AT_EMPTY_PATH, relative to AT_FDCWD and to an
 *     O_PATH descriptor of "/", and fstat() of an O_PATH open), and
 *     reports the device and inode of "/" (the worker's root).
 * Every attempt is made so that a refusal by error is reported; a refusal
 * by SIGSYS kills the worker and fails the call.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evil_sandbox.h"

const struct cub_field evil_sandbox_escape_args[] = {
    {.name = "abstract",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.help = "name of an abstract AF_UNIX socket to connect to"},
    {.name = "path",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.help = "path of an AF_UNIX socket to connect to"},
    {0},
};

const struct cub_field evil_sandbox_metadata_args[] = {
    {.name = "path",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.help = "absolute path of a file whose metadata to ask for"},
    {0},
};

/* What the constructor saw, as "key=value" lines. */
static char ctor_seen[512];

static void
ctor_add(const char *key, const char *val)
{
	size_t n = strlen(ctor_seen);

	snprintf(ctor_seen + n, sizeof(ctor_seen) - n, "%s=%s\n", key, val);
}

/* The effective capability set, as /proc/self/status prints it. */
static void
ctor_caps(void)
{
	struct __user_cap_header_struct h = {
	    .version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	char buf[32];

	if (syscall(SYS_capget, &h, d)) {
		ctor_add("capeff", strerror(errno));
		return;
	}
	snprintf(buf, sizeof(buf), "%08x%08x", d[1].effective, d[0].effective);
	ctor_add("capeff", buf);
}

static void
ctor_prctl(int option, const char *key)
{
	char buf[32];
	int r = prctl(option, 0, 0, 0, 0);

	snprintf(buf, sizeof(buf), "%d", r);
	ctor_add(key, r < 0 ? strerror(errno) : buf);
}

/* Whether a file opens for reading: "read" or the error. */
static void
ctor_open(const char *path, const char *key)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		ctor_add(key, strerror(errno));
		return;
	}
	ctor_add(key, "read");
	close(fd);
}

__attribute__((constructor)) static void
evil_sandbox_ctor(void)
{
	char buf[64];
	pid_t pid;

	snprintf(buf, sizeof(buf), "%u", (unsigned)getuid());
	ctor_add("uid", buf);
	ctor_caps();
	ctor_prctl(PR_GET_NO_NEW_PRIVS, "nnp");
	ctor_prctl(PR_GET_SECCOMP, "seccomp");
	ctor_open("/etc/shadow", "shadow");
	/* World-readable files: only Landlock keeps them closed. */
	ctor_open("/etc/passwd", "passwd");
	ctor_open("/proc/self/status", "status");
	/* The worker's own root directory: Landlock keeps it unlisted. */
	ctor_open("/", "root");
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		ctor_add("fork", "forked");
	} else {
		ctor_add("fork", strerror(errno));
	}
}

static int
report_constructor(struct cub_val **result)
{
	char copy[sizeof(ctor_seen)], *line, *save = NULL, *eq;

	*result = cub_val__map();
	snprintf(copy, sizeof(copy), "%s", ctor_seen);
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		cub_val__set(*result, line, cub_val__str(eq + 1));
	}
	return 0;
}

static struct cub_val *
outcome(int r, int err)
{
	char buf[128];

	if (!r)
		return cub_val__str("done");
	snprintf(buf, sizeof(buf), "refused: %s", strerror(err));
	return cub_val__str(buf);
}

/* Connect to an AF_UNIX address; -1 with errno, or the connected fd. */
static int
unix_connect(const char *name, bool abstract)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	socklen_t salen;
	int fd, e;

	if (len + 1 >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path + (abstract ? 1 : 0), name, len);
	salen =
	    offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Send descriptor @what over @sock with SCM_RIGHTS. */
static int
send_fd(int sock, int what)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	char byte = 'x';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &what, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int
escape(const struct cub_val *args, struct cub_val **result)
{
	int afd, pfd, sv[2] = {-1, -1}, via, r, e;
	struct stat st;

	*result = cub_val__map();
	r = stat("/etc/shadow", &st);
	cub_val__set(*result, "stat", outcome(r, errno));
	afd = unix_connect(cub_val__get_str(args, "abstract"), true);
	cub_val__set(*result, "abstract", outcome(afd < 0, errno));
	pfd = unix_connect(cub_val__get_str(args, "path"), false);
	cub_val__set(*result, "path", outcome(pfd < 0, errno));
	/* Any socket that leads somewhere will do to pass a descriptor. */
	r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	e = errno;
	cub_val__set(*result, "socketpair", outcome(r, e));
	via = r == 0 ? sv[0] : afd >= 0 ? afd : pfd;
	if (via >= 0) {
		r = send_fd(via, STDERR_FILENO);
		e = errno;
	} else {
		r = -1; /* nothing to send it over: socketpair's error */
	}
	cub_val__set(*result, "scm_rights", outcome(r, e));
	if (afd >= 0)
		close(afd);
	if (pfd >= 0)
		close(pfd);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	return 0;
}

/* "size N" for a stat that succeeded, else "refused: <error>". */
static struct cub_val *
stat_outcome(long r, int err, const struct stat *st)
{
	char buf[64];

	if (r)
		return outcome(-1, err);
	snprintf(buf, sizeof(buf), "size %lld", (long long)st->st_size);
	return cub_val__str(buf);
}

/*
 * The metadata of @path every way the seccomp filter lets a path through:
 * glibc's fstat() is newfstatat(fd, "", &st, AT_EMPTY_PATH), and a filter
 * cannot see that the path is not empty; an O_PATH open needs no access
 * right, so Landlock lets it open anything. Results under @key_*.
 */
static void
stat_every_way(
    struct cub_val *result, const char *key, const char *path, int rootfd)
{
	struct stat st;
	char k[64];
	long r;
	int fd, e;

	memset(&st, 0, sizeof(st));
	r = syscall(SYS_newfstatat, AT_FDCWD, path, &st, AT_EMPTY_PATH);
	e = errno;
	snprintf(k, sizeof(k), "%s_fstatat", key);
	cub_val__set(result, k, stat_outcome(r, e, &st));

	memset(&st, 0, sizeof(st));
	if (rootfd >= 0) {
		r = syscall(SYS_newfstatat, rootfd, path + strspn(path, "/"),
		    &st, AT_EMPTY_PATH);
		e = errno;
	} else {
		r = -1;
		e = EBADF;
	}
	snprintf(k, sizeof(k), "%s_fstatat_root", key);
	cub_val__set(result, k, stat_outcome(r, e, &st));

	memset(&st, 0, sizeof(st));
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_PATH | O_CLOEXEC, 0);
	e = errno;
	r = fd < 0 ? -1 : fstat(fd, &st);
	if (fd >= 0) {
		e = errno;
		close(fd);
	}
	snprintf(k, sizeof(k), "%s_opath", key);
	cub_val__set(result, k, stat_outcome(r, e, &st));
}

static int
metadata(const struct cub_val *args, struct cub_val **result)
{
	char buf[64];
	struct stat st;
	int rootfd;

	*result = cub_val__map();
	rootfd = (int)syscall(
	    SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	stat_every_way(*result, "path", cub_val__get_str(args, "path"), rootfd);
	stat_every_way(*result, "shadow", "/etc/shadow", rootfd);
	/* Which root this is: the host's "/" or the worker's own. */
	if (syscall(SYS_newfstatat, AT_FDCWD, "/", &st, AT_EMPTY_PATH) == 0) {
		snprintf(buf, sizeof(buf), "%llu:%llu",
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
		cub_val__set(*result, "root", cub_val__str(buf));
	} else {
		cub_val__set(*result, "root", outcome(-1, errno));
	}
	if (rootfd >= 0)
		close(rootfd);
	return 0;
}

int
evil_sandbox_action(struct cub_cube *cube, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	(void)cube;
	if (!strcmp(name, "constructor"))
		return report_constructor(result);
	if (!strcmp(name, "escape"))
		return escape(args, result);
	if (!strcmp(name, "metadata"))
		return metadata(args, result);
	return -ENOENT;
}
