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
	__u32 seq;        /* host order: the acknowledgement number that
			     answers the SYN (SYN_SENT), the SYN-ACK
			     (SYN_RECV) or the second FIN (LAST_ACK): its
			     sequence number + payload + 1 */
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

/*
 * The labels fw_ct_label() gives (struct fw_pkt's ct): one bit each, the
 * values of fw_rule.h's enum fw_ct_bit (FW_CT_NEW...), which a .bpf.c
 * cannot include; fw_ct.c checks that the two agree.
 */
#define FW_CTB_NEW         (1u << 0)
#define FW_CTB_ESTABLISHED (1u << 1)
#define FW_CTB_RELATED     (1u << 2)
#define FW_CTB_INVALID     (1u << 3)
#define FW_CTB_UNTRACKED   (1u << 4)

/* What fw_parse() found for conntrack (struct fw_ct_pkt's kind). */
enum fw_ct_kind {
	FW_CTK_NONE = 0, /* not tracked: not IPv4, another protocol, a
			    fragment after the first */
	FW_CTK_BAD,      /* TCP, UDP or ICMP too short to read, an ICMP
			    type conntrack knows nothing of: INVALID */
	FW_CTK_FLOW,     /* TCP, UDP, ICMP echo: key is the packet's */
	FW_CTK_ICMP_ERR, /* destination unreachable, time exceeded: key is
			    the embedded header's flow */
};

/* ICMP bytes an error's embedded header needs: the ICMP header (8), the
 * embedded IPv4 header without options (20) and 8 bytes of its L4. */
#define FW_CT_ICMP_ERR_LEN 36

/*
 * What conntrack needs of a packet beyond struct fw_pkt (fw_shared.h),
 * filled by fw_parse() next to it.  Lives in a per-CPU map value (the
 * key is a map key: never on the stack, see cube.bpf.h "Map keys and
 * Spectre v4"); the BPF_PROG_TEST_RUN test reads it too.
 */
struct fw_ct_pkt {
	struct fw_ct_key key; /* the flow's (ICMP error: the embedded one's) */
	struct fw_ct_val nv;  /* scratch: a new entry before its insert */
	__u64 now_ns;  /* CLOCK_BOOTTIME at fw_ct_label() */
	__u32 seq;     /* TCP, host order: sequence number */
	__u32 ack;     /* TCP, host order: acknowledgement number */
	__u32 seq_end; /* TCP: seq + payload + SYN + FIN, what answers it */
	__u32 saddr, daddr; /* host order: the flow's endpoints as the */
	__u16 sport, dport; /* packet (an ICMP error: its quote) has them;
			       ICMP echo: the identifier in both ports */
	__u8 kind;     /* enum fw_ct_kind */
	__u8 dir;      /* 0: the packet goes from a to b, 1: from b to a */
	__u8 icmp_reply; /* an echo reply (opens nothing) */
	__u8 pad;
	__u8 icmp[FW_CT_ICMP_ERR_LEN]; /* scratch: the ICMP error's bytes */
};

#endif
