// SPDX-License-Identifier: BSD-2-Clause
/*
 * listbench: keyed lists through a running cubicled (bench/list-set starts
 * the broker with the test-only ruleset service).  For each size S of
 * --sizes (default 10,10000):
 *   load_S     one `ruleset add lbS` whose body holds S rules (the
 *              --file path: the CLI sends the parsed body as is)
 *   set_S      N x `lbS rules <S/2> set action=drop|forward` (a one-entry
 *              change; alternating, so each one changes the document)
 *   show_S     N x `lbS rules <S/2> show` (a one-entry read)
 * each as wall time per call (p50, us) and CPU of the broker process per
 * call (us, from /proc/PID/stat, --broker-pid), then the ratios of the
 * largest size to the smallest.  Output: "name value unit" lines.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cubicle/client.h"

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* utime + stime of pid, in microseconds. */
static double
cpu_us(int pid)
{
	unsigned long ut, st;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				"%lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct cub_val *
words(const char *a, const char *b, const char *c, const char *d,
    const char *e)
{
	const char *w[] = {a, b, c, d, e};
	struct cub_val *arr = cub_val__array();
	int i;

	for (i = 0; i < 5 && w[i]; i++)
		cub_val__push(arr, cub_val__str(w[i]));
	return arr;
}

static int
request(struct cub_client *c, struct cub_val *wordv, struct cub_val *args,
    struct cub_val *body, bool mutating)
{
	struct cub_val *params = cub_val__map(), *res = NULL, *errv = NULL;
	char rid[40];
	int r;

	cub_val__set(params, "words", wordv);
	if (args)
		cub_val__set(params, "args", args);
	if (body)
		cub_val__set(params, "body", body);
	if (mutating) {
		cub_client__new_rid(rid, sizeof(rid));
		cub_val__set(params, "rid", cub_val__str(rid));
	}
	r = cub_client__call(c, CUB_M_REQUEST, params, &res, &errv);
	if (r)
		fprintf(stderr, "listbench: request failed: %s: %s\n",
		    strerror(-r), cub_val__get_str(errv, "message") ?: "");
	cub_val__free(res);
	cub_val__free(errv);
	return r;
}

struct result {
	double load_us, load_cpu, set_p50, set_cpu, show_p50, show_cpu;
};

static int
run_size(struct cub_client *c, unsigned size, unsigned n, int bpid,
    struct result *out)
{
	struct cub_val *body = cub_val__map(), *rules = cub_val__array(), *e;
	char cube[32], key[16];
	double t0, c0, *lat = calloc(n, sizeof(double));
	unsigned i;

	snprintf(cube, sizeof(cube), "lb%u", size);
	snprintf(key, sizeof(key), "%u", size / 2);
	for (i = 0; i < size; i++) {
		e = cub_val__map();
		cub_val__set(e, "id", cub_val__uint(i));
		cub_val__set(e, "action", cub_val__str("forward"));
		cub_val__set(e, "src", cub_val__strf("10.%u.%u.0/24",
					   (i >> 8) & 255, i & 255));
		cub_val__push(rules, e);
	}
	cub_val__set(body, "rules", rules);
	c0 = cpu_us(bpid);
	t0 = now_us();
	if (request(c, words("ruleset", "add", cube, NULL, NULL), NULL, body,
		true))
		return -1;
	out->load_us = now_us() - t0;
	out->load_cpu = cpu_us(bpid) - c0;

	c0 = cpu_us(bpid);
	for (i = 0; i < n; i++) {
		struct cub_val *args = cub_val__map();

		cub_val__set(args, "action",
		    cub_val__str(i % 2 ? "forward" : "drop"));
		t0 = now_us();
		if (request(c, words(cube, "rules", key, "set", NULL), args,
			NULL, true))
			return -1;
		lat[i] = now_us() - t0;
	}
	out->set_cpu = (cpu_us(bpid) - c0) / n;
	qsort(lat, n, sizeof(*lat), cmp_d);
	out->set_p50 = lat[n / 2];

	c0 = cpu_us(bpid);
	for (i = 0; i < n; i++) {
		t0 = now_us();
		if (request(c, words(cube, "rules", key, "show", NULL), NULL,
			NULL, false))
			return -1;
		lat[i] = now_us() - t0;
	}
	out->show_cpu = (cpu_us(bpid) - c0) / n;
	qsort(lat, n, sizeof(*lat), cmp_d);
	out->show_p50 = lat[n / 2];
	free(lat);
	printf("load_%u %.0f us\nload_%u_broker_cpu %.0f us\n", size,
	    out->load_us, size, out->load_cpu);
	printf("set_%u_p50 %.0f us\nset_%u_broker_cpu %.0f us\n", size,
	    out->set_p50, size, out->set_cpu);
	printf("show_%u_p50 %.0f us\nshow_%u_broker_cpu %.0f us\n", size,
	    out->show_p50, size, out->show_cpu);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {{"socket-dir", 1, 0, 's'},
	    {"broker-pid", 1, 0, 'p'}, {"sizes", 1, 0, 'z'}, {0}};
	const char *sock = NULL, *sizes = "10,10000";
	struct result res[8];
	unsigned size[8], ns = 0, n = 200;
	struct cub_client *c;
	int opt, bpid = 0;
	char *list, *tok;

	while ((opt = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		if (opt == 's')
			sock = optarg;
		else if (opt == 'p')
			bpid = atoi(optarg);
		else if (opt == 'z')
			sizes = optarg;
		else if (opt == 'n')
			n = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (!n)
		n = 1;
	CUB_OPTS(cub_client_opts, o, .socket_dir = sock, .timeout_ms = 60000);
	c = cub_client__open(&o);
	if (!c) {
		perror("listbench: connect");
		return 1;
	}
	list = strdup(sizes);
	for (tok = strtok(list, ","); tok && ns < 8; tok = strtok(NULL, ","))
		size[ns++] = (unsigned)atoi(tok);
	free(list);
	for (unsigned i = 0; i < ns; i++)
		if (run_size(c, size[i], n, bpid, &res[i]))
			return 1;
	if (ns >= 2) {
		struct result *a = &res[0], *b = &res[ns - 1];

		printf("ratio_set_p50_%u_vs_%u %.2f x (goal <= 2)\n", size[ns - 1],
		    size[0], b->set_p50 / a->set_p50);
		printf("ratio_set_broker_cpu_%u_vs_%u %.2f x\n", size[ns - 1],
		    size[0], a->set_cpu > 0 ? b->set_cpu / a->set_cpu : 0);
		printf("ratio_show_p50_%u_vs_%u %.2f x\n", size[ns - 1], size[0],
		    b->show_p50 / a->show_p50);
	}
	cub_client__close(c);
	return 0;
}
