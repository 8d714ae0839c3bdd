#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A plugin constructor cannot loosen or fake the worker's seccomp filter:
# the filter it runs under is the worker's final one, which refuses
# seccomp() itself. The evil plugin's constructor stacks a filter making
# seccomp() a no-op (which would leave a later, stricter filter
# uninstalled): refused; afterwards the plugin can stat() no path, add no
# filter, open /etc/passwd no more than before (it is not in the worker's
# root), while a system library still opens (what dlopen() needs, within
# Landlock).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
broker_start

pid=$(worker_pid evil)
st=/proc/$pid/status
grep -qE "^Seccomp:\s+2$" $st || fail "evil: $(grep ^Seccomp: $st)"
# One filter: the worker's. A stacked one (the constructor's) would add one.
grep -qE "^Seccomp_filters:\s+1$" $st || fail "evil: $(grep ^Seccomp_filters: $st)"

cub_ok evil add e1
f=$(cub e1 debug filter -o json) || fail "debug filter: $f"
cub_log "plugin saw: $(tr -d '\n' <<<"$f")"
for want in '"constructor": "Operation not permitted"' \
	'"stat_shadow": "refused: Permission denied"' \
	'"filter_now": "refused: Operation not permitted"' \
	'"open_passwd": "refused: No such file or directory"' '"open_lib": "done"'; do
	grep -qF "$want" <<<"$f" || fail "filter: $want missing in: $f"
done
[ "$(worker_pid evil)" = "$pid" ] || fail "the attempts killed the worker"
grep -qE "^Seccomp_filters:\s+1$" $st || fail "evil: $(grep ^Seccomp_filters: $st)"
cub_log "constructor's filter refused, worker $pid keeps its one filter"
