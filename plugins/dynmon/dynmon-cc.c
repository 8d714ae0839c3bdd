// SPDX-License-Identifier: BSD-2-Clause
/*
 * cubicle-dynmon-cc: dynmon's compile helper (the dynmon contract,
 * section 1; docs/architecture.md, "dynmon", "Rewriter and compile
 * helper").  The broker runs it confined (broker/helper.c): stdin is one
 * MessagePack map {type, ingress, egress}, stdout the BPF object, or on
 * failure exit 1 and the path's messages, user line numbers, on stderr.
 *
 * Steps: decode the input with the SDK's codec; rewrite each path
 * (rewrite.c); write the units and the BPF headers (built into this
 * binary: dmcc_files.c, so the sandbox needs no read access to Cubicle's
 * tree) into a private directory under $TMPDIR; run clang on the three
 * units at once (execve, no shell; the tree's flags, baked in at build
 * time); link them with libbpf's bpf_linker; copy the result to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "cubicle/proto.h"
#include "cubicle/val.h"
#include "dmcc_config.h"
#include "rewrite.h"

/* dmcc_files.c: the headers and dynmon_main.bpf.c, by relative path. */
struct dmcc_file {
	const char *path;
	const unsigned char *data;
	size_t len;
};
extern const struct dmcc_file dmcc_files[];

#define ERR_MAX 1024 /* what the broker passes on */
#define PATHS 2

static const char *const path_name[PATHS] = {"ingress", "egress"};

/*
 * A sanitizer build in the broker's sandbox: the helper is PID 1 of its
 * PID namespace, where LeakSanitizer's tracer fails the run at exit (as
 * workers/helper.c says of the launcher).  Run directly, leaks are
 * checked.  (A weak hook of the runtime, unused otherwise.)
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return getpid() == 1 ? "detect_leaks=0" : "";
}

static char workdir[PATH_MAX];

/* What main() holds, freed on every way out (fail() included). */
static struct {
	char *in, *unit[PATHS], *elf;
	struct cub_val *v;
} g;

static void
g_free(void)
{
	free(g.in);
	free(g.unit[0]);
	free(g.unit[1]);
	free(g.elf);
	cub_val__free(g.v);
	memset(&g, 0, sizeof(g));
}

/* Remove what main() made in @dir: dmcc_files, the units, the objects. */
static void
rm_tree(const char *dir)
{
	static const char *const work[] = {"ingress.c", "egress.c",
	    "ingress.o", "egress.o", "main.o", "out.o", "ingress.err",
	    "egress.err", "main.err", "include/gnu/stubs-32.h", "include/gnu",
	    "include/cubicle", "include", NULL};
	char p[PATH_MAX + 64];
	size_t i;

	if (!dir[0])
		return;
	for (i = 0; dmcc_files[i].path; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, dmcc_files[i].path);
		unlink(p);
	}
	for (i = 0; work[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, work[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(dir);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
fail(const char *path, const char *fmt, ...)
{
	char msg[ERR_MAX]; /* with the newline: 1 KiB */
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s: ", path);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", msg);
	rm_tree(workdir);
	g_free();
	exit(1);
}

static char *
read_all(int fd, size_t max, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1), *b;
	ssize_t r;

	if (!buf)
		return NULL;
	for (;;) {
		if (n == cap) {
			if (cap > max)
				break;
			cap *= 2;
			if (!(b = realloc(buf, cap + 1))) {
				free(buf);
				return NULL;
			}
			buf = b;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	if (n > max) {
		free(buf);
		errno = EMSGSIZE;
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

static int
write_file(const char *rel, const void *data, size_t len)
{
	const char *d = data;
	ssize_t r;
	int fd;

	/* relative: main() works in workdir */
	fd = open(rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len) {
		r = write(fd, d, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			close(fd);
			return (int)r;
		}
		d += r;
		len -= r;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* The path's code and swap list from the input; NULL code: the default. */
struct path_in {
	const char *code;
	size_t len;
	const char *swap[DM_SWAP_SETS + 1];
	size_t nswap;
};

static void
get_path(const struct cub_val *in, int p, struct path_in *out)
{
	const struct cub_val *v = cub_val__get(in, path_name[p]), *c, *s;
	size_t i, j;

	memset(out, 0, sizeof(*out));
	out->code = dm_default_code;
	out->len = strlen(dm_default_code);
	if (!v || v->kind == CUB_V_NIL)
		return;
	if (v->kind != CUB_V_MAP)
		fail(path_name[p], "the path must be a map or nil, not a %s",
		    cub_val__kind_name(v->kind));
	for (i = 0; i < v->map.len; i++)
		if (strcmp(v->map.items[i].key, "code") &&
		    strcmp(v->map.items[i].key, "swap"))
			fail(path_name[p], "unknown key '%s'",
			    v->map.items[i].key);
	c = cub_val__get(v, "code");
	if (c && c->kind != CUB_V_NIL) {
		if (c->kind != CUB_V_STR)
			fail(path_name[p], "'code' must be a string, not a %s",
			    cub_val__kind_name(c->kind));
		if (c->str.len) {
			out->code = c->str.ptr;
			out->len = c->str.len;
		}
	}
	s = cub_val__get(v, "swap");
	if (!s || s->kind == CUB_V_NIL)
		return;
	if (s->kind != CUB_V_ARRAY)
		fail(path_name[p], "'swap' must be a list, not a %s",
		    cub_val__kind_name(s->kind));
	for (i = 0; i < s->arr.len; i++) {
		const struct cub_val *e = s->arr.items[i];
		bool dup = false;

		if (e->kind != CUB_V_STR)
			fail(path_name[p], "'swap' holds a %s, not a map name",
			    cub_val__kind_name(e->kind));
		for (j = 0; j < out->nswap; j++)
			dup |= !strcmp(out->swap[j], e->str.ptr);
		if (dup)
			continue;
		if (out->nswap == DM_SWAP_SETS)
			fail(path_name[p],
			    "line 1: more than %d swap-on-read maps in one path",
			    DM_SWAP_SETS);
		out->swap[out->nswap++] = e->str.ptr;
	}
}

/* Start clang on @src (relative) into @obj; stderr to @errf. */
static pid_t
spawn_clang(const char *src, const char *obj, const char *errf, bool xdp)
{
	char *argv[64];
	int n = 0, fd;
	pid_t pid;
	size_t i;
	static const char *const flags[] = {DMCC_CLANG_FLAGS, NULL};

	argv[n++] = (char *)DMCC_CLANG;
	for (i = 0; flags[i]; i++)
		argv[n++] = (char *)flags[i];
	argv[n++] = "-I";
	argv[n++] = "include";
	argv[n++] = "-ferror-limit=8";
	argv[n++] = "-fno-color-diagnostics";
	argv[n++] = "-fno-caret-diagnostics";
	/* No temporary directory name in the object's BTF line info: the
	 * same input gives the same bytes (a replay's load is a no-op). */
	argv[n++] = "-fdebug-compilation-dir=.";
	argv[n++] = xdp ? "-DDM_XDP=1" : "-DDM_XDP=0";
	argv[n++] = "-c";
	argv[n++] = (char *)src;
	argv[n++] = "-o";
	argv[n++] = (char *)obj;
	argv[n] = NULL;
	pid = fork();
	if (pid)
		return pid;
	fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0)
		_exit(127);
	execv(argv[0], argv);
	dprintf(2, "%s: exec: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/*
 * clang's messages about @pname's unit, most important first: its errors
 * as "line L:C: error: ..." (the user's line numbers, from #line), then,
 * if there were none, whatever it said.
 */
static void
report_clang(const char *pname, const char *errf, int status)
{
	char out[ERR_MAX + 1], pre[64], *txt, *line, *save = NULL;
	size_t len = 0, n = 0;
	int fd = open(errf, O_RDONLY | O_CLOEXEC);

	txt = fd >= 0 ? read_all(fd, 1 << 20, &len) : NULL;
	if (fd >= 0)
		close(fd);
	out[0] = 0;
	snprintf(pre, sizeof(pre), "%s:", pname);
	for (line = txt ? strtok_r(txt, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *m = line;

		if (!strstr(line, "error:"))
			continue;
		if (!strncmp(line, pre, strlen(pre)))
			m = line + strlen(pre);
		n += snprintf(out + n, n < sizeof(out) ? sizeof(out) - n : 0,
		    "%s%s%s", n ? "\n" : "", m == line ? "" : "line ", m);
		if (n >= sizeof(out))
			break;
	}
	if (!out[0] && txt)
		snprintf(out, sizeof(out), "%s", txt);
	if (!out[0])
		snprintf(out, sizeof(out), "clang %s %d",
		    WIFSIGNALED(status) ? "killed by signal" : "exited",
		    WIFSIGNALED(status) ? WTERMSIG(status)
					: WEXITSTATUS(status));
	free(txt);
	fail(pname, "%s", out);
}

static char link_msg[ERR_MAX];

static int
libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	size_t n = strlen(link_msg);

	if (level != LIBBPF_WARN || n >= sizeof(link_msg) - 1)
		return 0;
	return vsnprintf(link_msg + n, sizeof(link_msg) - n, fmt, ap);
}

int
main(void)
{
	static const char *const obj[PATHS] = {"ingress.o", "egress.o"};
	static const char *const errf[PATHS] = {"ingress.err", "egress.err"};
	const char *tmp = getenv("TMPDIR"), *type;
	char err[ERR_MAX];
	struct bpf_linker *ln;
	struct path_in pin[PATHS];
	struct cub_val *v;
	pid_t pid[PATHS + 1];
	int status[PATHS + 1], p, r, fd;
	size_t len, i;
	bool xdp;

	g.in = read_all(0, CUB_HELPER_IO_MAX, &len);
	if (!g.in)
		fail("ingress", "reading the input: %s", strerror(errno));
	if ((r = cub_mp_decode(g.in, len, &g.v, err, sizeof(err))))
		fail("ingress", "the input is not MessagePack: %s", err);
	v = g.v;
	if (v->kind != CUB_V_MAP)
		fail("ingress", "the input must be a map, not a %s",
		    cub_val__kind_name(v->kind));
	for (i = 0; i < v->map.len; i++)
		if (strcmp(v->map.items[i].key, "type") &&
		    strcmp(v->map.items[i].key, "ingress") &&
		    strcmp(v->map.items[i].key, "egress"))
			fail("ingress", "unknown input key '%s'",
			    v->map.items[i].key);
	type = cub_val__get_str(v, "type");
	if (!type || (strcmp(type, "TC") && strcmp(type, "XDP")))
		fail("ingress", "'type' must be \"TC\" or \"XDP\"");
	xdp = !strcmp(type, "XDP");

	for (p = 0; p < PATHS; p++) {
		struct dm_rw_opts o = {.path = p ? 'e' : 'i',
		    .xdp = xdp && !p};

		get_path(v, p, &pin[p]);
		o.swap = pin[p].swap;
		o.nswap = pin[p].nswap;
		r = dm_rewrite(pin[p].code, pin[p].len, &o, &g.unit[p], err,
		    sizeof(err));
		if (r == -ENOMEM)
			fail(path_name[p], "out of memory");
		if (r)
			fail(path_name[p], "%s", err);
	}

	snprintf(workdir, sizeof(workdir), "%s/dmcc.XXXXXX",
	    tmp && tmp[0] == '/' ? tmp : "/tmp");
	if (!mkdtemp(workdir)) {
		r = errno;
		workdir[0] = 0;
		fail("ingress", "mkdtemp: %s", strerror(r));
	}
	if (chdir(workdir) < 0)
		fail("ingress", "chdir %s: %s", workdir, strerror(errno));
	if (mkdir("include", 0700) < 0 || mkdir("include/cubicle", 0700) < 0 ||
	    mkdir("include/gnu", 0700) < 0)
		fail("ingress", "mkdir: %s", strerror(errno));
	/*
	 * Kernel UAPI headers a monitor wants (<linux/icmp.h>, through
	 * <linux/if.h>) pull in glibc's, which pick gnu/stubs-32.h for a
	 * target that is not x86_64: an empty one lets them compile for BPF
	 * (they declare functions and types, nothing BPF code can call).
	 */
	if ((r = write_file("include/gnu/stubs-32.h", "", 0)))
		fail("ingress", "writing include/gnu/stubs-32.h: %s",
		    strerror(-r));
	for (i = 0; dmcc_files[i].path; i++)
		if ((r = write_file(dmcc_files[i].path, dmcc_files[i].data,
			 dmcc_files[i].len)))
			fail("ingress", "writing %s: %s", dmcc_files[i].path,
			    strerror(-r));
	for (p = 0; p < PATHS; p++) {
		char name[16];

		snprintf(name, sizeof(name), "%s.c", path_name[p]);
		if ((r = write_file(name, g.unit[p], strlen(g.unit[p]))))
			fail(path_name[p], "writing %s: %s", name,
			    strerror(-r));
	}

	/* The three compiles at once; then the paths' errors in order. */
	pid[0] = spawn_clang("ingress.c", obj[0], errf[0], xdp);
	pid[1] = spawn_clang("egress.c", obj[1], errf[1], xdp);
	pid[2] = spawn_clang("dynmon_main.bpf.c", "main.o", "main.err", xdp);
	for (p = 0; p <= PATHS; p++) {
		if (pid[p] < 0)
			fail("ingress", "fork: %s", strerror(errno));
		while (waitpid(pid[p], &status[p], 0) < 0 && errno == EINTR)
			;
	}
	for (p = 0; p < PATHS; p++)
		if (!WIFEXITED(status[p]) || WEXITSTATUS(status[p]))
			report_clang(path_name[p], errf[p], status[p]);
	if (!WIFEXITED(status[2]) || WEXITSTATUS(status[2]))
		report_clang("ingress", "main.err", status[2]);

	libbpf_set_print(libbpf_print);
	ln = bpf_linker__new("out.o", NULL);
	if (!ln)
		fail("ingress", "bpf_linker: %s", strerror(errno));
	if ((r = bpf_linker__add_file(ln, "main.o", NULL)) ||
	    (r = bpf_linker__add_file(ln, obj[0], NULL)) ||
	    (r = bpf_linker__add_file(ln, obj[1], NULL)) ||
	    (r = bpf_linker__finalize(ln))) {
		bpf_linker__free(ln);
		/* Both paths define a global of the same name, say. */
		fail("ingress", "linking the paths failed: %s",
		    link_msg[0] ? link_msg : strerror(-r));
	}
	bpf_linker__free(ln);
	fd = open("out.o", O_RDONLY | O_CLOEXEC);
	g.elf = fd >= 0 ? read_all(fd, CUB_HELPER_IO_MAX, &len) : NULL;
	if (!g.elf)
		fail("ingress", "reading the object: %s", strerror(errno));
	close(fd);
	rm_tree(workdir);
	for (i = 0; i < len;) {
		ssize_t w = write(1, g.elf + i, len - i);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			g_free();
			return 1;
		}
		i += w;
	}
	g_free();
	return 0;
}
