#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): request ids are one namespace for every tenant.
# api.c api_serve() looks a tenant's rid up in the one cache (rid_find()),
# and a cached entry under that rid whose hash is another tenant's is a
# clash: mutating() refuses the change ("request id 'job-1' already names
# another request").  So tb, sending its own change under an id ta's
# scripts use (cubicle --rid, a resend-safe id a script picks), makes
# ta's change under that id refused; and any tenant learns, by trying an
# id, whether another used it lately.  Wanted: a tenant's rid names its
# own requests only (the cache keyed by tenant and rid): ta's change
# applies.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/review22.sh"
r22_start

ok ta simpleforwarder add a1
ok tb simpleforwarder add b1
ok tb --rid job-1 b1 set loglevel=DEBUG
rc=0
out=$(ta --rid job-1 a1 set loglevel=DEBUG 2>&1) || rc=$?
cub_log "ta's 'a1 set loglevel=DEBUG' under rid job-1, after tb's: rc $rc: $out"
[ "$rc" = 0 ] && [ "$(cub a1 show loglevel)" = DEBUG ] ||
	fail "tb's request id refused ta's change: $out (a1's loglevel $(cub a1 show loglevel))"
