#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 18 (simplebridge, CUB_F_SHOWN): 65536 learned hosts (the size
# simplebridge.sh learns) and `fdb entry show`: the worker adds at most
# SB_SHOW_MAX (4096) learned rows to the overlay
# (plugins/simplebridge/simplebridge.c sb_show_fn()), and nothing says
# the list was cut: paged with limit=10000 (the engine's largest page)
# the show ends, with no `next`, after 4096 hosts; without limit= it
# lists 4096 as if they were all.  A user cannot list the bridge's
# hosts, and is told it has 4096.  Each page should come from the FDB
# past `after=` (or the reply should say it is cut).
# br1 (TC): p1 = veth1 (n1), p2 = veth2 (n2); n1 sends from 65536
# source addresses.
. "$(dirname "$0")/../lib/netns.sh"
need python3 bpftool

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2
broker_start

cub_ok simplebridge add br1
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
ip netns exec n1 python3 "$FRAMES" eth0 ff:ff:ff:ff:ff:ff seq:02:aa:00 65536 >/dev/null
sleep 1
n=$(bpftool -j map dump pinned "$T/pins/br1/sb_fdb" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$n" -ge 65536 ] || fail "sb_fdb holds $n of 65536 hosts (the test is wrong)"

all=$(cub br1 fdb entry show -o json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
paged=$(python3 - "$CUB_BUILD/sdk/cubicle" "$T/s" <<'PY'
import json, subprocess, sys
seen, after = set(), None
for _ in range(100):
    cmd = ["br1", "fdb", "entry", "show", "limit=10000", "-o", "json"]
    if after:
        cmd.append("after=" + after)
    out = subprocess.run([sys.argv[1], "--socket-dir", sys.argv[2]] + cmd,
                         capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    if out.returncode:
        print("error:", out.stderr.strip())
        sys.exit(0)
    page = json.loads(out.stdout)
    for e in page.get("entries", []):
        seen.add(e["address"])
    after = page.get("next")
    if not after:
        break
print(len(seen))
PY
)
cub_log "65536 hosts learned ($n in sb_fdb); show lists $all; paged by 10000: $paged"
bad=
[ "$paged" -ge 65536 ] 2>/dev/null || bad="paged with limit=10000, fdb entry show lists $paged of 65536 learned hosts, with no next"
[ "$all" -ge 65536 ] || bad="$bad; fdb entry show lists $all of 65536 learned hosts, and does not say it is cut"
[ -z "$bad" ] || fail "${bad#; }"
