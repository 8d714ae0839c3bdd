/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's rewriter: one path's BCC-dialect (or plain libbpf) source to
 * the C unit cubicle-dynmon-cc compiles (docs/architecture.md, "dynmon",
 * "Rewriter and compile helper"; the object's layout: the dynmon
 * contract, section 2).  Pure: no I/O, no global state.
 */
#ifndef DYNMON_REWRITE_H
#define DYNMON_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#define DM_NAME_MAX 13 /* a user map's name kept whole in its object's */
#define DM_USER_NAME_MAX 63 /* a user map's name */
#define DM_OBJ_NAME_MAX 15  /* an object map's name */
/* The BTF declaration tag naming a user map (catalog.h's, same string). */
#define DM_MAP_TAG "dm_map:"
#define DM_SWAP_SETS 8 /* swap-on-read maps in one path */
#define DM_SWAP_COPIES 2

struct dm_rw_opts {
	char path;		  /* 'i' (ingress) or 'e' (egress) */
	bool xdp;		  /* compile for struct xdp_md (ingress of XDP) */
	const char *const *swap;  /* the path's swap-on-read map names */
	size_t nswap;
};

/*
 * Rewrite @code (@len bytes, need not be NUL-terminated) into a complete
 * unit: prelude include, #line 1 "<path>", the user's code rewritten line
 * for line, the path's entry function.  On success *@out (malloc'ed,
 * NUL-terminated) and 0; on a refusal -EINVAL and a message in @err
 * starting "line N: " (the user's line); -ENOMEM.
 */
int dm_rewrite(const char *code, size_t len, const struct dm_rw_opts *o,
    char **out, char *err, size_t errlen);

/*
 * The object's name of user map @user of path @path ('i' or 'e'), into
 * @out (DM_OBJ_NAME_MAX + 1 bytes): "i_NAME" for names of up to
 * DM_NAME_MAX characters (the contract, section 2); for longer ones
 * (Polycube's own examples have NTP_PACKETS_COUNTER) "i_" + the first 9
 * characters + 4 hex digits of a hash of the whole name, 15 characters:
 * the kernel's and the broker's limit.  The decoder and the plugin find a
 * metric-config's map-name with this function.
 */
void dm_map_objname(char path, const char *user, char *out);

/* The default code of an empty path: pass everything. */
extern const char dm_default_code[];

#endif /* DYNMON_REWRITE_H */
