#!/usr/bin/env python3
"""suite_http.py - HTTP/1.1, echo-port and observability integration suite
for fraglab-server.

Starts the real server (--threads 2, an HTTP and an echo port on loopback),
drives it with curl, wrk and raw sockets, and checks every endpoint of the
contract in README.md: keep-alive, pipelining, chunked and 100-continue
uploads, Connection: close and HTTP/1.0, HEAD, 413/404/405, the workload
endpoint and its caps, /stats, /metrics, /admin/release, the raw echo port;
in tpc mode pinning and zero cross-thread frees. SIGINT and SIGTERM (also
while sends are in flight, on extra server instances) must give exit 0 within
10 s; last, the main server gets SIGTERM with connections in every state.

usage: suite_http.py --server PATH --mode tpc|ws --allocator NAME [--only CASE[,CASE...]]
Prints `ok CASE` or `FAIL CASE: reason` per case, then `N passed, M failed`.
Exit 0 if all passed, 1 otherwise, 77 (skip) if the build refuses the
allocator (sanitizer builds accept only glibc).
"""

import argparse
import errno
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import (HOST, SKIP, HttpConn, ProtocolError, Runner, Server, Skip,  # noqa: E402
                     build_request, get_json, http_request, parse_prometheus,
                     parse_response, raise_nofile, work_pattern)

CURL = ["curl", "-sS", "--noproxy", "*", "--connect-timeout", "5", "--max-time", "15"]
CONCURRENT = 500
TOTAL_KEYS = ("requests_total", "buffer_allocs_total", "buffer_frees_total",
              "cross_thread_frees_total", "held_bytes", "connections_open")


def url(port, path):
    return f"http://{HOST}:{port}{path}"


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_status(r, want, what):
    expect(r.status == want, f"{what}: want {want}, got {r.short()}")


def stats(port):
    return get_json(port, "/stats")


def wait_for(pred, timeout, step=0.05):
    """Polls pred() until it returns a true value or `timeout` passes;
    returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ------------------------------------------------------------------ the cases


class Suite:
    def __init__(self, server, mode, allocator, tmp):
        self.srv = server
        self.port = server.port
        self.mode = mode
        self.allocator = allocator
        self.tmp = tmp

    # 1
    def healthz_curl(self):
        p = subprocess.run(CURL + ["-i", url(self.port, "/healthz")],
                           capture_output=True, timeout=20)
        expect(p.returncode == 0, f"curl exit {p.returncode}: {p.stderr.decode()[-300:]}")
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        expect(head.startswith(b"HTTP/1.1 200"), f"status line: {head[:80]!r}")
        expect(body == b"ok", f"body {body[:100]!r}, want b'ok'")

    # 2
    def echo_curl_1mib(self):
        data = os.urandom(1 << 20)
        src = os.path.join(self.tmp, "echo.in")
        dst = os.path.join(self.tmp, "echo.out")
        with open(src, "wb") as f:
            f.write(data)
        # curl waits --expect100-timeout for "100 Continue" before sending
        # the body anyway; a long wait makes a missing 100 visible as time.
        t0 = time.monotonic()
        p = subprocess.run(CURL + ["-v", "-o", dst, "-w", "%{http_code}",
                                   "-H", "Content-Type: application/octet-stream",
                                   "-H", "Expect: 100-continue", "--expect100-timeout", "8",
                                   "--data-binary", "@" + src, url(self.port, "/echo")],
                           capture_output=True, timeout=30)
        took = time.monotonic() - t0
        err = p.stderr.decode("utf-8", "replace")
        expect(p.returncode == 0, f"curl exit {p.returncode}: {err[-300:]}")
        expect(p.stdout == b"200", f"status {p.stdout!r}")
        expect(re.search(r"^< HTTP/1\.1 100", err, re.M),
               f"no '100 Continue' before the body (curl waited {took:.1f} s)")
        with open(dst, "rb") as f:
            got = f.read()
        expect(len(got) == len(data), f"echoed {len(got)} bytes, sent {len(data)}")
        if got != data:
            i = next(i for i in range(len(data)) if got[i] != data[i])
            raise AssertionError(f"echo differs first at byte {i}")
        # The same by hand: 100 Continue must come before any body byte.
        with HttpConn(self.port) as c:
            body = os.urandom(5000)
            c.send(build_request("POST", "/echo", [("Expect", "100-continue"),
                                                   ("Content-Length", str(len(body)))]))
            r = c.read_response("POST", interim=True)
            expect_status(r, 100, "headers with Expect: 100-continue")
            c.send(body)
            r = c.read_response("POST")
            expect_status(r, 200, "body after 100 Continue")
            expect(r.body == body, "echo after 100 Continue differs")

    # 3
    def pipelining(self):
        a, b = b"first-" + os.urandom(8).hex().encode(), b"third-" + os.urandom(8).hex().encode()
        wire = (build_request("POST", "/echo", body=a) + build_request("GET", "/healthz")
                + build_request("POST", "/echo", body=b))
        with HttpConn(self.port) as c:
            sent = c.sock.send(wire)
            expect(sent == len(wire), f"send took {sent} of {len(wire)} bytes")
            got = [c.read_response("POST"), c.read_response("GET"), c.read_response("POST")]
            for r, want, i in zip(got, (a, b"ok", b), (1, 2, 3)):
                expect(r.status == 200 and r.body == want,
                       f"response {i}: want 200 {want!r}, got {r.short()}")
            # Still usable afterwards.
            r = c.request("GET", "/healthz")
            expect_status(r, 200, "request after the pipelined three")
        # Deep pipelining: 300 mixed requests whose responses (~0.5 MiB) are
        # more than the server lets wait unsent, written by one thread while
        # this one reads only after a pause.
        reqs, wire = [], bytearray()
        for i in range(300):
            if i % 3 == 0:
                reqs.append(("GET", work_pattern(4096 + i)))
                wire += build_request("GET", f"/work?resp={4096 + i}")
            elif i % 3 == 1:
                body = os.urandom(10 * i)
                reqs.append(("POST", body))
                wire += build_request("POST", "/echo", body=body)
            else:
                reqs.append(("GET", b"ok"))
                wire += build_request("GET", "/healthz")
        with HttpConn(self.port, timeout=10) as c:
            err = []

            def sender():
                try:
                    c.send(bytes(wire))
                except OSError as e:
                    err.append(repr(e))

            t = threading.Thread(target=sender, daemon=True)
            t.start()
            time.sleep(0.3)
            for i, (m, want) in enumerate(reqs):
                r = c.read_response(m)
                expect(r.status == 200 and r.body == want,
                       f"deep pipeline response {i} of 300: want 200 with {len(want)} bytes, "
                       f"got {r.status} with {len(r.body)} bytes {r.body[:40]!r}")
            t.join(5)
            expect(not err, f"sending the deep pipeline: {err}")

    # 4
    def keepalive_1000(self):
        with HttpConn(self.port) as c:
            local = c.sock.getsockname()
            for i in range(1000):
                if i % 2:
                    body = f"req-{i}".encode()
                    r = c.request("POST", "/echo", body=body)
                    want = body
                else:
                    r = c.request("GET", "/healthz")
                    want = b"ok"
                expect(r.status == 200 and r.body == want,
                       f"request {i}: want 200 {want!r}, got {r.short()}")
                expect("close" not in r.connection_tokens(),
                       f"request {i}: server sent Connection: close")
            expect(c.sock.getsockname() == local and not c.eof, "connection changed")

    # 5
    def chunked_upload(self):
        sizes = [1, 0x1A, 0x100, 0xFFF, 0x1388, 7]
        chunks = [os.urandom(n) for n in sizes]
        spellings = ["1", "1A", "100", "fff", "1388", "07"]  # upper, lower, leading zero
        head = (b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        with HttpConn(self.port) as c:
            c.send(head)
            for sz, data in zip(spellings, chunks):
                piece = sz.encode() + b"\r\n" + data + b"\r\n"
                half = len(piece) // 2  # split each chunk across two writes
                c.send(piece[:half])
                time.sleep(0.005)
                c.send(piece[half:])
            c.send(b"0\r\n\r\n")
            r = c.read_response("POST")
            want = b"".join(chunks)
            expect_status(r, 200, "chunked POST /echo")
            expect(r.body == want, f"echoed {len(r.body)} bytes, want the {len(want)} sent "
                                   f"(equal length: {len(r.body) == len(want)})")
            r = c.request("GET", "/healthz")
            expect_status(r, 200, "request after the chunked upload")

    # 6
    def concurrent_500(self):
        n = CONCURRENT
        sel = selectors.DefaultSelector()
        conns = {}
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex((HOST, self.port))
                expect(err in (0, errno.EINPROGRESS), f"connect {i}: {os.strerror(err)}")
                body = f"conn-{i}".encode()
                conns[s] = {"i": i, "out": build_request("POST", "/echo", body=body),
                            "want": body, "buf": bytearray(), "done": False}
                sel.register(s, selectors.EVENT_WRITE, conns[s])
            left = n
            deadline = time.monotonic() + 15
            while left and time.monotonic() < deadline:
                for key, ev in sel.select(timeout=0.5):
                    s, st = key.fileobj, key.data
                    if ev & selectors.EVENT_WRITE:
                        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        expect(err == 0, f"connection {st['i']}: {os.strerror(err)}")
                        sent = s.send(st["out"])
                        st["out"] = st["out"][sent:]
                        if not st["out"]:
                            sel.modify(s, selectors.EVENT_READ, st)
                        continue
                    try:
                        data = s.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    st["buf"] += data
                    r = parse_response(st["buf"], "POST", eof=not data)
                    if r is None:
                        expect(data, f"connection {st['i']} closed before a full response")
                        continue
                    resp = r[0]
                    expect(resp.status == 200 and resp.body == st["want"],
                           f"connection {st['i']}: want 200 {st['want']!r}, got {resp.short()}")
                    st["done"] = True
                    sel.unregister(s)
                    left -= 1
            expect(left == 0, f"{left} of {n} connections got no response within 15 s")
            # All n are still open here: the server holds them concurrently.
            st = stats(self.port)
            open_now = st.get("totals", {}).get("connections_open")
            expect(isinstance(open_now, int) and open_now >= n,
                   f"connections_open {open_now!r} while {n} connections are open")
        finally:
            for s in conns:
                s.close()
            sel.close()

    # 7
    def wrk_healthz(self):
        p = subprocess.run(["wrk", "-t2", "-c32", "-d3s", "--timeout", "2s",
                            url(self.port, "/healthz")], capture_output=True, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        expect(p.returncode == 0, f"wrk exit {p.returncode}: {p.stderr.decode()[-300:]}")
        m = re.search(r"^\s*(\d+) requests in", out, re.M)
        expect(m, f"no request count in wrk output: {out[-400:]!r}")
        expect(int(m.group(1)) > 0, "wrk completed 0 requests")
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        expect(not m or all(int(x) == 0 for x in m.groups()),
               f"wrk: {m and m.group(0)} (latency avg {lat and lat.group(1)}, "
               f"max {lat and lat.group(3)}; load average {load} on {os.cpu_count()} CPUs)")
        expect("Non-2xx" not in out, "wrk: " + next(
            (l.strip() for l in out.splitlines() if "Non-2xx" in l), ""))

    # 8
    def stats_json(self):
        s0 = stats(self.port)
        for k, typ in (("mode", str), ("pid", int), ("threads", int), ("pinning", dict),
                       ("allocator", dict), ("memory", dict), ("totals", dict),
                       ("workers", list), ("config", dict)):
            expect(k in s0, f"/stats lacks key {k!r}; has {sorted(s0)}")
            expect(isinstance(s0[k], typ), f"/stats {k} is {type(s0[k]).__name__}")
        expect(s0["mode"] == self.mode, f"mode {s0['mode']!r}")
        expect(s0["pid"] == self.srv.proc.pid, f"pid {s0['pid']} (server is {self.srv.proc.pid})")
        expect(s0["threads"] == 2, f"threads {s0['threads']}")
        expect(isinstance(s0["pinning"].get("held"), bool), f"pinning.held {s0['pinning']!r}")
        name = s0["allocator"].get("name")
        expect(name == self.allocator or name in ("asan", "tsan"),
               f"allocator.name {name!r}, asked for {self.allocator!r}")
        expect(isinstance(s0["allocator"].get("version"), str) and s0["allocator"]["version"],
               f"allocator.version {s0['allocator'].get('version')!r}")
        mem = s0["memory"]
        expect(isinstance(mem.get("rss_bytes"), int) and mem["rss_bytes"] > 0,
               f"memory.rss_bytes {mem.get('rss_bytes')!r}")
        expect("allocator_allocated_bytes" in mem, "memory lacks allocator_allocated_bytes")
        for k, v in mem.items():  # figures are bytes or null (frag_basis etc. may be text)
            if k.endswith("_bytes"):
                expect(v is None or (isinstance(v, int) and v >= 0),
                       f"memory.{k} is {v!r}: want a byte count or null")
        for k in TOTAL_KEYS:
            expect(isinstance(s0["totals"].get(k), int), f"totals.{k} is {s0['totals'].get(k)!r}")
        expect(len(s0["workers"]) == 2, f"{len(s0['workers'])} workers")
        for i, w in enumerate(s0["workers"]):
            for k in ("worker", "cpu", "pinned") + TOTAL_KEYS:
                expect(k in w, f"workers[{i}] lacks {k!r}")
            expect(w["worker"] == i, f"workers[{i}].worker = {w['worker']!r}")
            expect(isinstance(w["pinned"], bool), f"workers[{i}].pinned = {w['pinned']!r}")
        for k in ("requests_total", "buffer_allocs_total"):
            summed = sum(w[k] for w in s0["workers"])
            expect(abs(summed - s0["totals"][k]) <= 2,
                   f"totals.{k} {s0['totals'][k]} but workers sum to {summed}")
        # The counters move with load.
        with HttpConn(self.port) as c:
            for _ in range(100):
                expect_status(c.request("GET", "/healthz"), 200, "load request")
        s1 = stats(self.port)
        grew = s1["totals"]["requests_total"] - s0["totals"]["requests_total"]
        expect(grew >= 100, f"requests_total grew by {grew} after 100 requests")
        expect(s1["totals"]["buffer_allocs_total"] > s0["totals"]["buffer_allocs_total"],
               "buffer_allocs_total did not grow")
        # connections_open follows connections. Read on one keep-alive
        # connection: a query per new connection would race with the
        # server noticing the previous query's close. Earlier connections'
        # closes may still be in flight, so settle first (1 = this one).
        with HttpConn(self.port) as q:
            def totals():
                r = q.request("GET", "/stats")
                expect_status(r, 200, "GET /stats")
                return json.loads(r.body)["totals"]

            def opened():
                return totals()["connections_open"]
            wait_for(lambda: opened() <= 1, 3)
            base = opened()
            conns = [HttpConn(self.port) for _ in range(20)]
            try:
                for c in conns:
                    expect_status(c.request("GET", "/healthz"), 200, "healthz")
                now = opened()
                expect(now >= base + 20, f"connections_open {base} -> {now} with 20 more open")
                # An idle keep-alive connection holds no parser: only the
                # /stats request being answered does, and a request begun.
                # (The last answer's send may complete just after the client
                # has read it, so the count may settle a moment later.)
                expect(wait_for(lambda: totals()["http_parsers"] == 1, 3),
                       f"http_parsers {totals()['http_parsers']} with 20 idle keep-alive "
                       "connections and one request under way, want 1")
                conns[0].send(b"GET /healthz HTTP/1.1\r\nHo")
                expect(wait_for(lambda: totals()["http_parsers"] == 2, 3),
                       f"http_parsers {totals()['http_parsers']} with a request head half "
                       "sent, want 2")
                conns[0].send(b"st: x\r\n\r\n")
                expect_status(conns[0].read_response("GET"), 200, "the request finished")
                expect(wait_for(lambda: totals()["http_parsers"] == 1, 3),
                       f"http_parsers {totals()['http_parsers']} after the request was "
                       "answered, want 1")
            finally:
                for c in conns:
                    c.close()
            after = wait_for(lambda: opened() <= base, 3)
            expect(after, f"connections_open still {opened()}, not back to {base}, "
                          "3 s after closing 20 connections")

    # 9
    def metrics_prometheus(self):
        r = http_request(self.port, "GET", "/metrics")
        expect_status(r, 200, "GET /metrics")
        ctype = r.header("content-type") or ""
        expect(ctype.startswith("text/plain") and "version=0.0.4" in ctype,
               f"Content-Type {ctype!r}")
        fams = parse_prometheus(r.body.decode("utf-8"))
        need = ["fraglab_requests_total", "fraglab_connections_open",
                "fraglab_connections_accepted_total", "fraglab_buffer_allocs_total",
                "fraglab_buffer_frees_total", "fraglab_cross_thread_frees_total",
                "fraglab_held_bytes", "fraglab_rss_bytes", "fraglab_rss_anon_bytes",
                "fraglab_lazyfree_bytes", "fraglab_info"]
        missing = [n for n in need if n not in fams]
        expect(not missing, f"missing families {missing}")
        for n in need:
            expect(fams[n].help is not None and fams[n].type is not None,
                   f"{n} lacks HELP or TYPE")
            if n.endswith("_total"):
                expect(fams[n].type == "counter", f"{n} has TYPE {fams[n].type}")
        for w in ("0", "1"):
            expect(fams["fraglab_requests_total"].values(worker=w),
                   f"no fraglab_requests_total{{worker=\"{w}\"}}")
        expect(sum(fams["fraglab_requests_total"].values()) > 0, "requests_total is 0")
        info = fams["fraglab_info"].samples
        expect(len(info) == 1, f"fraglab_info has {len(info)} samples")
        _, labels, v = info[0]
        expect(v == 1, f"fraglab_info value {v}")
        for k in ("mode", "allocator", "version"):
            expect(k in labels, f"fraglab_info lacks label {k}: {labels}")
        expect(labels["mode"] == self.mode, f"fraglab_info mode {labels['mode']!r}")
        alloc = labels["allocator"]
        expect(alloc == self.allocator or alloc in ("asan", "tsan"),
               f"fraglab_info allocator {alloc!r}")
        expect(all(v > 0 for v in fams["fraglab_rss_bytes"].values()), "fraglab_rss_bytes not > 0")
        has_alloc = stats(self.port)["memory"].get("allocator_allocated_bytes") is not None
        expect(("fraglab_allocator_allocated_bytes" in fams) == has_alloc,
               f"fraglab_allocator_allocated_bytes present={not has_alloc} "
               f"but /stats allocator_allocated_bytes is {'set' if has_alloc else 'null'}")

    # 10
    def workload(self):
        p = self.port
        with HttpConn(p) as c:
            r = c.request("GET", "/work?resp=100000")
            expect_status(r, 200, "resp=100000")
            expect(len(r.body) == 100000, f"resp=100000 gave {len(r.body)} bytes")
            expect(r.body == work_pattern(100000), "resp=100000: body pattern wrong")
            r = c.request("GET", "/work?resp=2k")
            expect(r.status == 200 and r.body == work_pattern(2048),
                   f"resp=2k: want 2048 pattern bytes, got {r.status} with {len(r.body)}")
            r = c.request("GET", "/work?resp=1m")  # exactly the default cap
            expect(r.status == 200 and len(r.body) == 1 << 20,
                   f"resp=1m (== cap): got {r.status} with {len(r.body)} bytes")
            r = c.request("POST", "/work?resp=10&burst=5", body=b"ignored body")
            expect(r.status == 200 and r.body == work_pattern(10), f"POST /work: {r.short()}")
            r = c.request("GET", "/work?burst=1000&burst_min=32&burst_max=4k&seed=7&resp=3")
            expect(r.status == 200 and r.body == b"abc", f"burst=1000: {r.short()}")
            r = c.request("GET", "/work?burst=1000")
            expect_status(r, 200, "burst=1000")
        bad = [("resp=2m", "resp"), ("resp=1048577", "resp"), ("burst=10001", "burst"),
               ("burst=10&burst_max=128k", "burst_max"), ("hold=2m", "hold"),
               ("hold=1k&hold_for=100001", "hold_for"), ("frobnicate=1", "frobnicate"),
               ("resp=abc", "resp"), ("resp=12q", "resp"), ("hold=1k&hold_for=forever", "hold_for"),
               ("seed=x", "seed")]
        with HttpConn(p) as c:
            for q, name in bad:
                r = c.request("GET", "/work?" + q)
                expect(r.status == 400, f"{q}: want 400, got {r.short()}")
                line = r.body.decode("utf-8", "replace").rstrip("\n")
                expect(name in line, f"{q}: 400 body {line!r} does not name {name!r}")
                expect(line and "\n" not in line, f"{q}: body is not one line: {r.body!r}")
            r = c.request("GET", "/healthz")  # a 400 keeps the connection usable
            expect_status(r, 200, "request after the 400s")
        self._holds()

    def _holds(self):
        p = self.port
        held = lambda: stats(p)["totals"]["held_bytes"]  # noqa: E731
        wait_for(lambda: held() == 0, 2)  # holds of connections closed just before
        base = held()
        with HttpConn(p) as a:
            for _ in range(4):
                expect_status(a.request("GET", "/work?hold=4096&hold_for=conn"), 200, "hold")
            now = held()
            expect(now >= base + 4 * 4096, f"held_bytes {base} -> {now} after 4 x hold=4096")
        back = wait_for(lambda: held() <= base, 3)
        expect(back, f"held_bytes still {held()} (was {base}) after the holding connection closed")
        # hold_for=N: freed after the connection's next N requests.
        with HttpConn(p) as a:
            expect_status(a.request("GET", "/work?hold=8192&hold_for=2"), 200, "hold_for=2")
            now = held()
            expect(now >= base + 8192, f"held_bytes {base} -> {now} after hold=8192&hold_for=2")
            for _ in range(3):
                expect_status(a.request("GET", "/healthz"), 200, "healthz")
            expect(wait_for(lambda: held() <= base, 1),
                   f"held_bytes {held()} (base {base}) 3 requests after hold_for=2")
            # Per-connection cap (--work-max-hold-conn, default 16 MiB).
            for i in range(16):
                r = a.request("GET", "/work?hold=1m&hold_for=conn")
                expect_status(r, 200, f"hold {i + 1} MiB of 16")
            r = a.request("GET", "/work?hold=1m&hold_for=conn")
            expect(r.status == 400, f"17th MiB held on one connection: want 400, got {r.short()}")
            expect(b"hold" in r.body, f"400 body does not name the hold cap: {r.body!r}")
        expect(wait_for(lambda: held() <= base, 3), "held_bytes did not drop after the 16 MiB")

    # 11
    def connection_close(self):
        with HttpConn(self.port) as c:
            r = c.request("GET", "/healthz", [("Connection", "close")])
            expect_status(r, 200, "Connection: close request")
            expect("close" in r.connection_tokens(),
                   f"response lacks Connection: close (headers {r.headers})")
            expect(c.wait_closed(3), "server did not close after Connection: close")
        with HttpConn(self.port) as c:
            r = c.request("GET", "/healthz", version="1.0")
            expect(r.status == 200 and r.body == b"ok", f"HTTP/1.0: {r.short()}")
            expect(c.eof or c.wait_closed(3), "server did not close an HTTP/1.0 connection")
        with HttpConn(self.port) as c:
            body = b"ten bytes!"
            r = c.request("POST", "/echo", [("Connection", "close")], body)
            expect(r.status == 200 and r.body == body, f"POST with Connection: close: {r.short()}")
            expect(c.wait_closed(3), "server did not close after POST with Connection: close")
        with HttpConn(self.port) as c:
            for i in range(2):
                r = c.request("GET", "/healthz", [("Connection", "keep-alive")], version="1.0")
                expect(r.status == 200 and r.body == b"ok",
                       f"HTTP/1.0 keep-alive request {i + 1}: {r.short()}")
                expect(not c.eof, f"HTTP/1.0 keep-alive: closed after request {i + 1}")

    # 12
    def max_body_413(self):
        with HttpConn(self.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Length: 2000000\r\n\r\n")
            r = c.read_response("POST")
            expect_status(r, 413, "Content-Length: 2000000 (over the 1 MiB default)")
            expect(c.eof or c.wait_closed(3), "connection not closed after 413")
        with HttpConn(self.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
                   b"Content-Length: 1048577\r\n\r\n")
            r = c.read_response("POST")
            expect_status(r, 413, "Content-Length: 1048577 with Expect: 100-continue")
            expect(c.eof or c.wait_closed(3), "connection not closed after 413")
        # A chunked body has no declared length: the limit applies as it
        # streams in. Exactly 1 MiB in 64 KiB chunks, then one byte more.
        with HttpConn(self.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"10000\r\n" + b"y" * 65536 + b"\r\n"
            for _ in range(16):
                c.send(chunk)
            c.send(b"1\r\nX\r\n")
            r = c.read_response("POST")
            expect_status(r, 413, "chunked body of 1 MiB + 1 byte")
            expect(c.eof or c.wait_closed(3), "connection not closed after the chunked 413")

    # 13
    def echo_port(self):
        data = os.urandom(300_000)
        cuts = [1, 100, 4096, 65536, 1, 12345, 100_000]
        pieces, pos = [], 0
        for n in cuts:
            pieces.append(data[pos:pos + n])
            pos += n
        pieces.append(data[pos:])
        got = bytearray()
        s = socket.create_connection((HOST, self.srv.echo_port), timeout=5)
        s2 = socket.create_connection((HOST, self.srv.echo_port), timeout=5)
        err = []

        def reader():
            try:
                while len(got) < len(data):
                    b = s.recv(65536)
                    if not b:
                        err.append(f"closed after {len(got)} bytes")
                        return
                    got.extend(b)
            except OSError as e:
                err.append(repr(e))

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            for i, piece in enumerate(pieces):
                s.sendall(piece)
                if i == 3:  # a second connection in between gets only its own bytes
                    s2.sendall(b"other connection")
                    want, buf = b"other connection", b""
                    while len(buf) < len(want):
                        b = s2.recv(100)
                        expect(b, "second echo connection closed")
                        buf += b
                    expect(buf == want, f"second echo connection got {buf!r}")
                time.sleep(0.002)
            t.join(10)
            expect(not t.is_alive(), f"echo: {len(got)} of {len(data)} bytes back after 10 s")
            expect(not err, f"echo: {err}")
            expect(len(got) == len(data), f"echo: got {len(got)} bytes, sent {len(data)}")
            if got != data:
                i = next(i for i in range(len(data)) if got[i] != data[i])
                raise AssertionError(f"echo differs first at byte {i}")
        finally:
            s.close()
            s2.close()

    # 14
    def tpc_pinning(self):
        # Load of every kind on many connections, so both workers allocate
        # and free (SO_REUSEPORT spreads connections by hash), then check.
        conns = [HttpConn(self.port) for _ in range(16)]
        try:
            for i in range(10):
                for c in conns:
                    expect_status(c.request("POST", "/echo", body=os.urandom(3000)), 200, "echo")
                    expect_status(c.request("GET", "/work?resp=20k&burst=50&hold=2k&hold_for=2"),
                                  200, "work")
                    if i == 0:
                        expect_status(c.request("GET", "/work?hold=1k&hold_for=conn"), 200, "hold")
        finally:
            for c in conns:
                c.close()
        echo = socket.create_connection((HOST, self.srv.echo_port), timeout=5)
        try:
            echo.sendall(b"x" * 1000)
            got = b""
            while len(got) < 1000:
                b = echo.recv(4096)
                expect(b, "echo port closed")
                got += b
        finally:
            echo.close()
        time.sleep(0.2)  # let the workers see the closes and free the holds
        st = stats(self.port)
        expect(st["pinning"].get("held") is True, f"pinning {st['pinning']!r}")
        ws = st["workers"]
        expect(all(w.get("pinned") is True for w in ws),
               f"workers pinned: {[w.get('pinned') for w in ws]}")
        cpus = [w.get("cpu") for w in ws]
        expect(all(isinstance(c, int) and c >= 0 for c in cpus) and len(set(cpus)) == len(cpus),
               f"worker cpus {cpus}: want distinct CPU numbers")
        served = [w.get("requests_total") for w in ws]
        expect(all(isinstance(n, int) and n > 0 for n in served),
               f"requests per worker {served}: the load did not reach both workers")
        expect(st["totals"]["cross_thread_frees_total"] == 0,
               f"cross_thread_frees_total {st['totals']['cross_thread_frees_total']}")
        per = [w.get("cross_thread_frees_total") for w in ws]
        expect(all(x == 0 for x in per), f"per-worker cross_thread_frees_total {per}")
        fams = parse_prometheus(http_request(self.port, "GET", "/metrics").body.decode())
        f = fams.get("fraglab_cross_thread_frees_total")
        expect(f and all(v == 0 for v in f.values()),
               f"fraglab_cross_thread_frees_total {f and f.samples}")

    # 15
    def admin_release(self):
        r = http_request(self.port, "POST", "/admin/release")
        expect_status(r, 200, "POST /admin/release")
        try:
            j = json.loads(r.body)
        except ValueError as e:
            raise AssertionError(f"/admin/release not JSON ({e}): {r.body[:200]!r}")
        for k in ("rss_before_bytes", "rss_after_bytes"):
            v = j.get(k)
            expect(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
                   f"{k} = {v!r}")
        r = http_request(self.port, "GET", "/admin/release")
        expect(r.status in (404, 405), f"GET /admin/release: {r.short()}")

    # 16
    def not_found_405(self):
        with HttpConn(self.port) as c:
            r = c.request("GET", "/no/such/path")
            expect_status(r, 404, "GET /no/such/path")
            r = c.request("POST", "/nope", body=b"abc")
            expect_status(r, 404, "POST /nope")
            for m, path in (("GET", "/echo"), ("DELETE", "/echo"), ("GET", "/admin/release")):
                r = c.request(m, path)
                expect_status(r, 405, f"{m} {path}")
                # RFC 9110 15.5.6: a 405 lists the methods the resource allows.
                allow = {t.strip() for t in (r.header("allow") or "").split(",") if t.strip()}
                expect("POST" in allow and m not in allow,
                       f"{m} {path}: 405 with Allow: {r.header('allow')!r}")
            r = c.request("GET", "/healthz")  # errors keep the connection usable
            expect(r.status == 200 and r.body == b"ok", f"after 404/405: {r.short()}")

    # 17 (beyond the list: HEAD is routed like GET, so it must be right)
    def head_request(self):
        with HttpConn(self.port) as c:
            # HEAD then GET, pipelined: a body after the HEAD response, or
            # none after the GET, shifts every later response.
            c.send(build_request("HEAD", "/healthz") + build_request("GET", "/healthz"))
            r = c.read_response("HEAD")
            expect(r.status == 200 and r.header("content-length") == "2",
                   f"HEAD /healthz: {r.status} {r.headers}")
            try:
                r = c.read_response("GET")
            except ProtocolError as e:
                raise AssertionError(f"the HEAD response carried a body? then: {e}")
            expect(r.status == 200 and r.body == b"ok",
                   f"GET pipelined after HEAD: {r.short()} (the HEAD's flag applied to it?)")
            r = c.request("HEAD", "/work?resp=5")
            expect(r.status == 200 and r.header("content-length") == "5",
                   f"HEAD /work?resp=5: {r.status} {r.headers}")
            r = c.request("GET", "/work?resp=5")
            expect(r.status == 200 and r.body == b"abcde", f"GET after HEAD: {r.short()}")
            c.send(build_request("HEAD", "/healthz", [("Connection", "close")]))
            r = c.read_response("HEAD")
            expect_status(r, 200, "HEAD with Connection: close")
            expect(c.wait_closed(3), "HEAD: no close after the headers")

    # 18: SIGINT stops the server as SIGTERM does (a second server)
    def sigint(self):
        other = Server(self.srv.path, self.srv.args).start(10)
        try:
            with HttpConn(other.port) as c:
                expect_status(c.request("GET", "/healthz"), 200, "healthz")
                rc, took = other.stop(10, signal.SIGINT)
            expect(rc is not None, "still running 10 s after SIGINT (killed)")
            expect(rc == 0, f"exit code {rc} after SIGINT; stderr: {other.stderr_tail(5)!r}")
        finally:
            if other.alive():
                other.stop(5, signal.SIGKILL)

    # 19: SIGTERM while sends complete: clients read slowly until just after
    # the signal, then not at all, so a send the server submits after its
    # cancel-everything step would block forever. A race: five rounds.
    def sigterm_during_sends(self):
        for rnd in range(5):
            other = Server(self.srv.path, self.srv.args).start(10)
            stop_reading = threading.Event()
            conns, threads = [], []

            def trickle(c):
                while not stop_reading.is_set():
                    try:
                        c.sock.recv(8192)
                    except OSError:
                        return
                    time.sleep(0.0005)

            try:
                for _ in range(4):
                    c = HttpConn(other.port)
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
                    c.send(build_request("GET", "/work?resp=1m") * 8)
                    conns.append(c)
                    threads.append(threading.Thread(target=trickle, args=(c,), daemon=True))
                    threads[-1].start()
                time.sleep(0.1)
                other.proc.send_signal(signal.SIGTERM)
                time.sleep(0.02)
                stop_reading.set()
                rc, took = other.stop(10)
                expect(rc is not None, f"round {rnd + 1}: still running 10 s after SIGTERM "
                       "(killed) with 4 clients that stopped reading 20 ms after it")
                expect(rc == 0, f"round {rnd + 1}: exit code {rc} after SIGTERM; "
                       f"stderr: {other.stderr_tail(5)!r}")
            finally:
                stop_reading.set()
                for t in threads:
                    t.join(2)
                for c in conns:
                    c.close()
                if other.alive():
                    other.stop(5, signal.SIGKILL)

    # last: shutdown with connections in every state
    def shutdown(self):
        idle = HttpConn(self.port)
        expect_status(idle.request("GET", "/healthz"), 200, "healthz")
        partial = HttpConn(self.port)
        partial.send(b"GET /healthz HTTP/1.1\r\nHost: 127")
        midbody = HttpConn(self.port)
        midbody.send(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc")
        echo = socket.create_connection((HOST, self.srv.echo_port), timeout=5)
        # Sends in flight: a client that reads nothing of 8 MiB of responses,
        # and an echo client that writes until both directions are full.
        stalled = HttpConn(self.port)
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.send(build_request("GET", "/work?resp=1m") * 8)
        flood = socket.create_connection((HOST, self.srv.echo_port), timeout=5)
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        flood.setblocking(False)
        try:
            for _ in range(256):
                flood.send(b"z" * 65536)
        except BlockingIOError:
            pass
        time.sleep(0.2)  # let the server take them in
        try:
            rc, took = self.srv.stop(10)
            reports = self.srv.sanitizer_reports()
            summaries = sorted({l.strip() for l in self.srv.stderr_text().splitlines()
                                if l.startswith("SUMMARY:")})
            expect(rc is not None, "server still running 10 s after SIGTERM (killed) with an "
                   "idle keep-alive, a half-sent head, a half-sent body, an idle echo "
                   "connection and sends blocked on an HTTP and an echo client")
            expect(rc == 0 and not reports,
                   f"exit code {rc} after SIGTERM ({took:.1f} s); "
                   f"{len(reports)} sanitizer report lines: {summaries or reports[:3]}")
        finally:
            for c in (idle, partial, midbody, stalled):
                c.close()
            echo.close()
            flood.close()


CASES = ["healthz_curl", "echo_curl_1mib", "pipelining", "keepalive_1000", "chunked_upload",
         "concurrent_500", "wrk_healthz", "stats_json", "metrics_prometheus", "workload",
         "connection_close", "max_body_413", "echo_port", "admin_release", "not_found_405",
         "head_request", "sigint", "sigterm_during_sends",
         "tpc_pinning"]  # after all the load


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--mode", required=True, choices=("tpc", "ws"))
    ap.add_argument("--allocator", required=True)
    ap.add_argument("--only", metavar="CASE[,CASE...]",
                    help="run only these cases (then shutdown): " + ", ".join(CASES))
    opt = ap.parse_args()
    only = set(opt.only.split(",")) if opt.only else None
    unknown = only - set(CASES) - {"shutdown"} if only else None
    if unknown:
        ap.error(f"unknown case {', '.join(sorted(unknown))}")

    global CONCURRENT
    limit = raise_nofile(CONCURRENT + 200)
    if limit < CONCURRENT + 100:
        CONCURRENT = max(50, limit - 100)
        print(f"# RLIMIT_NOFILE {limit}: concurrent case uses {CONCURRENT} connections")

    srv = Server(opt.server, ["--mode", opt.mode, "--threads", "2",
                              "--allocator", opt.allocator])
    try:
        srv.start(10)
    except Skip as e:
        print(f"skip: {e}")
        return SKIP
    except (RuntimeError, OSError) as e:
        cmd = " ".join(getattr(srv, "cmd", [opt.server]))
        print(f"FAIL start: {e}\n# {cmd}\n# server stderr:\n{srv.stderr_tail()}")
        print("0 passed, 1 failed")
        return 1
    print(f"# {' '.join(srv.cmd)} (pid {srv.proc.pid})", flush=True)

    runner = Runner(srv)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fraglab-suite-") as tmp:
        suite = Suite(srv, opt.mode, opt.allocator, tmp)
        try:
            for name in CASES:
                if only and name not in only:
                    continue
                if name == "tpc_pinning" and opt.mode != "tpc":
                    print(f"skip {name}: tpc only")
                    continue
                runner.run(name, getattr(suite, name))
            alive = srv.alive()
            if alive:
                runner.run("shutdown", suite.shutdown, alive_after=False)
            else:
                runner.fail("shutdown", f"server already exited with code {srv.proc.poll()}")
        finally:
            if srv.alive():
                srv.stop(10)
    print(f"# {time.monotonic() - t0:.1f} s", flush=True)
    if runner.failed:
        print("# server stderr (tail):")
        for line in srv.stderr_tail(40).splitlines():
            print("#   " + line)
    return runner.summary()


if __name__ == "__main__":
    sys.exit(main())
