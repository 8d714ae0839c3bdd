#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 13, remote nng over TLS (docs "Client roles", remote clients):
# openssl makes a server CA and the broker's certificate, two client CAs
# (CA1 for admins, CA2 for tenant ta) and their clients' certificates,
# and a self-signed one.  A broker with two listeners on 127.0.0.1,
# admin (CA1) and tenant:ta (CA2): the admin's certificate runs show
# cubes and makes a cube; the tenant's listener makes and sees only its
# own cubes (and an admin's cube is missing to it); CA2's certificate on
# the admin listener, a self-signed one, no certificate (python's ssl)
# and plain tcp:// are refused: the CLI fails clearly, the broker logs
# each refused handshake, and nothing changed.  Clients that connect and
# never handshake do not hold others up: a good client answers while 20
# of them hang on, and the broker closes them after 10 s, logged.  Bad
# --listen-tls options refuse the start, naming what is wrong.
. "$(dirname "$0")/../lib/netns.sh"

need openssl python3
PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
P1=7701 P2=7702
C="$T/certs"
mkdir -p "$C"

# mkca NAME: a CA; mkcert NAME CA CN: a certificate it signed.
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$C/$1.key" -out "$C/$1.pem" -days 2 \
		-subj "/CN=cubicle test $1" 2>/dev/null
}
mkcert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$C/$1.key" -out "$C/$1.csr" -subj "/CN=$3" 2>/dev/null
	openssl x509 -req -in "$C/$1.csr" -CA "$C/$2.pem" -CAkey "$C/$2.key" \
		-CAcreateserial -out "$C/$1.pem" -days 2 2>/dev/null
}
mkca sca
mkca ca1
mkca ca2
mkcert srv sca 127.0.0.1
mkcert srvother sca broker.elsewhere
mkcert admin1 ca1 "automation admin"
mkcert ta1 ca2 "automation ta"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$C/self.key" -out "$C/self.pem" -days 2 -subj "/CN=self" 2>/dev/null
for f in sca ca1 ca2 srv admin1 ta1 self; do
	[ -s "$C/$f.pem" ] || fail "openssl did not make $f.pem"
done
SRV="cert=$C/srv.pem,key=$C/srv.key"

# 0. Bad options refuse the start, naming what is wrong.
printf 'ta uid=60001 netdevs=vetha*\n' >"$T/tenants"
echo "not a key" >"$C/bad.key"
bad_opt() {
	local spec=$1 want=$2 rc=0 err
	err=$("$CUB_BUILD/broker/cubicled" --tenants "$T/tenants" \
		--socket-group 65534 --socket-dir "$T/nb" \
		--listen-tls "$spec" 2>&1) || rc=$?
	[ "$rc" = 1 ] && grep -qF -- "$want" <<<"$err" ||
		fail "--listen-tls '$spec': exit $rc, not /$want/: $err"
	[ ! -e "$T/nb" ] || fail "a refused --listen-tls created the socket dir"
	cub_log "refused: $err"
}
bad_opt "tcp://127.0.0.1:$P1,ca=$C/ca1.pem,$SRV,role=admin" \
	"'tcp://127.0.0.1:$P1': not a tls+tcp://ADDRESS:PORT URL"
bad_opt "tls+tcp://:$P1,ca=$C/ca1.pem,$SRV,role=admin" \
	"name the address and the port to listen on"
bad_opt "tls+tcp://127.0.0.1:$P1,ca=$C/nope.pem,$SRV,role=admin" \
	"ca=$C/nope.pem: No such file or directory"
bad_opt "tls+tcp://127.0.0.1:$P1,ca=$C/ca1.pem,cert=$C/srv.pem,role=admin" \
	"key= is missing"
bad_opt "tls+tcp://127.0.0.1:$P1,ca=$C/ca1.pem,cert=$C/srv.pem,key=$C/bad.key,role=admin" \
	"not a PEM certificate and its unencrypted key"
bad_opt "tls+tcp://127.0.0.1:$P1,ca=$C/bad.key,$SRV,role=admin" \
	"ca=$C/bad.key: not a PEM certificate"
bad_opt "tls+tcp://127.0.0.1:$P1,ca=$C/ca1.pem,$SRV,role=tenant:tz" \
	"role=tenant:tz: no tenant 'tz' in --tenants"
bad_opt "tls+tcp://127.0.0.1:$P1,ca=$C/ca1.pem,$SRV,role=gateway" \
	"role=gateway: admin, reader or tenant:NAME"
bad_opt "tls+tcp://127.0.0.1:$P1,ca=$C/ca1.pem,$SRV" "role= is missing"
bad_opt "tls+tcp://127.0.0.1:$P1,ca=$C/ca1.pem,$SRV,role=admin,mode=x" \
	"'mode=x': unknown key"
cub_log "bad --listen-tls options refused"

ip link add vetha0 type veth peer name vetha1
ip link set vetha0 up
ip link set vetha1 up
CUB_BROKER_ARGS="--tenants $T/tenants --socket-group 65534"
CUB_BROKER_ARGS+=" --listen-tls tls+tcp://127.0.0.1:$P1,ca=$C/ca1.pem,$SRV,role=admin"
CUB_BROKER_ARGS+=" --listen-tls tls+tcp://127.0.0.1:$P2,ca=$C/ca2.pem,$SRV,role=tenant:ta"
# A listener whose certificate names another host: the client refuses it.
P3=7703
CUB_BROKER_ARGS+=" --listen-tls tls+tcp://127.0.0.1:$P3,ca=$C/ca1.pem,cert=$C/srvother.pem,key=$C/srvother.key,role=reader"
broker_start
wait_log 3 "listening on tls\+tcp://127.0.0.1:($P1|$P2|$P3)"
# Only the address given: nothing listens on another.
ss -Htln | awk '{print $4}' | grep -E ":($P1|$P2|$P3)\$" >"$T/ss" || true
[ "$(grep -c . "$T/ss")" = 3 ] && ! grep -qv '^127\.0\.0\.1:' "$T/ss" ||
	fail "the listeners are not on 127.0.0.1 alone: $(cat "$T/ss")"

# rcub PORT CERT ARGS...: the CLI over TLS with CERT's certificate.
rcub() {
	local port=$1 cert=$2
	shift 2
	timeout 30 "$CUB_BUILD/sdk/cubicle" --connect "tls+tcp://127.0.0.1:$port" \
		--tls-ca "$C/sca.pem" --tls-cert "$C/$cert.pem" \
		--tls-key "$C/$cert.key" "$@" </dev/null
}
rok() { rcub "$@" 2>"$T/err" || fail "rcub $*: $(cat "$T/err")"; }

# 1. The admin's certificate: reads, and makes a cube.
rok $P1 admin1 show cubes >/dev/null
rok $P1 admin1 simpleforwarder add sf0 >/dev/null
cub_ok show cubes | grep -qw sf0 || fail "the admin's TLS add made no sf0"
# The same through the environment.
CUBICLE_CONNECT="tls+tcp://127.0.0.1:$P1" CUBICLE_TLS_CA="$C/sca.pem" \
	CUBICLE_TLS_CERT="$C/admin1.pem" CUBICLE_TLS_KEY="$C/admin1.key" \
	timeout 30 "$CUB_BUILD/sdk/cubicle" show cubes </dev/null | grep -qw sf0 ||
	fail "\$CUBICLE_CONNECT and \$CUBICLE_TLS_*: no sf0"
cub_log "admin over TLS: show cubes, simpleforwarder add sf0"

# 2. The tenant's listener: its own cubes only.
rok $P2 ta1 simpleforwarder add a1 >/dev/null
rok $P2 ta1 a1 ports add p1 peer=vetha0 >/dev/null
out=$(rok $P2 ta1 show cubes -o json)
grep -q '"a1"' <<<"$out" || fail "tenant ta over TLS does not see a1: $out"
! grep -q '"sf0"' <<<"$out" || fail "tenant ta over TLS sees the admin's sf0: $out"
err=$(rcub $P2 ta1 sf0 show 2>&1) && fail "tenant ta reads the admin's sf0: $err"
grep -q "no cube or service named 'sf0'" <<<"$err" ||
	fail "ta's sf0 show: not a missing cube's error: $err"
err=$(rcub $P2 ta1 iptables add ipt0 2>&1) && fail "tenant ta used iptables"
grep -q "host-wide" <<<"$err" || fail "ta's iptables add: $err"
err=$(rcub $P2 ta1 a1 ports add p2 peer=lo 2>&1) && fail "ta's port on lo: $err"
grep -q "netdev 'lo' is not granted to tenant 'ta'" <<<"$err" ||
	fail "ta's port on lo: $err"
own=$(cub_ok show cubes -o json)
python3 - "$own" <<'EOF' || fail "owners: $own"
import json, sys
d = json.loads(sys.argv[1])
rows = d.get("cubes", d) if isinstance(d, dict) else d
owners = {}
for r in (rows.values() if isinstance(rows, dict) else rows):
    if isinstance(r, dict) and "name" in r:
        owners[r["name"]] = r.get("owner")
assert owners.get("a1") == "ta", owners
assert owners.get("sf0") == "admin", owners
EOF
cub_log "tenant ta over TLS: a1 is ta's, sf0 missing to it"

# Events stay local: the CLI says so.
out=$(rcub $P1 admin1 events --count 1 --timeout 2000 2>&1) && fail "events over TLS: $out"
grep -q "events are served on the local events socket only" <<<"$out" ||
	fail "events over TLS: $out"

# 3. Refused: another CA's certificate, a self-signed one, no
# certificate, plain tcp://.  Each a change that must not happen.
before=$(cub_ok show cubes -o json)
nref=$(grep -c "TLS connection from .* refused" "$T/broker.log" || true)
refused() {
	local what=$1 pat=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = 3 ] || fail "$what: exit $rc, not 3 (unreachable): $out"
	grep -qE -- "$pat" <<<"$out" || fail "$what: not /$pat/: $out"
	cub_log "$what: refused: $out"
}
refused "CA2's certificate on the admin listener" "TLS handshake failed" \
	rcub $P1 ta1 simpleforwarder add bad1
refused "a self-signed certificate" "TLS handshake failed" \
	rcub $P1 self simpleforwarder add bad2
refused "the admin's certificate on the tenant's listener" "TLS handshake failed" \
	rcub $P2 admin1 simpleforwarder add bad3
refused "a broker certificate for another host" "TLS handshake failed" \
	rcub $P3 admin1 show cubes
refused "plain tcp:// to the TLS port" "serves remote clients over TLS only" \
	timeout 30 "$CUB_BUILD/sdk/cubicle" --connect "tcp://127.0.0.1:$P1" \
	simpleforwarder add bad4
# No client certificate at all (the CLI insists on one: python's ssl).
python3 - "$C/sca.pem" $P1 <<'EOF' || fail "a client without a certificate got through"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.check_hostname = False
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=20)
try:
    t = ctx.wrap_socket(s)
    # A REQ's SP header: a refused handshake never answers with the REP's.
    t.sendall(b"\x00SP\x00\x00\x30\x00\x00")
    got = t.recv(8)
    sys.exit(1 if got else 0)
except (ssl.SSLError, ConnectionError, OSError) as e:
    print("no certificate: refused:", e, file=sys.stderr)
EOF
# The CLI without its files says what is missing.
out=$("$CUB_BUILD/sdk/cubicle" --connect "tls+tcp://127.0.0.1:$P1" \
	--tls-ca "$C/sca.pem" show cubes 2>&1) && fail "no --tls-cert: succeeded"
grep -q "needs --tls-ca, --tls-cert and --tls-key" <<<"$out" ||
	fail "no --tls-cert: $out"
wait_log $((nref + 6)) "TLS connection from 127\.0\.0\.1:[0-9]+ on tls\+tcp://127\.0\.0\.1:($P1|$P2|$P3) \(role [a-z:]+\) refused"
after=$(cub_ok show cubes -o json)
[ "$before" = "$after" ] || fail "a refused client changed the cubes: $before -> $after"
! grep -q "bad[1-4]" "$T/broker.log" || fail "a refused client's request reached the broker"
cub_log "wrong CA, self-signed, no certificate, plain tcp: refused, nothing changed"
grep "TLS connection from" "$T/broker.log" >&2

# The broker's TLS pump threads (broker/tls.c names them cub-tls-*).
pumps() { cat /proc/"$BROKER_PID"/task/*/comm 2>/dev/null | grep -c '^cub-tls' || true; }

# 4. Clients that never handshake do not hold others up.
for i in $(seq 10 29); do
	eval "exec $i<>/dev/tcp/127.0.0.1/$P1"
done
out=$(rok $P1 admin1 sf0 show -o json)
grep -q '"sf0"\|"name"' <<<"$out" || fail "sf0 show with 20 silent TLS clients: $out"
rok $P2 ta1 a1 show >/dev/null
cub_ok show cubes >/dev/null
cub_log "20 clients that never handshake: the others answered"
# At most 8 wait from one address: the oldest gave way, logged.
wait_log 1 "TLS connection from 127\.0\.0\.1:[0-9]+ on tls\+tcp://127\.0\.0\.1:$P1 closed before its handshake ended, to make room"
wait_log 1 "refused: no TLS handshake and SP header within 10 s"
for i in $(seq 10 29); do
	eval "exec $i>&-"
done

# 5. Verified connections count like local ones: 40 from one address
# (the caps' "process") on the admin listener, 32 at most stay.
python3 - "$C" $P1 <<'EOF' || fail "40 verified TLS connections: not capped"
import socket, ssl, sys, time
c, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=c + "/sca.pem")
ctx.check_hostname = False
ctx.load_cert_chain(c + "/admin1.pem", c + "/admin1.key")
conns = []
for i in range(40):
    t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20))
    t.sendall(b"\x00SP\x00\x00\x30\x00\x00")
    conns.append(t)
time.sleep(2)
closed = 0
for t in conns:
    t.settimeout(5)
    got = b""
    try:
        while len(got) < 8:
            b = t.recv(8 - len(got))
            if not b:
                break
            got += b
        if len(got) == 8:
            t.settimeout(0.2)
            try:
                closed += t.recv(1) == b""
            except (TimeoutError, socket.timeout):
                pass
        else:
            closed += 1
    except (ssl.SSLError, OSError):
        closed += 1
print("verified connections closed by the caps:", closed, file=sys.stderr)
sys.exit(0 if closed >= 8 else 1)
EOF
wait_log 1 "too many client connections per process"
rok $P1 admin1 show cubes >/dev/null
cub_log "40 verified TLS connections: 8 or more closed per process, the CLI answered"

# Every pump ended with its connection (polled: connections end on
# nng's threads).
for _ in $(seq 1 300); do
	[ "$(pumps)" = 0 ] && break
	sleep 0.1
done
[ "$(pumps)" = 0 ] || fail "$(pumps) TLS pump threads outlived their connections: $(cat /proc/"$BROKER_PID"/task/*/comm | sort | uniq -c | tr '\n' ' ')"
cub_log "no TLS pump thread left after 60 TLS connections ended"

rok $P1 admin1 simpleforwarder del sf0 >/dev/null
! cub show cubes | grep -q sf0 || fail "the admin's TLS del left sf0"
cub_log "silent clients closed after 10 s, logged"
