#!/usr/bin/env python3
"""suite_runtime.py - what the runtime modes refuse, and /admin/release
waiting for every worker, against the real fraglab-server.

Cases:
- tpc_owner_refused: --mode tpc --free-policy owner (flag and INI) exits 2
  with one line on stderr instead of serving and reporting "owner".
- tpc_threads_over_cpus: under `taskset -c 0`, --mode tpc --threads 2 exits
  1 with one line naming the single allowed CPU and --threads 1; --mode ws
  with the same threads starts.
- release_waits: POST /admin/release answers workers_flushed equal to the
  number of workers, one request at a time and two at once on their own
  connections (no mutual wait), and the server serves on.

usage: suite_runtime.py --server PATH --mode tpc|ws --allocator NAME
Prints `ok CASE` or `FAIL CASE: reason` per case, then `N passed, M failed`.
Exit 0 if all passed, 1 otherwise, 77 (skip) if io_uring is not available or
the build refuses the allocator. Loopback only; every wait bounded.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import (HOST, SKIP, Runner, Server, Skip, free_port,  # noqa: E402
                     http_request)

START_TIMEOUT = 20  # a refused start exits at once; a started one is killed


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run_refused(cmd):
    """Runs a server start that must be refused: (exit code, stderr lines)."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode("utf-8", "replace").strip()
        raise AssertionError(f"still running after {START_TIMEOUT} s (accepted): {err[-300:]}")
    lines = [ln for ln in p.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return p.returncode, lines


class Suite:
    def __init__(self, opt):
        self.opt = opt

    def base(self):
        return [self.opt.server, "--allocator", self.opt.allocator, "--bind", HOST,
                "--port", str(free_port())]

    def tpc_owner_refused(self):
        rc, lines = run_refused([*self.base(), "--mode", "tpc", "--free-policy", "owner"])
        expect(rc == 2, f"exit {rc}, want 2: {lines}")
        expect(len(lines) == 1, f"want one line on stderr: {lines}")
        expect("--free-policy 'owner': ws mode only" in lines[0], lines[0])
        with tempfile.NamedTemporaryFile("w", suffix=".ini", prefix="fraglab-rt-") as f:
            f.write("[server]\nmode = tpc\nfree_policy = owner\n")
            f.flush()
            rc, lines = run_refused([*self.base(), "--config", f.name])
        expect(rc == 2 and len(lines) == 1 and "ws mode only" in lines[0],
               f"INI: exit {rc}: {lines}")

    def tpc_threads_over_cpus(self):
        if self.opt.mode != "tpc":
            return
        taskset = shutil.which("taskset")
        rc, lines = run_refused([taskset, "-c", "0", *self.base(), "--mode", "tpc",
                                 "--threads", "2"])
        expect(rc == 1, f"exit {rc}, want 1: {lines}")
        expect(len(lines) == 1, f"want one line on stderr: {lines}")
        for part in ("2 threads", "1 CPU only", "--threads 1", "--mode ws"):
            expect(part in lines[0], f"'{part}' missing: {lines[0]}")
        ws = Server(taskset, ["-c", "0", self.opt.server, "--mode", "ws", "--threads", "2",
                              "--allocator", self.opt.allocator], echo=False)
        try:
            ws.start(10)
        finally:
            rc, _ = ws.stop(10)
        expect(rc == 0, f"ws under taskset -c 0: exit {rc}: {ws.stderr_tail(5)}")

    def release_waits(self):
        threads = 2 if self.opt.mode == "ws" else min(2, len(os.sched_getaffinity(0)))
        srv = Server(self.opt.server, ["--mode", self.opt.mode, "--threads", str(threads),
                                       "--allocator", self.opt.allocator], echo=False)
        srv.start(10)
        try:
            for _ in range(5):
                self._release(srv.port, threads)
            out, errs = [], []

            def one():
                try:
                    out.append(self._release(srv.port, threads))
                except Exception as e:  # reported below
                    errs.append(e)

            ts = [threading.Thread(target=one) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(30)
            expect(not errs and len(out) == 2, f"two at once: {errs or out}")
            r = http_request(srv.port, "GET", "/healthz")
            expect(r.status == 200, f"/healthz after: {r.short()}")
        finally:
            rc, _ = srv.stop(10)
        expect(rc == 0, f"exit {rc} after SIGTERM: {srv.stderr_tail(5)}")
        expect(not srv.sanitizer_reports(), f"sanitizer: {srv.sanitizer_reports()[:3]}")

    @staticmethod
    def _release(port, threads):
        r = http_request(port, "POST", "/admin/release", timeout=15)
        expect(r.status == 200, f"POST /admin/release: {r.short()}")
        body = json.loads(r.body)
        expect(body.get("workers_flushed") == threads,
               f"workers_flushed {body.get('workers_flushed')}, want {threads}: {body}")
        expect(body.get("workers_notified") == threads - 1, f"{body}")
        return body


CASES = ["tpc_owner_refused", "tpc_threads_over_cpus", "release_waits"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--mode", required=True, choices=("tpc", "ws"))
    ap.add_argument("--allocator", required=True)
    opt = ap.parse_args()
    if opt.mode == "tpc" and not shutil.which("taskset"):
        print("skip: taskset (util-linux) is missing")
        return SKIP
    # One start to learn whether this machine and build can run the server.
    probe = Server(opt.server, ["--mode", "ws", "--threads", "1", "--allocator", opt.allocator],
                   echo=False)
    try:
        probe.start(10)
    except Skip as e:
        print(f"skip: {e}")
        return SKIP
    finally:
        probe.stop(10)
    runner = Runner()
    suite = Suite(opt)
    for name in CASES:
        runner.run(name, getattr(suite, name))
    return runner.summary()


if __name__ == "__main__":
    sys.exit(main())
