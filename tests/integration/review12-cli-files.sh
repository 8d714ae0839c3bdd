#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 12: odd files for the CLI's --file, `dynmon inject FILE` and
# `dynmon extract --save FILE`.
# Broken before: read_all() took a read error for the end of the file, so
# a directory given as the body ("set dataplane-config --file DIR",
# "dynmon inject mon1 veth1 DIR") was refused as "YAML: ... no document
# (the input is empty)", naming nothing of what was wrong (and a read
# error halfway through a file would send what was read).  Fixed: a read
# error is the error ("DIR: Is a directory"), nothing is sent.
# Held (checked here): --save onto a directory, onto a full tmpfs and
# onto a read-only mount fails naming the reason, leaves the old file as
# it was and leaves no temporary file behind; --save through a symlink
# replaces the link with the file (rename(2)), the link's target is left
# alone.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/dynmon/dynmon.so")
broker_start
host_peer ns1 veth1 198.18.0.2 198.18.0.1

mkdir "$T/dir"
# refused CODE WHAT ARGS...: exit CODE, the message matches WHAT.
refused() {
	local code=$1 what=$2 err
	shift 2
	err=$(cub_refused "$code" "$@")
	grep -qE -- "$what" <<<"$err" || fail "cubicle $*: '$err' does not say '$what'"
	cub_log "refused as it should: $(head -1 <<<"$err")"
}

# ---- a directory as the body ----
refused 1 "dir: Is a directory" dynmon inject mon1 veth1 "$T/dir"
cub show topology -o json | grep -q '"mon1"' && fail "inject of a directory made mon1"
cub_ok dynmon add mon1 >/dev/null
before=$(cub mon1 dataplane-config show -o json)
refused 1 "dir: Is a directory" mon1 set dataplane-config --file "$T/dir"
refused 1 "dir: Is a directory" mon1 dataplane-config set --file "$T/dir"
[ "$(cub mon1 dataplane-config show -o json)" = "$before" ] ||
	fail "a refused set changed the dataplane-config"

# ---- --save ----
cub_ok dynmon extract mon1 --save "$T/m.json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/m.json" ||
	fail "--save wrote no JSON: $(cat "$T/m.json")"
# leftovers DIR: no temporary file of a --save in DIR.
leftovers() {
	[ -z "$(find "$1" -mindepth 1 -maxdepth 1 -regextype posix-extended -regex '.*\.[A-Za-z0-9]{6}')" ] ||
		fail "a temporary file is left in $1: $(ls -A "$1")"
}
refused 2 "Is a directory.*nothing written" dynmon extract mon1 --save "$T/dir"
[ -z "$(ls -A "$T/dir")" ] || fail "--save onto a directory wrote in it"
leftovers "$T"

mkdir "$T/full"
mount -t tmpfs -o size=64k review12-full "$T/full"
echo old >"$T/full/m.json"
dd if=/dev/zero of="$T/full/fill" bs=4k 2>/dev/null || true
refused 2 "No space left.*nothing written" dynmon extract mon1 --save "$T/full/m.json"
[ "$(cat "$T/full/m.json")" = old ] || fail "a full disk's --save changed the file"
leftovers "$T/full"
rm "$T/full/fill"
cub_ok dynmon extract mon1 --save "$T/full/m.json"
cmp -s "$T/full/m.json" "$T/m.json" || fail "--save after the disk had room: $(cat "$T/full/m.json")"

echo old >"$T/full/m.json"
mount -o remount,ro "$T/full"
refused 2 "Read-only file system.*nothing written" dynmon extract mon1 --save "$T/full/m.json"
[ "$(cat "$T/full/m.json")" = old ] || fail "a read-only --save changed the file"
umount "$T/full"

echo target >"$T/target"
ln -s "$T/target" "$T/link.json"
cub_ok dynmon extract mon1 --save "$T/link.json"
[ ! -L "$T/link.json" ] || fail "--save left the symlink"
[ "$(cat "$T/target")" = target ] || fail "--save wrote through the symlink"
cmp -s "$T/link.json" "$T/m.json" || fail "--save through a link: $(cat "$T/link.json")"
leftovers "$T"
cub_log "held: --save onto a directory, a full disk, a read-only mount, a symlink"
