# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# The two test tenants' CLIs (tenants.sh, tenant-quotas.sh, review22-*):
# ta is uid $A (60001), tb uid $B (60002), each a member of the socket
# group 65534 so that it passes the sockets' permission.  Source after
# netns.sh.
need setpriv
A=60001 B=60002

# as_uid UID ARGS...: the CLI as UID.  ta ARGS..., tb ARGS...: as each tenant.
as_uid() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --groups=65534 \
		"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null
}
ta() { as_uid "$A" "$@"; }
tb() { as_uid "$B" "$@"; }
# ok CMD...: CMD must succeed (its output discarded).
ok() { "$@" >/dev/null 2>"$T/err" || fail "$*: $(cat "$T/err")"; }
