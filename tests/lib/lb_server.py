#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# A load balancer test's backend (lbrp.sh, lbrp-multi.sh): NAME READY
# [peer]: TCP on port 80 answers each connection with "NAME" ("NAME
# CLIENT" with peer) and each line with "NAME"; UDP on 53 answers NAME;
# READY is created once both listen.
import socket, socketserver, sys, threading
name = sys.argv[1]
peer = len(sys.argv) > 3 and sys.argv[3] == "peer"
class T(socketserver.StreamRequestHandler):
    def handle(self):
        first = name + (" " + self.client_address[0] if peer else "")
        self.wfile.write((first + "\n").encode())
        for line in self.rfile:
            self.wfile.write((name + "\n").encode())
class TS(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512
class U(socketserver.BaseRequestHandler):
    def handle(self):
        self.request[1].sendto(name.encode(), self.client_address)
t = TS(("0.0.0.0", 80), T)
u = socketserver.UDPServer(("0.0.0.0", 53), U)
threading.Thread(target=u.serve_forever, daemon=True).start()
open(sys.argv[2], "w").close()
t.serve_forever()
