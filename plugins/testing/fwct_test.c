// SPDX-License-Identifier: BSD-2-Clause
/*
 * fw_pkt.bpf.h and fw_ct.bpf.h driven through BPF_PROG_TEST_RUN
 * (fwct_test.bpf.c): sequences of frames, each checked for its label and
 * the entry it leaves in fw_ct.  TCP opened from either side, through
 * FIN_WAIT, LAST_ACK and TIME_WAIT to a reopening; a wrong SYN-ACK, a
 * bare ACK, RST; UDP and ICMP echo; ICMP errors RELATED only for their
 * flow; an expired entry; the parser on IP options, fragments, short
 * headers and other protocols.  Needs root; exits 77 (skip) otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>

#include "fw_ct_shared.h"
#include "fw_shared.h"
#include "fwct_test.skel.h"

/* As fwct_test.bpf.c has it. */
struct fwct_sc {
	struct fw_pkt pkt;
	struct fw_ct_pkt ct;
	int32_t parsed;
};

#define A 0xc6120001u /* 198.18.0.1, the lower endpoint */
#define B 0xc6120002u /* 198.18.0.2 */
#define C 0xc6120009u /* 198.18.0.9, a router */

#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define RST 0x04
#define PSH 0x08

#define SEC_NS 1000000000ull

static struct fwct_test *skel;

/* A frame under construction. */
struct frame {
	uint8_t b[256];
	size_t len;
};

/* Ethernet + IPv4 header (ihl words, NOP options) + l4. */
static void
frame_ip(struct frame *f, uint32_t src, uint32_t dst, uint8_t proto,
    const void *l4, size_t l4len, int ihl, uint16_t frag_off, uint16_t eth)
{
	uint8_t *p = f->b;
	uint16_t v;
	uint32_t a;

	memset(f, 0, sizeof(*f));
	memcpy(p, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	v = htons(eth);
	memcpy(p + 12, &v, 2);
	p += 14;
	p[0] = 0x40 | ihl;
	v = htons(ihl * 4 + l4len);
	memcpy(p + 2, &v, 2);
	v = htons(frag_off);
	memcpy(p + 6, &v, 2);
	p[8] = 64;
	p[9] = proto;
	a = htonl(src);
	memcpy(p + 12, &a, 4);
	a = htonl(dst);
	memcpy(p + 16, &a, 4);
	memset(p + 20, 1, ihl * 4 - 20); /* NOPs */
	memcpy(p + ihl * 4, l4, l4len);
	f->len = 14 + ihl * 4 + l4len;
	if (f->len < 60)
		f->len = 60; /* Ethernet padding, as on the wire */
}

static size_t
tcp_head(uint8_t *t, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
    uint8_t flags, size_t payload)
{
	uint16_t v;
	uint32_t w;

	memset(t, 0, 20 + payload);
	v = htons(sport);
	memcpy(t, &v, 2);
	v = htons(dport);
	memcpy(t + 2, &v, 2);
	w = htonl(seq);
	memcpy(t + 4, &w, 4);
	w = htonl(ack);
	memcpy(t + 8, &w, 4);
	t[12] = 5 << 4;
	t[13] = flags;
	t[14] = 0x20;
	return 20 + payload;
}

static size_t
udp_head(uint8_t *u, uint16_t sport, uint16_t dport, size_t payload)
{
	uint16_t v;

	memset(u, 0, 8 + payload);
	v = htons(sport);
	memcpy(u, &v, 2);
	v = htons(dport);
	memcpy(u + 2, &v, 2);
	v = htons(8 + payload);
	memcpy(u + 4, &v, 2);
	return 8 + payload;
}

static size_t
icmp_echo(uint8_t *i, uint8_t type, uint16_t id)
{
	uint16_t v = htons(id);

	memset(i, 0, 16);
	i[0] = type;
	memcpy(i + 4, &v, 2);
	return 16;
}

/* An ICMP error (type, code) quoting a packet src -> dst, proto, whose
 * first 8 L4 bytes are l4. */
static size_t
icmp_err(uint8_t *i, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
    uint8_t proto, const uint8_t *l4)
{
	uint8_t *in = i + 8;
	uint16_t v;
	uint32_t a;

	memset(i, 0, 36);
	i[0] = type;
	i[1] = code;
	in[0] = 0x45;
	v = htons(20 + 8);
	memcpy(in + 2, &v, 2);
	in[8] = 64;
	in[9] = proto;
	a = htonl(src);
	memcpy(in + 12, &a, 4);
	a = htonl(dst);
	memcpy(in + 16, &a, 4);
	memcpy(in + 20, l4, 8);
	return 36;
}

static struct fwct_sc last;

/* Run frame f through the program (accepted or not): its label. */
static uint8_t
run(const struct frame *f, uint32_t accept)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b,
	    .data_size_in = (uint32_t)f->len, .repeat = 1);
	uint32_t key = 0;

	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.fwct_ctl),
			     &key, &accept, BPF_ANY),
	    0);
	ck_assert_int_eq(bpf_prog_test_run_opts(
			     bpf_program__fd(skel->progs.fwct_run), &opts),
	    0);
	ck_assert_uint_eq(opts.retval, TC_ACT_OK);
	ck_assert_int_eq(
	    bpf_map_lookup_elem(bpf_map__fd(skel->maps.fwct_sc), &key, &last),
	    0);
	return last.pkt.ct;
}

static uint8_t
tcp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq,
    uint32_t ack, uint8_t flags, size_t payload)
{
	uint8_t t[128];
	struct frame f;
	size_t n = tcp_head(t, sport, dport, seq, ack, flags, payload);

	frame_ip(&f, src, dst, IPPROTO_TCP, t, n, 5, 0, 0x0800);
	return run(&f, 1);
}

static uint8_t
udp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t accept)
{
	uint8_t u[64];
	struct frame f;
	size_t n = udp_head(u, sport, dport, 4);

	frame_ip(&f, src, dst, IPPROTO_UDP, u, n, 5, 0, 0x0800);
	return run(&f, accept);
}

static uint8_t
echo(uint32_t src, uint32_t dst, uint8_t type, uint16_t id)
{
	uint8_t i[16];
	struct frame f;
	size_t n = icmp_echo(i, type, id);

	frame_ip(&f, src, dst, IPPROTO_ICMP, i, n, 5, 0, 0x0800);
	return run(&f, 1);
}

/* The entry of the last packet's key: its state, 0 when none. */
static uint8_t
state(struct fw_ct_val *out)
{
	struct fw_ct_val v;

	if (bpf_map_lookup_elem(
		bpf_map__fd(skel->maps.fw_ct), &last.ct.key, &v))
		return FW_CTS_NONE;
	if (out)
		*out = v;
	return v.state;
}

static uint64_t
boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec;
}

/* The entry's timeout is the state's: expires within (to - 5 s, to]. */
static void
check_timeout(uint64_t to_s)
{
	struct fw_ct_val v;
	uint64_t now = boot_ns();

	ck_assert_uint_ne(state(&v), FW_CTS_NONE);
	ck_assert_uint_le(v.expires_ns, now + to_s * SEC_NS);
	ck_assert_uint_gt(v.expires_ns, now + to_s * SEC_NS - 5 * SEC_NS);
}

static void
flush(void)
{
	struct fw_ct_key k, next;
	int fd = bpf_map__fd(skel->maps.fw_ct);

	while (!bpf_map_get_next_key(fd, NULL, &next)) {
		k = next;
		bpf_map_delete_elem(fd, &k);
	}
}

static void
setup(void)
{
	skel = fwct_test__open_and_load();
	ck_assert_ptr_nonnull(skel);
}

static void
teardown(void)
{
	fwct_test__destroy(skel);
	skel = NULL;
}

START_TEST(tcp_open_close)
{
	struct fw_ct_val v;

	ck_assert_uint_eq(tcp(A, 40000, B, 80, 1000, 0, SYN, 0), FW_CTB_NEW);
	ck_assert_uint_eq(last.ct.dir, 0);
	ck_assert_uint_eq(state(&v), FW_CTS_SYN_SENT);
	ck_assert_uint_eq(v.odir, 0);
	check_timeout(FW_CT_TO_TCP_SYN_SENT);
	/* The SYN again, from the opener. */
	ck_assert_uint_eq(tcp(A, 40000, B, 80, 1000, 0, SYN, 0), FW_CTB_NEW);
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40000, 5000, 1001, SYN | ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(last.ct.dir, 1);
	ck_assert_uint_eq(state(NULL), FW_CTS_SYN_RECV);
	check_timeout(FW_CT_TO_TCP_SYN_RECV);
	ck_assert_uint_eq(
	    tcp(A, 40000, B, 80, 1001, 5001, ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_ESTABLISHED);
	check_timeout(FW_CT_TO_TCP_ESTABLISHED);
	ck_assert_uint_eq(tcp(A, 40000, B, 80, 1001, 5001, PSH | ACK, 10),
	    FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40000, 5001, 1011, PSH | ACK, 5), FW_CTB_ESTABLISHED);
	/* A SYN alone in ESTABLISHED is INVALID, and changes nothing. */
	ck_assert_uint_eq(tcp(A, 40000, B, 80, 77, 0, SYN, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(state(NULL), FW_CTS_ESTABLISHED);
	ck_assert_uint_eq(
	    tcp(A, 40000, B, 80, 1011, 5006, FIN | ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(&v), FW_CTS_FIN_WAIT);
	ck_assert_uint_eq(v.fin_dir, 0);
	check_timeout(FW_CT_TO_TCP_FIN_WAIT);
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40000, 5006, 1012, ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_FIN_WAIT);
	/* The second FIN carries 3 bytes: its ACK is 5006 + 3 + 1. */
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40000, 5006, 1012, FIN | ACK, 3), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(&v), FW_CTS_LAST_ACK);
	ck_assert_uint_eq(v.seq, 5010);
	check_timeout(FW_CT_TO_TCP_LAST_ACK);
	ck_assert_uint_eq(
	    tcp(A, 40000, B, 80, 1012, 5009, ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_LAST_ACK);
	ck_assert_uint_eq(
	    tcp(A, 40000, B, 80, 1012, 5010, ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_TIME_WAIT);
	check_timeout(FW_CT_TO_TCP_TIME_WAIT);
	/* A late retransmission, then the pair opens again, from B. */
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40000, 5006, 1012, FIN | ACK, 3), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_TIME_WAIT);
	ck_assert_uint_eq(tcp(B, 80, A, 40000, 9000, 0, SYN, 0), FW_CTB_NEW);
	ck_assert_uint_eq(state(&v), FW_CTS_SYN_SENT);
	ck_assert_uint_eq(v.odir, 1);
}
END_TEST

/* Opened by the higher endpoint (b): the same machine, odir 1. */
START_TEST(tcp_reverse)
{
	struct fw_ct_val v;

	ck_assert_uint_eq(tcp(B, 50000, A, 22, 7, 0, SYN, 0), FW_CTB_NEW);
	ck_assert_uint_eq(last.ct.dir, 1);
	ck_assert_uint_eq(state(&v), FW_CTS_SYN_SENT);
	ck_assert_uint_eq(v.odir, 1);
	/* A SYN-ACK from the opener's side does not answer its SYN. */
	ck_assert_uint_eq(
	    tcp(B, 50000, A, 22, 7, 8, SYN | ACK, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(state(NULL), FW_CTS_SYN_SENT);
	ck_assert_uint_eq(
	    tcp(A, 22, B, 50000, 100, 8, SYN | ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_SYN_RECV);
	/* The opener's ACK must acknowledge the SYN-ACK. */
	ck_assert_uint_eq(tcp(B, 50000, A, 22, 8, 100, ACK, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(state(NULL), FW_CTS_SYN_RECV);
	ck_assert_uint_eq(
	    tcp(B, 50000, A, 22, 8, 101, ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_ESTABLISHED);
	/* Closed from the side that accepted (a). */
	ck_assert_uint_eq(
	    tcp(A, 22, B, 50000, 101, 8, FIN | ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(&v), FW_CTS_FIN_WAIT);
	ck_assert_uint_eq(v.fin_dir, 0);
	ck_assert_uint_eq(
	    tcp(B, 50000, A, 22, 8, 102, FIN | ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_LAST_ACK);
	/* Only the first FIN's side acknowledges the second (even with
	 * the acknowledgement number it awaits). */
	ck_assert_uint_eq(
	    tcp(B, 50000, A, 22, 9, 9, ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_LAST_ACK);
	ck_assert_uint_eq(
	    tcp(A, 22, B, 50000, 102, 9, ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_TIME_WAIT);
}
END_TEST

START_TEST(tcp_invalid)
{
	/* No entry: only a SYN alone opens; the rest opens nothing even
	 * when the policy lets it through. */
	ck_assert_uint_eq(tcp(A, 40001, B, 80, 1, 2, ACK, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(state(NULL), FW_CTS_NONE);
	ck_assert_uint_eq(
	    tcp(A, 40001, B, 80, 1, 2, SYN | ACK, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(
	    tcp(A, 40001, B, 80, 1, 0, SYN | FIN, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(tcp(A, 40001, B, 80, 1, 0, RST, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(tcp(A, 40001, B, 80, 1, 0, FIN, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(state(NULL), FW_CTS_NONE);
	/* A SYN-ACK that does not acknowledge the SYN. */
	ck_assert_uint_eq(tcp(A, 40001, B, 80, 1000, 0, SYN, 0), FW_CTB_NEW);
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40001, 5000, 1234, SYN | ACK, 0), FW_CTB_INVALID);
	ck_assert_uint_eq(state(NULL), FW_CTS_SYN_SENT);
	/* Data before the handshake ends. */
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40001, 5000, 1001, PSH | ACK, 4), FW_CTB_INVALID);
	ck_assert_uint_eq(state(NULL), FW_CTS_SYN_SENT);
}
END_TEST

START_TEST(tcp_rst)
{
	ck_assert_uint_eq(tcp(A, 40002, B, 80, 1000, 0, SYN, 0), FW_CTB_NEW);
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40002, 5000, 1001, SYN | ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(
	    tcp(A, 40002, B, 80, 1001, 5001, ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_ESTABLISHED);
	ck_assert_uint_eq(
	    tcp(B, 80, A, 40002, 5001, 1001, RST | ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_NONE);
	ck_assert_uint_eq(
	    tcp(A, 40002, B, 80, 1001, 5001, ACK, 0), FW_CTB_INVALID);
	/* A refused connect: the RST answering a SYN. */
	ck_assert_uint_eq(tcp(A, 40003, B, 81, 1000, 0, SYN, 0), FW_CTB_NEW);
	ck_assert_uint_eq(
	    tcp(B, 81, A, 40003, 0, 1001, RST | ACK, 0), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_NONE);
}
END_TEST

START_TEST(not_accepted)
{
	uint8_t t[64];
	struct frame f;

	frame_ip(&f, A, B, IPPROTO_TCP, t,
	    tcp_head(t, 40004, 80, 1000, 0, SYN, 0), 5, 0, 0x0800);
	ck_assert_uint_eq(run(&f, 0), FW_CTB_NEW);
	ck_assert_uint_eq(state(NULL), FW_CTS_NONE);
	ck_assert_uint_eq(udp(A, 4000, B, 53, 0), FW_CTB_NEW);
	ck_assert_uint_eq(state(NULL), FW_CTS_NONE);
}
END_TEST

START_TEST(udp_flow)
{
	struct fw_ct_val v;
	int fd = bpf_map__fd(skel->maps.fw_ct);

	ck_assert_uint_eq(udp(A, 4000, B, 53, 1), FW_CTB_NEW);
	ck_assert_uint_eq(state(NULL), FW_CTS_NEW);
	check_timeout(FW_CT_TO_UDP_NEW);
	ck_assert_uint_eq(udp(A, 4000, B, 53, 1), FW_CTB_NEW);
	ck_assert_uint_eq(udp(B, 53, A, 4000, 1), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_ESTABLISHED);
	check_timeout(FW_CT_TO_UDP_ESTABLISHED);
	ck_assert_uint_eq(udp(A, 4000, B, 53, 1), FW_CTB_ESTABLISHED);
	/* Another port pair is another flow. */
	ck_assert_uint_eq(udp(B, 53, A, 4001, 1), FW_CTB_NEW);
	ck_assert_uint_eq(state(&v), FW_CTS_NEW);
	ck_assert_uint_eq(v.odir, 1);
	/* An expired entry is none: the flow opens again. */
	ck_assert_uint_eq(udp(A, 4000, B, 53, 1), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(&v), FW_CTS_ESTABLISHED);
	v.expires_ns = boot_ns() - SEC_NS;
	ck_assert_int_eq(bpf_map_update_elem(fd, &last.ct.key, &v, BPF_ANY), 0);
	ck_assert_uint_eq(udp(B, 53, A, 4000, 1), FW_CTB_NEW);
	ck_assert_uint_eq(state(&v), FW_CTS_NEW);
	ck_assert_uint_eq(v.odir, 1);
}
END_TEST

START_TEST(icmp_echo_flow)
{
	ck_assert_uint_eq(echo(A, B, 8, 77), FW_CTB_NEW);
	ck_assert_uint_eq(last.ct.key.a_port, htons(77));
	ck_assert_uint_eq(last.ct.key.b_port, htons(77));
	ck_assert_uint_eq(state(NULL), FW_CTS_NEW);
	check_timeout(FW_CT_TO_ICMP);
	/* A reply from the requester's side answers nothing. */
	ck_assert_uint_eq(echo(A, B, 0, 77), FW_CTB_INVALID);
	ck_assert_uint_eq(echo(B, A, 0, 77), FW_CTB_ESTABLISHED);
	ck_assert_uint_eq(state(NULL), FW_CTS_ESTABLISHED);
	ck_assert_uint_eq(echo(A, B, 8, 77), FW_CTB_ESTABLISHED);
	/* A reply with no request, and one to another identifier. */
	ck_assert_uint_eq(echo(B, A, 0, 78), FW_CTB_INVALID);
	ck_assert_uint_eq(state(NULL), FW_CTS_NONE);
	/* Other ICMP types are not tracked: INVALID (a timestamp). */
	ck_assert_uint_eq(echo(A, B, 13, 77), FW_CTB_INVALID);
}
END_TEST

START_TEST(icmp_errors)
{
	uint8_t l4[8], i[64];
	struct frame f;

	ck_assert_uint_eq(udp(A, 4000, B, 9, 1), FW_CTB_NEW);
	/* Port unreachable from B quoting A:4000 -> B:9. */
	udp_head(l4, 4000, 9, 0);
	frame_ip(&f, B, A, IPPROTO_ICMP, i,
	    icmp_err(i, 3, 3, A, B, IPPROTO_UDP, l4), 5, 0, 0x0800);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_RELATED);
	ck_assert_uint_eq(last.ct.kind, FW_CTK_ICMP_ERR);
	ck_assert_uint_eq(last.pkt.icmp_type, 3);
	ck_assert_uint_eq(last.pkt.icmp_code, 3);
	/* RELATED opens and changes nothing. */
	ck_assert_uint_eq(state(NULL), FW_CTS_NEW);
	/* Sent to someone else than the quoted packet's source. */
	frame_ip(&f, B, C, IPPROTO_ICMP, i,
	    icmp_err(i, 3, 3, A, B, IPPROTO_UDP, l4), 5, 0, 0x0800);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_INVALID);
	/* Quoting a flow there is no entry for. */
	udp_head(l4, 4000, 10, 0);
	frame_ip(&f, B, A, IPPROTO_ICMP, i,
	    icmp_err(i, 3, 3, A, B, IPPROTO_UDP, l4), 5, 0, 0x0800);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_INVALID);
	/* Time exceeded from a router for a TCP SYN. */
	ck_assert_uint_eq(tcp(A, 40005, B, 80, 1000, 0, SYN, 0), FW_CTB_NEW);
	tcp_head(i + 40, 40005, 80, 1000, 0, SYN, 0);
	memcpy(l4, i + 40, 8);
	frame_ip(&f, C, A, IPPROTO_ICMP, i,
	    icmp_err(i, 11, 0, A, B, IPPROTO_TCP, l4), 5, 0, 0x0800);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_RELATED);
	/* Host unreachable for a ping. */
	ck_assert_uint_eq(echo(A, B, 8, 99), FW_CTB_NEW);
	icmp_echo(i + 40, 8, 99);
	memcpy(l4, i + 40, 8);
	frame_ip(&f, C, A, IPPROTO_ICMP, i,
	    icmp_err(i, 3, 1, A, B, IPPROTO_ICMP, l4), 5, 0, 0x0800);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_RELATED);
	/* A redirect (type 5) is no error conntrack relates. */
	frame_ip(&f, C, A, IPPROTO_ICMP, i,
	    icmp_err(i, 5, 1, A, B, IPPROTO_ICMP, l4), 5, 0, 0x0800);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_INVALID);
	/* Too short to quote anything. */
	frame_ip(&f, B, A, IPPROTO_ICMP, i,
	    (icmp_err(i, 3, 3, A, B, IPPROTO_UDP, l4), 20), 5, 0, 0x0800);
	f.len = 14 + 20 + 20; /* no Ethernet padding: the bytes end here */
	ck_assert_uint_eq(run(&f, 1), FW_CTB_INVALID);
}
END_TEST

START_TEST(parse)
{
	uint8_t t[128];
	struct frame f;
	int ihl;

	/* IP options: every header length. */
	for (ihl = 5; ihl <= 15; ihl++) {
		frame_ip(&f, A, B, IPPROTO_TCP, t,
		    tcp_head(t, 1000 + ihl, 443, 1, 0, SYN, 0), ihl, 0, 0x0800);
		ck_assert_uint_eq(run(&f, 0), FW_CTB_NEW);
		ck_assert_int_eq(last.parsed, 0);
		ck_assert_uint_eq(last.pkt.ipv4, 1);
		ck_assert_uint_eq(last.pkt.saddr, A);
		ck_assert_uint_eq(last.pkt.daddr, B);
		ck_assert_uint_eq(last.pkt.proto, IPPROTO_TCP);
		ck_assert_uint_eq(last.pkt.sport, 1000 + ihl);
		ck_assert_uint_eq(last.pkt.dport, 443);
		ck_assert_uint_eq(last.pkt.tcp_flags, SYN);
		ck_assert_uint_eq(last.pkt.l4_off, 14 + 4 * ihl);
		ck_assert_uint_eq(last.pkt.frag, 0);
	}
	/* A first fragment (MF, offset 0) has its ports. */
	frame_ip(&f, A, B, IPPROTO_UDP, t, udp_head(t, 5000, 6000, 16), 5,
	    0x2000, 0x0800);
	ck_assert_uint_eq(run(&f, 0), FW_CTB_NEW);
	ck_assert_uint_eq(last.pkt.sport, 5000);
	ck_assert_uint_eq(last.pkt.frag, 0);
	/* A later one: flagged, no L4 field read, not tracked. */
	frame_ip(&f, A, B, IPPROTO_UDP, t, udp_head(t, 5000, 6000, 16), 5, 185,
	    0x0800);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_UNTRACKED);
	ck_assert_uint_eq(last.pkt.frag, 1);
	ck_assert_uint_eq(last.pkt.sport, 0);
	ck_assert_uint_eq(last.pkt.dport, 0);
	ck_assert_uint_eq(state(NULL), FW_CTS_NONE);
	/* A TCP header cut short (no padding: the frame ends there). */
	frame_ip(&f, A, B, IPPROTO_TCP, t, tcp_head(t, 1, 2, 1, 0, SYN, 0), 5,
	    0, 0x0800);
	f.len = 14 + 20 + 12;
	ck_assert_uint_eq(run(&f, 1), FW_CTB_INVALID);
	ck_assert_uint_eq(last.ct.kind, FW_CTK_BAD);
	ck_assert_uint_eq(last.pkt.sport, 0);
	/* Another protocol (GRE): not tracked. */
	frame_ip(&f, A, B, 47, t, 8, 5, 0, 0x0800);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_UNTRACKED);
	ck_assert_uint_eq(last.pkt.ipv4, 1);
	/* Not IPv4 (ARP): not parsed. */
	frame_ip(&f, A, B, 0, t, 8, 5, 0, 0x0806);
	ck_assert_uint_eq(run(&f, 1), FW_CTB_UNTRACKED);
	ck_assert_int_eq(last.parsed, -1);
	ck_assert_uint_eq(last.pkt.ipv4, 0);
}
END_TEST

static void
each_setup(void)
{
	flush();
}

int
main(void)
{
	Suite *s = suite_create("fw-ct-bpf");
	TCase *tc = tcase_create("sequences");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "fw-ct-bpf-test: needs root; skipped\n");
		return 77;
	}
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, each_setup, NULL);
	tcase_add_test(tc, tcp_open_close);
	tcase_add_test(tc, tcp_reverse);
	tcase_add_test(tc, tcp_invalid);
	tcase_add_test(tc, tcp_rst);
	tcase_add_test(tc, not_accepted);
	tcase_add_test(tc, udp_flow);
	tcase_add_test(tc, icmp_echo_flow);
	tcase_add_test(tc, icmp_errors);
	tcase_add_test(tc, parse);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
