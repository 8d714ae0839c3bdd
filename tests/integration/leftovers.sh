#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The last test of the suite: no cubicled or cubicle-worker started by the
# suite outlives its test.  Processes of the suite are those whose program
# is in this build tree and whose command line names a test directory
# (/tmp/cubicle-test.*, made by tests/lib/netns.sh), so a developer's own
# broker does not fail it.  Survivors are listed and killed.
set -euo pipefail
: "${CUB_BUILD:?set CUB_BUILD to the meson build directory}"
CUB_BUILD=$(cd "$CUB_BUILD" && pwd)

survivors() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case "$exe" in
		# A program rebuilt since it started reads "... (deleted)".
		"$CUB_BUILD"/broker/cubicled | "$CUB_BUILD"/workers/cubicle-worker) ;;
		"$CUB_BUILD/broker/cubicled (deleted)") ;;
		"$CUB_BUILD/workers/cubicle-worker (deleted)") ;;
		*) continue ;;
		esac
		# A zombie is dead; PID 1 here may never reap it.
		grep -q '^State:[[:space:]]*Z' "$p/status" 2>/dev/null && continue
		grep -q '/tmp/cubicle-test\.' <<<"$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" ||
			continue
		echo "${p#/proc/}"
	done
}

# A process killed a moment ago may still be exiting: allow two seconds.
for _ in $(seq 1 20); do
	left=$(survivors)
	[ -z "$left" ] && break
	sleep 0.1
done
if [ -n "$left" ]; then
	echo "[leftovers] FAIL: processes of the suite still alive:" >&2
	for p in $left; do
		echo "  $p (ppid $(awk '/^PPid:/ { print $2 }' /proc/$p/status 2>/dev/null)):" \
			"$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" >&2
	done
	kill -9 $left 2>/dev/null || true
	exit 1
fi
echo "[leftovers] PASS: no cubicled or cubicle-worker of the suite is alive" >&2
