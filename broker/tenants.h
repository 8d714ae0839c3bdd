/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Tenants (tenants.c): who they are (uids, gids) and the netdevs granted
 * to each, from `cubicled --tenants FILE` (docs/architecture.md,
 * "Tenants").  Parsed once at start; read-only afterwards, so any thread
 * reads it without a lock.
 */
#ifndef CUBICLED_TENANTS_H
#define CUBICLED_TENANTS_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TENANT_NAME_MAX 32    /* as a cube name (CUB_NAME_MAX) */
#define TENANTS_MAX 256       /* tenants in one file */
#define TENANT_IDS_MAX 64     /* uids, and gids, of one tenant */
#define TENANT_NETDEVS_MAX 64 /* netdev patterns of one tenant */
#define TENANTS_FILE_MAX (1u << 20)

/* Quotas (docs "Tenants"): the keys of a tenant's line, in this order. */
enum tenant_quota {
	TQ_CUBES,     /* cubes=N: its cubes */
	TQ_PORTS,     /* ports=N: ports over its cubes */
	TQ_PROGRAMS,  /* programs=N: BPF programs its cubes hold */
	TQ_MAP_BYTES, /* map-bytes=N[K|M|G]: kernel memory of their maps */
	TQ_RPS,       /* rps=N: its requests per second (at least 1) */
	TQ_PKTIN_PPS, /* pktin-pps=N: its cubes' slow-path packets a second */
	TQ__MAX
};
#define TENANT_QUOTA_MAX (1ull << 50) /* the largest value a quota takes */

/* "cubes", "ports", ..., "pktin-pps" (the key). */
const char *tenant_quota_name(enum tenant_quota q);

/*
 * A token bucket (rps, pktin-pps): rate a second, a burst of one
 * second's; milli-tokens.  Not locked: one thread takes from it.
 */
struct tenant_bucket {
	uint64_t mtokens;
	int64_t last_ms;
	bool primed;
};
/* Take one token at now_ms (a clock in ms): true, or false (empty). */
bool tenant_bucket_take(struct tenant_bucket *k, uint64_t rate, int64_t now_ms);

struct tenant {
	char name[TENANT_NAME_MAX + 1];
	/* Its quotas; has_quota[q] false: that one is unlimited. */
	uint64_t quota[TQ__MAX];
	bool has_quota[TQ__MAX];
	uint32_t uids[TENANT_IDS_MAX];
	unsigned nuids;
	uint32_t gids[TENANT_IDS_MAX];
	unsigned ngids;
	/* A netdev name, or a prefix (wild set) that ended in '*' or '+'. */
	struct {
		char text[IF_NAMESIZE + 1];
		bool wild;
	} netdevs[TENANT_NETDEVS_MAX];
	unsigned nnetdevs;
};

/*
 * Parse a tenants file's text (len bytes): one tenant a line,
 *   NAME uid=U[,U...] gid=G[,G...] netdevs=PATTERN[,PATTERN...]
 *        [cubes=N] [ports=N] [programs=N] [map-bytes=N[K|M|G]] [rps=N]
 *        [pktin-pps=N]
 * (each key at most once, uid= or gid= at least; '#' starts a comment
 * line).  0 with *out (calloc'd, the caller frees) and *n, or -EINVAL
 * with "line N: what is wrong" in err.
 */
int tenants_parse(const char *text, size_t len, struct tenant **out,
    unsigned *n, char *err, size_t errlen);
/* Read and parse path (at most TENANTS_FILE_MAX bytes): as above, the
 * file named in err; -errno when it cannot be read. */
int tenants_load(const char *path, struct tenant **out, unsigned *n, char *err,
    size_t errlen);
/*
 * The tenant a peer is: the one listing its uid, else the one listing
 * its primary gid or one of its groups.  NULL: none; *ambiguous when its
 * groups name two tenants (and no uid decides).
 */
const struct tenant *tenants_of_peer(const struct tenant *t, unsigned n,
    uint32_t uid, uint32_t gid, const uint32_t *groups, unsigned ngroups,
    bool *ambiguous);
const struct tenant *tenants_find(
    const struct tenant *t, unsigned n, const char *name);
/* Is the netdev ifname granted to t? */
bool tenant_netdev_ok(const struct tenant *t, const char *ifname);

#endif
