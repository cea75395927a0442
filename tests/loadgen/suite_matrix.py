#!/usr/bin/env python3
"""suite_matrix.py - `fraglab-loadgen matrix` end to end, small: two modes
(tpc, ws) under glibc plus an allocator that cannot load, 3 s of load and
2 s of idle each. Asserts that every good pairing ran and left its files,
that the bad one is reported with its reason while the others still run
(exit 1), that runs.json carries the manifest, that `report DIR` works
mid-run (the pairing under way marked running), and that the report wrote
matrix.csv with one row per pairing that ran, matrix.json and index.html.
Loopback only (the matrix starts its own servers on free 127.0.0.1 ports);
bounded by a timeout. Exit 0 pass, 1 fail."""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--config-dir", required=True)
    a = ap.parse_args()
    out = tempfile.mkdtemp(prefix="fraglab-matrix-")
    cmd = [a.loadgen, "matrix", "--scenario", os.path.join(a.config_dir, "quick.ini"),
           "--server", a.server, "--modes", "tpc,ws",
           "--allocators", "glibc,/nonexistent/libnomalloc.so",
           "--duration", "3s", "--idle", "2s", "--rate", "4000", "--out", out]
    print("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Mid-run, during the first pairing's load: `report DIR` works from
        # what is on disk, the pairing under way marked running.
        time.sleep(2.5)
        mid = subprocess.run([a.loadgen, "report", out, "--no-plots"], capture_output=True,
                             text=True, timeout=30)
        mid_csv = ""
        if os.path.isfile(os.path.join(out, "matrix.csv")):
            with open(os.path.join(out, "matrix.csv")) as f:
                mid_csv = f.read()
        stdout, stderr = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("the matrix (or the report mid-run) did not finish in time")
    r = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    print(r.stderr[-3000:])
    print(r.stdout[-3000:])
    if mid.returncode != 0 or ",running," not in mid_csv:
        fail(f"report mid-run: exit {mid.returncode} ({mid.stderr.strip()[-300:]}), "
             f"matrix.csv without a running row: {mid_csv[:400]!r}")
    if r.returncode != 1:
        fail(f"exit {r.returncode}, want 1 (one allocator cannot load)")

    with open(os.path.join(out, "runs.json")) as f:
        runs = json.load(f)
    for k in ("kernel", "glibc", "thp", "cpus", "server_threads", "command"):
        if k not in runs["manifest"]:
            fail(f"runs.json manifest lacks {k}")
    by = {(x["mode"], x["allocator_spec"]): x for x in runs["runs"]}
    if len(by) != 4:
        fail(f"runs.json has {len(by)} pairings, want 4: {sorted(by)}")
    for mode in ("tpc", "ws"):
        good = by[(mode, "glibc")]
        if good["status"] != "ok":
            fail(f"{mode} glibc: status {good['status']}: {good['error']}")
        d = os.path.join(out, good["dir"])
        for name in ("timeseries.csv", "summary.json", "server.log", "manifest.json",
                     "latency.hgrm", "latency-uncorrected.hgrm"):
            if not os.path.isfile(os.path.join(d, name)):
                fail(f"{mode} glibc: no {name}")
        with open(os.path.join(d, "manifest.json")) as f:
            m = json.load(f)
        if m["server"]["mode"] != mode or "held" not in m["server"]["pinning"]:
            fail(f"{mode} glibc: manifest.json server {m['server']}")
        with open(os.path.join(d, "timeseries.csv")) as f:
            rows = list(csv.DictReader(f))
        idle = [x for x in rows if x["phase"] == "idle-tail"]
        if len(idle) < 2 or any(x["requests"] != "0" for x in idle):
            fail(f"{mode} glibc: {len(idle)} idle-tail rows, want >= 2 with no requests")
        if not all(x["rss_bytes"] for x in rows):
            fail(f"{mode} glibc: a row without rss_bytes")
        with open(os.path.join(d, "summary.json")) as f:
            s = json.load(f)
        if s["server"]["mode"] != mode or s["errors"]["total"] != 0 or s["requests"] <= 0:
            fail(f"{mode} glibc: summary {s['server']['mode']}, {s['requests']} requests, "
                 f"{s['errors']['total']} errors")
        bad = by[(mode, "/nonexistent/libnomalloc.so")]
        if bad["status"] != "failed" or "libnomalloc" not in (bad["error"] or ""):
            fail(f"{mode} bad allocator: status {bad['status']}, error {bad['error']!r}")

    with open(os.path.join(out, "matrix.csv")) as f:
        table = list(csv.DictReader(f))
    ran = {(x["mode"], x["allocator"]) for x in table}
    for mode in ("tpc", "ws"):
        if (mode, "glibc") not in ran:
            fail(f"matrix.csv has no {mode} glibc row: {sorted(ran)}")
    for name in ("matrix.json", "index.html"):
        if not os.path.isfile(os.path.join(out, name)):
            fail(f"no {name}")
    print("PASS matrix")


if __name__ == "__main__":
    main()
