#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 10, a break of the exit check, expected to fail (tests/meson.build,
# should_fail) until it is fixed.  check_insns() refuses a kfunc call by
# its src_reg != 0, but reads instructions as libbpf holds them at open,
# before load: a kfunc call is then "call -1" with src_reg 1
# (BPF_PSEUDO_CALL), the same as a call to a subprogram, which it lets
# through; libbpf writes BPF_PSEUDO_KFUNC_CALL and the BTF id at load.  So
# no kfunc was ever refused.  evil_tthrowm (transparenthelloworld built
# with TH_EVIL_THROWMAIN) calls bpf_throw(0) in its main function on
# PASS, then cub_pass_tc(): the exit check takes the kfunc for a call that
# returns and sees only TC_ACT_SHOT exits; the verifier's default
# exception callback returns the cookie, 0, TC_ACT_OK, and th1 (DROP),
# after it, never sees the packet.  What the test asks: the add is
# refused, or, if loaded, th1 drops every ping.
. "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/tstack-skip.sh
. "$(dirname "$0")/../lib/tstack-skip.sh"
tstack_skip_attack evil_tthrowm
