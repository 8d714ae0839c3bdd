/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The prelude of one dynmon path (docs/architecture.md, "dynmon",
 * "Rewriter and compile helper").  cubicle-dynmon-cc compiles each path's
 * rewritten code (rewrite.c) as its own unit:
 *
 *	#define DM_PATH_CHAR 'i'          ('e' for the egress path)
 *	#define CTXTYPE __sk_buff         (xdp_md for the ingress path of XDP)
 *	#include <dynmon.bpf.h>
 *	#line 1 "ingress"
 *	... the user's code, rewritten ...
 *	DM_PATH_ENTRY(i, tc, ...)         (the unit's trailer, rewrite.c)
 *
 * and links the units with dynmon_main.bpf.c, which holds the programs.
 * What BCC and Polycube gave the user's code is here: the packet headers,
 * the BCC integer types, struct pkt_metadata, RX_OK / RX_DROP, pcn_log()
 * and the macros the rewriter turns map methods into.  Maps shared by the
 * units (dm_scratch, and the framework's cub_config, cub_log_ring and
 * cub_scratch_map of cubicle/cube_log.bpf.h, which pcn_log() writes) are
 * weak definitions, the same in every unit, which the linker merges (with
 * cube.bpf.h's strong ones in dynmon_main.bpf.c).
 *
 * Keys off the stack: the hardened verifier (no CAP_PERFMON) fences the
 * first store to each stack slot.  A method called with &k copies k into
 * this CPU's dm_scratch and passes that pointer: k's address is taken by a
 * constant-size memcpy only, so clang keeps k in registers and no stack
 * slot is written.  The packet metadata lives in dm_scratch too.
 */
#ifndef DYNMON_BPF_H
#define DYNMON_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "dynmon_log.h"

/* Key 0 in .rodata, for swap.bpf.h and cube_log.bpf.h (cube.bpf.h's,
 * which units omit). */
#ifndef CUBICLE_CUBE_BPF_H
static const __u32 cub_zero_key = 0;
#define CUB_LOG_UNIT 1
#endif
#include <cubicle/cube_log.bpf.h>
#include <cubicle/swap.bpf.h>

/* BCC's and <stdint.h>'s integer names. */
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s8 s8;
typedef __s16 s16;
typedef __s32 s32;
typedef __s64 s64;
typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
typedef __s8 int8_t;
typedef __s16 int16_t;
typedef __s32 int32_t;
typedef __s64 int64_t;

/* The C library's byte order names, as BCC code calls them. */
#ifndef htons
#define htons(x) bpf_htons(x)
#define ntohs(x) bpf_ntohs(x)
#define htonl(x) bpf_htonl(x)
#define ntohl(x) bpf_ntohl(x)
#endif

/* Polycube's verdicts; anything but RX_DROP passes. */
enum {
	RX_OK = 0,
	RX_REDIRECT = 1,
	RX_DROP = 2,
	RX_RECIRCULATE = 3,
	RX_ERROR = 4,
};

/* Polycube's packet metadata (cube_id and in_port are 0: no ports). */
struct pkt_metadata {
	__u16 cube_id;
	__u16 in_port;
	__u32 packet_len;
	__u32 traffic_class;
	__u16 reason;
	__u32 md[3];
};

/* Polycube's log levels. */
#define LOG_TRACE DM_LOG_TRACE
#define LOG_DEBUG DM_LOG_DEBUG
#define LOG_INFO DM_LOG_INFO
#define LOG_WARN DM_LOG_WARN
#define LOG_WARNING DM_LOG_WARN
#define LOG_ERR DM_LOG_ERR
#define LOG_ERROR DM_LOG_ERR
#define LOG_CRITICAL DM_LOG_CRITICAL

#define DM_KEY_MAX 256
#define DM_VAL_MAX 512
#define DM_SWAP_MAX 8

/* This CPU's scratch: keys and values of map calls, the metadata. */
struct dm_scratch {
	__u8 key[DM_KEY_MAX];
	__u8 val[DM_VAL_MAX];
	__u32 copy_i[DM_SWAP_MAX]; /* the swap copies of this packet */
	__u32 copy_e[DM_SWAP_MAX];
	struct pkt_metadata md;
} __attribute__((aligned(8)));

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct dm_scratch);
	__uint(max_entries, 1);
} dm_scratch SEC(".maps") __weak;

static __always_inline struct dm_scratch *
dm_scr(void)
{
	return bpf_map_lookup_elem(&dm_scratch, &cub_zero_key);
}

/* The handler every path defines (a later non-static definition of it
 * is static too). */
#ifndef DM_MAIN
struct CTXTYPE;
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md);
#endif

/*
 * pcn_log(ctx, level, "literal", args...): see dynmon_log.h.  An
 * extended record of the framework's log ring (cube_log.bpf.h), tagged
 * with the path and the user's line (__LINE__ counts from the unit's
 * #line 1 "ingress").
 */
#if DM_PATH_CHAR == 'e'
#define DM_PATH_TAG DM_TAG_EGRESS
#else
#define DM_PATH_TAG DM_TAG_INGRESS
#endif

#define pcn_log(ctx, lvl, literal, ...)                                        \
	({                                                                     \
		(void)(ctx);                                                   \
		cub_logx_at(lvl, DM_PATH_TAG, __LINE__, literal,               \
		    ##__VA_ARGS__);                                            \
	})

/*
 * Map methods (rewrite.c emits these).  M is the map (&i_NAME, or
 * DM_SWAP(set, k) for a swap-on-read map: the packet's copy), T the map's
 * definition type (struct dm_mt_<object name>), K/V a key or value given
 * as an lvalue (the user wrote &K: copied into dm_scratch), KP/VP one given
 * as a pointer (passed as is).
 */
#define ___dm_cat(a, b) ___dm_cat_(a, b)
#define ___dm_cat_(a, b) a##b

#define DM_KT(T) __typeof__(*((T *)0)->key)
#define DM_VT(T) __typeof__(*((T *)0)->value)

#define DM_SWAP(set, k)                                                        \
	({                                                                     \
		struct dm_scratch *___w = dm_scr();                            \
		___w ? bpf_map_lookup_elem(&set##__m,                          \
			   &___w->___dm_cat(copy_, DM_PATH_NAME)[k])          \
		     : (void *)0;                                              \
	})

#define DM_KEYCP(s, K)                                                         \
	({                                                                     \
		_Static_assert(sizeof(K) <= DM_KEY_MAX,                        \
		    "dynmon: map key larger than 256 bytes");                  \
		__builtin_memcpy((s)->key, &(K), sizeof(K));                   \
		asm volatile("" : : "r"((s)->key) : "memory");                 \
		(void *)(s)->key;                                              \
	})
#define DM_VALCP(s, V)                                                         \
	({                                                                     \
		_Static_assert(sizeof(V) <= DM_VAL_MAX,                        \
		    "dynmon: map value larger than 512 bytes");                \
		__builtin_memcpy((s)->val, &(V), sizeof(V));                   \
		asm volatile("" : : "r"((s)->val) : "memory");                 \
		(void *)(s)->val;                                              \
	})

#define DM_LOOKUP_V(M, T, K)                                                   \
	({                                                                     \
		struct dm_scratch *___s = dm_scr();                            \
		void *___m = (M);                                              \
		DM_VT(T) *___v = 0;                                            \
		if (___s && ___m)                                              \
			___v = bpf_map_lookup_elem(___m, DM_KEYCP(___s, K));   \
		___v;                                                          \
	})
#define DM_LOOKUP_P(M, T, KP)                                                  \
	({                                                                     \
		void *___m = (M);                                              \
		DM_VT(T) *___v = 0;                                            \
		if (___m)                                                      \
			___v = bpf_map_lookup_elem(___m, (KP));                \
		___v;                                                          \
	})

#define DM_UPDATE_VV(M, T, K, V, F)                                            \
	({                                                                     \
		struct dm_scratch *___s = dm_scr();                            \
		void *___m = (M);                                              \
		long ___r = -1;                                                \
		if (___s && ___m)                                              \
			___r = bpf_map_update_elem(___m, DM_KEYCP(___s, K),    \
			    DM_VALCP(___s, V), (F));                           \
		___r;                                                          \
	})
#define DM_UPDATE_VP(M, T, K, VP, F)                                           \
	({                                                                     \
		struct dm_scratch *___s = dm_scr();                            \
		void *___m = (M);                                              \
		long ___r = -1;                                                \
		if (___s && ___m)                                              \
			___r = bpf_map_update_elem(                            \
			    ___m, DM_KEYCP(___s, K), (VP), (F));               \
		___r;                                                          \
	})
#define DM_UPDATE_PV(M, T, KP, V, F)                                           \
	({                                                                     \
		struct dm_scratch *___s = dm_scr();                            \
		void *___m = (M);                                              \
		long ___r = -1;                                                \
		if (___s && ___m)                                              \
			___r = bpf_map_update_elem(                            \
			    ___m, (KP), DM_VALCP(___s, V), (F));               \
		___r;                                                          \
	})
#define DM_UPDATE_PP(M, T, KP, VP, F)                                          \
	({                                                                     \
		void *___m = (M);                                              \
		long ___r = -1;                                                \
		if (___m)                                                      \
			___r = bpf_map_update_elem(___m, (KP), (VP), (F));     \
		___r;                                                          \
	})

#define DM_DELETE_V(M, T, K)                                                   \
	({                                                                     \
		struct dm_scratch *___s = dm_scr();                            \
		void *___m = (M);                                              \
		long ___r = -1;                                                \
		if (___s && ___m)                                              \
			___r = bpf_map_delete_elem(___m, DM_KEYCP(___s, K));   \
		___r;                                                          \
	})
#define DM_DELETE_P(M, T, KP)                                                  \
	({                                                                     \
		void *___m = (M);                                              \
		___m ? bpf_map_delete_elem(___m, (KP)) : -1;                   \
	})

/* lookup, else insert the initial value (BPF_NOEXIST) and look up again. */
#define DM_LOTI(M, T, K, I, KEYARG, INITARG)                                   \
	({                                                                     \
		struct dm_scratch *___s = dm_scr();                            \
		void *___m = (M);                                              \
		DM_VT(T) *___v = 0;                                            \
		if (___s && ___m) {                                            \
			void *___k = KEYARG(___s, K);                          \
			___v = bpf_map_lookup_elem(___m, ___k);                \
			if (!___v) {                                           \
				bpf_map_update_elem(___m, ___k,                \
				    INITARG(___s, I), BPF_NOEXIST);            \
				___v = bpf_map_lookup_elem(___m, ___k);        \
			}                                                      \
		}                                                              \
		___v;                                                          \
	})
#define DM_ARG_CP_K(s, K) DM_KEYCP(s, K)
#define DM_ARG_CP_V(s, V) DM_VALCP(s, V)
#define DM_ARG_PTR(s, P) ((void *)(P))

/*
 * increment(key[, n]): key by value (BCC), converted to the map's key
 * type in dm_scratch; an atomic add, so two CPUs never lose a count.
 */
#define DM_INCR(M, T, KV, N)                                                   \
	({                                                                     \
		struct dm_scratch *___s = dm_scr();                            \
		void *___m = (M);                                              \
		DM_VT(T) *___v = 0;                                            \
		if (___s && ___m) {                                            \
			*(DM_KT(T) *)___s->key = (KV);                         \
			___v = bpf_map_lookup_elem(___m, ___s->key);           \
			if (!___v) {                                           \
				__builtin_memset(___s->val, 0,                 \
				    sizeof(DM_VT(T)));                         \
				bpf_map_update_elem(___m, ___s->key,           \
				    ___s->val, BPF_NOEXIST);                   \
				___v = bpf_map_lookup_elem(___m, ___s->key);   \
			}                                                      \
			if (___v)                                              \
				__sync_fetch_and_add(___v, (N));               \
		}                                                              \
	})

#define DM_PUSH_V(M, T, V, F)                                                  \
	({                                                                     \
		struct dm_scratch *___s = dm_scr();                            \
		void *___m = (M);                                              \
		long ___r = -1;                                                \
		if (___s && ___m)                                              \
			___r = bpf_map_push_elem(___m, DM_VALCP(___s, V), (F)); \
		___r;                                                          \
	})
#define DM_PUSH_P(M, T, VP, F)                                                 \
	({                                                                     \
		void *___m = (M);                                              \
		___m ? bpf_map_push_elem(___m, (VP), (F)) : -1;                \
	})
#define DM_POP(M, T, VP)                                                       \
	({                                                                     \
		void *___m = (M);                                              \
		___m ? bpf_map_pop_elem(___m, (VP)) : -1;                      \
	})
#define DM_PEEK(M, T, VP)                                                      \
	({                                                                     \
		void *___m = (M);                                              \
		___m ? bpf_map_peek_elem(___m, (VP)) : -1;                     \
	})

/*
 * The unit's trailer: the global function dynmon_main.bpf.c calls for
 * this path on this hook, with the packet's metadata in dm_scratch and
 * the swap copies read once for the packet (FETCH: one statement per
 * swap set, DM_FETCH(k, set)).
 */
#define DM_FETCH(k, set)                                                       \
	___s->___dm_cat(copy_, DM_PATH_NAME)[k] = cub_swap_copy(&cub_sw_##set);

#define DM_PATH_ENTRY(fname, ctxtype, lenexpr, FETCH)                          \
	__attribute__((noinline)) int fname(struct ctxtype *ctx)               \
	{                                                                      \
		struct dm_scratch *___s = dm_scr();                            \
		if (!___s)                                                     \
			return RX_OK;                                          \
		__builtin_memset(&___s->md, 0, sizeof(___s->md));              \
		___s->md.packet_len = (lenexpr);                               \
		FETCH                                                          \
		return handle_rx((struct CTXTYPE *)ctx, &___s->md);            \
	}

#endif /* DYNMON_BPF_H */
