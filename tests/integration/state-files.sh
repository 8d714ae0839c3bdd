#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# An odd file at the store's path (a FIFO, a symbolic link, dangling or
# not, a directory, a device) stops the broker at once with a message
# naming the file and what it is: it neither blocks in open() nor starts
# empty next to pinned objects.  A symbolic link at the temporary path is
# never followed by a save.
. "$(dirname "$0")/../lib/netns.sh"

mkdir -p "$T/plugins" "$T/s"
ln -sf "$CUB_BUILD/plugins/simpleforwarder/simpleforwarder.so" "$T/plugins/"

# refuse NAME KIND-REGEX MAKE...: make the odd file at state.db, start the
# broker, which must exit nonzero within 5 s naming the path and its kind.
refuse() {
	local name=$1 kind=$2 dir="$T/st-$1" rc=0 out
	shift 2
	mkdir -p "$dir"
	"$@" "$dir/state.db"
	out=$(timeout -k 1 5 "$CUB_BUILD/broker/cubicled" --socket-dir "$T/s-$name" \
		--state-dir "$dir" --pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$CUB_BUILD/workers/cubicle-worker" 2>&1) || rc=$?
	printf '%s\n' "$out" >>"$T/broker.log"
	[ "$rc" != 124 ] && [ "$rc" != 137 ] || fail "$name: cubicled still running after 5 s"
	[ "$rc" != 0 ] || fail "$name: cubicled exited 0: $out"
	grep -qE -- "$dir/state.db.*$kind" <<<"$out" ||
		fail "$name: message does not name '$dir/state.db' and /$kind/: $out"
	cub_log "$name refused: $(grep -E "$dir/state.db" <<<"$out" | head -1)"
}

mkfifo_at() { mkfifo "$1"; }
dangling_at() { ln -s "$T/nowhere/state.db" "$1"; }
link_at() {
	broker_start
	cub_ok simpleforwarder add sf1
	kill -TERM "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	BROKER_PID=
	mv "$T/st/state.db" "$T/real.db"
	ln -s "$T/real.db" "$1"
}
mkdir_at() { mkdir "$1"; }
chardev_at() { mknod "$1" c 1 3; }

refuse fifo "FIFO" mkfifo_at
refuse dangling "symbolic link" dangling_at
refuse link "symbolic link" link_at
refuse directory "directory" mkdir_at
refuse chardev "character device" chardev_at
# The link to a good store was left alone, pins and all.
[ -L "$T/st-link/state.db" ] || fail "the symbolic link was replaced"
[ -d "$T/pins/sf1" ] || fail "sf1's pins are gone"
true
