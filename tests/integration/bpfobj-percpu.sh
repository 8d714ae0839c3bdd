#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A per-CPU map whose value is not a multiple of 8 bytes (here 4): the
# kernel copies each CPU's value at an 8-byte stride, so the broker sizes
# a per-CPU value as round_up(value_size, 8) x possible CPUs.  Sized as
# value_size x CPUs (the old code), a lookup overflowed the broker's heap
# buffer and an update made the kernel read past the worker's bytes.  The
# evil plugin writes a distinct value for every CPU through the SDK's
# layout (cub_map__cpu_value()), reads them back, then sends the old short
# layout, which the broker must refuse by its length.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
broker_start
cub_ok evil add e1
ncpus=$(python3 -c 'import sys
s = open("/sys/devices/system/cpu/possible").read().strip()
n = 0
for part in s.split(","):
    a, _, b = part.partition("-")
    n += (int(b) if b else int(a)) - int(a) + 1
print(n)')
out=$(cub e1 debug bpfobj object=pcpu4 -o json) || fail "pcpu4: $out"
cub_log "pcpu4: $out"
grep -q "\"ncpus\": *$ncpus\b" <<<"$out" || fail "pcpu4: ncpus is not $ncpus: $out"
grep -q "\"value_bytes\": *$((8 * ncpus))\b" <<<"$out" ||
	fail "pcpu4: a value is not 8 bytes a CPU: $out"
grep -q '"cpus_wrong": *0\b' <<<"$out" ||
	fail "pcpu4: CPUs' values did not read back: $out"
grep -q '"short_update": *"refused"' <<<"$out" ||
	fail "pcpu4: the broker took a value 4 bytes a CPU short: $out"
# The broker is still whole, and answers.
kill -0 "$BROKER_PID" || fail "cubicled died"
cub_ok e1 del
cub_ok show cubes >/dev/null
