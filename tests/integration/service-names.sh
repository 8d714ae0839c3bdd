#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A plugin file whose name is no plain service name ([a-z][a-z0-9_-]*, at
# most 32 bytes) or is a built-in word of the CLI and broker (which would
# shadow the service) is skipped with a log line naming it; the broker and
# the other services work.
. "$(dirname "$0")/../lib/netns.sh"

evil="$CUB_BUILD/plugins/testing/evil.so"
mkdir -p "$T/plugins"
for name in cubes events help cube services 'a
b' Upper 9lives 'dot.ted' "$(printf 'x%.0s' $(seq 1 33))"; do
	ln -s "$evil" "$T/plugins/$name.so"
done
broker_start

s=$(cub services -o json)
names=$(grep -oE '"name": "[^"]*"' <<<"$s" | sort | tr '\n' ' ')
[ "$names" = '"name": "simpleforwarder" ' ] || fail "services: $names"
for shown in cubes events help cube services 'a?b' Upper 9lives dot.ted; do
	grep -qF "skipping '$shown.so'" "$T/broker.log" ||
		fail "no refusal logged for '$shown.so': $(grep skipping "$T/broker.log")"
done
grep -qF "skipping 'xxxxxxxx" "$T/broker.log" || fail "long name not logged"
# Nothing raw from the file name reaches the log.
! grep -q '^b\.so' "$T/broker.log" || fail "a newline from a file name in the log"
cub_ok simpleforwarder add s1
cub_ok s1 show >/dev/null
cub_ok cubes >/dev/null
cub_log "refused: $(grep -c skipping "$T/broker.log") plugin files; simpleforwarder works"
