/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Instruction builders for the checkers' unit tests (exitcheck_test.c,
 * loopcheck_test.c): each a struct bpf_insn compound literal.
 */
#ifndef CUBI_INSN_TEST_H
#define CUBI_INSN_TEST_H

#include <linux/bpf.h>

#define I(c, d, s, o, i)                                                       \
	((struct bpf_insn){.code = (c),                                        \
	    .dst_reg = (d),                                                    \
	    .src_reg = (s),                                                    \
	    .off = (o),                                                        \
	    .imm = (i)})
#define MOV64(d, imm) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, imm)
#define MOV32(d, imm) I(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, imm)
#define MOV64R(d, s) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV32R(d, s) I(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD64(d, imm) I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, imm)
#define JEQ(d, imm, o) I(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, imm)
#define JLT(d, imm, o) I(BPF_JMP | BPF_JLT | BPF_K, d, 0, o, imm)
#define JA(o) I(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define GOTOL(imm) I(BPF_JMP32 | BPF_JA, 0, 0, 0, imm)
#define MAY_GOTO(o) I(BPF_JMP | 0xe0, 0, 0, o, 0)
#define CALL(imm) I(BPF_JMP | BPF_CALL, 0, 0, 0, imm)
#define EXIT I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LDIMM64(d, s, lo, hi)                                                  \
	I(BPF_LD | BPF_IMM | BPF_DW, d, s, 0, lo), I(0, 0, 0, 0, hi)
#define LDX(d, s) I(BPF_LDX | BPF_MEM | BPF_W, d, s, 0, 0)
#define LDABS(imm) I(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, imm)
#define ATOMIC(s, op) I(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_10, s, -8, op)

#define PCALL(off) I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, off)
#define AND64(d, imm) I(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, imm)
#define RSH64(d, imm) I(BPF_ALU64 | BPF_RSH | BPF_K, d, 0, 0, imm)
#define JGT(d, imm, o) I(BPF_JMP | BPF_JGT | BPF_K, d, 0, o, imm)
#define JNE(d, imm, o) I(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, imm)
/* r = the callback at insn (this load's second slot) + o. */
#define LDFUNC(d, o) LDIMM64(d, BPF_PSEUDO_FUNC, o, 0)
#define LDMAP(d, fd) LDIMM64(d, BPF_PSEUDO_MAP_FD, fd, 0)

#endif /* CUBI_INSN_TEST_H */
