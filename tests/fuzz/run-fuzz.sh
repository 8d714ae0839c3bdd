#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Build the decoder fuzz target with libFuzzer + ASan + UBSan and run it for
# <seconds> over a copy of the seed corpus (the committed corpus is never
# written to).  Exit status is non-zero on any crash, leak or timeout; the
# work directory with the crashing input is then kept and named.
#
# usage: run-fuzz.sh <source_root> <seconds>
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 <source_root> <seconds>" >&2
	exit 2
fi
src=$1
secs=$2
cc=${CC_FUZZ:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "$cc not found: skipping" >&2
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cub-fuzz-decode.XXXXXX")
keep=0
cleanup() {
	if [ "$keep" -eq 0 ]; then
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# shellcheck disable=SC2046 # word splitting of pkg-config output is wanted
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -D_GNU_SOURCE -std=gnu11 \
	-I "$src/sdk/include" -I "$src/sdk/src" \
	"$src/tests/fuzz/fuzz_decode.c" \
	"$src/sdk/src/val.c" "$src/sdk/src/errors.c" \
	"$src/sdk/src/msgpack.c" "$src/sdk/src/json.c" "$src/sdk/src/rpc.c" \
	$(pkg-config --cflags --libs msgpack) \
	-o "$work/fuzz_decode"

mkdir "$work/corpus" "$work/artifacts"
cp "$src/tests/fuzz/corpus/decode/"* "$work/corpus/"

if ! "$work/fuzz_decode" -max_total_time="$secs" -rss_limit_mb=1024 \
	-max_len=65536 -timeout=25 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus"; then
	keep=1
	echo "fuzz_decode failed; inputs kept in $work/artifacts" >&2
	ls -l "$work/artifacts" >&2
	exit 1
fi
