#!/usr/bin/env bash
# sampling-cost.sh - what the load generator's memory sampling costs.
#
# fraglab-server --mode tpc --threads 1 on CPU 1; fraglab-loadgen run
# --path /healthz -c 64 -t 1 on CPU 0, closed loop, --duration S per run,
# three ways each round: --no-sample, sampling every 1 s, every 100 ms
# (each sample reads /proc/PID/smaps_rollup and GET /stats, whose JSON the
# server renders). The order rotates from round to round (default 6 rounds,
# each way twice in each place), so a machine slowing down or speeding up
# within a round favours none of them. Prints each run, the medians, and
# the throughput lost to sampling: the median over the rounds of each
# round's sampled/unsampled ratio (robust to drift between rounds). Run by
# hand; loopback only; everything it starts is stopped.
#
# usage: bench/sampling-cost.sh [--rounds R] [--duration S]
set -euo pipefail
prog=sampling-cost
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
server_bin=$root/build/bin/fraglab-server
loadgen_bin=$root/build/bin/fraglab-loadgen
rounds=6 duration=5 server_cpu=1 client_cpu=0
out=$root/results/sampling-cost-$(date +%Y%m%d-%H%M%S)
raw=$out
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --rounds | --duration) common_option "$1" "${2-}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
for b in "$server_bin" "$loadgen_bin"; do [ -x "$b" ] || die "$b not found: scripts/build.sh build"; done
mkdir -p "$out"
setup_cleanup
check_idle

port=$(free_port)
taskset -c "$server_cpu" "$server_bin" --mode tpc --threads 1 --port "$port" </dev/null \
    >"$out/server.log" 2>&1 &
pid=$!
started+=("$pid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || die "the server did not start: $(tail -3 "$out/server.log")"

modes=(none 1s 100ms)
declare -A got
printf '%-6s %-6s %10s %8s\n' round sample req/s p99_us
for r in $(seq "$rounds"); do
    for k in 0 1 2; do
        m=${modes[$(((r - 1 + k) % 3))]}
        d=$out/$m-$r
        extra=(--interval "$m")
        [ "$m" = none ] && extra=(--no-sample --interval 1s)
        taskset -c "$client_cpu" "$loadgen_bin" run --target "127.0.0.1:$port" --path /healthz \
            -c 64 -t 1 -d "${duration}s" --warmup 1s "${extra[@]}" --out "$d" -q ||
            die "fraglab-loadgen failed (see $d)"
        read -r rps p99 < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))
print(round(s["throughput_rps"]), s["latency_us"]["p99"])' "$d/summary.json")
        got[$m]+="$rps "
        printf '%-6s %-6s %10s %8s\n' "$r" "$m" "$rps" "$p99"
    done
done
echo
python3 - "${got[none]}" "${got[1s]}" "${got[100ms]}" <<'PY' | tee "$out/summary.txt"
import statistics, sys
runs = [[float(x) for x in a.split()] for a in sys.argv[1:]]
med = [statistics.median(r) for r in runs]
print(f"medians: no sampling {med[0]:.0f} req/s, 1 s {med[1]:.0f}, 100 ms {med[2]:.0f}")
# Each round's runs are back to back, so the ratio within a round is
# robust to the machine drifting between rounds; its median is the figure.
for k, name in ((1, "1 s"), (2, "100 ms")):
    r = [b / a for a, b in zip(runs[0], runs[k])]
    print(f"cost of sampling every {name}: {100 * (1 - statistics.median(r)):.2f} % "
          f"(median of the rounds' ratios; rounds {', '.join(f'{100 * (1 - x):.1f}' for x in r)} %)")
PY
echo "sampling-cost: runs in $out"
