/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_maps.bpf.h: the engine's maps (docs/firewall-contract.md, section
 * 2).  The classifier's seven maps are the members of one swap set, fw,
 * of FW_COPIES copies, so fw_image_apply() flips a whole ruleset at once;
 * the counters (fw_cnt) are outside it, so they survive swaps.  What each
 * holds is struct fw_image's array of the same name (fw_compile.h).
 *
 * Include after <cubicle/cube.bpf.h> and <cubicle/swap.bpf.h>, once per
 * object.
 */
#ifndef CUBICLE_FW_MAPS_BPF_H
#define CUBICLE_FW_MAPS_BPF_H

#include "../fw_shared.h"

#ifndef FW_COPIES
#define FW_COPIES 2
#endif
/* The maps' sizes: fw_shared.h's caps (what fw_compile() fills at most);
 * a test object may define smaller ones for small images. */
#ifndef FW_MAP_VEC_WORDS
#define FW_MAP_VEC_WORDS FW_VEC_WORDS
#endif
#ifndef FW_MAP_ADDR
#define FW_MAP_ADDR FW_ADDR_MAX
#endif
#ifndef FW_MAP_IVAL
#define FW_MAP_IVAL FW_IVAL_MAX
#endif
#ifndef FW_MAP_SMALL
#define FW_MAP_SMALL FW_SMALL_MAX
#endif
#ifndef FW_MAP_RULES
#define FW_MAP_RULES FW_RULES_ALL
#endif

struct fw_vec_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, FW_MAP_VEC_WORDS);
};

struct fw_addr_map {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct fw_addr_key);
	__type(value, __u32);
	__uint(max_entries, FW_MAP_ADDR);
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

struct fw_ival_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_ival);
	__uint(max_entries, FW_MAP_IVAL);
};

struct fw_small_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct fw_small_key);
	__type(value, __u32);
	__uint(max_entries, FW_MAP_SMALL);
};

struct fw_chain_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_chain_meta);
	__uint(max_entries, FW_CHAINS_ALL);
};

struct fw_act_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_act);
	__uint(max_entries, FW_MAP_RULES);
};

struct fw_logp_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_logp);
	__uint(max_entries, FW_MAP_RULES);
};

struct fw_vec_map fw_vec0 SEC(".maps"), fw_vec1 SEC(".maps");
struct fw_addr_map fw_addr0 SEC(".maps"), fw_addr1 SEC(".maps");
struct fw_ival_map fw_ival0 SEC(".maps"), fw_ival1 SEC(".maps");
struct fw_small_map fw_small0 SEC(".maps"), fw_small1 SEC(".maps");
struct fw_chain_map fw_chain0 SEC(".maps"), fw_chain1 SEC(".maps");
struct fw_act_map fw_act0 SEC(".maps"), fw_act1 SEC(".maps");
struct fw_logp_map fw_logp0 SEC(".maps"), fw_logp1 SEC(".maps");

CUB_SWAP_SET(fw);
CUB_SWAP_MEMBER(fw, vec, struct fw_vec_map, FW_COPIES) = {
    .values = {&fw_vec0, &fw_vec1},
};
CUB_SWAP_MEMBER(fw, addr, struct fw_addr_map, FW_COPIES) = {
    .values = {&fw_addr0, &fw_addr1},
};
CUB_SWAP_MEMBER(fw, ival, struct fw_ival_map, FW_COPIES) = {
    .values = {&fw_ival0, &fw_ival1},
};
CUB_SWAP_MEMBER(fw, small, struct fw_small_map, FW_COPIES) = {
    .values = {&fw_small0, &fw_small1},
};
CUB_SWAP_MEMBER(fw, chain, struct fw_chain_map, FW_COPIES) = {
    .values = {&fw_chain0, &fw_chain1},
};
CUB_SWAP_MEMBER(fw, act, struct fw_act_map, FW_COPIES) = {
    .values = {&fw_act0, &fw_act1},
};
CUB_SWAP_MEMBER(fw, logp, struct fw_logp_map, FW_COPIES) = {
    .values = {&fw_logp0, &fw_logp1},
};

/* Per-slot packets and bytes, outside the set: they survive swaps. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_cnt);
	__uint(max_entries, FW_SLOTS_ALL);
} fw_cnt SEC(".maps");

#endif /* CUBICLE_FW_MAPS_BPF_H */
