/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hl4: one L4 parser written five ways (hl4.bpf.h), for
 * tests/integration/hardened-forms.sh and hardened-service.sh.  Each form
 * is its own object (hl4_<form>.bpf.c) and its own service (hl4.c built
 * with -DHL4_<form>).  The program forwards port 0 <-> port 1 and counts
 * probes, found by reading the L4 header behind the IPv4 header: ICMP
 * echo requests and UDP datagrams to port HL4_PORT.
 *   hl4_ihl  ARRAY[16] of __u64: probes seen, by the IP header length
 *   hl4_port ARRAY[CUB_MAX_PORTS] of __u64: probes received on the port
 */
#ifndef HL4_SHARED_H
#define HL4_SHARED_H

#define HL4_PORT 4242
#define HL4_BUF 128 /* hl4_buf's value: the copy of the packet (mapidx) */

#endif /* HL4_SHARED_H */
