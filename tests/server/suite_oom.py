#!/usr/bin/env python3
"""suite_oom.py - the server outlives its memory limit.

The server runs under an address-space limit (RLIMIT_AS, what `ulimit -v`
and `prlimit --as` set) of its own size at start plus --headroom MiB, set
on the running process so that the figure does not depend on how much
address space the allocator and the build reserve up front. Keep-alive
connections then each ask `GET /work?resp=16&hold=1m&hold_for=conn` until
the holds no longer fit (at most --conns connections, and the run stops
--extra connections after the first 503). Asserted:
  - answers past the limit are 503 with Connection: close and a one-line
    body "503 Service Unavailable: cannot allocate hold of 1048576 bytes"
    (or another kind of allocation, same form), and the connection closes;
  - the server stays up and answers /healthz with the holds still in place;
  - once the connections close, held_bytes and connections_open go back to
    0 and the failures are counted in /stats (alloc_failures_total,
    alloc_failures.hold) and /metrics (fraglab_alloc_failures_total);
  - with --loadgen, fraglab-loadgen driving the same holds past the limit
    counts the 503s as `unavailable` (summary.json and the CSV column, none
    as `status`), as many as the server counted, and exits 0;
  - SIGTERM exits 0 with no sanitizer report.

Allocators: all four are run (tests/server/CMakeLists.txt). Each was
checked by hand under RLIMIT_AS down to failures of 256-byte allocations in
both modes: glibc, jemalloc, mimalloc and tcmalloc all return NULL from a
failed mmap and keep serving; none crashes inside itself, so none is
excluded. tcmalloc writes one "tcmalloc: allocation failed N" line on
stderr per failure (its own log, not ours), which is tolerated.

Sanitizer builds skip (exit 77): ASan and TSan reserve terabytes of shadow
address space at start, so any RLIMIT_AS the test could set stops them
before main, and their malloc aborts on failure (allocator_may_return_null=0)
instead of returning NULL, so the path under test is not the one they run.

With --paths (AddressSanitizer builds only; elsewhere it skips) the same
failure paths run under ASan instead, made to fail by size rather than by a
limit: ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=1
makes every allocation over 1 MiB return NULL, so a 1 MiB hold, a 1 MiB
response, a 1 MiB request body and a 2 MiB burst allocation each get their
503 with the exact reason, and LeakSanitizer at exit and ASan on the way
check that the failure paths free everything, once.

usage: suite_oom.py --server PATH [--loadgen PATH] --mode tpc|ws --allocator NAME
       [--sanitize LIST] [--paths]
Exit 0 if all assertions hold, 1 otherwise, 77 to skip. Loopback only;
every wait is bounded.
"""

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import (SKIP, Closed, HttpConn, ProtocolError, Server, Skip,  # noqa: E402
                     get_json, http_request, parse_prometheus, raise_nofile)

HOLD = "/work?resp=16&hold=1m&hold_for=conn"
REASON = re.compile(rb"503 Service Unavailable: cannot allocate [a-z ]+ of \d+ bytes\n")
HOLD_REASON = b"503 Service Unavailable: cannot allocate hold of 1048576 bytes\n"


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def vm_size(pid):
    """The process's address space in bytes (VmSize)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmSize in /proc/{pid}/status")


def wait_for(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def check_503(conn, r):
    """A 503 is one line naming the allocation, closes, and is followed by
    the close itself."""
    expect(REASON.fullmatch(r.body), f"503 body is not one reason line: {r.body[:200]!r}")
    expect("close" in r.connection_tokens(), f"503 without Connection: close: {r.headers}")
    expect(conn.wait_closed(5), "the connection stayed open after its 503")


def drive(srv, opt):
    """Opens keep-alive connections asking for holds until the limit is
    passed. Returns (connections still held, 503 bodies, other outcomes)."""
    held, bodies, other = [], [], {}
    after_first = None
    for i in range(opt.conns):
        if after_first is not None and i - after_first >= opt.extra:
            break
        conn = HttpConn(srv.port, timeout=5)
        try:
            conn.send(b"GET " + HOLD.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            r = conn.read_response()
        except (OSError, Closed, ProtocolError) as e:
            # Closed without an answer: the connection itself could not be
            # allocated (allowed, counted as conn_state). Anything else fails.
            other[type(e).__name__] = other.get(type(e).__name__, 0) + 1
            conn.close()
            expect(srv.alive(), f"the server died at connection {i}: {srv.stderr_tail(5)}")
            continue
        if r.status == 200:
            held.append(conn)
            continue
        expect(r.status == 503, f"connection {i}: status {r.status}: {r.body[:200]!r}")
        check_503(conn, r)
        conn.close()
        bodies.append(r.body)
        if after_first is None:
            after_first = i
    return held, bodies, other


# Keep-alive connections of four 1 MiB holds each (kept until the
# connection closes), closed loop: 200 of them want 800 MiB.
SCENARIO = """[scenario]
name = oom
seed = 1
duration = 3s
warmup = 0
connections = 200
threads = 1
rate = 0
timeout = 5s
error_stop = 0
interval = 500ms
[population keep]
share = 1
requests = 4
[request hold]
weight = 1
kind = work
resp = 16
hold = 1m
hold_for = 100
"""


def loadgen_phase(srv, opt):
    """fraglab-loadgen meets the limit: its 503s are `unavailable` errors."""
    before = get_json(srv.port)["totals"]["alloc_failures_total"]
    with tempfile.TemporaryDirectory(prefix="fraglab-oom-") as tmp:
        ini = os.path.join(tmp, "oom.ini")
        with open(ini, "w") as f:
            f.write(SCENARIO)
        r = subprocess.run([opt.loadgen, "run", "--scenario", ini, "--target",
                            f"127.0.0.1:{srv.port}", "-q", "--out", tmp + "/run"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        expect(r.returncode == 0, f"loadgen exit {r.returncode}: {r.stderr[-300:]}")
        with open(tmp + "/run/summary.json") as f:
            e = json.load(f)["errors"]
        with open(tmp + "/run/timeseries.csv") as f:
            in_csv = sum(int(row["unavailable"]) for row in csv.DictReader(f))
    failed = get_json(srv.port)["totals"]["alloc_failures_total"] - before
    print(f"loadgen: {e['unavailable']} unavailable, server: {failed} allocation failures")
    expect(e["unavailable"] > 0, f"the load generator met no 503: {e}")
    expect(e["status"] == 0, f"503s counted as status errors: {e}")
    expect(in_csv == e["unavailable"], f"CSV unavailable {in_csv}, summary {e['unavailable']}")
    expect(e["unavailable"] <= failed, f"{e['unavailable']} 503s, {failed} failures counted")


def run(opt):
    srv = Server(opt.server, ["--mode", opt.mode, "--threads", "2", "--allocator",
                              opt.allocator], echo=False)
    srv.start(10)
    held = []
    try:
        limit = vm_size(srv.proc.pid) + opt.headroom * 1024 * 1024
        resource.prlimit(srv.proc.pid, resource.RLIMIT_AS, (limit, limit))
        held, bodies, other = drive(srv, opt)
        print(f"{opt.mode}/{opt.allocator}: limit {limit >> 20} MiB: {len(held)} holds of 1 MiB, "
              f"{len(bodies)} answered 503, closed without an answer: {other or 'none'}")
        expect(srv.alive(), f"the server died: {srv.stderr_tail(5)}")
        expect(bodies, f"no 503 after {len(held)} holds of 1 MiB under a {limit >> 20} MiB limit")
        expect(HOLD_REASON in bodies, f"no 503 names the hold: {bodies[:3]}")
        expect(http_request(srv.port, "GET", "/healthz").status == 200,
               "/healthz did not answer 200 with the holds in place")
        for c in held:
            c.close()
        held = []
        # connections_open counts this /stats request's own connection, and
        # the previous one's close may still be in flight (ws: on another worker).
        def drained():
            t = get_json(srv.port)["totals"]
            return t["held_bytes"] == 0 and t["connections_open"] <= 1
        ok = wait_for(drained, 10)
        t = get_json(srv.port)["totals"]
        expect(ok, f"held_bytes {t['held_bytes']}, connections_open {t['connections_open']} "
                   "10 s after every connection closed")
        expect(t["alloc_failures_total"] >= len(bodies),
               f"alloc_failures_total {t['alloc_failures_total']} < {len(bodies)} 503s")
        expect(t["alloc_failures"]["hold"] > 0, f"no hold failure counted: {t['alloc_failures']}")
        text = http_request(srv.port, "GET", "/metrics").body.decode()
        fam = parse_prometheus(text).get("fraglab_alloc_failures_total")
        expect(fam is not None, "no fraglab_alloc_failures_total in /metrics")
        holds = sum(fam.values(kind="hold"))
        expect(fam.type == "counter" and holds == t["alloc_failures"]["hold"],
               f"/metrics hold failures {holds}, /stats {t['alloc_failures']['hold']}")
        if opt.loadgen:
            loadgen_phase(srv, opt)
    finally:
        for c in held:
            c.close()
        rc, took = srv.stop(10)
    expect(rc == 0, f"exit {rc} after SIGTERM ({took:.1f} s): {srv.stderr_tail(5)}")
    expect(not srv.sanitizer_reports(), f"sanitizer: {srv.sanitizer_reports()[:3]}")
    expect("abort" not in srv.stderr_text().lower(), f"stderr: {srv.stderr_tail(5)}")


# (method, target, body, the 503's reason, the kind counted)
PATHS = [
    ("GET", "/work?resp=16&hold=1m", b"", "hold of 1048576 bytes", "hold"),
    ("GET", "/work?resp=1m", b"", None, "response"),  # head + body: the size varies
    # The body waits for 100 Continue, as a client sending a large body
    # should: the 503 comes instead, and no unread body turns the close
    # into a reset that could beat the answer to the client.
    ("POST", "/echo", None, "request body of 1048576 bytes", "body"),
    ("GET", "/work?burst=4&burst_min=2m&burst_max=2m", b"", "burst allocation of 2097152 bytes",
     "burst"),
]


def run_paths(opt):
    """Each client-sized allocation fails by size under ASan: its 503, the
    close, and nothing left behind."""
    os.environ["ASAN_OPTIONS"] = ":".join(
        filter(None, [os.environ.get("ASAN_OPTIONS", ""), "allocator_may_return_null=1",
                      "max_allocation_size_mb=1"]))
    srv = Server(opt.server, ["--mode", opt.mode, "--threads", "2", "--allocator",
                              opt.allocator, "--work-max-burst-size", "2m"], echo=False)
    srv.start(10)
    try:
        for method, target, body, why, kind in PATHS:
            with HttpConn(srv.port) as conn:
                try:
                    if body is None:
                        conn.send(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Content-Length: 1048576\r\nExpect: 100-continue\r\n\r\n"
                                  .encode())
                        r = conn.read_response(method)
                    else:
                        r = conn.request(method, target, body=body)
                except (OSError, Closed) as e:
                    raise AssertionError(f"{method} {target}: {e}; {srv.stderr_tail(5)}")
                expect(r.status == 503, f"{method} {target}: {r.short()}")
                check_503(conn, r)
                if why:
                    expect(r.body == f"503 Service Unavailable: cannot allocate {why}\n".encode(),
                           f"{method} {target}: {r.body!r}")
            expect(http_request(srv.port, "GET", "/healthz").status == 200,
                   f"no /healthz after {method} {target}")
        t = get_json(srv.port)["totals"]
        want = {k: 1 for *_, k in PATHS}
        got = {k: t["alloc_failures"][k] for k in want}
        expect(got == want, f"alloc_failures {t['alloc_failures']}, want {want}")
        expect(t["held_bytes"] == 0, f"held_bytes {t['held_bytes']}")
    finally:
        rc, took = srv.stop(10)
    expect(rc == 0, f"exit {rc} after SIGTERM ({took:.1f} s): {srv.stderr_tail(5)}")
    expect(not srv.sanitizer_reports(), f"sanitizer: {srv.sanitizer_reports()[:3]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--mode", required=True, choices=("tpc", "ws"))
    ap.add_argument("--allocator", default="glibc")
    ap.add_argument("--sanitize", default="", help="FRAGLAB_SANITIZE of the build")
    ap.add_argument("--loadgen", help="fraglab-loadgen: also check its `unavailable` count")
    ap.add_argument("--headroom", type=int, default=192, help="MiB above the size at start")
    ap.add_argument("--conns", type=int, default=400, help="connections at most")
    ap.add_argument("--extra", type=int, default=20, help="connections after the first 503")
    ap.add_argument("--paths", action="store_true", help="the failure paths under ASan")
    opt = ap.parse_args()
    if opt.paths and "address" not in opt.sanitize:
        print("SKIP: --paths needs an AddressSanitizer build (FRAGLAB_SANITIZE=address,...): "
              "ASan's max_allocation_size_mb is what makes an allocation fail by its size")
        return SKIP
    if opt.paths:
        return report(opt, run_paths)
    if opt.sanitize:
        print(f"SKIP: sanitizer build ({opt.sanitize}): the sanitizers reserve terabytes of "
              "shadow address space, so RLIMIT_AS stops them before main, and their malloc "
              "aborts on failure instead of returning NULL")
        return SKIP
    raise_nofile(opt.conns + 64)
    return report(opt, run)


def report(opt, fn):
    try:
        fn(opt)
    except Skip as e:
        print(f"SKIP: {e}")
        return SKIP
    except AssertionError as e:
        print(f"FAIL {opt.mode}/{opt.allocator}: {e}")
        return 1
    print(f"ok {opt.mode}/{opt.allocator}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
