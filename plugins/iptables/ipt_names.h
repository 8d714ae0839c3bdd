/* SPDX-License-Identifier: BSD-2-Clause */
/* ipt_names.h: iptables' name tables (private to plugins/iptables). */
#ifndef CUBICLE_IPT_NAMES_H
#define CUBICLE_IPT_NAMES_H

#include <stdint.h>

#include "../fwcore/fw_rule.h"

/* Rates: -m limit counts in 1/10000 s (XT_LIMIT_SCALE), -m hashlimit
 * (revision 3) in 1/1000000 s; fw_limit.rate_ns = period * *_NS. */
#define IPT_LIMIT_SCALE  10000ull
#define IPT_LIMIT_NS     100000ull
#define IPT_HLIMIT_SCALE 1000000ull
#define IPT_HLIMIT_NS    1000ull

struct ipt_tcp_flag_name {
	const char *name;
	uint8_t flag;
};
extern const struct ipt_tcp_flag_name ipt_tcp_flag_names[];

struct ipt_icmp_name {
	const char *name;
	uint8_t type, code_min, code_max;
};
extern const struct ipt_icmp_name ipt_icmp_names[];

struct ipt_addrtype_name {
	const char *name;
	uint8_t bit;
};
extern const struct ipt_addrtype_name ipt_addrtype_names[];

struct ipt_reject_name {
	const char *name, *alias;
	enum fw_reject_with kind;
};
extern const struct ipt_reject_name ipt_reject_names[];

struct ipt_log_level {
	const char *name;
	uint8_t level;
};
extern const struct ipt_log_level ipt_log_level_in[];  /* accepted */
extern const char *const ipt_log_level_out[8];         /* -L names */

int ipt_proto_number(const char *name);  /* tcp, udp, icmp, gre...; -1 */
const char *ipt_proto_name(uint8_t proto); /* or NULL */
bool ipt_is_target_name(const char *name);
const char *ipt_mod_name(int mod);
/* The rate as iptables prints it (libxt_limit.c print_rate()). */
void ipt_rate_words(uint64_t period, uint64_t scale, uint32_t *n,
		    char *unit);
const char *ipt_rate_unit_name(char unit);

#endif /* CUBICLE_IPT_NAMES_H */
