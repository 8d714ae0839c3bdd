#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review16 (issue 8, `cubicle services` shows why a worker is not running,
# in the worker's own words): a hostile worker's words reach the admin's
# terminal with Unicode format controls intact.  cubi_text_escape()
# escapes C0, DEL and C1, not the bidirectional overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) nor zero-width characters: a plugin
# whose worker writes "<3>" then U+202E and exits reorders what
# `cubicle services` prints after it ("Trojan Source" on the status line:
# the worker's words can make the rest of the line read backwards, or
# hide text).  Wanted: such code points escaped (\u202e), as the C1 ones.
. "$(dirname "$0")/../lib/netns.sh"
need cc python3
PLUGINS=()
mkdir -p "$T/plugins"
cat >"$T/bidi.c" <<'C'
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void
die(void)
{
	fprintf(stderr, "<3>r16 \xe2\x80\xae" "dekcol si ecivres\xe2\x81\xa6 zero\xe2\x80\x8bwidth\n");
	fflush(stderr);
	_exit(1);
}
C
cc -shared -fPIC -o "$T/plugins/r16bidi.so" "$T/bidi.c"
"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
field() {
	cub services -o json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == "r16bidi":
        print(s.get(sys.argv[1], ""))' "$1"
}
for _ in $(seq 1 300); do
	why=$(field why 2>/dev/null) || why= # the broker may not answer yet
	[ "$(field restarts)" -ge 2 ] 2>/dev/null && grep -q "r16" <<<"$why" && break
	sleep 0.1
done
grep -q "r16" <<<"$why" || fail "the worker's words are not in why (the case under test): '$why' $(cub services)"
{ cub services; cub services -o yaml; } >"$T/plain.txt" 2>&1 || true
cub_log "$(cat "$T/plain.txt")"
# Every worker says the same before it dies, and the broker reads a dead
# worker's last lines before it records its exit: the words stay.
grep -q "r16" "$T/plain.txt" || fail "the words left 'services' between two workers"
bad=
for cp in '\xe2\x80\xae' '\xe2\x81\xa6' '\xe2\x80\x8b'; do
	LC_ALL=C grep -qaP "$cp" "$T/plain.txt" && bad+=" $cp"
done
[ -z "$bad" ] || fail "'cubicle services' prints the worker's format controls raw:$bad"
