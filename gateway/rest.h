/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The gateway's REST mapping (rest.c): an HTTP verb on a path under
 * /polycube/v1/ becomes the broker request the CLI would send (words,
 * args, body), a broker error becomes a JSON error with an HTTP status,
 * and the services' schemas become an OpenAPI 3.0 document.  Pure
 * functions, no I/O (gateway.c talks to the broker; rest_test.c tests
 * these).  docs/architecture.md, "cubicle-gateway", "REST".
 */
#ifndef GW_REST_H
#define GW_REST_H

#include <stdbool.h>
#include <stddef.h>

#include "cubicle/val.h"

#define GW_REST_PREFIX "/polycube/v1"
#define GW_REST_SEGS_MAX 32  /* path segments */
#define GW_REST_SEG_MAX 256  /* bytes of one segment, decoded */

enum gw_rest_method {
	GW_REST_GET,
	GW_REST_POST,
	GW_REST_PUT,
	GW_REST_PATCH,
	GW_REST_DELETE,
	GW_REST_OTHER,
};

/* A path, split into percent-decoded segments. */
struct gw_rest_path {
	unsigned n;
	char seg[GW_REST_SEGS_MAX][GW_REST_SEG_MAX];
};

/* What to send the broker for one REST request. */
struct gw_rest_call {
	struct cub_val *words; /* owned: array of strings */
	struct cub_val *args;  /* owned map, or NULL */
	struct cub_val *body;  /* owned map, or NULL */
	bool write;            /* mutating (sent as the admin identity) */
	unsigned ok_status;    /* 200, or 201 for a create */
	/* A GET of a leaf: the field of the show's reply to answer. */
	char leaf[GW_REST_SEG_MAX];
};

/*
 * Splits the path of target (the request target, a query and fragment
 * left out) after GW_REST_PREFIX, or the whole path when it is not under
 * it (the same tree without the prefix), into p.  Returns 0, 1 when the
 * path is "/" or not a path, or an HTTP status (400: bad escape or
 * "."/".." segment, 414: too many or too long segments) with msg.
 */
unsigned gw_rest_split(const char *target, size_t len, struct gw_rest_path *p,
    char *msg, size_t msglen);

/* Whether p needs its service's schema (it names a cube: 2+ segments). */
bool gw_rest_needs_schema(const struct gw_rest_path *p);

/*
 * The broker request for method m on p with body (parsed JSON or NULL);
 * schema is the broker's `<service> schema` answer ({base, service})
 * when gw_rest_needs_schema(p).  Returns 0 with *c filled (free it with
 * gw_rest_call_clear()), or an HTTP status with msg (404 no such path,
 * 405 wrong verb (*allow then says which), 400 bad body).
 */
unsigned gw_rest_translate(enum gw_rest_method m, const struct gw_rest_path *p,
    const struct cub_val *schema, const struct cub_val *body,
    struct gw_rest_call *c, const char **allow, char *msg, size_t msglen);
void gw_rest_call_clear(struct gw_rest_call *c);

/* The HTTP status for a broker error code (CUB_E_*). */
unsigned gw_rest_status(int code);

/* {"error": {code, name, message}} as JSON text, malloc'd (NULL: ENOMEM). */
char *gw_rest_error_json(int code, const char *message);

/*
 * The OpenAPI 3.0 document for services, a map service name -> its
 * `<service> schema` answer.  NULL on ENOMEM.
 */
struct cub_val *gw_rest_openapi(const struct cub_val *services);

/*
 * Bearer tokens (--tokens FILE): one per line, "TENANT ROLE SHA256",
 * ROLE reader, tenant (the broker's --tenants names TENANT: every
 * request goes as that tenant) or admin, SHA256 the token's SHA-256 in hex
 * (lower or upper case: `printf %s TOKEN | sha256sum`); empty lines and lines
 * starting with # are skipped.  At most GW_TOKENS_MAX.
 */
#define GW_TOKENS_MAX 1024
#define GW_TENANT_MAX 32 /* CUB_NAME_MAX: the broker takes no longer user */

struct gw_token {
	char tenant[GW_TENANT_MAX + 1];
	bool admin;
	bool as_tenant; /* role tenant: reads and writes as the tenant */
	unsigned char hash[32];
};

/* Parses text (len bytes) into *t (malloc'd) and *n.  Returns 0, or -1
 * with err naming the line and what is wrong. */
int gw_tokens_parse(const char *text, size_t len, struct gw_token **t,
    unsigned *n, char *err, size_t errlen);

/*
 * The token that an Authorization value (authz) presents: "Bearer T"
 * (the scheme in any case), T hashed and compared with every entry in
 * constant time.  NULL when none matches; *why then says why (a static
 * string).
 */
const struct gw_token *gw_tokens_find(const struct gw_token *t, unsigned n,
    const char *authz, const char **why);

#endif
