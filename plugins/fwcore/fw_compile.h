/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_compile.h: the engine's user side (docs/firewall-contract.md,
 * section 2).  Chains of struct fw_rule compile into a struct fw_image,
 * the contents of the maps the BPF classifier reads (fw_shared.h):
 * Linear Bit Vector Search, one bit per rule of a chain.
 *
 * Pure C, no allocation kept between calls, no locks: the caller owns
 * every object it passes and gets.
 */
#ifndef CUBICLE_FW_COMPILE_H
#define CUBICLE_FW_COMPILE_H

#include <stddef.h>

#include "fw_rule.h"
#include "fw_shared.h"

struct fw_chain {
	char name[FW_CHAIN_NAME_MAX + 1];
	bool builtin;          /* INPUT/FORWARD/OUTPUT, INGRESS/EGRESS */
	enum fw_target policy; /* builtin: FW_T_ACCEPT or FW_T_DROP */
	uint32_t policy_slot;  /* counter slot of the policy */
	const struct fw_rule *rules;
	uint32_t nrules;
};

/* What compiling (and the reference, fw_ref.h) needs from outside. */
struct fw_env {
	/*
	 * The ifindexes an -i/-o name matches ('+' wildcards): at most max
	 * written to idx, returns how many match (more than max: an error)
	 * or -errno.  Called once per distinct name of a chain; NULL: no
	 * interfaces.  The empty name matches every interface and is not
	 * asked.
	 */
	int (*ifmatch)(
	    void *arg, const char *name, uint32_t *idx, uint32_t max);
	/* The id of a set named by -m set, or -ENOENT; NULL: no sets. */
	int (*setid)(void *arg, const char *name, uint32_t *id, uint32_t *type);
	void *arg;
};

/* Interfaces one -i/-o name may match. */
#define FW_IFLIST_MAX 4096

/*
 * A rule's post-conditions (-m set, -m limit, -m hashlimit), asked when
 * every other match of the rule matched: true if they hold.
 */
typedef bool (*fw_post_fn)(
    void *arg, uint32_t rule_slot, const struct fw_pkt *pkt);

#define FW_RES_COUNTED_MAX 4096
#define FW_RES_LOG_MAX 64

/* The outcome of one packet (fw_ref_classify(), fw_image_classify()). */
struct fw_result {
	uint8_t verdict;     /* FW_T_ACCEPT, FW_T_DROP or FW_T_REJECT */
	uint8_t reject_with; /* FW_T_REJECT: enum fw_reject_with */
	bool capped;         /* the iteration cap dropped it (model only) */
	uint32_t slot;       /* the rule or policy slot that decided */
	/* Every counter bumped, in order: each matching rule (LOG, JUMP,
	 * GOTO, RETURN and the deciding rule included), then the policy
	 * if it decided.  Past FW_RES_COUNTED_MAX only ncounted grows. */
	uint32_t ncounted;
	uint32_t counted[FW_RES_COUNTED_MAX];
	/* LOG rules that matched (their slots), in order, as ncounted. */
	uint32_t nlog;
	uint32_t log[FW_RES_LOG_MAX];
};

/* One LPM entry of fw__addr, one small-field entry of fw__small. */
struct fw_addr_ent {
	struct fw_addr_key key;
	__u32 vid;
};

struct fw_small_ent {
	struct fw_small_key key;
	__u32 vid;
};

/*
 * A compiled ruleset: exactly what each map will hold.  addr and small
 * are sorted (fw_addr_key_cmp(), fw_small_key_cmp()); ival holds each
 * chain's fields' intervals at fw_chain_meta.ival_base, sorted by lo,
 * the first at 0; act holds each chain's rules from rule_base.
 */
struct fw_image {
	uint64_t *vec;
	uint32_t nvec; /* words */
	struct fw_addr_ent *addr;
	uint32_t naddr;
	struct fw_ival *ival;
	uint32_t nival;
	struct fw_small_ent *small;
	uint32_t nsmall;
	struct fw_chain_meta *chain;
	uint32_t nchains;
	struct fw_act *act;
	uint32_t nact;
	struct fw_logp *logp;
	uint32_t nlogp;
};

/**
 * @brief **fw_compile()** compiles chains into an image.
 * @param chains the builtins first, in the order the service's BPF
 *        program numbers them (firewall: INGRESS 0, EGRESS 1; iptables:
 *        INPUT 0, FORWARD 1, OUTPUT 2), then the user chains
 * @param err on failure, names the chain, the rule number (from 1) and
 *        the reason
 * @return 0 and *out (free with fw_image_free()), or -errno: -EINVAL
 *         (a rule the engine refuses), -ENOENT (a missing chain or set),
 *         -ELOOP (a jump loop or nesting past FW_MAX_JUMP_DEPTH), -E2BIG
 *         (more than the maps hold), -ENOMEM
 */
int fw_compile(const struct fw_chain *chains, uint32_t nchains,
    const struct fw_env *env, struct fw_image **out, char *err, size_t errlen);

/** @brief **fw_image_free()** frees an image; takes NULL, returns NULL. */
struct fw_image *fw_image_free(struct fw_image *img);

/** @brief Map bytes the image's entries take (keys and values). */
uint64_t fw_image_bytes(const struct fw_image *img);

/** @brief Map bytes the maps take at their declared sizes (fw_shared.h). */
uint64_t fw_image_declared_bytes(void);

int fw_addr_key_cmp(const void *a, const void *b);
int fw_small_key_cmp(const void *a, const void *b);

#endif /* CUBICLE_FW_COMPILE_H */
