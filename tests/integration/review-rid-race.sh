#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review (issue 6 point 7: "a rid names one request"; issue 7's request
# threads): api_serve() looks the rid up before the request runs and
# records it after, and the state lock is released while a worker works.
# A change of another service that reuses the rid of a change still
# waiting for its worker (evil's, 3 s) finds no cached answer and is
# applied too: two different requests under one rid, both acknowledged.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
broker_start
cub_ok evil add e1
cub_ok e1 debug slow apply_ms=3000 >/dev/null
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 20000 --rid same-rid \
	e1 ports add p1 >"$T/first.out" 2>&1 </dev/null &
first=$!
sleep 0.7
rc2=0
out=$(cub --rid same-rid simpleforwarder add sf1 2>&1) || rc2=$?
rc1=0
wait "$first" || rc1=$?
cub_log "first (e1 ports add p1): exit $rc1; second (simpleforwarder add sf1), same rid: exit $rc2: $out"
[ "$rc1" = 0 ] || fail "the first change failed: $(cat "$T/first.out")"
[ "$rc2" != 0 ] ||
	fail "a different request under rid 'same-rid' was applied while the first waited for its worker"
grep -q "already names another request" <<<"$out" ||
	fail "the reused rid was refused for another reason: $out"
cub_log "one request per rid"
cub simpleforwarder show >/dev/null 2>&1 || true
cub sf1 show >/dev/null 2>&1 && fail "sf1 was created under the reused rid"
# The rid is free of its reservation once answered: a resend of the
# first request gets its cached answer, another request a clear refusal.
cub_ok e1 debug slow apply_ms=0 >/dev/null
cub_ok --rid same-rid e1 ports add p1
out=$(cub --rid same-rid simpleforwarder add sf1 2>&1) &&
	fail "a different request under the answered rid 'same-rid' was applied"
grep -q "already names another request" <<<"$out" || fail "unclear refusal: $out"
cub_ok --rid other-rid simpleforwarder add sf1
cub_log "a resend gets the answer, a new rid works"
