#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A worker sees no host path: it runs in a mount namespace of its own whose
# root holds only its plugin and the system libraries, read-only.  From
# inside the worker, the metadata of a file the test made (known size) and
# of /etc/shadow cannot be had any way a path gets past the seccomp filter
# (a raw newfstatat() with AT_EMPTY_PATH, from AT_FDCWD and from an O_PATH
# descriptor of "/", an O_PATH open then fstat()): each fails with ENOENT,
# and "/" is not the host's.  The worker's mountinfo lists only the
# minimal mounts, all read-only, and the worker still serves and restarts.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
broker_start

# A file the worker's uid could stat on the host: $T is traversable, and
# stat() needs no read permission on the file itself.
chmod 0711 "$T"
head -c 12345 /dev/zero >"$T/secret"
chmod 0600 "$T/secret"

cub_ok evil add e1
cub_ok e1 ports add p1 peer=vetha action=drop
cub_ok e1 ports add p2 peer=vethb action=forward outport=p1
cub_ok e1 ports p1 set action=forward outport=p2
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "e1 does not forward"

# metadata_refused: every way of asking is refused with ENOENT, and the
# worker's "/" is not the host's.
metadata_refused() {
	local m k host_root
	m=$(cub e1 debug metadata path="$T/secret" -o json) ||
		fail "metadata attempts killed the worker: $m"
	cub_log "metadata attempts: $(tr -d '\n' <<<"$m")"
	for k in path shadow; do
		for how in fstatat fstatat_root opath; do
			grep -qF "\"${k}_$how\": \"refused: No such file or directory\"" <<<"$m" ||
				fail "metadata: ${k}_$how not refused with ENOENT: $m"
		done
	done
	host_root=$(stat -c '%d:%i' /)
	grep -qE '"root": "[0-9]+:[0-9]+"' <<<"$m" || fail "metadata: no root in: $m"
	grep -qF "\"root\": \"$host_root\"" <<<"$m" &&
		fail "metadata: the worker's / is the host's ($host_root)"
	return 0
}
metadata_refused

# The mounts a worker has: a read-only tmpfs at /, the plugin at
# /plugin.so, and those of the system library paths that are directories
# or files on this host (symbolic links such as /lib -> usr/lib are copied
# as links, not mounted), each read-only.  Nothing else: no /proc, /dev,
# /tmp, socket or state directory.
want="/ /plugin.so"
for p in /usr/lib /usr/lib64 /usr/local/lib /lib /lib64 /etc/ld.so.cache; do
	[ -L "$p" ] || [ ! -e "$p" ] || want+=" $p"
done
want=$(tr ' ' '\n' <<<"$want" | sort | tr '\n' ' ')
# mountinfo_minimal SERVICE
mountinfo_minimal() {
	local pid mi got
	pid=$(worker_pid "$1")
	[ -n "$pid" ] && [ "$pid" != 0 ] || fail "no worker for $1"
	mi=$(cat /proc/$pid/mountinfo) || fail "$1: no mountinfo for $pid"
	got=$(awk '{ print $5 }' <<<"$mi" | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "$1 worker $pid mounts '$got', expected '$want': $mi"
	# Field 6: the mount's own options; every mount is read-only.
	awk '$6 !~ /(^|,)ro(,|$)/ { bad = 1 } END { exit bad }' <<<"$mi" ||
		fail "$1 worker $pid has a writable mount: $mi"
	awk '$5 == "/" { for (i = 7; $i != "-"; i++); print $(i + 1) }' <<<"$mi" |
		grep -qx tmpfs || fail "$1 worker $pid: / is not a tmpfs: $mi"
	# The plugin at /plugin.so is the service's own file.
	[ "$(stat -Lc '%d:%i' /proc/$pid/root/plugin.so)" = \
		"$(stat -Lc '%d:%i' "$T/plugins/$1.so")" ] ||
		fail "$1 worker $pid: /plugin.so is not its plugin"
	# No descriptor leads back into the broker's tree: none is a
	# directory (a dirfd would be a way out of any root).
	local fd
	for fd in /proc/$pid/fd/*; do
		[ ! -d "$fd" ] || fail "$1 worker $pid holds a directory: $fd -> $(readlink "$fd")"
	done
	# Its program is still named by its path (leftovers.sh relies on it).
	[ "$(readlink /proc/$pid/exe)" = "$CUB_BUILD/workers/cubicle-worker" ] ||
		fail "$1 worker $pid: exe is $(readlink /proc/$pid/exe)"
	cub_log "$1 worker $pid mounts: $got"
}
mountinfo_minimal simpleforwarder
mountinfo_minimal evil

# A restarted worker gets the same root, and its cube is re-synced.
old=$(worker_pid evil)
kill -9 "$old"
for _ in $(seq 1 200); do
	new=$(worker_pid evil 2>/dev/null || true)
	[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] && break
	sleep 0.05
done
broker_wait_ready
new=$(worker_pid evil)
[ "$new" != "$old" ] || fail "evil worker $old not restarted"
mountinfo_minimal evil
metadata_refused
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "e1 does not forward after the restart"
cub_ok e1 del
cub_log "no host path reaches a worker; its root holds only the plugin and the libraries"
