/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The client API: what the CLI, automation and tests use to talk to
 * cubicled over nng REQ/REP.
 */
#ifndef CUBICLE_CLIENT_H
#define CUBICLE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "cubicle/val.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cub_client;

struct cub_client_opts {
	size_t sz;
	const char *socket_dir; /* NULL: $CUBICLE_SOCKET_DIR or /run/cubicle */
	int timeout_ms;         /* per call; 0 = 10000 */
	/* Remote brokers (cubicled --listen-tls): the URL to dial instead of
	 * the socket dir's ipc:// (NULL: $CUBICLE_CONNECT unless socket_dir
	 * is set, else local); for
	 * tls+tcp:// the CA that signed the broker's certificate and this
	 * client's certificate and key, PEM files (NULL: $CUBICLE_TLS_CA,
	 * $CUBICLE_TLS_CERT, $CUBICLE_TLS_KEY).  All three are required:
	 * the broker verifies the client's certificate, the client the
	 * broker's. */
	const char *url;
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	size_t : 0;
};

#define CUB_OPTS(TYPE, NAME, ...)                                              \
	struct TYPE NAME = ({                                                  \
		struct TYPE ___##NAME = {                                      \
		    .sz = sizeof(struct TYPE), __VA_ARGS__};                   \
		___##NAME;                                                     \
	})

#define CUB_DEFAULT_SOCKET_DIR "/run/cubicle"

/**
 * @brief **cub_client__open()** connects to the broker.
 * @return a client, or NULL with errno set (EINVAL for bad opts or a
 * tls+tcp:// URL without its three files, ENOENT/EACCES for a file that
 * cannot be read, EPROTO when the TLS handshake failed: the broker
 * refused this client's certificate or the client the broker's).
 * cub_client__last_error() says which in words.
 */
struct cub_client *cub_client__open(const struct cub_client_opts *opts);
struct cub_client *cub_client__close(struct cub_client *c);

/**
 * @brief **cub_client__last_error()**: what the last failed
 * cub_client__open() or cub_events__open() of this thread could not do,
 * in words ("" if nothing is known beyond errno).
 */
const char *cub_client__last_error(void);

/**
 * @brief **cub_client__call()** sends one request and waits for the answer.
 * @param params taken (freed) by the call.
 * @return 0 with *result set, or a negative errno: -ECONNREFUSED /
 * -ETIMEDOUT when the broker is unreachable (no error map), -EREMOTEIO when
 * the broker answered with an error (then *errv holds {code,name,message}),
 * or when it closed the connection without answering (an error with code
 * CUB_E_LIMIT: it was at its cap of client connections).
 */
int cub_client__call(struct cub_client *c, const char *method,
    struct cub_val *params, struct cub_val **result, struct cub_val **errv);

/**
 * @brief **cub_client__set_timeout()** changes the per-call timeout (what
 * opts->timeout_ms set) for the calls that follow, e.g. to fit a caller's
 * overall deadline.  Not thread-safe with a call in progress on c.
 * @return 0, or -EINVAL when timeout_ms < 1.
 */
int cub_client__set_timeout(struct cub_client *c, int timeout_ms);

/*
 * Events: a SUB socket on the broker's events.sock.  Each event is a name
 * ("cube.created", "port.up", ...) and a params map.
 */
struct cub_events;

struct cub_events *cub_events__open(const struct cub_client_opts *opts);
struct cub_events *cub_events__close(struct cub_events *e);
/*
 * Wait up to timeout_ms (-1 = forever) for the next event.  0 with *name
 * (malloc'd) and *params set, -ETIMEDOUT, or another negative errno.
 */
int cub_events__recv(
    struct cub_events *e, int timeout_ms, char **name, struct cub_val **params);

/* Fresh random request id ("r-" + 32 hex chars) in buf (>= 40 bytes). */
void cub_client__new_rid(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
