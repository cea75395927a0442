#!/usr/bin/env bash
# loadgen-vs-wrk.sh - how fast is fraglab-loadgen as a load generator, next to wrk?
#
# Both clients drive the same server with the same load: 64 keep-alive
# connections, one thread, closed loop. The server is nginx (one worker,
# `return 200;`, GET /) or, with --target fraglab, fraglab-server (tpc, one
# worker, GET /healthz), the cheaper of the two per request here. The
# client gets CPU 0 and the server CPU 1, as in server-efficiency.sh. On two
# cores each side saturates its core near the same rate, so req/s alone
# does not rank the clients; requests per client CPU-second does.
# Rounds alternate wrk and fraglab-loadgen so both see the same machine state.
# Run by hand, never from ctest: it takes about a minute and wants an idle
# machine. Loopback only; every process it starts is stopped on exit.
# See bench/README.md for how to read the figures.
set -euo pipefail

prog=loadgen-vs-wrk
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
loadgen_bin=$root/build/bin/fraglab-loadgen

rounds=5
duration=5
warmup=1
conns=64
out=""
server_cpu=1
client_cpu=0
# nginx's answer for /: `return 200;`, an empty body, the cheapest answer, so
# the server stays ahead of the client (server-efficiency.sh's says "ok").
nginx_return=200
target=nginx
server_bin=$root/build/bin/fraglab-server

usage() {
    cat <<EOF
usage: bench/loadgen-vs-wrk.sh [options]

nginx (1 worker, return 200 for /; or --target fraglab: fraglab-server,
GET /healthz) pinned to CPU $server_cpu; against it, pinned to CPU
$client_cpu, alternately:
  wrk -t1 -c$conns -d${duration}s --latency http://127.0.0.1:PORT/PATH
  fraglab-loadgen run --path PATH --target 127.0.0.1:PORT -c $conns -t 1
      --rate 0 --duration ${duration}s --warmup 0 -q
Per round and as medians: req/s, p99 latency, errors, the server's CPU share,
requests per CPU-second of the client itself (utime+stime),
and the loadgen/wrk ratios.

  --rounds R        rounds of (wrk, loadgen) (default $rounds)
  --duration S      seconds per run (default $duration); each client also gets
                    one ${warmup} s warm-up run that is not counted
  --out DIR         results folder (default results/bench-<date>/)
  --loadgen PATH    the fraglab-loadgen binary (default build/bin/fraglab-loadgen)
  --target T        nginx (default) or fraglab: fraglab-server --mode tpc
                    --threads 1 from build/bin, GET /healthz
  --connections C   connections for both clients (default $conns)
  --server-cpu N    CPU for the server (default $server_cpu)
  --client-cpu N    CPU for the clients (default $client_cpu)
  --help            this text

Writes DIR/loadgen-vs-wrk.csv and the same table as .txt; every wrk output,
every loadgen results folder (lg-N) and log, and nginx's error log go to
DIR/loadgen-vs-wrk/.
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
    --loadgen) [ -n "${2-}" ] || die "--loadgen needs a path"; loadgen_bin=$2; shift ;;
    --target)
        case ${2-} in nginx | fraglab) target=$2 ;; *) die "--target is nginx or fraglab, got '${2-}'" ;; esac
        shift
        ;;
    *) common_option "$1" "${2-}"; shift ;; # --rounds, --duration, --out, --connections, --*-cpu, --help
    esac
    shift
done

# --- prerequisites ----------------------------------------------------------

[ -x "$loadgen_bin" ] || die "$loadgen_bin not found: build it first with scripts/build.sh build"
command -v wrk >/dev/null || die "wrk not found: install it with scripts/deps.sh"
if [ "$target" = nginx ]; then
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] ||
        die "nginx not found: install it with FRAGLAB_DEPS_EXTRA=nginx-light scripts/deps.sh"
    nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
    url_path=/
else
    [ -x "$server_bin" ] || die "$server_bin not found: build it first with scripts/build.sh build"
    url_path=/healthz
fi
for t in taskset curl timeout ss awk python3 column; do command -v $t >/dev/null || die "$t not found"; done
check_cpus

hz=$(getconf CLK_TCK)
stamp=$(date +%Y%m%d-%H%M%S)
out=${out:-$root/results/bench-$stamp}
mkdir -p "$out"
out=$(cd "$out" && pwd) # the loadgen runs elsewhere; its --out must be absolute
name=loadgen-vs-wrk
csv=$out/$name.csv
txt=$out/$name.txt
rows=$out/.$name.rows # one line per counted run, tab-separated
raw=$out/$name        # wrk outputs, loadgen folders and logs, nginx's error log
mkdir -p "$raw"

setup_cleanup # $tmp, and every process started from here on is stopped on exit

# --- helpers -----------------------------------------------------------------

# wait_ready PID URL: up to 10 s for a 200 answer (nginx's body is empty).
wait_ready() {
    local pid=$1 url=$2
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -sf --noproxy '*' --max-time 1 -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# run_wrk SECONDS ROUND: sets rps, p99, errs (NA when unreadable).
run_wrk() {
    local secs=$1 round=$2 f=$raw/wrk-$2.txt
    local args=(-t1 "-c$conns" "-d${secs}s" --latency "http://127.0.0.1:$srv_port$url_path")
    echo "# taskset -c $client_cpu wrk ${args[*]}" >"$f"
    counted timeout --foreground -k 5 $((secs + 15)) taskset -c "$client_cpu" wrk "${args[@]}" >>"$f" 2>&1 ||
        echo "loadgen-vs-wrk: warning: wrk exited non-zero in round $round, see $f" >&2
    rps=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$f")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$f")")
    # wrk 4.1 can print 0.00us percentiles (wg/wrk#236, #354); see bench/README.md.
    [ "$p99" = 0 ] && p99=NA
    errs=$(awk '/Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
                /Non-2xx or 3xx responses:/ { e += $NF } END { print e + 0 }' "$f")
    rps=${rps:-NA} p99=${p99:-NA}
}

# run_loadgen SECONDS ROUND: sets rps, p99, errs (NA when unreadable).
run_loadgen() {
    local secs=$1 round=$2 d=$raw/lg-$2 log=$raw/lg-$2.log rc=0
    # --rate 0: a closed loop, as wrk's, whatever the default scenario's rate
    local args=(run --path "$url_path" --target "127.0.0.1:$srv_port" -c "$conns" -t 1 --rate 0
        --duration "${secs}s" --warmup 0 --out "$d" -q)
    rm -rf "$d"
    echo "# taskset -c $client_cpu $loadgen_bin ${args[*]}" >"$log"
    # From the temp dir, so nothing can land in the source tree.
    cd "$tmp"
    counted timeout --foreground -k 5 $((secs + 30)) taskset -c "$client_cpu" \
        "$loadgen_bin" "${args[@]}" >>"$log" 2>&1 || rc=$?
    cd "$OLDPWD"
    [ "$rc" -eq 0 ] || echo "loadgen-vs-wrk: warning: fraglab-loadgen exited $rc in round $round, see $log" >&2
    read -r rps p99 errs < <(python3 -c '
import json, sys
try:
    s = json.load(open(sys.argv[1]))
    print("%.0f" % s["throughput_rps"], "%.0f" % s["latency_us"]["p99"], s["errors"]["total"])
except (OSError, ValueError, KeyError, TypeError):
    print("NA NA NA")' "$d/summary.json")
}

# measure CLIENT SECONDS ROUND: one run; counted rounds go to $rows with
# the server's CPU share of the run's wall time (near 100 %: the server, not the
# client, was the limit, and req/s no longer ranks the clients) and the
# client's requests per CPU-second of its own (utime + stime), which does.
measure() {
    local client=$1 secs=$2 round=$3 c0 c1 t0 t1 cpu per_cpu
    c0=$(cpu_ticks "$srv_pid") || die "the $target server is gone before round $round"
    t0=$(now)
    "run_$client" "$secs" "$round"
    t1=$(now)
    c1=$(cpu_ticks "$srv_pid") || die "the $target server died during round $round; see $raw"
    [ "$round" = warmup ] && return 0
    cpu=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", 100 * d / hz / (t1 - t0) }')
    # The run's requests over the client's CPU seconds (its warm-up of
    # connecting is in both; it is small next to `secs` of load).
    per_cpu=$(awk -v r="$rps" -v s="$secs" -v c="$counted_s" \
        'BEGIN { print (r == "NA" || c == "NA" || c + 0 == 0) ? "NA" : sprintf("%.0f", r * s / c) }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$client" "$round" "$rps" "$p99" "$errs" "$cpu" "$per_cpu" >>"$rows"
    printf '  round %-2s %-8s %9s req/s  p99 %7s us  %5s errors  server CPU %3s%%  %9s req/client-CPU-s\n' \
        "$round" "$client" "$rps" "$p99" "$errs" "$cpu" "$per_cpu"
}

# --- the run -----------------------------------------------------------------

echo "loadgen-vs-wrk: results in $out"
check_idle
if [ "$target" = nginx ]; then
    start_nginx
    srv_port=$nginx_port srv_pid=$nginx_worker
    what="nginx (1 worker, return 200)" version=$("$nginx_bin" -v 2>&1 || true)
else
    start_fraglab glibc
    srv_port=$fraglab_port srv_pid=$fraglab_pid
    what="fraglab-server (tpc, 1 worker)" version=$("$server_bin" --version 2>&1 | head -1 || true)
fi
{
    echo "# $(date -Is)  $(uname -sr)  nproc $(nproc)  $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)  $version  $("$loadgen_bin" --version 2>&1 | head -1 || true)"
    echo "# $what on CPU $server_cpu, port $srv_port; clients on CPU $client_cpu, -t1 -c$conns, GET $url_path, ${duration} s x $rounds rounds"
} >"$raw/env.txt"
echo "loadgen-vs-wrk: $target pid $srv_pid on port $srv_port, CPUs $(taskset -pc "$srv_pid" | awk '{ print $NF }');" \
    "about $((2 * (warmup + rounds * duration) + 2 * rounds)) s to go"

measure wrk "$warmup" warmup # not counted
measure loadgen "$warmup" warmup
for ((r = 1; r <= rounds; r++)); do
    measure wrk "$duration" "$r"
    measure loadgen "$duration" "$r"
done

# --- medians, ratios, table, CSV -------------------------------------------

# Rows: 1 client, 2 round, 3 req_s, 4 p99_us, 5 errors, 6 nginx_cpu_pct,
# 7 req_per_cpu_s (the client's own CPU).
# Output: one line per round with both clients side by side, the medians
# (rounds with NA left out) and the loadgen/wrk ratios of the medians.
summarize() {
    awk -F'\t' -v OFS=',' -v dur="$duration" '
    function median(client, col,   n, i, j, t, a) {
        n = 0
        for (i = 1; i <= nr; i++) if ((client, i, col) in v && v[client, i, col] != "NA") a[++n] = v[client, i, col] + 0
        if (n == 0) return "NA"
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function ratio(a, b) { return (a == "NA" || b == "NA" || b == 0) ? "NA" : sprintf("%.2f", a / b) }
    function fmt(x) { return x == "NA" ? "NA" : sprintf("%.0f", x) }
    { for (k = 3; k <= 7; k++) v[$1, $2, k] = $k; if ($2 > nr) nr = $2 }
    END {
        for (i = 1; i <= nr; i++)
            print i, dur, v["wrk", i, 3], v["wrk", i, 4], v["wrk", i, 5], v["wrk", i, 6], v["wrk", i, 7],
                v["loadgen", i, 3], v["loadgen", i, 4], v["loadgen", i, 5], v["loadgen", i, 6], v["loadgen", i, 7],
                ratio(v["loadgen", i, 3], v["wrk", i, 3]), ratio(v["loadgen", i, 4], v["wrk", i, 4]),
                ratio(v["loadgen", i, 7], v["wrk", i, 7])
        for (k = 3; k <= 7; k++) { mw[k] = median("wrk", k); ml[k] = median("loadgen", k) }
        print "median", dur, fmt(mw[3]), fmt(mw[4]), fmt(mw[5]), fmt(mw[6]), fmt(mw[7]),
            fmt(ml[3]), fmt(ml[4]), fmt(ml[5]), fmt(ml[6]), fmt(ml[7]),
            ratio(ml[3], mw[3]), ratio(ml[4], mw[4]), ratio(ml[7], mw[7])
    }' "$rows"
}

{
    echo "round,duration_s,wrk_req_per_s,wrk_p99_us,wrk_errors,wrk_server_cpu_pct,wrk_req_per_cpu_s,loadgen_req_per_s,loadgen_p99_us,loadgen_errors,loadgen_server_cpu_pct,loadgen_req_per_cpu_s,ratio_req_per_s,ratio_p99,ratio_req_per_cpu_s"
    summarize
} >"$csv"

# The text table: the CSV without the duration, aligned.
{
    cat "$raw/env.txt"
    awk -F',' -v OFS='\t' '{ for (i = 1; i <= NF; i++) if ($i == "") $i = "-"
                             print $1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 }' "$csv" |
        sed -e '1s/.*/round\twrk_req\/s\twrk_p99_us\twrk_err\twrk_server_%\twrk_req\/cpu_s\tlg_req\/s\tlg_p99_us\tlg_err\tlg_server_%\tlg_req\/cpu_s\tlg\/wrk_req\/s\tlg\/wrk_p99\tlg\/wrk_req\/cpu_s/' |
        column -t -s $'\t'
} >"$txt"
echo
cat "$txt"
echo
echo "loadgen-vs-wrk: wrote $csv and $txt"
