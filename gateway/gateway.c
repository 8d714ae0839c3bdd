/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cubicle-gateway: the HTTP side of Cubicle (issue 9, first piece).  An
 * unprivileged client of cubicled in the gateway role that serves
 * GET /metrics with nng's HTTP server: every cube of the metric services
 * (their show of metric-families, with cube="NAME"), the framework's own
 * metrics (cubicle_*) and the gateway's process_*, as OpenMetrics 1.0 or
 * Prometheus 0.0.4 text by the Accept header.  docs/architecture.md,
 * "cubicle-gateway".
 *
 * Threads: nng's, which hand each request to the scrape thread through a
 * queue (a scrape blocks on the broker; nng's threads must not), and the
 * main thread, which waits for SIGTERM/SIGINT.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "cub_config.h"
#include "cubicle/client.h"
#include "cubicle/openmetrics.h"
#include "log.h"
#include "sandbox.h"

#define GW_SERVICES_MAX 16
#define GW_QUEUE_MAX 64 /* requests waiting for the scrape thread */

struct gw {
	const char *listen;
	const char *socket_dir;
	const char *services[GW_SERVICES_MAX];
	unsigned nservices;
	int timeout_ms;
	struct cub_client *client;
	nng_http_server *server;
	/* Requests for the scrape thread. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	nng_aio *queue[GW_QUEUE_MAX];
	unsigned qhead, qlen;
	bool stopping;
	/* Since start (the scrape thread's alone). */
	uint64_t scrapes, scrape_errors;
};

static struct gw gw = {
    .listen = "127.0.0.1:9000",
    .timeout_ms = 5000,
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

/*
 * A sanitizer build: LeakSanitizer's check at exit stops the threads with
 * a ptrace()ing tracer, which the seccomp filter kills (SIGSYS), so the
 * gateway runs without it, as the helper launcher does; its code's leaks
 * are the unit tests' (openmetrics under ASan).  AddressSanitizer and
 * UBSan still report, into its log.  (A weak hook of the runtime, unused
 * otherwise.)
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cubicle-gateway [--listen ADDR:PORT] [--socket-dir DIR]\n"
	    "                       [--metrics-service NAME]... [--user NAME]\n"
	    "                       [--timeout MS]\n"
	    "Serves GET /metrics for cubicled (see cubicle-gateway(8)).\n");
}

/* One request to the broker: words, as the CLI sends them. */
static int
gw_request(const char *const *words, unsigned n, struct cub_val **result,
    char *err, size_t errlen)
{
	struct cub_val *p = cub_val__map(), *w = cub_val__array(), *ev = NULL;
	const char *msg = NULL;
	char rid[40];
	unsigned i;
	int r;

	if (!p || !w) {
		cub_val__free(p);
		cub_val__free(w);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		cub_val__push(w, cub_val__str(words[i]));
	cub_val__set(p, "words", w);
	cub_client__new_rid(rid, sizeof(rid));
	cub_val__set(p, "rid", cub_val__str(rid));
	r = cub_client__call(gw.client, CUB_M_REQUEST, p, result, &ev);
	if (r == -EREMOTEIO) {
		cub_err_parse(ev, &msg);
		snprintf(err, errlen, "%s", msg ? msg : "error");
	} else if (r < 0) {
		snprintf(err, errlen, "%s", strerror(-r));
	}
	cub_val__free(ev);
	return r;
}

/* Appends {name, help, type, samples: []} to fams; returns its samples. */
static struct cub_val *
fam_new(
    struct cub_val *fams, const char *name, const char *type, const char *help)
{
	struct cub_val *f = cub_val__map(), *s = cub_val__array();

	if (!f || !s || cub_val__set(f, "name", cub_val__str(name)) < 0 ||
	    cub_val__set(f, "type", cub_val__str(type)) < 0 ||
	    cub_val__set(f, "help", cub_val__str(help)) < 0 ||
	    cub_val__set(f, "samples", s) < 0 || cub_val__push(fams, f) < 0) {
		cub_val__free(f);
		return NULL;
	}
	return s;
}

/* A sample {labels: {k: v}, value} (k NULL: no label). */
static void
sample_add(struct cub_val *samples, const char *k, const char *v,
    struct cub_val *value)
{
	struct cub_val *s = cub_val__map(), *l = cub_val__map();

	if (!samples || !s || !l) {
		cub_val__free(s);
		cub_val__free(l);
		cub_val__free(value);
		return;
	}
	if (k)
		cub_val__set(l, k, cub_val__str(v));
	cub_val__set(s, "labels", l);
	cub_val__set(s, "value", value);
	cub_val__push(samples, s);
}

/* The value of a u64 field, or 0. */
static uint64_t
u64_of(const struct cub_val *m, const char *key)
{
	uint64_t u = 0;

	cub_val__as_u64(cub_val__get(m, key), &u);
	return u;
}

/* cubicle_service_* from `services`. */
static void
fw_services(struct cub_val *fams, const struct cub_val *svcs)
{
	static const struct {
		const char *field, *name, *type, *help;
	} cols[] = {
	    {"restarts", "cubicle_service_restarts", "counter",
		"Restarts of the service's worker."},
	    {"cubes", "cubicle_service_cubes", "gauge",
		"Cubes of the service."},
	    {"pktin_dropped", "cubicle_service_packet_in_dropped", "counter",
		"Slow-path packets dropped for the service."},
	    {"pktout_sent", "cubicle_service_packet_out_sent", "counter",
		"Packets sent out by the service's cubes."},
	    {"pktout_dropped", "cubicle_service_packet_out_dropped", "counter",
		"Packet-out requests dropped."},
	    {"netdev_dropped", "cubicle_service_netdev_events_dropped",
		"counter", "Netdev events dropped for the service."},
	};
	struct cub_val *up, *s;
	uint32_t i;
	size_t c;

	up = fam_new(fams, "cubicle_service_up", "gauge",
	    "1 when the service's worker runs, else 0.");
	for (i = 0; svcs && svcs->kind == CUB_V_ARRAY && i < svcs->arr.len;
	     i++) {
		const struct cub_val *e = svcs->arr.items[i];
		const char *name = cub_val__get_str(e, "name");
		const char *st = cub_val__get_str(e, "status");

		if (name)
			sample_add(up, "service", name,
			    cub_val__uint(st && !strcmp(st, "running")));
	}
	for (c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
		s = fam_new(fams, cols[c].name, cols[c].type, cols[c].help);
		for (i = 0;
		     svcs && svcs->kind == CUB_V_ARRAY && i < svcs->arr.len;
		     i++) {
			const struct cub_val *e = svcs->arr.items[i];
			const char *name = cub_val__get_str(e, "name");

			if (name)
				sample_add(s, "service", name,
				    cub_val__uint(u64_of(e, cols[c].field)));
		}
	}
}

/* cubicle_cube_* from `cubes`. */
static void
fw_cubes(struct cub_val *fams, const struct cub_val *cubes)
{
	struct cub_val *info, *ports, *sent, *dropped;
	uint32_t i, n = 0;

	info = fam_new(fams, "cubicle_cube_info", "gauge",
	    "1 for each cube, with its service and hook.");
	ports =
	    fam_new(fams, "cubicle_cube_ports", "gauge", "Ports of the cube.");
	sent = fam_new(fams, "cubicle_cube_packet_in", "counter",
	    "Slow-path packets the cube's dataplane sent to its worker.");
	dropped = fam_new(fams, "cubicle_cube_packet_in_dropped", "counter",
	    "Slow-path packets of the cube dropped.");
	for (i = 0; cubes && cubes->kind == CUB_V_ARRAY && i < cubes->arr.len;
	     i++) {
		const struct cub_val *e = cubes->arr.items[i];
		const char *name = cub_val__get_str(e, "name");
		struct cub_val *s, *l;

		if (!name)
			continue;
		n++;
		s = cub_val__map();
		l = cub_val__map();
		if (s && l) {
			cub_val__set(l, "cube", cub_val__str(name));
			cub_val__set(l, "service",
			    cub_val__str(cub_val__get_str(e, "service") ?: ""));
			cub_val__set(l, "hook",
			    cub_val__str(cub_val__get_str(e, "type") ?: ""));
			cub_val__set(s, "labels", l);
			cub_val__set(s, "value", cub_val__uint(1));
			cub_val__push(info, s);
		} else {
			cub_val__free(s);
			cub_val__free(l);
		}
		sample_add(
		    ports, "cube", name, cub_val__uint(u64_of(e, "ports")));
		sample_add(
		    sent, "cube", name, cub_val__uint(u64_of(e, "pktin_sent")));
		sample_add(dropped, "cube", name,
		    cub_val__uint(u64_of(e, "pktin_dropped")));
	}
	sample_add(fam_new(fams, "cubicle_cubes", "gauge", "Cubes in all."),
	    NULL, NULL, cub_val__uint(n));
}

/* process_* of this process, from /proc/self (node_exporter's names). */
static void
fw_process(struct cub_val *fams)
{
	char buf[2048], *p;
	unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
	long long rss = 0;
	double btime = 0, tck = (double)sysconf(_SC_CLK_TCK);
	struct rlimit rl;
	struct dirent *d;
	FILE *f;
	DIR *dir;
	long nfd = 0;

	f = fopen("/proc/self/stat", "re");
	if (f && fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		/* Fields 3.. after "pid (comm)": utime 14, stime 15,
		 * starttime 22, vsize 23, rss 24. */
		sscanf(p + 2,
		    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		    "%*d %*d %*d %*d %*d %*d %llu %llu %lld",
		    &utime, &stime, &start, &vsize, &rss);
	if (f)
		fclose(f);
	f = fopen("/proc/stat", "re");
	while (f && fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "btime ", 6))
			btime = strtod(buf + 6, NULL);
	if (f)
		fclose(f);
	dir = opendir("/proc/self/fd");
	while (dir && (d = readdir(dir)))
		nfd += d->d_name[0] != '.';
	if (dir) {
		closedir(dir);
		nfd--; /* the directory's own descriptor */
	}
	sample_add(fam_new(fams, "process_cpu_seconds", "counter",
		       "Total user and system CPU time spent in seconds."),
	    NULL, NULL, cub_val__float((double)(utime + stime) / tck));
	sample_add(fam_new(fams, "process_resident_memory_bytes", "gauge",
		       "Resident memory size in bytes."),
	    NULL, NULL,
	    cub_val__uint((uint64_t)(rss > 0 ? rss : 0) *
			  (uint64_t)sysconf(_SC_PAGESIZE)));
	sample_add(fam_new(fams, "process_virtual_memory_bytes", "gauge",
		       "Virtual memory size in bytes."),
	    NULL, NULL, cub_val__uint(vsize));
	sample_add(fam_new(fams, "process_open_fds", "gauge",
		       "Number of open file descriptors."),
	    NULL, NULL, cub_val__uint(nfd > 0 ? (uint64_t)nfd : 0));
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		sample_add(fam_new(fams, "process_max_fds", "gauge",
			       "Maximum number of open file descriptors."),
		    NULL, NULL, cub_val__uint(rl.rlim_cur));
	sample_add(
	    fam_new(fams, "process_start_time_seconds", "gauge",
		"Start time of the process since unix epoch in seconds."),
	    NULL, NULL, cub_val__float(btime + (double)start / tck));
}

/* A cube's families with cube=NAME added to every sample; NULL if bad. */
static struct cub_val *
cube_families(const char *cube, char *err, size_t errlen)
{
	const char *words[] = {cube, CUB_OM_FAMILIES_NAME, "show"};
	struct cub_val *res = NULL, *fams = NULL, *list;
	uint32_t i, j;
	int r;

	r = gw_request(words, 3, &res, err, errlen);
	if (r < 0)
		return NULL;
	list = cub_val__get(res, CUB_OM_FAMILIES_NAME);
	if (!list)
		list = res->kind == CUB_V_ARRAY ? res : NULL;
	if (!list) {
		fams = cub_val__array();
	} else if (cub_om_families_from_doc(list, &fams, err, errlen) < 0) {
		cub_val__free(res);
		return NULL;
	}
	cub_val__free(res);
	for (i = 0; fams && i < fams->arr.len; i++) {
		struct cub_val *f = fams->arr.items[i];
		const char *name = cub_val__get_str(f, "name");
		struct cub_val *ss = cub_val__get(f, "samples");

		if (name && (!strncmp(name, "cubicle_", 8) ||
				!strncmp(name, "process_", 8))) {
			snprintf(err, errlen,
			    "family '%s': cubicle_* and process_* are the "
			    "gateway's own",
			    name);
			return cub_val__free(fams);
		}
		for (j = 0; ss && ss->kind == CUB_V_ARRAY && j < ss->arr.len;
		     j++) {
			struct cub_val *l =
			    cub_val__get(ss->arr.items[j], "labels");

			if (!l) {
				l = cub_val__map();
				if (!l || cub_val__set(ss->arr.items[j],
					      "labels", l) < 0)
					return cub_val__free(fams);
			}
			if (cub_val__get(l, "cube")) {
				snprintf(err, errlen,
				    "family '%s': its samples have a label "
				    "'cube' of their own",
				    name ? name : "?");
				return cub_val__free(fams);
			}
			if (cub_val__set(l, "cube", cub_val__str(cube)) < 0)
				return cub_val__free(fams);
		}
	}
	/* The cube's families alone must render. */
	if (fams) {
		char *text = NULL;

		if (cub_om_render(fams, CUB_OM_OPENMETRICS, NULL, 0, &text,
			NULL, err, errlen) < 0)
			fams = cub_val__free(fams);
		free(text);
	}
	return fams;
}

/*
 * Merges a cube's families into all: samples of a family already there
 * (same name) join it when the type agrees; 0, or -EINVAL (err says
 * which) and nothing merged.
 */
static int
merge_families(
    struct cub_val *all, struct cub_val *fams, char *err, size_t errlen)
{
	uint32_t i, j, k;

	for (i = 0; i < fams->arr.len; i++) {
		const struct cub_val *f = fams->arr.items[i];

		for (j = 0; j < all->arr.len; j++) {
			const struct cub_val *a = all->arr.items[j];

			if (strcmp(cub_val__get_str(a, "name") ?: "",
				cub_val__get_str(f, "name") ?: ""))
				continue;
			if (strcmp(cub_val__get_str(a, "type") ?: "unknown",
				cub_val__get_str(f, "type") ?: "unknown")) {
				snprintf(err, errlen,
				    "family '%s' is a %s here and a %s in "
				    "another cube",
				    cub_val__get_str(f, "name") ?: "?",
				    cub_val__get_str(f, "type") ?: "unknown",
				    cub_val__get_str(a, "type") ?: "unknown");
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < fams->arr.len; i++) {
		struct cub_val *f = fams->arr.items[i], *a = NULL;
		struct cub_val *fs = cub_val__get(f, "samples");

		for (j = 0; j < all->arr.len && !a; j++)
			if (!strcmp(cub_val__get_str(all->arr.items[j], "name")
					?: "",
				cub_val__get_str(f, "name") ?: ""))
				a = all->arr.items[j];
		if (!a) {
			fams->arr.items[i] = cub_val__nil();
			if (cub_val__push(all, f) < 0)
				return -ENOMEM;
			continue;
		}
		for (k = 0; fs && fs->kind == CUB_V_ARRAY && k < fs->arr.len;
		     k++) {
			struct cub_val *as = cub_val__get(a, "samples");

			if (!as) {
				as = cub_val__array();
				if (!as || cub_val__set(a, "samples", as) < 0)
					return -ENOMEM;
			}
			if (cub_val__push(as, fs->arr.items[k]) < 0)
				return -ENOMEM;
			fs->arr.items[k] = cub_val__nil();
		}
	}
	return 0;
}

/* Whether one family's name starts the other's (a sample name clash, such
 * as a gauge 'x_total' beside a counter 'x', needs it). */
static bool
names_related(const struct cub_val *a, const struct cub_val *b)
{
	const char *x = cub_val__get_str(a, "name") ?: "";
	const char *y = cub_val__get_str(b, "name") ?: "";
	size_t lx = strlen(x), ly = strlen(y);

	return !strncmp(x, y, lx < ly ? lx : ly);
}

/*
 * Whether a cube's families can join all without breaking the merged
 * text: they and the headers (no samples) of the families of all whose
 * names are related to theirs are merged on copies and rendered, so a
 * scrape of N cubes copies no cube's samples twice.  0, or -EINVAL (err says
 * why): the cube is then skipped alone, the others kept
 * (review11-gateway-squat: one cube's gauge 'x_total' blanked every cube's
 * counter 'x').
 */
static int
families_fit(const struct cub_val *all, const struct cub_val *fams, char *err,
    size_t errlen)
{
	struct cub_val *trial = cub_val__array(), *mine = cub_val__dup(fams);
	char *text = NULL;
	uint32_t i, j;
	int r = -ENOMEM;

	if (!trial || !mine)
		goto out;
	for (i = 0; i < all->arr.len; i++)
		for (j = 0; j < fams->arr.len; j++)
			if (names_related(
				all->arr.items[i], fams->arr.items[j])) {
				/* The header alone (names and types clash):
				 * the samples merged so far, every cube's
				 * before this one, are not copied again. */
				struct cub_val *h =
				    cub_val__dup(all->arr.items[i]);

				if (!h)
					goto out;
				cub_val__free(cub_val__take(h, "samples"));
				if (cub_val__push(trial, h) < 0)
					goto out;
				break;
			}
	if ((r = merge_families(trial, mine, err, errlen)) < 0)
		goto out;
	r = cub_om_render(
	    trial, CUB_OM_OPENMETRICS, NULL, 0, &text, NULL, err, errlen);
	r = r < 0 ? -EINVAL : 0;
out:
	free(text);
	cub_val__free(trial);
	cub_val__free(mine);
	return r;
}

/* One scrape: the text in fmt (malloc'd), never NULL but on ENOMEM. */
static char *
scrape(enum cub_om_format fmt, size_t *len)
{
	static const char *const w_svcs[] = {"services"};
	static const char *const w_cubes[] = {"cubes"};
	struct cub_val *fw = cub_val__array(), *cubes = NULL, *svcs = NULL;
	struct cub_val *mons = cub_val__array(), *all;
	uint64_t errors = 0;
	char err[512], *text = NULL;
	uint32_t i;
	unsigned k;

	gw.scrapes++;
	if (gw_request(w_svcs, 1, &svcs, err, sizeof(err)) < 0) {
		log_warn("scrape: services: %s", err);
		errors++;
	}
	if (gw_request(w_cubes, 1, &cubes, err, sizeof(err)) < 0) {
		log_warn("scrape: cubes: %s", err);
		errors++;
	}
	for (i = 0; cubes && cubes->kind == CUB_V_ARRAY && i < cubes->arr.len;
	     i++) {
		const char *name =
		    cub_val__get_str(cubes->arr.items[i], "name");
		const char *svc =
		    cub_val__get_str(cubes->arr.items[i], "service");
		struct cub_val *fams;

		for (k = 0; k < gw.nservices; k++)
			if (svc && !strcmp(svc, gw.services[k]))
				break;
		if (!name || k == gw.nservices)
			continue;
		err[0] = '\0';
		fams = cube_families(name, err, sizeof(err));
		if (fams && (families_fit(mons, fams, err, sizeof(err)) < 0 ||
				     merge_families(
					 mons, fams, err, sizeof(err)) < 0))
			fams = cub_val__free(fams);
		if (!fams) {
			log_warn("scrape: cube '%s' skipped: %s", name,
			    err[0] ? err : "out of memory");
			errors++;
			continue;
		}
		cub_val__free(fams);
	}
	fw_services(fw, svcs);
	fw_cubes(fw, cubes);
	gw.scrape_errors += errors;
	sample_add(fam_new(fw, "cubicle_gateway_scrapes", "counter",
		       "Scrapes of /metrics served."),
	    NULL, NULL, cub_val__uint(gw.scrapes));
	sample_add(fam_new(fw, "cubicle_gateway_scrape_errors", "counter",
		       "Cubes or broker requests that failed during scrapes "
		       "(skipped, not failed)."),
	    NULL, NULL, cub_val__uint(gw.scrape_errors));
	{
		struct cub_val *s = cub_val__map(), *l = cub_val__map();

		cub_val__set(l, "version", cub_val__str(CUB_VERSION));
		cub_val__set(s, "labels", l);
		cub_val__set(s, "value", cub_val__uint(1));
		cub_val__push(fam_new(fw, "cubicle_build_info", "gauge",
				  "Cubicle's version, as a label."),
		    s);
	}
	fw_process(fw);
	cub_val__free(svcs);
	cub_val__free(cubes);

	/* The cubes' families first, then the framework's. */
	all = mons;
	for (i = 0; i < fw->arr.len; i++) {
		cub_val__push(all, fw->arr.items[i]);
		fw->arr.items[i] = NULL;
	}
	fw->arr.len = 0;
	cub_val__free(fw);
	if (cub_om_render(all, fmt, NULL, 0, &text, len, err, sizeof(err)) <
	    0) {
		/* Cubes that clash with each other: the framework alone. */
		struct cub_val *only = cub_val__array();

		log_warn("scrape: cubes' metrics left out: %s", err);
		gw.scrape_errors++;
		for (i = 0; i < all->arr.len; i++) {
			const char *n =
			    cub_val__get_str(all->arr.items[i], "name");

			if (n && (!strncmp(n, "cubicle_", 8) ||
				     !strncmp(n, "process_", 8))) {
				cub_val__push(only, all->arr.items[i]);
				all->arr.items[i] = cub_val__nil();
			}
		}
		text = NULL;
		if (cub_om_render(
			only, fmt, NULL, 0, &text, len, err, sizeof(err)) < 0)
			log_err("scrape: %s", err);
		cub_val__free(only);
	}
	cub_val__free(all);
	return text;
}

/* The path of a request URI without its query. */
static bool
is_metrics(const char *uri)
{
	size_t n = strcspn(uri, "?#");

	return n == 8 && !strncmp(uri, "/metrics", 8);
}

static void
reply(nng_aio *aio, uint16_t status, const char *ctype, const char *body,
    size_t len)
{
	nng_http_res *res;
	int r;

	if ((r = nng_http_res_alloc(&res)) != 0) {
		nng_aio_finish(aio, r);
		return;
	}
	nng_http_res_set_status(res, status);
	if (status == 405)
		nng_http_res_set_header(res, "Allow", "GET");
	nng_http_res_set_header(res, "Content-Type", ctype);
	if ((r = nng_http_res_copy_data(res, body, len)) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, r);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* Prometheus' negotiation: OpenMetrics only when asked for. */
static enum cub_om_format
fmt_of(const char *accept)
{
	return accept && strstr(accept, "application/openmetrics-text")
		   ? CUB_OM_OPENMETRICS
		   : CUB_OM_PROMETHEUS;
}

/* The scrape thread: one request at a time, in order of arrival. */
static void *
scrape_main(void *arg)
{
	for (;;) {
		nng_aio *aio;
		nng_http_req *req;
		const char *method, *uri;
		enum cub_om_format fmt;
		char *text;
		size_t len = 0;

		pthread_mutex_lock(&gw.mu);
		while (!gw.qlen && !gw.stopping)
			pthread_cond_wait(&gw.cv, &gw.mu);
		if (gw.stopping && !gw.qlen) {
			pthread_mutex_unlock(&gw.mu);
			return NULL;
		}
		aio = gw.queue[gw.qhead];
		gw.qhead = (gw.qhead + 1) % GW_QUEUE_MAX;
		gw.qlen--;
		pthread_mutex_unlock(&gw.mu);

		req = nng_aio_get_input(aio, 0);
		method = nng_http_req_get_method(req);
		uri = nng_http_req_get_uri(req);
		if (!is_metrics(uri)) {
			static const char nf[] =
			    "404 not found: only /metrics\n";

			reply(aio, 404, "text/plain; charset=utf-8", nf,
			    sizeof(nf) - 1);
			continue;
		}
		if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
			static const char na[] =
			    "405 method not allowed: GET\n";

			reply(aio, 405, "text/plain; charset=utf-8", na,
			    sizeof(na) - 1);
			continue;
		}
		fmt = fmt_of(nng_http_req_get_header(req, "Accept"));
		text = scrape(fmt, &len);
		if (!text) {
			static const char ie[] = "500 out of memory\n";

			reply(aio, 500, "text/plain; charset=utf-8", ie,
			    sizeof(ie) - 1);
			continue;
		}
		reply(aio, 200,
		    fmt == CUB_OM_OPENMETRICS ? CUB_OM_CTYPE_OPENMETRICS
					      : CUB_OM_CTYPE_PROMETHEUS,
		    text, len);
		free(text);
	}
}

/* nng's thread: queue the request (503 when the queue is full). */
static void
on_request(nng_aio *aio)
{
	pthread_mutex_lock(&gw.mu);
	if (gw.qlen == GW_QUEUE_MAX || gw.stopping) {
		static const char busy[] = "503 too many scrapes waiting\n";

		pthread_mutex_unlock(&gw.mu);
		reply(aio, 503, "text/plain; charset=utf-8", busy,
		    sizeof(busy) - 1);
		return;
	}
	gw.queue[(gw.qhead + gw.qlen) % GW_QUEUE_MAX] = aio;
	gw.qlen++;
	pthread_cond_signal(&gw.cv);
	pthread_mutex_unlock(&gw.mu);
}

/* --user NAME: leave root for NAME's uid, gid and groups. */
static int
drop_to(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		log_err("--user: '%s': no such user", user);
		return -ENOENT;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_err("--user: '%s': uid or gid 0; give an unprivileged user",
		    user);
		return -EINVAL;
	}
	/* Its supplementary groups too: --gateway-group may be one. */
	if (initgroups(user, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return log_errno(-errno, "--user: '%s': switching ids", user);
	return 0;
}

/* ADDRESS:PORT with an explicit port (nng would default to 80). */
static bool
listen_ok(const char *s)
{
	const char *c = strrchr(s, ':');
	char *end;
	long port;

	if (!c || c == s || strchr(s, '/') || strchr(s, '?'))
		return false;
	errno = 0;
	port = strtol(c + 1, &end, 10);
	return !errno && *end == '\0' && end != c + 1 && port > 0 &&
	       port < 65536;
}

static int
parse_args(int argc, char **argv, const char **user)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"socket-dir", required_argument, NULL, 's'},
	    {"metrics-service", required_argument, NULL, 'm'},
	    {"user", required_argument, NULL, 'u'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			gw.listen = optarg;
			break;
		case 's':
			gw.socket_dir = optarg;
			break;
		case 'm':
			if (gw.nservices == GW_SERVICES_MAX) {
				log_err("--metrics-service: at most %d",
				    GW_SERVICES_MAX);
				return -1;
			}
			if (!*optarg || strlen(optarg) > CUB_NAME_MAX) {
				log_err("--metrics-service: '%s': not a "
					"service name",
				    optarg);
				return -1;
			}
			gw.services[gw.nservices++] = optarg;
			break;
		case 'u':
			*user = optarg;
			break;
		case 't':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 100 || v > 600000) {
				log_err(
				    "--timeout: '%s': want 100 to 600000 ms",
				    optarg);
				return -1;
			}
			gw.timeout_ms = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!gw.nservices)
		gw.services[gw.nservices++] = "dynmon";
	return 0;
}

int
main(int argc, char **argv)
{
	const char *user = NULL;
	char url[300];
	nng_http_handler *h = NULL;
	nng_url *u = NULL;
	pthread_t scraper;
	sigset_t sigs;
	int r, sig;

	log_set_ident("cubicle-gateway");
	if (parse_args(argc, argv, &user) < 0)
		return 1;
	snprintf(url, sizeof(url), "http://%s", gw.listen);
	if (!listen_ok(gw.listen) || (r = nng_url_parse(&u, url)) != 0 ||
	    strcmp(u->u_path, "")) {
		log_err("--listen: '%s': want ADDRESS:PORT, PORT 1 to 65535",
		    gw.listen);
		nng_url_free(u);
		return 1;
	}
	if (geteuid() == 0 && !user) {
		log_err("refusing to run as root: give --user NAME (an "
			"unprivileged user in cubicled's --gateway-group)");
		return 1;
	}
	if (user && geteuid() != 0) {
		log_err("--user: only root may switch users");
		return 1;
	}
	if (user && drop_to(user) < 0)
		return 1;

	/* Signals go to the main thread only (nng's threads inherit it). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	{
		CUB_OPTS(cub_client_opts, o, .socket_dir = gw.socket_dir,
		    .timeout_ms = gw.timeout_ms);

		gw.client = cub_client__open(&o);
	}
	if (!gw.client) {
		log_errno(-errno, "cannot reach cubicled");
		nng_url_free(u);
		return 1;
	}
	if ((r = nng_http_server_hold(&gw.server, u)) != 0 ||
	    (r = nng_http_handler_alloc(&h, "/", on_request)) != 0 ||
	    (r = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (r = nng_http_handler_set_tree(h)) != 0 ||
	    (r = nng_http_server_add_handler(gw.server, h)) != 0 ||
	    (r = nng_http_server_start(gw.server)) != 0) {
		log_err("--listen %s: %s", gw.listen, nng_strerror(r));
		nng_url_free(u);
		return 1;
	}
	nng_url_free(u);
	if (pthread_create(&scraper, NULL, scrape_main, NULL) != 0) {
		log_err("cannot start the scrape thread");
		return 1;
	}
	r = sandbox_server_confine();
	if (r < 0) {
		log_errno(r, "sandbox");
		return 1;
	}
	log_notice("serving /metrics on http://%s (uid %u, services:%s%s%s)",
	    gw.listen, (unsigned)getuid(), " ", gw.services[0],
	    gw.nservices > 1 ? " ..." : "");
	do
		sig = sigwaitinfo(&sigs, NULL);
	while (sig < 0 && errno == EINTR);
	log_notice("signal %d: stopping", sig);
	nng_http_server_stop(gw.server);
	pthread_mutex_lock(&gw.mu);
	gw.stopping = true;
	pthread_cond_signal(&gw.cv);
	pthread_mutex_unlock(&gw.mu);
	pthread_join(scraper, NULL);
	nng_http_server_release(gw.server);
	cub_client__close(gw.client);
	return 0;
}
