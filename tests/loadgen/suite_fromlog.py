#!/usr/bin/env python3
"""suite_fromlog.py - integration suite for `fraglab-loadgen scenario --from-log`.

Cases:
  sample   config/sample-access.log converts (exit 0, one line on stderr
           counting its 6 bad lines by kind), and the scenario written drives
           a real fraglab-server for 2 s with no error;
  json     a 20,000-line json log from scripts/gen-access-log.py converts
           (populations from its connections, upload bodies) and runs 2 s
           against the server with no error: every size it wrote is one
           the server accepts;
  badargs  no --from-log, an unknown --format (exit 2), a missing file, a
           log with no request (exit 1): one line on stderr each, no file
           left at --out;
  million  logs of 100,000 and 1,000,000 json lines convert; the peak RSS
           of the converter (wait4's ru_maxrss) is below 32 MiB for both and
           does not grow with the lines (the larger within 1 MiB of the
           smaller; not checked in a sanitizer build, whose shadow memory
           and quarantine are the peak); the million-line scenario runs 2 s
           against the server.
No assertion is on time; every process has a timeout.

usage: suite_fromlog.py --loadgen PATH --server PATH --config-dir DIR --gen PATH [--case NAME]
       [--sanitize=address,undefined]
Exit 0 all passed, 1 any failed, 77 when the server cannot run here.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from helpers import HOST, SKIP, Server, Skip  # noqa: E402

SERVER_ARGS = ["--mode", "tpc", "--threads", "2", "--allocator", "glibc"]
MiB = 1 << 20


class Fail(Exception):
    pass


def expect(cond, why):
    if not cond:
        raise Fail(why)


def convert(args, log, out, fmt="combined", timeout=300):
    """Runs the converter; (exit code, stderr)."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen([args.loadgen, "scenario", "--from-log", log, "--format", fmt,
                              "--out", out], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Fail(f"conversion of {log} did not end within {timeout} s")
        err.seek(0)
        return p.returncode, err.read().decode(errors="replace")


def convert_rss(args, log, out, fmt):
    """Converts; the child's own peak RSS in bytes, from wait4's rusage
    (ru_maxrss, KiB). No timeout here: the million case's ctest TIMEOUT
    bounds it."""
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(os.devnull, os.O_RDWR)
            os.dup2(fd, 0)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execv(args.loadgen, [args.loadgen, "scenario", "--from-log", log, "--format", fmt,
                                    "--out", out])
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    expect(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
           f"conversion of {log} failed: status {status}")
    return ru.ru_maxrss * 1024


def generate(args, path, lines, fmt, malformed=0):
    with open(path, "w") as f:
        subprocess.run([sys.executable, args.gen, "--lines", str(lines), "--format", fmt,
                        "--malformed", str(malformed)], stdout=f, check=True, timeout=600)


def run_against_server(args, ini, tmp):
    """`run` of the scenario for 2 s at 300 requests/s against a real server:
    its summary."""
    srv = Server(args.server, SERVER_ARGS)
    srv.start(10)
    try:
        out = os.path.join(tmp, "run-" + os.path.basename(ini))
        p = subprocess.run([args.loadgen, "run", "--scenario", ini, "--target",
                            f"{HOST}:{srv.port}", "--duration", "2s", "--rate", "300", "--quiet",
                            "--out", out], capture_output=True, text=True, timeout=60)
        expect(p.returncode == 0, f"run exited {p.returncode}: {p.stderr.strip()[-500:]}")
        expect(srv.alive(), "the server died during the run")
        with open(os.path.join(out, "summary.json")) as f:
            return json.load(f)
    finally:
        srv.stop(10)


def check_run(args, ini, tmp):
    s = run_against_server(args, ini, tmp)
    expect(s["requests"] > 0, f"no request in 2 s: {s['requests']}")
    expect(s["errors"]["total"] == 0, f"errors: {s['errors']}")


def case_sample(args, tmp):
    ini = os.path.join(tmp, "sample.ini")
    rc, err = convert(args, os.path.join(args.config_dir, "sample-access.log"), ini)
    expect(rc == 0, f"exit {rc}: {err}")
    expect(err.count("\n") == 1 and "6 bad" in err and "layout" in err, f"stderr: {err!r}")
    text = open(ini).read()
    expect("[phase idle-1]" in text and "hist:" in text, "no idle phase or no hist: in\n" + text)
    check_run(args, ini, tmp)


def case_json(args, tmp):
    log, ini = os.path.join(tmp, "j.log"), os.path.join(tmp, "j.ini")
    generate(args, log, 20000, "json", malformed=8)
    rc, err = convert(args, log, ini, "json")
    expect(rc == 0 and "8 bad" in err, f"exit {rc}: {err}")
    text = open(ini).read()
    for want in ("[population long]", "[request upload]", "body = hist:", "requests = hist:"):
        expect(want in text, f"no '{want}' in\n{text}")
    check_run(args, ini, tmp)


def one_line_refusal(args, argv, code, named, out=None):
    p = subprocess.run([args.loadgen, "scenario", *argv], capture_output=True, text=True,
                       timeout=30)
    expect(p.returncode == code, f"{argv}: exit {p.returncode}, not {code}: {p.stderr}")
    expect(p.stderr.count("\n") == 1 and named in p.stderr, f"{argv}: stderr {p.stderr!r}")
    if out:
        expect(not os.path.exists(out) and not os.path.exists(out + ".tmp"),
               f"{argv}: left a file at {out}")


def case_badargs(args, tmp):
    garbage, out = os.path.join(tmp, "garbage.log"), os.path.join(tmp, "none.ini")
    with open(garbage, "w") as f:
        f.write("not a log\nnor this\n")
    one_line_refusal(args, ["--format", "json"], 2, "--from-log")
    one_line_refusal(args, ["--from-log", garbage, "--format", "xml"], 2, "xml")
    one_line_refusal(args, ["--from-log", os.path.join(tmp, "missing.log")], 1, "missing.log")
    one_line_refusal(args, ["--from-log", garbage, "--out", out], 1, "no line of 2", out)


def case_million(args, tmp):
    rss = {}
    for n in (100000, 1000000):
        log, ini = os.path.join(tmp, f"m{n}.log"), os.path.join(tmp, f"m{n}.ini")
        generate(args, log, n, "json")
        rss[n] = convert_rss(args, log, ini, "json")
        os.unlink(log)
        print(f"# {n} lines: peak RSS {rss[n] / MiB:.1f} MiB", flush=True)
    # Under AddressSanitizer the peak is its shadow memory and its quarantine
    # of freed blocks (199 MiB at 100,000 lines), not the converter's: the
    # bound is a release build's. Both logs still convert and run.
    if args.sanitize:
        print(f"# {args.sanitize} build: the peak RSS bound is not checked")
        return check_run(args, os.path.join(tmp, "m1000000.ini"), tmp)
    for n in rss:
        expect(rss[n] < 32 * MiB, f"{n} lines: peak RSS {rss[n] / MiB:.1f} MiB")
    expect(rss[1000000] <= rss[100000] + MiB,
           f"peak RSS grows with the lines: {rss[100000] / MiB:.1f} MiB for 100k, "
           f"{rss[1000000] / MiB:.1f} MiB for 1M")
    check_run(args, os.path.join(tmp, "m1000000.ini"), tmp)


CASES = {"sample": case_sample, "json": case_json, "badargs": case_badargs,
         "million": case_million}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--case", choices=sorted(CASES))
    ap.add_argument("--sanitize", default="", help="the build's sanitizers (FRAGLAB_SANITIZE)")
    args = ap.parse_args()
    failed = skipped = 0
    names = [args.case] if args.case else list(CASES)
    for name in names:
        with tempfile.TemporaryDirectory(prefix="fl-fromlog-") as tmp:
            try:
                CASES[name](args, tmp)
                print(f"ok {name}")
            except Skip as e:
                skipped += 1
                print(f"skip {name}: {e}")
            except (Fail, OSError, subprocess.SubprocessError, RuntimeError) as e:
                failed += 1
                print(f"FAIL {name}: {e}")
    print(f"{len(names) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    if failed:
        return 1
    return SKIP if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
