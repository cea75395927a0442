#!/usr/bin/env python3
"""test_docker_files.py - what can be checked of docker/ without a Docker
engine: the seccomp profile is Docker's default plus io_uring (not
unconfined), compose.yaml parses and wires the profile, ulimits and results
volume, the Dockerfile builds with the project's own dependency script, and
the runtime stage installs a package for every shared library the binaries
load (allocators included).

usage: test_docker_files.py --root REPO --server BIN --loadgen BIN
Prints `ok CHECK` / `FAIL CHECK: why`; exit 0 all passed, 1 otherwise,
77 when PyYAML is missing (scripts/deps.sh installs python3-yaml).
"""

import argparse
import json
import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("skip: PyYAML missing (python3-yaml; scripts/deps.sh installs it)")
    sys.exit(77)

IO_URING = {"io_uring_setup", "io_uring_enter", "io_uring_register"}
# A sample of what Docker's default profile allows unconditionally; losing
# any of these would mean the profile is not the default any more.
DEFAULT_SAMPLE = {"read", "write", "openat", "close", "mmap", "munmap", "futex", "epoll_wait",
                  "accept4", "recvmsg", "sendmsg", "execve", "exit_group", "rt_sigaction",
                  "sched_setaffinity", "getrandom", "prctl", "setsockopt", "eventfd2", "madvise",
                  "clock_nanosleep", "membarrier", "rseq", "statx", "wait4", "pipe2"}
failed = 0


def check(name, cond, why):
    global failed
    if cond:
        print(f"ok {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def plain(entry):
    """An entry that allows its names whatever the arguments, arch or caps."""
    return (entry.get("action") == "SCMP_ACT_ALLOW" and not entry.get("args")
            and not entry.get("includes") and not entry.get("excludes"))


def seccomp(root):
    with open(os.path.join(root, "docker/seccomp-io_uring.json")) as f:
        prof = json.load(f)
    check("seccomp_default_denies", prof.get("defaultAction") == "SCMP_ACT_ERRNO",
          f"defaultAction {prof.get('defaultAction')!r}: that is not Docker's default (deny)")
    allowed = [n for e in prof["syscalls"] if plain(e) for n in e["names"]]
    check("seccomp_io_uring", IO_URING <= set(allowed), f"missing {IO_URING - set(allowed)}")
    check("seccomp_io_uring_once", all(allowed.count(n) == 1 for n in IO_URING),
          "an io_uring call is listed more than once")
    missing = DEFAULT_SAMPLE - set(allowed)
    check("seccomp_default_list", not missing and len(allowed) >= 340,
          f"{len(allowed)} plain allows; missing {sorted(missing)}")
    extra = [e for e in prof["syscalls"] if plain(e) and set(e["names"]) & IO_URING]
    check("seccomp_io_uring_commented", extra and "comment" in extra[0],
          "the io_uring entry should say why it is there")
    # What the default keeps conditional stays conditional (no blanket allow).
    check("seccomp_no_blanket", not {"mount", "ptrace", "bpf", "unshare"} & set(allowed),
          "mount/ptrace/bpf/unshare allowed without their capability")


def compose(root):
    path = os.path.join(root, "docker/compose.yaml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    svcs = doc.get("services", {})
    check("compose_services", {"server", "loadgen", "matrix"} <= set(svcs), f"services {sorted(svcs)}")
    for name, s in svcs.items():
        opts = s.get("security_opt", [])
        prof = [o.split("=", 1)[1] for o in opts if o.startswith("seccomp=")]
        check(f"compose_{name}_seccomp",
              prof and os.path.isfile(os.path.join(root, "docker", prof[0])),
              f"security_opt {opts}: no seccomp profile that exists beside compose.yaml")
        check(f"compose_{name}_not_unconfined", "seccomp=unconfined" not in opts, "unconfined")
        ul = s.get("ulimits", {})
        check(f"compose_{name}_ulimits", ul.get("memlock") == -1 and "nofile" in ul, f"ulimits {ul}")
        check(f"compose_{name}_results", any(str(v).endswith(":/results") for v in s.get("volumes", [])),
              f"volumes {s.get('volumes')}")
    lg = " ".join(svcs.get("loadgen", {}).get("command", []))
    check("compose_loadgen_targets_server", "--target server:8080" in lg, f"command {lg!r}")


def dockerfile(root):
    with open(os.path.join(root, "docker/Dockerfile")) as f:
        text = f.read()
    stages = re.split(r"(?m)^FROM ", text)[1:]
    check("dockerfile_two_stages", len(stages) == 2 and stages[0].startswith("debian:12 AS build")
          and stages[1].startswith("debian:12"), "want a debian:12 build stage and a runtime stage")
    build = stages[0] if stages else ""
    run = stages[1] if len(stages) > 1 else ""
    check("dockerfile_build_uses_deps", "scripts/deps.sh --build" in build
          and "scripts/build.sh" in build, "the build stage must run scripts/deps.sh and build.sh")
    check("dockerfile_runtime_uses_deps", "deps.sh --runtime" in run, "runtime packages via deps.sh")
    user = re.findall(r"(?m)^USER (\S+)", run)
    check("dockerfile_non_root", user and user[-1] not in ("root", "0"), f"USER {user}")
    check("dockerfile_entrypoint", '["fraglab-server"]' in run and "0.0.0.0" in run,
          "fraglab-server as entrypoint, serving on 0.0.0.0")
    with open(os.path.join(root, "README.md")) as f:
        readme = f.read()
    with open(os.path.join(root, "scripts/run-main")) as f:
        main_cmd = f.read()
    check("readme_same_deps_script", "scripts/deps.sh" in main_cmd and "scripts/run-main" in readme,
          "the README's main command should install through scripts/deps.sh, as the image does")


def runtime_packages(root, binaries):
    """Every library the binaries load, and every allocator's library,
    comes from a package deps.sh --runtime installs."""
    with open(os.path.join(root, "scripts/deps.sh")) as f:
        text = f.read()
    m = re.search(r"(?s)^runtime=\((.*?)\)", text, re.M)
    pkgs = set(m.group(1).split()) if m else set()
    libs = set()
    for b in binaries:
        out = subprocess.run(["ldd", b], capture_output=True, text=True).stdout
        libs |= {l.split()[0] for l in out.splitlines() if "=>" in l}
    libs |= {"libjemalloc.so.2", "libmimalloc.so.2", "libtcmalloc_minimal.so.4"}
    # libc6 and libgcc-s1 are in every image; sanitizer runtimes (and the
    # libstdc++ they pull in) only in sanitizer builds, never in the image.
    libs = {l for l in libs if l not in ("libc.so.6", "libm.so.6", "libgcc_s.so.1")
            and not re.match(r"lib(a|ub|t|l)san\.|libstdc\+\+\.", l)}
    unknown = []
    for lib in sorted(libs):
        r = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        owners = {x.split(":")[0] for x in r.stdout.splitlines() if not x.startswith("diversion")}
        if not owners & pkgs:
            unknown.append(f"{lib} ({', '.join(sorted(owners)) or 'no package'})")
    check("runtime_packages", pkgs and not unknown,
          f"deps.sh --runtime lacks the packages of {unknown}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--loadgen", required=True)
    a = ap.parse_args()
    seccomp(a.root)
    compose(a.root)
    dockerfile(a.root)
    runtime_packages(a.root, [a.server, a.loadgen])
    print(f"{'FAILED' if failed else 'passed'}: {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
