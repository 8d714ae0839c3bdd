/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Swap sets: maps a cube's worker rewrites as a whole and the data plane
 * sees change at once (docs/architecture.md, "Atomic map transactions";
 * the worker's side is cub_swap__*() in cubicle/plugin.h).
 *
 * A set S is an index map, cub_sw_S (the copy to read; written by the
 * broker only), and 1 to 8 members S__<name>, each an ARRAY_OF_MAPS of N
 * copies (2 to 8, the same N for all) statically filled with maps of the
 * object:
 *
 *	struct rule_map {
 *		__uint(type, BPF_MAP_TYPE_HASH);
 *		__type(key, __u32);
 *		__type(value, struct rule);
 *		__uint(max_entries, 1024);
 *	} rules0 SEC(".maps"), rules1 SEC(".maps"), rules2 SEC(".maps");
 *	CUB_SWAP_SET(acl);
 *	CUB_SWAP_MEMBER(acl, rules, struct rule_map, 3) = {
 *	    .values = {&rules0, &rules1, &rules2}};
 *
 * A program takes the copy once per packet and looks every member up in
 * it: a packet then sees one copy of the whole set, old or new, never a
 * mixture, because the broker reuses a copy only after a grace period
 * that began after it stopped being active.
 *
 *	__u32 copy = cub_swap_copy(&cub_sw_acl);
 *	void *rules = cub_swap_member(&acl__rules, copy);
 *
 *	if (!rules)
 *		return cub_drop(hook);
 *	r = bpf_map_lookup_elem(rules, &key);
 *
 * Set names: 1 to SWAP_SET_MAX (8) lowercase letters and digits; the
 * member maps' full names (S__<name>) fit 15 characters.  Include after
 * cube.bpf.h.
 */
#ifndef CUBICLE_SWAP_BPF_H
#define CUBICLE_SWAP_BPF_H

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

/* The set's index map: the copy programs read (the broker's). */
#define CUB_SWAP_SET(set)                                                      \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__type(key, __u32);                                            \
		__type(value, __u32);                                          \
		__uint(max_entries, 1);                                        \
		__uint(map_flags, BPF_F_RDONLY_PROG);                          \
	} cub_sw_##set SEC(".maps")

/* A member: ncopies maps of type inner; initialise .values = {...}. */
#define CUB_SWAP_MEMBER(set, name, inner, ncopies)                             \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);                      \
		__uint(max_entries, ncopies);                                  \
		__type(key, __u32);                                            \
		__array(values, inner);                                        \
	} set##__##name SEC(".maps")

/* The copy to read for this packet: read once, use for every member. */
static __always_inline __u32
cub_swap_copy(void *index)
{
	const __u32 *copy = bpf_map_lookup_elem(index, &cub_zero_key);

	return copy ? *(const volatile __u32 *)copy : 0;
}

/* Copy copy of a member (an inner map), or NULL. */
static __always_inline void *
cub_swap_member(void *member, __u32 copy)
{
	return bpf_map_lookup_elem(member, &copy);
}

#endif /* CUBICLE_SWAP_BPF_H */
