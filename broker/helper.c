// SPDX-License-Identifier: BSD-2-Clause
/*
 * Helper processes (docs/architecture.md, "Helper processes"): binaries an
 * administrator registered (--helper NAME=PATH[,service=SVC][,ro=P:P...]
 * [,timeout=S]) that a service's worker may run with "helper.run".  The
 * broker never runs anything itself: it starts the launcher
 * (workers/helper.c, next to the worker binary) which confines a child and
 * execs the helper there, feeds it the input on stdin and hands back what
 * it wrote on stdout.  Runs on the service's worker-call thread
 * (wcall.c), never on the main loop; one run at a time per service.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker.h"
#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "log.h"
#include "parse.h"

#define ERR(code, ...) (*errv = cub_err_val(code, __VA_ARGS__), -EINVAL)

/* Helper uids follow the services' (supervisor.c's MAX_SERVICES = 64). */
#define HELPER_UID_OFFSET 64
#define HELPER_MAX 32
#define HELPER_MAX_RO 16 /* as the launcher's */
#define HELPER_NAME_MAX 31
#define HELPER_DEFAULT_TIMEOUT_S 5
#define HELPER_STDERR_MAX 1024

struct helper {
	char name[HELPER_NAME_MAX + 1];
	char path[PATH_MAX];
	char service[CUB_NAME_MAX + 1]; /* "": any service */
	char *ro[HELPER_MAX_RO];
	int nro;
	unsigned timeout_s;
	uid_t uid;
	struct helper *next;
};

static struct helper *helpers;
static unsigned nhelpers;

static bool
helper_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > HELPER_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
			s[i] == '_'))
			return false;
	return true;
}

/* An absolute path that exists; a regular executable file if exe. */
static int
helper_path_ok(const char *p, bool exe, char *err, size_t errlen)
{
	struct stat st;

	if (p[0] != '/' || strlen(p) >= PATH_MAX) {
		snprintf(err, errlen, "'%s' is not an absolute path", p);
		return -EINVAL;
	}
	if (stat(p, &st) < 0) {
		snprintf(err, errlen, "'%s': %s", p, strerror(errno));
		return -errno;
	}
	if (exe && (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))) {
		snprintf(err, errlen, "'%s' is not an executable file", p);
		return -EINVAL;
	}
	if (!exe && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a file or directory", p);
		return -EINVAL;
	}
	return 0;
}

static struct helper *
helper_find(const char *name)
{
	struct helper *h;

	for (h = helpers; h && strcmp(h->name, name); h = h->next)
		;
	return h;
}

static void
helper_free(struct helper *h)
{
	int i;

	for (i = 0; i < h->nro; i++)
		free(h->ro[i]);
	free(h);
}

/* One key=value of a registration after NAME=PATH. */
static int
helper_key(struct helper *h, char *kv, char *err, size_t errlen)
{
	char *v = strchr(kv, '='), *p, *save;
	uint64_t n;
	int r;

	if (!v) {
		snprintf(err, errlen, "'%s' is not KEY=VALUE", kv);
		return -EINVAL;
	}
	*v++ = '\0';
	if (!strcmp(kv, "service")) {
		if (!helper_name_ok(v, strlen(v)) || strlen(v) > CUB_NAME_MAX) {
			snprintf(err, errlen, "service '%s' is not a name", v);
			return -EINVAL;
		}
		snprintf(h->service, sizeof(h->service), "%s", v);
		return 0;
	}
	if (!strcmp(kv, "timeout")) {
		if (cubi_parse_uint(v, 1, 600, &n)) {
			snprintf(err, errlen,
			    "timeout '%s' is not a number of seconds from 1 to "
			    "600",
			    v);
			return -EINVAL;
		}
		h->timeout_s = (unsigned)n;
		return 0;
	}
	if (!strcmp(kv, "ro")) {
		for (p = strtok_r(v, ":", &save); p;
		     p = strtok_r(NULL, ":", &save)) {
			if (h->nro == HELPER_MAX_RO) {
				snprintf(err, errlen,
				    "more than %d read-only paths",
				    HELPER_MAX_RO);
				return -E2BIG;
			}
			if ((r = helper_path_ok(p, false, err, errlen)))
				return r;
			if (!(h->ro[h->nro] = strdup(p)))
				return -ENOMEM;
			h->nro++;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s' (service, ro, timeout)", kv);
	return -EINVAL;
}

int
helper_register(struct broker *b, const char *spec, char *err, size_t errlen)
{
	char *buf = strdup(spec), *eq, *kv, *save;
	struct helper *h;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	h = calloc(1, sizeof(*h));
	if (!h) {
		free(buf);
		return -ENOMEM;
	}
	h->timeout_s = HELPER_DEFAULT_TIMEOUT_S;
	eq = strchr(buf, '=');
	kv = eq ? strchr(eq, ',') : NULL;
	if (kv)
		*kv++ = '\0';
	if (!eq || !helper_name_ok(buf, (size_t)(eq - buf))) {
		snprintf(err, errlen,
		    "'%s' is not NAME=PATH[,service=SVC][,ro=P:P][,timeout=S] "
		    "with a NAME of [a-z0-9_-], at most %d characters",
		    spec, HELPER_NAME_MAX);
		r = -EINVAL;
		goto out;
	}
	*eq = '\0';
	snprintf(h->name, sizeof(h->name), "%s", buf);
	if (helper_find(h->name)) {
		snprintf(
		    err, errlen, "helper '%s' is registered twice", h->name);
		r = -EEXIST;
		goto out;
	}
	if (nhelpers == HELPER_MAX) {
		snprintf(err, errlen, "more than %d helpers", HELPER_MAX);
		r = -E2BIG;
		goto out;
	}
	if ((r = helper_path_ok(eq + 1, true, err, errlen)))
		goto out;
	snprintf(h->path, sizeof(h->path), "%s", eq + 1);
	for (kv = kv ? strtok_r(kv, ",", &save) : NULL; kv && !r;
	     kv = strtok_r(NULL, ",", &save))
		r = helper_key(h, kv, err, errlen);
	if (r)
		goto out;
	if (h->timeout_s * 1000ull + 1000 > (uint64_t)b->o.call_timeout_ms) {
		snprintf(err, errlen,
		    "helper '%s': timeout %u s must be at least a second "
		    "below --call-timeout (%d ms)",
		    h->name, h->timeout_s, b->o.call_timeout_ms);
		r = -EINVAL;
		goto out;
	}
	h->uid = b->o.uid_base + HELPER_UID_OFFSET + nhelpers++;
	h->next = helpers;
	helpers = h;
	h = NULL;
out:
	if (h)
		helper_free(h);
	free(buf);
	return r;
}

void
helper_fini(void)
{
	struct helper *h;

	while ((h = helpers)) {
		helpers = h->next;
		helper_free(h);
	}
	nhelpers = 0;
}

/* The launcher: cubicle-helper next to the worker binary. */
static void
launcher_path(struct broker *b, char *out, size_t len)
{
	const char *slash = strrchr(b->o.worker_bin, '/');

	if (!slash)
		snprintf(out, len, "cubicle-helper");
	else
		snprintf(out, len, "%.*s/cubicle-helper",
		    (int)(slash - b->o.worker_bin), b->o.worker_bin);
}

/*
 * Start the launcher with stdin, stdout and stderr on the pipes and its
 * status pipe as fd 3, with a pidfd to kill it by.  sup_tick()'s
 * waitpid(-1) may reap it before this thread does: its status comes
 * over the status pipe, and the pidfd names it whoever reaped it, so no
 * signal can reach a process that took its pid since.  The child of a
 * raw clone only makes async-signal-safe calls before execve().
 */
static pid_t
launcher_start(
    const char *bin, char *const argv[], const int fds[4], int *pidfd)
{
	static char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	struct clone_args ca = {.flags = CLONE_PIDFD,
	    .pidfd = (uint64_t)(uintptr_t)pidfd,
	    .exit_signal = 0};
	sigset_t none;
	long pid;
	int i;

	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid != 0)
		return pid < 0 ? -errno : (pid_t)pid;
	for (i = 0; i < 4; i++)
		if (dup2(fds[i], i) < 0)
			_exit(127);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(bin, argv, env);
	_exit(127);
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

struct run {
	const uint8_t *in;
	size_t inlen, inoff;
	uint8_t *out;
	size_t outlen, outcap;
	char errbuf[HELPER_STDERR_MAX + 1];
	size_t errlen;
	bool too_big, timed_out;
};

/* Read what fd has; 0 at EOF, 1 for more, -errno. */
static int
drain(int fd, struct run *r, bool is_out)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n == 0)
		return 0;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -errno;
	if (!is_out) {
		size_t k = HELPER_STDERR_MAX - r->errlen;

		k = (size_t)n < k ? (size_t)n : k;
		memcpy(r->errbuf + r->errlen, buf, k);
		r->errlen += k;
		r->errbuf[r->errlen] = '\0';
		return 1;
	}
	if (r->outlen + (size_t)n > CUB_HELPER_IO_MAX) {
		r->too_big = true;
		return 0;
	}
	if (r->outlen + (size_t)n > r->outcap) {
		size_t cap = r->outcap ? r->outcap * 2 : 65536;
		uint8_t *p;

		while (cap < r->outlen + (size_t)n)
			cap *= 2;
		p = realloc(r->out, cap);
		if (!p)
			return -ENOMEM;
		r->out = p;
		r->outcap = cap;
	}
	memcpy(r->out + r->outlen, buf, (size_t)n);
	r->outlen += (size_t)n;
	return 1;
}

/*
 * Feed the input, collect stdout (refused past CUB_HELPER_IO_MAX) and the
 * start of stderr until both close or the deadline passes.
 */
static int
helper_io(int in, int out, int err, int64_t deadline, struct run *r)
{
	struct pollfd pf[3];
	int n, k, e, ret = 0;

	while (!ret && (out >= 0 || err >= 0)) {
		int64_t left = deadline - now_ms();

		if (left <= 0) {
			r->timed_out = true;
			break;
		}
		n = 0;
		pf[n++] = (struct pollfd){.fd = out, .events = POLLIN};
		pf[n++] = (struct pollfd){.fd = err, .events = POLLIN};
		pf[n++] = (struct pollfd){.fd = in, .events = POLLOUT};
		if (poll(pf, (nfds_t)n, left > 1000 ? 1000 : (int)left) < 0) {
			if (errno != EINTR)
				ret = -errno;
			continue;
		}
		if (in >= 0 &&
		    (pf[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w =
			    write(in, r->in + r->inoff, r->inlen - r->inoff);

			if (w > 0)
				r->inoff += (size_t)w;
			/* EPIPE: the helper stopped reading; fine. */
			if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
			    r->inoff == r->inlen) {
				close(in);
				in = -1;
			}
		}
		for (k = 0; k < 2; k++) {
			int *fd = k ? &err : &out;

			if (*fd < 0 || !pf[k].revents)
				continue;
			e = drain(*fd, r, k == 0);
			if (e < 0)
				ret = e;
			if (e <= 0) {
				close(*fd);
				*fd = -1;
			}
		}
		if (r->too_big)
			break;
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	return ret;
}

/* The helper's stderr for an error message: one line, printable. */
static const char *
err_text(struct run *r)
{
	size_t i;

	while (r->errlen && (r->errbuf[r->errlen - 1] == '\n' ||
				r->errbuf[r->errlen - 1] == ' '))
		r->errbuf[--r->errlen] = '\0';
	for (i = 0; i < r->errlen; i++)
		if ((unsigned char)r->errbuf[i] < 0x20 ||
		    (unsigned char)r->errbuf[i] > 0x7e)
			r->errbuf[i] = r->errbuf[i] == '\n' ? '|' : '?';
	return r->errlen ? r->errbuf : "(nothing on stderr)";
}

static int
helper_spawn(struct service *s, const struct helper *h, struct run *run,
    int *status, struct cub_val **errv)
{
	char bin[PATH_MAX], uid[16], cpu[16], st[32] = "";
	char *argv[4 + HELPER_MAX_RO + 1];
	int p[4][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
	int child[4], pidfd = -1, i, r = 0;
	int64_t deadline;
	siginfo_t si;
	ssize_t n;
	pid_t pid;

	launcher_path(s->b, bin, sizeof(bin));
	snprintf(uid, sizeof(uid), "%u", (unsigned)h->uid);
	snprintf(cpu, sizeof(cpu), "%u", h->timeout_s);
	argv[0] = "cubicle-helper";
	argv[1] = uid;
	argv[2] = cpu;
	argv[3] = (char *)h->path;
	for (i = 0; i < h->nro; i++)
		argv[4 + i] = h->ro[i];
	argv[4 + h->nro] = NULL;
	for (i = 0; i < 4 && !r; i++)
		if (pipe2(p[i], O_CLOEXEC))
			r = -errno;
	if (r)
		goto fail;
	/* The child's ends: stdin reads, the others write. */
	child[0] = p[0][0];
	for (i = 1; i < 4; i++)
		child[i] = p[i][1];
	pid = launcher_start(bin, argv, child, &pidfd);
	if (pid < 0) {
		r = pid;
		goto fail;
	}
	for (i = 0; i < 4; i++) {
		close(child[i]);
		if (i == 0)
			p[0][0] = -1;
		else
			p[i][1] = -1;
	}
	set_nonblock(p[0][1]);
	set_nonblock(p[1][0]);
	set_nonblock(p[2][0]);
	deadline = now_ms() + (int64_t)h->timeout_s * 1000;
	r = helper_io(p[0][1], p[1][0], p[2][0], deadline, run);
	p[0][1] = p[1][0] = p[2][0] = -1; /* helper_io closed them */
	/* The launcher; its child (PID 1 of the helper's namespace, whose
	 * end kills the rest) dies with it (parent-death signal). */
	if (r || run->too_big || run->timed_out)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	/* Its exit closes the status pipe: "exit N" or "signal N". */
	n = read(p[3][0], st, sizeof(st) - 1);
	st[n > 0 ? n : 0] = '\0';
	/* Reap it, unless sup_tick() did. */
	while (waitid((idtype_t)3 /* P_PIDFD */, (id_t)pidfd, &si,
		   WEXITED | __WALL) < 0 &&
	       errno == EINTR)
		;
	close(pidfd);
	close(p[3][0]);
	if (r)
		return ERR(
		    CUB_E_INTERNAL, "helper '%s': %s", h->name, strerror(-r));
	if (sscanf(st, "exit %d", &i) == 1)
		*status = i;
	else if (sscanf(st, "signal %d", &i) == 1)
		*status = 128 + i;
	else
		*status = -1; /* the launcher failed before it forked */
	return 0;
fail:
	for (i = 0; i < 4; i++) {
		if (p[i][0] >= 0)
			close(p[i][0]);
		if (p[i][1] >= 0)
			close(p[i][1]);
	}
	return ERR(CUB_E_INTERNAL, "helper '%s': cannot start %s: %s", h->name,
	    bin, strerror(-r));
}

int
helper_call(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const char *name = cub_val__get_str(p, "name");
	const struct cub_val *in = cub_val__get(p, "input");
	struct run run = {0};
	const struct helper *h;
	int status = 0, r;

	if (!name)
		return ERR(CUB_E_MISSING, "helper.run: 'name' missing");
	if (!in || in->kind != CUB_V_BIN)
		return ERR(CUB_E_TYPE, "helper.run: 'input' must be bytes");
	if (in->bin.len > CUB_HELPER_IO_MAX)
		return ERR(CUB_E_TOOBIG,
		    "helper.run: input of %u bytes is over %u", in->bin.len,
		    CUB_HELPER_IO_MAX);
	h = helper_find(name);
	if (!h)
		return ERR(CUB_E_NOTFOUND,
		    "helper.run: no helper '%s' is registered", name);
	if (h->service[0] && strcmp(h->service, s->name))
		return ERR(CUB_E_PERM,
		    "helper.run: helper '%s' is not registered for service "
		    "'%s'",
		    name, s->name);
	run.in = in->bin.ptr;
	run.inlen = in->bin.len;
	r = helper_spawn(s, h, &run, &status, errv);
	if (r)
		goto out;
	if (run.too_big)
		r = ERR(CUB_E_LIMIT,
		    "helper '%s': output past %u bytes refused", name,
		    CUB_HELPER_IO_MAX);
	else if (run.timed_out)
		r = ERR(CUB_E_TIMEOUT,
		    "helper '%s': killed after its %u s "
		    "timeout: %s",
		    name, h->timeout_s, err_text(&run));
	else if (status < 0)
		r = ERR(CUB_E_INTERNAL, "helper '%s' could not be started: %s",
		    name, err_text(&run));
	else if (status)
		r = ERR(CUB_E_INVAL, "helper '%s' failed (exit status %d): %s",
		    name, status, err_text(&run));
	if (r) {
		if (svc_log_allowed(s))
			log_warn("service '%s': helper '%s' refused or failed",
			    s->name, name);
		goto out;
	}
	*res = cub_val__map();
	cub_val__set(*res, "output", cub_val__bin(run.out, run.outlen));
out:
	free(run.out);
	return r;
}
