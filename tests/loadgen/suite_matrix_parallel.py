#!/usr/bin/env python3
"""suite_matrix_parallel.py - `fraglab-loadgen matrix --parallel` end to end,
small: three pairings (tpc, ws, ws-owner under glibc) at 200 req/s.

1. All at once: the headroom check runs and accepts the rate; every
   pairing's first sample was seen within 2 s of the others'; each carried
   its offered rate within 2 %; runs.json is complete (every pairing ok,
   the headroom measured, which CPUs each pairing's workers used, its
   intervals behind).
2. A closed loop (--rate 0) is refused with one line saying why, exit 2.
3. A rate far beyond the machine is refused after the calibration with one
   line naming the largest rate it can carry, exit 2.
4. Behind its schedule: two pairings at a rate far beyond the machine with
   --no-headroom-check; stderr names a pairing that fell behind and
   runs.json counts its late intervals.
   While it runs, index.html is the live page (it reloads itself) and
   prometheus-targets.json lists the three servers; after it, neither.
   The verdict follows the table, in the terminal, matrix.json and the page.
5. SIGKILL of the matrix mid-run: within a few seconds none of its children
   (servers and run children, pids taken from /proc before the kill) is
   left, and `report DIR` still builds from what is on disk.
Loopback only; every step bounded by a timeout. Exit 0 pass, 1 fail."""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

RATE = 200


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


def base(a, out, *extra):
    return [a.loadgen, "matrix", "--parallel", "--scenario",
            os.path.join(a.config_dir, "quick.ini"), "--server", a.server,
            "--allocators", "glibc", "--out", out, *extra]


def run(cmd, timeout):
    print("$ " + " ".join(cmd))
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(f"did not finish in {timeout} s: {' '.join(cmd)}")


def run_watching(cmd, out, timeout):
    """Runs cmd, polling OUT every 0.2 s for a live index.html and the
    pairings prometheus-targets.json names; (result, what was seen)."""
    print("$ " + " ".join(cmd))
    seen = {"live": False, "targets": set()}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    res = {}

    def drain(name, stream):
        res[name] = stream.read()
    ts = [threading.Thread(target=drain, args=(n, s)) for n, s in
          (("out", p.stdout), ("err", p.stderr))]
    for t in ts:
        t.start()
    end = time.monotonic() + timeout
    while p.poll() is None:
        if time.monotonic() > end:
            p.kill()
            fail(f"did not finish in {timeout} s: {' '.join(cmd)}")
        try:
            with open(os.path.join(out, "index.html")) as f:
                seen["live"] |= 'http-equiv="refresh"' in f.read()
        except OSError:
            pass
        try:
            with open(os.path.join(out, "prometheus-targets.json")) as f:
                for g in json.load(f):
                    if g["labels"]["mode"] and g["labels"]["allocator"] == "glibc":
                        seen["targets"].add(g["labels"]["pairing"])
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    for t in ts:
        t.join()
    return subprocess.CompletedProcess(cmd, p.returncode, res["out"], res["err"]), seen


def all_at_once(a):
    out = tempfile.mkdtemp(prefix="fraglab-par-")
    cmd = base(a, out, "--modes", "tpc,ws,ws-owner", "--duration", "6s", "--idle", "1s",
               "--rate", str(RATE))
    r, seen = run_watching(cmd, out, 150)
    print(r.stderr[-3000:])
    if r.returncode != 0:
        fail(f"--parallel at {RATE} req/s exited {r.returncode}")
    with open(os.path.join(out, "runs.json")) as f:
        runs = json.load(f)
    if runs.get("parallel") is not True or not runs.get("headroom", {}).get("checked"):
        fail(f"runs.json: no parallel flag or no measured headroom: {runs.get('headroom')}")
    cal = runs["headroom"].get("calibration_runs") or []
    if len(cal) != 5 or not all(c["cpus"] > 0 and c["rps"] > 0 for c in cal):
        fail(f"headroom: calibration_runs {cal}")
    if os.path.exists(os.path.join(out, "calibration")):
        fail("the calibration's run folders were left in DIR beside the pairings")
    if runs["headroom"].get("max_rate", 0) < RATE:
        fail(f"headroom: largest rate {runs['headroom'].get('max_rate')} < {RATE}")
    firsts = []
    for run_ in runs["runs"]:
        name = run_["name"]
        if run_["status"] != "ok":
            fail(f"{name}: status {run_['status']}: {run_.get('error')}")
        for key in ("first_sample_at", "intervals_behind", "behind_t_s", "cpus"):
            if run_.get(key) is None:
                fail(f"{name}: runs.json has no {key}")
        if run_["mode"] == "tpc" and run_.get("pinned") is not True:
            fail(f"{name}: tpc workers not recorded as pinned: {run_}")
        firsts.append(run_["first_sample_at"])
        with open(os.path.join(out, run_["dir"], "summary.json")) as f:
            rps = json.load(f)["throughput_rps"]
        if abs(rps - RATE) > 0.02 * RATE:
            fail(f"{name}: {rps:.1f} req/s, not within 2 % of {RATE}")
    if len(firsts) != 3 or max(firsts) - min(firsts) > 2.0:
        fail(f"first samples {firsts}: not three within 2 s")
    with open(os.path.join(out, "matrix.json")) as f:
        mj = json.load(f)
    for run_ in mj["rows"]:  # the report carries them on
        if not run_.get("cpus") or not isinstance(run_.get("intervals_behind"), (int, float)):
            fail(f"matrix.json {run_.get('name')}: no cpus or intervals_behind")
    if "cpus: tpc-glibc" not in r.stdout:
        fail("the report's table has no cpus note")
    # The verdict ends the table: the same lines in the terminal, matrix.json
    # and the page; all three carried the same load, so it names a pairing
    # or, if every p99 but one was out of tolerance, still one.
    v = mj.get("verdict") or {}
    lines = v.get("lines") or []
    if v.get("runs") != 1 or not lines or lines[0] not in r.stdout:
        fail(f"no verdict after the table: {v}")
    if v.get("pick") not in ("tpc-glibc", "ws-glibc", "ws-owner-glibc"):
        fail(f"the verdict picked nothing at equal load: {lines}")
    if "one run, no spread" not in r.stdout:
        fail("the verdict does not say how sure it is")
    with open(os.path.join(out, "index.html")) as f:
        if "<h2>Verdict</h2>" not in f.read():
            fail("the page has no verdict")
    # While the pairings ran: the live page reloading itself, and the
    # file_sd targets listing the three servers with their labels.
    if not seen["live"]:
        fail("index.html was never a live (self-reloading) page while the pairings ran")
    if seen["targets"] != {"tpc-glibc", "ws-glibc", "ws-owner-glibc"}:
        fail(f"prometheus-targets.json listed {seen['targets']} while the pairings ran")
    with open(os.path.join(out, "index.html")) as f:
        if 'http-equiv="refresh"' in f.read():
            fail("the page still reloads itself after the matrix ended")
    with open(os.path.join(out, "prometheus-targets.json")) as f:
        if json.load(f) != []:
            fail("prometheus-targets.json still lists servers after the matrix ended")
    print(f"ok all at once: first samples within {max(firsts) - min(firsts):.3f} s")


def closed_loop(a):
    out = os.path.join(tempfile.mkdtemp(prefix="fraglab-par-"), "m")
    r = run(base(a, out, "--rate", "0"), 30)
    lines = r.stderr.strip().splitlines()
    if r.returncode != 2 or len(lines) != 1 or "open loop" not in lines[0]:
        fail(f"closed loop: exit {r.returncode}, stderr {r.stderr!r}")
    if os.path.exists(out):
        fail("closed loop: the refusal left a results folder")
    print("ok closed loop refused: " + lines[0])


def too_fast(a):
    out = tempfile.mkdtemp(prefix="fraglab-par-")
    r = run(base(a, out, "--modes", "tpc,ws", "--rate", "10000000"), 90)
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    if r.returncode != 2 or "largest rate" not in last or "--rate " not in last:
        fail(f"10M req/s: exit {r.returncode}, last line {last!r}")
    if os.path.isdir(os.path.join(out, "runs", "tpc-glibc")):
        fail("10M req/s: a pairing started after the refusal")
    print("ok too fast refused: " + last)


def overload(a):
    out = tempfile.mkdtemp(prefix="fraglab-par-")
    r = run(base(a, out, "--modes", "tpc,ws", "--duration", "4s", "--idle", "0s", "--rate",
                 "400000", "--connections", "64", "--no-headroom-check"), 90)
    print(r.stderr[-2000:])
    named = [ln for ln in r.stderr.splitlines() if "is behind its schedule" in ln]
    with open(os.path.join(out, "runs.json")) as f:
        runs = json.load(f)
    late = {x["name"]: x.get("intervals_behind") for x in runs["runs"]}
    if not named or not any((v or 0) > 0 for v in late.values()):
        fail(f"400k req/s: no pairing said to fall behind (stderr {named}, runs.json {late})")
    if runs["headroom"].get("checked") is not False:
        fail("--no-headroom-check: a calibration ran")
    print(f"ok behind: {named[0]}")


def children(pid):
    """pids whose parent is `pid`, from /proc."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as f:
                for line in f:
                    if line.startswith("PPid:") and int(line.split()[1]) == pid:
                        kids.append(int(d))
        except OSError:
            pass
    return kids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def sigkill(a):
    out = tempfile.mkdtemp(prefix="fraglab-par-")
    cmd = base(a, out, "--modes", "tpc,ws", "--duration", "60s", "--idle", "1s", "--rate",
               str(RATE), "--no-headroom-check")
    print("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kids = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # both runs going: two servers, two runs
        kids = children(proc.pid)
        csvs = [os.path.join(out, "runs", n, "timeseries.csv") for n in ("tpc-glibc", "ws-glibc")]
        if len(kids) == 4 and all(os.path.isfile(c) for c in csvs):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        fail(f"the pairings did not start in time (children {kids})")
    time.sleep(1.5)  # a few samples on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(k) for k in kids):
        time.sleep(0.1)
    left = [k for k in kids if alive(k)]
    for k in left:
        os.kill(k, signal.SIGKILL)
    if left:
        fail(f"children {left} outlived the SIGKILLed matrix")
    r = run([a.loadgen, "report", out, "--no-plots"], 60)
    if r.returncode != 0 or not os.path.isfile(os.path.join(out, "matrix.csv")):
        fail(f"report after SIGKILL: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    print(f"ok SIGKILL: children {kids} gone, report built")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--config-dir", required=True)
    a = ap.parse_args()
    closed_loop(a)
    sigkill(a)
    too_fast(a)
    overload(a)
    all_at_once(a)
    print("PASS")


if __name__ == "__main__":
    main()
