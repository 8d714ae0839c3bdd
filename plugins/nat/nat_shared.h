/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Maps shared by nat.bpf.c and its control plane nat.c (style rule 25).
 * Addresses and ports in network byte order, as in the packet.
 *
 *   nat_snat   LPM_TRIE  struct nat_lpm_key (internal-net) ->
 *              struct nat_rule_val (ip = external-ip): longest wins.
 *   nat_dnat   HASH      __u32 external-ip -> struct nat_rule_val
 *              (ip = internal-ip).
 *   nat_pf     HASH      struct nat_pf_key (external-ip, external-port,
 *              proto; proto 0 = all) -> struct nat_rule_val (ip, port =
 *              internal-ip, internal-port).
 *   nat_cfg    ARRAY[1]  struct nat_cfg: masquerade and its address.
 *   nat_port   ARRAY[1]  __u32: the next port to try (the BPF side's).
 *   nat_egress LRU_HASH  struct nat_sess_key (a packet going out, as
 *              the inside sends it) -> struct nat_sess_val (the source
 *              it gets): Polycube's egress_session_table, and what
 *              `natting-table show` lists.
 *   nat_ingress LRU_HASH struct nat_sess_key (a packet coming in, as the
 *              outside sends it) -> struct nat_sess_val (the destination
 *              it gets): Polycube's ingress_session_table; it is also
 *              what says an external port is in use.
 *   nat_stats  PERCPU_ARRAY[1] struct nat_stats.
 *
 * A session is live while the conntrack entry of its inside tuple is
 * (fw_ct, plugins/fwcore: the same state machine and timeouts as the
 * firewall's): each session value holds that entry's key.
 */
#ifndef NAT_SHARED_H
#define NAT_SHARED_H

#include <linux/types.h>

#include "fw_ct_shared.h"

/*
 * Sessions per table (Polycube: 32768): twice the conntrack's, so that
 * under pressure the LRU evicts conntrack entries (their sessions are
 * then dead) before the session entries that say a port is in use.
 */
#define NAT_SESS_MAX (2 * FW_CT_MAX)
/* Entries per rule kind (Polycube: 1024). */
#define NAT_RULES_MAX 1024
/* Ports tried for one new session before it counts as run out. */
#define NAT_PORT_TRIES 16
/* Ports handed out after the source's own: [NAT_PORT_LO, 65535]. */
#define NAT_PORT_LO 1024

enum nat_rule_kind {
	NAT_R_NONE = 0,
	NAT_R_SNAT = 1,
	NAT_R_DNAT = 2,
	NAT_R_MASQ = 3,
	NAT_R_PF = 4,
};

struct nat_lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct nat_pf_key {
	__u32 ext_ip;
	__u16 ext_port;
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP, 0 = all */
	__u8 pad;
};

struct nat_rule_val {
	__u32 ip;
	__u16 port; /* port forwarding only */
	__u16 pad;
	__u32 id; /* the rule's id, host order */
};

struct nat_cfg {
	__u32 masq_ip; /* 0: the attach point has no IPv4 address */
	__u8 masq_on;
	__u8 pad[3];
};

struct nat_sess_key {
	__u32 src, dst;
	__u16 sport, dport; /* ICMP echo: the identifier in both */
	__u8 proto;
	__u8 pad[3];
};

struct nat_sess_val {
	__u32 ip;   /* the new source (egress) or destination (ingress) */
	__u16 port; /* ICMP echo: the new identifier */
	__u8 rule;  /* enum nat_rule_kind */
	__u8 pad;
	struct fw_ct_key ct; /* the inside tuple's conntrack entry */
};

struct nat_stats {
	__u64 sessions;       /* sessions opened */
	__u64 port_exhausted; /* new sessions dropped: no free port */
	__u64 translated;     /* packets rewritten */
};

#endif
