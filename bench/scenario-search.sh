#!/usr/bin/env bash
# Which scenario makes tpc and ws diverge most? Runs `fraglab-loadgen matrix`
# for each case, --rounds times, rounds interleaved (round 1 of every case,
# then round 2, ...) so a drift of the machine hits every case alike, and
# prints per case and allocator the median ws/tpc ratio of allocator
# overhead (RSS minus live data) at steady state and after the idle tail,
# their range over the rounds, how many rounds were comparable (throughput
# within 2 %, live data within 10 %), and ws's median cross-thread free
# share. Run by hand; loopback only; every run is bounded.
#
# usage: bench/scenario-search.sh [--rounds N] [--out DIR] [--build DIR] [--case 'LABEL|MATRIX ARGS']...
#   --case  replaces the default cases (repeatable); MATRIX ARGS are passed
#           to `fraglab-loadgen matrix` as words, --out excepted
#   --build  the build folder whose fraglab-loadgen runs (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
prog=scenario-search
rounds=3
build=build
out=results/scenario-search-$(date +%Y%m%d-%H%M%S)
cases=()
default_cases=(
    'quick|--scenario config/quick.ini --idle 5s'
    'quick-release|--scenario config/quick.ini --idle 5s --allocators glibc:arena_max=2;jemalloc:background_thread:true;mimalloc:page_reset=1;tcmalloc:release_rate=10'
    'quick-ws-owner|--scenario config/quick.ini --idle 5s --modes tpc,ws,ws-owner --allocators tcmalloc'
    'cross|--scenario config/cross.ini --duration 40s --idle 5s'
    'soak-60s|--scenario config/soak.ini --duration 60s --idle 5s'
)
# More server workers than CPUs only where there are that many: tpc refuses
# to put two workers on one CPU, which would leave the ratio no tpc side.
for n in 4 8; do
    if [ "$(nproc)" -ge "$n" ]; then
        default_cases+=("quick-${n}threads|--scenario config/quick.ini --idle 5s --threads $n")
    fi
done
while [ $# -gt 0 ]; do
    case $1 in
    --rounds)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "$prog: --rounds needs a whole number >= 1" >&2; exit 2; }
        rounds=$2; shift 2 ;;
    --out) [ -n "${2:-}" ] || { echo "$prog: --out needs a folder" >&2; exit 2; }; out=$2; shift 2 ;;
    --case)
        [[ ${2:-} == ?*'|'?* ]] || { echo "$prog: --case needs 'LABEL|MATRIX ARGS'" >&2; exit 2; }
        cases+=("$2"); shift 2 ;;
    --build) [ -d "${2:-}" ] || { echo "$prog: --build needs a build folder" >&2; exit 2; }; build=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "$prog: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#cases[@]} -gt 0 ] || cases=("${default_cases[@]}")
loadgen=$build/bin/fraglab-loadgen
[ -x "$loadgen" ] || { echo "$prog: $loadgen missing: run scripts/build.sh $build" >&2; exit 1; }
mkdir -p "$out"

for r in $(seq "$rounds"); do
    for c in "${cases[@]}"; do
        label=${c%%|*}
        read -r -a args <<<"${c#*|}"
        dir=$out/$label/round-$r
        echo "$prog: round $r/$rounds: $label" >&2
        # A failed pairing is in matrix.json as such; the summary skips it.
        "$loadgen" matrix "${args[@]}" --out "$dir" >"$out/$label-round-$r.log" 2>&1 ||
            echo "$prog: $label round $r exited $? (see $out/$label-round-$r.log)" >&2
    done
done

python3 - "$out" "${cases[@]}" <<'PY' | tee "$out/summary.txt"
import json, os, statistics, sys
out, cases = sys.argv[1], [c.split("|", 1)[0] for c in sys.argv[2:]]
def fmt(v): return f"{v:.2f}" if v is not None else "-"
print(f"{'case':<16} {'allocator':<30} {'ratio':<12} {'n':>2} {'steady ws/tpc':>13} {'range':>11} "
      f"{'idle ws/tpc':>11} {'range':>11} {'comparable':>10} {'ws cross':>8}")
for case in cases:
    per = {}  # (allocator, mode) -> list of (steady, idle, comparable, cross share)
    d = os.path.join(out, case)
    for rd in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        try:
            m = json.load(open(os.path.join(d, rd, "matrix.json")))
        except (OSError, ValueError):
            continue
        cross = {r["allocator"]: r["cross_thread_free_share"] for r in m["rows"]
                 if r["mode"] == "ws" and r["status"] == "ok"}
        for q in m["ratios"]:
            if q.get("overhead_steady") is None:
                continue
            per.setdefault((q["allocator"], q["ratio"]), []).append(
                (q["overhead_steady"], q.get("overhead_after_idle"), q.get("comparable"),
                 cross.get(q["allocator"])))
    for (alloc, mode), v in per.items():
        st = [x[0] for x in v]
        idle = [x[1] for x in v if x[1] is not None]
        cr = [x[3] for x in v if x[3] is not None]
        med = lambda a: statistics.median(a) if a else None
        rng = lambda a: f"{min(a):.2f}-{max(a):.2f}" if a else "-"
        comp = f"{sum(1 for x in v if x[2])}/{len(v)}"
        print(f"{case:<16} {alloc:<30} {mode:<12} {len(v):>2} {fmt(med(st)):>13} {rng(st):>11} "
              f"{fmt(med(idle)):>11} {rng(idle):>11} {comp:>10} {fmt(med(cr)):>8}")
PY
echo "$prog: per-run reports in $out/CASE/round-N/index.html" >&2
