/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_ct.h: the conntrack table fw_ct (fw_ct_shared.h, written by
 * bpf/fw_ct.bpf.h) as rows for the services' `session-table` shows
 * (issue 10; docs/firewall-contract.md section 3).
 */
#ifndef CUBICLE_FW_CT_H
#define CUBICLE_FW_CT_H

#include <stdbool.h>
#include <stdint.h>

#include "cubicle/plugin.h"
#include "fw_ct_shared.h"

/* One connection, as Polycube's session-table shows it. */
struct fw_ct_session {
	uint32_t src, dst;     /* host order: src opened the connection */
	uint16_t sport, dport; /* host order; ICMP echo: the identifier */
	uint8_t l4proto;       /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	uint8_t state;         /* enum fw_ct_state */
	uint64_t eta;          /* seconds left before the entry expires */
};

/*
 * @brief **fw_ct_decode()** one entry of fw_ct as a row, given the
 * CLOCK_BOOTTIME time now_ns.
 * @return false for an expired or malformed entry (no row)
 */
bool fw_ct_decode(const struct fw_ct_key *key, const struct fw_ct_val *val,
    uint64_t now_ns, struct fw_ct_session *row);

/*
 * @brief **fw_ct_sessions()** reads the cube's table (map, fw_ct) and
 * decodes its live entries into rows, at most max; *n says how many,
 * *total how many live entries there were (more than max: rows cut).
 * Rows are sorted by (l4proto, src, sport, dst, dport).  From an op
 * only (broker calls).
 * @return 0 or -errno (the broker's message in the op's error)
 */
int fw_ct_sessions(struct cub_cube *cube, const cub_map *map,
    struct fw_ct_session *rows, uint32_t max, uint32_t *n, uint32_t *total);

/* The fields of a `session-table` list of fw_ct_sessions() rows (a
 * schema's ro list's children). */
extern const struct cub_field fw_ct_session_fields[];
/*
 * @brief **fw_ct_session_list()** the first max rows of fw_ct_sessions()
 * as a `session-table` list (*list, the caller's), *total the live
 * entries.  From an op only.
 * @return 0 or -errno
 */
int fw_ct_session_list(struct cub_cube *cube, const cub_map *map, uint32_t max,
    struct cub_val **list, uint32_t *total);

/* "ESTABLISHED", "SYN_SENT"... or "UNKNOWN". */
const char *fw_ct_state_name(uint8_t state);
/* "tcp", "udp", "icmp" or NULL. */
const char *fw_ct_proto_name(uint8_t l4proto);

/* The CLOCK_BOOTTIME time in ns, the BPF side's bpf_ktime_get_boot_ns(). */
uint64_t fw_ct_now_ns(void);

#endif /* CUBICLE_FW_CT_H */
