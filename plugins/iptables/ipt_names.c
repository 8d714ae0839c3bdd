/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ipt_names.c: the names iptables 1.8.9 parses and prints (tables of
 * extensions/libxt_tcp.c, libxt_icmp.c, libxt_addrtype.c,
 * libipt_REJECT.c, libxt_LOG.c; rates as libxt_limit.c's print_rate()).
 */
#include <netdb.h>
#include <stdbool.h>
#include <string.h>

#include "ipt_names.h"

const struct ipt_tcp_flag_name ipt_tcp_flag_names[] = {
	{ "FIN", FW_TCP_FIN }, { "SYN", FW_TCP_SYN }, { "RST", FW_TCP_RST },
	{ "PSH", FW_TCP_PSH }, { "ACK", FW_TCP_ACK }, { "URG", FW_TCP_URG },
	{ "ALL", 0x3F }, { "NONE", 0 }, { NULL, 0 }
};

const struct ipt_icmp_name ipt_icmp_names[] = {
	{ "any", 0xFF, 0, 0xFF },
	{ "echo-reply", 0, 0, 0xFF },
	{ "pong", 0, 0, 0xFF },
	{ "destination-unreachable", 3, 0, 0xFF },
	{ "network-unreachable", 3, 0, 0 },
	{ "host-unreachable", 3, 1, 1 },
	{ "protocol-unreachable", 3, 2, 2 },
	{ "port-unreachable", 3, 3, 3 },
	{ "fragmentation-needed", 3, 4, 4 },
	{ "source-route-failed", 3, 5, 5 },
	{ "network-unknown", 3, 6, 6 },
	{ "host-unknown", 3, 7, 7 },
	{ "network-prohibited", 3, 9, 9 },
	{ "host-prohibited", 3, 10, 10 },
	{ "TOS-network-unreachable", 3, 11, 11 },
	{ "TOS-host-unreachable", 3, 12, 12 },
	{ "communication-prohibited", 3, 13, 13 },
	{ "host-precedence-violation", 3, 14, 14 },
	{ "precedence-cutoff", 3, 15, 15 },
	{ "source-quench", 4, 0, 0xFF },
	{ "redirect", 5, 0, 0xFF },
	{ "network-redirect", 5, 0, 0 },
	{ "host-redirect", 5, 1, 1 },
	{ "TOS-network-redirect", 5, 2, 2 },
	{ "TOS-host-redirect", 5, 3, 3 },
	{ "echo-request", 8, 0, 0xFF },
	{ "ping", 8, 0, 0xFF },
	{ "router-advertisement", 9, 0, 0xFF },
	{ "router-solicitation", 10, 0, 0xFF },
	{ "time-exceeded", 11, 0, 0xFF },
	{ "ttl-exceeded", 11, 0, 0xFF },
	{ "ttl-zero-during-transit", 11, 0, 0 },
	{ "ttl-zero-during-reassembly", 11, 1, 1 },
	{ "parameter-problem", 12, 0, 0xFF },
	{ "ip-header-bad", 12, 0, 0 },
	{ "required-option-missing", 12, 1, 1 },
	{ "timestamp-request", 13, 0, 0xFF },
	{ "timestamp-reply", 14, 0, 0xFF },
	{ "address-mask-request", 17, 0, 0xFF },
	{ "address-mask-reply", 18, 0, 0xFF },
	{ NULL, 0, 0, 0 }
};

/* In the order iptables prints them. */
const struct ipt_addrtype_name ipt_addrtype_names[] = {
	{ "UNICAST", FW_AT_UNICAST }, { "LOCAL", FW_AT_LOCAL },
	{ "BROADCAST", FW_AT_BROADCAST }, { "MULTICAST", FW_AT_MULTICAST },
	{ NULL, 0 }
};

const struct ipt_reject_name ipt_reject_names[] = {
	{ "icmp-net-unreachable", "net-unreach", FW_REJ_NET_UNREACH },
	{ "icmp-host-unreachable", "host-unreach", FW_REJ_HOST_UNREACH },
	{ "icmp-port-unreachable", "port-unreach", FW_REJ_PORT_UNREACH },
	{ "icmp-proto-unreachable", "proto-unreach", FW_REJ_PROTO_UNREACH },
	{ "icmp-net-prohibited", "net-prohib", FW_REJ_NET_PROHIB },
	{ "icmp-host-prohibited", "host-prohib", FW_REJ_HOST_PROHIB },
	{ "tcp-reset", "tcp-rst", FW_REJ_TCP_RESET },
	{ "icmp-admin-prohibited", "admin-prohib", FW_REJ_ADMIN_PROHIB },
	{ NULL, NULL, 0 }
};

const struct ipt_log_level ipt_log_level_in[] = {
	{ "alert", 1 }, { "crit", 2 }, { "debug", 7 }, { "emerg", 0 },
	{ "error", 3 }, { "info", 6 }, { "notice", 5 }, { "panic", 0 },
	{ "warning", 4 }, { "warn", 4 }, { NULL, 0 }
};
const char *const ipt_log_level_out[8] = {
	"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"
};

static const struct {
	const char *name;
	uint8_t num;
} protos[] = {
	{ "tcp", 6 }, { "udp", 17 }, { "udplite", 136 }, { "icmp", 1 },
	{ "esp", 50 }, { "ah", 51 }, { "sctp", 132 }, { "gre", 47 },
};

int
ipt_proto_number(const char *name)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(name, protos[i].name))
			return protos[i].num;
	return -1;
}

/* As iptables -S: the system's protocol name (/etc/protocols), else
 * iptables' own table, else NULL (print the number). */
const char *
ipt_proto_name(uint8_t proto)
{
	struct protoent *pe = getprotobynumber(proto);

	if (pe)
		return pe->p_name;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].num == proto)
			return protos[i].name;
	return NULL;
}

bool
ipt_is_target_name(const char *name)
{
	static const char *const t[] = { "ACCEPT", "DROP", "REJECT", "LOG",
					 "RETURN", "QUEUE" };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(name, t[i]))
			return true;
	return false;
}

void
ipt_rate_words(uint64_t period, uint64_t scale, uint32_t *n, char *unit)
{
	const uint64_t mult[4] = { scale * 86400, scale * 3600, scale * 60,
				   scale };
	static const char units[4] = { 'd', 'h', 'm', 's' };
	unsigned i;

	if (period == 0) {
		*n = 0;
		*unit = 's';
		return;
	}
	for (i = 1; i < 4; i++)
		if (period > mult[i] || mult[i] / period < mult[i] % period)
			break;
	*n = (uint32_t)(mult[i - 1] / period);
	*unit = units[i - 1];
}

const char *
ipt_rate_unit_name(char unit)
{
	switch (unit) {
	case 'd': return "day";
	case 'h': return "hour";
	case 'm': return "min";
	default: return "sec";
	}
}
