// SPDX-License-Identifier: BSD-2-Clause
/*
 * Remote clients: --listen-tls URL,ca=FILE,cert=FILE,key=FILE,role=ROLE
 * (docs/architecture.md, Client roles: remote nng over TLS).
 *
 * nng's TLS stream listener (mbedTLS) accepts tls+tcp:// connections and
 * verifies each client's certificate against the listener's CA
 * (NNG_TLS_AUTH_MODE_REQUIRED): no certificate, or one another CA signed,
 * and the handshake fails, so no byte of such a client reaches the
 * broker.  nng 1.5.2 says whether a peer was verified, not who it is: the
 * listener names the role (one listener, and CA, per tenant).
 *
 * A verified connection becomes a local one: a socketpair whose broker
 * end clients.c takes like an accepted client (clients_adopt(): the same
 * caps, queues, deadlines and fair shares), with the listener's role.
 * Two threads per connection pump bytes between the TLS stream and the
 * other end, rewriting the framing: SP over TCP (and TLS) sends a message
 * as an 8-byte length and the body, SP over IPC, which clients.c speaks,
 * as 0x01, the length, the body.  Pumps block only themselves: the
 * handshake runs on nng's threads and the connection's first pump, with
 * HELLO_MS to finish it and send the SP header; at most
 * TLS_PENDING_PEER connections of one address and TLS_PENDING_MAX of a
 * listener wait for that at once (past it, the oldest of the address
 * holding the most is closed: pending_add()), so a client that never
 * finishes its handshake holds one thread for 10 s, never the broker,
 * and never locks a newcomer out.
 * Identity for the caps: the listener is the "uid" (TLS_UID_BASE + its
 * index), the peer's address the "process".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "broker.h"
#include "log.h"

#define HELLO_MS 10000     /* to finish the handshake and send the header */
#define TLS_PENDING_MAX 64 /* connections of a listener before their header */
#define TLS_PENDING_PEER 8 /* of them from one peer address */
#define PUMP_CHUNK 65536
/* A client must take each chunk of a reply within this: one that stops
 * reading would hold its pumps after the broker closed its end. */
#define SEND_MS 30000
#define ACCEPT_PAUSE_MS 100 /* after a failed accept (out of fds) */

struct tls_listener {
	struct broker *b;
	unsigned idx;
	char url[256];
	char role_name[TENANT_NAME_MAX + 16];
	enum client_role role;
	const struct tenant *tenant;
	nng_tls_config *cfg;
	nng_stream_listener *l;
	nng_aio *aio;
	pthread_mutex_t lock;
	/* Connections before their SP header, oldest first. */
	struct tls_conn *pending[TLS_PENDING_MAX];
	unsigned npending;
	bool closing;
	bool pausing; /* ls->aio sleeps after a failed accept */
	uint64_t accept_failed;
	uint64_t failed, evicted, accepted;
};

struct tls_conn {
	struct tls_listener *ls;
	nng_stream *s;
	int fd; /* our end of the socketpair, blocking; -1 before it */
	char peer[64];
	uint64_t key;         /* the "process": the peer's address */
	int refs;             /* pump threads still running */
	pthread_mutex_t lock; /* closed, and starting an operation */
	int closed;           /* torn down once */
	bool evicted;         /* closed before its handshake to make room */
};

static struct tls_listener *listeners[CUB_TLS_LISTENERS_MAX];
static unsigned nlisteners;

static bool
log_due(uint64_t n)
{
	return n && !(n & (n - 1));
}

static const char *
file_check(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *f;

	if (!path || !*path) {
		snprintf(err, errlen, "%s= is missing", what);
		return err;
	}
	if (!(f = fopen(path, "re"))) {
		snprintf(err, errlen, "%s=%s: %s", what, path, strerror(errno));
		return err;
	}
	fclose(f);
	return NULL;
}

/* A whole file, NUL-terminated, or NULL. */
static char *
slurp(const char *path)
{
	char *buf;
	size_t len = 0, n;
	FILE *f = fopen(path, "re");

	if (!f)
		return NULL;
	if (!(buf = malloc((1u << 20) + 1))) {
		fclose(f);
		return NULL;
	}
	while ((n = fread(buf + len, 1, (1u << 20) - len, f)) > 0)
		len += n;
	fclose(f);
	buf[len] = 0;
	return buf;
}

int
tls_listener_add(struct broker *b, const char *spec, char *err, size_t errlen)
{
	char *copy, *tok, *save = NULL, *certpem = NULL, *keypem = NULL;
	const char *ca = NULL, *cert = NULL, *key = NULL, *role = NULL;
	const char *url, *host;
	struct tls_listener *ls;
	int r;

	if (nlisteners >= CUB_TLS_LISTENERS_MAX) {
		snprintf(
		    err, errlen, "at most %d listeners", CUB_TLS_LISTENERS_MAX);
		return -E2BIG;
	}
	if (!(copy = strdup(spec)) || !(ls = calloc(1, sizeof(*ls)))) {
		free(copy);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	url = strtok_r(copy, ",", &save);
	while ((tok = strtok_r(NULL, ",", &save))) {
		const char **slot = !strncmp(tok, "ca=", 3)     ? &ca
				    : !strncmp(tok, "cert=", 5) ? &cert
				    : !strncmp(tok, "key=", 4)  ? &key
				    : !strncmp(tok, "role=", 5) ? &role
								: NULL;
		if (!slot) {
			snprintf(err, errlen,
			    "'%s': unknown key (ca=, cert=, key=, role=)", tok);
			goto fail;
		}
		if (*slot) {
			snprintf(err, errlen, "'%.*s' given twice",
			    (int)strcspn(tok, "="), tok);
			goto fail;
		}
		*slot = strchr(tok, '=') + 1;
	}
	if (!url || strncmp(url, "tls+tcp://", 10)) {
		snprintf(err, errlen,
		    "'%s': not a tls+tcp://ADDRESS:PORT URL (the first item)",
		    url ? url : "");
		goto fail;
	}
	host = url + 10;
	if (!*host || *host == ':' || !strchr(host, ':') ||
	    strlen(url) >= sizeof(ls->url)) {
		snprintf(err, errlen,
		    "'%s': name the address and the port to listen on "
		    "(tls+tcp://127.0.0.1:PORT; 0.0.0.0 for every address)",
		    url);
		goto fail;
	}
	snprintf(ls->url, sizeof(ls->url), "%s", url);
	if (file_check("ca", ca, err, errlen) ||
	    file_check("cert", cert, err, errlen) ||
	    file_check("key", key, err, errlen))
		goto fail;
	if (!role) {
		snprintf(err, errlen,
		    "role= is missing (admin, reader or tenant:NAME)");
		goto fail;
	}
	if (!strcmp(role, "admin")) {
		ls->role = ROLE_ADMIN;
	} else if (!strcmp(role, "reader")) {
		ls->role = ROLE_READER;
	} else if (!strncmp(role, "tenant:", 7)) {
		ls->role = ROLE_TENANT;
		ls->tenant = tenants_find(b->tenants, b->ntenants, role + 7);
		if (!ls->tenant) {
			snprintf(err, errlen,
			    "role=%s: no tenant '%s' in --tenants%s", role,
			    role + 7, b->o.tenants_file ? "" : " (none given)");
			goto fail;
		}
	} else {
		snprintf(err, errlen,
		    "role=%s: admin, reader or tenant:NAME (a gateway "
		    "vouches for users: local connections only)",
		    role);
		goto fail;
	}
	snprintf(ls->role_name, sizeof(ls->role_name), "%s", role);
	if ((r = nng_tls_config_alloc(&ls->cfg, NNG_TLS_MODE_SERVER))) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(r));
		goto fail;
	}
	if ((r = nng_tls_config_auth_mode(
		 ls->cfg, NNG_TLS_AUTH_MODE_REQUIRED))) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(r));
		goto fail;
	}
	if ((r = nng_tls_config_ca_file(ls->cfg, ca))) {
		snprintf(err, errlen, "ca=%s: not a PEM certificate (%s)", ca,
		    nng_strerror(r));
		goto fail;
	}
	certpem = slurp(cert);
	keypem = slurp(key);
	if (!certpem || !keypem) {
		snprintf(
		    err, errlen, "cert=%s or key=%s: unreadable", cert, key);
		goto fail;
	}
	if ((r = nng_tls_config_own_cert(ls->cfg, certpem, keypem, NULL))) {
		snprintf(err, errlen,
		    "cert=%s, key=%s: not a PEM certificate and its "
		    "unencrypted key (%s)",
		    cert, key, nng_strerror(r));
		goto fail;
	}
	free(certpem);
	free(keypem);
	free(copy);
	ls->b = b;
	ls->idx = nlisteners;
	pthread_mutex_init(&ls->lock, NULL);
	listeners[nlisteners++] = ls;
	return 0;
fail:
	free(certpem);
	free(keypem);
	if (ls->cfg)
		nng_tls_config_free(ls->cfg);
	free(ls);
	free(copy);
	return -EINVAL;
}

/* The whole of len bytes from (or to) k's TLS stream, all of them within
 * timeout_ms (-1: no limit), however the peer trickles them.  0 or an
 * nng error (NNG_ETIMEDOUT; NNG_ECLOSED once the other pump closed it).
 * An operation starts under k->lock only while k is open, and
 * conn_put() marks it closed under that lock before it closes the
 * stream: one started on a stream closed meanwhile could wait for good
 * (nng 1.5.2). */
static int
stream_io(struct tls_conn *k, nng_aio *aio, void *buf, size_t len, bool out,
    int timeout_ms)
{
	int64_t end = timeout_ms < 0 ? 0 : now_ms() + timeout_ms, left = 0;
	nng_iov iov;
	size_t n;
	int r;

	while (len) {
		if (end && (left = end - now_ms()) <= 0)
			return NNG_ETIMEDOUT;
		iov.iov_buf = buf;
		iov.iov_len = len;
		nng_aio_set_iov(aio, 1, &iov);
		nng_aio_set_timeout(
		    aio, end ? (nng_duration)left : NNG_DURATION_INFINITE);
		pthread_mutex_lock(&k->lock);
		if (k->closed) {
			pthread_mutex_unlock(&k->lock);
			return NNG_ECLOSED;
		}
		if (out)
			nng_stream_send(k->s, aio);
		else
			nng_stream_recv(k->s, aio);
		pthread_mutex_unlock(&k->lock);
		nng_aio_wait(aio);
		if ((r = nng_aio_result(aio)))
			return r;
		if (!(n = nng_aio_count(aio)))
			return NNG_ECLOSED;
		buf = (uint8_t *)buf + n;
		len -= n;
	}
	return 0;
}

static int
fd_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (uint8_t *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

static int
fd_write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (const uint8_t *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

/* Either pump ended: end the other too (once); the last frees. */
static void
conn_put(struct tls_conn *k)
{
	bool first;

	pthread_mutex_lock(&k->lock);
	first = !k->closed;
	k->closed = 1;
	pthread_mutex_unlock(&k->lock);
	if (first) {
		nng_stream_close(k->s);
		if (k->fd >= 0)
			shutdown(k->fd, SHUT_RDWR);
	}
	if (__atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL))
		return;
	nng_stream_free(k->s);
	if (k->fd >= 0)
		close(k->fd);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* Broker to client: the SP header as it is, then each 01 + length +
 * body as length + body. */
static void *
pump_down(void *arg)
{
	struct tls_conn *k = arg;
	uint8_t head[9], *buf = NULL;
	nng_aio *aio = NULL;
	uint64_t len;
	size_t n;
	int i;

	pthread_setname_np(pthread_self(), "cub-tls-down");
	if (nng_aio_alloc(&aio, NULL, NULL) || !(buf = malloc(PUMP_CHUNK)) ||
	    fd_read(k->fd, head, 8) ||
	    stream_io(k, aio, head, 8, true, SEND_MS))
		goto out;
	for (;;) {
		if (fd_read(k->fd, head, 9) || head[0] != 1)
			break;
		for (len = 0, i = 1; i < 9; i++)
			len = len << 8 | head[i];
		if (stream_io(k, aio, head + 1, 8, true, SEND_MS))
			break;
		while (len) {
			n = len < PUMP_CHUNK ? (size_t)len : PUMP_CHUNK;
			if (fd_read(k->fd, buf, n) ||
			    stream_io(k, aio, buf, n, true, SEND_MS))
				goto out;
			len -= n;
		}
	}
out:
	free(buf);
	if (aio)
		nng_aio_free(aio);
	conn_put(k);
	return NULL;
}

/* Client to broker, after the header: length + body as 01 + length +
 * body.  clients.c checks what comes (the length cap, the deadlines). */
static void
pump_up(struct tls_conn *k, nng_aio *aio)
{
	uint8_t head[9], *buf = malloc(PUMP_CHUNK);
	uint64_t len;
	size_t n;
	int i;

	head[0] = 1;
	while (buf) {
		if (stream_io(k, aio, head + 1, 8, false, -1))
			break;
		if (fd_write(k->fd, head, 9))
			break;
		for (len = 0, i = 1; i < 9; i++)
			len = len << 8 | head[i];
		while (len) {
			n = len < PUMP_CHUNK ? (size_t)len : PUMP_CHUNK;
			if (stream_io(k, aio, buf, n, false, -1) ||
			    fd_write(k->fd, buf, n))
				goto out;
			len -= n;
		}
	}
out:
	free(buf);
}

/* k is past its handshake (or gone): off the pending list. */
static void
pending_done(struct tls_listener *ls, struct tls_conn *k)
{
	unsigned i;

	pthread_mutex_lock(&ls->lock);
	for (i = 0; i < ls->npending && ls->pending[i] != k; i++)
		;
	if (i < ls->npending) {
		memmove(&ls->pending[i], &ls->pending[i + 1],
		    (ls->npending - i - 1) * sizeof(ls->pending[0]));
		ls->npending--;
	}
	pthread_mutex_unlock(&ls->lock);
}

/*
 * Under ls->lock: room for k among the pending.  Past TLS_PENDING_PEER
 * of its address, that address's oldest gives way; past
 * TLS_PENDING_MAX, the oldest of the address holding the most.  The one
 * evicted is closed: its thread's read fails, and it goes.  Neither a
 * newcomer nor any other address is locked out by silent connections
 * (a good client's handshake takes milliseconds; a silent one would
 * have held its place for HELLO_MS).
 */
static struct tls_conn *
pending_add(struct tls_listener *ls, struct tls_conn *k)
{
	struct tls_conn *v = NULL;
	unsigned i, j, n, most = 0, same = 0;

	for (i = 0; i < ls->npending; i++)
		same += ls->pending[i]->key == k->key;
	if (same >= TLS_PENDING_PEER) {
		for (i = 0; ls->pending[i]->key != k->key; i++)
			;
		v = ls->pending[i];
	} else if (ls->npending >= TLS_PENDING_MAX) {
		for (i = 0; i < ls->npending; i++) {
			for (n = 0, j = 0; j < ls->npending; j++)
				n += ls->pending[j]->key == ls->pending[i]->key;
			if (n > most) {
				most = n;
				v = ls->pending[i];
			}
		}
	}
	if (v) {
		for (i = 0; ls->pending[i] != v; i++)
			;
		memmove(&ls->pending[i], &ls->pending[i + 1],
		    (ls->npending - i - 1) * sizeof(ls->pending[0]));
		ls->npending--;
		v->evicted = true;
		pthread_mutex_lock(&v->lock);
		v->closed = 1; /* its thread's conn_put() closes nothing */
		pthread_mutex_unlock(&v->lock);
		nng_stream_close(v->s);
	}
	ls->pending[ls->npending++] = k;
	return v;
}

/* One connection: the handshake and the SP header within HELLO_MS, then
 * a local connection of the listener's role. */
static void *
conn_run(void *arg)
{
	struct tls_conn *k = arg;
	struct tls_listener *ls = k->ls;
	uint8_t hello[8];
	nng_aio *aio = NULL;
	pthread_t down;
	bool verified = false;
	int sv[2], r;
	uint64_t n;

	/* Named: the test counts them, an operator sees them in ps. */
	pthread_setname_np(pthread_self(), "cub-tls-up");
	if ((r = nng_aio_alloc(&aio, NULL, NULL)))
		goto refused;
	/* The first read drives the handshake: a client that has no
	 * certificate the CA signed fails it here (nng's own threads run
	 * it; only this one waits). */
	if ((r = stream_io(k, aio, hello, 8, false, HELLO_MS)))
		goto refused;
	if ((r = nng_stream_get_bool(k->s, NNG_OPT_TLS_VERIFIED, &verified)) ||
	    !verified) {
		r = r ? r : NNG_EPEERAUTH;
		goto refused;
	}
	pending_done(ls, k);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		log_errno(
		    -errno, "TLS connection from %s: socketpair", k->peer);
		nng_aio_free(aio);
		conn_put(k);
		return NULL;
	}
	k->fd = sv[1];
	/* Our header goes first, as the client sent it: clients.c reads it
	 * as soon as it has the connection. */
	if (fd_write(k->fd, hello, 8)) {
		close(sv[0]);
		nng_aio_free(aio);
		conn_put(k);
		return NULL;
	}
	if (clients_adopt(ls->b, sv[0], k->key, CUB_TLS_UID_BASE + ls->idx,
		ls->role, ls->tenant)) {
		nng_aio_free(aio);
		conn_put(k);
		return NULL;
	}
	__atomic_add_fetch(&ls->accepted, 1, __ATOMIC_RELAXED);
	log_debug("TLS connection from %s on %s: verified, role %s", k->peer,
	    ls->url, ls->role_name);
	k->refs = 2;
	if (pthread_create(&down, NULL, pump_down, k)) {
		k->refs = 1;
		nng_aio_free(aio);
		conn_put(k);
		return NULL;
	}
	pthread_detach(down);
	pump_up(k, aio);
	nng_aio_free(aio);
	conn_put(k);
	return NULL;
refused:
	pending_done(ls, k);
	if (k->evicted) {
		n = __atomic_add_fetch(&ls->evicted, 1, __ATOMIC_RELAXED);
		if (log_due(n))
			log_warn("TLS connection from %s on %s closed before "
				 "its handshake ended, to make room: %d "
				 "waiting from its address or %d in all at "
				 "most (%" PRIu64 " closed so far)",
			    k->peer, ls->url, TLS_PENDING_PEER, TLS_PENDING_MAX,
			    n);
		goto out;
	}
	n = __atomic_add_fetch(&ls->failed, 1, __ATOMIC_RELAXED);
	if (n <= 16 || log_due(n))
		log_warn("TLS connection from %s on %s (role %s) refused: "
			 "%s (%s; %" PRIu64 " refused so far)",
		    k->peer, ls->url, ls->role_name,
		    r == NNG_ETIMEDOUT
			? "no TLS handshake and SP header within 10 s"
		    : r == NNG_EPEERAUTH
			? "its certificate was not verified by the CA"
			: "the TLS handshake failed (no client "
			  "certificate, one another CA signed, the client "
			  "refused ours, or not TLS)",
		    nng_strerror(r), n);
out:
	if (aio)
		nng_aio_free(aio);
	conn_put(k);
	return NULL;
}

static void
peer_name(nng_stream *s, char *buf, size_t len, uint64_t *key)
{
	nng_sockaddr sa;
	char a[INET6_ADDRSTRLEN];
	uint64_t h = 1469598103934665603ULL;
	unsigned i;

	snprintf(buf, len, "?");
	*key = 1ULL << 63;
	if (nng_stream_get_addr(s, NNG_OPT_REMADDR, &sa))
		return;
	if (sa.s_family == NNG_AF_INET) {
		inet_ntop(AF_INET, &sa.s_in.sa_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sa.s_in.sa_port));
		*key |= ntohl(sa.s_in.sa_addr);
	} else if (sa.s_family == NNG_AF_INET6) {
		inet_ntop(AF_INET6, sa.s_in6.sa_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sa.s_in6.sa_port));
		for (i = 0; i < 16; i++)
			h = (h ^ sa.s_in6.sa_addr[i]) * 1099511628211ULL;
		*key |= h >> 1;
	}
}

/* nng's thread: a TCP connection came; its handshake has not run yet. */
static void
accept_cb(void *arg)
{
	struct tls_listener *ls = arg;
	struct tls_conn *k;
	nng_stream *s;
	pthread_t t;
	uint64_t n;
	int r;

	if (ls->pausing) {
		/* The pause after a failed accept is over. */
		ls->pausing = false;
		goto again;
	}
	if ((r = nng_aio_result(ls->aio))) {
		if (r == NNG_ECLOSED || r == NNG_ECANCELED || ls->closing)
			return;
		n = ++ls->accept_failed;
		if (log_due(n))
			log_warn("TLS listener %s: accept: %s (%" PRIu64
				 " so far); accepting again in %d ms",
			    ls->url, nng_strerror(r), n, ACCEPT_PAUSE_MS);
		/* Out of fds, say: not a spin. */
		ls->pausing = true;
		nng_sleep_aio(ACCEPT_PAUSE_MS, ls->aio);
		return;
	}
	s = nng_aio_get_output(ls->aio, 0);
	if (!(k = calloc(1, sizeof(*k)))) {
		nng_stream_close(s);
		nng_stream_free(s);
		goto again;
	}
	k->ls = ls;
	k->s = s;
	k->fd = -1;
	k->refs = 1;
	pthread_mutex_init(&k->lock, NULL);
	peer_name(s, k->peer, sizeof(k->peer), &k->key);
	pthread_mutex_lock(&ls->lock);
	pending_add(ls, k);
	pthread_mutex_unlock(&ls->lock);
	if (pthread_create(&t, NULL, conn_run, k)) {
		pending_done(ls, k);
		nng_stream_close(s);
		nng_stream_free(s);
		pthread_mutex_destroy(&k->lock);
		free(k);
		goto again;
	}
	pthread_detach(t);
again:
	if (!ls->closing)
		nng_stream_listener_accept(ls->l, ls->aio);
}

int
tls_start(struct broker *b)
{
	struct tls_listener *ls;
	unsigned i;
	int r, port;

	(void)b;
	for (i = 0; i < nlisteners; i++) {
		ls = listeners[i];
		if ((r = nng_stream_listener_alloc(&ls->l, ls->url)) ||
		    (r = nng_stream_listener_set_ptr(
			 ls->l, NNG_OPT_TLS_CONFIG, ls->cfg)) ||
		    (r = nng_stream_listener_listen(ls->l))) {
			log_err(
			    "--listen-tls %s: %s", ls->url, nng_strerror(r));
			return -1;
		}
		if ((r = nng_aio_alloc(&ls->aio, accept_cb, ls))) {
			log_err(
			    "--listen-tls %s: %s", ls->url, nng_strerror(r));
			return -1;
		}
		if (nng_stream_listener_get_int(
			ls->l, NNG_OPT_TCP_BOUND_PORT, &port))
			port = -1;
		log_info("listening on %s (bound port %d), role %s, client "
			 "certificates verified",
		    ls->url, port, ls->role_name);
		nng_stream_listener_accept(ls->l, ls->aio);
	}
	return 0;
}

void
tls_stop(void)
{
	struct tls_listener *ls;
	unsigned i;

	for (i = 0; i < nlisteners; i++) {
		ls = listeners[i];
		ls->closing = true;
		if (ls->l)
			nng_stream_listener_close(ls->l);
		if (ls->aio) {
			nng_aio_stop(ls->aio);
			nng_aio_free(ls->aio);
		}
		if (ls->l)
			nng_stream_listener_free(ls->l);
		/* Pumps still running hold ls: it stays (the process is
		 * going away). */
	}
}
