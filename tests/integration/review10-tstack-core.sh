#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 10, a break of the exit check (broker/exitcheck.c), expected to
# fail (tests/meson.build, should_fail) until it is fixed.  The check
# reads a transparent cube's instructions as libbpf holds them at open,
# before load; libbpf then applies CO-RE relocations, which rewrite
# instruction immediates.  evil_tcore (transparenthelloworld built with
# TH_EVIL_CORE) passes with bpf_core_enum_value() of an enum of the
# kernel's BTF (xdp_action) declared locally with XDP_ABORTED = 2: the
# check sees "r6 = 2 ll; r0 = r6; exit" (TC_ACT_SHOT) and loads it, the
# kernel runs "r6 = 0" (TC_ACT_OK), and the packet leaves the stack: th1
# (DROP), attached after it, never sees it.  What the test asks: the add
# is refused, or, if loaded, th1 still drops every ping.
. "$(dirname "$0")/../lib/netns.sh"
# shellcheck source=../lib/tstack-skip.sh
. "$(dirname "$0")/../lib/tstack-skip.sh"
tstack_skip_attack evil_tcore
