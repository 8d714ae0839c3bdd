// SPDX-License-Identifier: BSD-2-Clause
/*
 * Review 11 (dynmon-decode-bomb): user C can give a map value a member
 * that is an array of zero-size elements.  Its BTF says 250000 elements
 * of 0 bytes in an 8-byte value: dec_array() bounds nelems by the bytes
 * left only when the element has a size, so each value decodes to 250000
 * empty maps (under CUB_ELEMS_MAX per value, and that cap is per value).
 */
#include <linux/bpf.h>
#include <linux/types.h>

#include <bpf/bpf_helpers.h>

struct empty {};
struct bomb {
	struct empty e[250000];
	__u64 c;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct bomb);
	__uint(max_entries, 10240);
} i_BOMB SEC(".maps");

char _license[] SEC("license") = "GPL";
