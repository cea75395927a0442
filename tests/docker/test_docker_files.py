#!/usr/bin/env python3
"""test_docker_files.py - what can be checked of docker/ without a Docker
engine: the seccomp profile is Docker's default plus io_uring (not
unconfined), compose.yaml parses and wires the profile, ulimits and results
volume, the Dockerfile builds with the project's own dependency script, and
the runtime stage installs a package for every shared library the binaries
load (allocators included). The `watch` profile: Prometheus and Grafana on
the host's loopback only, prometheus.yml's file_sd reading the file the
watched matrix writes (same volume, same path), Grafana provisioned with
that Prometheus and the dashboard, whose every query names only metrics
the server exports and labels the targets carry.

usage: test_docker_files.py --root REPO --server BIN --loadgen BIN
Prints `ok CHECK` / `FAIL CHECK: why`; exit 0 all passed, 1 otherwise,
77 when PyYAML is missing (scripts/deps.sh installs python3-yaml).
"""

import argparse
import fnmatch
import json
import os
import re
import shutil
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
    ours = {n: s for n, s in svcs.items() if s.get("image") == "fraglab:latest"}
    for name, s in ours.items():
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
    return svcs


# What the matrix writes (loadgen/matrix/matrix_prom.c) and the labels it puts
# on each target group; Prometheus adds job and instance.
TARGETS_FILE = "prometheus-targets.json"
TARGET_LABELS = {"pairing", "mode", "allocator", "free_policy", "scenario", "job", "instance"}


def host_path(svc, container_path):
    """The compose-relative host path mounted at container_path, or None."""
    for v in svc.get("volumes", []):
        parts = str(v).split(":")
        if len(parts) >= 2 and (container_path == parts[1]
                                or container_path.startswith(parts[1].rstrip("/") + "/")):
            return os.path.normpath(parts[0] + container_path[len(parts[1]):])
    return None


def flag(cmd, name):
    """--name=value or --name value from a command list."""
    for i, a in enumerate(cmd):
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
        if a == name and i + 1 < len(cmd):
            return cmd[i + 1]
    return None


def seconds(d):
    m = re.fullmatch(r"(\d+)(ms|s|m)", str(d))
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)] if m else None


def watch_compose(root, svcs):
    """Returns (prometheus.yml's host path, the matrix's targets file as
    Prometheus sees it), checking the services of the watch profile."""
    names = {"matrix-watch", "prometheus", "grafana"}
    check("watch_services", names <= set(svcs), f"services {sorted(svcs)}")
    prom, graf, mw = (svcs.get(n, {}) for n in ("prometheus", "grafana", "matrix-watch"))
    for n in sorted(names):
        s = svcs.get(n, {})
        check(f"watch_{n}_profile", s.get("profiles") == ["watch"], f"profiles {s.get('profiles')}")
    for n, want in (("prometheus", "9090"), ("grafana", "3000")):
        ports = [str(p) for p in svcs.get(n, {}).get("ports", [])]
        check(f"watch_{n}_loopback", ports == [f"127.0.0.1:{want}:{want}"],
              f"ports {ports}: want 127.0.0.1:{want}:{want} only")
        image = svcs.get(n, {}).get("image", "")
        check(f"watch_{n}_pinned", re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image or ""),
              f"image {image!r}: pin a version")
    check("watch_images", prom.get("image", "").startswith("prom/prometheus:")
          and graf.get("image", "").startswith("grafana/grafana-oss:"), "images")
    # The matrix's servers listen on its loopback: Prometheus must share it.
    check("watch_matrix_netns", mw.get("network_mode") == "service:prometheus",
          f"network_mode {mw.get('network_mode')!r}")
    check("watch_matrix_is_fraglab", mw.get("image") == "fraglab:latest"
          and mw.get("entrypoint") == ["fraglab-loadgen"], "matrix-watch runs fraglab-loadgen")
    out = flag(mw.get("command", []), "--out")
    check("watch_matrix_out", mw.get("command", [""])[0] == "matrix" and out, "matrix --out DIR")
    # The file the matrix writes, seen from Prometheus: same host folder.
    host_out = host_path(mw, out or "/nonexistent")
    targets_in_prom = None
    for v in prom.get("volumes", []):
        parts = str(v).split(":")
        if host_out and len(parts) >= 2 and host_out.startswith(os.path.normpath(parts[0]) + "/"):
            targets_in_prom = parts[1] + host_out[len(os.path.normpath(parts[0])):] + "/" + TARGETS_FILE
    check("watch_results_shared", targets_in_prom, f"prometheus does not mount {host_out}")
    conf = flag(prom.get("command", []), "--config.file")
    conf_host = host_path(prom, conf or "/nonexistent")
    check("watch_prometheus_config", conf_host and os.path.isfile(os.path.join(root, "docker", conf_host)),
          f"--config.file {conf} is not a file mounted from docker/")
    listen = flag(prom.get("command", []), "--web.listen-address") or "0.0.0.0:9090"
    check("watch_prometheus_port", listen.endswith(":9090"), f"listens on {listen}")
    return (os.path.join(root, "docker", conf_host) if conf_host else None), targets_in_prom


def prometheus_yml(path, targets):
    """prometheus.yml scrapes the file the matrix writes, in the compose's
    interval range, with patterns Prometheus accepts; promtool agrees."""
    with open(path) as f:
        doc = yaml.safe_load(f)
    interval = seconds(doc.get("global", {}).get("scrape_interval", "1m"))
    check("prom_interval", interval and 1 <= interval <= 5, f"scrape_interval {interval}s")
    files = [p for job in doc.get("scrape_configs", []) for sd in job.get("file_sd_configs", [])
             for p in sd.get("files", [])]
    # Prometheus: "the last path segment may contain a single *".
    check("prom_file_patterns", files and all("*" not in os.path.dirname(p) and p.count("*") <= 1
                                              for p in files), f"files {files}")
    check("prom_reads_matrix_targets", targets and any(fnmatch.fnmatchcase(targets, p) for p in files),
          f"no file_sd pattern matches {targets}")
    jobs = [j for j in doc.get("scrape_configs", []) if j.get("file_sd_configs")]
    check("prom_metrics_path", jobs and all(j.get("metrics_path", "/metrics") == "/metrics" for j in jobs),
          "scrape /metrics")
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "config", path], capture_output=True, text=True)
        check("prom_promtool", r.returncode == 0, (r.stdout + r.stderr).strip())


def exported_metrics(root):
    """fraglab_* names the server's /metrics renders (server/stats.c), from
    the lists it walks: FL_COUNTERS, FL_ALLOC_STATS_FIELDS and its own
    families."""
    names = set()
    with open(os.path.join(root, "server/counters.h")) as f:
        names |= set(re.findall(r'X\(\w+, "(\w+)", (?:counter|gauge)', f.read()))
    with open(os.path.join(root, "alloc/fl_alloc.h")) as f:
        names |= set(re.findall(r'X\(\w+, "(\w+)",', f.read()))
    with open(os.path.join(root, "server/stats.c")) as f:
        text = f.read()
        names |= set(re.findall(r'(?:put_gauge\(&?b|family\(b), "(\w+)"', text))
    return {"fraglab_" + n for n in names}


def grafana(root, svcs):
    """Provisioning: the data source is the prometheus service, the provider
    loads the dashboards folder; the dashboard queries real metrics."""
    graf = svcs.get("grafana", {})
    prov = host_path(graf, "/etc/grafana/provisioning")
    check("grafana_provisioning_mounted", prov and os.path.isdir(os.path.join(root, "docker", prov)),
          f"no docker/ folder mounted at /etc/grafana/provisioning ({prov})")
    if not prov:
        return
    prov = os.path.join(root, "docker", prov)
    with open(os.path.join(prov, "datasources/prometheus.yaml")) as f:
        ds = yaml.safe_load(f)["datasources"]
    check("grafana_datasource", len(ds) == 1 and ds[0]["type"] == "prometheus"
          and ds[0]["url"] == "http://prometheus:9090", f"datasources {ds}")
    uid = ds[0].get("uid") if ds else None
    with open(os.path.join(prov, "dashboards/fraglab.yaml")) as f:
        providers = yaml.safe_load(f)["providers"]
    dpath = providers[0].get("options", {}).get("path") if providers else None
    dhost = host_path(graf, dpath or "/nonexistent")
    ddir = os.path.join(root, "docker", dhost) if dhost else None
    boards = sorted(p for p in os.listdir(ddir) if p.endswith(".json")) if ddir and os.path.isdir(ddir) else []
    check("grafana_provider_path", boards, f"provider path {dpath}: no dashboards mounted there")
    metrics = exported_metrics(root)
    check("server_metrics_listed", {"fraglab_rss_bytes", "fraglab_allocator_allocated_bytes",
                                    "fraglab_requests_total"} <= metrics, f"{sorted(metrics)[:5]}...")
    for b in boards:
        dashboard(os.path.join(ddir, b), uid, metrics)


def dashboard(path, uid, metrics):
    name = os.path.basename(path)
    with open(path) as f:
        d = json.load(f)
    check(f"dashboard_{name}_model", d.get("uid") and d.get("title") and d.get("panels"), "uid, title, panels")
    exprs, titles = [], []
    for p in d.get("panels", []):
        titles.append(p.get("title", "").lower())
        check(f"dashboard_{name}_gridpos_{p.get('id')}", {"x", "y", "w", "h"} <= set(p.get("gridPos", {})),
              "every panel has a gridPos")
        for t in p.get("targets", []):
            exprs.append(t.get("expr", ""))
            ds = t.get("datasource", p.get("datasource", {}))
            check(f"dashboard_{name}_ds_{p.get('id')}{t.get('refId')}", ds.get("uid") == uid,
                  f"datasource {ds}: not the provisioned uid {uid}")
    bad = []
    for e in exprs:
        used = set(re.findall(r"\bfraglab_\w+", e))
        if not used or used - metrics:
            bad.append((e, sorted(used - metrics)))
        # by (...) and {...} name only labels the targets carry
        labels = {l for grp in re.findall(r"by \(([^)]*)\)", e) for l in re.split(r"\s*,\s*", grp.strip())}
        labels |= set(re.findall(r"(\w+)\s*=~?\s*\"", e))
        if labels - TARGET_LABELS:
            bad.append((e, sorted(labels - TARGET_LABELS)))
    check(f"dashboard_{name}_metrics", exprs and not bad, f"unknown metrics or labels: {bad}")
    joined = " ".join(exprs)
    want = {"rss": "fraglab_rss_bytes", "allocated": "fraglab_allocator_allocated_bytes",
            "req/s": "rate(fraglab_requests_total", "ws/tpc": 'mode="ws"'}
    check(f"dashboard_{name}_panels", all(w in joined for w in want.values())
          and any("overhead" in t for t in titles) and any("p99" in t for t in titles),
          f"want RSS, allocated, overhead, req/s, ws/tpc ratios and a p99 note; titles {titles}")


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
    svcs = compose(a.root)
    conf, targets = watch_compose(a.root, svcs)
    if conf:
        prometheus_yml(conf, targets)
    grafana(a.root, svcs)
    dockerfile(a.root)
    runtime_packages(a.root, [a.server, a.loadgen])
    print(f"{'FAILED' if failed else 'passed'}: {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
