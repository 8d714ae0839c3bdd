// SPDX-License-Identifier: BSD-2-Clause
/*
 * debug pktout: n ICMP echo requests built here, sent with
 * cub_cube__packet_out() out of a port of the cube (dir=egress) or into
 * its own ingress as if received on it (dir=ingress).  The result counts
 * what was sent and what the broker's bound dropped; a refusal is the
 * action's error (the broker's message).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "evil_pktout.h"

static const char *const evil_dirs[] = {"egress", "ingress", NULL};

const struct cub_field evil_pktout_args[] = {
    {.name = "port",
	.type = CUB_T_U32,
	.flags = CUB_F_REQUIRED,
	.help = "index of the port"},
    {.name = "dir",
	.type = CUB_T_ENUM,
	.enums = evil_dirs,
	.dflt = "egress",
	.help = "out of the port, or into the cube as received on it"},
    {.name = "n", .type = CUB_T_U32, .help = "frames to send (10)"},
    {.name = "len", .type = CUB_T_U32, .help = "frame bytes (98)"},
    {.name = "dst",
	.type = CUB_T_STR,
	.max = 15,
	.help = "IPv4 destination (198.18.0.2)"},
    {.name = "dmac",
	.type = CUB_T_STR,
	.max = 17,
	.help = "destination MAC (broadcast)"},
    {.name = "as_cube",
	.type = CUB_T_STR,
	.max = CUB_NAME_MAX,
	.help = "forge the call for this cube (of another service)"},
    {0},
};

static uint16_t
csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* An Ethernet + IPv4 + ICMP echo request of len bytes (len >= 42). */
static void
build_echo(
    uint8_t *f, size_t len, const uint8_t *dmac, uint32_t dst, uint16_t seq)
{
	static const uint8_t smac[6] = {0x02, 0xcb, 0, 0, 0, 1};
	uint8_t *ip = f + 14, *icmp = f + 34;
	uint32_t src = htonl(0xc6120063); /* 198.18.0.99 */
	uint16_t v;

	memset(f, 0, len);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	v = htons((uint16_t)(len - 14));
	memcpy(ip + 2, &v, 2);
	ip[8] = 64;
	ip[9] = 1; /* ICMP */
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	v = htons(csum(ip, 20));
	memcpy(ip + 10, &v, 2);
	icmp[0] = 8; /* echo request */
	icmp[4] = 0xcb;
	icmp[6] = (uint8_t)(seq >> 8);
	icmp[7] = (uint8_t)seq;
	v = htons(csum(icmp, len - 34));
	memcpy(icmp + 2, &v, 2);
}

/*
 * The head of the SDK's struct cub_cube (sdk/src/plugin.c): all a
 * compromised worker needs to send a packet.out naming any cube.
 */
struct forged_cube {
	char name[CUB_NAME_MAX + 1];
	void *priv, *maps, *err;
	int loglevel;
	void *next;
};

int
evil_pktout_action(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result)
{
	static uint8_t frame[65536];
	uint8_t dmac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const char *dir = cub_val__get_str(args, "dir");
	const char *dst = cub_val__get_str(args, "dst") ?: "198.18.0.2";
	const char *mac = cub_val__get_str(args, "dmac");
	const char *as = cub_val__get_str(args, "as_cube");
	struct forged_cube forged = {0};
	struct cub_cube *to = cube;
	uint64_t port = 0, n = 10, len = 98, sent = 0, dropped = 0, i;
	struct in_addr a;
	uint32_t flags;
	int r;

	cub_val__as_u64(cub_val__get(args, "port"), &port);
	if (cub_val__get(args, "n"))
		cub_val__as_u64(cub_val__get(args, "n"), &n);
	if (cub_val__get(args, "len"))
		cub_val__as_u64(cub_val__get(args, "len"), &len);
	flags = dir && !strcmp(dir, "ingress") ? CUB_PKTOUT_INGRESS
					       : CUB_PKTOUT_EGRESS;
	if (len > sizeof(frame) || inet_pton(AF_INET, dst, &a) != 1)
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "len up to 65536, dst an IPv4 address");
	if (mac && sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dmac[0],
		       &dmac[1], &dmac[2], &dmac[3], &dmac[4], &dmac[5]) != 6)
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "dmac must be a MAC address");
	if (as) {
		snprintf(forged.name, sizeof(forged.name), "%s", as);
		to = (struct cub_cube *)&forged;
	}
	for (i = 0; i < n; i++) {
		if (len >= 42)
			build_echo(frame, len, dmac, a.s_addr, (uint16_t)i);
		else
			memset(frame, 0xab, len);
		r = cub_cube__packet_out(
		    to, (uint32_t)port, flags, frame, (size_t)len);
		if (r == -ENOBUFS) {
			dropped++;
		} else if (r && to != cube) {
			/* The broker's refusal, on the forged cube. */
			const char *msg = "refused";
			int code = forged.err ? cub_err_parse(forged.err, &msg)
					      : CUB_E_PERM;

			r = cub_cube__set_error(cube, code, "%s", msg);
			cub_val__free(forged.err);
			return r;
		} else if (r) {
			return r; /* the broker's refusal is the error */
		} else {
			sent++;
		}
	}
	*result = cub_val__map();
	cub_val__set(*result, "sent", cub_val__uint(sent));
	cub_val__set(*result, "dropped", cub_val__uint(dropped));
	return 0;
}
