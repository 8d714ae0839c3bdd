#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Requests of one tenant, for tenant-quotas.sh and bench/tenants.

  tenant_load.py SOCKDIR flood CONNS SECONDS WORD...
      CONNS connections, each sending the request WORD... and the next
      one as soon as its reply is read (in step: never a burst), for
      SECONDS.  Prints "flood ok N quota M other K" (quota: refused
      with quota-exceeded naming rps), then the first other error.
  tenant_load.py SOCKDIR batch N WORD...
      one connection, N requests one after the other; prints
      "batch ok N failed M p50 X p99 Y" (ms), then the first failure.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_client import REQ0, client_path, mp, mp_decode, sp_connect, \
    sp_frame, sp_recv


def call(s, i, words):
    """One request; returns None (it succeeded) or its error map."""
    s.sendall(sp_frame(i & 0x7fffffff,
                       mp([0, i, "request", {"words": words}])))
    body = sp_recv(s)
    msg, _ = mp_decode(body, 4)
    return msg[2] if msg[2] is not None else None


def cmd_flood(sockdir, conns, seconds, *words):
    counts = {"ok": 0, "quota": 0, "other": 0}
    first = []
    lock = threading.Lock()
    end = time.time() + float(seconds)

    def loop():
        i = 0
        while time.time() < end:
            try:
                s = sp_connect(client_path(sockdir), REQ0, timeout=10)
                while time.time() < end:
                    i += 1
                    e = call(s, i, list(words))
                    with lock:
                        if e is None:
                            counts["ok"] += 1
                        elif (e.get("name") == "quota-exceeded" and
                              "quota rps=" in e.get("message", "")):
                            counts["quota"] += 1
                        else:
                            counts["other"] += 1
                            if not first:
                                first.append(e)
            except (ConnectionError, OSError) as x:
                with lock:
                    counts["other"] += 1
                    if not first:
                        first.append(str(x))
                time.sleep(0.01)

    ts = [threading.Thread(target=loop) for _ in range(int(conns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("flood ok %d quota %d other %d" %
          (counts["ok"], counts["quota"], counts["other"]))
    if first:
        print("first other: %s" % (first[0],))


def cmd_batch(sockdir, n, *words):
    s = sp_connect(client_path(sockdir), REQ0, timeout=30)
    lat, failed, first = [], 0, None
    for i in range(int(n)):
        t0 = time.monotonic()
        try:
            e = call(s, i + 1, list(words))
        except (ConnectionError, OSError) as x:
            e = str(x)
            s = sp_connect(client_path(sockdir), REQ0, timeout=30)
        lat.append((time.monotonic() - t0) * 1000.0)
        if e is not None:
            failed += 1
            first = first or e
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else 0.0
    print("batch ok %d failed %d p50 %.3f p99 %.3f" %
          (len(lat) - failed, failed, pct(0.50), pct(0.99)))
    if first:
        print("first failure: %s" % (first,))


def main():
    sockdir, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"flood": cmd_flood, "batch": cmd_batch}[cmd](sockdir, *args)


if __name__ == "__main__":
    main()
