#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A request id names one request: a resend of the same request gets the
# cached answer, a different change with a known id is refused with a
# clear error and changes nothing, and a read is never answered from the
# cache.
. "$(dirname "$0")/../lib/netns.sh"

netns_host ca vetha 198.18.0.1
broker_start

snapshot() {
	cub show cubes -o json
	cub sf1 show -o json | grep -vE '_packets|_bytes|drops|slowpath'
	tc filter show dev vetha ingress
	ls -R "$T/pins"
}

cub_ok --rid r-add simpleforwarder add sf1
# A resend of the same request: the cached answer, not "exists".
cub_ok --rid r-add simpleforwarder add sf1
before=$(snapshot)

# expect REGEX ARGS...: refused with exit 2 and nothing changed.
expect() { refused_unchanged "$@"; }
# The delete used to be answered with the add's cached OK, and dropped.
expect "request id 'r-add' .*another request" --rid r-add sf1 del
expect "request id 'r-add' .*another request" --rid r-add simpleforwarder add sf2
expect "request id 'r-add' .*another request" --rid r-add sf1 ports add p1 peer=vetha
grep -q '"sf1"' <<<"$(cub show cubes -o json)" || fail "sf1 is gone"

# A read with a known rid gets fresh data, not the cached answer.
out=$(cub --rid r-add show cubes -o json)
grep -q '"sf1"' <<<"$out" || fail "read with a used rid: '$out'"
out=$(cub --rid r-read show cubes -o json)
grep -q '"sf2"' <<<"$out" && fail "sf2 listed before it exists"
cub_ok --rid r-add2 simpleforwarder add sf2
out=$(cub --rid r-read show cubes -o json)
grep -q '"sf2"' <<<"$out" || fail "read with a reused rid is stale: '$out'"
out=$(cub --rid r-read sf2 show -o json)
grep -q '"name"' <<<"$out" || fail "sf2 show with a read rid: '$out'"
# A read's rid is not taken: a change may use it afterwards.
cub_ok --rid r-read sf2 ports add p1 peer=vetha
[ -n "$(tc filter show dev vetha ingress)" ] || fail "port add with a read's rid not applied"

# A refused change is answered the same when resent, and its rid still
# names it.
err1=$(cub_refused 2 --rid r-bad sf2 ports add p9 peer=nosuchdev)
err2=$(cub_refused 2 --rid r-bad sf2 ports add p9 peer=nosuchdev)
[ "$err1" = "$err2" ] || fail "resent refused request answered differently: '$err1' vs '$err2'"
grep -q "another request" <<<"$(cub_refused 2 --rid r-bad sf2 del)" ||
	fail "a refused request's rid was reused"
cub_ok --rid r-del sf2 del
cub_ok --rid r-del sf2 del
grep -q '"sf2"' <<<"$(cub show cubes -o json)" && fail "sf2 still listed after del"
true
