/* SPDX-License-Identifier: BSD-2-Clause */
/* bridge: types shared by the BPF object and the worker. */
#ifndef BRIDGE_SHARED_H
#define BRIDGE_SHARED_H

#include <linux/types.h>

#define BR_VLAN_MAX 4094 /* 802.1Q: 1..4094 (0 and 4095 are reserved) */
#define BR_VLANS 4096    /* br_vlan entries, by VLAN id */
#define BR_WORDS 4       /* CUB_MAX_PORTS / 32 */
#define BR_FDB_MAX 81920
#define BR_STATIC_MAX 4096
#define BR_PSTATE_MAX 16384

/* br_fdb and br_static key: (vlan, mac). */
struct br_key {
	__u16 vlan;
	__u8 addr[6];
};

/* br_fdb and br_static values. */
struct br_entry {
	__u32 port;
	__u32 pad;
	__u64 seen_ns; /* bpf_ktime_get_ns() when last seen (br_fdb) */
};

/* br_port[port index]: written by the worker from the port's config. */
#define BR_P_VALID 0x1u  /* a port of the document */
#define BR_P_TRUNK 0x2u  /* mode trunk (else access) */
#define BR_P_NATIVE 0x4u /* trunk: untagged frames are native-vlan's */
struct br_port {
	__u16 flags;
	__u16 pvid; /* access: the access VLAN; trunk: the native VLAN */
};

/*
 * br_vlan[vid]: the ports of VLAN vid (port indices, one bit each), as
 * the worker computes them: an access port is in its access VLAN, a
 * trunk port in each allowed VLAN and, native VLAN on, in the native
 * one.  untag: those of them that send the VLAN's frames without a tag
 * (access ports; a trunk's native VLAN when it is on).  fwd: those that
 * forward (the members minus the ports br_pstate says are not
 * forwarding: STP's; every member when STP is off): a flood goes to fwd.
 */
struct br_vlan {
	__u32 members[BR_WORDS];
	__u32 untag[BR_WORDS];
	__u32 fwd[BR_WORDS];
	__u32 pstate; /* BR_VS_*: BR_VS_STATES, br_pstate has entries of
			 this VLAN (else every port forwards: no lookup);
			 BR_VS_STP, its BPDUs go to the worker */
	__u32 pad;
};

#define BR_VS_STATES 0x1u
#define BR_VS_STP 0x2u

/* packet-in reason of a BPDU: BR_REASON_BPDU | its VLAN. */
#define BR_REASON_BPDU 0x53540000u
#define BR_REASON_IS_BPDU(r) (((r) & 0xffff0000u) == BR_REASON_BPDU)

/*
 * br_pstate: the state of a port in a VLAN, for spanning tree
 * (Polycube's per-VLAN STP; the worker's bridge_stp.c).  No entry:
 * forwarding.  Looked up only for a VLAN whose br_vlan.pstate is set.
 * The fast path drops what a blocking or listening port receives, learns
 * but drops what a learning port receives, and sends nothing out of a
 * port that is not forwarding (a known host behind it: dropped; a flood:
 * fwd[] of br_vlan leaves it out).
 */
struct br_pkey {
	__u16 port;
	__u16 vlan;
};
enum br_pstate_v {
	BR_PS_FORWARDING = 0,
	BR_PS_BLOCKING = 1,
	BR_PS_LISTENING = 2,
	BR_PS_LEARNING = 3,
	BR_PS_DISABLED = 4,
};
struct br_pstate {
	__u32 state; /* enum br_pstate_v */
};

/* br_config[0]. */
struct br_config {
	__u64 aging_ns;
};

/* br_stats[port index], per CPU: read by the broker (show). */
struct br_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets; /* to a known host out of this port */
	__u64 tx_bytes;
	__u64 drops;      /* received and dropped (all reasons) */
	__u64 floods;     /* received and flooded in their VLAN */
	__u64 vlan_drops; /* of drops: a VLAN the port does not carry, a
			     tag on an access port, untagged on a trunk
			     with native VLAN off */
	__u64 bpdus;      /* BPDUs received and given to the worker (STP
			     on; not in drops) */
};

/* Per-CPU keys (cube.bpf.h: keep map keys out of the fenced stack). */
struct br_scratch {
	struct br_key src;
	struct br_key dst;
	struct br_entry learn;
	struct br_pkey pk;
	__u32 vid;
	__u32 pad;
};

#endif
