#!/usr/bin/env python3
"""suite_run.py - integration suite for `fraglab-loadgen run`.

Runs the real load generator against the real fraglab-server (started by
tests/server/helpers.py on fresh loopback ports, --mode tpc --threads 2,
glibc) or against wrong_echo.py, and checks the contract in
loadgen/README.md: the files a run writes and their fields, zero errors
against a correct server, mismatches reported (exit 1) against a wrong one,
SIGINT (exit 130, summary written), open-loop rate with both latency
histograms, a refused target (exit 1) and bad usage (exit 2), each with one
line on stderr; rows cut at phase boundaries and the warm-up's end; `--path`
with a binary outside the tree; manifest.json (under jemalloc with a setting).

usage: suite_run.py --loadgen PATH --server PATH --config-dir DIR [--case NAME]
Cases: quick, soak, mismatch, sigint, rate, populations, lifetime, stale, refused, badargs,
phases, pathonly, manifest (default: all).
Prints `ok CASE` or `FAIL CASE: reason` (then the commands and their output
as `#` lines), then `N passed, M failed, K skipped`. Exit 0 if all passed,
1 if any failed, 77 (skip) if the server cannot run here (sanitizer build
refusing the allocator, no io_uring) and nothing failed.
Every network operation has a timeout; every process is bounded in time
and stopped at the end of its case.
"""

import argparse
import contextlib
import csv
import json
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from helpers import HOST, SKIP, Server, Skip, free_port, get_json, raise_nofile  # noqa: E402

WRONG_ECHO = os.path.join(HERE, "wrong_echo.py")
SERVER_ARGS = ["--mode", "tpc", "--threads", "2", "--allocator", "glibc"]

# summary.json, as loadgen/README.md documents it.
SUMMARY_NUMBERS = (
    "requests", "ok", "mismatches", "throughput_rps", "retried",
    *(f"errors.{k}" for k in ("total", "connect", "read", "write", "timeout", "unavailable",
                              "status", "length", "mismatch", "protocol")),
    *(f"latency_us.{k}" for k in ("p50", "p90", "p99", "p999", "max", "mean", "stddev")),
    "server.pid", "server.rss_peak_bytes", "server.rss_final_bytes",
)
SUMMARY_OTHER = ("server.mode", "server.allocator", "interrupted", "stop_reason", "manifest")
PERCENTILES = ("p50", "p90", "p99", "p999", "max")

# timeseries.csv columns, in README order.
CSV_COLUMNS = (
    "t_s", "phase", "warmup", "requests", "rps", "errors", "unavailable", "p50_us", "p90_us",
    "p99_us", "max_us", "rss_bytes", "rss_anon_bytes", "lazyfree_bytes", "anon_huge_bytes",
    "allocated_bytes", "active_bytes", "resident_bytes", "mapped_bytes", "retained_bytes",
    "metadata_bytes", "frag_ratio", "cross_thread_frees", "task_migrations",
    "server_connections", "held_bytes", "server_cpu_ms",
)

# Each allocator's own breakdown, appended after metadata_bytes; the server
# here runs glibc, so its columns have figures and the others stay empty.
BREAKDOWN_COLUMNS = {
    "glibc": ("glibc_arena_bytes", "glibc_arena_free_bytes", "glibc_releasable_bytes",
              "glibc_mmapped_bytes"),
    "jemalloc": ("je_dirty_bytes", "je_muzzy_bytes", "je_tcache_bytes"),
    "tcmalloc": ("tc_pageheap_free_bytes", "tc_pageheap_unmapped_bytes",
                 "tc_central_free_bytes", "tc_transfer_free_bytes", "tc_thread_free_bytes"),
    "mimalloc": ("mi_committed_bytes", "mi_page_free_bytes"),
}

# GET /healthz only, for the rate case; the flags set duration, warm-up, rate.
HEALTHZ_INI = """\
# suite_run.py: GET /healthz only
[scenario]
name = healthz
seed = 1
duration = 5s
warmup = 0
connections = 16
threads = 1
rate = 0
timeout = 5s
error_stop = 0
interval = 1s

[population all]
share = 1

[request h]
weight = 1
kind = get
path = /healthz
"""

# Open loop with short connection lifetimes and an idle phase that keeps
# connections open, for the lifetime case: a slot whose lifetime ends at its
# turn reconnects and still sends that turn's request.
LIFETIME_INI = """\
# suite_run.py: lifetimes that end at a slot's turn, before and after a pause
[scenario]
name = lifetime
seed = 5
warmup = 0
connections = 10
threads = 1
rate = 200
timeout = 5s
error_stop = 0
interval = 1s

[phase load-1]
duration = 3s

[phase pause]
duration = 2s
idle = true

[phase load-2]
duration = 3s

[population sessions]
share = 1
lifetime = 300ms

[request h]
weight = 1
kind = get
path = /healthz
"""

# Sessions that sit idle longer than the server's keep-alive timeout, for
# the stale case: HTTP and echo-port connections both.
STALE_INI = """\
# suite_run.py: idle past the server's keep-alive timeout
[scenario]
name = stale
seed = 3
warmup = 0
connections = 6
threads = 1
rate = 0
timeout = 5s
error_stop = 0
interval = 1s

[phase before]
duration = 1s

[phase pause]
duration = 2500ms
idle = true

[phase after]
duration = 1s

# No think time: each connection is mid-request as the pause begins, and
# must stay open through it all the same.
[population sessions]
share = 1

[request echo]
weight = 2
kind = echo
body = 100-2k

[request tcp]
weight = 1
kind = tcp
bytes = 100-2k
"""

# Two populations for the populations case: a short one (1-20 requests, then
# close and reconnect) and one that never closes, thinking between requests.
# The share is of the connection slots: 45 short and 19 long of 64.
POPS_INI = """\
# suite_run.py: a short and a never-closing population
[scenario]
name = pops
seed = 5
duration = 4s
warmup = 1s
connections = 64
threads = 2
rate = 0
timeout = 5s
error_stop = 0
interval = 500ms

[population short]
share = 0.7
requests = 1-20

[population long]
share = 0.3
think = 1ms-20ms

[request h]
weight = 1
kind = get
path = /healthz
"""

# Two phases whose boundary (0.7 s) and warm-up end (0.3 s) fall inside the
# 400 ms interval, for the phases case: rows must be cut there.
PHASES_INI = """\
# suite_run.py: a phase boundary and a warm-up end mid-interval
[scenario]
name = phases
seed = 7
warmup = 300ms
connections = 2
threads = 1
rate = 0
timeout = 5s
error_stop = 0
interval = 400ms

[phase first]
duration = 700ms

[phase second]
duration = 700ms

[population all]
share = 1

[request h]
weight = 1
kind = get
path = /healthz
"""

# Echo only, for the mismatch case. No warm-up (it would hide the errors),
# no error threshold (the verification failure alone must give exit 1).
ECHO_INI = """\
# suite_run.py: POST /echo only
[scenario]
name = echo
seed = 1
duration = 3s
warmup = 0
connections = 4
threads = 1
rate = 0
timeout = 2s
error_stop = 0
interval = 1s

[population all]
share = 1

[request echo]
weight = 1
kind = echo
body = 1k-4k
"""


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def cell_num(text):
    """A CSV cell as a float; None if empty or not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def field(d, dotted):
    """d["a"]["b"] for "a.b"; KeyError naming the path if absent."""
    for k in dotted.split("."):
        if not isinstance(d, dict) or k not in d:
            raise KeyError(dotted)
        d = d[k]
    return d


def hgrm_footer(out, name):
    """(max in ms, total count) from an .hgrm file's '#[Max = ..., Total count = ...]'."""
    path = os.path.join(out, name)
    expect(os.path.isfile(path), f"{path} was not written")
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("#[Max"):
                parts = dict(p.split("=") for p in line.strip("#[]\n").split(","))
                parts = {k.strip(): v.strip() for k, v in parts.items()}
                return float(parts["Max"]), int(parts["Total count"])
    raise AssertionError(f"{name} has no '#[Max' line")


def hgrm_total(out, name):
    return hgrm_footer(out, name)[1]


def hgrm_max_ms(out, name):
    return hgrm_footer(out, name)[0]


def thp_mode(which):
    """The bracketed word of /sys/kernel/mm/transparent_hugepage/WHICH, or None."""
    try:
        with open(f"/sys/kernel/mm/transparent_hugepage/{which}") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.index("[") + 1:text.index("]")]


def jemalloc_version(lib):
    """jemalloc's own version string, asked with mallctl in a process that
    preloads `lib` (it cannot be dlopen'ed: static TLS)."""
    code = ("import ctypes\n"
            "v = ctypes.c_char_p(); n = ctypes.c_size_t(ctypes.sizeof(v))\n"
            "rc = ctypes.CDLL(None).mallctl(b'version', ctypes.byref(v), ctypes.byref(n), None, 0)\n"
            "print(v.value.decode() if rc == 0 else '')\n")
    p = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LD_PRELOAD": lib},
                       capture_output=True, timeout=20)
    return p.stdout.decode().strip()


def tail(data, n=15):
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return data.strip().splitlines()[-n:]


class Result:
    def __init__(self, rc, out, err, took):
        self.rc, self.out, self.err, self.took = rc, out, err, took

    def err_lines(self):
        return [l for l in self.err.decode("utf-8", "replace").splitlines() if l.strip()]


class Suite:
    def __init__(self, opt, tmp):
        self.loadgen = os.path.abspath(opt.loadgen)
        self.server = os.path.abspath(opt.server)
        self.cfg = os.path.abspath(opt.config_dir)
        self.tmp = tmp
        self.notes = []  # printed as # lines when the case fails

    def note(self, line):
        self.notes.extend("  " + l if i else l for i, l in enumerate(str(line).splitlines()))

    # ------------------------------------------------------------ processes

    @contextlib.contextmanager
    def fraglab(self, extra=()):
        """A fresh fraglab-server with an echo port; it must survive the case."""
        srv = Server(self.server, SERVER_ARGS + list(extra))
        try:
            srv.start(10)  # Skip propagates
        except RuntimeError as e:
            self.note(f"server: {' '.join(getattr(srv, 'cmd', [self.server]))}")
            self.note(srv.stderr_tail(20))
            raise AssertionError(f"fraglab-server did not start: {e}")
        self.note(f"server: {' '.join(srv.cmd)} (pid {srv.proc.pid})")
        try:
            yield srv
            expect(srv.alive(), f"fraglab-server died during the case (exit code "
                                f"{srv.proc.poll()}): {srv.stderr_tail(5)}")
        finally:
            if srv.alive():
                srv.stop(10)
            elif srv.proc is not None:
                self.note("server stderr: " + srv.stderr_tail(20))

    @contextlib.contextmanager
    def wrong_echo(self):
        """wrong_echo.py on a fresh port; yields the port."""
        err = tempfile.TemporaryFile(prefix="wrong-echo-err-")
        proc = None
        try:
            for attempt in (1, 2):
                port = free_port()
                cmd = [sys.executable, WRONG_ECHO, "--port", str(port), "--timeout", "10"]
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=err)
                line = read_line(proc.stdout, 10.0)
                if line.strip() == b"ready":
                    break
                kill(proc)
                if attempt == 2:
                    err.seek(0)
                    raise AssertionError(f"wrong_echo.py did not start ({line!r}): "
                                         f"{err.read().decode('utf-8', 'replace')[-300:]}")
            self.note(f"wrong_echo: {' '.join(cmd)} (pid {proc.pid})")
            yield port
            expect(proc.poll() is None, f"wrong_echo.py exited early ({proc.poll()})")
        finally:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    kill(proc)
            if proc is not None:
                proc.stdout.close()
            err.seek(0)
            self.note("wrong_echo stderr: " + err.read().decode("utf-8", "replace").strip())
            err.close()

    def run(self, args, timeout):
        """Runs `fraglab-loadgen run ARGS` in the temp dir, bounded by timeout."""
        cmd = [self.loadgen, "run", *args]
        self.note("$ " + shlex.join(cmd))
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, cwd=self.tmp, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            self.note("stdout: " + "\n".join(tail(e.stdout or b"")))
            self.note("stderr: " + "\n".join(tail(e.stderr or b"")))
            raise AssertionError(f"fraglab-loadgen did not exit within {timeout} s (killed)")
        r = Result(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        self.note(f"exit {r.rc} after {r.took:.1f} s")
        if p.stdout.strip():
            self.note("stdout: " + "\n".join(tail(p.stdout)))
        if p.stderr.strip():
            self.note("stderr: " + "\n".join(tail(p.stderr)))
        return r

    def out_dir(self, name):
        """A results folder that does not exist yet (the loadgen creates it)."""
        return os.path.join(self.tmp, "out-" + name)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # ------------------------------------------------------------ results

    def summary(self, out):
        path = os.path.join(out, "summary.json")
        expect(os.path.isfile(path), f"{path} was not written")
        with open(path) as f:
            text = f.read()
        try:
            s = json.loads(text)
        except ValueError as e:
            raise AssertionError(f"summary.json is not JSON ({e}): {text[:300]!r}")
        expect(isinstance(s, dict), "summary.json is not an object")
        brief = {k: s.get(k) for k in ("requests", "ok", "errors", "mismatches",
                                       "throughput_rps", "interrupted", "stop_reason")}
        self.note("summary: " + json.dumps(brief))
        return s

    def timeseries(self, out):
        """(header, rows as dicts); every row must have the header's width."""
        path = os.path.join(out, "timeseries.csv")
        expect(os.path.isfile(path), f"{path} was not written")
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r]
        expect(rows, "timeseries.csv is empty (no header)")
        header = [h.strip() for h in rows[0]]
        data = []
        for i, r in enumerate(rows[1:], 1):
            expect(len(r) == len(header),
                   f"timeseries.csv row {i} has {len(r)} cells, the header {len(header)}: {r}")
            data.append(dict(zip(header, (c.strip() for c in r))))
        self.note(f"timeseries.csv: {len(data)} rows; last {data[-1] if data else None}")
        return header, data

    def check_summary_fields(self, s, srv):
        missing = []
        for k in SUMMARY_NUMBERS + SUMMARY_OTHER:
            try:
                v = field(s, k)
            except KeyError:
                missing.append(k)
                continue
            expect(k not in SUMMARY_NUMBERS or is_num(v), f"summary {k} is not a number: {v!r}")
        expect(not missing, f"summary.json lacks {', '.join(missing)}")
        lat = s["latency_us"]
        ps = [lat[k] for k in PERCENTILES]
        expect(all(a <= b for a, b in zip(ps, ps[1:])),
               f"latency_us percentiles not in order: {dict(zip(PERCENTILES, ps))}")
        expect(s["interrupted"] is False, f"interrupted is {s['interrupted']!r}, want false")
        expect(isinstance(s["manifest"], dict) and s["manifest"],
               f"manifest is not a non-empty object: {s['manifest']!r}")
        sv = s["server"]
        expect(sv["pid"] == srv.proc.pid,
               f"server.pid {sv['pid']} is not the server's pid {srv.proc.pid}")
        expect(sv["mode"] == "tpc", f"server.mode {sv['mode']!r}, want 'tpc'")
        # The allocator the server itself reports (a sanitizer build runs
        # on the sanitizer's, whatever was asked).
        want = get_json(srv.port)["allocator"]["name"]
        expect(sv["allocator"] == want,
               f"server.allocator {sv['allocator']!r}, the server's /stats says {want!r}")
        expect(sv["rss_peak_bytes"] > 0 and sv["rss_final_bytes"] > 0,
               f"server RSS not read: peak {sv['rss_peak_bytes']}, final {sv['rss_final_bytes']}")
        expect(sv["rss_peak_bytes"] >= sv["rss_final_bytes"],
               f"server.rss_peak_bytes {sv['rss_peak_bytes']} < rss_final_bytes "
               f"{sv['rss_final_bytes']}")
        expect(0 < s["ok"] <= s["requests"], f"ok {s['ok']} not in 1..requests {s['requests']}")

    def check_clean(self, s, what):
        expect(s["requests"] > 0, f"{what}: no requests")
        expect(s["errors"]["total"] == 0, f"{what}: errors {s['errors']}")
        expect(s["mismatches"] == 0, f"{what}: mismatches {s['mismatches']}")

    # ------------------------------------------------------------ the cases

    def quick(self):
        with self.fraglab() as srv:
            out = self.out_dir("quick")
            # quick.ini's 24,000/s is for release builds; the sanitizer
            # builds run this case too.
            r = self.run(["--scenario", os.path.join(self.cfg, "quick.ini"),
                          "--target", f"{HOST}:{srv.port}",
                          "--echo-target", f"{HOST}:{srv.echo_port}",
                          "--duration", "5s", "--rate", "4000", "--out", out, "-q"], timeout=40)
            expect(r.rc == 0, f"exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            s = self.summary(out)
            self.check_summary_fields(s, srv)
            self.check_clean(s, "quick")

            header, rows = self.timeseries(out)
            breakdown = [c for cols in BREAKDOWN_COLUMNS.values() for c in cols]
            missing = [c for c in CSV_COLUMNS + tuple(breakdown) if c not in header]
            expect(not missing, f"timeseries.csv header lacks {missing}: {header}")
            # Readers go by name, but the documented columns keep their order.
            pos = [header.index(c) for c in CSV_COLUMNS]
            expect(pos == sorted(pos), f"timeseries.csv columns out of README order: {header}")
            # The server's CPU time: on every row, never falling, and the
            # load cost it some.
            cpu = [int(r["server_cpu_ms"]) for r in rows if r["server_cpu_ms"] != ""]
            expect(len(cpu) == len(rows) and cpu == sorted(cpu) and cpu[-1] > cpu[0],
                   f"server_cpu_ms missing or not growing: {cpu}")
            # Under glibc its breakdown has figures and the others stay
            # empty; a sanitizer build's server runs on the sanitizer's
            # allocator (it says so: asan, tsan), which has none of them.
            sv = s["server"]
            own = "glibc" if sv.get("allocator") == "glibc" else None
            for i, row in enumerate(rows, 1):
                for alloc, cols in BREAKDOWN_COLUMNS.items():
                    for c in cols:
                        v = cell_num(row[c])
                        if alloc == own:
                            expect(v is not None and v >= 0, f"row {i}: {c} {row[c]!r}")
                        else:
                            expect(row[c] == "", f"row {i}: {c} {row[c]!r} under {sv.get('allocator')}")
            expect(is_num(sv.get("glibc_arena_free_bytes")) == (own == "glibc") and
                   sv.get("je_dirty_bytes", 0) is None,
                   f"summary.json server breakdown under {sv.get('allocator')}: {sv}")
            expect(len(rows) >= 4, f"timeseries.csv has {len(rows)} data rows, want >= 4")
            for i, row in enumerate(rows, 1):
                rss = cell_num(row["rss_bytes"])
                expect(rss is not None and rss > 0,
                       f"timeseries.csv row {i}: rss_bytes {row['rss_bytes']!r}")
            ts = [cell_num(row["t_s"]) for row in rows]
            expect(None not in ts, f"t_s not numeric: {[row['t_s'] for row in rows]}")
            expect(all(a < b for a, b in zip(ts, ts[1:])), f"t_s not increasing: {ts}")

            hgrm = os.path.join(out, "latency.hgrm")
            expect(os.path.isfile(hgrm), f"{hgrm} was not written")
            with open(hgrm, errors="replace") as f:
                text = f.read()
            expect("#[Mean" in text, f"latency.hgrm has no '#[Mean' line: {text[-300:]!r}")
            ini = os.path.join(out, "scenario.ini")
            expect(os.path.isfile(ini) and os.path.getsize(ini) > 0,
                   f"{ini} missing or empty")
            with open(ini, errors="replace") as f:
                expect("[scenario]" in f.read(), "scenario.ini has no [scenario] section")

    def soak(self):
        # 8 x (20 m load + 10 m idle) scaled to 5 s: phases of 0.42 and 0.21 s,
        # half of the idle ones closing every connection, 256 connections, open
        # loop at 2000/s (4000 in load-4).
        with self.fraglab() as srv:
            out = self.out_dir("soak")
            r = self.run(["--scenario", os.path.join(self.cfg, "soak.ini"),
                          "--target", f"{HOST}:{srv.port}",
                          "--echo-target", f"{HOST}:{srv.echo_port}",
                          "--duration", "5s", "--out", out, "-q"], timeout=40)
            expect(r.rc == 0, f"exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            s = self.summary(out)
            self.check_clean(s, "soak")
            expect(s.get("interrupted") is False, f"interrupted {s.get('interrupted')!r}")

    def mismatch(self):
        ini = self.write("echo.ini", ECHO_INI)
        with self.wrong_echo() as port:
            out = self.out_dir("mismatch")
            r = self.run(["--scenario", ini, "--target", f"{HOST}:{port}",
                          "--duration", "3s", "--out", out, "-q"], timeout=30)
            s = self.summary(out)
            errs = s.get("errors", {})
            expect(errs.get("mismatch", 0) > 0 or s.get("mismatches", 0) > 0,
                   f"no mismatch reported: errors {errs}, mismatches {s.get('mismatches')}")
            # Every echo had a byte changed but the right status and length.
            expect(errs.get("status") == 0 and errs.get("length") == 0,
                   f"a changed byte reported as a status or length error: {errs}")
            expect(s.get("ok") == 0, f"ok {s.get('ok')}: every echo was wrong")
            expect(r.rc == 1, f"exit {r.rc}, want 1 (a response failed verification)")

    def sigint(self):
        with self.fraglab() as srv:
            out = self.out_dir("sigint")
            cmd = [self.loadgen, "run", "--scenario", os.path.join(self.cfg, "quick.ini"),
                   "--target", f"{HOST}:{srv.port}", "--echo-target", f"{HOST}:{srv.echo_port}",
                   "--duration", "60s", "--rate", "4000", "--interval", "1s", "--out", out]
            self.note("$ " + shlex.join(cmd))
            with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
                p = subprocess.Popen(cmd, cwd=self.tmp, stdin=subprocess.DEVNULL,
                                     stdout=so, stderr=se)
                try:
                    time.sleep(2.5)
                    expect(p.poll() is None, f"loadgen exited before SIGINT with {p.poll()}")
                    p.send_signal(signal.SIGINT)
                    t0 = time.monotonic()
                    try:
                        rc = p.wait(5)
                    except subprocess.TimeoutExpired:
                        raise AssertionError("still running 5 s after SIGINT (killed)")
                    took = time.monotonic() - t0
                finally:
                    kill(p)
                    for name, f in (("stdout", so), ("stderr", se)):
                        f.seek(0)
                        self.note(f"{name}: " + "\n".join(tail(f.read())))
            self.note(f"exit {rc} {took:.2f} s after SIGINT")
            expect(rc == 130, f"exit {rc} after SIGINT, want 130")
            s = self.summary(out)
            expect(s.get("interrupted") is True,
                   f"interrupted {s.get('interrupted')!r}, want true")
            expect(s.get("requests", 0) > 0, f"requests {s.get('requests')!r}, want > 0")
            _, rows = self.timeseries(out)
            expect(len(rows) >= 2, f"timeseries.csv has {len(rows)} data rows, want >= 2")

    def rate(self):
        ini = self.write("healthz.ini", HEALTHZ_INI)
        with self.fraglab() as srv:
            target = f"{HOST}:{srv.port}"
            # Closed loop: 16 connections do far more than 2000/s, and there
            # is no separate uncorrected latency.
            # --no-sample here: the memory columns stay empty, the rest is there.
            out = self.out_dir("rate-closed")
            r = self.run(["--scenario", ini, "--target", target, "--duration", "2s",
                          "--no-sample", "--out", out, "-q"], timeout=30)
            expect(r.rc == 0, f"closed loop: exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            s = self.summary(out)
            self.check_clean(s, "closed loop")
            expect(s["throughput_rps"] > 2100,
                   f"closed loop: {s['throughput_rps']} req/s, want > 2100 (16 connections "
                   f"on /healthz), or the open-loop figure below proves nothing")
            expect(s.get("latency_uncorrected_us") is None,
                   f"closed loop has latency_uncorrected_us {s.get('latency_uncorrected_us')} "
                   f"(README: open loop only)")
            expect(hgrm_total(out, "latency.hgrm") == s["latency_us"]["count"],
                   "closed loop: latency.hgrm's total count is not latency_us.count")
            expect(not os.path.exists(os.path.join(out, "latency-uncorrected.hgrm")),
                   "closed loop wrote latency-uncorrected.hgrm (open loop only)")
            _, rows = self.timeseries(out)
            expect(rows and all(r["rss_bytes"] == "" and r["allocated_bytes"] == "" for r in rows),
                   f"--no-sample: memory cells filled: {rows[:1]}")
            expect(all(r["requests"] not in ("", "0") for r in rows), "--no-sample: no requests")

            out = self.out_dir("rate-open")
            r = self.run(["--scenario", ini, "--target", target, "--rate", "2000",
                          "--duration", "5s", "--warmup", "1s", "--out", out, "-q"], timeout=40)
            expect(r.rc == 0, f"open loop: exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            s = self.summary(out)
            self.check_clean(s, "open loop")
            rps = s["throughput_rps"]
            expect(abs(rps - 2000) <= 100, f"open loop: {rps} req/s, want 2000 +- 5 %")
            unc = s.get("latency_uncorrected_us")
            expect(isinstance(unc, dict), f"open loop: latency_uncorrected_us is {unc!r}")
            for k in PERCENTILES:
                expect(is_num(unc.get(k)), f"latency_uncorrected_us.{k} is {unc.get(k)!r}")
                # Each request's corrected latency (from its intended send
                # time) is at least its uncorrected one, so every percentile
                # is too, up to the histogram's bucket width.
                cor = s["latency_us"][k]
                expect(unc[k] <= cor * 1.01 + 1,
                       f"uncorrected {k} {unc[k]} us > corrected {cor} us")
            # Both histograms as files: each holds every measured request,
            # and each is the one summary.json describes (its max, in ms).
            for name, lat in (("latency.hgrm", s["latency_us"]),
                              ("latency-uncorrected.hgrm", unc)):
                total = hgrm_total(out, name)
                expect(total == lat["count"] > 0,
                       f"{name}: total count {total}, summary count {lat['count']}")
                mx = hgrm_max_ms(out, name)
                expect(abs(mx * 1000 - lat["max"]) <= lat["max"] * 0.01 + 1,
                       f"{name}: max {mx} ms, summary max {lat['max']} us")

    def manifest(self):
        """manifest.json holds what was in force, as the server reports it:
        the allocator's settings and environment, its whole version, pinning,
        THP mode, the server's mode, threads and free policy, the command."""
        ini = self.write("healthz.ini", HEALTHZ_INI)
        spec = "jemalloc:dirty_decay_ms:1000"
        with self.fraglab(["--allocator", spec]) as srv:
            out = self.out_dir("manifest")
            r = self.run(["--scenario", ini, "--target", f"{HOST}:{srv.port}",
                          "--duration", "2s", "--out", out, "-q"], timeout=30)
            expect(r.rc == 0, f"exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            stats = get_json(srv.port)
            path = os.path.join(out, "manifest.json")
            expect(os.path.isfile(path), f"{path} was not written")
            with open(path) as f:
                m = json.load(f)
            self.note("manifest: " + json.dumps(m)[:1500])
        lg = m["loadgen"]
        expect(lg["command"][1:3] == ["run", "--scenario"] and out in lg["command"],
               f"loadgen.command {lg['command']}")
        expect(lg["version"] and lg["loop"] == "closed", f"loadgen: {lg}")
        expect(lg["scenario"] and "[scenario]" in lg["scenario"], "loadgen.scenario has no text")
        sm = self.summary(out)["manifest"]
        expect(sm == {"loadgen": lg, "host": m["host"]},
               "summary.json's manifest is not manifest.json's loadgen and host")
        host = m["host"]
        expect(host["kernel"] == os.uname().release, f"host.kernel {host['kernel']!r}")
        expect(host["cpus_online"] == os.cpu_count(), f"host.cpus_online {host['cpus_online']}")
        for which in ("enabled", "defrag"):
            want = thp_mode(which)
            expect(host[f"thp_{which}"] == want and m["server"]["host"][f"thp_{which}"] == want,
                   f"THP {which}: manifest {host[f'thp_{which}']!r} / server "
                   f"{m['server']['host'][f'thp_{which}']!r}, /sys says {want!r}")
        sv = m["server"]
        expect(sv["mode"] == "tpc" and sv["threads"] == 2 and sv["free_policy"] == "local",
               f"server mode/threads/free_policy: {sv['mode']} {sv['threads']} "
               f"{sv['free_policy']}")
        # Pinning as the server reports it, overall and per worker.
        pin = sv["pinning"]
        expect(pin["held"] is stats["pinning"]["held"], f"pinning.held {pin['held']!r}")
        expect([w["pinned"] for w in pin["workers"]] == [w["pinned"] for w in stats["workers"]]
               and len(pin["workers"]) == 2, f"pinning.workers {pin['workers']}")
        a = sv["allocator"]
        if a["name"] != "jemalloc":  # a sanitizer build runs on its own malloc
            raise Skip(f"the server runs on {a['name']}, not jemalloc")
        expect(a["requested"] == spec, f"allocator.requested {a['requested']!r}")
        expect(a["environment"].get("MALLOC_CONF") == "dirty_decay_ms:1000",
               f"allocator.environment {a['environment']}")
        expect("opt.dirty_decay_ms=1000" in a["settings"], f"allocator.settings {a['settings']!r}")
        # The whole version, as jemalloc itself says it, in the manifest and
        # in summary.json (it was cut at 31 characters).
        want = jemalloc_version(a["library"])
        expect(len(want) > 31, f"jemalloc reports version {want!r}")
        expect(a["version"] == want, f"allocator.version {a['version']!r}, jemalloc says {want!r}")
        s = self.summary(out)
        expect(s["server"]["allocator_version"] == want,
               f"summary.json server.allocator_version {s['server']['allocator_version']!r}")

    def populations(self):
        ini = self.write("pops.ini", POPS_INI)
        with self.fraglab() as srv:
            out = self.out_dir("pops")
            r = self.run(["--scenario", ini, "--target", f"{HOST}:{srv.port}", "--out", out,
                          "-q"], timeout=40)
            expect(r.rc == 0, f"exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            s = self.summary(out)
            self.check_clean(s, "populations")
            pops = {p.get("name"): p for p in s.get("populations") or []}
            expect(set(pops) == {"short", "long"}, f"summary populations: {list(pops)}")
            short, long_ = pops["short"], pops["long"]
            # Largest remainder: 44.8 / 19.2 of 64 slots.
            expect((short["slots"], long_["slots"]) == (45, 19),
                   f"slots {short['slots']}/{long_['slots']}, want 45/19")
            # The long slots open once each and stay open; the short ones
            # keep reconnecting. Drawing a population per connection (the
            # old way) drifts every slot into the never-closing one, so the
            # short population's connections stop within a second or two.
            expect(long_["connections_opened"] <= 19,
                   f"long opened {long_['connections_opened']} connections, want <= 19")
            expect(short["connections_opened"] >= 45 * 20,
                   f"short opened {short['connections_opened']} connections, want >= 900")
            expect(18.5 <= long_["connections_open_mean"] <= 19.0,
                   f"long open on average {long_['connections_open_mean']}, want 19")
            expect(short["connections_open_mean"] >= 30,
                   f"short open on average {short['connections_open_mean']}, want >= 30 of 45")
            expect(short["requests"] + long_["requests"] == s["requests"],
                   f"requests by population {short['requests']} + {long_['requests']} "
                   f"!= {s['requests']}")
            header, rows = self.timeseries(out)
            for col in ("pop_short_open", "pop_short_opened", "pop_short_requests",
                        "pop_long_open", "pop_long_opened", "pop_long_requests"):
                expect(col in header, f"timeseries.csv has no {col} column")
            # Over time, not only in total: every measured row of the load
            # keeps both populations open and the short one reconnecting.
            load = [r for r in rows if r["warmup"] == "0"][:-1]
            expect(len(load) >= 4, f"{len(load)} measured rows, want >= 4")
            for r in load:
                expect(int(r["pop_long_open"]) == 19, f"t={r['t_s']}: long open "
                       f"{r['pop_long_open']}, want 19")
                expect(int(r["pop_short_opened"]) >= 45,
                       f"t={r['t_s']}: short opened {r['pop_short_opened']} in the interval")

    def stale(self):
        """The server closes connections idle past its keep-alive timeout
        (1 s here); the next request on each meets a closed connection and
        goes again on a new one: counted as retried, no errors."""
        ini = self.write("stale.ini", STALE_INI)
        with self.fraglab(["--keepalive-timeout", "1s"]) as srv:
            out = self.out_dir("stale")
            r = self.run(["--scenario", ini, "--target", f"{HOST}:{srv.port}", "--echo-target",
                          f"{HOST}:{srv.echo_port}", "--out", out, "-q"], timeout=40)
            expect(r.rc == 0, f"exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            s = self.summary(out)
            self.check_clean(s, "stale")
            expect(s["retried"] >= 6, f"retried {s['retried']}, want >= 6 (each of 6 "
                   f"connections closed by the server during the 2.5 s pause)")
            stats = get_json(srv.port)["totals"]
            expect(stats["idle_timeouts_total"] >= 6,
                   f"the server closed {stats['idle_timeouts_total']} idle connections, want >= 6")

    def lifetime(self):
        """Every second of an open loop carries its rate, though each of the
        10 connections ends its 300 ms lifetime every few turns and all of
        them ended theirs during the pause: the reconnect sends the turn's
        request (it used to skip it: 178-192 of 200 a second)."""
        ini = self.write("lifetime.ini", LIFETIME_INI)
        with self.fraglab() as srv:
            out = self.out_dir("lifetime")
            r = self.run(["--scenario", ini, "--target", f"{HOST}:{srv.port}", "--no-sample",
                          "--out", out, "-q"], timeout=40)
            expect(r.rc == 0, f"exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            self.check_clean(self.summary(out), "lifetime")
            _, rows = self.timeseries(out)
            load = [(r["phase"], int(r["requests"])) for r in rows if r["phase"] != "pause"]
            self.note(f"lifetime: requests per second {load}")
            expect(len(load) == 6, f"{len(load)} load rows, want 6: {load}")
            # one request may be in flight across a row's end
            expect(all(abs(n - 200) <= 2 for _, n in load),
                   f"requests per 1 s row {load}, want 200 +- 2 each (rate 200)")
            expect(load[3][0] == "load-2", f"rows {load}")

    def refused(self):
        port, echo = closed_port(), closed_port()
        out = self.out_dir("refused")
        r = self.run(["--scenario", os.path.join(self.cfg, "quick.ini"),
                      "--target", f"{HOST}:{port}", "--echo-target", f"{HOST}:{echo}",
                      "--duration", "5s", "--out", out, "-q"], timeout=10)
        expect(r.rc == 1, f"exit {r.rc}, want 1")
        lines = r.err_lines()
        expect(len(lines) == 1, f"{len(lines)} lines on stderr, want 1: {lines[:5]}")
        expect(str(port) in lines[0] or str(echo) in lines[0],
               f"the stderr line names neither port {port} nor {echo}: {lines[0]!r}")

    def badargs(self):
        target = f"{HOST}:{closed_port()}"
        quick = os.path.join(self.cfg, "quick.ini")
        missing = os.path.join(self.tmp, "no-such-dir", "missing.ini")
        cases = (
            ("unknown flag", ["--scenario", quick, "--target", target, "--bogus-flag"],
             "--bogus-flag"),
            ("bad duration", ["--scenario", quick, "--target", target, "--duration", "5x"], "5x"),
            ("missing scenario", ["--scenario", missing, "--target", target], "missing.ini"),
            ("pid and no sampling", ["--scenario", quick, "--target", target, "--server-pid", "1",
                                     "--no-sample"], "--no-sample"),
        )
        for i, (what, args, named) in enumerate(cases):
            out = self.out_dir(f"badargs-{i}")
            r = self.run([*args, "--out", out, "-q"], timeout=10)
            expect(r.rc == 2, f"{what}: exit {r.rc}, want 2")
            lines = r.err_lines()
            expect(len(lines) == 1, f"{what}: {len(lines)} lines on stderr, want 1: {lines[:5]}")
            expect(named in lines[0], f"{what}: the stderr line does not name {named!r}: "
                                      f"{lines[0]!r}")

    def phases(self):
        """Every timeseries.csv row lies in one phase and on one side of the
        warm-up's end, and is labelled with them: the rows are cut at the
        phase boundary (0.7 s) and the warm-up's end (0.3 s), which fall
        inside the 400 ms interval."""
        ini = self.write("phases.ini", PHASES_INI)
        with self.fraglab() as srv:
            out = self.out_dir("phases")
            r = self.run(["--scenario", ini, "--target", f"{HOST}:{srv.port}", "--out", out,
                          "-q"], timeout=30)
            expect(r.rc == 0, f"exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            _, rows = self.timeseries(out)
            bounds = ((0.0, 0.7, "first"), (0.7, 1.4, "second"))
            eps = 0.0005  # t_s has three decimals
            start = 0.0
            for row in rows:
                end = float(row["t_s"])
                covering = [name for lo, hi, name in bounds if start < hi - eps and end > lo + eps]
                expect(covering == [row["phase"]],
                       f"row {start:.3f}-{end:.3f} s is labelled {row['phase']!r} but spans "
                       f"{covering}")
                expect(not (start < 0.3 - eps and end > 0.3 + eps),
                       f"row {start:.3f}-{end:.3f} s straddles the warm-up's end (0.3 s)")
                want = "1" if end <= 0.3 + eps else "0"
                expect(row["warmup"] == want,
                       f"row {start:.3f}-{end:.3f} s has warmup {row['warmup']}, want {want}")
                start = end
            expect(abs(start - 1.4) <= eps, f"the last row ends at {start} s, want 1.4")
            ends = [float(row["t_s"]) for row in rows]
            for t in (0.3, 0.4, 0.7, 0.8, 1.2, 1.4):
                expect(any(abs(e - t) <= eps for e in ends), f"no row ends at {t} s: {ends}")

    def pathonly(self):
        """`run --path` needs no scenario: a copy of the binary outside the
        source tree (no config/quick.ini beside it) still runs."""
        bindir = os.path.join(self.tmp, "a", "b", "c")
        os.makedirs(bindir)
        exe = os.path.join(bindir, "fraglab-loadgen")
        shutil.copy2(self.loadgen, exe)
        for rel in ("../../config/quick.ini", "../config/quick.ini",
                    "../share/fraglab/quick.ini"):
            expect(not os.path.exists(os.path.join(bindir, rel)),
                   f"{rel} exists beside the copied binary: the case proves nothing")
        with self.fraglab() as srv:
            out = self.out_dir("pathonly")
            self.loadgen, orig = exe, self.loadgen
            try:
                r = self.run(["--path", "/healthz", "--target", f"{HOST}:{srv.port}", "-d", "1s",
                              "-c", "4", "-t", "1", "-R", "2000", "--out", out, "-q"],
                             timeout=30)
            finally:
                self.loadgen = orig
            expect(r.rc == 0, f"exit {r.rc}, want 0: {r.err_lines()[-3:]}")
            s = self.summary(out)
            expect(s.get("requests", 0) > 0, f"requests {s.get('requests')!r}, want > 0")
            expect(s.get("stop_reason") == "duration",
                   f"stop_reason {s.get('stop_reason')!r}, want 'duration'")


CASES = ("quick", "soak", "mismatch", "sigint", "rate", "populations", "lifetime", "stale", "refused",
         "badargs", "phases", "pathonly", "manifest")


def read_line(stream, timeout):
    """One line from a pipe within `timeout` seconds (b"" on EOF or timeout)."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            return b""
    return stream.readline()


def kill(proc):
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


def closed_port():
    """A loopback port nothing listens on (just handed out and closed)."""
    return free_port()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--case", choices=CASES, help="run only this case")
    opt = ap.parse_args()
    for what, path in (("--loadgen", opt.loadgen), ("--server", opt.server)):
        if not os.access(path, os.X_OK):
            print(f"FAIL setup: {what} {path} is not an executable file")
            return 1
    for name in ("quick.ini", "soak.ini"):
        if not os.path.isfile(os.path.join(opt.config_dir, name)):
            print(f"FAIL setup: {name} not found in --config-dir {opt.config_dir}")
            return 1
    raise_nofile(4096)  # soak.ini opens 256 connections; the server gets as many

    passed = failed = skipped = 0
    t_all = time.monotonic()
    for name in CASES:
        if opt.case and name != opt.case:
            continue
        tmp = tempfile.mkdtemp(prefix=f"fraglab-loadgen-{name}-")
        suite = Suite(opt, tmp)
        t0 = time.monotonic()
        keep = False
        try:
            getattr(suite, name)()
        except Skip as e:
            skipped += 1
            print(f"skip {name}: {e}", flush=True)
        except Exception as e:  # a timeout or parse error is a failure too
            failed += 1
            keep = True
            why = str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}"
            why = " ".join((why or "assertion failed").split("\n"))[:2000]
            print(f"FAIL {name}: {why}", flush=True)
            for line in suite.notes:
                print("#   " + line)
            print(f"#   (results kept in {tmp})", flush=True)
        else:
            passed += 1
            print(f"ok {name} ({time.monotonic() - t0:.1f} s)", flush=True)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"# {time.monotonic() - t_all:.1f} s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    if failed:
        return 1
    return SKIP if skipped and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
