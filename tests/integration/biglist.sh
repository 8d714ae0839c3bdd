#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Keyed lists at issue 7's sizes through the broker (defect 2): a
# 10k-entry --file load (on main the list stopped at 4096), one-entry
# changes on it, shows that page, a restart that keeps it; enum values in
# any case; YAML bodies from a file and from stdin.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/ruleset.so")
netns_host ca vetha 198.18.0.1
broker_start

# cubin ARGS...: the CLI with this script's stdin.
cubin() {
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@"
}

# A 10k-entry ruleset from a JSON file, enum values in capitals.
python3 - "$T/rules.json" <<'PY'
import json, sys
rules = [{"id": i, "action": "FORWARD" if i % 2 else "Drop",
          "src": "10.%d.%d.0/24" % (i // 256, i % 256)} for i in range(10000)]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
cub_ok ruleset add rs1 --file "$T/rules.json"
[ "$(cub rs1 show applied)" = 10000 ] || fail "the worker got $(cub rs1 show applied) rules, not 10000"
[ "$(cub rs1 rules 9999 show action)" = forward ] || fail "entry 9999: $(cub rs1 rules 9999 show)"
[ "$(cub rs1 rules 4096 show src)" = 10.16.0.0/24 ] || fail "entry 4096: $(cub rs1 rules 4096 show)"

# One-entry changes on the big list.
cub_ok rs1 rules add 10000 action=LOG
[ "$(cub rs1 show applied)" = 10001 ] || fail "entry 10001 not applied"
cub_ok rs1 rules 5000 set action=fOrWaRd
[ "$(cub rs1 rules 5000 show action)" = forward ] || fail "set on entry 5000 lost"
cub_ok rs1 rules del 17
err=$(cub_refused 2 rs1 rules 17 show)
grep -q "no entry '17'" <<<"$err" || fail "deleted entry still found: $err"
err=$(cub_refused 2 rs1 rules add 18)
grep -q "already exists" <<<"$err" || fail "duplicate add: $err"
err=$(cub_refused 2 rs1 rules 18 set action=reject)
grep -q "'reject' is not one of drop, forward, log" <<<"$err" || fail "bad enum: $err"

# Shows page: limit= and after=, next says where to go on.
page=$(cub rs1 rules show limit=3 after=15 -o json)
python3 - "$page" <<'PY' || fail "page after 15: $page"
import json, sys
p = json.loads(sys.argv[1])
assert [e["id"] for e in p["entries"]] == [16, 18, 19], p
assert p["next"] == "19", p
PY
python3 - "$T/s" "$CUB_BUILD/sdk/cubicle" <<'PY' || fail "paging through the list failed"
import json, subprocess, sys
sock, cli = sys.argv[1], sys.argv[2]
after, ids = None, []
while True:
    cmd = [cli, "--socket-dir", sock, "rs1", "rules", "show", "limit=4000", "-o", "json"]
    if after:
        cmd.append("after=" + after)
    p = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                  text=True).stdout)
    ids += [e["id"] for e in p["entries"]]
    after = p.get("next")
    if not after:
        break
want = [i for i in range(10001) if i != 17]
assert ids == want, (len(ids), ids[:5])
PY
err=$(cub_refused 2 rs1 rules show limit=0)
grep -q "limit: expected a number of entries from 1 to 10000" <<<"$err" || fail "limit=0: $err"
err=$(cub_refused 2 rs1 rules show after=424242)
grep -q "no entry '424242' to page after" <<<"$err" || fail "after=424242: $err"

# The store keeps the big list across a restart.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
[ "$(cub rs1 show applied)" = 10000 ] || fail "after a restart the worker got $(cub rs1 show applied) rules"
[ "$(cub rs1 rules 5000 show action)" = forward ] || fail "entry 5000 lost in the restart"

# A body over the wire's element cap: a clear error, nothing created.
python3 - "$T/huge.json" <<'PY'
import json, sys
json.dump({"rules": [{"id": i, "action": "log"} for i in range(70000)]},
          open(sys.argv[1], "w"))
PY
err=$(cub_refused 1 ruleset add rs9 --file "$T/huge.json")
grep -qi "cap" <<<"$err" || fail "oversized body: $err"
cub_refused 2 rs9 show >/dev/null

# Enum values in any case, shown in the schema's spelling (Polycube's
# FORWARD, XDP_DRV).
cub_ok simpleforwarder add sf1 type=xdp_drv
[ "$(cub sf1 show type)" = XDP_DRV ] || fail "type=xdp_drv shown as $(cub sf1 show type)"
cub_ok sf1 ports add p1 peer=vetha action=FORWARD outport=p1
[ "$(cub sf1 ports p1 show action)" = forward ] || fail "action=FORWARD shown as $(cub sf1 ports p1 show action)"
cub_ok sf1 ports p1 set action=DROP
[ "$(cub sf1 ports p1 show action)" = drop ] || fail "action=DROP"
cub_ok sf1 ports p1 set action=drop

# A page of a list with ro fields gets them: the broker's status and the
# worker's counters, asked for that page only.
cub_ok sf1 ports add p2
cub_ok sf1 ports add p3
page=$(cub sf1 ports show limit=1 after=p1 -o json)
python3 - "$page" <<'PY' || fail "paged ports: $page"
import json, sys
p = json.loads(sys.argv[1])
assert [e["name"] for e in p["entries"]] == ["p2"], p
assert p["entries"][0]["status"] == "DOWN" and "rx_packets" in p["entries"][0], p
assert p["next"] == "p2", p
PY
[ "$(cub sf1 ports p1 show status)" = UP ] || fail "p1 status: $(cub sf1 ports p1 show)"
[ "$(cub sf1 ports p1 show rx_packets)" = 0 ] || fail "p1 counters: $(cub sf1 ports p1 show)"
cub_ok simpleforwarder add sf2 type=Tc
[ "$(cub sf2 show type)" = TC ] || fail "type=Tc shown as $(cub sf2 show type)"

# YAML: a cube from a .yaml file, a set from YAML on stdin.
cat >"$T/rs2.yaml" <<'YAML'
# two rules
rules:
  - id: 1
    action: FORWARD
    src: 192.0.2.0/24
  - {id: 2, action: log}
YAML
cub_ok ruleset add rs2 --file "$T/rs2.yaml"
[ "$(cub rs2 rules 1 show src)" = 192.0.2.0/24 ] || fail "YAML body: $(cub rs2 show)"
[ "$(cub rs2 rules 2 show action)" = log ] || fail "YAML flow entry: $(cub rs2 show)"
printf 'action: Drop\nsrc: 198.51.100.0/24\n' | cubin rs2 rules 1 set ||
	fail "YAML on stdin refused"
[ "$(cub rs2 rules 1 show action)" = drop ] || fail "YAML set: $(cub rs2 rules 1 show)"
[ "$(cub rs2 rules 1 show src)" = 198.51.100.0/24 ] || fail "YAML set src"
printf 'rules:\n  - id: 3\n    action: log\n   src: 1.2.3.0/24\n' >"$T/bad.yaml"
err=$(cub_refused 1 ruleset add rs3 --file "$T/bad.yaml")
grep -q "bad.yaml: YAML: line 4, column 4" <<<"$err" || fail "YAML error lacks its position: $err"
err=$(printf 'action: [drop\n' | cubin rs2 rules 1 set 2>&1) && fail "bad YAML on stdin accepted"
grep -q "stdin: YAML: line 2" <<<"$err" || fail "stdin YAML error: $err"
printf 'a: &x 1\nb: *x\n' >"$T/alias.yaml"
err=$(cub_refused 1 ruleset add rs3 --file "$T/alias.yaml")
grep -q "anchors" <<<"$err" || fail "YAML anchor accepted: $err"
cub_refused 2 rs3 show >/dev/null
cub_log "biglist: 10k entries loaded, paged, kept"
