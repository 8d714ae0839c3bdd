/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Error codes carried on the wire as {code, name, message}.  Codes and names
 * are stable: a value is never reused or renumbered.  The table lives in
 * sdk/src/errors.c.
 */
#ifndef CUBICLE_ERRORS_H
#define CUBICLE_ERRORS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cub_val;

enum cub_err {
	CUB_E_OK = 0,
	CUB_E_BADMSG = 1,    /* malformed message or framing */
	CUB_E_TOOBIG = 2,    /* message, string or nesting over a cap */
	CUB_E_NOMETHOD = 3,  /* unknown RPC method */
	CUB_E_NOTFOUND = 4,  /* path, cube, port or key does not exist */
	CUB_E_EXISTS = 5,    /* name already taken */
	CUB_E_INVAL = 6,     /* a value is not acceptable */
	CUB_E_TYPE = 7,      /* a value has the wrong type */
	CUB_E_MISSING = 8,   /* a required field or key is absent */
	CUB_E_NODEV = 9,     /* netdev does not exist */
	CUB_E_PERM = 10,     /* sender may not do this */
	CUB_E_BUSY = 11,     /* resource in use */
	CUB_E_UNAVAIL = 12,  /* service worker not running */
	CUB_E_KERNEL = 13,   /* the kernel refused an operation */
	CUB_E_REFUSED = 14,  /* BPF object refused by policy */
	CUB_E_INTERNAL = 15, /* a bug in Cubicle */
	CUB_E_LIMIT = 16,    /* a quota or hard cap was reached */
	CUB_E_TIMEOUT = 17,  /* peer did not answer in time */
	CUB_E_VERB = 18,     /* unknown verb or action at this path */
	CUB_E_RO = 19,       /* field is read-only or init-only */
	CUB_E_QUOTA = 20,    /* a tenant's quota (--tenants) was reached */
	CUB_E__MAX
};

/* Stable name ("not-found"), or "unknown" for an unknown code. */
const char *cub_err_name(int code);
/* Code for a name, or -1. */
int cub_err_from_name(const char *name);
/* Best code for a negative or positive errno value. */
int cub_err_from_errno(int err);
/* Build {code, name, message}; NULL on ENOMEM. */
struct cub_val *cub_err_val(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct cub_val *cub_err_valv(int code, const char *fmt, va_list ap);
/*
 * Read an error map back.  Returns the code (or CUB_E_BADMSG when err is
 * not a well-formed error map) and points *msg at its message.
 */
int cub_err_parse(const struct cub_val *err, const char **msg);

#ifdef __cplusplus
}
#endif
#endif
