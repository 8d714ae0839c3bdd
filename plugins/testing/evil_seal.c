// SPDX-License-Identifier: BSD-2-Clause
/*
 * The seal attack of the evil plugin (tests/integration/sandbox-filter.sh):
 * a constructor that, inside dlopen(), stacks a seccomp filter making
 * seccomp() a no-op that returns 0, so a worker that stacks a stricter
 * filter after the load would "succeed" without installing it and keep
 * what it allowed while loading. cubicle <cube> debug filter reports it
 * and what the plugin can do afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evil_seal.h"

/* The constructor's outcome: "installed" or the error. */
static char seal_ctor[64] = "not run";

/* seccomp() returns 0 and does nothing; everything else is allowed. */
static long
seal_fake_filter(void)
{
	static struct sock_filter f[] = {
	    BPF_STMT(
		BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	static struct sock_fprog p = {
	    .len = sizeof(f) / sizeof(f[0]), .filter = f};

	return syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_TSYNC, &p);
}

__attribute__((constructor)) static void
seal_constructor(void)
{
	if (seal_fake_filter() == 0)
		snprintf(seal_ctor, sizeof(seal_ctor), "installed");
	else
		snprintf(seal_ctor, sizeof(seal_ctor), "%s", strerror(errno));
}

static struct cub_val *
seal_outcome(long r, int err)
{
	char buf[128];

	if (r >= 0)
		return cub_val__str("done");
	snprintf(buf, sizeof(buf), "refused: %s", strerror(err));
	return cub_val__str(buf);
}

/* Read what fd 0 has within 200 ms: "eof", "nothing", or the bytes. */
static struct cub_val *
seal_stdin(void)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	char buf[128], out[160];
	ssize_t n;

	if (poll(&p, 1, 200) < 0)
		return seal_outcome(-1, errno);
	if (!p.revents)
		return cub_val__str("nothing");
	n = read(STDIN_FILENO, buf, sizeof(buf) - 1);
	if (n < 0)
		return seal_outcome(-1, errno);
	if (n == 0)
		return cub_val__str("eof");
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(out, sizeof(out), "read: %s", buf);
	return cub_val__str(out);
}

int
evil_seal_action(struct cub_cube *cube, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	static const char *const libs[] = {
	    "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/os-release", NULL};
	struct stat st;
	long r;
	int fd, i;

	(void)cube;
	(void)args;
	if (!strcmp(name, "stdin")) {
		*result = cub_val__map();
		cub_val__set(*result, "stdin", seal_stdin());
		return 0;
	}
	if (strcmp(name, "filter"))
		return -ENOENT;
	*result = cub_val__map();
	cub_val__set(*result, "constructor", cub_val__str(seal_ctor));
	r = stat("/etc/shadow", &st);
	cub_val__set(*result, "stat_shadow", seal_outcome(r, errno));
	r = seal_fake_filter();
	cub_val__set(*result, "filter_now", seal_outcome(r, errno));
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	cub_val__set(*result, "open_passwd", seal_outcome(fd, errno));
	if (fd >= 0)
		close(fd);
	/* A system library (or any file there) still opens: dlopen()'s. */
	for (i = 0, fd = -1; libs[i] && fd < 0; i++)
		fd = open(libs[i], O_RDONLY | O_CLOEXEC);
	cub_val__set(*result, "open_lib", seal_outcome(fd, errno));
	if (fd >= 0)
		close(fd);
	return 0;
}
