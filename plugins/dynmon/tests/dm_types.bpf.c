// SPDX-License-Identifier: BSD-2-Clause
/*
 * Maps shaped as cubicle-dynmon-cc emits them (contract section 2) whose
 * keys and values cover what dynmon decodes: Polycube's test maps
 * (test_map_extraction.json, test_queuestack.json), a union, an enum,
 * bitfields, nested arrays, char[16], per-CPU values, histograms, and a
 * swap set i0 with its two copies.  Never loaded: the unit test decodes
 * bytes it builds against this object's BTF.
 */
#include <linux/bpf.h>
#include <linux/types.h>

#include <bpf/bpf_helpers.h>

#include "dm_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct pkt_5tuple);
	__type(value, int);
	__uint(max_entries, 1024);
} i_SIMPLE_HASH SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct pkt_info);
	__uint(max_entries, 1);
} i_SIMPLE_ARRAY SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__type(value, struct pkt_info);
	__uint(max_entries, 16);
} i_SIMPLE_QUEUE SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__type(value, __u32);
	__uint(max_entries, 16);
} e_STK SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct dm_all);
	__uint(max_entries, 2);
} i_ALL SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, counter_t);
	__uint(max_entries, 1);
} i_NTP_PACKETS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} e_PORTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} i_PCPU SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 64);
} i_PCPUH SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow_key);
	__type(value, __u64);
	__uint(max_entries, 65536);
} i_FLOWS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 10);
} i_LAT_HIST SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 6);
} i_SIZE_HIST SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct v6_key);
	__type(value, __s32);
	__uint(max_entries, 16);
} i_V6 SEC(".maps");

/* For tests/decode_bench.c: the sizes of issue 9's benchmarks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct pkt_5tuple);
	__type(value, int);
	__uint(max_entries, 65536);
} i_FLOWS5 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 65536);
} i_BIGARR SEC(".maps");

/* A swap set as the rewriter makes it for path ingress, swap[0]. */
struct i0_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1024);
} i0_c0 SEC(".maps"), i0_c1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} cub_sw_i0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct i0_map);
} i0__m SEC(".maps") = {.values = {&i0_c0, &i0_c1}};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} dm_log SEC(".maps");

/* Keeps the types of the never-used maps in BTF. */
struct dm_all dm_all_v;
struct flow_key dm_flow_v;

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
