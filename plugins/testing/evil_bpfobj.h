/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The hostile BPF objects of evil_bpfobj.c (map names, map types, map
 * memory; issue 6 points 1, 5, 10): names the worker patches into the ELF
 * and the program body every one of these objects carries.
 */
#ifndef EVIL_BPFOBJ_H
#define EVIL_BPFOBJ_H

/* 47 characters: room for a path ("../v1////...////sf_actions"). */
#define EVIL_PATH_ACT "evil_path_act_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define EVIL_PATH_PORT "evil_path_port_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define EVIL_DUP_A "evdup_a"
#define EVIL_DUP_B "evdup_b"
/* Renamed on every load ("evbig_0001", ...). */
#define EVIL_BIG "evbig_0000"

#ifndef __BPF__
struct cub_cube;
struct cub_val;

/* The "bpfobj" action of evil.c. */
int evil_bpfobj(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result);
#else
/* A cube program that passes everything. */
#define EVIL_PASS_PROGRAMS                                                     \
	SEC("tc")                                                              \
	int cub_ingress_tc(struct __sk_buff *skb)                              \
	{                                                                      \
		return TC_ACT_OK;                                              \
	}                                                                      \
	SEC("xdp")                                                             \
	int cub_ingress_xdp(struct xdp_md *ctx)                                \
	{                                                                      \
		return XDP_PASS;                                               \
	}                                                                      \
	char _license[] SEC("license") = "GPL"
#endif

#endif /* EVIL_BPFOBJ_H */
