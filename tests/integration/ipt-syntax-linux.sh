#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# ipt-syntax-linux: the corpus' valid command lines installed into Linux
# iptables-legacy (this test's own namespace) and into the library's
# table (cubicle-ipt-parse); iptables -S, -L -n -v -x --line-numbers and
# iptables-save -c must print the same lines; then Linux's save text with
# counters round-trips through the library's restore and save.
. "$(dirname "$0")/../lib/netns.sh"
need iptables-legacy iptables-legacy-save iptables-legacy-restore diff
I=iptables-legacy
TOOL=$CUB_BUILD/plugins/iptables/cubicle-ipt-parse
CORPUS=$(dirname "$0")/../../plugins/iptables/tests/corpus.txt
sed -n 's/^A //p' "$CORPUS" > "$T/cmds"
while IFS= read -r l; do
	eval "$I $l" >/dev/null || fail "Linux refused: $l"
done < "$T/cmds"
cmp_out() { # what, then the iptables args
	local what=$1
	shift
	"$I" "$@" > "$T/linux.$what"
	"$TOOL" --commands "$T/cmds" -- "$@" > "$T/ours.$what" ||
		fail "cubicle-ipt-parse $*"
	diff -u "$T/linux.$what" "$T/ours.$what" || fail "$what differs"
}
cmp_out S -S
cmp_out Lnvx -L -n -v -x --line-numbers
cmp_out Ln -L -n
cmp_out SUSR -S USR
iptables-legacy-save -c | grep -v '^#' > "$T/linux.save"
"$TOOL" --commands "$T/cmds" --save-counters | grep -v '^#' > "$T/ours.save"
diff -u "$T/linux.save" "$T/ours.save" || fail "iptables-save -c differs"
# Counters: Linux restores them; both print them (K/M/G without -x).
awk '/^\[/ { n++; sub(/^\[0:0\]/, sprintf("[%d:%d]", n * 98765, n * 987654321)) } { print }' \
	"$T/linux.save" > "$T/counted.save"
iptables-legacy-restore -c < "$T/counted.save"
for args in "-L -n -v" "-L -n -v -x --line-numbers" "-S"; do
	# shellcheck disable=SC2086
	$I $args > "$T/linux.c"
	# shellcheck disable=SC2086
	"$TOOL" --restore "$T/counted.save" -- $args > "$T/ours.c"
	diff -u "$T/linux.c" "$T/ours.c" || fail "with counters: $args differs"
done
iptables-legacy-save -c | grep -v '^#' > "$T/linux.save2"
"$TOOL" --restore "$T/linux.save2" --save-counters | grep -v '^#' > "$T/ours.save2"
diff -u "$T/linux.save2" "$T/ours.save2" || fail "restore/save round trip differs"
cub_log "corpus: $(wc -l < "$T/cmds") command lines, outputs identical"
