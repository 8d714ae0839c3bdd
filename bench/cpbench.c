// SPDX-License-Identifier: BSD-2-Clause
/*
 * cpbench: control-plane latency of a running cubicled, over nng with the
 * client API (bench/control-plane starts the broker and the cube).
 *
 *   show   N x request {words: [CUBE, "show"]}, each followed by one
 *          bare nng REQ/REP round trip to a child process (a request of
 *          the show request's size, a reply of the show reply's size):
 *          the floor a show is compared with, measured interleaved.
 *   set    N x request {words: [CUBE, "ports", PORT, "set"],
 *                       args: {action: drop|forward, outport: OUTPORT},
 *                       rid: fresh}
 *   restart  K x: kill -9 of the service's worker, then a show and a
 *            "services" poll every 2.5 ms until the cube answers a
 *            full show (with the worker's counters) and the service
 *            reports a new worker "running".
 *
 * Output: one "name value unit" line per metric on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "cubicle/client.h"

struct opts {
	const char *socket_dir;
	const char *cube;
	const char *service;
	const char *port;
	const char *outport;
	unsigned n;
	unsigned restarts;
	bool show_poll;
	bool rtt;
	unsigned settle_ms;
	int timeout_ms;
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static struct cub_val *
words(const char *w0, const char *w1, const char *w2, const char *w3)
{
	const char *w[] = { w0, w1, w2, w3 };
	struct cub_val *arr = cub_val__array();
	size_t i;

	if (!arr)
		return NULL;
	for (i = 0; i < 4 && w[i]; i++)
		if (cub_val__push(arr, cub_val__str(w[i])))
			return cub_val__free(arr);
	return arr;
}

/* One "request" call; 0 or a negative errno.  Prints the error once. */
static int
request(struct cub_client *c, struct cub_val *wordv, struct cub_val *args,
    bool mutating, struct cub_val **result, bool quiet)
{
	struct cub_val *params = cub_val__map(), *res = NULL, *errv = NULL;
	char rid[40];
	int r;

	if (!params || !wordv || !args) {
		cub_val__free(params);
		cub_val__free(wordv);
		cub_val__free(args);
		return -ENOMEM;
	}
	cub_val__set(params, "words", wordv);
	cub_val__set(params, "args", args);
	if (mutating) {
		cub_client__new_rid(rid, sizeof(rid));
		cub_val__set(params, "rid", cub_val__str(rid));
	}
	r = cub_client__call(c, CUB_M_REQUEST, params, &res, &errv);
	if (r && !quiet) {
		const char *name = cub_val__get_str(errv, "name");
		const char *msg = cub_val__get_str(errv, "message");

		fprintf(stderr, "cpbench: request failed: %s: %s %s\n",
		    strerror(-r), name ? name : "", msg ? msg : "");
	}
	cub_val__free(errv);
	if (result)
		*result = res;
	else
		cub_val__free(res);
	return r;
}

static int
show(struct cub_client *c, const struct opts *o, bool quiet)
{
	return request(c, words(o->cube, "show", NULL, NULL), cub_val__map(),
	    false, NULL, quiet);
}

/*
 * A show during a worker restart: 1 = answered with the worker's part
 * (the port counters), 0 = answered without it, negative = failed.
 */
static int
show_full(struct cub_client *c, const struct opts *o)
{
	struct cub_val *res = NULL, *ports;
	int r;

	r = request(c, words(o->cube, "show", NULL, NULL), cub_val__map(),
	    false, &res, true);
	if (r)
		return r;
	ports = cub_val__get(res, "ports");
	r = ports && ports->kind == CUB_V_ARRAY && ports->arr.len &&
	    cub_val__get(ports->arr.items[0], "rx_packets");
	cub_val__free(res);
	return r;
}

static int
set_action(struct cub_client *c, const struct opts *o, bool forward)
{
	struct cub_val *args = cub_val__map();

	if (args &&
	    (cub_val__set(args, "action",
		 cub_val__str(forward ? "forward" : "drop")) ||
		cub_val__set(args, "outport", cub_val__str(o->outport))))
		args = cub_val__free(args);
	return request(c, words(o->cube, "ports", o->port, "set"), args, true,
	    NULL, false);
}

/*
 * The service's worker: pid and whether it is "running".  0, or -ENOENT
 * when the service is not listed, or the call's error.
 */
static int
worker_state(struct cub_client *c, const struct opts *o, pid_t *pid,
    bool *running, bool quiet)
{
	struct cub_val *res = NULL;
	uint64_t p;
	uint32_t i;
	int r;

	r = request(c, words("services", NULL, NULL, NULL), cub_val__map(),
	    false, &res, quiet);
	if (r)
		return r;
	r = -ENOENT;
	for (i = 0; res && res->kind == CUB_V_ARRAY && i < res->arr.len; i++) {
		const struct cub_val *e = res->arr.items[i];
		const char *name = cub_val__get_str(e, "name");
		const char *status = cub_val__get_str(e, "status");

		if (!name || strcmp(name, o->service))
			continue;
		if (cub_val__as_u64(cub_val__get(e, "pid"), &p))
			p = 0;
		*pid = (pid_t)p;
		*running = status && !strcmp(status, "running");
		r = 0;
		break;
	}
	cub_val__free(res);
	return r;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[n], p in (0, 1]. */
static double
pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void
print_dist(const char *name, double *v, size_t n, unsigned errors)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("%s_p50 %.1f us\n", name, pct(v, n, 0.50));
	printf("%s_p99 %.1f us\n", name, pct(v, n, 0.99));
	printf("%s_max %.1f us\n", name, v[n - 1]);
	printf("%s_errors %u count\n", name, errors);
	fflush(stdout);
}

/*
 * The bare peer: a REP socket in a child process answering every request
 * with as many bytes as the request's first 4 say, until its parent
 * goes.  Writes one byte to ready once it listens.  Forked before the
 * parent starts nng (nng's threads do not survive a fork).
 */
static void
bare_server(const char *url, int ready)
{
	static uint8_t reply[1u << 20];
	nng_socket s;
	nng_msg *m;
	uint32_t n;

	if (nng_rep0_open(&s) || nng_listen(s, url, NULL, 0))
		_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	close(ready);
	while (!nng_recvmsg(s, &m, 0)) {
		n = 0;
		if (nng_msg_len(m) >= 4)
			memcpy(&n, nng_msg_body(m), 4);
		if (n > sizeof(reply))
			n = sizeof(reply);
		nng_msg_clear(m);
		if (nng_msg_append(m, reply, n) || nng_sendmsg(s, m, 0))
			nng_msg_free(m);
	}
	_exit(0);
}

struct bare {
	pid_t pid;
	char url[256];
	nng_socket req;
	bool open;
	void *request;
	size_t request_len;
};

static struct bare bare_peer;

static int
bare_spawn(struct bare *b, const struct opts *o)
{
	char r;
	int p[2];

	snprintf(b->url, sizeof(b->url), "ipc://%s/cpbench-bare.%d",
	    o->socket_dir, (int)getpid());
	if (pipe(p))
		return -errno;
	b->pid = fork();
	if (b->pid < 0)
		return -errno;
	if (!b->pid) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		bare_server(b->url, p[1]);
	}
	close(p[1]);
	if (read(p[0], &r, 1) != 1) {
		close(p[0]);
		return -EIO;
	}
	close(p[0]);
	return 0;
}

static int
bare_open(struct bare *b, const struct opts *o, size_t request_len,
    size_t reply_len)
{
	uint32_t n = (uint32_t)reply_len;

	b->request_len = request_len < 4 ? 4 : request_len;
	b->request = calloc(1, b->request_len);
	if (!b->request || !b->pid || nng_req0_open(&b->req))
		return -EIO;
	b->open = true;
	memcpy(b->request, &n, 4);
	if (nng_setopt_ms(b->req, NNG_OPT_RECVTIMEO, o->timeout_ms) ||
	    nng_dial(b->req, b->url, NULL, 0))
		return -EIO;
	return 0;
}

static int
bare_call(struct bare *b)
{
	void *buf;
	size_t len;

	if (nng_send(b->req, b->request, b->request_len, 0) ||
	    nng_recv(b->req, &buf, &len, NNG_FLAG_ALLOC))
		return -EIO;
	nng_free(buf, len);
	return 0;
}

static void
bare_close(struct bare *b)
{
	if (b->open)
		nng_close(b->req);
	b->open = false;
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		waitpid(b->pid, NULL, 0);
	}
	b->pid = 0;
	free(b->request);
	b->request = NULL;
}

/* Bytes of one show's request and reply as msgpack, for the bare peer. */
static int
show_sizes(struct cub_client *c, const struct opts *o, size_t *req_len,
    size_t *reply_len)
{
	struct cub_val *res = NULL, *params;
	void *buf;
	int r;

	r = request(c, words(o->cube, "show", NULL, NULL), cub_val__map(),
	    false, &res, false);
	if (r)
		return r;
	r = cub_mp_encode(res, &buf, reply_len);
	cub_val__free(res);
	if (r)
		return r;
	free(buf);
	/* [0, msgid, "request", {words, args}] plus the frame. */
	params = cub_val__map();
	cub_val__set(params, "words", words(o->cube, "show", NULL, NULL));
	cub_val__set(params, "args", cub_val__map());
	r = cub_mp_encode(params, &buf, req_len);
	cub_val__free(params);
	if (r)
		return r;
	free(buf);
	*req_len += 16;
	*reply_len += 16;
	return 0;
}

/*
 * The broker closes a client connection that sends more than 1000
 * requests within a second (broker/clients.c, CLIENT_BURST), in step or
 * not: keep the broker's requests at least PACE_US apart.  The wait is
 * outside the measured calls.
 */
#define PACE_US 1100.0

static void
pace(double *last)
{
	double d = now_us() - *last;

	if (*last > 0 && d < PACE_US)
		usleep((useconds_t)(PACE_US - d));
	*last = now_us();
}

static int
bench_rtt(struct cub_client *c, const struct opts *o)
{
	double last = 0;
	double *v = calloc(o->n, sizeof(*v)), *bv = calloc(o->n, sizeof(*bv));
	double t0, show_p50, bare_p50, show_p99, bare_p99;
	unsigned i, errors = 0, berrors = 0;
	size_t req_len, reply_len;
	struct bare *b = &bare_peer;
	int r;

	if (!v || !bv)
		return -ENOMEM;
	if ((r = show_sizes(c, o, &req_len, &reply_len)) ||
	    (r = bare_open(b, o, req_len, reply_len))) {
		fprintf(stderr, "cpbench: bare REQ/REP peer: %s\n",
		    strerror(-r));
		bare_close(b);
		return r;
	}
	/* Warm-up: the first calls pay for page faults and the nng pipe. */
	for (i = 0; i < 20; i++) {
		pace(&last);
		show(c, o, true);
		bare_call(b);
	}
	/* Interleaved, so that both see the same load on the machine. */
	for (i = 0; i < o->n; i++) {
		pace(&last);
		t0 = now_us();
		r = show(c, o, errors > 0);
		v[i] = now_us() - t0;
		errors += r != 0;
		t0 = now_us();
		r = bare_call(b);
		bv[i] = now_us() - t0;
		berrors += r != 0;
	}
	bare_close(b);
	printf("show_request_bytes %zu bytes\nshow_reply_bytes %zu bytes\n",
	    req_len, reply_len);
	print_dist("show_rtt", v, o->n, errors);
	print_dist("bare_rtt", bv, o->n, berrors);
	show_p50 = pct(v, o->n, 0.50);
	show_p99 = pct(v, o->n, 0.99);
	bare_p50 = pct(bv, o->n, 0.50);
	bare_p99 = pct(bv, o->n, 0.99);
	printf("show_over_bare_p50 %.2f ratio\n", show_p50 / bare_p50);
	printf("show_over_bare_p99 %.2f ratio\n", show_p99 / bare_p99);
	fflush(stdout);
	free(bv);
	errors = 0;
	for (i = 0; i < o->n; i++) {
		pace(&last);
		t0 = now_us();
		r = set_action(c, o, i & 1);
		v[i] = now_us() - t0;
		errors += r != 0;
	}
	/* Leave the port forwarding, as bench/control-plane set it up. */
	set_action(c, o, true);
	print_dist("set_rtt", v, o->n, errors);
	free(v);
	return 0;
}

static void
sleep_until(double t_us)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t_us / 1e6),
		.tv_nsec = (long)((t_us - (double)(time_t)(t_us / 1e6) * 1e6) *
		    1e3),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/* Wait (up to 30 s) for the service to report a running worker. */
static int
wait_running(struct cub_client *c, const struct opts *o, pid_t *pid)
{
	bool running = false;
	int i;

	for (i = 0; i < 30000; i++) {
		if (!worker_state(c, o, pid, &running, true) && running &&
		    *pid > 0)
			return 0;
		sleep_until(now_us() + 1000);
	}
	return -ETIMEDOUT;
}

static int
bench_restart(struct cub_client *c, const struct opts *o)
{
	double *show_ms = calloc(o->restarts, sizeof(double));
	double *run_ms = calloc(o->restarts, sizeof(double));
	double t0, next, t, call_max;
	unsigned k, failed, partial, polls, done = 0;
	bool show_ok, running, up;
	pid_t old, pid;
	int r = 0, sr;

	if (!show_ms || !run_ms) {
		r = -ENOMEM;
		goto out;
	}
	for (k = 0; k < o->restarts; k++) {
		if ((r = wait_running(c, o, &old))) {
			fprintf(stderr, "cpbench: service '%s' not running\n",
			    o->service);
			goto out;
		}
		/* Let the broker's restart backoff return to its minimum,
		 * so every kill measures the same thing. */
		sleep_until(now_us() + o->settle_ms * 1e3);
		if ((r = wait_running(c, o, &old)))
			goto out;
		if (show(c, o, false)) {
			r = -EIO;
			goto out;
		}
		show_ok = running = false;
		failed = partial = polls = 0;
		call_max = 0;
		t0 = now_us();
		if (kill(old, SIGKILL)) {
			r = -errno;
			fprintf(stderr, "cpbench: kill %d: %s\n", (int)old,
			    strerror(errno));
			goto out;
		}
		/* Poll every 2.5 ms, on an absolute schedule: a show and a
		 * "services" a poll stay under the broker's 1000 requests a
		 * second (PACE_US). */
		for (next = t0 + 2500; !(show_ok && running); next += 2500) {
			if (now_us() - t0 > 60e6) {
				fprintf(stderr, "cpbench: restart %u: no "
				    "recovery after 60 s (show %s, worker "
				    "%s)\n", k + 1, show_ok ? "ok" : "failing",
				    running ? "running" : "not running");
				r = -ETIMEDOUT;
				goto out;
			}
			if (next < now_us())
				next = now_us(); /* after a slow call */
			sleep_until(next);
			polls++;
			/* Recovered = the first full answer after the last
			 * failed or partial one: a show answered before the
			 * broker noticed the kill does not count.  With
			 * --no-show-poll, shows wait for the new worker. */
			if (o->show_poll || running) {
				t = now_us();
				sr = show_full(c, o);
				t = now_us() - t;
				if (t > call_max)
					call_max = t;
				if (sr == 1) {
					if (!show_ok)
						show_ms[k] =
						    (now_us() - t0) / 1e3;
					show_ok = true;
				} else {
					show_ok = false;
					failed += sr < 0;
					partial += sr == 0;
				}
			}
			if (!running &&
			    !worker_state(c, o, &pid, &up, true) && up &&
			    pid != old && pid > 0) {
				running = true;
				run_ms[k] = (now_us() - t0) / 1e3;
			}
		}
		printf("restart%u_show_ok %.1f ms\n", k + 1, show_ms[k]);
		printf("restart%u_worker_running %.1f ms\n", k + 1, run_ms[k]);
		printf("restart%u_failed_shows %u count\n", k + 1, failed);
		printf("restart%u_partial_shows %u count\n", k + 1, partial);
		printf("restart%u_slowest_show %.1f ms\n", k + 1,
		    call_max / 1e3);
		printf("restart%u_polls %u count\n", k + 1, polls);
		fflush(stdout);
		done++;
	}
out:
	if (done) {
		qsort(show_ms, done, sizeof(double), cmp_double);
		qsort(run_ms, done, sizeof(double), cmp_double);
		printf("restart_show_ok_median %.1f ms\n",
		    done % 2 ? show_ms[done / 2] :
			       (show_ms[done / 2 - 1] + show_ms[done / 2]) / 2);
		printf("restart_worker_running_median %.1f ms\n",
		    done % 2 ? run_ms[done / 2] :
			       (run_ms[done / 2 - 1] + run_ms[done / 2]) / 2);
	}
	free(show_ms);
	free(run_ms);
	return r;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cpbench --socket-dir DIR [options]\n"
	    "  --cube NAME       cube to show/set (sf1)\n"
	    "  --service NAME    its service, whose worker is killed "
	    "(simpleforwarder)\n"
	    "  --port NAME       port to set (p1)\n"
	    "  --outport NAME    outport argument of set (p2)\n"
	    "  -n N              requests per latency run (2000)\n"
	    "  --restarts K      worker kills (5; 0 = none)\n"
	    "  --no-show-poll    during a restart poll only \"services\",\n"
	    "                    show once the new worker runs\n"
	    "  --no-rtt          skip the show/set latency runs\n"
	    "  --settle MS       wait before each kill (10500: the broker\n"
	    "                    resets its restart backoff after 10 s)\n"
	    "  --timeout MS      per call (2000)\n");
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "socket-dir", required_argument, NULL, 's' },
		{ "cube", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'p' },
		{ "outport", required_argument, NULL, 'o' },
		{ "restarts", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-show-poll", no_argument, NULL, 'P' },
		{ "no-rtt", no_argument, NULL, 'R' },
		{ "settle", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = {
		.cube = "sf1",
		.service = "simpleforwarder",
		.port = "p1",
		.outport = "p2",
		.n = 2000,
		.restarts = 5,
		.timeout_ms = 2000,
		.show_poll = true,
		.rtt = true,
		.settle_ms = 10500,
	};
	struct cub_client *c;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "n:h", lopts, NULL)) != -1) {
		switch (ch) {
		case 's': o.socket_dir = optarg; break;
		case 'c': o.cube = optarg; break;
		case 'S': o.service = optarg; break;
		case 'p': o.port = optarg; break;
		case 'o': o.outport = optarg; break;
		case 'n': o.n = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': o.restarts = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': o.timeout_ms = atoi(optarg); break;
		case 'P': o.show_poll = false; break;
		case 'R': o.rtt = false; break;
		case 'w': o.settle_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (!o.socket_dir || !o.n || o.timeout_ms <= 0) {
		usage(stderr);
		return 1;
	}
	/* Before nng starts its threads in this process. */
	if (o.rtt && (r = bare_spawn(&bare_peer, &o))) {
		fprintf(stderr, "cpbench: bare REQ/REP peer: %s\n",
		    strerror(-r));
		return 2;
	}
	CUB_OPTS(cub_client_opts, copts, .socket_dir = o.socket_dir,
	    .timeout_ms = o.timeout_ms);
	c = cub_client__open(&copts);
	if (!c) {
		fprintf(stderr, "cpbench: cannot reach cubicled in %s: %s\n",
		    o.socket_dir, strerror(errno));
		bare_close(&bare_peer);
		return 2;
	}
	r = o.rtt ? bench_rtt(c, &o) : 0;
	bare_close(&bare_peer);
	if (!r && o.restarts)
		r = bench_restart(c, &o);
	cub_client__close(c);
	return r ? 2 : 0;
}
