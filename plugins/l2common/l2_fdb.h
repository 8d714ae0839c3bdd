/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * FDB upkeep shared by the L2 services (simplebridge, bridge): their
 * learned-host maps have 8-byte keys (a MAC, or a VLAN and a MAC) and
 * values that start with the host's port and the time it was last seen
 * (struct l2_entry).  Worker side only.
 */
#ifndef L2_FDB_H
#define L2_FDB_H

#include <stdint.h>

#include "cubicle/plugin.h"

/* The value shape both services' FDBs share. */
struct l2_entry {
	uint32_t port;
	uint32_t pad;
	uint64_t seen_ns; /* bpf_ktime_get_ns() when last seen */
};

/* An FDB key (8 bytes whatever it holds). */
struct l2_key {
	uint8_t b[8];
};

/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns()'s clock. */
uint64_t l2_mono_ns(void);

/* Forget the learned hosts of fdb behind port (UINT32_MAX: all); how
 * many, or -errno. */
int l2_forget(struct cub_cube *cube, const cub_map *fdb, uint32_t port);

/* Delete the hosts of fdb not seen for aging_ns (0 or -errno). */
int l2_sweep(struct cub_cube *cube, const cub_map *fdb, uint64_t aging_ns);

/* "02:00:00:00:00:01" into a new string value. */
struct cub_val *l2_mac_val(const uint8_t a[6]);

#endif
