#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# A service manager's end of sd_notify(3), for the systemd tests: bind an
# AF_UNIX datagram socket (a path, or @name in the abstract namespace),
# and write each message received to OUT as one line, "<CLOCK_MONOTONIC
# seconds> <message with its newlines as |>".  On a message holding
# READY=1, the broker log LOG is copied to OUT.ready.<n> first: what the
# broker had logged when it said it was ready.
import os, shutil, socket, sys, time

addr, out, log = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
nready = 0
with open(out + ".bound", "w"):
    pass
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode("utf-8", "replace")
        now = time.monotonic()
        if "READY=1" in msg.split("\n"):
            nready += 1
            shutil.copyfile(log, "%s.ready.%d" % (out, nready))
        f.write("%.6f %s\n" % (now, msg.replace("\n", "|")))
