// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil's attempts to send packets where no cube port leads (issue 7
 * defect 3):
 *   cubicle e1 debug egress object=OBJ ifindex=N
 * loads a program that calls bpf_redirect (redirect), bpf_clone_redirect
 * (clone-redirect), bpf_redirect_peer (redirect-peer), bpf_redirect_neigh
 * (redirect-neigh), bpf_redirect_map on a DEVMAP of its own
 * (redirect-map) or bpf_fib_lookup (fib-lookup) towards ifindex N, or one
 * that re-points its port 1 at N in cub_ports and forwards there through
 * the broker's egress program (ports-write; ports-flags declares cub_ports
 * writable), or (redirect-sub, review 10) bpf_redirect called from a
 * subprogram, or (redirect-dup) by the first of two programs of the
 * hook's name.  Every one must be refused; the answer names what loaded.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/errors.h"
#include "cubicle/plugin.h"

#include "evil_clone.skel.h"
#include "evil_dup.skel.h"
#include "evil_egress.h"
#include "evil_fib.skel.h"
#include "evil_hopleak.skel.h"
#include "evil_neigh.skel.h"
#include "evil_peer.skel.h"
#include "evil_portsf.skel.h"
#include "evil_portsw.skel.h"
#include "evil_redir.skel.h"
#include "evil_redirsub.skel.h"
#include "evil_rmap.skel.h"

static const char *const evil_egress_objects[] = {"redirect", "clone-redirect",
    "redirect-peer", "redirect-neigh", "redirect-map", "fib-lookup",
    "ports-write", "ports-flags", "redirect-sub", "redirect-dup", "hop-leak", NULL};

const struct cub_field evil_egress_args[] = {
    {.name = "object",
	.type = CUB_T_ENUM,
	.flags = CUB_F_REQUIRED,
	.enums = evil_egress_objects,
	.help = "the hostile object (see evil_egress.c)"},
    {.name = "ifindex",
	.type = CUB_T_U32,
	.flags = CUB_F_REQUIRED,
	.help = "the netdev to send packets to"},
    {0},
};

static const void *
elf_of(const char *what, size_t *len)
{
	if (!strcmp(what, "redirect"))
		return evil_redir__elf_bytes(len);
	if (!strcmp(what, "clone-redirect"))
		return evil_clone__elf_bytes(len);
	if (!strcmp(what, "redirect-peer"))
		return evil_peer__elf_bytes(len);
	if (!strcmp(what, "redirect-neigh"))
		return evil_neigh__elf_bytes(len);
	if (!strcmp(what, "redirect-map"))
		return evil_rmap__elf_bytes(len);
	if (!strcmp(what, "fib-lookup"))
		return evil_fib__elf_bytes(len);
	if (!strcmp(what, "ports-write"))
		return evil_portsw__elf_bytes(len);
	if (!strcmp(what, "redirect-dup"))
		return evil_dup__elf_bytes(len);
	if (!strcmp(what, "redirect-sub"))
		return evil_redirsub__elf_bytes(len);
	if (!strcmp(what, "ports-flags"))
		return evil_portsf__elf_bytes(len);
	/* Review 19: "ifindex" is the port the key leaks out of. */
	if (!strcmp(what, "hop-leak"))
		return evil_hopleak__elf_bytes(len);
	return NULL;
}

int
evil_egress(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result)
{
	const char *what = cub_val__get_str(args, "object");
	uint32_t magic = EVIL_IFINDEX_MAGIC, target;
	uint64_t ifindex = 0;
	const void *orig;
	uint8_t *elf, *p;
	int patched = 0, r;
	size_t len;

	cub_val__as_u64(cub_val__get(args, "ifindex"), &ifindex);
	orig = what ? elf_of(what, &len) : NULL;
	if (!orig)
		return cub_cube__set_error(cube, CUB_E_INVAL, "object=");
	elf = malloc(len);
	if (!elf)
		return -ENOMEM;
	memcpy(elf, orig, len);
	target = (uint32_t)ifindex;
	for (p = elf; (p = memmem(p, len - (size_t)(p - elf), &magic, 4));
	     p += 4) {
		memcpy(p, &target, 4);
		patched++;
	}
	if (!patched) {
		free(elf);
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "object '%s' has no ifindex to patch", what);
	}
	r = cub_cube__load(cube, elf, len);
	free(elf);
	if (r)
		return -EPERM; /* the broker's refusal is the error */
	return cub_cube__set_error(cube, CUB_E_INTERNAL,
	    "the broker loaded the '%s' object (ifindex %u)", what, target);
}
