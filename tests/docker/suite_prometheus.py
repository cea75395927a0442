#!/usr/bin/env python3
"""suite_prometheus.py - Debian's real Prometheus watching a real matrix.

Starts /usr/bin/prometheus on 127.0.0.1 with docker/prometheus.yml, its
file_sd path pointed at the folder of a short `fraglab-loadgen matrix`
(tpc and ws-owner under glibc, one after the other), and asks Prometheus's
HTTP query API (/api/v1/query) for fraglab_rss_bytes and
fraglab_allocator_allocated_bytes: each pairing's series must come back
with the labels the matrix put on its target (pairing, mode, allocator,
free_policy, scenario; ws-owner is mode ws, free policy owner). When the
matrix ends, its prometheus-targets.json lists no target any more.

Bounded: each wait polls for at most 30 s (the matrix for 90 s); loopback
only; Prometheus is stopped at the end. Exit 0 passed, 1 failed, 77 when
Prometheus is not installed (scripts/deps.sh installs Debian's
`prometheus`) or PyYAML is missing.

usage: suite_prometheus.py --loadgen BIN --server BIN --root REPO
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SKIP = 77
PROMETHEUS = "/usr/bin/prometheus"
WAIT = 30.0
METRICS = ("fraglab_rss_bytes", "fraglab_allocator_allocated_bytes")
LABELS = ("pairing", "mode", "allocator", "free_policy", "scenario")
# What the matrix below runs, as its target labels should say.
WANT = {
    "tpc-glibc": {"pairing": "tpc-glibc", "mode": "tpc", "allocator": "glibc",
                  "free_policy": "local", "scenario": "quick"},
    "ws-owner-glibc": {"pairing": "ws-owner-glibc", "mode": "ws", "allocator": "glibc",
                       "free_policy": "owner", "scenario": "quick"},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(port, path, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return json.load(r)


def query(port, expr):
    """The instant vector of `expr` as [(labels, value)]."""
    doc = get_json(port, "/api/v1/query?query=" + urllib.parse.quote(expr))
    if doc.get("status") != "success":
        raise RuntimeError(f"query {expr}: {doc}")
    return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]


def config(root, targets, port):
    """docker/prometheus.yml with its file_sd pointing at this run's file:
    the shipped configuration is the one under test."""
    import yaml
    with open(os.path.join(root, "docker/prometheus.yml")) as f:
        doc = yaml.safe_load(f)
    doc["global"]["scrape_interval"] = "1s"
    jobs = [j for j in doc["scrape_configs"] if j.get("file_sd_configs")]
    assert len(jobs) == 1, f"one file_sd job expected in docker/prometheus.yml, got {len(jobs)}"
    jobs[0]["file_sd_configs"] = [{"files": [targets], "refresh_interval": "1s"}]
    return yaml.safe_dump(doc)


def wait_ready(prom, port):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if prom.poll() is not None:
            return f"prometheus exited with {prom.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as r:
                if r.status == 200:
                    return None
        except OSError:
            pass
        time.sleep(0.2)
    return f"prometheus not ready in {WAIT:.0f} s"


def watch(port, matrix):
    """Polls both metrics until each pairing was seen with every label (or
    the matrix ended and 30 s passed); {(metric, pairing): labels}."""
    seen = {}
    ended_at = None
    while True:
        for m in METRICS:
            for labels, value in query(port, m):
                if value > 0 and labels.get("pairing") in WANT:
                    seen[(m, labels["pairing"])] = labels
        if len(seen) == len(METRICS) * len(WANT):
            return seen
        if matrix.poll() is not None:
            ended_at = ended_at or time.monotonic()
            if time.monotonic() - ended_at > WAIT:
                return seen
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    if not os.access(PROMETHEUS, os.X_OK):
        print(f"skip: {PROMETHEUS} is not installed (Debian's `prometheus`; scripts/deps.sh "
              "installs it)")
        return SKIP
    try:
        import yaml  # noqa: F401
    except ImportError:
        print("skip: PyYAML missing (python3-yaml; scripts/deps.sh installs it)")
        return SKIP

    tmp = tempfile.mkdtemp(prefix="fraglab-prom-")
    out = os.path.join(tmp, "matrix")
    targets = os.path.join(out, "prometheus-targets.json")
    port = free_port()
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(config(a.root, targets, port))
    plog = open(os.path.join(tmp, "prometheus.log"), "w")
    # Its own config, storage and loopback address: nothing of the
    # package's service (which needs systemd) is used.
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp}/prometheus.yml",
                             f"--storage.tsdb.path={tmp}/data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdin=subprocess.DEVNULL, stdout=plog, stderr=plog)
    matrix = None
    failed = []
    try:
        why = wait_ready(prom, port)
        if why:
            plog.flush()
            print(f"FAIL {why}\n" + open(plog.name).read()[-2000:])
            return 1
        mlog = open(os.path.join(tmp, "matrix.log"), "w")
        # Light open-loop load: the test is about the wiring, not the load.
        matrix = subprocess.Popen(
            [a.loadgen, "matrix", "--scenario", os.path.join(a.root, "config/quick.ini"),
             "--server", a.server, "--modes", "tpc,ws-owner", "--allocators", "glibc",
             "--threads", "2", "--duration", "8s", "--idle", "1s", "--rate", "200",
             "--out", out], stdin=subprocess.DEVNULL, stdout=mlog, stderr=mlog)
        seen = watch(port, matrix)
        for m in METRICS:
            for name, want in WANT.items():
                got = seen.get((m, name))
                if not got:
                    failed.append(f"{m}: no series for pairing {name}")
                    continue
                diff = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
                if diff:
                    failed.append(f"{m} {name}: labels (got, want) {diff}")
                else:
                    print(f"ok {m} {name}: " + ", ".join(f"{k}={got[k]}" for k in LABELS))
        try:
            rc = matrix.wait(90)
        except subprocess.TimeoutExpired:
            failed.append("the matrix did not end within 90 s")
            rc = None
        if rc not in (0, None):
            failed.append(f"the matrix exited {rc}")
        # Every server stopped: no target left for Prometheus to scrape.
        try:
            with open(targets) as f:
                left = json.load(f)
            if left != []:
                failed.append(f"targets left after the matrix: {left}")
            else:
                print("ok no target left after the matrix")
        except (OSError, ValueError) as e:
            failed.append(f"{targets}: {e}")
    finally:
        if matrix and matrix.poll() is None:
            matrix.send_signal(signal.SIGINT)
            try:
                matrix.wait(30)
            except subprocess.TimeoutExpired:
                matrix.kill()
                matrix.wait()
        prom.terminate()
        try:
            prom.wait(15)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        plog.close()
    for f in failed:
        print(f"FAIL {f}")
    if failed:
        for log in ("matrix.log", "prometheus.log"):
            with open(os.path.join(tmp, log)) as f:
                print(f"--- {log}\n" + f.read()[-3000:])
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failed else 'passed'}: {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
