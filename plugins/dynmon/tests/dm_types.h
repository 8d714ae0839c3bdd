/* SPDX-License-Identifier: BSD-2-Clause */
/* Key and value types of tests/dm_types.bpf.c, shared with the unit test. */
#ifndef DM_TYPES_H
#define DM_TYPES_H

#include <linux/types.h>

/* Polycube's SIMPLE_HASH key and SIMPLE_ARRAY value. */
struct pkt_5tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
} __attribute__((packed));

struct pkt_info {
	__u64 timestamp;
	__u16 length;
} __attribute__((packed));

enum dm_color { DM_RED = 1, DM_GREEN = 2, DM_NEG = -3 };

union dm_u {
	__u32 word;
	__u8 bytes[4];
};

struct dm_bits {
	__u32 a : 3;
	__s32 b : 5;
	__u64 big : 40;
	__u64 top : 16;
	enum dm_color color : 8;
};

struct dm_all {
	__u8 u8;
	__s8 s8;
	__u16 u16;
	__s16 s16;
	__u32 u32;
	__s32 s32;
	__u64 u64;
	__s64 s64;
	_Bool flag;
	char name[16];
	__u8 mac[6];
	__u16 grid[2][3];
	union dm_u un;
	enum dm_color color;
	struct dm_bits bits;
	struct {
		__u32 x;
		struct {
			__u16 y;
		} inner;
	} nest;
	union {
		__u32 anon_a;
		__u32 anon_b;
	};
	__u8 __pad_tail[3];
	const volatile __u32 cv;
	unsigned __int128 u128;
	__int128 s128;
};

struct flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 mac[6];
	char ifname[8];
	__u8 __pad0;
} __attribute__((packed));

/* IPv6 addresses, nested fields and a bitfield as labels. */
struct v6_key {
	__u8 src_addr[16];
	struct {
		__be16 port;
		__u8 flags : 3;
	} l4;
	__s16 temp;
};

typedef __u64 counter_t;

#endif
