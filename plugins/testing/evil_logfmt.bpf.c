// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile log records, three a packet, whatever the cube's loglevel: a
 * CRITICAL one claiming 1000 arguments whose 48-byte format has no NUL,
 * printf conversions the broker must not run (%s %n %p), control
 * characters and bytes that are not UTF-8; one of level 99; one shorter
 * than a record.  The packet passes.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>

static __always_inline void
hostile(void)
{
	struct cub_log_rec *r;
	__u64 *shortrec;

	r = bpf_ringbuf_reserve(&cub_log_ring, sizeof(*r), 0);
	if (r) {
		r->level = CUB_LOG_CRITICAL;
		r->nargs = 1000;
		r->args[0] = 42;
		r->args[1] = (__u64)-1;
		r->args[2] = 7;
		__builtin_memcpy(r->fmt,
		    "%s%n%p|%d|%d|%d|%d|\x01\x1b[31m|\xff\xfe|%llx|tail-no-nul-"
		    "aaaaaaaa",
		    CUB_LOG_FMT_MAX);
		bpf_ringbuf_submit(r, 0);
	}
	r = bpf_ringbuf_reserve(&cub_log_ring, sizeof(*r), 0);
	if (r) {
		r->level = 99;
		r->nargs = 0;
		__builtin_memcpy(r->fmt, "level 99", 9);
		bpf_ringbuf_submit(r, 0);
	}
	shortrec = bpf_ringbuf_reserve(&cub_log_ring, sizeof(*shortrec), 0);
	if (shortrec) {
		*shortrec = CUB_LOG_CRITICAL;
		bpf_ringbuf_submit(shortrec, 0);
	}
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	hostile();
	return TC_ACT_OK;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	hostile();
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
