#!/usr/bin/env python3
"""suite_remote_pid.py - a server in another pid namespace, reached on
loopback, as a container sharing or forwarding its port would be.

The server runs under `unshare --pid` (and a user namespace, so no root is
needed) with its pid in there chosen to be the pid of a `sleep` decoy out
here: its /stats then names a process this machine can read, but not the
server. `fraglab-loadgen run` must see that the decoy is not the process
listening on the port and take RSS and the other process figures from the
server's own /stats: every row's rss_bytes is filled, the last one is the
server's RSS (within a factor of two of what this machine reads for the
real server process; the decoy's is an order of magnitude smaller), and
manifest.json says memory_from "stats". A second run against an ordinary
local server still samples /proc (memory_from "proc", CPU time filled).

Exit 0 passed, 1 failed, 77 when this kernel or its settings refuse user
or pid namespaces (a missing kernel feature).

usage: suite_remote_pid.py --loadgen BIN --server BIN --config-dir DIR
"""

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "server"))
import helpers  # noqa: E402

SKIP = 77
failed = []


def check(name, cond, why):
    print(f"ok {name}" if cond else f"FAIL {name}: {why}")
    if not cond:
        failed.append(name)


def rss_of(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def run_loadgen(a, port, echo, out):
    cmd = [a.loadgen, "run", "--scenario", os.path.join(a.config_dir, "quick.ini"),
           "--target", f"127.0.0.1:{port}", "--echo-target", f"127.0.0.1:{echo}",
           "--duration", "2s", "--rate", "200", "--idle", "1s", "--out", out, "-q"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:])
    with open(os.path.join(out, "timeseries.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    return r.returncode, rows, manifest


def wait_stats(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = helpers.http_request(port, "GET", "/stats", timeout=1.0)
            if r.status == 200:
                return json.loads(r.body)
        except (OSError, helpers.Closed, helpers.ProtocolError):
            pass
        time.sleep(0.1)
    return None


def namespaced(a, tmp):
    """The server as pid == decoy's pid inside its own pid namespace."""
    if not shutil.which("unshare") or subprocess.run(
            ["unshare", "-Urpf", "--mount-proc", "true"], capture_output=True).returncode:
        print("skip: user and pid namespaces are not available here (unshare -Urpf refused)")
        return SKIP
    decoy = subprocess.Popen(["sleep", "300"])
    port, echo = helpers.free_port(), helpers.free_port()
    err = open(os.path.join(tmp, "server.log"), "w")
    # sh is pid 1 in there; the next pid it hands out is ns_last_pid + 1.
    script = (f"echo {decoy.pid - 1} > /proc/sys/kernel/ns_last_pid; "
              f"{a.server} --threads 2 --bind 127.0.0.1 --port {port} --echo-port {echo} & wait")
    ns = subprocess.Popen(["unshare", "-Urpf", "--mount-proc", "--kill-child", "sh", "-c", script],
                          stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    try:
        stats = wait_stats(port)
        if stats is None:
            print("FAIL the namespaced server did not answer /stats in 20 s")
            with open(err.name) as f:
                print(f.read()[-2000:])
            return 1
        check("simulation_pid_collides", stats.get("pid") == decoy.pid,
              f"/stats pid {stats.get('pid')}, decoy {decoy.pid}")
        # The real server, as this machine numbers it: unshare -> sh -> server.
        real = [g for c in children(ns.pid) for g in children(c)]
        rc, rows, manifest = run_loadgen(a, port, echo, os.path.join(tmp, "remote"))
        check("remote_run_exit", rc == 0, f"exit {rc}")
        empty = [r["t_s"] for r in rows if not r["rss_bytes"]]
        check("remote_rss_filled", rows and not empty, f"rows without rss_bytes at t_s {empty}")
        real_rss = rss_of(real[0]) if real else None
        last = int(rows[-1]["rss_bytes"]) if rows and rows[-1]["rss_bytes"] else 0
        check("remote_rss_is_the_servers", real_rss and real_rss / 2 <= last <= real_rss * 2,
              f"last row rss {last}, the server's {real_rss}, the decoy's {rss_of(decoy.pid)}")
        src = (manifest.get("server") or {}).get("memory_from")
        check("remote_memory_from_stats", src == "stats", f"memory_from {src!r}")
    finally:
        ns.send_signal(signal.SIGTERM)
        try:
            ns.wait(15)
        except subprocess.TimeoutExpired:
            ns.kill()
            ns.wait()
        decoy.kill()
        decoy.wait()
        err.close()
    return 0


def local(a, tmp):
    """An ordinary server on this machine: still sampled from /proc."""
    srv = helpers.Server(a.server, ["--threads", "2"]).start()
    try:
        rc, rows, manifest = run_loadgen(a, srv.port, srv.echo_port, os.path.join(tmp, "local"))
        check("local_run_exit", rc == 0, f"exit {rc}")
        src = (manifest.get("server") or {}).get("memory_from")
        check("local_memory_from_proc", src == "proc", f"memory_from {src!r}")
        check("local_cpu_filled", rows and all(r["server_cpu_ms"] for r in rows),
              "server_cpu_ms empty: /proc/PID was not sampled")
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--config-dir", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fraglab-remote-pid-")
    try:
        local(a, tmp)
        rc = namespaced(a, tmp)
    except helpers.Skip as e:
        print(f"skip: {e}")
        return SKIP
    if rc:
        return rc
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failed else 'passed'}: {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
