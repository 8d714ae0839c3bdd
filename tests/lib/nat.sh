# SPDX-License-Identifier: BSD-2-Clause
# Helpers of the nat tests (tests/integration/nat*.sh); source after
# netns.sh.  One "world" is three namespaces in a row:
#
#   <w>in (198.18.1.1/24) -- <w>r: vin 198.18.1.254 | vout 198.18.2.254
#                                               -- <w>out (198.18.2.1/24)
#
# <w>r forwards (ip_forward=1).  <w>out knows 198.19.0.0/24 (the external
# addresses of the rules) via 198.18.2.254 and nothing of 198.18.1.0/24:
# a reply reaches the inside only if the router translated it.  The
# cube's world is the test's own namespace as router (nat_world_cube:
# namespaces in1, out1); the twin is a namespace tw as router with Linux
# nft NAT (nat_world_twin: namespaces in2, tw, out2), the same addresses.

NAT_PY="$T/natpeer.py"
cat >"$NAT_PY" <<'PY'
# natpeer.py MODE ...: servers that tell the peer its own address, and
# clients that print what they were told.
import os, selectors, socket, sys, time

# NAT_NEG=1: a check that expects no answer: one try of 2 s (an answer
# on these veths takes milliseconds).
NEG = os.environ.get("NAT_NEG") == "1"
TRIES, WAIT = (1, 2) if NEG else (3, 3)

def tcp_server(port):
    # Every connection gets "ip:port\n" of its peer, then its bytes back.
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                c, a = ls.accept()
                c.setblocking(False)
                c.sendall(("%s:%d\n" % a).encode())
                sel.register(c, selectors.EVENT_READ, a)
                continue
            c = key.fileobj
            try:
                d = c.recv(65536)
            except OSError:
                d = b""
            if not d:
                sel.unregister(c)
                c.close()
            else:
                c.sendall(d)

def udp_server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(("%s:%d" % a).encode(), a)

def tcp_client(dst, port, sport):
    # Prints the address the server saw, then checks an echo.
    c = socket.create_connection((dst, port), timeout=WAIT + 2 * (not NEG),
        source_address=("0.0.0.0", sport))
    f = c.makefile("rb")
    peer = f.readline().decode().strip()
    c.sendall(b"ping\n")
    if f.readline() != b"ping\n":
        sys.exit("no echo")
    print(peer)

def udp_client(dst, port, sport):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", sport))
    s.settimeout(WAIT)
    for _ in range(TRIES):
        s.sendto(b"x", (dst, port))
        try:
            print(s.recvfrom(2048)[0].decode())
            return
        except socket.timeout:
            pass
    sys.exit("no UDP answer")

def udp_refused(dst, port):
    # A connected socket to a closed port: the port unreachable must
    # come back to it (ECONNREFUSED).
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, port))
    s.settimeout(3)
    for _ in range(3):
        s.send(b"x")
        try:
            s.recv(100)
        except ConnectionRefusedError:
            print("refused")
            return
        except socket.timeout:
            pass
    sys.exit("no port unreachable came back")

def udp_ttl(dst, port, ttl):
    # A datagram with a small TTL: the time exceeded a router outside
    # sends must come back to this socket (IP_RECVERR: EHOSTUNREACH).
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.connect((dst, port))
    s.settimeout(3)
    for _ in range(3):
        s.send(b"x")
        try:
            s.recv(100)
        except OSError as e:
            if e.errno == 113:  # EHOSTUNREACH
                print("time exceeded")
                return
            raise
    sys.exit("no time exceeded came back")

def many(dst, port, n):
    # n connections open at once, each gets its echo; prints how many.
    socks = []
    for i in range(n):
        c = socket.socket()
        c.settimeout(10)
        c.connect((dst, port))
        socks.append(c)
    ok = 0
    for i, c in enumerate(socks):
        f = c.makefile("rb")
        f.readline()
        msg = b"flow %d\n" % i
        c.sendall(msg)
        if f.readline() == msg:
            ok += 1
    for c in socks:
        c.close()
    print(ok)

def hold(dst, port, n, fifo):
    # n connections held open; each line on fifo runs one round (a
    # message on each, its echo checked) and prints "round OK/BAD".
    socks = []
    for i in range(n):
        c = socket.create_connection((dst, port), timeout=5)
        f = c.makefile("rb")
        f.readline()
        socks.append((c, f))
    print("held", flush=True)
    with open(fifo) as ctl:
        for line in ctl:
            if line.strip() == "quit":
                break
            ok = 0
            for i, (c, f) in enumerate(socks):
                msg = b"r %d\n" % i
                try:
                    c.sendall(msg)
                    if f.readline() == msg:
                        ok += 1
                except OSError:
                    pass
            print("round %d/%d" % (ok, n), flush=True)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s

def sniff_udp(port):
    # The first UDP datagram to port on eth0, as the wire has it: its
    # source and its checksum ("zero", or "good" if it verifies).
    r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    r.bind(("eth0", 0))
    r.settimeout(10)
    print("ready", flush=True)
    while True:
        f = r.recv(2048)
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17:
            continue
        u = ip[ihl:]
        if int.from_bytes(u[2:4], "big") != port:
            continue
        ulen = int.from_bytes(u[4:6], "big")
        c = int.from_bytes(u[6:8], "big")
        src = "%s:%d" % (socket.inet_ntoa(ip[12:16]), int.from_bytes(u[0:2], "big"))
        if c == 0:
            print(src, "zero")
        else:
            ph = ip[12:20] + b"\0\x11" + ulen.to_bytes(2, "big")
            print(src, "good" if csum(ph + u[:ulen]) == 0xffff else "bad")
        return

def udp_send(dst, port, sport, nocheck):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if nocheck:
        s.setsockopt(socket.SOL_SOCKET, 11, 1)  # SO_NO_CHECK
    s.bind(("0.0.0.0", sport))
    s.sendto(b"checksum", (dst, port))

m = sys.argv[1]
a = sys.argv[2:]
if m == "tcp-server": tcp_server(int(a[0]))
elif m == "udp-server": udp_server(int(a[0]))
elif m == "tcp": tcp_client(a[0], int(a[1]), int(a[2]))
elif m == "udp": udp_client(a[0], int(a[1]), int(a[2]))
elif m == "udp-refused": udp_refused(a[0], int(a[1]))
elif m == "udp-ttl": udp_ttl(a[0], int(a[1]), int(a[2]))
elif m == "many": many(a[0], int(a[1]), int(a[2]))
elif m == "hold": hold(a[0], int(a[1]), int(a[2]), a[3])
elif m == "sniff-udp": sniff_udp(int(a[0]))
elif m == "udp-send": udp_send(a[0], int(a[1]), int(a[2]), a[3] == "nocheck")
PY

# nat_py NS ARGS...: natpeer.py in namespace NS.
nat_py() {
	local ns=$1
	shift
	ip netns exec "$ns" python3 "$NAT_PY" "$@"
}

# nat_server NS MODE PORT: a server in the background, ready when this
# returns.
nat_server() {
	local out="$T/srv.$1.$2.$3"
	mkfifo "$out.fifo"
	nat_py "$1" "$2-server" "$3" >"$out.fifo" 2>&1 &
	read -r line <"$out.fifo" || true
	[ "$line" = ready ] || fail "server $2 $3 in $1 did not start: $line"
	cat "$out.fifo" >/dev/null &
}

# nat_csum FROM TO DST PORT SPORT [nocheck]: a datagram from namespace
# FROM to DST:PORT, seen on TO's wire: "source zero|good|bad".
nat_csum() {
	local f="$T/sniff.$2.$4" pid i
	# Made here: the background job opens it only when it runs, and a
	# grep before that put "No such file" into the caller's answer.
	: >"$f"
	nat_py "$2" sniff-udp "$4" >"$f" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		grep -q ready "$f" && break
		sleep 0.05
	done
	grep -q ready "$f" || fail "sniffer in $2: $(cat "$f")"
	nat_py "$1" udp-send "$3" "$4" "$5" "${6:-check}"
	wait "$pid" || true
	sed -n 2p "$f"
}

# nat_peer NS IFNAME ADDR GW: a namespace at the end of a veth.
nat_peer() {
	netns_host "$1" "$2" "$3"
	ip -n "$1" route add default via "$4"
}

# The cube's world: the test's namespace routes between in1 and out1.
nat_world_cube() {
	nat_peer in1 vin 198.18.1.1 198.18.1.254
	netns_host out1 vout 198.18.2.1
	ip -n out1 route add 198.19.0.0/24 via 198.18.2.254
	ip addr add 198.18.1.254/24 dev vin
	ip addr add 198.18.2.254/24 dev vout
	sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
	ip netns exec out1 sysctl -qw net.ipv4.icmp_ratelimit=0
	ip netns exec in1 sysctl -qw net.ipv4.icmp_ratelimit=0
}

# The twin: namespace tw routes between in2 and out2, with nft NAT rules
# read from stdin.
nat_world_twin() {
	ip netns add tw
	NAMESPACES+=(tw)
	ip -n tw link set lo up
	for x in in2:vin:198.18.1 out2:vout:198.18.2; do
		IFS=: read -r ns dev net <<<"$x"
		ip netns add "$ns"
		NAMESPACES+=("$ns")
		ip -n "$ns" link set lo up
		ip -n tw link add "$dev" type veth peer name eth0 netns "$ns"
		ip -n tw addr add "$net.254/24" dev "$dev"
		ip -n tw link set "$dev" up
		ip -n "$ns" addr add "$net.1/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
	ip -n in2 route add default via 198.18.1.254
	ip -n out2 route add 198.19.0.0/24 via 198.18.2.254
	ip netns exec tw sysctl -qw net.ipv4.ip_forward=1
	ip netns exec out2 sysctl -qw net.ipv4.icmp_ratelimit=0
	ip netns exec in2 sysctl -qw net.ipv4.icmp_ratelimit=0
	ip netns exec tw nft -f - || fail "nft refused the twin's rules"
}
