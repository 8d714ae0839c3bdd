#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The BPF build recipe (style rule 24), one step for meson:
#   build-skel.sh NAME CLANG LLVM_STRIP BPFTOOL OBJ SKEL DEPFILE SRC CLANG_ARGS...
# clang -target bpf -> OBJ (debug info stripped) -> bpftool skeleton SKEL,
# whose NAME__elf_bytes() a worker hands to the broker.
set -eu
name=$1 clang=$2 strip=$3 bpftool=$4 obj=$5 skel=$6 dep=$7 src=$8
shift 8
"$clang" "$@" -MD -MF "$dep" -MT "$obj" -c "$src" -o "$obj.full"
"$strip" -g "$obj.full" -o "$obj"
rm -f "$obj.full"
"$bpftool" gen skeleton "$obj" name "$name" >"$skel.tmp"
mv "$skel.tmp" "$skel"
