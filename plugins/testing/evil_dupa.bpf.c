// SPDX-License-Identifier: GPL-2.0
/*
 * Review 10 (review10-dup-prog): the first of two programs named
 * cub_ingress_tc, linked with evil_dupb.bpf.c (link-skel.sh, bpftool gen
 * object) into evil_dup.bpf.o: static functions of two files may share a
 * name.  This one redirects (bpf_redirect), the other, after it in the
 * object, only drops.  bpfobj.c check_object() checks the last program of
 * the hook's name (check_insns()); bpfobj_install() attaches the first
 * (bpf_object__find_program_by_name()).
 */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return bpf_redirect(evil_ifindex, 0);
}
