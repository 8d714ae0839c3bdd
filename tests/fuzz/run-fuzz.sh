#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Build one fuzz target (tests/fuzz/fuzz_<target>.c) with libFuzzer + ASan +
# UBSan and run it for <seconds> over a copy of its seed corpus
# (tests/fuzz/corpus/<target>/; the committed corpus is never written to).
# Exit status is non-zero on any crash, leak or timeout; the work directory
# with the crashing input is then kept and named.
#
# A machine without clang or the libFuzzer runtime fails this test (it does
# not skip): install clang and libclang-rt-14-dev.
#
# usage: run-fuzz.sh <source_root> <decode|request|dmdecode> <seconds>
set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 <source_root> <decode|request|dmdecode> <seconds>" >&2
	exit 2
fi
src=$1
target=$2
secs=$3
cc=${CC_FUZZ:-clang}

sdk="$src/sdk/src"
pkgs="msgpack yaml-0.1"
incs=""
case $target in
decode)
	srcs="$sdk/val.c $sdk/errors.c $sdk/msgpack.c $sdk/json.c $sdk/rpc.c"
	srcs="$srcs $sdk/yaml.c"
	;;
request)
	srcs="$sdk/val.c $sdk/errors.c $sdk/msgpack.c $sdk/json.c"
	srcs="$srcs $sdk/schema.c $sdk/tree.c $sdk/util/names.c $sdk/util/text.c"
	;;
dmdecode)
	dm="$src/plugins/dynmon"
	srcs="$sdk/val.c $sdk/errors.c $sdk/msgpack.c $sdk/json.c $sdk/rpc.c"
	srcs="$srcs $sdk/yaml.c $dm/catalog.c $dm/btfval.c $dm/families.c $dm/rewrite.c"
	pkgs="$pkgs libbpf libelf"
	incs="-I $dm"
	;;
*)
	echo "$0: unknown target '$target' (decode, request or dmdecode)" >&2
	exit 2
	;;
esac

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "FAIL: $cc not found: install the Debian package clang" \
		"(apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cub-fuzz-$target.XXXXXX")
keep=0
cleanup() {
	if [ "$keep" -eq 0 ]; then
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# The libFuzzer and sanitizer runtimes are a separate package.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ return 0; }\n' \
	>"$work/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$work/probe.c" \
	-o "$work/probe" >"$work/probe.log" 2>&1; then
	cat "$work/probe.log" >&2
	echo "FAIL: $cc cannot link -fsanitize=fuzzer,address,undefined:" \
		"install the Debian package libclang-rt-14-dev" >&2
	exit 1
fi

# shellcheck disable=SC2046,SC2086 # word splitting is wanted here
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -D_GNU_SOURCE -std=gnu11 \
	-I "$src/sdk/include" -I "$sdk" -I "$sdk/util" $incs \
	"$src/tests/fuzz/fuzz_$target.c" $srcs \
	$(pkg-config --cflags --libs $pkgs) -lm \
	-o "$work/fuzz_$target"

mkdir "$work/corpus" "$work/artifacts"
cp "$src/tests/fuzz/corpus/$target/"* "$work/corpus/"

if ! "$work/fuzz_$target" -max_total_time="$secs" -rss_limit_mb=1024 \
	-max_len=65536 -timeout=25 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus"; then
	keep=1
	echo "fuzz_$target failed; inputs kept in $work/artifacts" >&2
	ls -l "$work/artifacts" >&2
	exit 1
fi
