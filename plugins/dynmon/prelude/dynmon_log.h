/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's pcn_log() records, shared by the BPF prelude (dynmon.bpf.h) and
 * the plugin that formats them (docs/architecture.md, "dynmon").
 *
 * pcn_log(ctx, LOG_INFO, "fmt", args...) in a path's code reserves one
 * struct dm_log_rec in the ring buffer dm_log (DM_LOG_RING_BYTES, one for
 * both paths) and submits it; nothing goes through bpf_trace_printk.  The
 * format string travels in the record itself (copied from the literal, at
 * most DM_LOG_FMT_MAX - 1 characters, checked at compile time), so the
 * worker formats a record from its bytes alone, without the source or a
 * table of formats.  Each argument is widened to a __u64 (at most
 * DM_LOG_ARGS).  Specifiers the worker formats: %d %i %u %x %X %c with
 * h, hh, l, ll, z; %% ; and Polycube's %I (an IPv4 address as the packet
 * holds it, network order, printed dotted), %P (a port in network order,
 * printed in host order) and %M (a MAC address, the low 48 bits of the
 * argument in network order).
 *
 * A record is written only if its level is in dm_cfg's log_mask (bit
 * 1 << level), which the plugin sets from the cube's loglevel: a level the
 * cube does not keep costs one array lookup and a test.  Records the ring
 * could not take are counted in dm_cfg's neighbour, the per-CPU scratch
 * (struct dm_scratch.log_lost).
 */
#ifndef DYNMON_LOG_H
#define DYNMON_LOG_H

#include <linux/types.h>

#define DM_LOG_FMT_MAX 128
#define DM_LOG_ARGS 8
#define DM_LOG_RING_BYTES (256 * 1024)

/* Levels: the values of enum cub_log_level (cube_shared.h). */
#define DM_LOG_TRACE 0
#define DM_LOG_DEBUG 1
#define DM_LOG_INFO 2
#define DM_LOG_WARN 3
#define DM_LOG_ERR 4
#define DM_LOG_CRITICAL 5

/* Which path logged: dm_log_rec.path. */
#define DM_PATH_INGRESS 'i'
#define DM_PATH_EGRESS 'e'

struct dm_log_rec {
	__u32 level;	      /* DM_LOG_* */
	__u8 path;	      /* DM_PATH_INGRESS or DM_PATH_EGRESS */
	__u8 nargs;	      /* arguments used, <= DM_LOG_ARGS */
	__u16 line;	      /* the user's line of the pcn_log() call */
	__u64 args[DM_LOG_ARGS];
	char fmt[DM_LOG_FMT_MAX]; /* NUL-terminated */
};

/* dm_cfg's one value (key 0), written by the plugin only. */
struct dm_cfg {
	__u32 log_mask; /* bit 1 << DM_LOG_x: keep records of level x */
	__u32 pad;
};

#endif /* DYNMON_LOG_H */
