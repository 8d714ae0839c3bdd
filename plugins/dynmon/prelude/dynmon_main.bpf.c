// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * dynmon's programs (docs/architecture.md, "dynmon"): the transparent
 * cube's entry points, linked by cubicle-dynmon-cc with the two paths'
 * units.  cub_ingress_tc runs the ingress path's handle_rx when the
 * broker's stack says ingress, the egress path's otherwise; with
 * DM_XDP (type XDP) the ingress path is compiled for struct xdp_md and
 * runs in cub_ingress_xdp, and the TC program passes ingress packets.
 * RX_DROP drops, anything else passes: the monitor never changes
 * forwarding on its own.
 */
#include <cubicle/cube.bpf.h>

#define DM_MAIN 1
#define DM_PATH_CHAR 'm'
#define DM_PATH_NAME i
#define CTXTYPE __sk_buff
#include "dynmon.bpf.h"

extern int dm_e_rx_tc(struct __sk_buff *ctx);
#if DM_XDP
extern int dm_i_rx_xdp(struct xdp_md *ctx);
#else
extern int dm_i_rx_tc(struct __sk_buff *ctx);
#endif

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	int rx;

	if (cub_tdir_tc(skb) == CUB_TDIR_EGRESS)
		rx = dm_e_rx_tc(skb);
	else
#if DM_XDP
		rx = RX_OK;
#else
		rx = dm_i_rx_tc(skb);
#endif
	if (rx == RX_DROP)
		return cub_drop(CUB_HOOK_TC);
	return cub_pass_tc(skb);
}

#if DM_XDP
SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	if (dm_i_rx_xdp(ctx) == RX_DROP)
		return cub_drop(CUB_HOOK_XDP);
	return cub_pass_xdp(ctx);
}
#endif

char _license[] SEC("license") = "GPL";
