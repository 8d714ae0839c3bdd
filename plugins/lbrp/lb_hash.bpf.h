/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * What lbrp and lbdsr share in BPF: the flow hash (jhash's final mix of
 * three words, lib/jhash.h's __jhash_final() after the initial adds),
 * which the tests' Python model of the Maglev choice computes too, and
 * the protocol numbers the headers clang sees lack.
 */
#ifndef LB_HASH_BPF_H
#define LB_HASH_BPF_H

#include <linux/types.h>

#ifndef IPPROTO_ICMP
#define IPPROTO_ICMP 1
#endif
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif
#ifndef IPPROTO_UDP
#define IPPROTO_UDP 17
#endif

#define LB_ROL(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

/* jhash_3words(a, b, c, init) as the kernel computes it. */
static __always_inline __u32
lb_jhash3(__u32 a, __u32 b, __u32 c, __u32 init)
{
	a += init;
	b += init;
	c += init;
	c ^= b;
	c -= LB_ROL(b, 14);
	a ^= c;
	a -= LB_ROL(c, 11);
	b ^= a;
	b -= LB_ROL(a, 25);
	c ^= b;
	c -= LB_ROL(b, 16);
	a ^= c;
	a -= LB_ROL(c, 4);
	b ^= a;
	b -= LB_ROL(a, 14);
	c ^= b;
	c -= LB_ROL(b, 24);
	return c;
}

#endif /* LB_HASH_BPF_H */
