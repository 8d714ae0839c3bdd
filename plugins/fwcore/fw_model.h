/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_model.h: the BPF classifier (bpf/fw_classify.bpf.h) in C, against a
 * struct fw_image instead of the maps: the same lookups, the same bounded
 * loops, no recursion, so each step ports line for line.  The tests
 * compare it with fw_ref.h.
 */
#ifndef CUBICLE_FW_MODEL_H
#define CUBICLE_FW_MODEL_H

#include "fw_compile.h"

/**
 * @brief **fw_image_classify()** classifies pkt from the builtin chain
 * start: per used field of the chain a vector (longest-prefix match,
 * binary search over the intervals, small-field keys with the chain's
 * default, "unset" for L4 fields of a non-first fragment), their AND a
 * word at a time, set bits in order, a jump stack of FW_MAX_JUMP_DEPTH;
 * past FW_ITER_MAX steps the packet is dropped (res->capped).
 * @return 0 and *res, or -EINVAL (start is not a builtin chain)
 */
int fw_image_classify(const struct fw_image *img, uint32_t start,
    const struct fw_pkt *pkt, fw_post_fn post, void *arg,
    struct fw_result *res);

/** @brief The lowest set bit's index of v != 0 (De Bruijn, as in BPF). */
uint32_t fw_ctz64(uint64_t v);
/* The first word at or after wi that summary sum has, or FW_WORDS_MAX. */
uint32_t fw_sum_next(const uint64_t sum[FW_SUM_MAX], uint32_t wi);

#endif /* CUBICLE_FW_MODEL_H */
