#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Workers are sandboxed (proved from /proc/<pid>/status), and so is the
# plugin's constructor; a worker reaches no socket, path or process but its
# broker's two connections, and those serve only it; a forbidden system
# call made by a plugin kills its worker with SIGSYS, the broker restarts
# it and the cube keeps forwarding; a plugin cannot get a program that
# reads kernel memory, or leaks kernel pointers, loaded.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 2000"
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
broker_start

# 1. Every worker: own non-root uid, no capabilities, no_new_privs, seccomp.
uids=()
for svc in simpleforwarder evil; do
	pid=$(worker_pid $svc)
	[ -n "$pid" ] && [ "$pid" != 0 ] || fail "no worker for $svc"
	st=/proc/$pid/status
	for f in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -qE "^$f:\s+0000000000000000$" $st || fail "$svc: $(grep ^$f: $st)"
	done
	grep -qE "^NoNewPrivs:\s+1$" $st || fail "$svc: $(grep ^NoNewPrivs $st)"
	grep -qE "^Seccomp:\s+2$" $st || fail "$svc: $(grep ^Seccomp: $st)"
	uid=$(awk '/^Uid:/ { print $2 }' $st)
	[ "$uid" != 0 ] || fail "$svc runs as root"
	awk '/^Uid:/ { exit !($2 == $3 && $3 == $4 && $4 == $5) }' $st ||
		fail "$svc: uids differ: $(grep ^Uid $st)"
	# Every thread (nng's included) is confined too.
	for t in /proc/$pid/task/*; do
		grep -qE "^Seccomp:\s+2$" $t/status || fail "$svc thread $t not confined"
		grep -qE "^CapEff:\s+0000000000000000$" $t/status || fail "$svc thread $t has caps"
	done
	uids+=("$uid")
	cub_log "$svc worker $pid: uid $uid, no caps, NoNewPrivs 1, Seccomp 2"
done
[ "${uids[0]}" != "${uids[1]}" ] || fail "two services share uid ${uids[0]}"

cub_ok evil add e1
cub_ok e1 ports add p1 peer=vetha action=drop
cub_ok e1 ports add p2 peer=vethb action=forward outport=p1
cub_ok e1 ports p1 set action=forward outport=p2
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "e1 does not forward"
prog=$(tc filter show dev vetha ingress)

# The plugin's constructor ran inside the whole sandbox: dlopen() comes
# after the worker's own root (no /etc or /proc in it: ENOENT), the uid
# drop, the capability drop, no_new_privs, Landlock (no file but the
# plugin and the system libraries opens, not even the root directory of
# the worker, which the mount namespace alone would leave readable) and
# seccomp.
c=$(cub e1 debug constructor -o json)
cub_log "constructor saw: $(tr -d '\n' <<<"$c")"
uid=$(awk '/^Uid:/ { print $2 }' /proc/$(worker_pid evil)/status)
for want in "\"uid\": \"$uid\"" '"capeff": "0000000000000000"' '"nnp": "1"' \
	'"seccomp": "2"' '"shadow": "No such file or directory"' \
	'"passwd": "No such file or directory"' '"status": "No such file or directory"' \
	'"root": "Permission denied"' '"fork": "Operation not permitted"'; do
	grep -qF "$want" <<<"$c" || fail "constructor: $want missing in: $c"
done

# The worker reaches nothing but its broker: no new socket or connection
# (an abstract socket, a 0666 pathname socket, a socketpair to pass a
# descriptor with SCM_RIGHTS) and no stat of a path.  The listeners log
# every connection they accept.
chmod 0711 "$T"
mkdir -m 0777 "$T/pub"
abstract="cubicle-test-$$-$RANDOM"
python3 - "$abstract" "$T/pub/open.sock" "$T/accepted" <<'PY' &
import os, select, socket, sys
name, path, log = sys.argv[1:4]
a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
a.bind("\0" + name)
p = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
p.bind(path)
os.chmod(path, 0o666)
for s in (a, p):
    s.listen(8)
open(log + ".ready", "w").close()
while True:
    for s in select.select([a, p], [], [])[0]:
        c, _ = s.accept()
        with open(log, "a") as f:
            f.write("abstract\n" if s is a else "path\n")
        c.close()
PY
LISTENERS=$!
for _ in $(seq 1 50); do [ -e "$T/accepted.ready" ] && break; sleep 0.1; done
[ -e "$T/accepted.ready" ] || fail "test listeners did not start"
old=$(worker_pid evil)
e=$(cub e1 debug escape abstract="$abstract" path="$T/pub/open.sock" -o json) ||
	fail "escape attempts killed the worker: $e"
cub_log "escape attempts: $(tr -d '\n' <<<"$e")"
for k in stat abstract path socketpair scm_rights; do
	grep -qE "\"$k\": \"refused: " <<<"$e" || fail "escape: $k not refused: $e"
done
[ ! -s "$T/accepted" ] || fail "a listener accepted the worker: $(cat "$T/accepted")"
[ "$(worker_pid evil)" = "$old" ] || fail "refused escapes killed the worker"
kill "$LISTENERS" 2>/dev/null || true

# A worker socket serves exactly one connection, its worker's: a root
# process dialing worker-evil.sock (as REQ), worker-evil.cmd (as REP) or
# worker-evil.pkt (as PULL: the packet-in stream) is dropped, and the
# healthy worker keeps serving.
python3 - "$T/s/worker-evil.sock" 0x30 "$T/s/worker-evil.cmd" 0x31 \
	"$T/s/worker-evil.pkt" 0x51 <<'PY' ||
import socket, struct, sys, time
args = sys.argv[1:]
bad = []
for path, proto in zip(args[::2], args[1::2]):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"\0SP\0" + struct.pack(">H", int(proto, 16)) + b"\0\0")
    s.settimeout(5)
    got = b""
    try:
        while len(got) < 8:
            d = s.recv(8 - len(got))
            if not d:
                break
            got += d
        if len(got) == 8:
            # Negotiated: the broker must now drop the connection.
            d = s.recv(1 << 16)
            if d:
                bad.append(path + ": served")
    except socket.timeout:
        bad.append(path + ": connection kept open for 5 s")
    except ConnectionResetError:
        pass
    s.close()
if bad:
    print("; ".join(bad))
    sys.exit(1)
PY
	fail "a second connection to a worker socket was accepted"
grep -q "service 'evil': refusing connection from pid" "$T/broker.log" ||
	fail "no refused connection logged"
[ "$(worker_pid evil)" = "$old" ] || fail "a refused connection cost the worker its place"
cub_ok e1 show >/dev/null
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "e1 broken by a refused connection"
cub_log "constructor sandboxed; escapes refused; stray connections dropped"

# A worker never redials: when a broker connection closes it exits.  A
# stand-in broker (raw SP over IPC) takes the worker's three connections and
# its hello, closes them, and watches for a redial.
mkdir -p "$T/fake"
python3 - "$T/fake" "$T/fake.out" <<'PY' &
import os, select, socket, sys, time
d, out = sys.argv[1:3]
ls = {}
for suffix, proto in (("sock", 0x31), ("cmd", 0x30), ("pkt", 0x50)):  # REP, REQ, PUSH
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(f"{d}/worker-simpleforwarder.{suffix}")
    s.listen(4)
    ls[s] = proto
open(out + ".ready", "w").close()
conns, log = [], open(out, "w", buffering=1)
hello = None
deadline = time.time() + 10
while len(conns) < 3 and time.time() < deadline:
    for s in select.select(list(ls), [], [], 1)[0]:
        c, _ = s.accept()
        c.sendall(b"\0SP\0" + bytes([0, ls[s]]) + b"\0\0")
        conns.append(c)
        if ls[s] == 0x31:
            hello = c
log.write(f"connections {len(conns)}\n")
# The hello arrives on .sock: wait for some bytes past its SP header.
got = b""
deadline = time.time() + 10
while hello and len(got) < 9 and time.time() < deadline:
    for c in select.select([hello], [], [], 1)[0]:
        got += c.recv(4096)
log.write(f"hello {len(got) > 8}\n")
for c in conns:
    c.close()
# Anything that connects from now on is a redial.
deadline = time.time() + 3
while time.time() < deadline:
    for s in select.select(list(ls), [], [], 0.2)[0]:
        s.accept()
        log.write("redial\n")
log.write("done\n")
PY
FAKE=$!
for _ in $(seq 1 50); do [ -e "$T/fake.out.ready" ] && break; sleep 0.1; done
[ -e "$T/fake.out.ready" ] || fail "stand-in broker did not start"
"$CUB_BUILD/workers/cubicle-worker" --plugin "$CUB_BUILD/plugins/simpleforwarder/simpleforwarder.so" \
	--service simpleforwarder --socket-dir "$T/fake" --uid 64900 --gid 64900 \
	</dev/null >>"$T/fake-worker.log" 2>&1 &
wpid=$!
for _ in $(seq 1 100); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$wpid" 2>/dev/null; then
	kill -9 "$wpid"
	fail "worker still alive 10 s after its broker closed the connections: $(cat "$T/fake.out")"
fi
wait "$wpid" || true
wait "$FAKE" || true
grep -q "connections 3" "$T/fake.out" || fail "worker did not dial: $(cat "$T/fake.out" "$T/fake-worker.log")"
grep -q "hello True" "$T/fake.out" || fail "no hello from the worker: $(cat "$T/fake.out")"
grep -q "redial" "$T/fake.out" && fail "the worker redialed: $(cat "$T/fake.out")"
grep -q "connection .* closed; exiting" "$T/fake-worker.log" ||
	fail "worker did not say why it exited: $(cat "$T/fake-worker.log")"
cub_log "worker exited when its broker closed the connections, no redial"

# The map API from inside the sandbox: what is allowed works, what is not
# (writing a framework map, a forged handle, a wrong key size) is refused.
m=$(cub e1 debug maps -o json)
for want in '"batch_update": "done"' '"lookup_matches": true' '"dump_entries": 128' \
	'"array_delete": "refused"' '"restore": "done"' '"framework_write": "refused"' \
	'"bad_handle": "refused"' '"bad_key": "refused"' '"array_delete_errno": 22' \
	'"noexist_errno": 17' '"missing_errno": 2'; do
	grep -qF "$want" <<<"$m" || fail "map API: $want missing in: $m"
done
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "e1 broken by the map test"

# 2. Forbidden system calls: SIGSYS, restart, forwarding never stops.
for call in bpf execve socket-inet; do
	old=$(worker_pid evil)
	ip netns exec ca ping -c 100 -i 0.01 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 &
	pp=$!
	sleep 0.2
	err=$(cub_refused 2 e1 debug syscall call=$call)
	broker_wait_ready
	new=$(worker_pid evil)
	[ "$new" != "$old" ] && [ "$new" != 0 ] || fail "$call: worker not restarted"
	grep -q "worker $old killed by signal 31 (forbidden system call)" "$T/broker.log" ||
		fail "$call: no SIGSYS logged for $old"
	wait $pp || true
	grep -q " 0% packet loss" "$T/ping.out" ||
		fail "$call: packets lost while the worker died: $(grep loss "$T/ping.out")"
	cub_log "syscall $call: worker $old killed by SIGSYS ($err), now $new, no packet lost"
done
# A new process is refused with EPERM, at load time (the constructor's
# fork above) and later alike: the worker survives, with no child.
old=$(worker_pid evil)
err=$(cub_refused 2 e1 debug syscall call=fork)
grep -q "fork returned" <<<"$err" || fail "fork: $err"
[ "$(worker_pid evil)" = "$old" ] || fail "fork: the worker did not survive"
[ -z "$(pgrep -P "$old")" ] || fail "fork: worker $old has a child"
cub_log "syscall fork: refused ($err), worker $old lives on"
# The restarted worker is re-synced and serves the cube.
cub_ok e1 ports p2 set action=drop
ip netns exec ca ping -c 2 -i 0.1 -W 1 198.18.0.2 >/dev/null && fail "re-synced worker ignored action=drop"
cub_ok e1 ports p2 set action=forward
ip netns exec ca ping -c 2 -i 0.1 -W 10 198.18.0.2 >/dev/null || fail "e1 stopped forwarding"

# A worker that hangs in a call is killed after --call-timeout and
# restarted; forwarding goes on.
old=$(worker_pid evil)
err=$(cub_refused 2 e1 debug syscall call=hang)
grep -q "did not answer" <<<"$err" || fail "hang: $err"
broker_wait_ready
[ "$(worker_pid evil)" != "$old" ] || fail "hung worker not restarted"
grep -q "worker $old killed by signal 9" "$T/broker.log" || fail "hung worker not killed"
ip netns exec ca ping -c 2 -i 0.1 -W 10 198.18.0.2 >/dev/null || fail "e1 stopped forwarding"
cub_log "hung worker $old killed after 2 s and replaced"

# 3. Files cannot be opened: refused, not killed (/etc/passwd is not in
# the worker's root).
old=$(worker_pid evil)
err=$(cub_refused 2 e1 debug syscall call=open)
grep -q "No such file or directory" <<<"$err" || fail "open: $err"
[ "$(worker_pid evil)" = "$old" ] || fail "open killed the worker"

# 4. Hostile objects are refused; the cube's program stays.
err=$(cub_refused 2 e1 debug load object=probe-read)
grep -q "bpf_probe_read_kernel" <<<"$err" || fail "probe-read: $err"
cub_log "probe-read object refused: $err"
err=$(cub_refused 2 e1 debug load object=ptr-leak)
grep -q "kernel refused the object.*leaks addr" <<<"$err" || fail "ptr-leak: $err"
grep -q "leaks addr" "$T/broker.log" || fail "verifier did not report the pointer leak"
cub_log "ptr-leak object refused by the unprivileged verifier: $err"
# Control: as full root the same object loads, so it is the broker's
# reduced capabilities that refuse it.
mkdir -p "$T/ctl" && mount -t bpf bpf "$T/ctl"
bpftool prog loadall "$CUB_BUILD/plugins/testing/evil_leak.bpf.o" "$T/ctl/p" ||
	fail "control: the pointer-leak object does not load even as root"
umount "$T/ctl"
[ "$(tc filter show dev vetha ingress)" = "$prog" ] || fail "a refused load changed the program"
ip netns exec ca ping -c 2 -i 0.1 -W 10 198.18.0.2 >/dev/null || fail "e1 stopped forwarding"
cub_ok e1 del
