#!/usr/bin/env python3
"""Fault mirrors for scripts/bench.sh (standard library only).

  servers.py blackhole PORT        accept TCP connections on 127.0.0.1:PORT and never answer
  servers.py flaky PORT DIR N      serve DIR over HTTP on 127.0.0.1:PORT; the first N requests
                                   (any path) answer 503, later ones are served normally;
                                   GET /__reset sets the count back to 0 (not counted itself)
"""
import http.server
import socket
import sys
import threading


def blackhole(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)


def flaky(port, directory, fails):
    lock = threading.Lock()
    state = {"n": 0}

    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *a, **k):
            super().__init__(*a, directory=directory, **k)

        def _gate(self):
            if self.path == "/__reset":
                with lock:
                    state["n"] = 0
                self._empty(204)
                return False
            with lock:
                state["n"] += 1
                n = state["n"]
            if n <= fails:
                self._empty(503)
                return False
            return True

        def _empty(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            if self._gate():
                super().do_GET()

        def do_HEAD(self):
            if self._gate():
                super().do_HEAD()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "blackhole":
        blackhole(int(sys.argv[2]))
    elif mode == "flaky":
        flaky(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("usage: servers.py blackhole PORT | flaky PORT DIR N")
