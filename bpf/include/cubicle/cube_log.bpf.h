/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The log part of cube.bpf.h (docs/architecture.md, "Cube logs and
 * loglevel"): the maps cub_config and cub_log_ring, cub_log() and
 * cub_logx().  cube.bpf.h includes it; a unit that does not include
 * cube.bpf.h but is linked (bpf_linker) with one that does, as dynmon's
 * paths are (plugins/dynmon/prelude/dynmon.bpf.h), includes it alone
 * with CUB_LOG_UNIT defined and cub_zero_key defined before: its maps,
 * and cub_scratch_map, are then weak definitions, the same as
 * cube.bpf.h's, which the linker merges with them (it refuses two that
 * differ).
 */
#ifndef CUBICLE_CUBE_LOG_BPF_H
#define CUBICLE_CUBE_LOG_BPF_H

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube_shared.h>

#if defined(CUB_LOG_UNIT) && !defined(CUBICLE_CUBE_BPF_H)
#define ___CUB_LOG_LINK __weak
/* cube.bpf.h's cub_scratch_map, for log_lost. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_scratch);
	__uint(max_entries, 1);
} cub_scratch_map SEC(".maps") __weak;
#else
#define ___CUB_LOG_LINK
#endif

/*
 * The cube's settings (struct cub_config), written by the broker only:
 * read-only to programs.  The broker rewrites it when the cube's loglevel
 * changes, so a change never reloads the program.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_config);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} cub_config SEC(".maps") ___CUB_LOG_LINK;

/*
 * Log records (struct cub_log_rec of cub_log(), struct cub_log_xrec of
 * cub_logx()); read by the broker, which formats them into the cube's log
 * (`cubicle <cube> log show`).  Its size is fixed (the broker checks it):
 * a program that logs faster than the broker drains loses records,
 * counted in cub_scratch()->log_lost.
 */
#ifndef CUB_LOG_RING_MAP_BYTES /* only tests of the broker's check set it */
#define CUB_LOG_RING_MAP_BYTES CUB_LOG_RING_BYTES
#endif
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CUB_LOG_RING_MAP_BYTES);
} cub_log_ring SEC(".maps") ___CUB_LOG_LINK;

/*
 * Logging.  cub_log(level, fmt, args...) writes a line to the cube's log
 * if the cube's loglevel keeps level (enum cub_log_level, e.g.
 * CUB_LOG_DEBUG): fmt is a string literal of at most CUB_LOG_FMT_MAX - 1
 * characters and there are at most CUB_LOG_ARGS integer arguments, both
 * checked at compile time.  Each argument travels as a __u64.  The broker
 * formats the line itself (never with printf; cube_shared.h, struct
 * cub_log_xrec, lists the conversions):
 *
 *	%d %i %u %x %X  with h, hh, l, ll or z
 *	%c              a character
 *	%I              an IPv4 address in network order (iph->saddr)
 *	%P              a port in network order (udph->dest), shown in host
 *	                order
 *	%M              a MAC address: the low 6 bytes of the argument as
 *	                a little-endian __u64 holds them (a memcpy of
 *	                eth->h_source into a zeroed __u64)
 *	%%
 *
 * anything else (%s, %p, %n, widths) is shown as written: no pointer is
 * ever followed.
 *
 *	cub_log(CUB_LOG_DEBUG, "port %u: %u bytes", port, len);
 *
 * cub_logx(level, fmt, args...) is the same with a format of up to
 * CUB_LOGX_FMT_MAX - 1 characters and up to CUB_LOGX_ARGS arguments (a
 * 216-byte struct cub_log_xrec), and cub_logx_at(level, tag, line, fmt,
 * args...) adds where it comes from (tag: a string literal of at most
 * CUB_LOGX_TAG_MAX - 1 characters; line: e.g. __LINE__), shown as
 * "tag:line: " before the message:
 *
 *	cub_logx(CUB_LOG_DEBUG, "%I:%P -> %I:%P", ip->saddr, udp->source,
 *	    ip->daddr, udp->dest);
 *
 * A level the cube does not keep costs one array lookup and a test; a
 * kept one a ring buffer reservation of 88 (216) bytes.  Nothing touches
 * the stack (see "Map keys and Spectre v4" in cube.bpf.h).
 */
static __always_inline void *
cub_log_reserve_size(__u32 level, __u32 size)
{
	const struct cub_config *cfg;
	struct cub_scratch *s;
	__u32 *rec;

	cfg = bpf_map_lookup_elem(&cub_config, &cub_zero_key);
	if (!cfg || level > CUB_LOG_CRITICAL ||
	    !(cfg->log_mask & (1u << level)))
		return NULL;
	rec = bpf_ringbuf_reserve(&cub_log_ring, size, 0);
	if (!rec) {
		s = bpf_map_lookup_elem(&cub_scratch_map, &cub_zero_key);
		if (s)
			s->log_lost++;
		return NULL;
	}
	*rec = level; /* level: the first field of both kinds */
	return rec;
}

static __always_inline struct cub_log_rec *
cub_log_reserve(__u32 level)
{
	return cub_log_reserve_size(level, sizeof(struct cub_log_rec));
}

#define ___cub_log_nargs(...)                                                  \
	___cub_log_nargs_(0, ##__VA_ARGS__, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define ___cub_log_nargs_(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, N, ...) N
#define ___cub_log_cat(a, b) ___cub_log_cat_(a, b)
#define ___cub_log_cat_(a, b) a##b
#define ___cub_log_args0(r)
#define ___cub_log_args1(r, a) (r)->args[0] = (__u64)(a);
#define ___cub_log_args2(r, a, ...)                                            \
	___cub_log_args1(r, a)(r)->args[1] = (__u64)(__VA_ARGS__);
#define ___cub_log_args3(r, a, b, ...)                                         \
	___cub_log_args2(r, a, b)(r)->args[2] = (__u64)(__VA_ARGS__);
#define ___cub_log_args4(r, a, b, c, ...)                                      \
	___cub_log_args3(r, a, b, c)(r)->args[3] = (__u64)(__VA_ARGS__);
#define ___cub_log_args5(r, a, b, c, d, ...)                                   \
	___cub_log_args4(r, a, b, c, d)(r)->args[4] = (__u64)(__VA_ARGS__);
#define ___cub_log_args6(r, a, b, c, d, e, ...)                                \
	___cub_log_args5(r, a, b, c, d, e)(r)->args[5] = (__u64)(__VA_ARGS__);
#define ___cub_log_args7(r, a, b, c, d, e, f, ...)                             \
	___cub_log_args6(r, a, b, c, d, e, f)(r)->args[6] =                    \
	    (__u64)(__VA_ARGS__);
#define ___cub_log_args8(r, a, b, c, d, e, f, g, ...)                          \
	___cub_log_args7(r, a, b, c, d, e, f, g)(r)->args[7] =                 \
	    (__u64)(__VA_ARGS__);

/*
 * The format is copied from the string literal itself ("" literal "" makes
 * anything else a compile error): a function-scope static array would get
 * a BTF variable in .rodata while clang 14 puts its bytes in
 * .rodata.str1.1, and the kernel refuses such BTF ("Invalid size").
 */
#define cub_log(lvl, literal, ...)                                             \
	({                                                                     \
		struct cub_log_rec *___cub_r;                                  \
                                                                               \
		_Static_assert(sizeof("" literal "") <= CUB_LOG_FMT_MAX,       \
		    "cub_log: the format is longer than CUB_LOG_FMT_MAX - 1"); \
		_Static_assert(___cub_log_nargs(__VA_ARGS__) <= CUB_LOG_ARGS,  \
		    "cub_log: more than CUB_LOG_ARGS arguments");              \
		___cub_r = cub_log_reserve(lvl);                               \
		if (___cub_r) {                                                \
			__builtin_memcpy(___cub_r->fmt, "" literal "",         \
			    sizeof("" literal ""));                            \
			___cub_r->nargs = ___cub_log_nargs(__VA_ARGS__);       \
			___cub_log_cat(___cub_log_args,                        \
			    ___cub_log_nargs(__VA_ARGS__))(___cub_r,           \
			    ##__VA_ARGS__) bpf_ringbuf_submit(___cub_r, 0);    \
		}                                                              \
	})

#define cub_logx_at(lvl, tagl, ln, literal, ...)                               \
	({                                                                     \
		struct cub_log_xrec *___cub_x;                                 \
                                                                               \
		_Static_assert(sizeof("" literal "") <= CUB_LOGX_FMT_MAX,      \
		    "cub_logx: the format is longer than 127 characters");     \
		_Static_assert(___cub_log_nargs(__VA_ARGS__) <= CUB_LOGX_ARGS, \
		    "cub_logx: more than 8 arguments");                        \
		_Static_assert(sizeof("" tagl "") <= CUB_LOGX_TAG_MAX,         \
		    "cub_logx: the tag is longer than CUB_LOGX_TAG_MAX - 1");  \
		___cub_x = cub_log_reserve_size(                               \
		    lvl, sizeof(struct cub_log_xrec));                         \
		if (___cub_x) {                                                \
			__builtin_memcpy(___cub_x->fmt, "" literal "",         \
			    sizeof("" literal ""));                            \
			__builtin_memcpy(___cub_x->tag, "" tagl "",            \
			    sizeof("" tagl ""));                               \
			___cub_x->line = (ln);                                 \
			___cub_x->nargs = ___cub_log_nargs(__VA_ARGS__);       \
			___cub_log_cat(___cub_log_args,                        \
			    ___cub_log_nargs(__VA_ARGS__))(___cub_x,           \
			    ##__VA_ARGS__) bpf_ringbuf_submit(___cub_x, 0);    \
		}                                                              \
	})

#define cub_logx(lvl, literal, ...) cub_logx_at(lvl, "", 0, literal, ##__VA_ARGS__)

#endif /* CUBICLE_CUBE_LOG_BPF_H */
