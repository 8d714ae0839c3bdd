// SPDX-License-Identifier: BSD-2-Clause
/*
 * spsrv.c: the SP-over-IPC framing, over a socketpair: a message fed a
 * byte at a time, each wire violation named, a close mid-frame, queued
 * replies written as the peer reads them, and a live listener's socket
 * file kept while a dead one's is replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <check.h>

#include "check_run.h"
#include "spsrv.h"

static const uint8_t req_hello[8] = {0, 'S', 'P', 0, 0, SP_PROTO_REQ, 0, 0};

static void
pair(int sv[2])
{
	ck_assert_int_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static void
put(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
}

static enum sp_rx_result
rd(struct sp_rx *rx, int fd, uint8_t **body, size_t *len, char *why)
{
	return sp_rx_read(rx, fd, SP_PROTO_REQ, 1000, body, len, why, 128);
}

START_TEST(byte_at_a_time)
{
	uint8_t frame[9 + 6] = {
	    1, 0, 0, 0, 0, 0, 0, 0, 6, 0x80, 0, 0, 1, 'h', 'i'};
	struct sp_rx rx = {0};
	uint8_t *body = NULL;
	char why[128];
	size_t len, i;
	int sv[2];

	pair(sv);
	for (i = 0; i < sizeof(req_hello); i++) {
		ck_assert_int_eq(rd(&rx, sv[0], &body, &len, why), SP_RX_AGAIN);
		put(sv[1], req_hello + i, 1);
	}
	ck_assert_int_eq(rd(&rx, sv[0], &body, &len, why), SP_RX_HELLO);
	for (i = 0; i < sizeof(frame); i++) {
		ck_assert_int_eq(rd(&rx, sv[0], &body, &len, why), SP_RX_AGAIN);
		put(sv[1], frame + i, 1);
	}
	/* The next frame's first byte is not read with this one. */
	put(sv[1], frame, 1);
	ck_assert_int_eq(rd(&rx, sv[0], &body, &len, why), SP_RX_MSG);
	ck_assert_uint_eq(len, 6);
	ck_assert(!memcmp(body, frame + 9, 6));
	free(body);
	ck_assert_int_eq(rd(&rx, sv[0], &body, &len, why), SP_RX_AGAIN);
	ck_assert_uint_eq(rx.pos, 1);
	close(sv[1]);
	ck_assert_int_eq(rd(&rx, sv[0], &body, &len, why), SP_RX_CLOSED);
	sp_rx_free(&rx);
	close(sv[0]);
}
END_TEST

/* Feed hello (8 bytes) then rest; expect SP_RX_BAD naming want. */
static void
bad(const uint8_t *hello, const void *rest, size_t n, const char *want)
{
	struct sp_rx rx = {0};
	enum sp_rx_result r;
	uint8_t *body = NULL;
	char why[128] = "";
	size_t len;
	int sv[2];

	pair(sv);
	put(sv[1], hello, 8);
	if (n)
		put(sv[1], rest, n);
	r = rd(&rx, sv[0], &body, &len, why);
	if (r == SP_RX_HELLO)
		r = rd(&rx, sv[0], &body, &len, why);
	ck_assert_int_eq(r, SP_RX_BAD);
	ck_assert_msg(strstr(why, want), "'%s' lacks '%s'", why, want);
	sp_rx_free(&rx);
	close(sv[0]);
	close(sv[1]);
}

START_TEST(violations)
{
	const uint8_t badhdr[8] = {0, 'S', 'Q', 0, 0, SP_PROTO_REQ, 0, 0};
	const uint8_t sub[8] = {0, 'S', 'P', 0, 0, SP_PROTO_SUB, 0, 0};
	const uint8_t tail[8] = {0, 'S', 'P', 0, 0, SP_PROTO_REQ, 0, 1};
	const uint8_t type2[9] = {2, 0, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t big[9] = {1, 0, 0, 0, 0, 0, 0, 0x03, 0xe9};

	bad(badhdr, NULL, 0, "not an SP header (00 53 51 00 00 30 00 00)");
	bad(tail, NULL, 0, "not an SP header");
	bad(sub, NULL, 0, "protocol 0x21, expected 0x30");
	bad(req_hello, type2, sizeof(type2), "message type 0x02");
	bad(req_hello, big, sizeof(big),
	    "message of 1001 bytes (at most 1000)");
}
END_TEST

START_TEST(closed_mid_frame)
{
	const uint8_t head[9 + 3] = {
	    1, 0, 0, 0, 0, 0, 0, 0, 100, 'a', 'b', 'c'};
	struct sp_rx rx = {0};
	uint8_t *body = NULL;
	char why[128];
	size_t len;
	int sv[2];

	pair(sv);
	put(sv[1], req_hello, 8);
	put(sv[1], head, sizeof(head));
	close(sv[1]);
	ck_assert_int_eq(rd(&rx, sv[0], &body, &len, why), SP_RX_HELLO);
	ck_assert_int_eq(rd(&rx, sv[0], &body, &len, why), SP_RX_CLOSED);
	sp_rx_free(&rx); /* the partial body: LeakSanitizer checks it */
	ck_assert_ptr_null(rx.body);
	close(sv[0]);
}
END_TEST

START_TEST(queue_waits_for_room)
{
	static uint8_t big[256 << 10];
	uint8_t hdr[4] = {0x80, 0, 0, 9}, *got;
	struct sp_txq q;
	size_t n = 0, want = 2 * (9 + 4 + sizeof(big));
	ssize_t k;
	int sv[2], r;

	memset(big, 'x', sizeof(big));
	pair(sv);
	sp_txq_init(&q);
	ck_assert_int_eq(sp_txq_push(&q, hdr, 4, big, sizeof(big)), 0);
	ck_assert_int_eq(sp_txq_push(&q, hdr, 4, big, sizeof(big)), 0);
	ck_assert_uint_eq(q.n, 2);
	got = malloc(want);
	/* More than a socket buffer: written as the peer reads. */
	while ((r = sp_txq_flush(&q, sv[0])) == -EAGAIN) {
		k = read(sv[1], got + n, want - n);
		ck_assert_int_gt(k, 0);
		n += (size_t)k;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(q.n, 0);
	ck_assert_uint_eq(q.bytes, 0);
	while (n < want && (k = read(sv[1], got + n, want - n)) > 0)
		n += (size_t)k;
	ck_assert_uint_eq(n, want);
	ck_assert_int_eq(got[0], 1);
	ck_assert_int_eq(got[8], (4 + sizeof(big)) & 0xff);
	ck_assert_int_eq(got[7], ((4 + sizeof(big)) >> 8) & 0xff);
	ck_assert(!memcmp(got + 9, hdr, 4));
	ck_assert_int_eq(got[9 + 4 + sizeof(big)], 1);
	free(got);
	/* A peer gone: an error, and the queue can still be freed. */
	ck_assert_int_eq(sp_txq_push(&q, NULL, 0, "e", 1), 0);
	close(sv[1]);
	ck_assert_int_eq(sp_txq_flush(&q, sv[0]), -EPIPE);
	sp_txq_free(&q);
	ck_assert_uint_eq(q.n, 0);
	close(sv[0]);
}
END_TEST

START_TEST(listen_live_and_stale)
{
	char dir[] = "/tmp/spsrv-test-XXXXXX", path[64];
	struct stat st;
	int fd, again;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	fd = sp_listen(path);
	ck_assert_int_ge(fd, 0);
	/* Live: refused, and its file kept. */
	ck_assert_int_eq(sp_listen(path), -EADDRINUSE);
	ck_assert_int_eq(stat(path, &st), 0);
	/* Dead (closed without removing its file): replaced. */
	close(fd);
	again = sp_listen(path);
	ck_assert_int_ge(again, 0);
	close(again);
	unlink(path);
	/* Not a socket: refused, left alone. */
	close(open(path, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(sp_listen(path), -EEXIST);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	unlink(path);
	rmdir(dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spsrv");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, byte_at_a_time);
	tcase_add_test(tc, violations);
	tcase_add_test(tc, closed_mid_frame);
	tcase_add_test(tc, queue_waits_for_room);
	tcase_add_test(tc, listen_live_and_stale);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
