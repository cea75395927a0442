#!/usr/bin/env python3
"""suite_budget.py - the server-wide budget for held bytes (work_max_held_total).

The server runs with two workers and a budget of 3 MiB, set in a --config
file (the INI key). Two keep-alive connections hold 1 MiB each at a time
(`/work?hold=1m&hold_for=conn`) until the server holds 3 MiB. Asserted:
  - holds up to the budget are served 200, across both connections (which
    SO_REUSEPORT may place on either worker);
  - the next hold, on either connection, is answered 503 with a one-line
    body naming the budget and its size ("... work_max_held_total=3145728"),
    without Connection: close, and the connection keeps serving;
  - /stats shows held_bytes at the budget, the refusals in
    hold_budget_refusals_total and the budget in its config; /metrics has
    fraglab_hold_budget_refusals_total and fraglab_held_bytes;
  - closing a connection gives its holds back: once held_bytes drops, a new
    hold on the other connection (and on a new one) is served again;
  - with every connection closed nothing is held, and SIGTERM exits 0.

usage: suite_budget.py --server PATH --mode tpc|ws [--allocator NAME]
Exit 0 if all assertions hold, 1 otherwise, 77 to skip. Loopback only;
every wait is bounded.
"""

import argparse
import os
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import (SKIP, HttpConn, Runner, Server, Skip, get_json,  # noqa: E402
                     http_request, parse_prometheus)

MIB = 1024 * 1024
BUDGET = 3 * MIB
HOLD = "/work?resp=8&hold=1m&hold_for=conn"
REASON = (b"hold=1048576 would exceed the server-wide budget "
          b"work_max_held_total=3145728\n")


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def totals(port):
    return get_json(port)["totals"]


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def expect_held(conn, what):
    r = conn.request("GET", HOLD)
    expect(r.status == 200 and r.body == b"abcdefgh", f"{what}: want 200, got {r.short()}")


def expect_refused(conn, what):
    r = conn.request("GET", HOLD)
    expect(r.status == 503, f"{what}: want 503 past the budget, got {r.short()}")
    expect(r.body == REASON, f"{what}: 503 body {r.body!r}, want {REASON!r}")
    expect("close" not in r.connection_tokens(),
           f"{what}: a budget refusal closes the connection ({r.headers})")
    r = conn.request("GET", "/healthz")
    expect(r.status == 200, f"{what}: the connection no longer serves after the 503: {r.short()}")


class Cases:
    def __init__(self, port):
        self.port = port

    def budget_holds_and_refuses(self):
        p = self.port
        expect(get_json(p)["config"]["work_max_held_total"] == BUDGET,
               "/stats config does not show work_max_held_total = 3 MiB")
        with HttpConn(p) as a, HttpConn(p) as b:
            expect_held(a, "first MiB (connection a)")
            expect_held(b, "second MiB (connection b)")
            expect_held(a, "third MiB (connection a)")
            t = totals(p)
            expect(t["held_bytes"] == BUDGET, f"held_bytes {t['held_bytes']}, want {BUDGET}")
            expect_refused(b, "fourth MiB on b")
            expect_refused(a, "fourth MiB on a")
            t = totals(p)
            expect(t["held_bytes"] == BUDGET,
                   f"held_bytes {t['held_bytes']} after refusals, want {BUDGET}")
            expect(t["hold_budget_refusals_total"] == 2,
                   f"hold_budget_refusals_total {t['hold_budget_refusals_total']}, want 2")
            expect(t["alloc_failures_total"] == 0,
                   f"a budget refusal counted as an allocation failure: {t['alloc_failures']}")
            fams = parse_prometheus(http_request(p, "GET", "/metrics").body.decode())
            refusals = sum(v for _, _, v in fams["fraglab_hold_budget_refusals_total"].samples)
            held = sum(v for _, _, v in fams["fraglab_held_bytes"].samples)
            expect(refusals == 2 and held == BUDGET,
                   f"/metrics: {refusals} refusals, {held} held bytes")

            a.close()  # its 2 MiB go back to the budget
            expect(wait_for(lambda: totals(p)["held_bytes"] == MIB, 5),
                   f"held_bytes {totals(p)['held_bytes']} after a closed, want {MIB}")
            expect_held(b, "a hold on b after a closed")
            with HttpConn(p) as c:
                expect_held(c, "a hold on a new connection")
                expect_refused(c, "past the budget again")
        expect(wait_for(lambda: totals(p)["held_bytes"] == 0, 5),
               f"held_bytes {totals(p)['held_bytes']} with every connection closed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--mode", default="tpc")
    ap.add_argument("--allocator", default="glibc")
    a = ap.parse_args()
    ini = tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False)
    ini.write("[server]\nwork_max_held_total = 3m\n")
    ini.close()
    srv = Server(a.server, ["--config", ini.name, "--mode", a.mode, "--threads", "2",
                            "--allocator", a.allocator], echo=False)
    try:
        srv.start()
    except Skip as e:
        print(f"SKIP: {e}")
        os.unlink(ini.name)
        return SKIP
    runner = Runner(srv)
    try:
        runner.run("budget_holds_and_refuses", Cases(srv.port).budget_holds_and_refuses)
    finally:
        rc, _ = srv.stop()
        os.unlink(ini.name)
    if rc != 0 or srv.sanitizer_reports():
        runner.fail("sigterm", f"exit code {rc}; stderr:\n{srv.stderr_tail()}")
    return runner.summary()


if __name__ == "__main__":
    sys.exit(main())
