// SPDX-License-Identifier: GPL-2.0
/*
 * Review 10 (review10-subprog-redirect): bpf_redirect from a subprogram.
 * The broker's helper check (bpfobj.c check_insns()) reads the main
 * function only, as libbpf holds it before load; libbpf appends the
 * subprograms at load, unread.
 */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

static __attribute__((noinline)) int
evil_out(struct __sk_buff *skb)
{
	return bpf_redirect(evil_ifindex, 0);
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return evil_out(skb);
}
