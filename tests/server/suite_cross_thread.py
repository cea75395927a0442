#!/usr/bin/env python3
"""Where frees happen, per runtime mode and free policy.

With --threads 2 and wrk -t2 -c64 POSTing 4 KiB bodies to /echo: tpc frees
nothing across threads, ws with --free-policy local frees at least 25 % of
buffers on a worker other than the allocating one, and ws with
--free-policy owner at most 1 % (the rest are returned to their owner).
usage: suite_cross_thread.py --server PATH --allocator NAME [--seconds S]"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import Server, Skip, get_json  # noqa: E402

CASES = [  # mode, policy, check on the cross-thread share, description
    ("tpc", "local", lambda s: s == 0.0, "== 0"),
    ("ws", "local", lambda s: s >= 0.25, ">= 0.25"),
    ("ws", "owner", lambda s: s <= 0.01, "<= 0.01"),
]


def drive(port, seconds, body_file):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'local f = io.open("{body_file}", "rb")\n'
                 'wrk.method = "POST"; wrk.body = f:read("*a"); f:close()\n')
    script.close()
    try:
        out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "-s", script.name,
                              f"http://127.0.0.1:{port}/echo"],
                             capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(script.name)
    if "Socket errors" in out or "Non-2xx" in out:
        raise AssertionError("wrk saw errors:\n" + out)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--allocator", default="glibc")
    ap.add_argument("--seconds", type=int, default=5)
    a = ap.parse_args()
    if not shutil.which("wrk"):
        print("SKIP: wrk is not installed")
        return 77
    body = tempfile.NamedTemporaryFile(delete=False)
    body.write(os.urandom(4096))
    body.close()
    passed = failed = 0
    try:
        for mode, policy, ok, want in CASES:
            srv = Server(a.server, ["--mode", mode, "--threads", "2", "--free-policy", policy,
                                    "--allocator", a.allocator], echo=False)
            try:
                srv.start()
            except Skip as e:
                print(f"SKIP: {e}")
                return 77
            try:
                drive(srv.port, a.seconds, body.name)
                t = get_json(srv.port)["totals"]
                frees, cross = t["buffer_frees_total"], t["cross_thread_frees_total"]
                share = cross / frees if frees else 0.0
                line = (f"{mode}/{policy}: {frees} frees, {cross} cross-thread ({share:.3f}, "
                        f"want {want}), {t['remote_returns_total']} returned to owner, "
                        f"{t['task_migrations_total'] / max(t['requests_total'], 1):.2f} "
                        f"migrations per request")
                good = frees > 1000 and ok(share)
                if mode == "ws" and policy == "owner":
                    good = good and t["remote_returns_total"] > 0
            finally:
                rc, _ = srv.stop()
            good = good and rc == 0
            print(("ok " if good else "FAIL ") + line + ("" if rc == 0 else f" (exit {rc})"))
            if rc != 0:
                print(srv.stderr_tail(80))
            passed, failed = passed + good, failed + (not good)
    finally:
        os.unlink(body.name)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
