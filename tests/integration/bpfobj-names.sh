#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6 point 1: nothing a worker names picks a path.  A hostile object
# whose map names are paths (another cube's sf_actions or cub_ports, a pin
# outside the pin root) or that names two maps alike is refused with a
# clear error; the victim cube keeps forwarding; no pin appears or changes
# outside the cube's own directory.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/victim.sh"
need bpftool

# The victim: a simpleforwarder cube between ca and cb.
victim_start

# A pinned map that belongs to someone else, beside the pin root.
mkdir -p "$T/outside"
mount -t bpf bpf "$T/outside"
# Unmounted before netns.sh's cleanup removes $T, even on failure.
trap 'rc=$?; umount "$T/outside" 2>/dev/null; (exit $rc); cub_cleanup' EXIT
bpftool map create "$T/outside/secret" type array key 4 value 8 entries 128 name secret ||
	fail "cannot create the outside map"
bpftool map update pinned "$T/outside/secret" key 0 0 0 0 value 7 0 0 0 9 0 0 0
secret_before=$(bpftool map dump pinned "$T/outside/secret")

for attack in "path-act ../v1/sf_actions" "path-port ../v1/cub_ports" \
	"path-act ../../outside/secret" "path-act ../../outside/fresh"; do
	set -- $attack
	err=$(cub_refused 2 e1 debug bpfobj object=$1 target=$2)
	grep -qF "is not a plain name" <<<"$err" || fail "$1 $2: unclear error: $err"
	grep -qF "${2%%/*}" <<<"$err" || fail "$1 $2: error does not name the map: $err"
	ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null ||
		fail "$1 $2: the victim v1 stopped forwarding"
	cub_log "$1 $2 refused: $err"
done

err=$(cub_refused 2 e1 debug bpfobj object=dup)
grep -q "two maps named 'evdup_a'" <<<"$err" || fail "dup: unclear error: $err"
cub_log "dup refused: $err"

# A map cannot take the program's pin either ("prog").
err=$(cub_refused 2 e1 debug bpfobj object=path-act target=prog)
grep -q "reserved" <<<"$err" || fail "prog: unclear error: $err"

[ "$(bpftool map dump pinned "$T/outside/secret")" = "$secret_before" ] ||
	fail "the outside map was rewritten"
[ "$(ls "$T/outside" | grep -v "\.debug$")" = secret ] || fail "pins appeared outside the pin root: $(ls "$T/outside")"
# Under the pin root: one directory per cube, holding pins only.
[ "$(ls "$T/pins" | grep -v "\.debug$" | sort | tr '\n' ' ')" = "e1 v1 " ] ||
	fail "unexpected entries in the pin root: $(ls "$T/pins")"
[ -z "$(find "$T/pins" -mindepth 2 -type d)" ] ||
	fail "directories inside a cube's pins: $(find "$T/pins" -mindepth 2 -type d)"

# Control: the same object with plain names loads.
cub_ok e1 debug bpfobj object=clean
[ -e "$T/pins/e1/evact" ] && [ -e "$T/pins/e1/evdup_b" ] ||
	fail "the clean object's maps are not pinned: $(ls "$T/pins/e1")"
ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null || fail "v1 stopped forwarding"
cub_ok e1 del
cub_ok v1 del
