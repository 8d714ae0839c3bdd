// SPDX-License-Identifier: BSD-2-Clause
/* The client API: one REQ socket to cubicled, synchronous calls. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "call.h"
#include "cubicle/client.h"
#include "cubicle/errors.h"

struct cub_client {
	nng_socket sock;
	uint32_t msgid;
	int timeout_ms;
	unsigned closed; /* connections that ended (nng's threads count) */
};

/* A connection to the broker ended: closed by it, or by us. */
static void
client_pipe_closed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct cub_client *c = arg;

	(void)p;
	(void)ev;
	__atomic_add_fetch(&c->closed, 1, __ATOMIC_RELAXED);
}

static __thread char last_error[512];

const char *
cub_client__last_error(void)
{
	return last_error;
}

static void __attribute__((format(printf, 1, 2)))
set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

/* A field of opts, NULL when the caller's struct predates it. */
#define OPT_STR(opts, f)                                                       \
	((opts) && (opts)->sz >= offsetof(struct cub_client_opts, f) +         \
				     sizeof((opts)->f)                         \
		? (opts)->f                                                    \
		: NULL)

static const char *
opt_or_env(const char *v, const char *env)
{
	if (v && *v)
		return v;
	v = getenv(env);
	return v && *v ? v : NULL;
}

/* The URL to dial: opts->url for a remote broker, else opts->socket_dir's
 * ipc://<dir>/<sock>, else $CUBICLE_CONNECT, else the ipc:// URL of
 * $CUBICLE_SOCKET_DIR or the default. */
static int
sock_url(
    const struct cub_client_opts *opts, const char *sock, char *url, size_t len)
{
	const char *dir = NULL, *remote;

	if (opts && opts->sz < sizeof(size_t))
		return -EINVAL;
	/* opts->url, then an explicit socket dir, then the environment's
	 * remote broker, then its socket dir. */
	remote = OPT_STR(opts, url);
	if ((!remote || !*remote) && !(opts && opts->socket_dir))
		remote = opt_or_env(NULL, "CUBICLE_CONNECT");
	if (remote && *remote) {
		if (snprintf(url, len, "%s", remote) >= (int)len)
			return -ENAMETOOLONG;
		return 0;
	}
	if (opts)
		dir = opts->socket_dir;
	if (!dir)
		dir = getenv("CUBICLE_SOCKET_DIR");
	if (!dir || !*dir)
		dir = CUB_DEFAULT_SOCKET_DIR;
	if (snprintf(url, len, "ipc://%s/%s", dir, sock) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* A PEM file, whole and NUL-terminated (at most 1 MiB), or NULL with
 * errno and last_error set. */
static char *
read_pem(const char *what, const char *path)
{
	char *buf = NULL;
	size_t len = 0, n;
	FILE *f;
	int e;

	if (!(f = fopen(path, "re"))) {
		e = errno;
		set_error("%s '%s': %s", what, path, strerror(e));
		errno = e;
		return NULL;
	}
	if (!(buf = malloc((1u << 20) + 1))) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	while ((n = fread(buf + len, 1, (1u << 20) - len, f)) > 0)
		len += n;
	e = ferror(f) ? EIO : len >= (1u << 20) ? EFBIG : 0;
	fclose(f);
	if (e || !len) {
		set_error("%s '%s': %s", what, path,
		    e == EFBIG ? "over 1 MiB"
		    : e        ? strerror(e)
			       : "empty");
		free(buf);
		errno = e ? e : EINVAL;
		return NULL;
	}
	buf[len] = 0;
	return buf;
}

/* The TLS configuration of a tls+tcp:// dial: the broker's CA, our
 * certificate and key, both sides verified.  0 or -errno (last_error
 * says what). */
static int
tls_config(
    const struct cub_client_opts *opts, const char *url, nng_tls_config **out)
{
	const char *ca = opt_or_env(OPT_STR(opts, tls_ca), "CUBICLE_TLS_CA");
	const char *cert =
	    opt_or_env(OPT_STR(opts, tls_cert), "CUBICLE_TLS_CERT");
	const char *key = opt_or_env(OPT_STR(opts, tls_key), "CUBICLE_TLS_KEY");
	char host[256], *certpem = NULL, *keypem = NULL;
	const char *h = url + strlen("tls+tcp://");
	nng_tls_config *cfg;
	size_t hl;
	int r;

	if (!ca || !cert || !key) {
		set_error("%s needs --tls-ca, --tls-cert and --tls-key (or "
			  "$CUBICLE_TLS_CA, $CUBICLE_TLS_CERT, "
			  "$CUBICLE_TLS_KEY): missing %s",
		    url,
		    !ca     ? "the CA"
		    : !cert ? "the certificate"
			    : "the key");
		return -EINVAL;
	}
	if (access(ca, R_OK)) {
		r = -errno;
		set_error("TLS CA '%s': %s", ca, strerror(-r));
		return r;
	}
	if (!(certpem = read_pem("TLS certificate", cert)) ||
	    !(keypem = read_pem("TLS key", key))) {
		r = -errno;
		free(certpem);
		return r;
	}
	/* The host the broker's certificate must name (its CN). */
	hl = h[0] == '[' ? strcspn(h + 1, "]") : strcspn(h, ":/");
	snprintf(host, sizeof(host), "%.*s", (int)hl, h + (h[0] == '['));
	if ((r = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT))) {
		free(certpem);
		free(keypem);
		return -ENOMEM;
	}
	if ((r = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) ||
	    (r = nng_tls_config_server_name(cfg, host))) {
		set_error("TLS: %s", nng_strerror(r));
	} else if ((r = nng_tls_config_ca_file(cfg, ca))) {
		set_error("TLS CA '%s': not a PEM certificate (%s)", ca,
		    nng_strerror(r));
	} else if ((r = nng_tls_config_own_cert(cfg, certpem, keypem, NULL))) {
		set_error("TLS certificate '%s' with key '%s': %s (not PEM, "
			  "or the key is not the certificate's)",
		    cert, key, nng_strerror(r));
	}
	free(certpem);
	free(keypem);
	if (r) {
		nng_tls_config_free(cfg);
		return -EINVAL;
	}
	*out = cfg;
	return 0;
}

/* Dial url on s, with TLS for tls+tcp://.  0 or -errno. */
static int
dial(nng_socket s, const struct cub_client_opts *opts, const char *url)
{
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	int r;

	last_error[0] = 0;
	if (strncmp(url, "tls+tcp://", 10)) {
		if (!(r = nng_dial(s, url, NULL, 0)))
			return 0;
		if (!strncmp(url, "tcp://", 6))
			set_error("%s: %s (cubicled serves remote clients "
				  "over TLS only: tls+tcp://)",
			    url, nng_strerror(r));
		return cubi_nng_errno(r);
	}
	if ((r = tls_config(opts, url, &cfg)))
		return r;
	if ((r = nng_dialer_create(&d, s, url))) {
		nng_tls_config_free(cfg);
		set_error("%s: %s", url, nng_strerror(r));
		return -EINVAL;
	}
	r = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg); /* the dialer holds it */
	if (!r)
		r = nng_dialer_start(d, 0);
	if (!r)
		return 0;
	nng_dialer_close(d);
	switch (r) {
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO:
	case NNG_ECONNSHUT:
	case NNG_ECLOSED:
	case NNG_ECONNRESET:
		set_error("%s: TLS handshake failed (%s): the broker did not "
			  "accept this client's certificate, or this client "
			  "the broker's",
		    url, nng_strerror(r));
		return -EPROTO;
	default:
		set_error("%s: %s", url, nng_strerror(r));
		return cubi_nng_errno(r);
	}
}

struct cub_client *
cub_client__open(const struct cub_client_opts *opts)
{
	char url[PATH_MAX + 32];
	struct cub_client *c;
	int r;

	if ((r = sock_url(opts, CUB_SOCK_CLIENT, url, sizeof(url)))) {
		errno = -r;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
	if ((r = nng_req0_open(&c->sock))) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, c->timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, c->timeout_ms);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CUB_MSG_MAX);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, client_pipe_closed, c);
	if ((r = dial(c->sock, opts, url))) {
		nng_close(c->sock);
		free(c);
		errno = -r;
		return NULL;
	}
	return c;
}

struct cub_client *
cub_client__close(struct cub_client *c)
{
	if (!c)
		return NULL;
	nng_close(c->sock);
	free(c);
	return NULL;
}

int
cub_client__set_timeout(struct cub_client *c, int timeout_ms)
{
	if (!c || timeout_ms < 1)
		return -EINVAL;
	c->timeout_ms = timeout_ms;
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	return 0;
}

int
cub_client__call(struct cub_client *c, const char *method,
    struct cub_val *params, struct cub_val **result, struct cub_val **errv)
{
	unsigned before = __atomic_load_n(&c->closed, __ATOMIC_RELAXED), n;
	int nngr, r;

	r = cubi_call(c->sock, ++c->msgid, method, params, result, errv, &nngr);
	if (r == -ETIMEDOUT || r == -EPIPE) {
		/* No answer, and the broker closed our connections: it is
		 * at its cap of client connections (or going away). */
		n = __atomic_load_n(&c->closed, __ATOMIC_RELAXED) - before;
		if (n) {
			*errv = cub_err_val(CUB_E_LIMIT,
			    "the broker closed the connection %u time%s "
			    "without answering: too many client connections "
			    "(cubicled --max-clients), or it is stopping",
			    n, n == 1 ? "" : "s");
			r = -EREMOTEIO;
		}
	}
	return r;
}

struct cub_events {
	nng_socket sock;
};

struct cub_events *
cub_events__open(const struct cub_client_opts *opts)
{
	char url[PATH_MAX + 32];
	struct cub_events *e;
	int r;

	if ((r = sock_url(opts, CUB_SOCK_EVENTS, url, sizeof(url)))) {
		errno = -r;
		return NULL;
	}
	if (strncmp(url, "ipc://", 6)) {
		/* --listen-tls serves requests only. */
		set_error("%s: events are served on the local events socket "
			  "only, not over a remote connection",
		    url);
		errno = EPROTONOSUPPORT;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if ((r = nng_sub0_open(&e->sock)) ||
	    (r = nng_socket_set(e->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) ||
	    (r = nng_socket_set_size(
		 e->sock, NNG_OPT_RECVMAXSZ, CUB_MSG_MAX)) ||
	    (r = dial(e->sock, opts, url))) {
		nng_close(e->sock);
		free(e);
		errno = r < 0 ? -r : -cubi_nng_errno(r);
		return NULL;
	}
	return e;
}

struct cub_events *
cub_events__close(struct cub_events *e)
{
	if (e) {
		nng_close(e->sock);
		free(e);
	}
	return NULL;
}

int
cub_events__recv(
    struct cub_events *e, int timeout_ms, char **name, struct cub_val **params)
{
	struct cub_rpc rpc = {0};
	char err[256];
	nng_msg *msg;
	const char *body;
	size_t len, tlen;
	int r;

	*name = NULL;
	*params = NULL;
	nng_socket_set_ms(e->sock, NNG_OPT_RECVTIMEO,
	    timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
	if ((r = nng_recvmsg(e->sock, &msg, 0)))
		return cubi_nng_errno(r);
	body = nng_msg_body(msg);
	len = nng_msg_len(msg);
	/* Topic (event name) and a NUL, then a notification frame. */
	tlen = strnlen(body, len);
	r = -EBADMSG;
	if (tlen < len &&
	    !cub_rpc__decode(
		body + tlen + 1, len - tlen - 1, &rpc, err, sizeof(err)) &&
	    rpc.type == CUB_RPC_NOTIFY && !strcmp(rpc.method, body)) {
		*name = rpc.method;
		*params = rpc.params;
		rpc.method = NULL;
		rpc.params = NULL;
		r = 0;
	}
	cub_rpc__clear(&rpc);
	nng_msg_free(msg);
	return r;
}

void
cub_client__new_rid(char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[16];
	size_t i;

	if (len < 35) {
		if (len)
			buf[0] = '\0';
		return;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (uint8_t)random();
	buf[0] = 'r';
	buf[1] = '-';
	for (i = 0; i < sizeof(rnd); i++) {
		buf[2 + 2 * i] = hex[rnd[i] >> 4];
		buf[3 + 2 * i] = hex[rnd[i] & 15];
	}
	buf[34] = '\0';
}
