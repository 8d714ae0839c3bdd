#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The installed SDK (issue 8; docs/plugin-guide.md runs the same steps):
# a packager's build (-Dtests=false -Dbench=false, man pages on) with
# check.pc hidden from pkg-config configures, builds and installs into a
# private prefix; the installed binaries carry an rpath to it and the
# broker's defaults point into it.  Both examples, copied out of the
# tree, build with PKG_CONFIG_PATH alone and stay within 150 lines, as
# written and as .clang-format writes them (the same text).  The
# broker started FROM THE PREFIX (its default worker) runs them: pings
# through hello between namespaces, counted exactly; show, set; a kill
# -9 of the worker restarts it and traffic is still counted; the worker
# is sandboxed; thello attached to a netdev counts and drops.  The man
# pages name every flag of `cubicled --help` and `cubicle --help`.  A
# /usr build installed with DESTDIR has no rpath.
. "$(dirname "$0")/../lib/netns.sh"

need meson ninja pkg-config readelf python3
SRC=$(cd "$CUB_LIB/../.." && pwd)
P=$T/prefix

# ---- 1. A packager's build into $P, without check ----
# pkg-config sees every .pc of the system but check's.
mkdir -p "$T/pc"
IFS=: read -ra pcdirs <<<"$(pkg-config --variable pc_path pkg-config)"
for d in "${pcdirs[@]}"; do
	[ -d "$d" ] || continue
	for f in "$d"/*.pc; do
		[ -e "$f" ] && [ "$(basename "$f")" != check.pc ] && ln -sf "$f" "$T/pc/"
	done
done
PKG_CONFIG_LIBDIR=$T/pc pkg-config --exists check && fail "check.pc still visible"
# Under the suite's sanitizer build, the installed binaries are built so
# too: their reports in broker.log fail the test (tests/lib/netns.sh).
san=$(meson introspect --buildoptions "$CUB_BUILD" | python3 -c '
import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"))')
# -O0 (buildtype debug): what is tested is the options, and it halves
# the build on a loaded machine.
buildargs=(--buildtype=debug)
[ "$san" = none ] || buildargs+=(-Db_sanitize="$san" -Db_lundef=false)
PKG_CONFIG_LIBDIR=$T/pc meson setup "$T/b" "$SRC" --prefix="$P" "${buildargs[@]}" \
	-Dtests=false -Dbench=false -Dman=enabled >"$T/setup.log" 2>&1 ||
	fail "meson setup -Dtests=false -Dbench=false: $(tail -5 "$T/setup.log")"
grep -q "check found: NO" "$T/setup.log" || fail "the packager's setup looked for check and found it"
[ "$(meson introspect --tests "$T/b")" = "[]" ] ||
	fail "-Dtests=false still defines tests: $(meson introspect --tests "$T/b" | head -c 300)"
meson introspect --targets "$T/b" | python3 -c '
import json, sys
names = {t["name"] for t in json.load(sys.stdin)}
bad = sorted(n for n in names if n.endswith("_test") or n.startswith("evil")
             or n in ("xdpgen", "cpbench", "storebench", "listbench",
                      "ordbench", "swapdrive", "sf-bpf-test"))
need = {"cubicled", "cubicle", "cubicle-worker", "cubicle-helper", "cubicle",
        "cubicle-gateway"}
if bad or not need <= names:
    sys.exit("targets: unwanted %s, missing %s" % (bad, sorted(need - names)))
' || fail "the packager's build has the wrong targets"
ninja -C "$T/b" >"$T/ninja.log" 2>&1 || fail "ninja: $(tail -20 "$T/ninja.log")"
meson install -C "$T/b" >"$T/install.log" 2>&1 || fail "meson install: $(tail -5 "$T/install.log")"
pcdir=$(dirname "$(find "$P" -name libcubicle.pc)")
[ -f "$pcdir/libcubicle.pc" ] || fail "no libcubicle.pc installed"
libdir=$(dirname "$pcdir")
for f in include/cubicle/cube.bpf.h include/cubicle/cube_shared.h \
	include/cubicle/cube_log.bpf.h \
	include/cubicle/swap.bpf.h include/cubicle/plugin.h bin/cubicle-bpf-build \
	bin/cubicle sbin/cubicled libexec/cubicle-worker libexec/cubicle-helper \
	share/man/man8/cubicled.8 share/man/man8/cubicle.8 \
	bin/cubicle-gateway share/man/man8/cubicle-gateway.8 \
	share/man/man7/cubicle-plugin.7; do
	[ -e "$P/$f" ] || fail "not installed: $f"
done
for b in sbin/cubicled bin/cubicle libexec/cubicle-worker bin/cubicle-gateway; do
	readelf -d "$P/$b" | grep -qF "path: [$libdir]" ||
		fail "$b has no rpath to $libdir: $(readelf -d "$P/$b" | grep -i path)"
done
"$P/sbin/cubicled" --help >"$T/cubicled.help" 2>&1 || true
grep -qF -- "--worker PATH      cubicle-worker binary (default $P/libexec/cubicle-worker)" \
	"$T/cubicled.help" || fail "the installed broker's default worker: $(grep -A1 -- --worker "$T/cubicled.help")"
grep -qF "(default $libdir/cubicle/plugins)" "$T/cubicled.help" ||
	fail "the installed broker's default plugin dir: $(grep -A1 -- --plugin-dir "$T/cubicled.help")"
export PKG_CONFIG_PATH=$pcdir
[ "$(pkg-config --variable=plugindir libcubicle)" = "$libdir/cubicle/plugins" ] ||
	fail "plugindir: $(pkg-config --variable=plugindir libcubicle)"
pkg-config --print-requires libcubicle | grep -q '^libbpf' ||
	fail "libcubicle.pc does not require libbpf: $(pkg-config --print-requires libcubicle)"
pkg-config --variable=bpf_cflags libcubicle | grep -qF -- "-isystem /usr/include/$(gcc -print-multiarch)" ||
	fail "bpf_cflags lacks the multiarch include: $(pkg-config --variable=bpf_cflags libcubicle)"
# An author's machine needs libbpf's .pc (with libelf and zlib, which
# libbpf-dev brings) and the SDK's, not those of the libraries libcubicle
# links privately (msgpack, yaml): a pkg-config that sees only those
# answers --cflags and --libs for both modules.
mkdir -p "$T/pcmin"
for m in libbpf libelf zlib; do
	cp "$(pkg-config --variable=pcfiledir "$m")/$m.pc" "$T/pcmin/"
done
for m in libcubicle cubicle-fake; do
	PKG_CONFIG_LIBDIR="$T/pcmin:$pcdir" pkg-config --cflags --libs "$m" >/dev/null 2>"$T/pcmin.err" ||
		fail "pkg-config $m wants more than libbpf.pc: $(cat "$T/pcmin.err")"
done
cub_log "packager's build without check installed into the prefix: rpath $libdir (${SECONDS} s)"

# The man pages name every flag the binaries print.
for b in cubicled cubicle; do
	case $b in cubicled) help=$T/cubicled.help ;; *) "$P/bin/cubicle" --help >"$T/cubicle.help" 2>&1 || true; help=$T/cubicle.help ;; esac
	for flag in $(grep -oE -- '--[a-z][a-z-]+' "$help" | sort -u); do
		grep -qF -- "$flag" "$SRC/man/$b.8.scd" || fail "man/$b.8.scd does not document $flag"
	done
done

# ---- 2. The examples, copied out of the tree, built with pkg-config alone ----
# The recipe refuses bad arguments by name and makes nothing.
bb=$(pkg-config --variable=bpf_build libcubicle)
mkdir "$T/bb"
for bad in "nosuch.bpf.c x.bpf.o x.skel.h:no source file 'nosuch.bpf.c'" \
	"$SRC/examples/hello/hello.bpf.c x.bpf.o x.h:skeleton 'x.h' must end in .skel.h" \
	"$SRC/examples/hello/hello.bpf.c x.bpf.o a-b.skel.h:'a-b' is no C identifier" \
	"$SRC/examples/hello/hello.bpf.c x.bpf.o x.skel.h x.d -O3:unexpected argument '-O3'"; do
	IFS=: read -r args want <<<"$bad"
	rc=0
	# shellcheck disable=SC2086 # the arguments are words
	err=$(cd "$T/bb" && "$bb" $args 2>&1) || rc=$?
	[ "$rc" = 2 ] && grep -qF -- "$want" <<<"$err" || fail "cubicle-bpf-build $args: exit $rc, '$err'"
	[ -z "$(ls -A "$T/bb")" ] || fail "cubicle-bpf-build $args left $(ls "$T/bb")"
done
for ex in hello thello; do
	n=$(cat "$SRC/examples/$ex"/*.c "$SRC/examples/$ex"/*.h | wc -l)
	[ "$n" -le 150 ] || fail "examples/$ex is $n lines of C and BPF, more than 150"
	# ... as written and formatted with the project's .clang-format
	# (style rule 32): the files are as the formatter writes them.
	command -v clang-format >/dev/null || fail "no clang-format (scripts/run installs it)"
	for fx in "$SRC/examples/$ex"/*.c "$SRC/examples/$ex"/*.h; do
		clang-format --style=file:"$SRC/.clang-format" "$fx" | cmp -s - "$fx" ||
			fail "examples/$ex/${fx##*/} is not as .clang-format writes it"
	done
	cp -r "$SRC/examples/$ex" "$T/$ex"
	# Its unit test links the prefix's (sanitized) libcubicle-fake.
	exargs=()
	[ "$san" = none ] || exargs+=(-Db_sanitize="$san" -Db_lundef=false)
	meson setup "$T/$ex-build" "$T/$ex" "${exargs[@]}" >"$T/$ex.log" 2>&1 ||
		fail "examples/$ex setup: $(tail -5 "$T/$ex.log")"
	ninja -C "$T/$ex-build" >>"$T/$ex.log" 2>&1 || fail "examples/$ex build: $(tail -20 "$T/$ex.log")"
	grep -qF "$SRC" "$T/$ex-build/build.ninja" && fail "examples/$ex's build refers to the source tree"
	grep -q "warning:" "$T/$ex.log" && fail "examples/$ex builds with warnings: $(grep warning: "$T/$ex.log")"
	# Its own unit test, against the installed fake broker: as root
	# (here) the BPF half runs too (BPF_PROG_TEST_RUN); as nobody the
	# control plane passes and the BPF half is skipped (exit 77).
	chmod -R o+rX "$T" 2>/dev/null
	meson test -C "$T/$ex-build" --print-errorlogs >"$T/$ex-test.log" 2>&1 ||
		fail "examples/$ex: meson test: $(tail -20 "$T/$ex-test.log")"
	grep -q "Ok: *1" "$T/$ex-test.log" || fail "examples/$ex: meson test ran no test: $(tail -5 "$T/$ex-test.log")"
	"$T/$ex-build/test_$ex" >"$T/$ex-root.log" 2>&1 ||
		fail "examples/$ex's test as root: $(tail -5 "$T/$ex-root.log")"
	grep -q "all checks passed" "$T/$ex-root.log" || fail "examples/$ex's test as root said $(cat "$T/$ex-root.log")"
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$T/$ex-build/test_$ex" >"$T/$ex-nobody.log" 2>&1 || rc=$?
	[ "$rc" = 77 ] || fail "examples/$ex's test as nobody: exit $rc, not 77: $(tail -5 "$T/$ex-nobody.log")"
	grep -q "control plane passed; BPF half skipped (not root)" "$T/$ex-nobody.log" ||
		fail "examples/$ex's test as nobody said $(cat "$T/$ex-nobody.log")"
	cub_log "examples/$ex: $n lines, built out of tree, its tests pass as root (BPF half run) and as nobody (skipped, 77) (${SECONDS} s)"
done

# ---- 3. The broker from the prefix runs them ----
cub() { "$P/bin/cubicle" --socket-dir "$T/s" "$@" </dev/null; }
netns_host ca veth1 198.18.0.1
netns_host cb veth2 198.18.0.2
netns_host cc veth3 198.18.2.1
ip addr add 198.18.2.2/24 dev veth3
mkdir -p "$T/plugins" "$T/s" "$T/st"
ln -s "$T/hello-build/hello.so" "$T/thello-build/thello.so" "$T/plugins/"
"$P/sbin/cubicled" --socket-dir "$T/s" --state-dir "$T/st" --pin-root "$T/pins" \
	--plugin-dir "$T/plugins" ${CUB_BROKER_ARGS:-} >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
broker_wait_ready

cub_ok hello add h0
cub_ok h0 ports add p1 peer=veth1
cub_ok h0 ports add p2 peer=veth2
static_arp ca 198.18.0.1 cb 198.18.0.2
[ "$(cub h0 show action)" = DROP ] || fail "h0's default action: $(cub h0 show action)"
ip netns exec ca ping -c 2 -i 0.05 -W 1 198.18.0.2 >/dev/null && fail "ping passed with action DROP"
[ "$(cub h0 ports p1 show drops)" -ge 2 ] || fail "h0 p1 drops: $(cub h0 ports p1 show drops)"
refused=$(cub h0 ports add p3 2>&1) && fail "a third port was accepted"
grep -q "at most 2 ports" <<<"$refused" || fail "third port refused with: $refused"
cub_ok h0 set action=forward
[ "$(cub h0 show action)" = FORWARD ] || fail "h0 set action=forward shows $(cub h0 show action)"
counts() { echo "$(cub h0 ports p1 show rx_packets) $(cub h0 ports p2 show tx_packets)"; }
pings() {
	ip netns exec ca ping -c "$1" -i 0.01 -W 10 198.18.0.2 >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out" || fail "$2: $(tail -2 "$T/ping.out")"
}
read -r rx0 tx0 <<<"$(counts)"
pings 20 "ping through h0"
read -r rx1 tx1 <<<"$(counts)"
[ $((rx1 - rx0)) = 20 ] && [ $((tx1 - tx0)) = 20 ] ||
	fail "20 pings counted p1 rx +$((rx1 - rx0)), p2 tx +$((tx1 - tx0))"
cub h0 show >/dev/null || fail "h0 show failed"
cub_log "hello: 20 pings through h0, counted exactly"

# The worker: sandboxed, and restarted after kill -9 with traffic counted.
old=$(worker_pid hello)
[ -n "$old" ] && [ "$old" != 0 ] || fail "no hello worker pid"
st=/proc/$old/status
[ "$(awk '/^Uid:/ { print $2 }' "$st")" != 0 ] || fail "the worker runs as root"
grep -qE "^CapEff:\s+0000000000000000$" "$st" || fail "worker $(grep ^CapEff "$st")"
grep -qE "^NoNewPrivs:\s+1$" "$st" || fail "worker $(grep ^NoNewPrivs "$st")"
grep -qE "^Seccomp:\s+2$" "$st" || fail "worker $(grep ^Seccomp: "$st")"
[ "$(readlink "/proc/$old/exe")" = "$P/libexec/cubicle-worker" ] ||
	fail "the broker ran $(readlink "/proc/$old/exe"), not the prefix's worker"
kill -9 "$old"
new=
for _ in $(seq 1 600); do # 60 s: a loaded machine
	new=$(worker_pid hello)
	[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] && break
	sleep 0.1
done
[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] || fail "hello's worker not restarted"
broker_wait_ready
pings 10 "ping through h0 after the worker's kill -9"
read -r rx2 tx2 <<<"$(counts)"
[ $((rx2 - rx1)) = 10 ] && [ $((tx2 - tx1)) = 10 ] ||
	fail "after the restart 10 pings counted p1 rx +$((rx2 - rx1)), p2 tx +$((tx2 - tx1))"
cub_ok h0 set action=drop
ip netns exec ca ping -c 2 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
	fail "the restarted worker did not apply action=drop"
cub_log "hello: worker $old kill -9ed, $new serves and counts"
# reset: the counters of both ports back to zero (strays may count again
# at once: fewer than the 32 pings counted before, not exactly 0).
rx3=$(cub h0 ports p1 show rx_packets)
[ "$rx3" -ge 32 ] || fail "h0 p1 rx_packets $rx3 before reset, expected >= 32"
cub_ok h0 reset
rx4=$(cub h0 ports p1 show rx_packets)
tx4=$(cub h0 ports p2 show tx_packets)
[ "$rx4" -lt 8 ] && [ "$tx4" -lt 8 ] || fail "after h0 reset: p1 rx_packets $rx4, p2 tx_packets $tx4 (before: $rx3)"
cub_log "hello: reset zeroed the ports' counters ($rx3 -> $rx4)"

# thello, transparent, attached to veth3.
cub_ok thello add t0
cub_ok attach t0 veth3
tping() { ip netns exec cc ping -c "$1" -i 0.05 -W "$2" 198.18.2.2 >/dev/null 2>&1; }
i0=$(cub t0 show ingress-packets)
e0=$(cub t0 show egress-packets)
tping 5 10 || fail "ping through t0 (PASS) failed"
i1=$(cub t0 show ingress-packets)
e1=$(cub t0 show egress-packets)
[ $((i1 - i0)) -ge 5 ] && [ $((e1 - e0)) -ge 5 ] ||
	fail "t0 counted in +$((i1 - i0)), out +$((e1 - e0)) for 5 pings"
cub_ok t0 set ingress-action=DROP
d0=$(cub t0 show ingress-drops)
tping 3 1 && fail "ping passed t0 with ingress-action=DROP"
d1=$(cub t0 show ingress-drops)
[ $((d1 - d0)) -ge 3 ] || fail "t0 ingress-drops +$((d1 - d0)), expected >= 3"
cub_ok detach t0 veth3
tping 2 10 || fail "ping failed after detaching t0"
cub_log "thello: attached t0 counted both ways and dropped (${SECONDS} s)"

# ---- 4. A distribution build (/usr, into DESTDIR): no rpath ----
meson configure "$T/b" --prefix=/usr >"$T/conf.log" 2>&1 || fail "meson configure --prefix=/usr: $(tail -5 "$T/conf.log")"
ninja -C "$T/b" >"$T/ninja2.log" 2>&1 || fail "ninja (/usr): $(tail -20 "$T/ninja2.log")"
DESTDIR=$T/dest meson install -C "$T/b" >"$T/install2.log" 2>&1 || fail "meson install (DESTDIR): $(tail -5 "$T/install2.log")"
for b in usr/sbin/cubicled usr/bin/cubicle usr/libexec/cubicle-worker; do
	[ -f "$T/dest/$b" ] || fail "DESTDIR install has no $b"
	readelf -d "$T/dest/$b" | grep -qiE 'rpath|runpath' &&
		fail "$b of a /usr build has an rpath: $(readelf -d "$T/dest/$b" | grep -iE 'rpath|runpath')"
done
grep -q "^prefix=/usr$" "$T/dest/usr/lib/$(gcc -print-multiarch)/pkgconfig/libcubicle.pc" ||
	fail "the /usr build's libcubicle.pc: $(head -1 "$T/dest/usr/lib/$(gcc -print-multiarch)/pkgconfig/libcubicle.pc")"
cub_log "a /usr build installed with DESTDIR has no rpath (${SECONDS} s)"
