/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cubicle-gateway: the HTTP side of Cubicle (issue 9, first piece).  An
 * unprivileged client of cubicled in the gateway role that serves
 * GET /metrics: every cube of the metric services (their show of
 * metric-families, with cube="NAME"), the framework's own metrics
 * (cubicle_*) and the gateway's process_*, as OpenMetrics 1.0 or
 * Prometheus 0.0.4 text by the Accept header.  docs/architecture.md,
 * "cubicle-gateway".
 *
 * HTTP is its own (http.c parses a request head) on nng's stream API,
 * not nng's HTTP server, which bounds nothing (review11-gateway-idle):
 * every connection has a deadline for its request head and for each
 * step of its answer, connections are capped (--max-connections) and so
 * are descriptors (RLIMIT_NOFILE, set at start).
 *
 * Threads: nng's, which run the connections' callbacks and hand each
 * request to the scrape thread (a scrape blocks on the broker; nng's
 * threads must not); the scrape thread; the reaper, which frees closed
 * connections; the main thread, which waits for SIGTERM/SIGINT.
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
#include <arpa/inet.h>

#include <nng/nng.h>

#include "cub_config.h"
#include "cubicle/client.h"
#include "cubicle/openmetrics.h"
#include "cubicle/errors.h"
#include "http.h"
#include "log.h"
#include "rest.h"
#include "sandbox.h"

#define GW_SERVICES_MAX 16
#define GW_CONNS_MAX 4096  /* --max-connections at most */
#define GW_REAP_SLACK 16   /* closed conns not yet freed: accepts wait */
#define GW_BUSY_MAX 8      /* connections past the cap, answered 503 */
#define GW_FD_SPARE 32     /* descriptors beyond the connections' */
#define GW_CLAIMS_MAX 4096 /* family names held */
#define GW_BODY_MAX (1u << 20) /* a REST request's body, bytes */

/* A scrape's text, shared by the answers of the requests it serves. */
struct gw_text {
	unsigned refs; /* atomic */
	size_t len;
	char data[];
};

enum conn_state {
	C_READ,   /* reading a request head (or idle between requests) */
	C_BODY,   /* reading a REST request's body */
	C_WAIT,   /* in gw.waitq or the scrape thread's batch, or in
		     gw.restq or the REST thread's hands */
	C_SEND,   /* sending an answer */
	C_CLOSED, /* in gw.reap */
};

/* One HTTP connection (gw.mu). */
struct conn {
	struct conn *prev, *next; /* gw.conns, the longest idle first */
	struct conn *qnext;       /* gw.waitq, a batch or gw.reap */
	nng_stream *s;
	nng_aio *rx, *tx;
	enum conn_state st;
	int64_t deadline; /* C_READ: for the whole head, CLOCK_MONOTONIC ms */
	struct gw_http_req req;
	bool close_after, head_only;
	bool busy;   /* past --max-connections: its request gets a 503 */
	bool served; /* has answered a request (then idle is no timeout) */
	bool loopback; /* the peer's address is a loopback one */
	const char *allow; /* a 405's Allow (NULL: GET, HEAD) */
	char *rbody;       /* C_BODY/C_WAIT: a REST request's body */
	size_t rlen, rwant; /* its bytes read, its Content-Length */
	bool cont_pending;  /* a 100 Continue being sent (c->tx busy) */
	bool send_deferred; /* the answer waits for it */
	/* A REST request's identity: the tenant of its bearer token, or
	 * "loopback"; admin: its writes are sent as admin. */
	char who[GW_TENANT_MAX + 1];
	bool who_admin;
	bool who_tenant; /* a tenant token's: every request as the tenant */
	struct gw_text *body; /* C_SEND: the scrape's text, or NULL */
	size_t hlen, off;     /* C_SEND: head's bytes, bytes sent */
	size_t len;           /* bytes in buf */
	char hdr[512];
	char buf[GW_HTTP_HEAD_MAX];
};

/* A family name served (gw.claims), held against other definitions. */
struct claim {
	struct cub_val *hdr; /* name, type, help, unit (no samples) */
	int64_t seen;        /* last served, CLOCK_MONOTONIC ms */
};

enum { GW_DROP_TIMEOUT, GW_DROP_EVICTED, GW_DROP_REFUSED };

struct gw {
	const char *listen;
	const char *socket_dir;
	const char *services[GW_SERVICES_MAX];
	unsigned nservices;
	int timeout_ms, scrape_timeout_ms, header_timeout_ms, scrape_gap_ms;
	int64_t family_hold_ms;
	unsigned max_conns;
	struct cub_client *client;
	nng_stream_listener *listener;
	nng_aio *acc;
	bool acc_sleeping, acc_paused; /* acc_paused: under mu */
	/* Under mu: the connections, the requests for the next scrape. */
	pthread_mutex_t mu;
	pthread_cond_t cv, reap_cv;
	struct conn *conns, *conns_tail, *waitq, *waitq_tail, *reap;
	struct conn *restq, *restq_tail; /* for the REST thread */
	pthread_cond_t rest_cv;
	struct cub_client *rest_client; /* the REST thread's own */
	const char *tokens_file;
	struct gw_token *tokens; /* --tokens */
	unsigned ntokens;
	unsigned nconns, nbusy, nreap;
	bool stopping;
	uint64_t accepted, requests, busy, accept_errors, dropped[3];
	/* The scrape thread's alone: since start. */
	uint64_t scrapes, scrape_errors, scrape_timeouts, clashes;
	struct claim claims[GW_CLAIMS_MAX];
	unsigned nclaims, claims_full;
};

static struct gw gw = {
    .listen = "127.0.0.1:9000",
    .timeout_ms = 5000,
    .scrape_timeout_ms = 10000,
    .header_timeout_ms = 5000,
    .scrape_gap_ms = 100,
    .family_hold_ms = 300000,
    .max_conns = 64,
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .reap_cv = PTHREAD_COND_INITIALIZER,
    .rest_cv = PTHREAD_COND_INITIALIZER,
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
	    "                       [--timeout MS] [--scrape-timeout MS]\n"
	    "                       [--scrape-gap MS] [--header-timeout MS]\n"
	    "                       [--max-connections N] [--family-hold MS]\n"
	    "                       [--tokens FILE]\n"
	    "Serves GET /metrics, the REST API under /polycube/v1/ and\n"
	    "GET /openapi.json for cubicled (see cubicle-gateway(8)).\n");
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

/* Milliseconds on CLOCK_MONOTONIC. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The time left of the scrape's deadline, as the client's per-call
 * timeout (at most --timeout); false when none is left.
 */
static bool
deadline_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	if (left < 1)
		return false;
	cub_client__set_timeout(
	    gw.client, left < gw.timeout_ms ? (int)left : gw.timeout_ms);
	return true;
}

/* The claim on a family name, or NULL. */
static struct claim *
claim_of(const char *name)
{
	unsigned i;

	for (i = 0; i < gw.nclaims; i++)
		if (!strcmp(
			cub_val__get_str(gw.claims[i].hdr, "name") ?: "", name))
			return &gw.claims[i];
	return NULL;
}

/*
 * After a scrape: every family served (mons) holds its name from now;
 * claims not served for --family-hold are dropped.  The first served
 * family's help and unit stay those served.
 */
static void
claims_update(struct cub_val *mons)
{
	int64_t now = now_ms();
	uint32_t i, j;

	for (i = 0; i < mons->arr.len; i++) {
		struct cub_val *f = mons->arr.items[i], *h;
		const char *name = cub_val__get_str(f, "name");
		struct claim *cl;

		if (!name)
			continue;
		if ((cl = claim_of(name))) {
			cl->seen = now;
			/* The help and unit first served, not a newcomer's. */
			cub_val__set(f, "help",
			    cub_val__str(
				cub_val__get_str(cl->hdr, "help") ?: ""));
			if (cub_val__get(cl->hdr, "unit"))
				cub_val__set(f, "unit",
				    cub_val__dup(
					cub_val__get(cl->hdr, "unit")));
			else
				cub_val__free(cub_val__take(f, "unit"));
			continue;
		}
		if (gw.nclaims == GW_CLAIMS_MAX) {
			if (!gw.claims_full++)
				log_warn("scrape: %d family names held: family "
					 "'%s' and later ones are not",
				    GW_CLAIMS_MAX, name);
			continue;
		}
		if (!(h = cub_val__dup(f)))
			continue;
		cub_val__free(cub_val__take(h, "samples"));
		gw.claims[gw.nclaims].hdr = h;
		gw.claims[gw.nclaims++].seen = now;
	}
	for (i = j = 0; i < gw.nclaims; i++) {
		if (now - gw.claims[i].seen > gw.family_hold_ms) {
			cub_val__free(gw.claims[i].hdr);
			continue;
		}
		gw.claims[j++] = gw.claims[i];
	}
	gw.nclaims = j;
}

/*
 * The cubes of the metric services into mons, oldest cube first (the
 * broker lists the newest first: cube.c links a new cube at the head, and
 * its store keeps that order), each cube's families checked first against
 * the families served in the last --family-hold (gw.claims), then against
 * those of the older cubes merged so far.  A newcomer therefore never
 * displaces a family already served, nor an older cube's: a cube that
 * clashes is skipped alone, logged and counted (review11-gateway-squat).
 * Returns how many cubes the deadline cut; *errors counts the skipped.
 */
static uint64_t
cubes_merge(struct cub_val *mons, const struct cub_val *cubes, int64_t deadline,
    uint64_t *errors)
{
	struct cub_val *held = cub_val__array();
	uint64_t cut = 0;
	char err[512];
	uint32_t i;
	unsigned k;

	for (k = 0; held && k < gw.nclaims; k++)
		cub_val__push(held, cub_val__dup(gw.claims[k].hdr));
	for (i = cubes && cubes->kind == CUB_V_ARRAY ? cubes->arr.len : 0;
	     i-- > 0;) {
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
		if (!deadline_left(deadline)) {
			cut++;
			continue;
		}
		err[0] = '\0';
		fams = cube_families(name, err, sizeof(err));
		if (fams && held &&
		    families_fit(held, fams, err, sizeof(err))) {
			gw.clashes++;
			log_warn("scrape: cube '%s' skipped: %s (with a family "
				 "served before)",
			    name, err);
			(*errors)++;
			cub_val__free(fams);
			continue;
		}
		if (fams &&
		    (families_fit(mons, fams, err, sizeof(err)) < 0 ||
			merge_families(mons, fams, err, sizeof(err)) < 0)) {
			gw.clashes++;
			fams = cub_val__free(fams);
		}
		if (!fams) {
			log_warn("scrape: cube '%s' skipped: %s", name,
			    err[0] ? err : "out of memory");
			(*errors)++;
			continue;
		}
		cub_val__free(fams);
	}
	cub_val__free(held);
	claims_update(mons);
	return cut;
}

/* A gateway counter, copied under gw.mu by the caller. */
static void
counter_add(struct cub_val *fw, const char *name, const char *help, uint64_t v)
{
	sample_add(
	    fam_new(fw, name, "counter", help), NULL, NULL, cub_val__uint(v));
}

/* The gateway's own families: its counters, copied under gw.mu. */
static void
fw_gateway(struct cub_val *fw)
{
	static const char *const reasons[] = {"timeout", "evicted", "refused"};
	struct cub_val *drop;
	uint64_t dropped[3];
	uint64_t conns, accepted, requests, busy;
	unsigned i;

	pthread_mutex_lock(&gw.mu);
	conns = gw.nconns + gw.nbusy;
	accepted = gw.accepted;
	requests = gw.requests;
	busy = gw.busy;
	memcpy(dropped, gw.dropped, sizeof(dropped));
	pthread_mutex_unlock(&gw.mu);
	counter_add(fw, "cubicle_gateway_scrapes",
	    "Scrapes of the broker made (requests arriving during one are "
	    "answered by the next).",
	    gw.scrapes);
	counter_add(fw, "cubicle_gateway_scrape_errors",
	    "Cubes or broker requests that failed during scrapes "
	    "(skipped, not failed).",
	    gw.scrape_errors);
	counter_add(fw, "cubicle_gateway_scrape_timeouts",
	    "Scrapes cut short by --scrape-timeout (the cubes left skipped).",
	    gw.scrape_timeouts);
	counter_add(fw, "cubicle_gateway_family_clashes",
	    "Cubes skipped because a family of theirs clashed with one "
	    "served before.",
	    gw.clashes);
	counter_add(fw, "cubicle_gateway_requests",
	    "GET and HEAD requests of /metrics answered.", requests);
	counter_add(fw, "cubicle_gateway_busy",
	    "Requests answered 503: every connection (--max-connections) "
	    "was waiting for a scrape.",
	    busy);
	counter_add(fw, "cubicle_gateway_connections_accepted",
	    "HTTP connections accepted.", accepted);
	sample_add(fam_new(fw, "cubicle_gateway_connections", "gauge",
		       "HTTP connections open."),
	    NULL, NULL, cub_val__uint(conns));
	drop = fam_new(fw, "cubicle_gateway_connections_dropped", "counter",
	    "Connections closed by the gateway: no request head or no "
	    "progress of an answer within --header-timeout (timeout), the "
	    "oldest idle one for a new one at --max-connections (evicted), a "
	    "new one at once when 8 more already wait for their 503 "
	    "(refused).");
	for (i = 0; i < 3; i++)
		sample_add(
		    drop, "reason", reasons[i], cub_val__uint(dropped[i]));
}

/*
 * One scrape of the broker: the families (cubes' first, then the
 * framework's), or NULL on ENOMEM.  At most --scrape-timeout in all: each
 * broker call gets what is left (at most --timeout); past it the cubes
 * left are skipped and counted.  The scrape thread's alone.
 */
static struct cub_val *
scrape(void)
{
	static const char *const w_svcs[] = {"services"};
	static const char *const w_cubes[] = {"cubes"};
	struct cub_val *fw = cub_val__array(), *cubes = NULL, *svcs = NULL;
	struct cub_val *mons = cub_val__array(), *all;
	int64_t deadline = now_ms() + gw.scrape_timeout_ms;
	uint64_t errors = 0, cut = 0;
	char err[512];
	uint32_t i;

	if (!fw || !mons) {
		cub_val__free(fw);
		cub_val__free(mons);
		return NULL;
	}
	gw.scrapes++;
	if (!deadline_left(deadline))
		cut++;
	else if (gw_request(w_svcs, 1, &svcs, err, sizeof(err)) < 0) {
		log_warn("scrape: services: %s", err);
		errors++;
	}
	if (!deadline_left(deadline))
		cut++;
	else if (gw_request(w_cubes, 1, &cubes, err, sizeof(err)) < 0) {
		log_warn("scrape: cubes: %s", err);
		errors++;
	}
	cut += cubes_merge(mons, cubes, deadline, &errors);
	if (cut || now_ms() >= deadline) {
		log_warn("scrape: --scrape-timeout %d ms passed: %" PRIu64
			 " cubes or broker requests skipped",
		    gw.scrape_timeout_ms, cut);
		gw.scrape_timeouts++;
		errors += cut;
	}
	cub_client__set_timeout(gw.client, gw.timeout_ms);
	fw_services(fw, svcs);
	fw_cubes(fw, cubes);
	gw.scrape_errors += errors;
	fw_gateway(fw);
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
	return all;
}

/* Whether a family is the framework's (cubicle_*, process_*). */
static bool
is_framework(const struct cub_val *f)
{
	const char *n = cub_val__get_str(f, "name");

	return n && (!strncmp(n, "cubicle_", 8) || !strncmp(n, "process_", 8));
}

/*
 * A scrape's families as text in fmt (a text of refs 1), or NULL on
 * ENOMEM.  Cubes that still clash with each other once merged: the
 * framework's families alone, counted.
 */
static struct gw_text *
render(const struct cub_val *all, enum cub_om_format fmt)
{
	char err[512], *text = NULL;
	struct gw_text *t;
	size_t len = 0;
	uint32_t i;

	if (cub_om_render(all, fmt, NULL, 0, &text, &len, err, sizeof(err)) <
	    0) {
		struct cub_val *only = cub_val__array();

		log_warn("scrape: cubes' metrics left out: %s", err);
		gw.scrape_errors++;
		for (i = 0; only && i < all->arr.len; i++)
			if (is_framework(all->arr.items[i]))
				cub_val__push(
				    only, cub_val__dup(all->arr.items[i]));
		text = NULL;
		if (!only || cub_om_render(only, fmt, NULL, 0, &text, &len, err,
				 sizeof(err)) < 0)
			log_err("scrape: %s", only ? err : "out of memory");
		cub_val__free(only);
	}
	if (!text)
		return NULL;
	t = malloc(sizeof(*t) + len);
	if (t) {
		t->refs = 1;
		t->len = len;
		memcpy(t->data, text, len);
	}
	free(text);
	return t;
}

static void
text_unref(struct gw_text *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(t);
}

/*
 * The HTTP server: connections on nng's stream API (nng_stream), one
 * struct conn each, driven by its two aios' callbacks on nng's threads.
 * Everything below runs with gw.mu held unless it says otherwise; no nng
 * call made under it blocks (closing a stream or an aio only schedules
 * their callbacks, which take gw.mu themselves).  A closed conn goes to
 * the reaper thread, which frees its aios (waiting for their callbacks)
 * and its stream.
 */
static void conn_parse(struct conn *c);
static void rest_start(struct conn *c);
static void rest_read(struct conn *c);

static void
conn_close(struct conn *c)
{
	if (c->st == C_CLOSED)
		return;
	c->st = C_CLOSED;
	if (c->prev)
		c->prev->next = c->next;
	else
		gw.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		gw.conns_tail = c->prev;
	c->prev = c->next = NULL;
	if (c->busy)
		gw.nbusy--;
	else
		gw.nconns--;
	nng_stream_close(c->s);
	c->qnext = gw.reap;
	gw.reap = c;
	gw.nreap++;
	pthread_cond_signal(&gw.reap_cv);
}

/* To the list's tail: the list runs from the longest idle. */
static void
conn_to_tail(struct conn *c)
{
	if (gw.conns_tail == c)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else if (gw.conns == c)
		gw.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = NULL;
	c->prev = gw.conns_tail;
	if (gw.conns_tail)
		gw.conns_tail->next = c;
	else
		gw.conns = c;
	gw.conns_tail = c;
}

/* Sends what is left of the answer: its head, then its body. */
static void
conn_send_more(struct conn *c)
{
	nng_iov iov[2];
	unsigned n = 0;
	size_t blen = c->body && !c->head_only ? c->body->len : 0;

	if (c->off < c->hlen) {
		iov[n].iov_buf = c->hdr + c->off;
		iov[n++].iov_len = c->hlen - c->off;
		if (blen) {
			iov[n].iov_buf = c->body->data;
			iov[n++].iov_len = blen;
		}
	} else {
		iov[n].iov_buf = c->body->data + (c->off - c->hlen);
		iov[n++].iov_len = blen - (c->off - c->hlen);
	}
	nng_aio_set_iov(c->tx, n, iov);
	nng_aio_set_timeout(c->tx, gw.header_timeout_ms);
	nng_stream_send(c->s, c->tx);
}

/*
 * Answers c's request: status, a content type, and either body (a
 * scrape's text, c takes a reference) or msg (a line, for the errors).
 */
static void
conn_answer(struct conn *c, unsigned status, const char *ctype,
    struct gw_text *body, const char *msg)
{
	static const struct {
		unsigned code;
		const char *reason;
	} reasons[] = {
	    {200, "OK"},
	    {201, "Created"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {409, "Conflict"},
	    {411, "Length Required"},
	    {413, "Content Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {429, "Too Many Requests"},
	    {504, "Gateway Timeout"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {503, "Service Unavailable"},
	    {505, "HTTP Version Not Supported"},
	};
	const char *reason = "Error";
	char date[64];
	struct tm tm;
	time_t t = time(NULL);
	size_t mlen = msg ? strlen(msg) : 0;
	unsigned i;
	int n;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			reason = reasons[i].reason;
	if (!gmtime_r(&t, &tm) ||
	    !strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm))
		date[0] = '\0';
	if (gw.stopping)
		c->close_after = true;
	n = snprintf(c->hdr, sizeof(c->hdr),
	    "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Date: %s\r\n%s%s%s%s\r\n",
	    status, reason, ctype, body ? body->len : mlen, date,
	    status == 405 ? "Allow: " : "",
	    status == 405 ? (c->allow ? c->allow : "GET, HEAD") : "",
	    status == 405 ? "\r\n" : "",
	    c->close_after   ? "Connection: close\r\n"
	    : !c->req.http11 ? "Connection: keep-alive\r\n"
			     : "");
	c->hlen = n > 0 && (size_t)n < sizeof(c->hdr) ? (size_t)n : 0;
	/* An error's line joins the head (it fits: hdr has room). */
	if (msg && c->hlen + mlen < sizeof(c->hdr) && !c->head_only) {
		memcpy(c->hdr + c->hlen, msg, mlen);
		c->hlen += mlen;
	}
	c->body = body;
	c->off = 0;
	c->st = C_SEND;
	if (c->cont_pending)
		c->send_deferred = true; /* tx is busy: after the 100 */
	else
		conn_send_more(c);
}

static void
conn_error(struct conn *c, unsigned status, const char *why)
{
	char line[160];

	snprintf(line, sizeof(line), "%u %s\n", status, why);
	c->close_after = true;
	conn_answer(c, status, "text/plain; charset=utf-8", NULL, line);
}

/* Reads (more of) a request head, by c->deadline. */
static void
conn_read(struct conn *c)
{
	int64_t left = c->deadline - now_ms();
	nng_iov iov;

	if (left < 1) {
		if (c->len || !c->served)
			gw.dropped[GW_DROP_TIMEOUT]++;
		conn_close(c);
		return;
	}
	iov.iov_buf = c->buf + c->len;
	iov.iov_len = sizeof(c->buf) - c->len;
	nng_aio_set_iov(c->rx, 1, &iov);
	nng_aio_set_timeout(c->rx, (nng_duration)left);
	nng_stream_recv(c->s, c->rx);
}

/* A new request may start: a fresh deadline for its head. */
static void
conn_idle(struct conn *c)
{
	c->st = C_READ;
	c->deadline = now_ms() + gw.header_timeout_ms;
	text_unref(c->body);
	c->body = NULL;
	free(c->rbody);
	c->rbody = NULL;
	c->rlen = c->rwant = 0;
	c->allow = NULL;
	conn_to_tail(c);
	conn_parse(c); /* a pipelined request may be there already */
}

static void
conn_parse(struct conn *c)
{
	struct gw_http_req *r = &c->req;
	int ret = gw_http_parse(c->buf, c->len, r);

	if (ret == -EAGAIN) {
		conn_read(c);
		return;
	}
	c->head_only = r->method == GW_HTTP_HEAD;
	if (ret < 0) {
		conn_error(c, r->status, r->why);
		return;
	}
	memmove(c->buf, c->buf + r->head_len, c->len - r->head_len);
	c->len -= r->head_len;
	/* A body is never read but by the REST paths: the connection ends
	 * after the answer. */
	c->close_after = !r->keep_alive || r->has_body;
	if (c->busy) {
		gw.busy++;
		conn_error(c, 503,
		    "busy: every connection (--max-connections) is waiting "
		    "for a scrape");
		return;
	}
	if (r->rest || r->openapi) {
		rest_start(c);
		return;
	}
	if (!r->metrics) {
		conn_error(c, 404,
		    "not found: /metrics, /openapi.json or /polycube/v1/...");
		return;
	}
	if (r->method != GW_HTTP_GET && r->method != GW_HTTP_HEAD) {
		conn_error(c, 405, "method not allowed: GET or HEAD");
		return;
	}
	/* For the next scrape (the scrape thread answers). */
	c->st = C_WAIT;
	c->qnext = NULL;
	if (gw.waitq_tail)
		gw.waitq_tail->qnext = c;
	else
		gw.waitq = c;
	gw.waitq_tail = c;
	pthread_cond_signal(&gw.cv);
}

static void
conn_rx_cb(void *arg)
{
	struct conn *c = arg;
	int r = nng_aio_result(c->rx);

	pthread_mutex_lock(&gw.mu);
	if (c->st == C_BODY) {
		if (r == NNG_ETIMEDOUT)
			gw.dropped[GW_DROP_TIMEOUT]++;
		if (r) {
			conn_close(c);
		} else {
			c->rlen += nng_aio_count(c->rx);
			rest_read(c);
		}
		pthread_mutex_unlock(&gw.mu);
		return;
	}
	if (c->st != C_READ) {
		pthread_mutex_unlock(&gw.mu);
		return;
	}
	/* An idle keep-alive connection ending is no timeout. */
	if (r == NNG_ETIMEDOUT && (c->len || !c->served))
		gw.dropped[GW_DROP_TIMEOUT]++;
	if (r) {
		conn_close(c);
	} else {
		c->len += nng_aio_count(c->rx);
		conn_parse(c);
	}
	pthread_mutex_unlock(&gw.mu);
}

static void
conn_tx_cb(void *arg)
{
	struct conn *c = arg;
	int r = nng_aio_result(c->tx);
	size_t total;

	pthread_mutex_lock(&gw.mu);
	if (c->cont_pending) {
		/* The 100 Continue went (or not: then the body never
		 * comes and the read times out); an answer made meanwhile
		 * goes now. */
		c->cont_pending = false;
		if (c->send_deferred && c->st == C_SEND) {
			c->send_deferred = false;
			if (r)
				conn_close(c);
			else
				conn_send_more(c);
		}
		pthread_mutex_unlock(&gw.mu);
		return;
	}
	if (c->st != C_SEND) {
		pthread_mutex_unlock(&gw.mu);
		return;
	}
	if (r == NNG_ETIMEDOUT)
		gw.dropped[GW_DROP_TIMEOUT]++;
	total = c->hlen + (c->body && !c->head_only ? c->body->len : 0);
	if (!r)
		c->off += nng_aio_count(c->tx);
	if (r || (c->off >= total && c->close_after))
		conn_close(c);
	else if (c->off < total)
		conn_send_more(c);
	else {
		c->served = true;
		conn_idle(c);
	}
	pthread_mutex_unlock(&gw.mu);
}

/* The longest idle conn reading a request head (none: NULL). */
static struct conn *
conn_evictable(void)
{
	struct conn *c;

	for (c = gw.conns; c; c = c->next)
		if (c->st == C_READ && !c->busy)
			return c;
	return NULL;
}

static void
accept_cb(void *arg)
{
	int r = nng_aio_result(gw.acc);
	nng_stream *s = NULL;
	struct conn *c = NULL, *old;
	bool paused;

	(void)arg;
	pthread_mutex_lock(&gw.mu);
	if (gw.stopping || r == NNG_ECLOSED || r == NNG_ECANCELED) {
		pthread_mutex_unlock(&gw.mu);
		if (!r)
			nng_stream_free(nng_aio_get_output(gw.acc, 0));
		return;
	}
	if (gw.acc_sleeping) {
		/* After a failed accept: try again. */
		gw.acc_sleeping = false;
		pthread_mutex_unlock(&gw.mu);
		nng_stream_listener_accept(gw.listener, gw.acc);
		return;
	}
	if (r) {
		/* EMFILE and the like: not at once again (nng would spin). */
		if (!gw.accept_errors++ || gw.accept_errors % 1000 == 0)
			log_warn("accept: %s (%" PRIu64 " times)",
			    nng_strerror(r), gw.accept_errors);
		gw.acc_sleeping = true;
		pthread_mutex_unlock(&gw.mu);
		nng_sleep_aio(100, gw.acc);
		return;
	}
	s = nng_aio_get_output(gw.acc, 0);
	gw.accepted++;
	if (gw.nconns >= gw.max_conns && (old = conn_evictable())) {
		gw.dropped[GW_DROP_EVICTED]++;
		conn_close(old);
	}
	/* Past the cap, with none idle: a few get a 503, the rest closed. */
	if ((gw.nconns < gw.max_conns || gw.nbusy < GW_BUSY_MAX) &&
	    (c = calloc(1, sizeof(*c))) &&
	    !nng_aio_alloc(&c->rx, conn_rx_cb, c) &&
	    !nng_aio_alloc(&c->tx, conn_tx_cb, c)) {
		nng_sockaddr sa;

		c->s = s;
		s = NULL;
		c->st = C_READ;
		if (!nng_stream_get_addr(c->s, NNG_OPT_REMADDR, &sa))
			c->loopback =
			    (sa.s_family == NNG_AF_INET &&
				(ntohl(sa.s_in.sa_addr) >> 24) == 127) ||
			    (sa.s_family == NNG_AF_INET6 &&
				!memcmp(sa.s_in6.sa_addr,
				    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16));
		if (gw.nconns < gw.max_conns) {
			gw.nconns++;
		} else {
			c->busy = true;
			gw.nbusy++;
		}
		conn_idle(c);
	} else {
		gw.dropped[GW_DROP_REFUSED]++;
		if (c) {
			nng_aio_free(c->rx);
			nng_aio_free(c->tx);
			free(c);
		}
	}
	/* Closed ones not freed yet hold descriptors: no accept until the
	 * reaper catches up (new connections wait in the kernel's queue). */
	paused = gw.acc_paused = gw.nreap >= GW_REAP_SLACK;
	pthread_mutex_unlock(&gw.mu);
	if (s) {
		nng_stream_close(s);
		nng_stream_free(s);
	}
	if (!paused)
		nng_stream_listener_accept(gw.listener, gw.acc);
}

/*
 * The REST side (docs "cubicle-gateway", "REST"): a request under
 * /polycube/v1/ or GET /openapi.json reads its body (by Content-Length,
 * at most GW_BODY_MAX), then waits in gw.restq for the REST thread, which
 * asks the broker (its own connection, rest_client) and answers JSON.
 * Identity: no bearer tokens yet; a caller over loopback is vouched for
 * as user "loopback", role admin for the verbs that change something and
 * reader for the others (the broker takes admin only under --gateway-may
 * reader,admin, else it refuses: 403 with its message); any other caller
 * is refused (401).
 */

/* An HTTP status's CUB_E_* code, for the gateway's own refusals. */
static int
status_code(unsigned status)
{
	switch (status) {
	case 400:
		return CUB_E_INVAL;
	case 401:
	case 403:
		return CUB_E_PERM;
	case 404:
		return CUB_E_NOTFOUND;
	case 405:
		return CUB_E_VERB;
	case 409:
		return CUB_E_EXISTS;
	case 411:
		return CUB_E_MISSING;
	case 413:
	case 414:
		return CUB_E_TOOBIG;
	case 415:
		return CUB_E_TYPE;
	case 503:
		return CUB_E_UNAVAIL;
	case 504:
		return CUB_E_TIMEOUT;
	default:
		return CUB_E_INTERNAL;
	}
}

static struct gw_text *
text_of(const char *s)
{
	size_t n = strlen(s);
	struct gw_text *t = malloc(sizeof(*t) + n + 2);

	if (!t)
		return NULL;
	t->refs = 1;
	memcpy(t->data, s, n);
	t->data[n++] = '\n';
	t->len = n;
	return t;
}

/* The JSON error {"error": {code, name, message}} as c's answer. */
static void
rest_error(struct conn *c, unsigned status, int code, const char *msg)
{
	char *j = gw_rest_error_json(code, msg);
	struct gw_text *t = j ? text_of(j) : NULL;

	free(j);
	if (!t) {
		conn_error(c, 500, "out of memory");
		return;
	}
	conn_answer(c, status, "application/json", t, NULL);
}

static void
rest_queue(struct conn *c)
{
	c->st = C_WAIT;
	c->qnext = NULL;
	if (gw.restq_tail)
		gw.restq_tail->qnext = c;
	else
		gw.restq = c;
	gw.restq_tail = c;
	pthread_cond_signal(&gw.rest_cv);
}

/* Reads (more of) the body, by c->deadline; queues c once it is read. */
static void
rest_read(struct conn *c)
{
	int64_t left = c->deadline - now_ms();
	nng_iov iov;

	if (c->rlen >= c->rwant) {
		c->rbody[c->rlen] = '\0';
		rest_queue(c);
		return;
	}
	if (left < 1) {
		gw.dropped[GW_DROP_TIMEOUT]++;
		conn_close(c);
		return;
	}
	iov.iov_buf = c->rbody + c->rlen;
	iov.iov_len = c->rwant - c->rlen;
	nng_aio_set_iov(c->rx, 1, &iov);
	nng_aio_set_timeout(c->rx, (nng_duration)left);
	nng_stream_recv(c->s, c->rx);
}

/* A REST request's head is read: refuse it, or read its body. */
static void
rest_start(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct gw_http_req *r = &c->req;
	size_t n;

	if (r->openapi && r->method != GW_HTTP_GET &&
	    r->method != GW_HTTP_HEAD) {
		c->allow = "GET, HEAD";
		rest_error(c, 405, CUB_E_VERB,
		    "/openapi.json: method not allowed: GET or HEAD");
		return;
	}
	if (r->rest &&
	    (r->method == GW_HTTP_HEAD || r->method == GW_HTTP_OTHER)) {
		c->allow = "GET, POST, PUT, PATCH, DELETE";
		rest_error(c, 405, CUB_E_VERB,
		    "method not allowed: GET, POST, PUT, PATCH or DELETE");
		return;
	}
	if (r->auth) {
		const struct gw_token *tok = NULL;
		const char *why = "no tokens are configured (--tokens)";

		if (gw.ntokens)
			tok = gw_tokens_find(gw.tokens, gw.ntokens, r->authz,
			    &why);
		if (!tok) {
			rest_error(c, 401, CUB_E_PERM, why);
			return;
		}
		snprintf(c->who, sizeof(c->who), "%s", tok->tenant);
		c->who_admin = tok->admin;
		c->who_tenant = tok->as_tenant;
	} else if (!c->loopback) {
		rest_error(c, 401, CUB_E_PERM,
		    "a bearer token is needed (Authorization: Bearer ...): "
		    "only callers over loopback go without one");
		return;
	} else {
		snprintf(c->who, sizeof(c->who), "loopback");
		c->who_admin = true;
		c->who_tenant = false;
	}
	if (r->chunked) {
		rest_error(c, 411, CUB_E_MISSING,
		    "a body needs a Content-Length (no Transfer-Encoding)");
		return;
	}
	if (r->content_length > GW_BODY_MAX) {
		char m[96];

		snprintf(m, sizeof(m), "the body is over %u bytes",
		    GW_BODY_MAX);
		rest_error(c, 413, CUB_E_TOOBIG, m);
		return;
	}
	if (r->content_length && r->ctype_other) {
		rest_error(c, 415, CUB_E_TYPE,
		    "the body must be JSON (Content-Type: application/json, "
		    "or none)");
		return;
	}
	c->close_after = !r->keep_alive;
	c->rwant = (size_t)r->content_length;
	c->rlen = 0;
	c->rbody = malloc(c->rwant + 1);
	if (!c->rbody) {
		c->close_after = true;
		rest_error(c, 500, CUB_E_INTERNAL, "out of memory");
		return;
	}
	n = c->len < c->rwant ? c->len : c->rwant;
	memcpy(c->rbody, c->buf, n);
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	c->rlen = n;
	c->st = C_BODY;
	c->deadline = now_ms() + gw.header_timeout_ms;
	if (r->expect_continue && r->http11 && c->rlen < c->rwant) {
		nng_iov iov = {.iov_buf = (void *)cont,
		    .iov_len = sizeof(cont) - 1};

		c->cont_pending = true;
		nng_aio_set_iov(c->tx, 1, &iov);
		nng_aio_set_timeout(c->tx, gw.header_timeout_ms);
		nng_stream_send(c->s, c->tx);
	}
	rest_read(c);
}

/* One broker request of the REST thread (words, args, body taken). */
static int
rest_call(const char *who, struct cub_val *words, struct cub_val *args,
    struct cub_val *body, const char *role, struct cub_val **result, int *code,
    char *err, size_t errlen)
{
	struct cub_val *p = cub_val__map(), *as = cub_val__map(), *ev = NULL;
	const char *msg = NULL;
	char rid[40];
	int r;

	*result = NULL;
	if (!p || !as || !words) {
		cub_val__free(p);
		cub_val__free(as);
		cub_val__free(words);
		cub_val__free(args);
		cub_val__free(body);
		*code = CUB_E_INTERNAL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cub_val__set(p, "words", words);
	if (args)
		cub_val__set(p, "args", args);
	if (body)
		cub_val__set(p, "body", body);
	cub_val__set(as, "user", cub_val__str(who));
	cub_val__set(as, "role", cub_val__str(role));
	cub_val__set(p, "as", as);
	cub_client__new_rid(rid, sizeof(rid));
	cub_val__set(p, "rid", cub_val__str(rid));
	r = cub_client__call(gw.rest_client, CUB_M_REQUEST, p, result, &ev);
	if (r == -EREMOTEIO) {
		*code = cub_err_parse(ev, &msg);
		snprintf(err, errlen, "%s", msg ? msg : "error");
	} else if (r == -ETIMEDOUT) {
		*code = CUB_E_TIMEOUT;
		snprintf(err, errlen, "the broker did not answer in %d ms",
		    gw.timeout_ms);
	} else if (r < 0) {
		*code = CUB_E_UNAVAIL;
		snprintf(err, errlen, "the broker: %s", strerror(-r));
	}
	cub_val__free(ev);
	return r;
}

static struct cub_val *
words3(const char *a, const char *b)
{
	struct cub_val *w = cub_val__array();

	if (w)
		cub_val__push(w, cub_val__str(a));
	if (w && b)
		cub_val__push(w, cub_val__str(b));
	return w;
}

/* The role a REST request's reads go as: a tenant's own (it sees its
 * own cubes only), else reader. */
static const char *
read_role(const struct conn *c)
{
	return c->who_tenant ? "tenant" : "reader";
}

/* The services' names (borrowed from *list, which the caller frees). */
static int
rest_services(const char *who, const char *role, struct cub_val **list,
    int *code, char *err, size_t errlen)
{
	int r = rest_call(who, words3("services", NULL), NULL, NULL, role, list,
	    code, err, errlen);

	if (!r && (!*list || (*list)->kind != CUB_V_ARRAY)) {
		*code = CUB_E_INTERNAL;
		snprintf(err, errlen, "the broker's services are not a list");
		return -EPROTO;
	}
	return r;
}

/* The REST thread's work for c: *status and *out, JSON. */
static void
rest_handle(struct conn *c, unsigned *status, int *code, char **out,
    char *msg, size_t msglen)
{
	enum gw_rest_method m = GW_REST_OTHER;
	struct cub_val *body = NULL, *svcs = NULL, *schema = NULL, *res = NULL;
	struct gw_rest_path *path = NULL;
	struct gw_rest_call call = {0};
	const char *allow = NULL;
	uint32_t i;
	int r;

	*status = 0;
	*code = 0;
	*out = NULL;
	if (c->req.openapi) {
		struct cub_val *all = cub_val__map(), *doc;

		if (rest_services(
			c->who, read_role(c), &svcs, code, msg, msglen)) {
			cub_val__free(all);
			goto fail;
		}
		for (i = 0; all && i < svcs->arr.len; i++) {
			const char *n = cub_val__get_str(svcs->arr.items[i],
			    "name");
			struct cub_val *sc = NULL;

			if (!n)
				continue;
			/* A service not started has no schema: left out. */
			if (rest_call(c->who, words3(n, "schema"), NULL, NULL,
				read_role(c), &sc, code, msg, msglen)) {
				log_warn("openapi: %s: %s", n, msg);
				continue;
			}
			cub_val__set(all, n, sc);
		}
		*code = 0;
		doc = gw_rest_openapi(all);
		cub_val__free(all);
		*out = doc ? cub_json_emit(doc, true) : NULL;
		cub_val__free(doc);
		*status = *out ? 200 : 500;
		if (!*out) {
			*code = CUB_E_INTERNAL;
			snprintf(msg, msglen, "out of memory");
		}
		goto done;
	}
	switch (c->req.method) {
	case GW_HTTP_GET:
		m = GW_REST_GET;
		break;
	case GW_HTTP_POST:
		m = GW_REST_POST;
		break;
	case GW_HTTP_PUT:
		m = GW_REST_PUT;
		break;
	case GW_HTTP_PATCH:
		m = GW_REST_PATCH;
		break;
	case GW_HTTP_DELETE:
		m = GW_REST_DELETE;
		break;
	default:
		break;
	}
	path = malloc(sizeof(*path));
	if (!path) {
		*status = 500;
		snprintf(msg, msglen, "out of memory");
		goto fail;
	}
	*status = gw_rest_split(c->req.target, c->req.target_len, path, msg,
	    msglen);
	if (*status)
		goto fail;
	if (c->rlen) {
		char jerr[160];

		body = cub_json_parse(c->rbody, c->rlen, jerr, sizeof(jerr));
		if (!body) {
			*status = 400;
			*code = CUB_E_BADMSG;
			snprintf(msg, msglen, "the body is not JSON: %s", jerr);
			goto fail;
		}
	}
	if (gw_rest_needs_schema(path)) {
		bool found = false;

		if (rest_services(
			c->who, read_role(c), &svcs, code, msg, msglen))
			goto fail;
		for (i = 0; i < svcs->arr.len && !found; i++)
			found = !strcmp(cub_val__get_str(svcs->arr.items[i],
					    "name") ?: "",
			    path->seg[0]);
		if (!found) {
			*status = 404;
			snprintf(msg, msglen,
			    "no service named '%s' (GET " GW_REST_PREFIX
			    "/services lists them)",
			    path->seg[0]);
			goto fail;
		}
		if (rest_call(c->who, words3(path->seg[0], "schema"), NULL,
			NULL, read_role(c), &schema, code, msg, msglen))
			goto fail;
	}
	*status = gw_rest_translate(
	    m, path, schema, body, &call, &allow, msg, msglen);
	if (*status) {
		c->allow = allow;
		goto fail;
	}
	r = rest_call(c->who, call.words, call.args, call.body,
	    c->who_tenant                ? "tenant"
	    : call.write && c->who_admin ? "admin"
					 : "reader",
	    &res, code, msg, msglen);
	call.words = call.args = call.body = NULL;
	if (r)
		goto fail;
	if (call.leaf[0]) {
		const struct cub_val *v =
		    res && res->kind == CUB_V_MAP ? cub_val__get(res, call.leaf)
						  : NULL;

		if (!v) {
			*status = 404;
			snprintf(msg, msglen, "'%s' is not set", call.leaf);
			goto fail;
		}
		*out = cub_json_emit(v, true);
	} else {
		struct cub_val *empty = res ? NULL : cub_val__map();

		*out = cub_json_emit(res ? res : empty, true);
		cub_val__free(empty);
	}
	*status = call.ok_status;
	if (!*out) {
		*status = 500;
		snprintf(msg, msglen, "out of memory");
		goto fail;
	}
	goto done;
fail:
	if (!*status)
		*status = *code ? gw_rest_status(*code) : 500;
	if (!*code)
		*code = status_code(*status);
done:
	gw_rest_call_clear(&call);
	cub_val__free(body);
	cub_val__free(svcs);
	cub_val__free(schema);
	cub_val__free(res);
	free(path);
}

/* The REST thread: one request at a time, in order. */
static void *
rest_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct conn *c;
		unsigned status;
		char *out, msg[1024];
		int code;

		pthread_mutex_lock(&gw.mu);
		while (!gw.restq && !gw.stopping)
			pthread_cond_wait(&gw.rest_cv, &gw.mu);
		if (gw.stopping) {
			while ((c = gw.restq)) {
				gw.restq = c->qnext;
				conn_close(c);
			}
			gw.restq_tail = NULL;
			pthread_mutex_unlock(&gw.mu);
			return NULL;
		}
		c = gw.restq;
		gw.restq = c->qnext;
		if (!gw.restq)
			gw.restq_tail = NULL;
		c->qnext = NULL;
		pthread_mutex_unlock(&gw.mu);

		msg[0] = '\0';
		rest_handle(c, &status, &code, &out, msg, sizeof(msg));

		pthread_mutex_lock(&gw.mu);
		gw.requests++;
		if (out) {
			struct gw_text *t = text_of(out);

			if (t)
				conn_answer(c, status, "application/json", t,
				    NULL);
			else
				conn_error(c, 500, "out of memory");
		} else {
			rest_error(c, status, code, msg);
		}
		pthread_mutex_unlock(&gw.mu);
		free(out);
	}
}

/* The reaper thread: frees closed conns (their callbacks done). */
static void *
reap_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gw.mu);
	for (;;) {
		struct conn *list, *c;
		unsigned n = 0;

		while (!gw.reap && !(gw.stopping && !gw.nconns && !gw.nbusy))
			pthread_cond_wait(&gw.reap_cv, &gw.mu);
		if (!gw.reap)
			break;
		list = gw.reap;
		gw.reap = NULL;
		pthread_mutex_unlock(&gw.mu);
		while ((c = list)) {
			list = c->qnext;
			nng_aio_free(c->rx);
			nng_aio_free(c->tx);
			nng_stream_free(c->s);
			text_unref(c->body);
			free(c->rbody);
			free(c);
			n++;
		}
		pthread_mutex_lock(&gw.mu);
		gw.nreap -= n;
		if (gw.acc_paused && gw.nreap < GW_REAP_SLACK / 2 &&
		    !gw.stopping) {
			gw.acc_paused = false;
			nng_stream_listener_accept(gw.listener, gw.acc);
		}
	}
	pthread_mutex_unlock(&gw.mu);
	return NULL;
}

/*
 * The scrape thread.  Every request waiting when a scrape starts is
 * answered by it, in its format; requests arriving meanwhile wait for the
 * next one, so an answer is never older than its request.  A scrape
 * starts no sooner than the last one's length, and at least --scrape-gap,
 * after its end: whatever the number of scrapers, the gateway keeps the
 * broker at most half busy, one request at a time.
 */
static void *
scrape_main(void *arg)
{
	int64_t next = 0;

	(void)arg;
	for (;;) {
		struct gw_text *text[2] = {NULL, NULL};
		struct cub_val *all;
		struct conn *batch, *c;
		int64_t t0, took;
		bool want[2] = {false, false};

		pthread_mutex_lock(&gw.mu);
		for (;;) {
			int64_t wait = next - now_ms();

			if (gw.stopping || (gw.waitq && wait <= 0))
				break;
			if (!gw.waitq) {
				pthread_cond_wait(&gw.cv, &gw.mu);
			} else {
				struct timespec ts;

				clock_gettime(CLOCK_MONOTONIC, &ts);
				ts.tv_sec += wait / 1000;
				ts.tv_nsec += (wait % 1000) * 1000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&gw.cv, &gw.mu, &ts);
			}
		}
		if (gw.stopping) {
			while ((c = gw.waitq)) {
				gw.waitq = c->qnext;
				conn_close(c);
			}
			gw.waitq_tail = NULL;
			pthread_mutex_unlock(&gw.mu);
			return NULL;
		}
		batch = gw.waitq;
		gw.waitq = gw.waitq_tail = NULL;
		for (c = batch; c; c = c->qnext)
			want[c->req.openmetrics] = true;
		pthread_mutex_unlock(&gw.mu);

		t0 = now_ms();
		all = scrape();
		if (all && want[0])
			text[0] = render(all, CUB_OM_PROMETHEUS);
		if (all && want[1])
			text[1] = render(all, CUB_OM_OPENMETRICS);
		cub_val__free(all);
		took = now_ms() - t0;
		next = now_ms() +
		       (took > gw.scrape_gap_ms ? took : gw.scrape_gap_ms);

		pthread_mutex_lock(&gw.mu);
		while ((c = batch)) {
			struct gw_text *t = text[c->req.openmetrics];

			batch = c->qnext;
			c->qnext = NULL;
			gw.requests++;
			if (!t) {
				conn_error(c, 500, "out of memory");
				continue;
			}
			__atomic_add_fetch(&t->refs, 1, __ATOMIC_ACQ_REL);
			conn_answer(c, 200,
			    c->req.openmetrics ? CUB_OM_CTYPE_OPENMETRICS
					       : CUB_OM_CTYPE_PROMETHEUS,
			    t, NULL);
		}
		pthread_mutex_unlock(&gw.mu);
		text_unref(text[0]);
		text_unref(text[1]);
	}
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

/* A number option: lo to hi, or an error naming it. */
static int
num_opt(const char *name, const char *arg, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || *v < lo || *v > hi) {
		log_err("--%s: '%s': want %ld to %ld", name, arg, lo, hi);
		return -EINVAL;
	}
	return 0;
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
	    {"scrape-timeout", required_argument, NULL, 'T'},
	    {"scrape-gap", required_argument, NULL, 'g'},
	    {"header-timeout", required_argument, NULL, 'H'},
	    {"max-connections", required_argument, NULL, 'c'},
	    {"family-hold", required_argument, NULL, 'f'},
	    {"tokens", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
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
			if (num_opt("timeout", optarg, 100, 600000, &v) < 0)
				return -1;
			gw.timeout_ms = (int)v;
			break;
		case 'T':
			if (num_opt("scrape-timeout", optarg, 100, 600000, &v) <
			    0)
				return -1;
			gw.scrape_timeout_ms = (int)v;
			break;
		case 'g':
			if (num_opt("scrape-gap", optarg, 0, 600000, &v) < 0)
				return -1;
			gw.scrape_gap_ms = (int)v;
			break;
		case 'H':
			if (num_opt("header-timeout", optarg, 100, 600000, &v) <
			    0)
				return -1;
			gw.header_timeout_ms = (int)v;
			break;
		case 'c':
			if (num_opt("max-connections", optarg, 1, GW_CONNS_MAX,
				&v) < 0)
				return -1;
			gw.max_conns = (unsigned)v;
			break;
		case 'f':
			if (num_opt("family-hold", optarg, 0, 86400000, &v) < 0)
				return -1;
			gw.family_hold_ms = v;
			break;
		case 'k':
			gw.tokens_file = optarg;
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

/* --tokens FILE: read before leaving root (the file may be root's). */
static int
tokens_load(void)
{
	char *text = NULL, err[256];
	size_t len = 0, cap = 0;
	FILE *f;
	int r;

	if (!gw.tokens_file)
		return 0;
	f = fopen(gw.tokens_file, "re");
	if (!f) {
		log_err("--tokens: %s: %s", gw.tokens_file, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (len + 4096 > cap) {
			char *t = cap >= (1u << 20) ? NULL : realloc(text, cap + 8192);

			if (!t) {
				log_err("--tokens: %s: over 1 MiB",
				    gw.tokens_file);
				free(text);
				fclose(f);
				return -1;
			}
			text = t;
			cap += 8192;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
		if (!got)
			break;
	}
	r = ferror(f);
	fclose(f);
	if (r) {
		log_err("--tokens: %s: read error", gw.tokens_file);
		free(text);
		return -1;
	}
	r = gw_tokens_parse(text ? text : "", len, &gw.tokens, &gw.ntokens,
	    err, sizeof(err));
	free(text);
	if (r) {
		log_err("--tokens: %s: %s", gw.tokens_file, err);
		return -1;
	}
	/* The digest once now: OpenSSL's first use may read its config,
	 * which the sandbox would refuse later. */
	{
		const char *why;

		gw_tokens_find(gw.tokens, gw.ntokens, "Bearer x", &why);
	}
	log_info("--tokens: %u token(s) from %s", gw.ntokens, gw.tokens_file);
	return 0;
}

/* Descriptors open now. */
static long
fds_open(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	long n = -1; /* the directory's own */

	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * RLIMIT_NOFILE to what the gateway needs: those open now (listener,
 * broker connection, nng's), one per connection, the reaper's slack and a
 * spare (a re-dial of cubicled, /proc reads).  Connections can then never
 * take the descriptors the broker connection needs.
 */
static int
fd_limit(void)
{
	long open = fds_open();
	struct rlimit rl;
	rlim_t need;

	if (open < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return log_errno(
		    open < 0 ? (int)open : -errno, "counting descriptors");
	need = (rlim_t)open + gw.max_conns + GW_BUSY_MAX + GW_REAP_SLACK +
	       GW_FD_SPARE;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		log_err("--max-connections %u needs %llu descriptors; the hard "
			"RLIMIT_NOFILE is %llu: give a smaller "
			"--max-connections or raise the limit",
		    gw.max_conns, (unsigned long long)need,
		    (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return log_errno(-errno, "setrlimit(RLIMIT_NOFILE, %llu)",
		    (unsigned long long)need);
	return 0;
}

/* Stops serving: no more accepts; every connection closed, freed. */
static void
server_stop(pthread_t scraper, pthread_t reaper, pthread_t rester)
{
	struct conn *c;

	nng_stream_listener_close(gw.listener);
	pthread_mutex_lock(&gw.mu);
	gw.stopping = true;
	pthread_cond_signal(&gw.cv);
	pthread_cond_signal(&gw.rest_cv);
	pthread_mutex_unlock(&gw.mu);
	nng_aio_stop(gw.acc);
	/* The scrape thread answers the scrape it makes, then ends; so
	 * does the REST thread with its request. */
	pthread_join(scraper, NULL);
	pthread_join(rester, NULL);
	pthread_mutex_lock(&gw.mu);
	while ((c = gw.conns))
		conn_close(c);
	pthread_cond_signal(&gw.reap_cv);
	pthread_mutex_unlock(&gw.mu);
	pthread_join(reaper, NULL);
	nng_aio_free(gw.acc);
	nng_stream_listener_free(gw.listener);
}

int
main(int argc, char **argv)
{
	const char *user = NULL;
	char url[300];
	nng_url *u = NULL;
	pthread_condattr_t ca;
	pthread_t scraper, reaper, rester;
	sigset_t sigs;
	int r, sig;

	log_set_ident("cubicle-gateway");
	if (parse_args(argc, argv, &user) < 0)
		return 1;
	snprintf(url, sizeof(url), "tcp://%s", gw.listen);
	if (!listen_ok(gw.listen) || (r = nng_url_parse(&u, url)) != 0 ||
	    strcmp(u->u_path, "")) {
		log_err("--listen: '%s': want ADDRESS:PORT, PORT 1 to 65535",
		    gw.listen);
		nng_url_free(u);
		return 1;
	}
	nng_url_free(u);
	if (geteuid() == 0 && !user) {
		log_err("refusing to run as root: give --user NAME (an "
			"unprivileged user in cubicled's --gateway-group)");
		return 1;
	}
	if (user && geteuid() != 0) {
		log_err("--user: only root may switch users");
		return 1;
	}
	if (tokens_load() < 0)
		return 1;
	if (user && drop_to(user) < 0)
		return 1;
	if (pthread_condattr_init(&ca) ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&gw.cv, &ca)) {
		log_err("cannot make a condition variable");
		return 1;
	}
	pthread_condattr_destroy(&ca);

	/* Signals go to the main thread only (nng's threads inherit it). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	{
		CUB_OPTS(cub_client_opts, o, .socket_dir = gw.socket_dir,
		    .timeout_ms = gw.timeout_ms);

		gw.client = cub_client__open(&o);
		if (gw.client)
			gw.rest_client = cub_client__open(&o);
	}
	if (!gw.client || !gw.rest_client) {
		log_errno(-errno, "cannot reach cubicled");
		return 1;
	}
	if ((r = nng_stream_listener_alloc(&gw.listener, url)) != 0 ||
	    (r = nng_stream_listener_listen(gw.listener)) != 0 ||
	    (r = nng_aio_alloc(&gw.acc, accept_cb, NULL)) != 0) {
		log_err("--listen %s: %s", gw.listen, nng_strerror(r));
		return 1;
	}
	if (fd_limit() < 0)
		return 1;
	if (pthread_create(&scraper, NULL, scrape_main, NULL) != 0 ||
	    pthread_create(&reaper, NULL, reap_main, NULL) != 0 ||
	    pthread_create(&rester, NULL, rest_main, NULL) != 0) {
		log_err("cannot start the scrape, reaper and REST threads");
		return 1;
	}
	nng_stream_listener_accept(gw.listener, gw.acc);
	r = sandbox_server_confine();
	if (r < 0) {
		log_errno(r, "sandbox");
		return 1;
	}
	log_notice("serving /metrics, /polycube/v1/ and /openapi.json on "
		   "http://%s (uid %u, metric services:%s%s%s; "
		   "at most %u connections)",
	    gw.listen, (unsigned)getuid(), " ", gw.services[0],
	    gw.nservices > 1 ? " ..." : "", gw.max_conns);
	do
		sig = sigwaitinfo(&sigs, NULL);
	while (sig < 0 && errno == EINTR);
	log_notice("signal %d: stopping", sig);
	server_stop(scraper, reaper, rester);
	cub_client__close(gw.rest_client);
	cub_client__close(gw.client);
	free(gw.tokens);
	return 0;
}
