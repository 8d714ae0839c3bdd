#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review14 (issue 8, "a cube in 150 lines"): both examples are within 150
# lines only as written, several statements and up to ~100 columns a
# line; formatted with the project's own .clang-format (style rule 32:
# 80 columns, return type on its own line) they are over: hello 174,
# thello 164 (`cat examples/<name>/*.c examples/<name>/*.h | wc -l`
# counts the same files, formatted).  No root needed; no broker.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v clang-format >/dev/null || { echo "no clang-format" >&2; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
bad=
for ex in hello thello; do
	raw=$(cat "$SRC/examples/$ex"/*.c "$SRC/examples/$ex"/*.h | wc -l)
	wide=$(cat "$SRC/examples/$ex"/*.c "$SRC/examples/$ex"/*.h | awk 'length > 80' | wc -l)
	n=0
	for f in "$SRC/examples/$ex"/*.c "$SRC/examples/$ex"/*.h; do
		k=$(clang-format --style=file:"$SRC/.clang-format" "$f" | wc -l)
		n=$((n + k))
	done
	echo "[review14-examples-format] $ex: $raw lines as written ($wide over 80 columns), $n formatted" >&2
	[ "$n" -le 150 ] || bad+=" $ex: $n lines formatted;"
done
[ -z "$bad" ] || { echo "[review14-examples-format] FAIL: over 150 lines in the project's style:$bad" >&2; exit 1; }
