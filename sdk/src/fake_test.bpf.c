// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* The fake broker's test object (fake_test.c): one map of each modelled
 * kind, small, a swap set, and a program that counts in ft_array[0],
 * and in ft_array[1 + p] what it got from port index p. */
#include <cubicle/cube.bpf.h>
#include <cubicle/swap.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} ft_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} ft_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 2);
} ft_pcpu SEC(".maps");

struct ft_lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ft_lpm_key);
	__type(value, __u32);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ft_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__type(value, __u32);
	__uint(max_entries, 3);
} ft_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__type(value, __u32);
	__uint(max_entries, 3);
} ft_stack SEC(".maps");

/* A swap set "fts" of two members, two copies each (swap.bpf.h). */
struct ft_sw_hash {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} ft_h0 SEC(".maps"), ft_h1 SEC(".maps");

struct ft_sw_array {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} ft_a0 SEC(".maps"), ft_a1 SEC(".maps");

CUB_SWAP_SET(fts);
CUB_SWAP_MEMBER(fts, hash, struct ft_sw_hash, 2) = {
    .values = {&ft_h0, &ft_h1}};
CUB_SWAP_MEMBER(fts, arr, struct ft_sw_array, 2) = {
    .values = {&ft_a1, &ft_a0}};

static __always_inline int
ft(void *ctx, enum cub_hook hook)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&ft_array, &k);
	int port = cub_in_port(ctx, hook);

	if (v)
		(*v)++;
	/* ft_array[1 + p]: packets from port index p (test_run_port). */
	if (port >= 0 && port < 3) {
		k = (__u32)port + 1;
		v = bpf_map_lookup_elem(&ft_array, &k);
		if (v)
			(*v)++;
	}
	return cub_drop(hook);
}

CUB_ENTRY_POINTS(ft)

char _license[] SEC("license") = "GPL";
