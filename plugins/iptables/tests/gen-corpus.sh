#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Regenerate corpus.txt from corpus.src: each "A -A CHAIN ..." line gets
# "= ..." lines, the -S lines iptables-legacy itself prints for the rules
# it made.  Run as root: gen-corpus.sh > corpus.txt (its own namespace).
set -euo pipefail
cd "$(dirname "$0")"
exec unshare -n bash -c '
set -euo pipefail
I=iptables-legacy
while IFS= read -r l; do
	printf "%s\n" "$l"
	case "$l" in
	"A "*) ;;
	*) continue ;;
	esac
	cmd=${l#A }
	eval "set -- $cmd"
	if [ "$1" = -A ] || { [ "$1" = -w ] && [ "$2" = -A ]; }; then
		[ "$1" = -w ] && chain=$3 || chain=$2
		n0=$($I -S "$chain" | grep -c "^-A" || true)
		eval "$I $cmd" >/dev/null || { echo "LINUX REFUSED: $l" >&2; exit 1; }
		$I -S "$chain" | grep "^-A" | tail -n +$((n0 + 1)) | sed "s/^/= /"
	else
		eval "$I $cmd" >/dev/null || { echo "LINUX REFUSED: $l" >&2; exit 1; }
	fi
done < corpus.src
'
