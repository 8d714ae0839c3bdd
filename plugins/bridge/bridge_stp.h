/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bridge: 802.1D (1998) spanning tree, one instance per VLAN (PVST-like),
 * worker side.  The protocol is clause 8 of 802.1D as Linux's
 * net/bridge/br_stp*.c implements it: root election, root and designated
 * ports, config BPDUs, message age, listening -> learning -> forwarding
 * by forward delay, topology change notification (TCN).  It knows nothing
 * of maps or sockets: it calls send() for each BPDU and leaves the port
 * states in stp_port.state for its caller to write.  Times in ms.
 */
#ifndef BRIDGE_STP_H
#define BRIDGE_STP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge_shared.h"
#include "cube_shared.h" /* CUB_MAX_PORTS */

#define STP_PORTS CUB_MAX_PORTS
#define STP_BPDU_CONFIG_LEN 35 /* after LLC 42 42 03 */
#define STP_BPDU_TCN_LEN 4

/* Defaults and bounds (802.1D-1998 table 8-3; Polycube's names). */
#define STP_PRIO_DFLT 32768
#define STP_FWD_DFLT 15
#define STP_HELLO_DFLT 2
#define STP_MAXAGE_DFLT 20
#define STP_PATHCOST_DFLT 4
#define STP_PORTPRIO_DFLT 128
#define STP_HOLD_MS 1000

enum stp_role {
	STP_R_DISABLED = 0,
	STP_R_ROOT = 1,
	STP_R_DESIGNATED = 2,
	STP_R_BLOCKED = 3, /* alternate or backup */
};

struct stp_port {
	bool member;  /* the VLAN's port */
	bool enabled; /* member with its link up */
	uint16_t port_id;
	uint32_t path_cost;
	uint8_t state; /* enum br_pstate_v */
	/* Designated information of the port's segment. */
	uint64_t d_root;
	uint32_t d_cost;
	uint64_t d_bridge;
	uint16_t d_port;
	bool tc_ack, config_pending;
	int64_t age_base; /* now - message age of the stored info */
	int64_t t_msg_age, t_fwd, t_hold; /* deadlines; 0: stopped */
	uint64_t rx_bpdus, tx_bpdus;
};

struct stp_inst {
	uint16_t vid;
	uint64_t bridge_id;
	/* Configured (bridge_*) and in use (from the root) times, ms. */
	uint32_t b_max_age, b_hello, b_fwd;
	uint32_t max_age, hello, fwd;
	uint64_t d_root;
	uint32_t root_cost;
	int root_port; /* index, -1: none (we are root) */
	bool tc, tc_detected;
	int64_t t_hello, t_tcn, t_tc;
	/* After a worker restart: no port leaves listening before this. */
	int64_t hold_until;
	uint64_t tc_count;
	/* Set when some port's state changed (the caller clears it). */
	bool dirty;
	/* Ports whose state left forwarding or learning (the caller
	 * forgets their hosts in the VLAN, then clears). */
	uint32_t flushed[BR_WORDS];
	void *ctx;
	void (*send)(void *ctx, uint32_t port, uint16_t vid,
	    const uint8_t *bpdu, size_t len);
	struct stp_port p[STP_PORTS];
};

/* A new instance: every member port in seed's state (NULL: blocking),
 * the bridge believing itself root; then stp_start(). */
void stp_init(struct stp_inst *s, uint16_t vid, uint64_t bridge_id,
    uint32_t max_age, uint32_t hello, uint32_t fwd);
void stp_start(struct stp_inst *s, int64_t now);
/* Membership and link: a port joins (enabled or not), leaves, goes up
 * or down. */
void stp_port_join(struct stp_inst *s, uint32_t port, bool up, uint16_t port_id,
    uint32_t path_cost, uint8_t seed, int64_t now);
void stp_port_leave(struct stp_inst *s, uint32_t port, int64_t now);
void stp_port_enable(struct stp_inst *s, uint32_t port, int64_t now);
void stp_port_disable(struct stp_inst *s, uint32_t port, int64_t now);
/* Parameter changes. */
void stp_set_bridge_id(struct stp_inst *s, uint64_t id, int64_t now);
void stp_set_times(
    struct stp_inst *s, uint32_t max_age, uint32_t hello, uint32_t fwd);
void stp_set_port(struct stp_inst *s, uint32_t port, uint16_t port_id,
    uint32_t path_cost, int64_t now);
/* A BPDU (the bytes after LLC 42 42 03) received on port. */
void stp_rx(struct stp_inst *s, uint32_t port, const uint8_t *b, size_t len,
    int64_t now);
/* Timers due at now. */
void stp_tick(struct stp_inst *s, int64_t now);

bool stp_is_root(const struct stp_inst *s);
enum stp_role stp_role(const struct stp_inst *s, uint32_t port);
const char *stp_state_str(uint8_t state);
const char *stp_role_str(enum stp_role r);
/* "8000.02:00:00:00:00:01" (priority in hex, as Linux shows it). */
void stp_id_str(uint64_t id, char *buf, size_t len);

#endif
