#!/usr/bin/env python3
"""suite_hardening.py - bad input, limits, timeouts and faults against the
real fraglab-server.

The bad-input table sends each case on a raw socket and asserts the exact
status (with Connection: close and the close itself where the connection
cannot go on) or a close without a response, then that the server still
serves. Then, on servers of their own: slowloris, a body that stops, idle
keep-alive, slow reader (timeouts shortened by flags); `ulimit -n 128` under
400 connection attempts; peers resetting mid-response; and SIGTERM under full
load from fraglab-loadgen, after which every request the load generator
sent is answered or counted as an error, and what the server says it
answered adds up.

usage: suite_hardening.py --server PATH --loadgen PATH --mode tpc|ws --allocator NAME
       [--only CASE[,CASE...]]
Prints `ok CASE` or `FAIL CASE: reason` per case, then `N passed, M failed`.
Exit 0 if all passed, 1 otherwise, 77 (skip) if the build refuses the
allocator or io_uring is not available. Loopback only; every wait bounded.
"""

import argparse
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import (HOST, SKIP, Closed, HttpConn, Runner, Server, Skip,  # noqa: E402
                     free_port, get_json, http_request, raise_nofile)

CLOSE = "close"  # the expected outcome: closed without a response


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def H(extra=b""):
    """A request head's header block with a Host and `extra` lines."""
    return b"Host: 127.0.0.1\r\n" + extra


def long_line(n):
    return b"GET /" + b"a" * n + b" HTTP/1.1\r\n" + H() + b"\r\n"


def many_headers(n):
    return b"GET /healthz HTTP/1.1\r\n" + H(b"".join(b"X-%d: v\r\n" % i for i in range(n))) + b"\r\n"


# (name, bytes sent, expected status or CLOSE, keeps the connection?)
# Framing first: every ambiguity a proxy in front could read differently.
BAD = [
    ("cl_with_te", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")
     + b"\r\n0\r\n\r\n", 400),
    ("te_with_cl", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")
     + b"\r\n0\r\n\r\n", 400),
    ("cl_duplicate_same", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: 3\r\nContent-Length: 3\r\n")
     + b"\r\nabc", 400),
    ("cl_duplicate_differ", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: 3\r\nContent-Length: 4\r\n")
     + b"\r\nabcd", 400),
    ("cl_list", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: 3, 3\r\n") + b"\r\nabc", 400),
    ("cl_negative", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: -1\r\n") + b"\r\n", 400),
    ("cl_plus_sign", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: +3\r\n") + b"\r\nabc", 400),
    ("cl_hex", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: 0x3\r\n") + b"\r\nabc", 400),
    ("cl_inner_space", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: 1 2\r\n") + b"\r\n", 400),
    ("cl_overflow", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: 99999999999999999999\r\n")
     + b"\r\n", 400),
    ("te_gzip_only", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: gzip\r\n") + b"\r\n", 400),
    ("te_gzip_then_chunked", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: gzip, chunked\r\n")
     + b"\r\n0\r\n\r\n", 501),
    ("te_chunked_then_gzip", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: chunked, gzip\r\n")
     + b"\r\n", 400),
    ("te_identity", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: identity\r\n") + b"\r\n", 400),
    ("te_chunked_twice", b"POST /echo HTTP/1.1\r\n"
     + H(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") + b"\r\n0\r\n\r\n", 400),
    ("te_unknown_token", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: xchunked\r\n") + b"\r\n", 400),
    ("te_empty", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: \r\n") + b"\r\n", 400),
    ("te_in_http10", b"POST /echo HTTP/1.0\r\n" + H(b"Transfer-Encoding: chunked\r\n")
     + b"\r\n0\r\n\r\n", 400),
    ("chunk_size_overflow", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: chunked\r\n")
     + b"\r\nFFFFFFFFFFFFFFFFF\r\n", 400),
    ("chunk_size_not_hex", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: chunked\r\n")
     + b"\r\nzz\r\n", 400),
    ("chunk_data_overrun", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: chunked\r\n")
     + b"\r\n3\r\nabcdef\r\n0\r\n\r\n", 400),
    ("chunk_size_bare_lf", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: chunked\r\n")
     + b"\r\n3\nabc\r\n0\r\n\r\n", 400),
    # Header syntax.
    ("obs_fold", b"GET /healthz HTTP/1.1\r\n" + H(b"X-A: b\r\n c\r\n") + b"\r\n", 400),
    ("obs_fold_tab", b"GET /healthz HTTP/1.1\r\n" + H(b"X-A: b\r\n\tc\r\n") + b"\r\n", 400),
    ("empty_header_name", b"GET /healthz HTTP/1.1\r\n" + H(b": b\r\n") + b"\r\n", 400),
    ("space_before_colon", b"GET /healthz HTTP/1.1\r\n" + H(b"X-A : b\r\n") + b"\r\n", 400),
    ("slash_in_name", b"GET /healthz HTTP/1.1\r\n" + H(b"X/A: b\r\n") + b"\r\n", 400),
    ("ctl_in_value", b"GET /healthz HTTP/1.1\r\n" + H(b"X-A: b\x01c\r\n") + b"\r\n", 400),
    ("nul_in_value", b"GET /healthz HTTP/1.1\r\n" + H(b"X-A: b\x00c\r\n") + b"\r\n", 400),
    ("del_in_value", b"GET /healthz HTTP/1.1\r\n" + H(b"X-A: b\x7fc\r\n") + b"\r\n", 400),
    ("bare_lf_line_endings", b"GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n", 400),
    ("bare_lf_in_headers", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\nX: y\r\n\r\n", 400),
    ("bare_cr_after_line", b"GET /healthz HTTP/1.1\rHost: 127.0.0.1\r\n\r\n", 400),
    ("bare_cr_in_value", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\rX\r\n\r\n", 400),
    ("no_host_http11", b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    ("two_hosts", b"GET /healthz HTTP/1.1\r\n" + H(b"Host: other\r\n") + b"\r\n", 400),
    # The request line.
    ("space_in_target", b"GET /a b HTTP/1.1\r\n" + H() + b"\r\n", 400),
    ("lowercase_method", b"get /healthz HTTP/1.1\r\n" + H() + b"\r\n", 400),
    ("unknown_method", b"FROB /healthz HTTP/1.1\r\n" + H() + b"\r\n", 400),
    ("bad_version", b"GET /healthz HTTP/1.11\r\n" + H() + b"\r\n", 400),
    ("version_2", b"GET /healthz HTTP/2.0\r\n" + H() + b"\r\n", 505),
    ("http09_request", b"GET /healthz\r\n\r\n", 505),
    # Limits (defaults: line 8 KiB, field 8 KiB, head 32 KiB, 100 fields, body 1 MiB).
    ("request_line_8k", long_line(8200), 414),
    ("header_field_8k", b"GET /healthz HTTP/1.1\r\n" + H(b"X-Big: " + b"v" * 8200 + b"\r\n") + b"\r\n", 431),
    ("head_32k", b"GET /healthz HTTP/1.1\r\n"
     + H(b"".join(b"X-%d: " % i + b"v" * 7000 + b"\r\n" for i in range(5))) + b"\r\n", 431),
    ("headers_101", many_headers(101), 431),
    ("body_declared_2m", b"POST /echo HTTP/1.1\r\n" + H(b"Content-Length: 2000000\r\n") + b"\r\n", 413),
    ("work_cap", b"GET /work?resp=2m HTTP/1.1\r\n" + H() + b"\r\n", 400, True),
    # Binary garbage and other protocols' openings.
    ("binary_garbage", bytes(random.Random(7).randrange(256) for _ in range(512)), 400),
    ("nul_bytes", b"\x00" * 64, 400),
    ("tls_client_hello", bytes.fromhex("16030100f8010000f40303") + bytes(range(32)) + b"\x00" * 64, 400),
    ("http2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    ("ssh_banner", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 400),
    ("smtp_ehlo", b"EHLO example.org\r\n", 400),
    ("redis_ping", b"*1\r\n$4\r\nPING\r\n", 400),
]

# What must still be accepted: the strict checks must not refuse these.
GOOD = [
    ("tab_in_value", b"GET /healthz HTTP/1.1\r\n" + H(b"X-A: b\tc\r\n") + b"\r\n"),
    ("te_mixed_case_ows", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding:  CHUNKED \r\n")
     + b"\r\n3\r\nabc\r\n0\r\n\r\n"),
    ("chunk_extension", b"POST /echo HTTP/1.1\r\n" + H(b"Transfer-Encoding: chunked\r\n")
     + b"\r\n3;x=y\r\nabc\r\n0\r\n\r\n"),
    ("http10_without_host", b"GET /healthz HTTP/1.0\r\n\r\n"),
    ("leading_empty_line", b"\r\nGET /healthz HTTP/1.1\r\n" + H() + b"\r\n"),
    ("headers_100", many_headers(99)),  # 99 + Host
    ("request_line_8k_minus", long_line(8000)),  # 404: served, not refused
]


def read_all(sock, timeout):
    """Bytes until EOF (or reset) or `timeout`; (data, closed)."""
    sock.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            d = sock.recv(65536)
            if not d:
                return out, True
            out += d
    except ConnectionResetError:
        return out, True
    except socket.timeout:
        pass
    return out, False


def status_of(data):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    return int(m.group(1)) if m else None


def totals(port):
    return get_json(port)["totals"]


def wait_for(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Suite:
    def __init__(self, opt, srv):
        self.opt = opt
        self.srv = srv
        self.port = srv.port

    def serves(self, port=None):
        r = http_request(port or self.port, "GET", "/healthz", timeout=5)
        expect(r.status == 200, f"the server no longer serves: /healthz answered {r.status}")

    def one_bad(self, data, want, keeps):
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(data)
            if keeps:
                out, closed = read_all(s, 1.0)
                expect(status_of(out) == want, f"want {want}, got {out[:120]!r}")
                expect(not closed, "closed after an answer that lets the connection go on")
                return
            out, closed = read_all(s, 5.0)
        if want == CLOSE:
            expect(closed and not out, f"want a close without a response, got {out[:120]!r}")
            return
        expect(status_of(out) == want, f"want {want}, got {out[:160]!r}")
        head = out.split(b"\r\n\r\n", 1)[0].lower()
        expect(b"\r\nconnection: close" in head, f"no Connection: close on the {want}")
        expect(closed, f"the connection stayed open after the {want}")

    def bad_input(self):
        failed = []
        for case in BAD:
            name, data, want = case[:3]
            keeps = len(case) > 3 and case[3]
            try:
                self.one_bad(data, want, keeps)
                self.serves()
            except (AssertionError, OSError, Closed) as e:
                failed.append(f"{name}: {e}")
        expect(len(BAD) >= 40, f"only {len(BAD)} bad-input cases")
        expect(not failed, f"{len(failed)} of {len(BAD)}: " + "; ".join(failed))

    def good_input(self):
        failed = []
        for name, data in GOOD:
            with socket.create_connection((HOST, self.port), timeout=5) as s:
                s.sendall(data)
                out, _ = read_all(s, 0.5)
            st = status_of(out)
            if st not in (200, 404):
                failed.append(f"{name}: {out[:120]!r}")
        expect(not failed, "; ".join(failed))

    def status_bodies(self):
        """A refused request says why, in one line naming the setting."""
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(many_headers(101))
            out, _ = read_all(s, 5)
        body = out.split(b"\r\n\r\n", 1)[1]
        expect(body == b"431 Request Header Fields Too Large: more header fields than max_headers\n",
               f"431 body: {body!r}")

    # --- timeouts, on a server with short ones --------------------------------

    def timeouts(self):
        srv = start_server(self.opt, ["--header-timeout", "2s", "--body-timeout", "1s",
                                      "--keepalive-timeout", "1s", "--send-timeout", "1s"])
        try:
            self._slowloris(srv.port)
            self._fresh_silent(srv.port)
            self._body_stall(srv.port)
            self._keepalive(srv.port)
            self._slow_reader(srv.port)
            self.serves(srv.port)
            t = totals(srv.port)
            expect(t["header_timeouts_total"] >= 2 and t["body_timeouts_total"] >= 1
                   and t["idle_timeouts_total"] >= 1 and t["send_timeouts_total"] >= 1,
                   f"timeout counters: { {k: v for k, v in t.items() if 'timeouts' in k} }")
        finally:
            stop_checked(srv)

    def _slowloris(self, port):
        """One byte every 0.5 s never completes a head: 408 at the 2 s
        header deadline, however steadily the bytes come."""
        req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40 + b"\r\n\r\n"
        with socket.create_connection((HOST, port), timeout=5) as s:
            t0 = time.monotonic()
            out = b""
            for ch in req:
                try:
                    s.sendall(bytes([ch]))
                except OSError:
                    break
                s.settimeout(0.5)
                try:
                    d = s.recv(4096)
                except socket.timeout:
                    continue
                out += d
                break
            rest, closed = read_all(s, 3)
            took = time.monotonic() - t0
        out += rest
        expect(status_of(out) == 408, f"slowloris: want 408, got {out[:100]!r} after {took:.1f} s")
        expect(closed, "slowloris: not closed after the 408")
        expect(1.8 <= took <= 4.5, f"slowloris: closed after {took:.1f} s, deadline 2 s")

    def _fresh_silent(self, port):
        """A connection that never sends is closed at the header deadline, silently."""
        with socket.create_connection((HOST, port), timeout=5) as s:
            t0 = time.monotonic()
            out, closed = read_all(s, 5)
            took = time.monotonic() - t0
        expect(closed and not out and 1.8 <= took <= 4, f"silent connection: {out[:80]!r}, "
               f"closed={closed} after {took:.1f} s (want a close without bytes at 2 s)")

    def _body_stall(self, port):
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc")
            t0 = time.monotonic()
            out, closed = read_all(s, 4)
            took = time.monotonic() - t0
        expect(status_of(out) == 408 and closed and 0.8 <= took <= 3,
               f"stalled body: {out[:80]!r}, closed={closed} after {took:.1f} s (want 408 at 1 s)")

    def _keepalive(self, port):
        with HttpConn(port) as c:
            r = c.request("GET", "/healthz")
            expect(r.status == 200, f"keep-alive: {r.short()}")
            t0 = time.monotonic()
            expect(c.wait_closed(4), "idle keep-alive connection not closed within 4 s")
            took = time.monotonic() - t0
        expect(0.8 <= took <= 3, f"idle keep-alive closed after {took:.1f} s (timeout 1 s)")

    def _slow_reader(self, port):
        """A client that asks for 4 MiB and reads nothing: the send that
        stops making progress is given up after send_timeout."""
        before = totals(port)["send_timeouts_total"]
        s = socket.create_connection((HOST, port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.sendall(b"GET /work?resp=1m HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 4)
            got = wait_for(lambda: totals(port)["send_timeouts_total"] > before, 8, 0.2)
            expect(got, "slow reader: no send timeout within 8 s (send_timeout 1 s)")
            expect(wait_for(lambda: totals(port)["connections_open"] <= 1, 5),
                   "slow reader: its connection still open after the send timeout")
        finally:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()

    # --- faults --------------------------------------------------------------

    def nofile_128(self):
        """`ulimit -n 128` and 400 connection attempts: accepts pause on
        EMFILE instead of spinning, and the server serves afterwards."""
        def low():
            resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        srv = start_server(self.opt, [], preexec=low)
        socks = []
        try:
            for _ in range(400):
                try:
                    socks.append(socket.create_connection((HOST, srv.port), timeout=3))
                except OSError:
                    break  # the backlog is full: the attempt is refused or times out
            expect(len(socks) >= 128, f"only {len(socks)} of 400 connections got through")
            time.sleep(1)
            expect(srv.alive(), "the server died with 128 descriptors")
            cpu0 = proc_cpu(srv.proc.pid)
            time.sleep(1)
            busy = proc_cpu(srv.proc.pid) - cpu0
            expect(busy < 0.5, f"the server spun at EMFILE: {busy:.2f} CPU-s in 1 s")
            for s in socks:
                s.close()
            socks = []
            ok = wait_for(lambda: try_healthz(srv.port), 10, 0.2)
            expect(ok, "no /healthz within 10 s after the 400 connections closed")
            for _ in range(20):
                self.serves(srv.port)
            t = totals(srv.port)
            expect(t["accept_errors_total"] >= 1, f"accept_errors_total = {t['accept_errors_total']}")
            expect("Too many open files" in srv.stderr_text(), "no EMFILE warning on stderr")
        finally:
            for s in socks:
                s.close()
            stop_checked(srv)

    def resets(self):
        """Peers that reset mid-response (1 MiB answers, RST right after the
        request): never fatal, nothing left open."""
        base = totals(self.port)["connections_open"]
        for i in range(60):
            s = socket.create_connection((HOST, self.port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            path = b"/work?resp=1m" if i % 2 else b"/echo"
            body = b"" if i % 2 else b"x" * 200000
            s.sendall(b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                      % (b"GET" if i % 2 else b"POST", path, len(body)) + body)
            if i % 3 == 0:
                s.recv(1000)  # a little of the answer first
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # RST
        self.serves()
        expect(wait_for(lambda: totals(self.port)["connections_open"] <= base + 1, 10),
               f"connections left open after the resets: {totals(self.port)['connections_open']}")

    def sigterm_under_load(self):
        """SIGTERM while fraglab-loadgen drives the server flat out: the
        server exits 0, and every request is accounted for: the load
        generator's requests are its answers plus its errors, none left
        unfinished, and the server answered no fewer than the load generator
        received and no more than it received or lost to the stop."""
        srv = start_server(self.opt, [])
        with tempfile.TemporaryDirectory(prefix="fraglab-hard-") as tmp:
            cmd = [self.opt.loadgen, "run", "--scenario", self.opt.scenario, "--target",
                   f"{HOST}:{srv.port}", "-d", "8s", "--warmup", "0", "-c", "64", "-t", "2", "-R", "0", "-q",
                   "--out", tmp + "/run"]
            lg = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                time.sleep(3)
                rc, took = srv.stop(10)
                lg_err = lg.communicate(timeout=30)[1].decode(errors="replace")
            finally:
                if lg.poll() is None:
                    lg.kill()
            expect(rc == 0, f"server exit {rc} after SIGTERM under load ({took:.1f} s)")
            expect(not srv.sanitizer_reports(), f"sanitizer: {srv.sanitizer_reports()[:3]}")
            m = re.search(r"stopped: (\d+) HTTP requests answered", srv.stderr_text())
            expect(m, f"no totals line from the server: {srv.stderr_tail(5)}")
            answered = int(m.group(1))
            path = tmp + "/run/summary.json"
            expect(os.path.exists(path), f"no summary.json (loadgen exit {lg.returncode}): {lg_err[-300:]}")
            with open(path) as f:
                sm = json.load(f)
        e = sm["errors"]
        # Connect errors are errors but not requests (loadgen/README.md).
        expect(sm["requests"] == sm["ok"] + e["total"] - e["connect"],
               f"requests {sm['requests']} != ok {sm['ok']} + errors {e['total']} - connect "
               f"{e['connect']}")
        expect(sm["unfinished"] == 0, f"{sm['unfinished']} requests unaccounted (unfinished)")
        expect(sm["ok"] > 1000, f"only {sm['ok']} requests answered before the stop")
        lost = e["read"] + e["write"] + e["timeout"]
        expect(e["connect"] + lost > 0, f"the load generator saw no stop: {e}")
        expect(e["mismatch"] == 0 and e["protocol"] == 0 and e["length"] == 0,
               f"bad answers during the stop: {e}")
        expect(sm["ok"] <= answered <= sm["ok"] + lost,
               f"server answered {answered}; load generator ok {sm['ok']}, lost {lost}")


    def busy_port(self):
        """A second server on this one's port (or with its echo port there)
        is refused, one line on stderr naming the port, and takes none of
        this one's connections: SO_REUSEPORT alone would let it bind beside
        this one and silently take half of them."""
        for what, port, echo in (("port", self.srv.port, free_port()),
                                 ("echo port", free_port(), self.srv.port)):
            cmd = [self.opt.server, "--mode", self.opt.mode, "--threads", "2", "--allocator",
                   self.opt.allocator, "--bind", HOST, "--port", str(port), "--echo-port",
                   str(echo)]
            try:
                r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=10)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"a second server with its {what} on a busy port did not "
                                     "exit within 10 s: it is serving beside the first")
            lines = r.stderr.strip().splitlines()
            expect(r.returncode == 1, f"{what} busy: exit {r.returncode}, want 1: {lines[-3:]}")
            expect(len(lines) == 1 and str(self.srv.port) in lines[0] and "in use" in lines[0],
                   f"{what} busy: stderr {lines[:5]}, want one line naming port "
                   f"{self.srv.port} in use")
        before = totals(self.srv.port)["connections_accepted_total"]
        for _ in range(20):
            expect(try_healthz(self.srv.port), "the first server stopped answering")
        got = totals(self.srv.port)["connections_accepted_total"] - before
        expect(got >= 20, f"the first server accepted {got} of 20 new connections")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def try_healthz(port):
    try:
        return http_request(port, "GET", "/healthz", timeout=2).status == 200
    except (OSError, Closed):
        return False


def start_server(opt, extra, preexec=None):
    srv = Server(opt.server, ["--mode", opt.mode, "--threads", "2", "--allocator", opt.allocator,
                              *extra], echo=False, preexec=preexec)
    srv.start(10)
    return srv


def stop_checked(srv):
    rc, took = srv.stop(10)
    expect(rc == 0, f"extra server: exit {rc} after SIGTERM ({took:.1f} s): {srv.stderr_tail(5)}")
    expect(not srv.sanitizer_reports(), f"sanitizer: {srv.sanitizer_reports()[:3]}")


CASES = ["bad_input", "good_input", "status_bodies", "resets", "timeouts", "nofile_128",
         "busy_port", "sigterm_under_load"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--scenario", required=True, help="scenario for the SIGTERM case")
    ap.add_argument("--mode", required=True, choices=("tpc", "ws"))
    ap.add_argument("--allocator", required=True)
    ap.add_argument("--only", metavar="CASE[,CASE...]", help=", ".join(CASES))
    opt = ap.parse_args()
    only = set(opt.only.split(",")) if opt.only else None
    raise_nofile(2048)

    srv = Server(opt.server, ["--mode", opt.mode, "--threads", "2", "--allocator", opt.allocator],
                 echo=False)
    try:
        srv.start(10)
    except Skip as e:
        print(f"skip: {e}")
        return SKIP
    print(f"# {' '.join(srv.cmd)} (pid {srv.proc.pid})", flush=True)
    runner = Runner(srv)
    suite = Suite(opt, srv)
    t0 = time.monotonic()
    try:
        for name in CASES:
            if not only or name in only:
                runner.run(name, getattr(suite, name))
    finally:
        rc, took = srv.stop(10)
        if rc != 0 or srv.sanitizer_reports():
            runner.fail("shutdown", f"exit {rc} after {took:.1f} s; {srv.sanitizer_reports()[:3]}")
    print(f"# {time.monotonic() - t0:.1f} s", flush=True)
    if runner.failed:
        print("# server stderr (tail):")
        for line in srv.stderr_tail(20).splitlines():
            print("#   " + line)
    return runner.summary()


if __name__ == "__main__":
    sys.exit(main())
