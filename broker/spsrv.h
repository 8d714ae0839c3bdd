/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The broker's side of nng's SP-over-IPC wire protocol (RFC sp-ipc-mapping)
 * on plain AF_UNIX stream sockets: listening, the 8-byte protocol header,
 * message framing in and a queue of framed messages out.  No threads and
 * no state beyond what a caller hands in; clients.c owns connections.
 *
 * On connect each side sends {0x00, 'S', 'P', 0x00, proto >> 8,
 * proto & 0xff, 0, 0}; then each message is the byte 0x01, its length as
 * 8 big-endian bytes, and its body.
 */
#ifndef CUBICLED_SPSRV_H
#define CUBICLED_SPSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_PROTO_PUB 0x20
#define SP_PROTO_SUB 0x21
#define SP_PROTO_REQ 0x30
#define SP_PROTO_REP 0x31

#define SP_HELLO_LEN 8
#define SP_HEAD_LEN 9

/*
 * Listen on path (an AF_UNIX stream socket, non-blocking, close-on-exec).
 * A socket file left by a dead process is replaced; one a live process
 * listens on is refused with -EADDRINUSE.  The fd, or -errno.
 */
int sp_listen(const char *path);

/* Send our header for proto on fd (just accepted).  0, or -errno. */
int sp_hello_send(int fd, uint16_t proto);

/* A connection's receive side: the header, then messages one by one. */
struct sp_rx {
	bool hello; /* peer's header received and checked */
	uint8_t head[SP_HEAD_LEN];
	size_t pos;    /* bytes of head (or hello) so far */
	uint8_t *body; /* while a body is being read */
	size_t len, got;
};

enum sp_rx_result {
	SP_RX_AGAIN = 0, /* nothing complete: wait for the fd to be readable */
	SP_RX_HELLO,     /* the peer's header arrived and is acceptable */
	SP_RX_MSG,       /* a message: *body (malloc'd, caller frees), *len */
	SP_RX_CLOSED,    /* the peer closed (or reset) its end */
	SP_RX_BAD,       /* a protocol violation: why says what */
};

/*
 * Read from fd what the next step needs, without blocking and without
 * reading past it (so a readable fd still means unread input).  peer is
 * the protocol the peer must speak; max the largest body accepted.
 */
enum sp_rx_result sp_rx_read(struct sp_rx *rx, int fd, uint16_t peer,
    size_t max, uint8_t **body, size_t *len, char *why, size_t whylen);
void sp_rx_free(struct sp_rx *rx);

/* A connection's send side: framed messages waiting for room. */
struct sp_tx_msg {
	struct sp_tx_msg *next;
	size_t len, off;
	uint8_t data[];
};

struct sp_txq {
	struct sp_tx_msg *head, **tail;
	unsigned n;
	size_t bytes;
};

void sp_txq_init(struct sp_txq *q);
/* Queue a message of len bytes (hdr, then body).  0 or -ENOMEM. */
int sp_txq_push(struct sp_txq *q, const void *hdr, size_t hdrlen,
    const void *body, size_t len);
/* Write what fd takes.  0 (all sent), -EAGAIN (more left), or -errno. */
int sp_txq_flush(struct sp_txq *q, int fd);
void sp_txq_free(struct sp_txq *q);

#endif
