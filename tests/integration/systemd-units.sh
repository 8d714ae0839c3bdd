#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The systemd files as meson installs them (PID 1 is not systemd here:
# they are checked offline, docs/systemd.md):
# - systemd-analyze verify passes on both units with no message, and
#   fails on a unit with an unknown key (so this check can fail);
# - systemd-sysusers makes the cubicle group, the gateway user and the
#   worker users at the uids cubicled uses (its --uid-base default, the
#   sources' service and helper counts), outside DynamicUser's range;
# - systemd-tmpfiles makes /run/cubicle and /var/lib/cubicle;
# - systemd-analyze security --offline=true gives the exposure
#   docs/systemd.md records for each unit.
# A missing systemd tool fails the test (scripts/run installs systemd).
set -euo pipefail
: "${CUB_BUILD:?set CUB_BUILD to the meson build directory}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/cubicle-sd.XXXXXX)
trap 'rc=$?; rm -rf "$T"; [ $rc = 0 ] && echo "[systemd-units] PASS" >&2 || echo "[systemd-units] FAIL (exit $rc)" >&2; exit $rc' EXIT
fail() { echo "[systemd-units] FAIL: $*" >&2; exit 1; }
log() { echo "[systemd-units] $*" >&2; }
for t in systemd-analyze systemd-sysusers systemd-tmpfiles meson; do
	command -v "$t" >/dev/null ||
		fail "'$t' is not installed (Debian package systemd; scripts/run installs it)"
done

R=$T/root
meson install -C "$CUB_BUILD" --no-rebuild --quiet --destdir "$R" >"$T/install.log" 2>&1 ||
	fail "meson install: $(tail -5 "$T/install.log")"
prefix=$(meson introspect "$CUB_BUILD" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
U=$R$prefix/lib/systemd/system
for f in "$U/cubicled.service" "$U/cubicle-gateway.service" \
	"$R$prefix/lib/sysusers.d/cubicle.conf" "$R$prefix/lib/tmpfiles.d/cubicle.conf"; do
	[ -f "$f" ] || fail "not installed: ${f#$R}"
done
grep -q "^ExecStart=$prefix/sbin/cubicled " "$U/cubicled.service" ||
	fail "cubicled.service does not start $prefix/sbin/cubicled: $(grep ExecStart "$U/cubicled.service")"
grep -q "^ExecStart=$prefix/bin/cubicle-gateway " "$U/cubicle-gateway.service" ||
	fail "cubicle-gateway.service does not start $prefix/bin/cubicle-gateway"

# verify: the root holds the installed tree and this machine's units
# (the targets the units order against).
mkdir -p "$R/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/"
verify() { (cd "$R" && systemd-analyze verify --man=no --root="$R" "$@" 2>&1); }
out=$(verify "${U#$R/}/cubicled.service" "${U#$R/}/cubicle-gateway.service") ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify said: $out"
sed 's/^ProtectHome=/ProtecHome=/' "$U/cubicled.service" >"$U/cubicled-bad.service"
out=$(verify "${U#$R/}/cubicled-bad.service") && [ -z "$out" ] &&
	fail "systemd-analyze verify accepted an unknown key"
grep -q "Unknown key 'ProtecHome'" <<<"$out" || fail "verify on a bad unit: $out"
rm "$U/cubicled-bad.service"
log "verify: both units clean; a misspelt key is caught"

# sysusers: the users at the uids cubicled computes.
base=$("$CUB_BUILD/broker/cubicled" --help | sed -n 's/.*--uid-base UID.*(default \([0-9]*\)).*/\1/p')
[ -n "$base" ] || fail "cubicled --help names no --uid-base default"
nsvc=$(sed -n 's/^#define MAX_SERVICES \([0-9]*\).*/\1/p' "$SRC/broker/supervisor.c")
hoff=$(sed -n 's/^#define HELPER_UID_OFFSET \([0-9]*\).*/\1/p' "$SRC/broker/helper.c")
nhlp=$(sed -n 's/^#define HELPER_MAX \([0-9]*\).*/\1/p' "$SRC/broker/helper.c")
[ -n "$nsvc" ] && [ -n "$hoff" ] && [ -n "$nhlp" ] || fail "cannot read the uid counts from the sources"
[ "$nsvc" -le "$hoff" ] || fail "service uids ($nsvc) run into the helpers' (offset $hoff)"
last=$((base + hoff + nhlp - 1))
# Clear of systemd's homed/nspawn (60001-60577) and DynamicUser
# (61184-65519) ranges and of nobody (65534).
clear_of() { [ "$last" -lt "$1" ] || [ "$base" -gt "$2" ]; }
clear_of 60001 60577 && clear_of 61184 65534 ||
	fail "worker uids $base-$last meet systemd's homed/nspawn (60001-60577) or DynamicUser (61184-65519) range"
mkdir -p "$R/etc"
out=$(systemd-sysusers --root="$R" "$R$prefix/lib/sysusers.d/cubicle.conf" 2>&1) ||
	fail "systemd-sysusers: $out"
pw() { awk -F: -v u="$1" '$1 == u { print $3 ":" $4 }' "$R/etc/passwd"; }
for i in 0 $((nsvc - 1)); do
	[ "$(pw cubicle-svc$i)" = "$((base + i)):$((base + i))" ] ||
		fail "cubicle-svc$i is '$(pw cubicle-svc$i)', cubicled runs service $i as $((base + i)):$((base + i))"
done
for i in 0 $((nhlp - 1)); do
	u=$((base + hoff + i))
	[ "$(pw cubicle-hlp$i)" = "$u:$u" ] || fail "cubicle-hlp$i is '$(pw cubicle-hlp$i)', expected $u:$u"
done
[ "$(grep -c '^cubicle-svc' "$R/etc/passwd")" = "$nsvc" ] || fail "not $nsvc service users"
[ "$(grep -c '^cubicle-hlp' "$R/etc/passwd")" = "$nhlp" ] || fail "not $nhlp helper users"
awk -F: '$1 == "cubicle" { print $4 }' "$R/etc/group" | grep -qw cubicle-gw ||
	fail "cubicle-gw is not in the cubicle group: $(grep '^cubicle:' "$R/etc/group")"
grep -q '^cubicle-gw:' "$R/etc/group" || fail "no cubicle-gw group (cubicled --gateway-group)"
log "sysusers: $nsvc service and $nhlp helper users at $base-$last, group cubicle with cubicle-gw"

# tmpfiles: the two directories, root's, 0755 and 0700.
out=$(systemd-tmpfiles --root="$R" --create "$R$prefix/lib/tmpfiles.d/cubicle.conf" 2>&1) ||
	fail "systemd-tmpfiles: $out"
[ "$(stat -c %a:%u "$R/run/cubicle")" = 755:0 ] || fail "/run/cubicle: $(stat -c %a:%u "$R/run/cubicle")"
[ "$(stat -c %a:%u "$R/var/lib/cubicle")" = 700:0 ] || fail "/var/lib/cubicle: $(stat -c %a:%u "$R/var/lib/cubicle")"
log "tmpfiles: /run/cubicle 0755, /var/lib/cubicle 0700"

# Exposure, as docs/systemd.md records it.
for u in cubicled cubicle-gateway; do
	got=$(systemd-analyze security --offline=true --root="$R" "$U/$u.service" 2>&1 |
		sed -n "s/.*Overall exposure level for $u.service: \([0-9.]*\).*/\1/p")
	[ -n "$got" ] || fail "systemd-analyze security gave no exposure for $u.service"
	want=$(sed -n "s/^| \`$u.service\` | \([0-9.]*\) .*/\1/p" "$SRC/docs/systemd.md")
	[ "$got" = "$want" ] || fail "$u.service: exposure $got, docs/systemd.md says '${want}'"
	log "security: $u.service exposure $got"
done
