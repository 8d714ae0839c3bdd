#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 18 (CUB_F_SHOWN): a paged show of a shown list hands out a
# learned entry as `next` and then refuses it as `after=`: "after: no
# entry '<mac>' to page after" (sdk/src/tree.c do_show(): page_copy()
# looks `after` up in the document, which holds the static entries
# only, before the service's overlay adds the learned ones).  So a
# client paging `fdb entry show limit=N` by the engine's own cursor
# (docs/architecture.md, "Paging") stops at the first learned host with
# an error: no bridge with more learned hosts than one page can be
# listed page by page.
# br1 (TC): p1 = veth1 (n1), p2 = veth2 (n2); one static entry, n1 and
# n2 learned; pages of one entry, each after the previous `next`.
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2
broker_start

cub_ok simplebridge add br1
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
cub_ok br1 fdb entry add 02:00:00:00:00:55 port=p1
ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.2 >/dev/null || fail "n1 cannot ping n2"
all=$(cub br1 fdb entry show -o json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$all" = 3 ] || fail "fdb entry show lists $all entries, not 3 (the test is wrong)"

out=$(python3 - "$CUB_BUILD/sdk/cubicle" "$T/s" <<'PY'
import json, subprocess, sys
seen, after = [], None
for _ in range(10):
    cmd = ["br1", "fdb", "entry", "show", "limit=1", "-o", "json"]
    if after:
        cmd.append("after=" + after)
    r = subprocess.run([sys.argv[1], "--socket-dir", sys.argv[2]] + cmd,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode:
        print("after %s of %d pages: %s" % (after, len(seen), r.stderr.strip()))
        sys.exit(0)
    page = json.loads(r.stdout)
    seen += [e["address"] for e in page.get("entries", [])]
    after = page.get("next")
    if not after:
        break
print("ok %d %d" % (len(seen), len(set(seen))))
PY
)
cub_log "paged by 1: $out"
[ "$out" = "ok 3 3" ] || fail "fdb entry show limit=1, paged by its next: $out"
