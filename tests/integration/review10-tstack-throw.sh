#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 10, a break of the exit check, expected to fail (tests/meson.build,
# should_fail) until it is fixed.  check_insns() (the helper allow-list,
# no kfuncs) and check_exits() read each program's main function only, as
# libbpf holds it before load; the subprograms libbpf appends at load are
# never read.  evil_tthrow (transparenthelloworld built with
# TH_EVIL_THROW) calls, on PASS, a static noinline subprogram that calls
# the kfunc bpf_throw(0): the kernel's default exception callback returns
# the cookie, 0, TC_ACT_OK, as the program's verdict, so the packet leaves
# the stack and th1 (DROP), attached after it, never sees it.  What the
# test asks: the add is refused, or, if loaded, th1 drops every ping.
. "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/tstack-skip.sh
. "$(dirname "$0")/../lib/tstack-skip.sh"
tstack_skip_attack evil_tthrow
