/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_ref.h: the engine's reference, a plain linear evaluation of chains
 * of struct fw_rule on one packet with iptables' semantics.  The tests'
 * oracle for fw_image_classify() and the BPF classifier; not used on the
 * data path.
 */
#ifndef CUBICLE_FW_REF_H
#define CUBICLE_FW_REF_H

#include "fw_compile.h"

/**
 * @brief **fw_ref_match()** says whether one rule's matches (not its
 * post-conditions) hold for pkt.
 */
bool fw_ref_match(const struct fw_rule *r, const struct fw_env *env,
    const struct fw_pkt *pkt);

/**
 * @brief **fw_ref_classify()** runs pkt through chains from the builtin
 * chain start: rules in order; a match with no target or LOG is counted
 * and matching goes on; ACCEPT, DROP and REJECT end; JUMP calls a chain
 * (its end or RETURN comes back after the jump), GOTO does not come back
 * (its RETURN goes to the caller's caller); RETURN or the end of the
 * builtin chain: its policy.  post (NULL: always true) decides -m set,
 * -m limit and -m hashlimit.  Not IPv4: accepted, nothing counted.
 * @return 0 and *res, or -ENOENT (a jump to a missing chain), -ELOOP
 *         (nesting past FW_MAX_JUMP_DEPTH or a loop), -EINVAL
 */
int fw_ref_classify(const struct fw_chain *chains, uint32_t nchains,
    uint32_t start, const struct fw_env *env, const struct fw_pkt *pkt,
    fw_post_fn post, void *arg, struct fw_result *res);

#endif /* CUBICLE_FW_REF_H */
