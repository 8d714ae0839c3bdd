/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's pcn_log() levels (docs/architecture.md, "dynmon", and "Cube
 * logs and loglevel").
 *
 * pcn_log(ctx, LOG_INFO, "fmt", args...) in a path's code writes one
 * struct cub_log_xrec (cubicle/cube_shared.h) into the cube's own
 * cub_log_ring, the framework's log ring, through cub_logx_at()
 * (cubicle/cube_log.bpf.h): the broker drains it, filters by the cube's
 * loglevel, pays from the service's token bucket, formats the line
 * itself and keeps it in the cube's log (`cubicle <cube> log show`) as
 * "ingress:LINE: message" (or "egress:"), LINE the user's line of the
 * call.  Nothing goes through bpf_trace_printk and the plugin formats
 * nothing.  The format travels in the record (copied from the literal,
 * at most CUB_LOGX_FMT_MAX - 1 = 127 characters, checked at compile
 * time), each argument widened to a __u64 (at most CUB_LOGX_ARGS = 8).
 * Conversions: %d %i %u %x %X with h, hh, l, ll, z; %c; %%; Polycube's
 * %I (an IPv4 address as the packet holds it, network order, printed
 * dotted), %P (a port in network order, printed in host order) and %M (a
 * MAC address, the low 6 bytes of the argument in network order).
 *
 * A record is written only if its level is in cub_config's log_mask,
 * which the broker writes from the cube's loglevel: a level the cube does
 * not keep costs one array lookup and a test.  Records the ring could not
 * take are counted in cub_scratch's log_lost (`lost` in `log show`).
 */
#ifndef DYNMON_LOG_H
#define DYNMON_LOG_H

/* Levels: the values of enum cub_log_level (cube_shared.h). */
#define DM_LOG_TRACE 0
#define DM_LOG_DEBUG 1
#define DM_LOG_INFO 2
#define DM_LOG_WARN 3
#define DM_LOG_ERR 4
#define DM_LOG_CRITICAL 5

/* The record's tag: which path logged. */
#define DM_TAG_INGRESS "ingress"
#define DM_TAG_EGRESS "egress"

#endif /* DYNMON_LOG_H */
