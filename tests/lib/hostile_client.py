#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A hostile cubicled client, for tests/integration/hostile-client.sh.

It speaks nng's SP protocol over IPC by hand (no nng binding needed), so it
can do what the SDK never does: pipeline requests without reading replies,
hold connections open, send bytes the SDK would refuse.

  hostile_client.py SOCKDIR badutf8 MSGID
      send [0, MSGID, "request", {"words": ["\\xff"]}] with invalid UTF-8
      and print "msgid=N error=MESSAGE" for the reply.
  hostile_client.py SOCKDIR flood CONNS REQUESTS SECONDS [STOPFILE]
      CONNS connections, each sending REQUESTS requests without reading a
      reply, reconnecting when the broker drops them, for SECONDS (or,
      with STOPFILE, until that file exists once the broker has dropped
      it at least once, SECONDS at most).  Prints "flood: sent N on C
      connections, dropped D times" at the end.
  hostile_client.py SOCKDIR instep REQUESTS
      one connection, REQUESTS requests each sent once the last reply is
      read; prints "instep: N of M answered in S s (R/s)" or where it
      was closed.
  hostile_client.py SOCKDIR idle CONNS SECONDS
      open CONNS connections (SP handshake done, no request) and hold them
      for SECONDS; prints "idle: N connected" once they are all opened.
  hostile_client.py SOCKDIR deaf-sub SECONDS
      subscribe to every event and never read, for SECONDS.
  hostile_client.py SOCKDIR pipeline-close CONNS
      CONNS times, as fast as it can: connect, send two requests at once,
      close without reading.  Prints "pipeline-close: N connected".
  hostile_client.py SOCKDIR subs CONNS SECONDS
      open CONNS events subscriptions and hold them for SECONDS; prints
      "subs: N connected" once they are all opened.
  hostile_client.py SOCKDIR churn SECONDS HOLD
      for SECONDS, hold HOLD client and HOLD events connections (SP header
      sent) and redial at once each one the broker closes; past the
      broker's per-process cap each new one evicts another.  Prints
      "churn: N connections, F failed".
  hostile_client.py SOCKDIR wire CASE
      one wire-level violation on a connection, then wait (up to 30 s)
      for the broker to close it; prints "CASE: closed" or "CASE: open".
      CASE: badhdr, badproto, subonreq, reqonpub, toolong, truncated,
      badtype, nobacktrace, short, unread, silent, idle-hello (a header and
      nothing else: kept, so this one prints "open" after 15 s), good.
"""
import ctypes
import os
import resource
import select
import socket
import struct
import signal
import sys
import time

REQ0, REP0, SUB0, PUB0 = 0x30, 0x31, 0x21, 0x20


def mp(v):
    """A minimal MessagePack encoder: int >= 0, str, bytes (as str), list, dict."""
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if v < 0x80:
            return bytes([v])
        if v <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", v)
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        # Sent as a MessagePack str, whatever the bytes are.
        if len(v) < 32:
            return bytes([0xA0 | len(v)]) + v
        return b"\xd9" + bytes([len(v)]) + v
    if isinstance(v, list):
        assert len(v) < 16
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        assert len(v) < 16
        return bytes([0x80 | len(v)]) + b"".join(
            mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def mp_decode(b, i=0):
    """Enough of a decoder for replies: returns (value, next offset)."""
    c = b[i]
    if c < 0x80:
        return c, i + 1
    if 0x80 <= c <= 0x8F or c in (0xDE, 0xDF):
        if c <= 0x8F:
            n, i = c & 0x0F, i + 1
        elif c == 0xDE:
            n, i = struct.unpack_from(">H", b, i + 1)[0], i + 3
        else:
            n, i = struct.unpack_from(">I", b, i + 1)[0], i + 5
        d = {}
        for _ in range(n):
            k, i = mp_decode(b, i)
            d[k], i = mp_decode(b, i)
        return d, i
    if 0x90 <= c <= 0x9F or c in (0xDC, 0xDD):
        if c <= 0x9F:
            n, i = c & 0x0F, i + 1
        elif c == 0xDC:
            n, i = struct.unpack_from(">H", b, i + 1)[0], i + 3
        else:
            n, i = struct.unpack_from(">I", b, i + 1)[0], i + 5
        a = []
        for _ in range(n):
            x, i = mp_decode(b, i)
            a.append(x)
        return a, i
    if 0xA0 <= c <= 0xBF or c in (0xD9, 0xDA, 0xDB):
        if c <= 0xBF:
            n, i = c & 0x1F, i + 1
        elif c == 0xD9:
            n, i = b[i + 1], i + 2
        elif c == 0xDA:
            n, i = struct.unpack_from(">H", b, i + 1)[0], i + 3
        else:
            n, i = struct.unpack_from(">I", b, i + 1)[0], i + 5
        return b[i:i + n].decode(errors="replace"), i + n
    if c == 0xC0:
        return None, i + 1
    if c in (0xC2, 0xC3):
        return c == 0xC3, i + 1
    if c >= 0xE0:
        return c - 0x100, i + 1
    sizes = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
             0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
    if c in sizes:
        f = sizes[c]
        return struct.unpack_from(f, b, i + 1)[0], i + 1 + struct.calcsize(f)
    raise ValueError("unsupported MessagePack byte 0x%02x" % c)


def sp_connect(path, proto, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(b"\x00SP\x00" + struct.pack(">H", proto) + b"\x00\x00")
    hdr = recv_exact(s, 8)
    if hdr[:4] != b"\x00SP\x00":
        raise ConnectionError("not an SP peer")
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed by the broker")
        buf += chunk
    return buf


def sp_frame(reqid, body):
    payload = struct.pack(">I", reqid | 0x80000000) + body
    return b"\x01" + struct.pack(">Q", len(payload)) + payload


def sp_recv(s):
    hdr = recv_exact(s, 9)
    n = struct.unpack(">Q", hdr[1:])[0]
    return recv_exact(s, n)


def client_path(sockdir):
    return os.path.join(sockdir, "cubicled.sock")


def die_with_parent():
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os._exit(0)


def hold_in_children(procs, conns, dial):
    """Fork PROCS children; each calls dial() CONNS times, keeps what it
    returns and holds it until killed (it dies with its parent).  Returns
    once every child has dialled: (the children's pids, how many said so)."""
    kids = []
    r, w = os.pipe()
    for _ in range(int(procs)):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            die_with_parent()
            held = [dial() for _ in range(int(conns))]
            os.write(w, b"x")
            time.sleep(3600)
            del held
            os._exit(0)
        kids.append(pid)
    os.close(w)
    got = 0
    while got < int(procs):
        c = os.read(r, 64)
        if not c:
            break
        got += len(c)
    os.close(r)
    return kids, got


def hold_until_killed(kids):
    try:
        time.sleep(3600)
    finally:
        for k in kids:
            os.kill(k, 9)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cmd_badutf8(sockdir, msgid):
    s = sp_connect(os.path.join(sockdir, "cubicled.sock"), REQ0)
    body = mp([0, int(msgid), "request", {"words": [b"\xff"]}])
    s.sendall(sp_frame(1, body))
    reply = sp_recv(s)[4:]
    frame, _ = mp_decode(reply)
    err = frame[2] or {}
    print("msgid=%d error=%s" % (frame[1], err.get("message")))


def cmd_flood(sockdir, conns, requests, seconds, stopfile=None):
    raise_nofile()
    path = os.path.join(sockdir, "cubicled.sock")
    # "?" answers with the top-level help: a reply far bigger than the
    # request, so unread replies fill the connection's buffer quickly.
    frames = b"".join(
        sp_frame(i, mp([0, i, "request", {"words": ["?"]}]))
        for i in range(int(requests)))
    sent = dropped = 0
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        if stopfile and dropped and os.path.exists(stopfile):
            break
        socks = []
        for _ in range(int(conns)):
            try:
                socks.append(sp_connect(path, REQ0, 2.0))
            except OSError:
                dropped += 1
        for s in socks:
            try:
                s.settimeout(max(0.1, end - time.monotonic()))
                s.sendall(frames)
                sent += int(requests)
            except OSError:
                dropped += 1
        # Never read; wait until the broker drops us (or time is up):
        # the peer's close shows as POLLRDHUP even with replies unread.
        poller = select.poll()
        byfd = {}
        for s in socks:
            poller.register(s, select.POLLRDHUP)
            byfd[s.fileno()] = s
        while byfd and time.monotonic() < end:
            if stopfile and dropped and os.path.exists(stopfile):
                break
            for fd, ev in poller.poll(200):
                if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                    poller.unregister(fd)
                    s = byfd.pop(fd)
                    socks.remove(s)
                    s.close()
                    dropped += 1
        for s in socks:
            s.close()
        # Dropped: come back for more, a second later (pipeline-close is
        # the tight loop).
        for _ in range(10):
            if stopfile and dropped and os.path.exists(stopfile):
                break
            time.sleep(0.1)
    print("flood: sent %d on %s connections, dropped %d times" %
          (sent, conns, dropped))


def cmd_instep(sockdir, requests):
    """One connection, REQUESTS requests one after the other, each sent
    once the last one's reply is read: a fast client, not a flooder."""
    s = sp_connect(client_path(sockdir), REQ0, 10.0)
    n = int(requests)
    t0 = time.monotonic()
    done = 0
    try:
        for i in range(n):
            s.sendall(sp_frame(i, mp([0, i, "request",
                                      {"words": ["services"]}])))
            sp_recv(s)
            done += 1
    except (OSError, ConnectionError) as e:
        print("instep: %d of %d answered, then %s" % (done, n, e))
        return
    dt = time.monotonic() - t0
    print("instep: %d of %d answered in %.2f s (%.0f/s)" %
          (done, n, dt, done / dt if dt else 0.0))


def cmd_idle(sockdir, conns, seconds):
    raise_nofile()
    path = os.path.join(sockdir, "cubicled.sock")
    socks = []
    failed = 0
    for _ in range(int(conns)):
        try:
            socks.append(sp_connect(path, REQ0, 5.0))
        except OSError:
            failed += 1
    print("idle: %d connected, %d failed" % (len(socks), failed), flush=True)
    time.sleep(float(seconds))


def cmd_deaf_sub(sockdir, seconds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(sockdir, "events.sock"))
    # Subscribing needs no message on the wire: SUB filters locally, so
    # the broker's PUB sends this connection everything.
    s.sendall(b"\x00SP\x00" + struct.pack(">H", SUB0) + b"\x00\x00")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    print("deaf-sub: connected", flush=True)
    time.sleep(float(seconds))


def cmd_pipeline_close(sockdir, conns):
    raise_nofile()
    path = os.path.join(sockdir, "cubicled.sock")
    frames = b"".join(
        sp_frame(i, mp([0, i, "request", {"words": ["?"]}]))
        for i in range(2))
    ok = 0
    for _ in range(int(conns)):
        try:
            s = sp_connect(path, REQ0, 2.0)
            s.sendall(frames)
            s.close()
            ok += 1
        except OSError:
            pass
    print("pipeline-close: %d connected" % ok, flush=True)


def cmd_subs(sockdir, conns, seconds):
    raise_nofile()
    path = os.path.join(sockdir, "events.sock")
    socks = []
    for _ in range(int(conns)):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.sendall(b"\x00SP\x00" + struct.pack(">H", SUB0) + b"\x00\x00")
            socks.append(s)
        except OSError:
            break
    print("subs: %d connected" % len(socks), flush=True)
    time.sleep(float(seconds))


def cmd_churn(sockdir, seconds, hold):
    """HOLD connections to each socket; each one the broker closes is
    redialed at once (nng's dialers wait ~100 ms): past the 32 per process,
    every connection evicts another, which comes straight back."""
    raise_nofile()
    paths = [(os.path.join(sockdir, "cubicled.sock"), REQ0),
             (os.path.join(sockdir, "events.sock"), SUB0)]
    poller = select.poll()
    byfd = {}
    n = failed = 0

    def dial(path, proto):
        nonlocal n, failed
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(5.0)
            s.connect(path)
            s.sendall(hello(proto))
        except OSError:
            s.close()
            failed += 1
            return False
        poller.register(s, select.POLLRDHUP)
        byfd[s.fileno()] = (s, path, proto)
        n += 1
        return True

    end = time.monotonic() + float(seconds)
    for path, proto in paths:
        for _ in range(int(hold)):
            dial(path, proto)
    want = 2 * int(hold)
    while time.monotonic() < end:
        for fd, ev in poller.poll(100):
            s, path, proto = byfd.pop(fd)
            poller.unregister(fd)
            s.close()
            dial(path, proto)
        # Redial what failed to connect.
        while len(byfd) < want and time.monotonic() < end:
            if not dial(*paths[len(byfd) % 2]):
                break
    for s, _, _ in byfd.values():
        s.close()
    print("churn: %d connections, %d failed" % (n, failed), flush=True)


def hello(proto):
    return b"\x00SP\x00" + struct.pack(">H", proto) + b"\x00\x00"


def closed_by_peer(s, seconds):
    """True if the peer closes s within seconds (what it sends is read)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            return False
        except OSError:
            return True
    return False


def hangup_seen(s, seconds):
    """True if the peer closes s within seconds; nothing is read."""
    poller = select.poll()
    poller.register(s, select.POLLRDHUP)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _, ev in poller.poll(200):
            if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                return True
    return False


def cmd_wire(sockdir, case):
    cpath = os.path.join(sockdir, "cubicled.sock")
    epath = os.path.join(sockdir, "events.sock")
    ping = mp([0, 7, "ping", {}])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(epath if case == "reqonpub" else cpath)
    wait = 30.0
    if case == "badhdr":
        s.sendall(b"\x00SQ\x00\x00\x30\x00\x00")
    elif case == "badproto":
        s.sendall(hello(REP0))
    elif case in ("subonreq",):
        s.sendall(hello(SUB0))
    elif case == "reqonpub":
        s.sendall(hello(REQ0))
    elif case == "toolong":
        s.sendall(hello(REQ0) + b"\x01" + struct.pack(">Q", 1 << 40))
    elif case == "truncated":
        s.sendall(hello(REQ0) + b"\x01" + struct.pack(">Q", 100) + b"x" * 10)
        s.close()
        print("truncated: closed", flush=True)
        return
    elif case == "badtype":
        s.sendall(hello(REQ0) + b"\x02" + struct.pack(">Q", 4) +
                  struct.pack(">I", 0x80000001))
    elif case == "nobacktrace":
        body = struct.pack(">I", 1) * 9 + ping
        s.sendall(hello(REQ0) + b"\x01" + struct.pack(">Q", len(body)) + body)
    elif case == "short":
        s.sendall(hello(REQ0) + b"\x01" + struct.pack(">Q", 2) + b"\x80\x00")
    elif case == "silent":
        pass
    elif case == "unread":
        # Under the rate limit (1000 a second), never read: the replies
        # (help text) overflow the socket buffer, then the broker's queue.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(hello(REQ0) + b"".join(
            sp_frame(i, mp([0, i, "request", {"words": ["?"]}]))
            for i in range(900)))
        print("unread: %s" % ("closed" if hangup_seen(s, 120) else "open"),
              flush=True)
        return
    elif case == "idle-hello":
        s.sendall(hello(REQ0))
        wait = 15.0
    elif case == "good":
        s.sendall(hello(REQ0) + sp_frame(5, ping))
        s.settimeout(10)
        recv_exact(s, 8)
        reply = sp_recv(s)
        ok = reply[:4] == struct.pack(">I", 5 | 0x80000000)
        print("good: %s" % ("answered" if ok else "bad reply %r" % reply[:16]))
        return
    else:
        sys.exit("unknown case " + case)
    print("%s: %s" % (case, "closed" if closed_by_peer(s, wait) else "open"),
          flush=True)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sockdir, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    cmds = {"badutf8": cmd_badutf8, "flood": cmd_flood, "idle": cmd_idle,
            "instep": cmd_instep,
            "deaf-sub": cmd_deaf_sub, "pipeline-close": cmd_pipeline_close,
            "subs": cmd_subs, "churn": cmd_churn, "wire": cmd_wire}
    if cmd not in cmds:
        sys.exit(__doc__)
    cmds[cmd](sockdir, *args)


if __name__ == "__main__":
    main()
