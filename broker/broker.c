// SPDX-License-Identifier: BSD-2-Clause
/* cubicled: options, start-up, and the main loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <nng/nng.h>

#include "broker.h"
#include "cub_config.h"
#include "cubicle/proto.h"
#include "log.h"
#include "loopcheck.h"
#include "parse.h"
#include "sdnotify.h"

static struct broker broker;

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write end of b->wake: other threads wake the main loop through it. */
void
broker_wake(struct broker *b)
{
	ssize_t n = write(b->wake[1], "w", 1);

	(void)n; /* full pipe: the loop wakes up anyway */
}

/* How soon the loop looks at the rings again when b->lock was busy. */
#define SLOWPATH_RETRY_MS 10

/*
 * The main loop sleeps in poll() until a client connection has
 * something to do (clients.c's epoll set: a connection, a request, room
 * for a queued reply, a silent connection's deadline), a signal
 * (SIGCHLD: a worker exited; SIGTERM/SIGINT: stop), a wake-up from a
 * service thread (a worker said hello), a packet in a cube's slow-path
 * ring, a record in a cube's log ring (while its service may log), or the
 * next restart due, or the next service manager watchdog ping
 * (sdnotify.c: sent from here, so a loop that hangs stops them).  It
 * holds b->state_lock except in poll(); it never
 * waits for a worker (requests that need one go to the service's request
 * thread, which replies through clients.c when its worker has answered),
 * nor for b->lock (slowpath.c and cubelog.c take it only when free).  An
 * idle broker uses no CPU.
 */
/* Cubes loaded from the store (b->state_lock held). */
static unsigned
broker_ncubes(struct broker *b)
{
	unsigned n = 0;
	struct cube *c;

	for (c = b->cubes; c; c = c->next)
		n++;
	return n;
}

static unsigned ncubes_loaded; /* from the store, at start */

/*
 * STATUS= for the service manager when the number of services whose
 * worker is running (hello and replay done) changes: "systemctl status"
 * shows whether the cubes' control planes are up, not only the broker.
 * At most MAX_SERVICES services to count; main loop, b->state_lock held.
 */
static void
status_tick(struct broker *b)
{
	static int last_ready = -1, last_total = -1;
	struct service *s;
	int ready = 0, total = 0;

	for (s = b->svcs; s; s = s->next) {
		total++;
		ready += s->ready;
	}
	if (ready == last_ready && total == last_total)
		return;
	last_ready = ready;
	last_total = total;
	sdn_sendf("STATUS=ready: %d of %d service(s) running%s; %u cube(s) "
		  "from the store",
	    ready, total,
	    ready < total ? " (their cubes forward; changes wait)" : "",
	    ncubes_loaded);
}

static int
main_loop(struct broker *b)
{
	static struct pollfd pfd[4 + 2 * 1024];
	struct signalfd_siginfo si;
	char drain[64];
	bool more = false;
	int cfd = clients_fd(b), n, t, tc, tv, tt, tw, nlog;

	pthread_mutex_lock(&b->state_lock);
	while (!b->stop) {
		sup_tick(b);
		status_tick(b);
		slowpath_poll(b);
		cubelog_poll(b);
		tv = bpfobj_vet_tick(b);
		if ((tt = tcube_tick(b)) >= 0 && (tv < 0 || tt < tv))
			tv = tt;
		if ((tw = sdn_watchdog_tick(now_ms())) >= 0 &&
		    (tv < 0 || tw < tv))
			tv = tw;
		pfd[0] = (struct pollfd){.fd = cfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = b->sigfd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = b->wake[0], .events = POLLIN};
		n = slowpath_fds(b, pfd + 3, 1024);
		t = more ? 0 : sup_next_timeout(b);
		tc = clients_timeout(b);
		if (tc >= 0 && (t < 0 || tc < t))
			t = tc;
		if (tv >= 0 && (t < 0 || tv < t))
			t = tv;
		nlog = n < 0 ? -1 : cubelog_fds(b, pfd + 3 + n, 1024, &t);
		if (n < 0 || nlog < 0) {
			/* b->lock busy: look at the rings again soon. */
			t = t >= 0 && t < SLOWPATH_RETRY_MS ? t
							    : SLOWPATH_RETRY_MS;
			n = nlog = 0;
		}
		n += 3 + nlog;
		if (netmon_fd(b) >= 0)
			pfd[n++] = (struct pollfd){
			    .fd = netmon_fd(b), .events = POLLIN};
		pthread_mutex_unlock(&b->state_lock);
		if (poll(pfd, (nfds_t)n, t) < 0 && errno != EINTR) {
			log_errno(-errno, "poll");
			return -EIO;
		}
		pthread_mutex_lock(&b->state_lock);
		while (read(b->sigfd, &si, sizeof(si)) == sizeof(si))
			if (si.ssi_signo != SIGCHLD)
				b->stop = (int)si.ssi_signo;
		while (read(b->wake[0], drain, sizeof(drain)) > 0)
			;
		/* A bounded batch: clients that keep the sockets busy do not
		 * keep signals, supervision and the slow path waiting. */
		more = clients_poll(b);
		/* Netdev events: a bounded batch too (netmon.c). */
		more |= netmon_poll(b);
	}
	pthread_mutex_unlock(&b->state_lock);
	return 0;
}

/* broker_libbpf_hush(): this thread's libbpf warnings are debug lines. */
static __thread bool libbpf_hushed;

bool
broker_libbpf_hush(bool on)
{
	bool was = libbpf_hushed;

	libbpf_hushed = on;
	return was;
}

static int
libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (libbpf_hushed && level == LIBBPF_WARN)
		level = LIBBPF_DEBUG;
	if (level == LIBBPF_DEBUG && log_get_level() < LOG_P_DEBUG)
		return 0;
	/* Truncated and rate-limited per service (bpfobj.c). */
	bpfobj_libbpf_log(
	    level == LIBBPF_WARN ? LOG_P_WARN : LOG_P_DEBUG, fmt, ap);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cubicled [options]\n"
	    "  --socket-dir DIR   sockets (default /run/cubicle)\n"
	    "  --state-dir DIR    desired-state store (default "
	    "/var/lib/cubicle)\n"
	    "  --pin-root DIR     bpffs pins (default /sys/fs/bpf/cubicle)\n"
	    "  --plugin-dir DIR   service plugins (default %s)\n"
	    "  --worker PATH      cubicle-worker binary (default %s)\n"
	    "  --uid-base UID     workers run as UID+n (default %u)\n"
	    "  --call-timeout MS  a worker slower than this is restarted "
	    "(default 10000)\n"
	    "  --max-apply-timeout MS\n"
	    "                     cap on the longer apply timeout a service "
	    "may\n"
	    "                     declare (default 120000)\n"
	    "  --vet-timeout MS   a program checked under other rules than "
	    "today's\n"
	    "                     is retired if no load passes them within "
	    "this\n"
	    "                     (default 120000)\n"
	    "  --max-clients N    client connections held at once "
	    "(default 256)\n"
	    "  --max-clients-per-uid N\n"
	    "                     of them from one uid (default 64)\n"
	    "  --socket-group NAME|GID\n"
	    "                     client and events sockets 0660 root:GROUP; "
	    "its\n"
	    "                     members connect as readers (default: "
	    "root only)\n"
	    "  --admin-group NAME|GID\n"
	    "                     members are admins, like root (default "
	    "none)\n"
	    "  --gateway-group NAME|GID\n"
	    "                     members are gateways: they read, and send "
	    "requests\n"
	    "                     on behalf of a user they vouch for (default "
	    "none)\n"
	    "  --gateway-may ROLES\n"
	    "                     roles a gateway may vouch for, "
	    "comma-separated:\n"
	    "                     reader, tenant, admin (default reader)\n"
	    "  --tenants FILE     tenants: one a line, NAME uid=U[,U...] "
	    "gid=G[,G...]\n"
	    "                     netdevs=PATTERN[,...] (a name, or a prefix "
	    "and '*'\n"
	    "                     or '+'); each sees and changes its own "
	    "cubes only\n"
	    "  --listen-tls URL,ca=FILE,cert=FILE,key=FILE,role=ROLE\n"
	    "                     also serve requests on tls+tcp://ADDR:PORT, "
	    "to clients\n"
	    "                     with a certificate the CA signed, as ROLE "
	    "(admin,\n"
	    "                     reader or tenant:NAME); cert and key: the "
	    "broker's\n"
	    "                     (repeatable: one listener and CA per "
	    "role)\n"
	    "  --spectre-hardening on|off\n"
	    "                     off: after the unprivileged verifier "
	    "accepts a\n"
	    "                     cube, run it without Spectre barriers "
	    "(default on)\n"
	    "  --unhardened-service SVC\n"
	    "                     verify and load SVC's objects with "
	    "CAP_PERFMON:\n"
	    "                     pointer arithmetic the hardened verifier "
	    "refuses\n"
	    "                     passes, without Spectre sanitation "
	    "(repeatable;\n"
	    "                     default: every service hardened)\n"
	    "  --max-cube-map-bytes N\n"
	    "                     maps of one cube's object, and the most a "
	    "service\n"
	    "                     may declare (default 268435456)\n"
	    "  --max-service-map-bytes N\n"
	    "                     maps of all cubes of one service together "
	    "(default\n"
	    "                     1073741824)\n"
	    "  --max-loop-cost N  what the callbacks of one program's "
	    "bpf_loop() and\n"
	    "                     bpf_for_each_map_elem() calls may cost, in "
	    "instructions\n"
	    "                     (rounds x callback; a helper call counts "
	    "16; default\n"
	    "                     1073741824, about a second of one CPU)\n"
	    "  --discard-strays   with no state store, detach and unpin the "
	    "cubes\n"
	    "                     pinned by an earlier run instead of "
	    "refusing to start\n"
	    "  --netlink-rcvbuf N receive buffer of the rtnetlink socket "
	    "(default\n"
	    "                     4194304); an overrun costs a re-dump\n"
	    "  --pktout-rate N    packet-outs a second per cube (default "
	    "1000)\n"
	    "  --pktout-burst N   burst of packet-outs per cube (default "
	    "64)\n"
	    "  --host-netdev-events SVC[,SVC...]\n"
	    "                     services that may have every netdev's "
	    "events\n"
	    "                     (CUB_NETDEV_HOST); others get their "
	    "ports' only\n"
	    "  --helper NAME=PATH[,service=SVC][,ro=P:P...][,timeout=S]\n"
	    "                     a helper binary a worker may run, confined\n"
	    "                     (repeatable; see docs/architecture.md)\n"
	    "  --debug            log debug messages\n",
	    CUB_PLUGIN_DIR, CUB_WORKER_BIN, (unsigned)CUB_UID_BASE);
}

/*
 * --gateway-may: a comma-separated list of reader, tenant and admin, each
 * at most once, reader among them (a gateway's own requests read).
 */
static int
gateway_may_parse(const char *arg, unsigned *may)
{
	static const struct {
		const char *name;
		enum client_role role;
	} roles[] = {{"reader", ROLE_READER}, {"tenant", ROLE_TENANT},
	    {"admin", ROLE_ADMIN}};
	const char *p = arg, *e;
	unsigned m = 0, i;
	size_t l;

	for (;; p = e + 1) {
		e = strchr(p, ',');
		l = e ? (size_t)(e - p) : strlen(p);
		for (i = 0; i < 3; i++)
			if (strlen(roles[i].name) == l &&
			    !strncmp(p, roles[i].name, l))
				break;
		if (i == 3 || m & 1u << roles[i].role)
			return -EINVAL;
		m |= 1u << roles[i].role;
		if (!e)
			break;
	}
	if (!(m & 1u << ROLE_READER))
		return -EINVAL;
	*may = m;
	return 0;
}

/* The ids past --uid-base the broker gives its own processes: workers
 * (supervisor.c, one per service, MAX_SERVICES 64) and helpers
 * (helper.c, HELPER_UID_OFFSET 64 + HELPER_MAX 32). */
#define BROKER_OWN_IDS 96

/* Why a tenant may not have id (a uid when uid, else a gid), or NULL. */
static const char *
tenant_id_taken(const struct broker *b, uint32_t id, bool uid)
{
	if (id >= (uint32_t)b->o.uid_base &&
	    id - (uint32_t)b->o.uid_base < BROKER_OWN_IDS)
		return "one of the broker's worker and helper ids "
		       "(--uid-base and the 95 after it)";
	if (uid)
		return NULL;
	if (id == (uint32_t)b->o.admin_gid)
		return "the --admin-group group";
	if (id == (uint32_t)b->o.gateway_gid)
		return "the --gateway-group group";
	/* Every local client passes the socket's group: all would be it. */
	if (id == (uint32_t)b->o.socket_gid)
		return "the --socket-group group";
	return NULL;
}

/*
 * --tenants FILE: read and checked before anything starts; a tenant's
 * gid may not be the admin, gateway or socket group (it would be two
 * roles, or every client), nor a uid or gid one the broker's workers
 * and helpers run as (the tenant could signal the worker every tenant
 * shares).
 */
static int
tenants_start(struct broker *b)
{
	const struct tenant *t;
	const char *why;
	char err[600];
	unsigned i, j;

	if (tenants_load(b->o.tenants_file, &b->tenants, &b->ntenants, err,
		sizeof(err))) {
		fprintf(stderr, "cubicled: --tenants: %s\n", err);
		return -EINVAL;
	}
	for (i = 0; i < b->ntenants; i++) {
		t = &b->tenants[i];
		for (j = 0; j < t->nuids + t->ngids; j++) {
			bool uid = j < t->nuids;
			uint32_t id = uid ? t->uids[j] : t->gids[j - t->nuids];

			if (!(why = tenant_id_taken(b, id, uid)))
				continue;
			fprintf(stderr,
			    "cubicled: --tenants: %s: tenant '%s': %s %u is "
			    "%s\n",
			    b->o.tenants_file, t->name, uid ? "uid" : "gid", id,
			    why);
			free(b->tenants);
			b->tenants = NULL;
			return -EINVAL;
		}
	}
	if (quota_init(b)) {
		fprintf(stderr, "cubicled: --tenants: out of memory\n");
		return -ENOMEM;
	}
	return 0;
}

/* A group name or number for --socket-group and the like: not root's
 * (root is admin already) and not (gid_t)-1. */
static int
group_parse(const char *arg, gid_t *gid)
{
	struct group *g;
	uint64_t v;

	if (!cubi_parse_uint(arg, 1, 4294967294u, &v)) {
		*gid = (gid_t)v;
		return 0;
	}
	if (!*arg || !(g = getgrnam(arg)) || g->gr_gid == 0)
		return -EINVAL;
	*gid = g->gr_gid;
	return 0;
}

/*
 * Every --unhardened-service names a service of the plugin directory (a
 * typo would leave the intended one hardened, and its load refused for a
 * reason the operator believes lifted); each is logged as unhardened.
 */
static int
unhardened_check(struct broker *b)
{
	unsigned i;

	for (i = 0; i < b->o.nunhardened; i++) {
		if (!svc_find(b, b->o.unhardened[i])) {
			log_err("--unhardened-service '%s': no such service "
				"(no %s.so in %s); not started",
			    b->o.unhardened[i], b->o.unhardened[i],
			    b->o.plugin_dir);
			return -ENOENT;
		}
		log_warn("service '%s' is unhardened (--unhardened-service): "
			 "its objects are verified and loaded with "
			 "CAP_PERFMON: variable pointer arithmetic allowed, "
			 "pointers may leak into maps, no Spectre v1/v4 "
			 "sanitation",
		    b->o.unhardened[i]);
	}
	return 0;
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	char *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Each client connection, worker socket, BPF object and pin costs the
 * broker file descriptors: run with the soft limit raised to the hard
 * limit (up to NOFILE_WANT), and keep --max-clients well inside it.
 */
#define NOFILE_WANT 65536
#define NOFILE_RESERVE 512 /* for everything but client connections */

static void
raise_nofile(struct broker *b)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		log_errno(-errno, "getrlimit(RLIMIT_NOFILE)");
		return;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur < NOFILE_WANT && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur =
		    rl.rlim_max < NOFILE_WANT ? rl.rlim_max : NOFILE_WANT;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			log_errno(-errno, "setrlimit(RLIMIT_NOFILE, %llu)",
			    (unsigned long long)rl.rlim_cur);
			rl.rlim_cur = was;
		} else {
			log_info("open file limit raised from %llu to %llu",
			    (unsigned long long)was,
			    (unsigned long long)rl.rlim_cur);
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)b->o.max_clients + NOFILE_RESERVE > rl.rlim_cur)
		log_warn("--max-clients %u and the open file limit %llu leave "
			 "fewer than %d files for workers and BPF objects",
		    b->o.max_clients, (unsigned long long)rl.rlim_cur,
		    NOFILE_RESERVE);
}

/*
 * Stop the workers and close their sockets, within SHUTDOWN_DEADLINE_S.
 * The client and events sockets are the broker's own (clients.c) and
 * close at once; the workers' sockets are nng's, and nng 1.5.2 can hang
 * nng_close() for good on a pipe it never reaped.  A stop asked for by a
 * signal must happen whatever nng does, so past the deadline the broker
 * says so and exits (the dataplane stays in place either way).
 */
#define SHUTDOWN_DEADLINE_S 3

static void *
shutdown_thread(void *arg)
{
	struct broker *b = arg;

	sup_shutdown(b);
	/*
	 * nng_close() hands a socket to nng's reaper thread: what is still
	 * queued on it is freed there, later.  Drain it, so that nothing is
	 * in flight at exit.
	 */
	nng_fini();
	return NULL;
}

static void
broker_shutdown(struct broker *b)
{
	struct timespec deadline;
	pthread_t t;

	if (pthread_create(&t, NULL, shutdown_thread, b)) {
		shutdown_thread(b);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += SHUTDOWN_DEADLINE_S;
	if (pthread_timedjoin_np(t, NULL, &deadline)) {
		log_err("stopping: nng did not close the workers' sockets "
			"within %d s; exiting without them",
		    SHUTDOWN_DEADLINE_S);
		_exit(1);
	}
}

/*
 * A number option: *v = arg if it is a number from lo to hi; else a
 * message "cubicled: --NAME: 'ARG' is not WHAT" and -1.
 */
static int
num_opt(const char *name, const char *arg, uint64_t lo, uint64_t hi,
    const char *what, uint64_t *v)
{
	if (!cubi_parse_uint(arg, lo, hi, v))
		return 0;
	fprintf(stderr, "cubicled: --%s: '%s' is not %s\n", name, arg, what);
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket-dir", required_argument, NULL, 's'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"pin-root", required_argument, NULL, 'p'},
	    {"plugin-dir", required_argument, NULL, 'P'},
	    {"worker", required_argument, NULL, 'w'},
	    {"uid-base", required_argument, NULL, 'u'},
	    {"call-timeout", required_argument, NULL, 't'},
	    {"max-apply-timeout", required_argument, NULL, 'A'},
	    {"vet-timeout", required_argument, NULL, 'V'},
	    {"spectre-hardening", required_argument, NULL, 'H'},
	    {"max-cube-map-bytes", required_argument, NULL, 'C'},
	    {"max-service-map-bytes", required_argument, NULL, 'M'},
	    {"max-loop-cost", required_argument, NULL, 'L'},
	    {"max-clients", required_argument, NULL, 'm'},
	    {"max-clients-per-uid", required_argument, NULL, 'U'},
	    {"socket-group", required_argument, NULL, 'g'},
	    {"admin-group", required_argument, NULL, 'a'},
	    {"gateway-group", required_argument, NULL, 'G'},
	    {"gateway-may", required_argument, NULL, 'W'},
	    {"tenants", required_argument, NULL, 'T'},
	    {"listen-tls", required_argument, NULL, 0x104},
	    {"discard-strays", no_argument, NULL, 'D'},
	    {"netlink-rcvbuf", required_argument, NULL, 'N'},
	    {"host-netdev-events", required_argument, NULL, 'E'},
	    {"pktout-rate", required_argument, NULL, 0x101},
	    {"pktout-burst", required_argument, NULL, 0x102},
	    {"unhardened-service", required_argument, NULL, 0x103},
	    {"helper", required_argument, NULL, 'X'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct broker *b = &broker;
	const char *helper_specs[64];
	const char *tls_specs[CUB_TLS_LISTENERS_MAX];
	unsigned ntls_specs = 0;
	unsigned nhelper_specs = 0, i;
	char herr[512];
	sigset_t sigs;
	unsigned ncubes;
	uint64_t v;
	int c, r;

	b->o.socket_dir = "/run/cubicle";
	b->o.state_dir = "/var/lib/cubicle";
	b->o.pin_root = "/sys/fs/bpf/cubicle";
	b->o.plugin_dir = CUB_PLUGIN_DIR;
	b->o.worker_bin = CUB_WORKER_BIN;
	b->o.uid_base = CUB_UID_BASE;
	b->o.call_timeout_ms = 10000;
	b->o.max_apply_timeout_ms = 120000;
	b->o.vet_timeout_ms = 120000;
	b->o.pktout_rate = 1000;
	b->o.pktout_burst = 64;
	b->o.spectre_hardening = true;
	b->o.log_level = LOG_P_INFO;
	b->o.max_cube_map_bytes = 256ull << 20;
	b->o.max_service_map_bytes = 1ull << 30;
	b->o.max_loop_cost = LOOPCHECK_DEFAULT_BOUND;
	b->o.max_clients = 256;
	b->o.max_clients_per_uid = 64;
	b->o.socket_gid = b->o.admin_gid = b->o.gateway_gid = (gid_t)-1;
	b->o.gateway_may = 1u << ROLE_READER;
	while ((c = getopt_long(argc, argv, "dh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			b->o.socket_dir = optarg;
			break;
		case 'S':
			b->o.state_dir = optarg;
			break;
		case 'p':
			b->o.pin_root = optarg;
			break;
		case 'P':
			b->o.plugin_dir = optarg;
			break;
		case 'w':
			b->o.worker_bin = optarg;
			break;
		case 'u':
			if (num_opt("uid-base", optarg, 1000, 4000000000u,
				"a uid between 1000 and 4000000000", &v))
				return 1;
			b->o.uid_base = (uid_t)v;
			break;
		case 't':
			if (num_opt("call-timeout", optarg, 100, 600000,
				"a number of milliseconds from 100 to 600000",
				&v))
				return 1;
			b->o.call_timeout_ms = (int)v;
			break;
		case 'A':
			if (num_opt("max-apply-timeout", optarg, 100, 600000,
				"a number of milliseconds from 100 to 600000",
				&v))
				return 1;
			b->o.max_apply_timeout_ms = (int)v;
			break;
		case 'V':
			if (num_opt("vet-timeout", optarg, 100, 86400000,
				"a number of milliseconds from 100 to 86400000",
				&v))
				return 1;
			b->o.vet_timeout_ms = (int)v;
			break;
		case 'm':
			if (num_opt("max-clients", optarg, 1, 65536,
				"a number of connections from 1 to 65536", &v))
				return 1;
			b->o.max_clients = (unsigned)v;
			break;
		case 'U':
			if (num_opt("max-clients-per-uid", optarg, 1, 65536,
				"a number of connections from 1 to 65536", &v))
				return 1;
			b->o.max_clients_per_uid = (unsigned)v;
			break;
		case 'g':
		case 'a':
		case 'G':
			if (group_parse(optarg, c == 'g' ? &b->o.socket_gid
						: c == 'a'
						    ? &b->o.admin_gid
						    : &b->o.gateway_gid)) {
				fprintf(stderr,
				    "cubicled: --%s: '%s' is not a group name "
				    "or a gid from 1 to 4294967294 (gid 0 is "
				    "root's: root is admin already)\n",
				    c == 'g'   ? "socket-group"
				    : c == 'a' ? "admin-group"
					       : "gateway-group",
				    optarg);
				return 1;
			}
			break;
		case 'W':
			if (gateway_may_parse(optarg, &b->o.gateway_may)) {
				fprintf(stderr,
				    "cubicled: --gateway-may: '%s' is not "
				    "'reader' or 'reader,admin' (a list of "
				    "reader, tenant and admin, reader among "
				    "them)\n",
				    optarg);
				return 1;
			}
			break;
		case 'T':
			b->o.tenants_file = optarg;
			break;
		case 0x104:
			if (ntls_specs >= CUB_TLS_LISTENERS_MAX) {
				fprintf(stderr,
				    "cubicled: --listen-tls: at most %d\n",
				    CUB_TLS_LISTENERS_MAX);
				return 1;
			}
			tls_specs[ntls_specs++] = optarg;
			break;
		case 'H':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr,
				    "cubicled: --spectre-hardening: '%s' is "
				    "not on or off\n",
				    optarg);
				return 1;
			}
			b->o.spectre_hardening = !strcmp(optarg, "on");
			break;
		case 'C':
		case 'M':
			if (num_opt(c == 'C' ? "max-cube-map-bytes"
					     : "max-service-map-bytes",
				optarg, 4096, 1ull << 40,
				"a number of bytes from 4096 to 2^40", &v))
				return 1;
			if (c == 'C')
				b->o.max_cube_map_bytes = v;
			else
				b->o.max_service_map_bytes = v;
			break;
		case 'L':
			if (num_opt("max-loop-cost", optarg, 1, 1ull << 50,
				"a number from 1 to 2^50", &v))
				return 1;
			b->o.max_loop_cost = v;
			break;
		case 'D':
			b->o.discard_strays = true;
			break;
		case 'E':
			b->o.host_netdev_events = optarg;
			break;
		case 'X':
			if (nhelper_specs == 64) {
				fprintf(stderr, "cubicled: --helper: more "
						"than 64\n");
				return 1;
			}
			helper_specs[nhelper_specs++] = optarg;
			break;
		case 'N':
			if (num_opt("netlink-rcvbuf", optarg, 1024, 1u << 30,
				"a number of bytes from 1024 to 2^30", &v))
				return 1;
			b->o.netlink_rcvbuf = (unsigned)v;
			break;
		case 0x101:
		case 0x102:
			if (num_opt(c == 0x101 ? "pktout-rate" : "pktout-burst",
				optarg, 1, 1000000,
				"a number from 1 to 1000000", &v))
				return 1;
			if (c == 0x101)
				b->o.pktout_rate = (unsigned)v;
			else
				b->o.pktout_burst = (unsigned)v;
			break;
		case 0x103:
			if (b->o.nunhardened == MAX_UNHARDENED) {
				fprintf(stderr,
				    "cubicled: --unhardened-service: more "
				    "than %d\n",
				    MAX_UNHARDENED);
				return 1;
			}
			b->o.unhardened[b->o.nunhardened++] = optarg;
			break;
		case 'd':
			b->o.log_level = LOG_P_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "cubicled: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return 1;
	}
	/* Before anything is made: each names a plugin file (whether it is
	 * a service is known after the scan, unhardened_check()). */
	for (i = 0; i < b->o.nunhardened; i++) {
		char so[PATH_MAX];
		const char *u = b->o.unhardened[i];

		if (!*u || strchr(u, '/') ||
		    snprintf(so, sizeof(so), "%s/%s.so", b->o.plugin_dir, u) >=
			(int)sizeof(so) ||
		    access(so, F_OK)) {
			fprintf(stderr,
			    "cubicled: --unhardened-service '%s': no such "
			    "service (no %s.so in %s)\n",
			    u, u, b->o.plugin_dir);
			return 1;
		}
	}
	if (b->o.tenants_file && tenants_start(b))
		return 1;
	if (b->ntenants && b->o.socket_gid == (gid_t)-1)
		fprintf(stderr,
		    "cubicled: warning: --tenants without --socket-group: "
		    "the sockets are root's alone (0600), so no tenant can "
		    "connect\n");
	/* After the tenants: a listener may name one. */
	for (i = 0; i < ntls_specs; i++)
		if (tls_listener_add(b, tls_specs[i], herr, sizeof(herr))) {
			fprintf(stderr, "cubicled: --listen-tls %s: %s\n",
			    tls_specs[i], herr);
			return 1;
		}
	/* After the loop: a helper's timeout is checked against
	 * --call-timeout wherever it came. */
	for (i = 0; i < nhelper_specs; i++)
		if (helper_register(b, helper_specs[i], herr, sizeof(herr))) {
			fprintf(stderr, "cubicled: --helper: %s\n", herr);
			helper_fini();
			return 1;
		}
	log_set_ident("cubicled");
	log_set_level(b->o.log_level);
	/* Before any thread: it unsets the variables it read. */
	sdn_init();
	libbpf_set_print(libbpf_log);
	pthread_mutex_init(&b->state_lock, NULL);
	pthread_mutex_init(&b->lock, NULL);
	/* Signals are read from a signalfd by the main loop: block them
	 * before any thread (nng's included) exists, so all inherit it. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGCHLD);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(022);
	if (pipe2(b->wake, O_CLOEXEC | O_NONBLOCK) ||
	    (b->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return log_errno(-errno, "pipe or signalfd"), 1;

	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0)
		return log_errno(b->ncpus, "count possible cpus"), 1;
	if ((r = mkdir_p(b->o.socket_dir, 0755)) ||
	    (r = mkdir_p(b->o.state_dir, 0700)))
		return log_errno(r, "create %s or %s", b->o.socket_dir,
			   b->o.state_dir),
		       1;
	if ((r = bpffs_ensure(b->o.pin_root)))
		return 1;
	snprintf(b->store_path, sizeof(b->store_path), "%s/state.db",
	    b->o.state_dir);
	raise_nofile(b);
	if (clients_init(b))
		return 1;
	if (tls_start(b))
		return 1;
	if (netmon_init(b))
		return 1;
	sdn_send("STATUS=loading the state store and adopting the pinned "
		 "dataplane");
	pthread_mutex_lock(&b->state_lock);
	r = sup_init(b) || unhardened_check(b) || broker_load(b);
	ncubes = ncubes_loaded = broker_ncubes(b);
	pthread_mutex_unlock(&b->state_lock);
	if (r) {
		sdn_send("STATUS=not started: see the log");
		return 1;
	}
	log_info("ready: socket-dir %s, state-dir %s, pin-root %s",
	    b->o.socket_dir, b->o.state_dir, b->o.pin_root);
	/* The store is loaded and what was pinned adopted (broker_load()):
	 * only now is the service manager told. */
	sdn_sendf("READY=1\nSTATUS=ready: %u cube(s) from the store, "
		  "socket-dir %s",
	    ncubes, b->o.socket_dir);

	if ((r = main_loop(b))) {
		sdn_send("STATUS=main loop failed: see the log");
		return 1;
	}
	log_info(
	    "stopping on signal %d; the dataplane stays in place", b->stop);
	sdn_sendf("STOPPING=1\nSTATUS=stopping on signal %d; the dataplane "
		  "stays in place",
	    b->stop);
	broker_store_close(b);
	broker_shutdown(b);
	tls_stop();
	clients_fini(b);
	netmon_fini(b);
	helper_fini();
	sdn_fini();
	free(b->tenant_use);
	free(b->tenants);
	return 0;
}
