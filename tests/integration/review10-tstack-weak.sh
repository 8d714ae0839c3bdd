#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 10, a break of the exit check (broker/exitcheck.c), expected to
# fail (tests/meson.build, should_fail) until it is fixed.  The check
# reads a transparent cube's instructions as libbpf holds them at open,
# before load; libbpf then rewrites more than CO-RE: the 64-bit loads of
# externs get the symbol's address in their immediate, 0 for a weak
# typeless __ksym the kernel does not have, whatever immediate (an addend) the ELF
# held.  evil_tweak (transparenthelloworld built with TH_EVIL_WEAK)
# passes with "r6 = cub_no_such_symbol + 2 ll; r0 = r6; exit": the check
# reads TC_ACT_SHOT, the kernel runs r0 = 0, TC_ACT_OK, and th1 (DROP),
# attached after it, never sees the packet.  What the test asks: the add
# is refused, or, if loaded, th1 still drops every ping.
. "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/tstack-skip.sh
. "$(dirname "$0")/../lib/tstack-skip.sh"
tstack_skip_attack evil_tweak
