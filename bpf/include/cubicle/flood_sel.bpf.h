/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A flood to some of the cube's ports (cube_shared.h, struct
 * cub_flood_sel): the cube names the ports by index in its own per-CPU
 * cub_flood_sel, and the broker's egress program sends a copy out of each
 * of them that is in the cube's flood set (the broker's: the ifindexes
 * stay its own), with the 802.1Q tag each asks for (TC).  Include after
 * <cubicle/cube.bpf.h>, in the cubes that use it only.
 *
 *	struct cub_flood_sel *f = cub_flood_sel_get();
 *
 *	if (!f)
 *		return cub_drop(hook);
 *	f->mask[0] = ...; f->untag[0] = ...; f->vid = 10;
 *	return cub_flood_some(ctx, hook, in_port);
 *
 * TC only: an XDP egress program drops a selective flood.
 */
#ifndef CUBICLE_FLOOD_SEL_BPF_H
#define CUBICLE_FLOOD_SEL_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_flood_sel);
	__uint(max_entries, 1);
} cub_flood_sel SEC(".maps");

static __always_inline struct cub_flood_sel *
cub_flood_sel_get(void)
{
	return bpf_map_lookup_elem(&cub_flood_sel, &cub_zero_key);
}

/* Flood to the ports of cub_flood_sel but @in_port; returns only if the
 * tail call failed: the packet is dropped. */
static __always_inline int
cub_flood_some(void *ctx, enum cub_hook hook, __u32 in_port)
{
	return cub_forward(
	    ctx, hook, CUB_FLOOD | CUB_FLOOD_SEL | (in_port & 0xffffu));
}

#endif
