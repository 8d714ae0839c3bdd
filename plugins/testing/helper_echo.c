// SPDX-License-Identifier: BSD-2-Clause
/*
 * helper-echo: a helper process for tests/integration/helper.sh (run by
 * the broker's launcher, workers/helper.c).  It reads all of stdin.  An
 * input of "mode:M" does M; any other input is written back upper-cased,
 * followed by the Uid: and CapEff: lines of /proc/self/status.  Modes
 * (each reports what happened on stdout, or fails with it on stderr):
 *   inet     socket(AF_INET) and a connect to 127.0.0.1:22
 *   shadow   open /etc/shadow
 *   write    create a file outside the work directory (/helper.out)
 *   work     create a file in the work directory (must work)
 *   net      print the netdevs of its network namespace (/proc/self/net/dev)
 *   lsroot   list the root directory (Landlock refuses it)
 *   forkbomb fork until refused; prints how many it made
 *   loop     spin forever (the timeout kills it)
 *   huge     write 2 MiB to stdout
 * Never installed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char in[1 << 21];

/* A sanitizer build: LeakSanitizer needs ptrace, which the helper's
 * seccomp filter refuses.  (A weak hook of the runtime.) */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}

static int
fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	return 1;
}

static int
status_lines(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return fail("/proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Uid:", 4) || !strncmp(line, "CapEff:", 7))
			fputs(line, stdout);
	fclose(f);
	return 0;
}

static int
mode(const char *m)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(22)};
	int fd, n = 0;
	pid_t p;

	if (!strcmp(m, "inet")) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return fail("socket(AF_INET)");
		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return fail("connect 127.0.0.1:22");
		printf("connected\n");
		return 0;
	}
	if (!strcmp(m, "shadow")) {
		fd = open("/etc/shadow", O_RDONLY);
		if (fd < 0)
			return fail("open /etc/shadow");
		printf("opened /etc/shadow\n");
		return 0;
	}
	if (!strcmp(m, "write")) {
		fd = open("/helper.out", O_WRONLY | O_CREAT, 0644);
		if (fd < 0)
			return fail("create /helper.out");
		printf("wrote outside\n");
		return 0;
	}
	if (!strcmp(m, "work")) {
		fd = open("scratch", O_WRONLY | O_CREAT, 0600);
		if (fd < 0 || write(fd, "x", 1) != 1)
			return fail("create work/scratch");
		printf("wrote work/scratch\n");
		return 0;
	}
	if (!strcmp(m, "net")) {
		char line[256], name[64];
		FILE *f = fopen("/proc/self/net/dev", "r");

		if (!f)
			return fail("/proc/self/net/dev");
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " %63[^:]:", name) == 1 &&
			    !strchr(name, '|'))
				printf("netdev %s\n", name);
		fclose(f);
		return 0;
	}
	if (!strcmp(m, "lsroot")) {
		DIR *d = opendir("/");

		if (!d)
			return fail("opendir /");
		closedir(d);
		printf("listed /\n");
		return 0;
	}
	if (!strcmp(m, "forkbomb")) {
		for (;;) {
			p = fork();
			if (p < 0)
				break;
			if (p == 0) {
				pause();
				_exit(0);
			}
			n++;
		}
		fprintf(
		    stderr, "fork refused after %d: %s\n", n, strerror(errno));
		return 1;
	}
	if (!strcmp(m, "loop"))
		for (volatile unsigned long i = 0;; i++)
			;
	if (!strcmp(m, "huge")) {
		memset(in, 'x', sizeof(in));
		fwrite(in, 1, sizeof(in), stdout);
		return 0;
	}
	fprintf(stderr, "unknown mode '%s'\n", m);
	return 2;
}

int
main(void)
{
	size_t len = 0, i;
	ssize_t n;

	while ((n = read(0, in + len, sizeof(in) - 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		return fail("read stdin");
	in[len] = '\0';
	if (!strncmp(in, "mode:", 5))
		return mode(in + 5);
	for (i = 0; i < len; i++)
		in[i] = (char)toupper((unsigned char)in[i]);
	fwrite(in, 1, len, stdout);
	putchar('\n');
	return status_lines();
}
