/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_ct_shared.h: the conntrack table `fw_ct` as the BPF side
 * (bpf/fw_ct.bpf.h) writes it and the user side (fw_ct.c) reads it
 * (issue 10; docs/firewall-contract.md section 3).
 *
 * One LRU hash of FW_CT_MAX entries.  The key holds the two endpoints
 * ordered (the lower (address, port) first), so a packet and its reply
 * find the same entry with one lookup; the value says which endpoint
 * opened the connection (odir) and when the entry expires, on the
 * CLOCK_BOOTTIME clock (bpf_ktime_get_boot_ns(): it keeps counting in
 * suspend, as the user side's clock_gettime(CLOCK_BOOTTIME) does).
 * Addresses and ports are in network byte order, as in the packet.
 */
#ifndef CUBICLE_FW_CT_SHARED_H
#define CUBICLE_FW_CT_SHARED_H

#include <linux/types.h>

#define FW_CT_MAX 65536

struct fw_ct_key {
	__u32 a_addr; /* the lower endpoint (address, then port) */
	__u32 b_addr;
	__u16 a_port; /* ICMP echo: the identifier, in both */
	__u16 b_port;
	__u8 l4proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	__u8 pad[3];
};

/* Entry states.  UDP and ICMP use FW_CTS_NEW and FW_CTS_ESTABLISHED. */
enum fw_ct_state {
	FW_CTS_NONE = 0,
	FW_CTS_NEW,         /* UDP, ICMP: no reply seen yet */
	FW_CTS_ESTABLISHED, /* TCP after the handshake; UDP, ICMP: replied */
	FW_CTS_SYN_SENT,
	FW_CTS_SYN_RECV,
	FW_CTS_FIN_WAIT, /* one side sent FIN */
	FW_CTS_LAST_ACK, /* both sent FIN: the last ACK is awaited */
	FW_CTS_TIME_WAIT,
	FW_CTS_NSTATES,
};

struct fw_ct_val {
	__u64 expires_ns; /* CLOCK_BOOTTIME; past it the entry is gone */
	__u32 seq;        /* host order: SYN_SENT the SYN's, SYN_RECV the
			     SYN-ACK's, LAST_ACK the second FIN's */
	__u8 state;       /* enum fw_ct_state */
	__u8 odir;        /* 0: a opened the connection, 1: b did */
	__u8 fin_dir;     /* FIN_WAIT, LAST_ACK: who sent the first FIN */
	__u8 pad;
};

/* Timeouts in seconds, Polycube's (pcn-iptables ConntrackTableUpdate). */
#define FW_CT_TO_TCP_ESTABLISHED 432000
#define FW_CT_TO_TCP_SYN_SENT    120
#define FW_CT_TO_TCP_SYN_RECV    60
#define FW_CT_TO_TCP_FIN_WAIT    120
#define FW_CT_TO_TCP_LAST_ACK    30
#define FW_CT_TO_TCP_TIME_WAIT   120
#define FW_CT_TO_UDP_NEW         30
#define FW_CT_TO_UDP_ESTABLISHED 180
#define FW_CT_TO_ICMP            30

#endif
