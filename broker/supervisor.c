// SPDX-License-Identifier: BSD-2-Clause
/*
 * The supervisor: one cubicle-worker per service plugin found in the
 * plugin directory.  Each service gets two IPC sockets owned by its uid
 * (mode 0600): worker-<svc>.sock, where the worker's calls arrive (served
 * by wcall_thread), and worker-<svc>.cmd, where the broker's calls leave.
 * A worker that dies is restarted with exponential backoff; once the new
 * one says hello, every cube of the service is replayed to it.
 *
 * Each service has a request thread (sup_exec) and a FIFO: the main
 * thread queues there every client request for the service or one of its
 * cubes, and the thread runs them one after the other, so requests for a
 * cube are applied and answered in arrival order (a show after a set sees
 * the set) while other services and built-in requests go on.  The thread
 * runs, in this order: the replay after a hello, queued requests, the
 * slow path's packet.in batches (slowpath.c), and netdev.event batches
 * (netmon.c).  Only this thread
 * talks on the service's cmd socket.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/transport/ipc/ipc.h>

#include "broker.h"
#include "call.h"
#include "cleanup.h"
#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "log.h"
#include "names.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STABLE_MS 10000
#define WLOG_DRAIN_MS 100 /* for a dead worker's last log lines */
#define MAX_SERVICES 64

static int
sock_path(struct service *s, char *buf, size_t len, const char *suffix)
{
	int n = snprintf(
	    buf, len, "%s/worker-%s.%s", s->b->o.socket_dir, s->name, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The pipe id slot of the socket @p belongs to. */
static uint32_t *
pipe_slot(struct service *s, nng_pipe p)
{
	nng_socket sock = nng_pipe_socket(p);

	if (nng_socket_id(sock) == nng_socket_id(s->cmd))
		return &s->cmd_pipe;
	if (nng_socket_id(sock) == nng_socket_id(s->pkt))
		return &s->pkt_pipe;
	return &s->calls_pipe;
}

/*
 * A worker socket serves exactly one connection: the one the current
 * worker made. The files are 0600 and owned by the service's uid, and
 * the peer nng reports must be the process the supervisor spawned
 * (NNG_OPT_IPC_PEER_PID; its uid is root, as it dials before it drops to
 * the service uid, or the service uid), and the socket must have no live
 * connection from it yet. A connection left by a worker that died is
 * closed in favour of its successor's.
 */
static void
pipe_check(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct service *s = arg;
	uint64_t uid = UINT64_MAX, pid = 0, old_pid;
	pid_t want = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
	uint32_t *slot = pipe_slot(s, p), old;
	nng_pipe op;

	(void)ev;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) ||
	    (uid != 0 && uid != s->uid) ||
	    nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) || !want ||
	    pid != (uint64_t)want) {
		log_warn("service '%s': refusing connection from pid %lld "
			 "(uid %lld): not its worker %d",
		    s->name, pid ? (long long)pid : -1ll,
		    uid == UINT64_MAX ? -1ll : (long long)uid, (int)want);
		nng_pipe_close(p);
		return;
	}
	old = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (old) {
		op.id = old;
		if (!nng_pipe_get_uint64(op, NNG_OPT_IPC_PEER_PID, &old_pid) &&
		    old_pid == pid) {
			log_warn("service '%s': refusing connection from pid "
				 "%lld: its worker is connected already",
			    s->name, (long long)pid);
			nng_pipe_close(p);
			return;
		}
		nng_pipe_close(op); /* left by a worker that died */
	}
	__atomic_store_n(slot, (uint32_t)nng_pipe_id(p), __ATOMIC_RELEASE);
}

/* A connection closed: free its slot; the worker's cmd one fails calls. */
static void
pipe_gone(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct service *s = arg;
	uint32_t id = (uint32_t)nng_pipe_id(p), *slot = pipe_slot(s, p);
	bool cmd = slot == &s->cmd_pipe;

	(void)ev;
	/* Only the worker's own connection (not a refused one) counts. */
	if (!__atomic_compare_exchange_n(
		slot, &id, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	if (!cmd)
		return;
	/* Calls fail at once from now, instead of waiting to time out. */
	__atomic_store_n(&s->hello, false, __ATOMIC_RELEASE);
	nng_aio_cancel(s->cmd_aio);
}

/* Close the connections of a worker that is gone. */
static void
pipes_drop(struct service *s)
{
	uint32_t *slots[] = {&s->cmd_pipe, &s->calls_pipe, &s->pkt_pipe};
	nng_pipe p;
	size_t i;

	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		p.id = __atomic_load_n(slots[i], __ATOMIC_ACQUIRE);
		if (p.id)
			nng_pipe_close(p);
	}
}

static int
listen_owned(struct service *s, nng_socket sock, const char *suffix)
{
	char path[PATH_MAX], url[PATH_MAX + 8];
	nng_listener l;
	int r;

	if (sock_path(s, path, sizeof(path), suffix))
		return -ENAMETOOLONG;
	unlink(path);
	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((r = nng_listener_create(&l, sock, url)) ||
	    (r = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) ||
	    (r = nng_listener_start(l, 0))) {
		log_err("service '%s': listen on %s: %s", s->name, url,
		    nng_strerror(r));
		return -EADDRINUSE;
	}
	if (chown(path, s->uid, s->gid))
		return log_errno(
		    -errno, "service '%s': chown %s", s->name, path);
	return 0;
}

static void sup_replay(struct broker *b, struct service *s);
static int replay_one(struct broker *b, struct service *s, struct cube *c);
static struct cube *replay_due(
    struct broker *b, struct service *s, int64_t *next);

/* Wake the service's request thread; b->state_lock held. */
void
sup_kick(struct service *s)
{
	pthread_cond_signal(&s->cond);
}

static struct suid_q *
uq_find(struct service *s, uint32_t uid)
{
	struct suid_q *u;

	for (u = s->uq; u && u->uid != uid; u = u->next)
		;
	return u;
}

static struct sconn_q *
cq_find(struct suid_q *u, uint64_t conn)
{
	struct sconn_q *q;

	for (q = u ? u->conns : NULL; q && q->conn != conn; q = q->next)
		;
	return q;
}

/* The FIFO of u, other than conn's, whose newest request came from the
 * heaviest sender. */
static struct sconn_q *
cq_heaviest(struct suid_q *u, uint64_t conn)
{
	struct sconn_q *q, *m = NULL;
	unsigned w, mw = 0;
	struct sjob *j;

	for (q = u->conns; q; q = q->next) {
		/* A connection's own requests never give way to its newer
		 * one: that would reorder them. */
		if (q->conn == conn)
			continue;
		/* Its newest request, the FIFO's last (a few at most). */
		for (j = q->head; j->next; j = j->next)
			;
		w = j->req.recent;
		if (!m || w > mw) {
			m = q;
			mw = w;
		}
	}
	return m;
}

/* Unlink and free what holds no request any more. */
static void
uq_prune(struct service *s, struct suid_q *u, struct sconn_q *q)
{
	struct sconn_q **qp;
	struct suid_q **up;

	if (q && !q->n) {
		for (qp = &u->conns; *qp != q; qp = &(*qp)->next)
			;
		*qp = q->next;
		free(q);
	}
	if (!u->n) {
		for (up = &s->uq; *up != u; up = &(*up)->next)
			;
		*up = u->next;
		free(u);
	}
}

/*
 * Make room in uid u's share for a request of connection conn: the
 * newest request of its heaviest sender gives way, answered busy, if
 * that sender sent more than lighter requests in the last second.
 * False: no room.
 */
static bool
uq_displace(struct broker *b, struct service *s, struct suid_q *u,
    unsigned lighter, uint64_t conn)
{
	struct sconn_q *q = u ? cq_heaviest(u, conn) : NULL;
	struct sjob *j, **jp;

	if (!q)
		return false;
	for (jp = &q->head; (*jp)->next; jp = &(*jp)->next)
		;
	j = *jp;
	if (j->req.recent <= lighter)
		return false;
	*jp = NULL;
	q->tail = jp;
	q->n--;
	u->n--;
	s->jq_len--;
	api_refuse(b, &j->req, j->rpc.msgid,
	    cub_err_val(CUB_E_BUSY,
		"service '%s' is busy: this connection (uid %" PRIu32
		") sent %u requests in the last second and gave way to "
		"another client; try again later",
		s->name, u->uid, j->req.recent));
	cub_rpc__clear(&j->rpc);
	free(j);
	uq_prune(s, u, q);
	return true;
}

/*
 * Drop the requests of u whose connection closed: nobody waits for
 * their answer (a client that churns connections must not hold the
 * queue with them).  u may be freed.
 */
static void
uq_purge(struct service *s, struct suid_q *u)
{
	struct sconn_q *q, *next;
	struct sjob *j;

	for (q = u->conns; q; q = next) {
		next = q->next;
		if (clients_alive(s->b, &q->head->req))
			continue;
		while ((j = q->head)) {
			q->head = j->next;
			cub_rpc__clear(&j->rpc);
			free(j);
			q->n--;
			u->n--;
			s->jq_len--;
		}
		q->tail = &q->head;
		if (!u->n) {
			uq_prune(s, u, q); /* frees u */
			return;
		}
		uq_prune(s, u, q);
	}
}

/*
 * Queue a client request for the service's thread; b->state_lock held.
 * Takes rpc's content on success; a request past its uid's share, or
 * past the service's total, for which no heavier sender's request gives
 * way (see broker.h) is refused at once.
 */
int
sup_enqueue(struct service *s, const struct client_req *req,
    struct cub_rpc *rpc, struct cub_val **errv)
{
	struct suid_q *u = uq_find(s, req->uid), *top, *x;
	struct sconn_q *q = cq_find(u, req->conn), **qp;
	unsigned umine = u ? u->n : 0;
	struct sjob *j;

	if (umine >= SVC_QUEUE_MAX) {
		uq_purge(s, u);
		u = uq_find(s, req->uid);
		umine = u ? u->n : 0;
	}
	/* Within a uid, a heavier sender gives way. */
	if (umine >= SVC_QUEUE_MAX &&
	    !uq_displace(s->b, s, u, req->recent, req->conn)) {
		*errv = cub_err_val(CUB_E_BUSY,
		    "service '%s' is busy: %u requests of uid %" PRIu32
		    " are waiting for its worker; try again later",
		    s->name, umine, req->uid);
		return -EBUSY;
	}
	if (s->jq_len >= SVC_QUEUE_TOTAL) {
		struct suid_q *next;

		for (x = s->uq; x; x = next) {
			next = x->next;
			uq_purge(s, x);
		}
		u = uq_find(s, req->uid);
		umine = u ? u->n : 0;
	}
	if (s->jq_len >= SVC_QUEUE_TOTAL) {
		for (top = x = s->uq; x; x = x->next)
			if (x->n > top->n)
				top = x;
		/* Between uids, one holding more than mine would. */
		if (!top || top->n <= umine + 1 ||
		    !uq_displace(s->b, s, top, 0, req->conn)) {
			*errv = cub_err_val(CUB_E_BUSY,
			    "service '%s' is busy: %u requests are waiting "
			    "for its worker; try again later",
			    s->name, s->jq_len);
			return -EBUSY;
		}
	}
	/* What the displacement freed may have been ours. */
	u = uq_find(s, req->uid);
	q = cq_find(u, req->conn);
	if (!(j = calloc(1, sizeof(*j))) ||
	    (!u && !(u = calloc(1, sizeof(*u))))) {
		free(j);
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	if (!u->n && !u->conns) {
		/* A new uid is served after those waiting. */
		struct suid_q **up;

		u->uid = req->uid;
		for (up = &s->uq; *up; up = &(*up)->next)
			;
		*up = u;
	}
	if (!q) {
		if (!(q = calloc(1, sizeof(*q)))) {
			uq_prune(s, u, NULL);
			free(j);
			*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
			return -ENOMEM;
		}
		q->conn = req->conn;
		q->tail = &q->head;
		for (qp = &u->conns; *qp; qp = &(*qp)->next)
			;
		*qp = q;
	}
	j->req = *req;
	j->rpc = *rpc;
	memset(rpc, 0, sizeof(*rpc));
	*q->tail = j;
	q->tail = &j->next;
	q->n++;
	u->n++;
	s->jq_len++;
	sup_kick(s);
	return 0;
}

/*
 * The next request to serve: the oldest of the next connection of the
 * next uid; both then go to the back of their round-robin order.
 */
static struct sjob *
job_pop(struct service *s)
{
	struct suid_q *u = s->uq, **up;
	struct sconn_q *q, **qp;
	struct sjob *j;

	if (!u)
		return NULL;
	q = u->conns;
	j = q->head;
	if (!(q->head = j->next))
		q->tail = &q->head;
	j->next = NULL;
	q->n--;
	u->n--;
	s->jq_len--;
	u->conns = q->next;
	if (q->n) {
		q->next = NULL;
		for (qp = &u->conns; *qp; qp = &(*qp)->next)
			;
		*qp = q;
	} else {
		free(q);
	}
	s->uq = u->next;
	if (u->n) {
		u->next = NULL;
		for (up = &s->uq; *up; up = &(*up)->next)
			;
		*up = u;
	} else {
		free(u);
	}
	return j;
}

/* The service's request thread: see the top of this file. */
static void *
sup_exec(void *arg)
{
	struct service *s = arg, *to;
	struct broker *b = s->b;
	struct timespec ts;
	struct cube *c;
	struct sjob *j;
	int64_t next;

	pthread_mutex_lock(&b->state_lock);
	while (!b->stop) {
		if (s->replay_due) {
			s->replay_due = false;
			sup_replay(b, s);
			s->replay_queued = false;
			broker_wake(b); /* it may be due again */
			continue;
		}
		if ((j = job_pop(s))) {
			/* A cube may have changed hands since it was
			 * queued: only its own service's thread serves it. */
			to = api_route(b, &j->rpc);
			if (to && to != s) {
				struct cub_val *errv = NULL;

				if (!sup_enqueue(to, &j->req, &j->rpc, &errv)) {
					free(j);
					continue;
				}
				cub_val__free(errv);
			}
			api_serve(b, &j->req, &j->rpc);
			free(j);
			continue;
		}
		if (tcube_pending(b, s)) {
			tcube_deliver(b, s);
			continue;
		}
		if (slowpath_pending(b, s)) {
			slowpath_deliver(b, s);
			continue;
		}
		if (netmon_pending(b, s)) {
			netmon_deliver(b, s);
			continue;
		}
		if ((c = replay_due(b, s, &next))) {
			replay_one(b, s, c);
			continue;
		}
		if (next < 0) {
			pthread_cond_wait(&s->cond, &b->state_lock);
			continue;
		}
		/* A refused replay's retry: wake for it. */
		clock_gettime(CLOCK_REALTIME, &ts);
		next -= now_ms();
		ts.tv_sec += next / 1000;
		ts.tv_nsec += (next % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cond, &b->state_lock, &ts);
	}
	pthread_mutex_unlock(&b->state_lock);
	return NULL;
}

static int
svc_open(struct broker *b, const char *name, const char *plugin, unsigned idx)
{
	struct service *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->plugin, sizeof(s->plugin), "%s", plugin);
	s->b = b;
	s->uid = b->o.uid_base + idx;
	s->gid = b->o.uid_base + idx;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->spawn_fd = s->good_fd = s->reload_fd = -1;
	pthread_cond_init(&s->cond, NULL);
	if ((r = nng_req0_open(&s->cmd)) || (r = nng_rep0_open(&s->calls)) ||
	    (r = nng_push0_open(&s->pkt)) ||
	    (r = nng_aio_alloc(&s->cmd_aio, NULL, NULL))) {
		free(s);
		return -ENOMEM;
	}
	/* A resend would reach a restarted worker that lacks the cube. */
	nng_socket_set_ms(
	    s->cmd, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(s->cmd, NNG_OPT_SENDTIMEO, 1000);
	nng_socket_set_size(s->cmd, NNG_OPT_RECVMAXSZ, CUB_MSG_MAX);
	nng_socket_set_size(s->calls, NNG_OPT_RECVMAXSZ, CUB_MSG_MAX);
	/* The packet-in queue towards the worker: bounded, never waited on
	 * (slowpath.c drops a batch it has no room for). */
	nng_socket_set_int(s->pkt, NNG_OPT_SENDBUF, PKTIN_SENDBUF);
	nng_socket_set_size(s->pkt, NNG_OPT_RECVMAXSZ, CUB_MSG_MAX);
	nng_pipe_notify(s->pkt, NNG_PIPE_EV_ADD_PRE, pipe_check, s);
	nng_pipe_notify(s->pkt, NNG_PIPE_EV_REM_POST, pipe_gone, s);
	nng_pipe_notify(s->cmd, NNG_PIPE_EV_ADD_PRE, pipe_check, s);
	nng_pipe_notify(s->calls, NNG_PIPE_EV_ADD_PRE, pipe_check, s);
	nng_pipe_notify(s->cmd, NNG_PIPE_EV_REM_POST, pipe_gone, s);
	nng_pipe_notify(s->calls, NNG_PIPE_EV_REM_POST, pipe_gone, s);
	if ((r = listen_owned(s, s->calls, "sock")) ||
	    (r = listen_owned(s, s->cmd, "cmd")) ||
	    (r = listen_owned(s, s->pkt, "pkt")))
		return r;
	if (pthread_create(&s->thread, NULL, wcall_thread, s))
		return -EAGAIN;
	if (pthread_create(&s->exec, NULL, sup_exec, s))
		return -EAGAIN;
	s->next = b->svcs;
	b->svcs = s;
	log_info("service '%s': plugin %s, uid %u", s->name, s->plugin,
	    (unsigned)s->uid);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A service name is a plain identifier ([a-z][a-z0-9_-]*, at most
 * CUB_NAME_MAX) and none of the CLI's or broker's built-in words, which
 * would shadow it: NULL, or why not.
 */
static const char *
svc_name_refused(const char *name, size_t len)
{
	size_t i;

	if (!len || len > CUB_NAME_MAX)
		return "its name is empty or too long";
	if (name[0] < 'a' || name[0] > 'z')
		return "its name does not start with a lowercase letter";
	for (i = 1; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
			(name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
			name[i] == '-'))
			return "its name is not [a-z][a-z0-9_-]*";
	if (cubi_word_reserved(name))
		return "its name is a reserved built-in word";
	return NULL;
}

/* A file name for the log: control bytes as '?', cut at size - 1. */
static const char *
svc_printable(const char *name, char *buf, size_t size)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)name[i] < 0x20 ||
				 (unsigned char)name[i] >= 0x7f
			     ? '?'
			     : name[i];
	buf[i] = '\0';
	return buf;
}

/*
 * Services are the <name>.so files of the plugin directory, in name order,
 * so a service keeps its uid across restarts while the set is unchanged.
 * A file whose name cannot be a service's is skipped, with a log line.
 */
int
sup_init(struct broker *b)
{
	char *names[MAX_SERVICES];
	char path[PATH_MAX];
	struct dirent *de;
	unsigned n = 0, i;
	size_t len;
	DIR *d;
	int r = 0;

	d = opendir(b->o.plugin_dir);
	if (!d)
		return log_errno(
		    -errno, "plugin directory %s", b->o.plugin_dir);
	while ((de = readdir(d))) {
		char *name, shown[CUB_NAME_MAX + 8];
		const char *why;

		len = strlen(de->d_name);
		if (len < 3 || strcmp(de->d_name + len - 3, ".so"))
			continue;
		name = strndup(de->d_name, len - 3);
		if (!name) {
			r = log_errno(-ENOMEM, "plugin directory");
			break;
		}
		if ((why = svc_name_refused(name, len - 3))) {
			log_warn("plugin directory %s: skipping '%s': %s",
			    b->o.plugin_dir,
			    svc_printable(de->d_name, shown, sizeof(shown)),
			    why);
			free(name);
			continue;
		}
		if (n == MAX_SERVICES) {
			log_warn("plugin directory %s: more than %d plugins, "
				 "ignoring '%s'",
			    b->o.plugin_dir, MAX_SERVICES, de->d_name);
			free(name);
			continue;
		}
		names[n++] = name;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(
		    path, sizeof(path), "%s/%s.so", b->o.plugin_dir, names[i]);
		if (!r)
			r = svc_open(b, names[i], path, i);
		free(names[i]);
	}
	if (!n)
		log_warn("no plugins in %s", b->o.plugin_dir);
	return r;
}

/*
 * The plugin file of s's last accepted hello, copied to
 * <state-dir>/<service>.accepted.so (root's, read-only, replaced by
 * rename): what a worker starts from after a failed reload.  b->lock
 * held.  The path, or NULL (reload_err says why).
 */
/* Add "; what" to s->reload_err once. */
static void
reload_err_add(struct service *s, const char *what)
{
	size_t n = strlen(s->reload_err);

	if (!strstr(s->reload_err, what))
		snprintf(s->reload_err + n, sizeof(s->reload_err) - n, "; %s",
		    what);
}

static const char *
fallback_copy(struct service *s)
{
	char tmp[PATH_MAX + 8];
	struct stat st;
	off_t off = 0;
	ssize_t n = 1;
	int fd, r = 0;

	if (s->good_fd < 0 || fstat(s->good_fd, &st)) {
		reload_err_add(s, "no plugin file speaking the accepted schema "
				  "is left: install one and run cubicle "
				  "services reload");
		return NULL;
	}
	snprintf(s->fallback_path, sizeof(s->fallback_path),
	    "%s/%s.accepted.so", s->b->o.state_dir, s->name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->fallback_path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0444);
	if (fd < 0)
		r = -errno;
	while (!r && off < st.st_size && n > 0)
		n = sendfile(fd, s->good_fd, &off, (size_t)(st.st_size - off));
	if (!r && (n < 0 || off != st.st_size))
		r = n < 0 ? -errno : -EIO;
	if (!r && fsync(fd))
		r = -errno;
	if (fd >= 0 && close(fd) && !r)
		r = -errno;
	if (!r && rename(tmp, s->fallback_path))
		r = -errno;
	if (!r)
		return s->fallback_path;
	log_errno(r, "service '%s': copy of its accepted plugin to %s",
	    s->name, tmp);
	unlink(tmp);
	reload_err_add(s, "its accepted plugin could not be copied (see the "
			  "broker log)");
	return NULL;
}

static void
sup_spawn(struct service *s)
{
	char uid[16], gid[16];
	char *argv[16];
	const char *path;
	int logp[2], go[2], null, r;
	char c;
	pid_t self = getpid();
	sigset_t all;
	int i = 0;
	pid_t pid;

	snprintf(uid, sizeof(uid), "%u", (unsigned)s->uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)s->gid);
	/* After a failed reload, the plugin that spoke the accepted schema
	 * (a copy of the file, which the reload's replaced); the file the
	 * worker starts from is kept open for the next fallback. */
	pthread_mutex_lock(&s->b->lock);
	path = s->fallback ? fallback_copy(s) : NULL;
	if (s->fallback && path)
		log_warn("service '%s': the last reload failed; its worker "
			 "starts from %s, a copy of the plugin that spoke "
			 "schema v%u",
		    s->name, path, s->schema_version);
	if (!path)
		path = s->plugin;
	if (s->spawn_fd >= 0)
		close(s->spawn_fd);
	s->spawn_fd = open(path, O_RDONLY | O_CLOEXEC);
	pthread_mutex_unlock(&s->b->lock);
	/* What an earlier worker said is not this one's reason. */
	wlog_last_words(s->last_words, NULL, 0);
	argv[i++] = "cubicle-worker";
	argv[i++] = "--plugin";
	argv[i++] = (char *)path;
	argv[i++] = "--service";
	argv[i++] = s->name;
	argv[i++] = "--socket-dir";
	argv[i++] = (char *)s->b->o.socket_dir;
	argv[i++] = "--uid";
	argv[i++] = uid;
	argv[i++] = "--gid";
	argv[i++] = gid;
	if (log_get_level() >= LOG_P_DEBUG)
		argv[i++] = "--debug";
	argv[i] = NULL;

	s->hello = false;
	s->ready = false;
	/* The worker's output is a pipe to wlog.c, never our log file. */
	if ((r = wlog_pipe(logp))) {
		log_errno(
		    r, "service '%s': pipe for the worker's log", s->name);
		s->next_start_ms = now_ms() + s->backoff_ms;
		return;
	}
	/*
	 * Nor our stdin (the admin's terminal, maybe): the worker reads and
	 * writes nothing there, it gets /dev/null.
	 */
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0) {
		log_errno(-errno, "service '%s': /dev/null", s->name);
		close(logp[0]);
		close(logp[1]);
		s->next_start_ms = now_ms() + s->backoff_ms;
		return;
	}
	/*
	 * The child waits for a byte on go before it runs the worker: its
	 * dial is checked against s->pid (pipe_check(), on nng's thread),
	 * which the parent can only store after fork() returns.  Without the
	 * wait a worker scheduled first was refused ("not its worker 0") and
	 * its service restarted after a call timeout (reboot-xdp, loaded).
	 */
	if (pipe2(go, O_CLOEXEC)) {
		log_errno(-errno, "service '%s': pipe", s->name);
		close(null);
		close(logp[0]);
		close(logp[1]);
		s->next_start_ms = now_ms() + s->backoff_ms;
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_errno(-errno, "service '%s': fork", s->name);
		close(go[0]);
		close(go[1]);
		close(null);
		close(logp[0]);
		close(logp[1]);
		s->next_start_ms = now_ms() + s->backoff_ms;
		return;
	}
	if (pid == 0) {
		/* dup2() onto itself would keep O_CLOEXEC. */
		if (null == STDIN_FILENO)
			fcntl(null, F_SETFD, 0);
		else if (dup2(null, STDIN_FILENO) < 0)
			_exit(127);
		if (dup2(logp[1], STDOUT_FILENO) < 0 ||
		    dup2(logp[1], STDERR_FILENO) < 0)
			_exit(127);
		/*
		 * Workers die with the broker; a new broker starts new ones.
		 * A broker that died before the prctl is no longer the parent.
		 * The worker sets it again after its uid switch clears it.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(127);
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		closefrom(3);
		execv(s->b->o.worker_bin, argv);
		log_errno(-errno, "exec %s", s->b->o.worker_bin);
		_exit(127);
	}
	close(null);
	close(logp[1]);
	close(go[0]);
	wlog_start(s->name, pid, logp[0], s->last_words, sizeof(s->last_words));
	__atomic_store_n(&s->pid, pid, __ATOMIC_RELEASE);
	if (write(go[1], "", 1) != 1)
		log_errno(-errno, "service '%s': start worker %d", s->name,
		    (int)pid);
	close(go[1]);
	s->next_start_ms = now_ms();
	log_info("service '%s': worker started, pid %d", s->name, (int)pid);
}

/*
 * What a reload's hello declared becomes the service's (request thread,
 * b->state_lock held, so no request of this service runs): the schema it
 * replaces is retired, not freed (struct svc_retired).
 */
static void
reload_take(struct broker *b, struct service *s)
{
	struct svc_retired *old;

	pthread_mutex_lock(&b->lock);
	if (s->next_due && (old = calloc(1, sizeof(*old)))) {
		bool same =
		    cub_val__equal(s->schema_wire, s->next_wire) &&
		    !memcmp(&s->policy, &s->next_policy, sizeof(s->policy));

		old->schema = s->schema;
		old->wire = s->schema_wire;
		old->counters = s->counters;
		old->next = s->retired;
		s->retired = old;
		s->reload_took = true;
		s->reload_prev_policy = s->policy;
		s->reload_prev_version = s->schema_version;
		s->schema = TAKE_PTR(s->next_schema);
		s->schema_wire = TAKE_PTR(s->next_wire);
		s->counters = TAKE_PTR(s->next_counters);
		s->policy = s->next_policy;
		if (!same)
			s->schema_version++;
		s->next_due = false;
		s->reload = false;
		log_info("service '%s': reloaded %s: schema v%u%s", s->name,
		    s->plugin, s->schema_version,
		    same ? " (schema and policy unchanged)" : "");
	}
	pthread_mutex_unlock(&b->lock);
}

/*
 * The reload's worker said hello and then died on the replay (a new
 * version that cannot take its predecessor's cubes): the reload failed.
 * What reload_take() replaced is put back (the new schema stays retired,
 * as any replaced one), and workers start from the accepted file again
 * (fallback), as after a refused hello.  Service thread.
 */
static void reload_answer(struct broker *b, struct service *s,
    struct cub_val *result, struct cub_val *errv);

static void
reload_replay_died(struct broker *b, struct service *s, const char *cube)
{
	struct cubi_schema *sch;
	struct cub_val *wire;
	struct ctr_table *ctrs;
	struct svc_retired *old;
	unsigned v;

	pthread_mutex_lock(&b->lock);
	if (!s->reload_waiting || s->reload) {
		pthread_mutex_unlock(&b->lock);
		return;
	}
	if (s->reload_took && (old = s->retired)) {
		sch = s->schema, wire = s->schema_wire, ctrs = s->counters;
		s->schema = old->schema;
		s->schema_wire = old->wire;
		s->counters = old->counters;
		old->schema = sch, old->wire = wire, old->counters = ctrs;
		s->policy = s->reload_prev_policy;
		s->schema_version = s->reload_prev_version;
	}
	s->reload_took = false;
	if (s->reload_fd >= 0)
		close(s->reload_fd);
	s->reload_fd = -1;
	s->fallback = true;
	snprintf(s->reload_err, sizeof(s->reload_err),
	    "reload failed: the new worker died on the replay of cube '%s'",
	    cube);
	v = s->schema_version;
	pthread_mutex_unlock(&b->lock);
	log_err("service '%s': reload failed: its new worker died on the "
		"replay of cube '%s'; back to schema v%u and the plugin it "
		"replaced",
	    s->name, cube, v);
	reload_answer(b, s, NULL,
	    cub_err_val(CUB_E_UNAVAIL,
		"service '%s': reload failed: the new worker died on the "
		"replay of cube '%s'; schema v%u and the plugin it replaced "
		"stay (see the broker log)",
		s->name, cube, v));
}

/* The reload's client, if one waits and the reload is over: answered
 * with result (taken) or errv (taken). */
static void
reload_answer(struct broker *b, struct service *s, struct cub_val *result,
    struct cub_val *errv)
{
	struct client_req req;
	uint32_t msgid;
	bool waiting;

	pthread_mutex_lock(&b->lock);
	waiting = s->reload_waiting && !s->reload;
	if (waiting) {
		s->reload_waiting = false;
		req = s->reload_req;
		msgid = s->reload_msgid;
	}
	pthread_mutex_unlock(&b->lock);
	if (!waiting) {
		cub_val__free(result);
		cub_val__free(errv);
		return;
	}
	if (errv) {
		cub_val__free(result);
		api_refuse(b, &req, msgid, errv);
	} else {
		api_answer(b, &req, msgid, result);
	}
}

/* A reload's hello was refused (worker-call thread, no lock held). */
void
sup_reload_failed(struct service *s, const char *why)
{
	pthread_mutex_lock(&s->b->lock);
	if (s->reload) {
		/* Back to a worker speaking the accepted schema. */
		s->fallback = true;
		snprintf(s->reload_err, sizeof(s->reload_err),
		    "reload refused: the new plugin's %.160s", why);
	}
	s->reload = false;
	pthread_mutex_unlock(&s->b->lock);
	reload_answer(s->b, s, NULL,
	    cub_err_val(CUB_E_INVAL,
		"service '%s': reload refused: the new plugin's %s; the "
		"accepted schema v%u stays, and its cubes are unchanged",
		s->name, why, s->schema_version));
}

/*
 * 'services reload NAME' (main thread, b->state_lock held): the next
 * worker's hello may change the service's schema and policy; its worker
 * is restarted to say it.  The reply waits for the replay (or the
 * refusal) and is sent by reload_answer().
 */
int
sup_reload(struct broker *b, struct service *s, const struct client_req *req,
    uint32_t msgid, struct cub_val **errv)
{
	if (access(s->plugin, R_OK)) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "service '%s': cannot read its plugin %s (%s); nothing "
		    "changed",
		    s->name, s->plugin, strerror(errno));
		return -ENOENT;
	}
	pthread_mutex_lock(&b->lock);
	if (s->reload) {
		pthread_mutex_unlock(&b->lock);
		*errv = cub_err_val(CUB_E_BUSY,
		    "service '%s': a reload is in progress already", s->name);
		return -EBUSY;
	}
	s->reload = true;
	s->reload_waiting = true;
	s->reload_req = *req;
	s->reload_msgid = msgid;
	s->reload_pid = s->pid;
	s->hello_refusals = 0;
	s->fallback = false; /* the plugin file is the one to read */
	s->reload_err[0] = '\0';
	pthread_mutex_unlock(&b->lock);
	s->stopped = false;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->next_start_ms = now_ms();
	log_info("service '%s': reload: restarting its worker to read the "
		 "schema and policy of %s",
	    s->name, s->plugin);
	if (s->pid)
		kill(s->pid, SIGKILL); /* its cubes' programs keep running */
	broker_wake(b);
	return 0;
}

/*
 * A replay the worker refused is retried, the cube's own, with the
 * cube's document at the time: after 1 s, 2 s, 4 s ... at most 30 s
 * apart, until the worker takes it, the cube is deleted, or a change of
 * the cube is taken whole (cube.c: worker_change()).  A worker that dies
 * meanwhile gets every cube again at its hello.  b->state_lock held.
 */
#define REPLAY_RETRY_MIN_MS 1000
#define REPLAY_RETRY_MAX_MS 30000

static void
replay_refused(struct cube *c, struct cub_val *errv)
{
	const char *msg;

	cub_err_parse(errv, &msg);
	c->replay_wait_ms = !c->replay_wait_ms ? REPLAY_RETRY_MIN_MS
			    : c->replay_wait_ms * 2 > REPLAY_RETRY_MAX_MS
				? REPLAY_RETRY_MAX_MS
				: c->replay_wait_ms * 2;
	c->replay_refusals++;
	c->replay_next_ms = now_ms() + c->replay_wait_ms;
	snprintf(c->replay_err, sizeof(c->replay_err), "%s", msg);
	log_err("cube '%s': replay to worker refused (%u time(s)): %s; "
		"retry in %u s",
	    c->name, c->replay_refusals, msg, c->replay_wait_ms / 1000);
}

void
sup_replay_done(struct cube *c)
{
	if (!c->replay_wait_ms)
		return;
	log_info("cube '%s': replayed to worker after %u refusal(s)", c->name,
	    c->replay_refusals);
	c->replay_wait_ms = 0;
	c->replay_refusals = 0;
	c->replay_err[0] = '\0';
}

/* Replay c now: 0, or -1 when the worker died (its hello replays all). */
static int
replay_one(struct broker *b, struct service *s, struct cube *c)
{
	struct cub_val *errv = NULL;
	int r = cube_sync(b, c, true, &errv);

	if (!r) {
		sup_replay_done(c);
		return 0;
	}
	/* The worker is gone (the call's transport failed, its connection
	 * closed), reaped or not: sup_call()'s -EPIPE, -ETIMEDOUT, -EAGAIN. */
	if (r == -EPIPE || r == -ETIMEDOUT || r == -EAGAIN || !s->pid ||
	    !__atomic_load_n(&s->hello, __ATOMIC_ACQUIRE)) {
		cub_val__free(errv);
		return -1;
	}
	replay_refused(c, errv);
	cub_val__free(errv);
	return 1;
}

/* The first of s's cubes whose retry is due; *next: the earliest one. */
static struct cube *
replay_due(struct broker *b, struct service *s, int64_t *next)
{
	int64_t now = now_ms();
	struct cube *c;

	*next = -1;
	if (!s->ready || !s->pid)
		return NULL;
	for (c = b->cubes; c; c = c->next) {
		if (c->svc != s || !c->replay_wait_ms)
			continue;
		if (c->replay_next_ms <= now)
			return c;
		if (*next < 0 || c->replay_next_ms < *next)
			*next = c->replay_next_ms;
	}
	return NULL;
}

static void
sup_replay(struct broker *b, struct service *s)
{
	struct cub_val *refused, *res;
	struct cube *c;
	unsigned n = 0, nref = 0;
	bool filled, save;
	int r;

	reload_take(b, s);
	save = svc_version_due(b, s);
	refused = cub_val__array();
	for (c = b->cubes; c; c = c->next) {
		if (c->svc != s)
			continue;
		/* A cube this schema refuses is kept as it is: store,
		 * document and the program that runs for it. */
		free(c->refused);
		c->refused = cube_revalidate(b, c, &filled);
		save |= filled;
		if (c->refused) {
			log_warn("cube '%s': %s; kept unchanged (its program "
				 "still runs)",
			    c->name, c->refused);
			cub_val__push(refused, cub_val__str(c->name));
			nref++;
			continue;
		}
		if ((r = replay_one(b, s, c)) < 0) {
			cub_val__free(refused);
			reload_replay_died(b, s, c->name);
			/* Died again; retried later: the defaults it filled
			 * in are in the documents already. */
			if (save && !broker_save(b, NULL, NULL))
				svc_version_saved(b, s);
			return;
		}
		n += !r;
	}
	/* Defaults a reload's schema added, its version: one snapshot. */
	if (save && !broker_save(b, NULL, NULL))
		svc_version_saved(b, s);
	pthread_mutex_lock(&b->lock);
	if (s->reload_fd >= 0) {
		/* The reload's worker took every cube: its file is good. */
		if (s->good_fd >= 0)
			close(s->good_fd);
		s->good_fd = s->reload_fd;
		s->reload_fd = -1;
	}
	s->reload_took = false;
	pthread_mutex_unlock(&b->lock);
	s->ready = true;
	log_info("service '%s': worker ready, %u cube(s) re-synced, %u "
		 "refused by its schema",
	    s->name, n, nref);
	res = cub_val__map();
	cub_val__set(res, "service", cub_val__str(s->name));
	cub_val__set(res, "schema", cub_val__uint(s->schema_version));
	cub_val__set(res, "cubes", cub_val__uint(n));
	cub_val__set(res, "refused", refused);
	reload_answer(b, s, res, NULL);
	if (s->restarts) {
		struct cub_val *p = cub_val__map();

		cub_val__set(p, "service", cub_val__str(s->name));
		cub_val__set(p, "restarts", cub_val__uint(s->restarts));
		cub_val__set(p, "cubes", cub_val__uint(n));
		api_publish(b, CUB_EV_WORKER_RESTARTED, p, NULL);
	}
}

void
sup_tick(struct broker *b)
{
	struct service *s;
	int64_t now = now_ms();
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		unsigned refusals;
		bool reload, other;

		for (s = b->svcs; s && s->pid != pid; s = s->next)
			;
		if (!s)
			continue;
		if (WIFSIGNALED(status))
			snprintf(s->last_exit, sizeof(s->last_exit),
			    "killed by signal %d%s", WTERMSIG(status),
			    WTERMSIG(status) == SIGSYS
				? " (forbidden system call)"
				: "");
		else
			snprintf(s->last_exit, sizeof(s->last_exit),
			    "exited with %d", WEXITSTATUS(status));
		/* Its last lines are this exit's words: read them all first
		 * (the pipe ends with it; a bounded wait if not). */
		if (!wlog_drain(pid, WLOG_DRAIN_MS))
			log_warn("service '%s': worker %d's log is still open "
				 "after its exit",
			    s->name, (int)pid);
		wlog_last_words(s->last_words, s->exit_words,
		    sizeof(s->exit_words));
		log_err("service '%s': worker %d %s", s->name, (int)pid,
		    s->last_exit);
		if (now - s->next_start_ms > STABLE_MS)
			s->backoff_ms = BACKOFF_MIN_MS;
		__atomic_store_n(&s->pid, 0, __ATOMIC_RELEASE);
		/* Its connections die with it, wherever their fds went. */
		pipes_drop(s);
		s->hello = false;
		s->ready = false;
		s->restarts++;
		pthread_mutex_lock(&b->lock);
		refusals = s->hello_refusals;
		reload = s->reload;
		/* A reload's own worker that dies before its hello. */
		other = reload && pid != s->reload_pid && !s->next_due;
		if (other) {
			/* Back to a worker speaking the accepted schema, from
			 * the file it started from (as a refused hello). */
			s->reload = false;
			s->fallback = true;
			snprintf(s->reload_err, sizeof(s->reload_err),
			    "reload failed: the new worker %.100s before its "
			    "hello",
			    s->last_exit);
		}
		s->reload_pid = 0;
		pthread_mutex_unlock(&b->lock);
		if (other) {
			reload_answer(b, s, NULL,
			    cub_err_val(CUB_E_UNAVAIL,
				"service '%s': reload failed: the new worker "
				"%s before its hello (see the broker log)",
				s->name, s->last_exit));
		}
		if (reload && !other) {
			s->next_start_ms = now; /* the reload's worker */
			continue;
		}
		if (refusals >= SUP_HELLO_REFUSALS) {
			/* The same plugin will say the same: stop. */
			s->stopped = true;
			log_err(
			    "service '%s': stopped after %u refused hellos; "
			    "'cubicle services reload %s' starts it again",
			    s->name, refusals, s->name);
			continue;
		}
		s->next_start_ms = now + s->backoff_ms;
		log_info("service '%s': restarting in %u ms", s->name,
		    s->backoff_ms);
		s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS
				    ? BACKOFF_MAX_MS
				    : s->backoff_ms * 2;
	}
	for (s = b->svcs; s; s = s->next) {
		if (s->pid && s->ready &&
		    !__atomic_load_n(&s->hello, __ATOMIC_ACQUIRE)) {
			/* Its connection is gone: it cannot serve, replace it.
			 */
			log_err("service '%s': worker %d lost its connection",
			    s->name, (int)s->pid);
			kill(s->pid, SIGKILL);
			s->ready = false;
		}
		if (!s->pid && !s->stopped && now >= s->next_start_ms)
			sup_spawn(s);
		if (s->pid && __atomic_load_n(&s->hello, __ATOMIC_ACQUIRE) &&
		    !s->ready && !s->replay_queued) {
			s->replay_queued = s->replay_due = true;
			sup_kick(s);
		}
	}
}

/* Milliseconds until the next worker is due to start, or -1 (none). */
int
sup_next_timeout(const struct broker *b)
{
	const struct service *s;
	int64_t now = now_ms(), next = -1, d;

	for (s = b->svcs; s; s = s->next) {
		if (s->pid || s->stopped)
			continue;
		d = s->next_start_ms > now ? s->next_start_ms - now : 0;
		if (next < 0 || d < next)
			next = d;
	}
	return (int)next;
}

bool
sup_on_thread(const struct service *s)
{
	return pthread_equal(pthread_self(), s->exec);
}

int
sup_call(struct service *s, const char *method, struct cub_val *params,
    struct cub_val **result, struct cub_val **errv, int timeout_ms)
{
	struct cub_rpc rpc = {0};
	static uint32_t msgids;
	uint32_t msgid;
	char err[256];
	void *buf;
	size_t len;
	nng_msg *msg;
	int r;

	*result = NULL;
	*errv = NULL;
	if (!pthread_equal(pthread_self(), s->exec)) {
		/* The cmd socket is the request thread's alone. */
		log_err("service '%s': '%s' called off its request thread",
		    s->name, method);
		cub_val__free(params);
		*errv = cub_err_val(CUB_E_INTERNAL,
		    "service '%s': worker call from the wrong thread", s->name);
		return -EINVAL;
	}
	if (!s->pid || !__atomic_load_n(&s->hello, __ATOMIC_ACQUIRE)) {
		cub_val__free(params);
		*errv = s->stopped
			    ? cub_err_val(CUB_E_UNAVAIL,
				  "service '%s' is stopped: its worker's hello "
				  "was refused (cubicle services says why; "
				  "'cubicle services reload %s' starts it)",
				  s->name, s->name)
			    : cub_err_val(CUB_E_UNAVAIL,
				  "service '%s' is not running (restarting)",
				  s->name);
		return -EAGAIN;
	}
	/* Several services' threads call at once. */
	msgid = __atomic_add_fetch(&msgids, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->worker_calls, 1, __ATOMIC_RELAXED);
	if ((r = cub_rpc__encode_request(msgid, method, params, &buf, &len)))
		goto nomem;
	/* Others use the broker while this worker works (broker.h). */
	pthread_mutex_unlock(&s->b->state_lock);
	r = cubi_send(s->cmd, buf, len, 0);
	free(buf);
	if (!r) {
		nng_aio_set_timeout(s->cmd_aio, timeout_ms);
		nng_recv_aio(s->cmd, s->cmd_aio);
		nng_aio_wait(s->cmd_aio);
		r = nng_aio_result(s->cmd_aio);
	}
	pthread_mutex_lock(&s->b->state_lock);
	if (r)
		goto unavail;
	msg = nng_aio_get_msg(s->cmd_aio);
	r = cub_rpc__decode(
	    nng_msg_body(msg), nng_msg_len(msg), &rpc, err, sizeof(err));
	nng_msg_free(msg);
	if (r || rpc.type != CUB_RPC_RESPONSE || rpc.msgid != msgid) {
		cub_rpc__clear(&rpc);
		*errv = cub_err_val(CUB_E_BADMSG,
		    "service '%s': malformed reply from worker: %s", s->name,
		    r ? err : "not the response to this call");
		return -EBADMSG;
	}
	if (rpc.error) {
		const char *m;
		int code = cub_err_parse(rpc.error, &m);

		/* Worker errors keep their code; a malformed one is ours. */
		*errv = code == CUB_E_BADMSG
			    ? cub_err_val(
				  CUB_E_BADMSG, "service '%s': %s", s->name, m)
			    : TAKE_PTR(rpc.error);
		cub_rpc__clear(&rpc);
		return -EREMOTEIO;
	}
	*result = rpc.result;
	rpc.result = NULL;
	cub_rpc__clear(&rpc);
	return 0;
nomem:
	*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
	return -ENOMEM;
unavail:
	if (r == NNG_ETIMEDOUT && s->pid) {
		/* A worker that hangs is as good as dead: restart it. */
		log_err("service '%s': worker %d did not answer '%s' within "
			"%d ms; killing it",
		    s->name, (int)s->pid, method, timeout_ms);
		kill(s->pid, SIGKILL);
		s->hello = false;
	}
	*errv =
	    r == NNG_ETIMEDOUT
		? cub_err_val(CUB_E_TIMEOUT,
		      "service '%s': worker did not answer '%s' within %d ms "
		      "(restarting it)",
		      s->name, method, timeout_ms)
		: cub_err_val(CUB_E_UNAVAIL,
		      "service '%s': worker went away during '%s' (%s)",
		      s->name, method, nng_strerror(r));
	return r == NNG_ETIMEDOUT ? -ETIMEDOUT : -EPIPE;
}

void
sup_shutdown(struct broker *b)
{
	char path[PATH_MAX];
	struct service *s;

	for (s = b->svcs; s; s = s->next) {
		if (s->pid)
			kill(s->pid, SIGTERM);
		if (!sock_path(s, path, sizeof(path), "sock"))
			unlink(path);
		if (!sock_path(s, path, sizeof(path), "cmd"))
			unlink(path);
	}
	pthread_mutex_lock(&b->state_lock);
	b->stop = 1;
	for (s = b->svcs; s; s = s->next) {
		sup_kick(s);
		nng_aio_cancel(s->cmd_aio); /* a call in flight fails */
	}
	pthread_mutex_unlock(&b->state_lock);
	for (s = b->svcs; s; s = s->next) {
		struct sjob *j;

		pthread_join(s->exec, NULL);
		nng_close(s->pkt); /* its only sender is gone */
		/* Requests never served: their clients see the close. */
		while ((j = job_pop(s))) {
			cub_rpc__clear(&j->rpc);
			free(j);
		}
		/* Closing the socket ends the service thread's receive. */
		nng_close(s->calls);
		pthread_join(s->thread, NULL);
		if (s->pid)
			waitpid(s->pid, NULL, 0);
	}
	wlog_shutdown();
}
