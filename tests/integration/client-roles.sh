#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 7, client roles (docs "Client roles"): without options the client
# and events sockets are root's alone (0600).  With --socket-group they
# are 0660 root:GROUP; a member (by primary or supplementary group, as
# SO_PEERGROUPS saw it at connect) is a reader: it reads and is refused
# every change, with an error naming its uid and role, and nothing
# changes.  A non-member cannot connect.  --admin-group members change
# like root.  A --gateway-group member reads, and may send a request on
# behalf of a user it vouches for ("as", the CLI's --as USER[:ROLE]); the
# broker logs both; it may vouch only the roles --gateway-may allows
# (default reader).  Nobody else may send "as".
. "$(dirname "$0")/../lib/netns.sh"

need setpriv stat
SOCK=64902 ADMIN=64904 GW=64903
chmod 0711 "$T" # other uids reach $T/s

# as UID GID GROUPS ARGS...: the CLI as another uid (GROUPS: a,b or -).
as() {
	local uid=$1 gid=$2 groups=$3
	shift 3
	if [ "$groups" = - ]; then
		setpriv --reuid="$uid" --regid="$gid" --clear-groups \
			"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null
	else
		setpriv --reuid="$uid" --regid="$gid" --groups="$groups" \
			"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@" </dev/null
	fi
}

# refused WHAT PATTERN CMD...: CMD must fail and its error match PATTERN.
refused() {
	local what=$1 pat=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" != 0 ] || fail "$what: succeeded: $out"
	grep -qE -- "$pat" <<<"$out" || fail "$what: exit $rc, not /$pat/: $out"
	cub_log "$what: refused: $out"
}

perms() { stat -c '%a %u:%g' "$T/s/$1"; }

# 1. Default: root only.
broker_start
cub_ok simpleforwarder add sf1 >/dev/null
cub_ok sf1 ports add p1 >/dev/null
for s in cubicled.sock events.sock; do
	[ "$(perms $s)" = "600 0:0" ] || fail "default $s: $(perms $s), not 600 0:0"
done
refused "uid 65534 without --socket-group" "cannot reach|ermission" \
	as 65534 65534 - show cubes
cub_ok show cubes >/dev/null

# 2. Bad options are refused before anything starts.
for opt in "--socket-group no-such-group-xyz" "--socket-group 0" \
	"--admin-group -1" "--gateway-group 4294967295" "--gateway-may admin" \
	"--gateway-may everyone" "--max-clients-per-uid 0"; do
	rc=0
	# shellcheck disable=SC2086
	err=$("$CUB_BUILD/broker/cubicled" $opt --socket-dir "$T/nb" 2>&1) || rc=$?
	[ "$rc" = 1 ] && grep -q -- "${opt%% *}: '${opt#* }'" <<<"$err" ||
		fail "cubicled $opt: exit $rc: $err"
done
[ ! -e "$T/nb" ] || fail "a refused option created the socket dir"

# 3. The groups.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
CUB_BROKER_ARGS="--socket-group $SOCK --admin-group $ADMIN --gateway-group $GW"
broker_start
for s in cubicled.sock events.sock; do
	[ "$(perms $s)" = "660 0:$SOCK" ] || fail "$s: $(perms $s), not 660 0:$SOCK"
done
cub_log "sockets 0660 root:$SOCK"

refused "non-member uid 65534" "cannot reach|ermission" as 65534 65534 - show cubes
# The kernel's own refusal, EACCES on connect, for both sockets.
for s in cubicled.sock events.sock; do
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print("errno", e.errno)' "$T/s/$s" 2>&1)
	[ "$out" = "errno 13" ] || fail "non-member connect to $s: $out, not EACCES"
done
# One that passes the file permission anyway (CAP_DAC_OVERRIDE) has no
# role: the broker closes it (after its SP header) and says why.
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=+dac_override --ambient-caps=+dac_override /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
got = b""
while True:
    c = s.recv(64)
    if not c:
        break
    got += c
print("closed after", len(got), "bytes")' "$T/s/cubicled.sock" 2>&1)
[ "$out" = "closed after 8 bytes" ] || fail "a non-member with CAP_DAC_OVERRIDE: $out"
grep -q "client connection from pid [0-9]* (uid 65534): refused: not root and in none of the socket, admin or gateway groups" \
	"$T/broker.log" || fail "the broker did not log the refused non-member"
cub_log "a non-member past the file permission: closed, logged"
# Readers: by primary group, and by a supplementary one.
for who in "$SOCK -" "65534 $SOCK"; do
	# shellcheck disable=SC2086
	set -- $who
	out=$(as 65534 "$1" "$2" sf1 show) || fail "reader ($who): sf1 show: $out"
	grep -q p1 <<<"$out" || fail "reader ($who): sf1 show: $out"
	as 65534 "$1" "$2" services >/dev/null || fail "reader ($who): services"
	as 65534 "$1" "$2" show cubes >/dev/null || fail "reader ($who): show cubes"
	as 65534 "$1" "$2" sf1 log show >/dev/null || fail "reader ($who): log show"
	as 65534 "$1" "$2" sf1 '?' >/dev/null || fail "reader ($who): ?"
	refused "reader ($who): ports add" \
		"client uid 65534 \(role reader\) may not 'sf1 ports add p2'" \
		as 65534 "$1" "$2" sf1 ports add p2
	refused "reader ($who): set" "uid 65534 \(role reader\) may not 'sf1 ports p1 set action=slowpath'" \
		as 65534 "$1" "$2" sf1 ports p1 set action=slowpath
	refused "reader ($who): add cube" "uid 65534 \(role reader\) may not" \
		as 65534 "$1" "$2" simpleforwarder add sf9
	refused "reader ($who): del cube" "uid 65534 \(role reader\) may not" \
		as 65534 "$1" "$2" simpleforwarder del sf1
	refused "reader ($who): loglevel" "uid 65534 \(role reader\) may not" \
		as 65534 "$1" "$2" sf1 set loglevel=debug
	refused "reader ($who): connect" "uid 65534 \(role reader\) may not" \
		as 65534 "$1" "$2" connect sf1:p1 vethx
	refused "reader ($who): as" "role reader\) may not send 'as'" \
		as 65534 "$1" "$2" --as alice sf1 show
done
out=$(cub sf1 show)
grep -q p2 <<<"$out" && fail "a reader's refused add changed sf1: $out"
[ "$(cub sf1 ports p1 show action)" != slowpath ] ||
	fail "a reader's refused set changed sf1"
[ "$(cub show cubes -o json | grep -c '"name"')" = 1 ] ||
	fail "a reader's refused add or del changed the cubes: $(cub show cubes)"
refused "root sending as" "uid 0 \(role admin\) may not send 'as'" \
	cub --as alice sf1 show

# Admins by group change like root; a reader subscribed to events sees
# the changes (until its first event: the subscription may come late).
# (a command, not the function: a background function is a subshell
# whose pid is not the CLI's)
setpriv --reuid=65534 --regid="$SOCK" --clear-groups "$CUB_BUILD/sdk/cubicle" \
	--socket-dir "$T/s" events --count 1 --timeout 30000 </dev/null >"$T/ev.out" 2>&1 &
ev=$!
for i in $(seq 1 50); do
	as 65534 65534 "$SOCK,$ADMIN" simpleforwarder add "sfe$i" >/dev/null ||
		fail "admin group member could not add a cube"
	as 65534 65534 "$SOCK,$ADMIN" simpleforwarder del "sfe$i" >/dev/null ||
		fail "admin group member could not delete a cube"
	kill -0 "$ev" 2>/dev/null || break
	sleep 0.2
done
wait "$ev" || fail "reader's events: $(cat "$T/ev.out")"
grep -q sfe "$T/ev.out" || fail "reader's events: $(cat "$T/ev.out")"
cub_log "a reader got an event: $(head -c 200 "$T/ev.out")"
as 65534 65534 "$SOCK,$ADMIN" sf1 ports add p2 >/dev/null ||
	fail "admin group member could not add a port"
grep -q p2 <<<"$(cub sf1 ports)" || fail "the admin's port is missing"
cub_log "admin group member added a port"

# Gateways: read; on behalf of a reader, logged with the user; not admin.
out=$(as 65533 65533 "$SOCK,$GW" --as alice sf1 show) ||
	fail "gateway as alice: sf1 show: $out"
grep -q p2 <<<"$out" || fail "gateway as alice: sf1 show: $out"
grep -q "client uid 65533 (role gateway) on behalf of user 'alice' (role reader): sf1 show" \
	"$T/broker.log" || fail "the gateway's request is not logged with its user"
out=$(as 65533 65533 "$SOCK,$GW" sf1 show) || fail "gateway: sf1 show: $out"
refused "gateway as alice: set" \
	"uid 65533 \(role gateway\) on behalf of user 'alice' \(role reader\) may not 'sf1 ports p1 set action=slowpath'" \
	as 65533 65533 "$SOCK,$GW" --as alice sf1 ports p1 set action=slowpath
refused "gateway on its own: set" "uid 65533 \(role gateway\) may not" \
	as 65533 65533 "$SOCK,$GW" sf1 ports p1 set action=slowpath
refused "gateway vouching admin" \
	"may not vouch for role admin \(user 'bob'\): --gateway-may allows reader only" \
	as 65533 65533 "$SOCK,$GW" --as bob:admin sf1 ports p1 set action=slowpath
refused "gateway vouching a bad role" "'role' must be reader, tenant or admin" \
	as 65533 65533 "$SOCK,$GW" --as bob:root sf1 show
refused "gateway vouching a bad user" "'user' must be a name" \
	as 65533 65533 "$SOCK,$GW" --as "bo b" sf1 show
[ "$(cub sf1 ports p1 show action)" != slowpath ] ||
	fail "a refused gateway set changed sf1"

# 4. --gateway-may reader,admin: a gateway's admin vouch changes state.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
CUB_BROKER_ARGS="--socket-group $SOCK --gateway-group $GW --gateway-may reader,admin"
broker_start
as 65533 65533 "$SOCK,$GW" --as bob:admin sf1 ports p1 set action=slowpath >/dev/null ||
	fail "gateway vouching admin (allowed) could not set"
[ "$(cub sf1 ports p1 show action)" = slowpath ] || fail "the vouched set is missing"
grep -q "client uid 65533 (role gateway) on behalf of user 'bob' (role admin): sf1 ports p1 set action=slowpath" \
	"$T/broker.log" || fail "the vouched change is not logged with its user"
# The cube's log says it too, from the broker: the user and the client
# (main's cube log had the worker's line only, without either).
log=$(cub sf1 log show -o json)
python3 - "$log" <<'PY' || fail "sf1's log does not name the vouched user: $log"
import json, sys
d = json.loads(sys.argv[1])
want = ("request by client uid 65533 (role gateway) on behalf of user 'bob' "
        "(role admin): sf1 ports p1 set action=slowpath")
assert [l for l in d["lines"] if l["source"] == "broker" and
        l["level"] == "INFO" and l["message"] == want], d["lines"][-3:]
PY
cub_ok sf1 ports p1 set action=drop
grep -qF "request by client uid 0 (role admin): sf1 ports p1 set action=drop" \
	<<<"$(cub sf1 log show)" || fail "root's change is not in sf1's log: $(cub sf1 log show | tail -3)"
refused "gateway as bob: a bad set" "slowpath2" \
	as 65533 65533 "$SOCK,$GW" --as bob:admin sf1 ports p1 set action=slowpath2
! grep -q "slowpath2" <<<"$(cub sf1 log show)" || fail "a refused change is in sf1's log as made"
cub_ok sf1 ports p1 set action=slowpath
refused "gateway still reads only on its own" "uid 65533 \(role gateway\) may not" \
	as 65533 65533 "$SOCK,$GW" sf1 ports p1 set action=forward
cub_log "gateway vouched admin under --gateway-may reader,admin"
