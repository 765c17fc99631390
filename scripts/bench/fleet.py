#!/usr/bin/env python3
"""Fleet benchmark helpers for scripts/bench-fleet.sh (standard library only).

  fleet.py trickle PORT DIR BPS     serve DIR on 127.0.0.1:PORT; headers at once, every body
                                    at BPS bytes/s (a trickling mirror)
  fleet.py silent PORT               serve 127.0.0.1:PORT: every answer is the headers of a
                                    200 (Content-Length 4096), then nothing (a broken proxy)
  fleet.py run N OUT ROOTSRC -- CMD...
                                    N concurrent installs: each gets a fresh copy of ROOTSRC
                                    (OUT/roots/i) and runs CMD with {root} replaced; writes
                                    OUT/results.json: per install exit code, seconds, max RSS
  fleet.py bytes LOG START MATCH    sum the body bytes of 200/206 GETs whose path contains MATCH
                                    in an access log (combined format) from byte offset START
  fleet.py report N RESULTS BYTES SIZE
                                    print one JSON summary line
"""
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import threading
import time


def trickle(port, directory, bps):
    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *a, **k):
            super().__init__(*a, directory=directory, **k)

        def log_message(self, *a):
            pass

        def copyfile(self, src, dst):
            chunk = max(1, bps // 10)
            while True:
                b = src.read(chunk)
                if not b:
                    return
                try:
                    dst.write(b)
                    dst.flush()
                except OSError:
                    return
                time.sleep(0.1)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 256

    Server(("127.0.0.1", port), Handler).serve_forever()


def silent(port):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.flush()
            # Nothing more: hold the connection until the client goes away.
            while True:
                time.sleep(1)
                try:
                    self.connection.getpeername()
                except OSError:
                    return

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 256

    Server(("127.0.0.1", port), Handler).serve_forever()


def run(n, out, rootsrc, cmd):
    os.makedirs(os.path.join(out, "roots"), exist_ok=True)
    roots = []
    for i in range(n):
        r = os.path.join(out, "roots", str(i))
        if os.path.exists(r):
            shutil.rmtree(r)
        subprocess.run(["cp", "-a", rootsrc, r], check=True)
        roots.append(r)
    procs = {}
    t0 = time.monotonic()
    for i, r in enumerate(roots):
        argv = [a.replace("{root}", r) for a in cmd]
        log = open(os.path.join(out, "install-%d.log" % i), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        procs[p.pid] = (i, time.monotonic(), log)
    res = [None] * n
    while procs:
        pid, status, ru = os.wait4(-1, 0)
        if pid not in procs:
            continue
        i, start, log = procs.pop(pid)
        log.close()
        res[i] = {"i": i, "exit": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - start,
                  "maxrss_kb": ru.ru_maxrss}
    wall = time.monotonic() - t0
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"wall": wall, "installs": res}, f)
    print("%.3f" % wall)


LINE = re.compile(r'"GET (\S+) [^"]*" (\d{3}) (\d+|-)')


def count_bytes(log, start, match):
    total = 0
    with open(log, "rb") as f:
        f.seek(start)
        for raw in f:
            m = LINE.search(raw.decode("utf-8", "replace"))
            if m and match in m.group(1) and m.group(2) in ("200", "206") and m.group(3) != "-":
                total += int(m.group(3))
    print(total)


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return 0.0
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def report(n, results, served, size):
    d = json.load(open(results))
    ins = d["installs"]
    ok = sum(1 for r in ins if r["exit"] == 0)
    secs = [r["seconds"] for r in ins]
    print(json.dumps({
        "n": n, "ok": ok, "wall": round(d["wall"], 2),
        "p50": round(pct(secs, 50), 2), "p99": round(pct(secs, 99), 2),
        "load": round(served / (n * size), 3) if size else None,
        "maxrss_mb": round(max(r["maxrss_kb"] for r in ins) / 1024, 1),
        "sumrss_mb": round(sum(r["maxrss_kb"] for r in ins) / 1024, 1),
        "exits": sorted(set(r["exit"] for r in ins)),
    }))


if __name__ == "__main__":
    m = sys.argv[1]
    if m == "trickle":
        trickle(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif m == "silent":
        silent(int(sys.argv[2]))
    elif m == "run":
        k = sys.argv.index("--")
        run(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[k + 1:])
    elif m == "bytes":
        count_bytes(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif m == "report":
        report(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)
