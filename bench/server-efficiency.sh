#!/usr/bin/env bash
# server-efficiency.sh - requests per server CPU-second: fraglab-server vs nginx.
#
# On a 2-core machine the load generator's core saturates before any decent
# server's does, so raw req/s cannot rank servers. This script pins the server
# to one CPU and wrk to the other, and divides the requests wrk completed by
# the CPU time the serving process used (utime+stime from /proc/PID/stat).
# Run by hand, never from ctest: it takes a minute or two and wants an idle
# machine. Loopback only; every process it starts is stopped on exit.
# See bench/README.md for what the figures mean.
set -euo pipefail

prog=server-efficiency
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
server_bin=$root/build/bin/fraglab-server
bare_bin=$root/build/bin/bare-responder
pipeline_lua=$root/bench/pipeline.lua

rounds=5
duration=5
warmup=1
conns=64
pipeline=1
workload=false
only=""
out=""
server_cpu=1
client_cpu=0
# nginx's answer for /: `return 200 "ok";`, the body wait_ready looks for.
nginx_return='200 "ok"'
allocators="glibc jemalloc mimalloc tcmalloc"
wait_idle_s=0
health_path=/healthz
work_path='/work?resp=4096&burst=32&burst_min=16&burst_max=512'

usage() {
    cat <<EOF
usage: bench/server-efficiency.sh [options]

Default section: nginx (return 200 "ok"), fraglab-server --mode tpc
--threads 1 (GET $health_path) and bench/bare_responder.c (the machine's
ceiling: a fixed answer to every blank line, no parsing, no allocation),
alternately, each pinned to CPU $server_cpu with wrk -t1 -c$conns --latency
pinned to CPU $client_cpu. Per round and as medians: req/s, p99 latency,
requests per server CPU-second, and the fraglab/nginx and fraglab/bare
ratios of the medians.

  --rounds R        rounds of (nginx, fraglab) (default $rounds)
  --duration S      seconds per wrk run (default $duration); each server also
                    gets one ${warmup} s warm-up run that is not counted
  --out DIR         results folder (default results/bench-<date>/)
  --pipeline N      send N requests per write (bench/pipeline.lua); default 1
  --workload        instead: fraglab under each allocator ($allocators)
                    on GET $work_path
  --allocators LIST with --workload: which allocators (default "$allocators")
  --only nginx|fraglab|bare   run one server of the default section only
  --wait-idle S     before each run wait up to S s for an idle machine, and
                    repeat (at most twice) a run disturbed by other work on
                    the server's CPU; for shared machines (default 0: off)
  --connections C   wrk connections (default $conns)
  --server-cpu N    CPU for the server (default $server_cpu)
  --client-cpu N    CPU for wrk (default $client_cpu)
  --help            this text

Writes DIR/server-efficiency[-workload][-pipelineN].csv and the same table
as .txt; every wrk output, the servers' logs and fraglab's /stats go to the
folder of the same name, so the three sections can share one DIR.
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
    --pipeline) need_int "$1" "${2-}" && pipeline=$2 && shift ;;
    --workload) workload=true ;;
    --allocators) [ -n "${2-}" ] || die "--allocators needs a list"; allocators=$2; shift ;;
    --only)
        case ${2-} in nginx | fraglab | bare) only=$2 ;; *) die "--only takes nginx, fraglab or bare, got '${2-}'" ;; esac
        shift ;;
    --wait-idle) need_int "$1" "${2-}" 0 && wait_idle_s=$2 && shift ;;
    *) common_option "$1" "${2-}"; shift ;; # --rounds, --duration, --out, --connections, --*-cpu, --help
    esac
    shift
done

# --- prerequisites ----------------------------------------------------------

[ -x "$server_bin" ] || die "$server_bin not found: build it first with scripts/build.sh build"
command -v wrk >/dev/null || die "wrk not found: install it with scripts/deps.sh"
if [ "$workload" = false ] && { [ -z "$only" ] || [ "$only" = bare ]; }; then
    [ -x "$bare_bin" ] || die "$bare_bin not found: build it first with scripts/build.sh build"
fi
if [ "$workload" = false ] && { [ -z "$only" ] || [ "$only" = nginx ]; }; then
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] ||
        die "nginx not found: install it with FRAGLAB_DEPS_EXTRA=nginx-light scripts/deps.sh"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
for t in taskset curl timeout ss awk; do command -v $t >/dev/null || die "$t not found"; done
check_cpus
[ "$pipeline" -eq 1 ] || [ -r "$pipeline_lua" ] || die "$pipeline_lua not found"

hz=$(getconf CLK_TCK)
stamp=$(date +%Y%m%d-%H%M%S)
out=${out:-$root/results/bench-$stamp}
mkdir -p "$out"
name=server-efficiency
[ "$workload" = true ] && name+=-workload
[ "$pipeline" -gt 1 ] && name+=-pipeline$pipeline
csv=$out/$name.csv
txt=$out/$name.txt
rows=$out/.$name.rows # one line per counted run, tab-separated
raw=$out/$name # every wrk output, the servers' logs and /stats
mkdir -p "$raw"

setup_cleanup # $tmp, and every process started from here on is stopped on exit

# --- helpers -----------------------------------------------------------------

wait_ready() { wait_ok "$@"; } # lib.sh's nginx start calls it

start_bare() { # sets bare_port, bare_pid
    local log=$raw/bare.log port attempt
    for attempt in 1 2 3; do
        port=$(free_port)
        taskset -c "$server_cpu" "$bare_bin" "$port" </dev/null >"$log" 2>&1 &
        bare_pid=$!
        started+=("$bare_pid")
        wait_ready "$bare_pid" "http://127.0.0.1:$port/" && break
        [ "$attempt" -lt 3 ] || die "bare-responder did not come up on port $port: $(tail -5 "$log")"
        stop_pid "$bare_pid"
    done
    bare_port=$port
}

# measure LABEL ALLOC PORT PATH SECONDS PID ROUND FILE: one wrk run, its output
# in FILE; sets row (tab-separated figures) and row_other (other_% as an
# integer). ROUND "warmup" only runs.
measure() {
    local label=$1 alloc=$2 port=$3 path=$4 secs=$5 pid=$6 round=$7 f=$8
    local t0 t1 c0 c1 k0 k1 l0 l1 script=()
    [ "$pipeline" -gt 1 ] && script=(-s "$pipeline_lua")
    local args=(-t1 "-c$conns" "-d${secs}s" --latency "${script[@]}" "http://127.0.0.1:$port$path")
    [ "$pipeline" -gt 1 ] && args+=(-- "$pipeline")
    c0=$(cpu_ticks "$pid") || die "$label ($alloc, pid $pid) is gone before round $round"
    k0=$(core_ticks "$server_cpu")
    l0=$(core_ticks "$client_cpu")
    t0=$(now)
    { echo "# taskset -c $client_cpu wrk ${args[*]}"; } >"$f"
    counted timeout --foreground -k 5 $((secs + 15)) taskset -c "$client_cpu" wrk "${args[@]}" >>"$f" 2>&1 ||
        echo "server-efficiency: warning: wrk exited non-zero against $label ($alloc), see $f" >&2
    t1=$(now)
    l1=$(core_ticks "$client_cpu")
    k1=$(core_ticks "$server_cpu")
    c1=$(cpu_ticks "$pid") || die "$label ($alloc, pid $pid) died during round $round; see $out"
    [ "$round" = warmup ] && return 0

    local reqs rps p50 p99 max errs
    reqs=$(awk '/ requests in / { print $1 }' "$f")
    rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$f")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$f")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$f")")
    # wrk 4.1 can print 0.00us percentiles (wg/wrk#236, #354): its
    # coordinated-omission correction adds samples below the recorded minimum,
    # which the percentile walk never visits. Likely with --pipeline, where the
    # correction assumes one latency per response but wrk records one per batch.
    [ "$p50" = 0 ] && p50=NA
    [ "$p99" = 0 ] && p99=NA
    # The maximum is unaffected: the correction only adds samples below it.
    max=$(to_us "$(awk '$1 == "Latency" && NF == 5 { print $4 }' "$f")")
    errs=$(awk '/Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
                /Non-2xx or 3xx responses:/ { e += $NF } END { print e + 0 }' "$f")
    if [ -z "$reqs" ] || [ -z "$rps" ]; then die "could not read wrk's output in $f"; fi
    row=$(awk -v OFS='\t' -v label="$label" -v alloc="$alloc" -v round="$round" -v path="$path" \
        -v reqs="$reqs" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v max="$max" -v errs="$errs" \
        -v dc=$((c1 - c0)) -v dk=$((k1 - k0)) -v dl=$((l1 - l0)) -v dw="$counted_s" \
        -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN {
        cpu = dc / hz; wall = t1 - t0
        eff = cpu > 0 ? sprintf("%.0f", reqs / cpu) : "NA"
        core = reqs > 0 ? sprintf("%.2f", 1e6 * dk / hz / reqs) : "NA"
        # Busy time on the two CPUs that neither the server nor wrk was
        # charged for: some softirq work, and other processes (a compiler)
        # disturbing the run. In % of one CPU.
        other = 100 * ((dk + dl) / hz - cpu - dw) / wall
        print label, alloc, round, path, reqs, sprintf("%.0f", rps), p50, p99, max, \
              sprintf("%.2f", cpu), sprintf("%.0f", 100 * cpu / wall), eff, core, \
              sprintf("%.0f", other < 0 ? 0 : other), errs }')
    row_other=$(cut -f14 <<<"$row")
}

# wait_idle: with --wait-idle S, wait up to S seconds for the machine to be
# idle (under 10 % busy over one second) before a run.
wait_idle() {
    local t0=$SECONDS a b pct
    while :; do
        a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
        sleep 1
        b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
        pct=$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ")
            busy = y[1] - x[1]; all = busy + y[2] - x[2]; printf "%.0f", (all > 0 ? 100 * busy / all : 0) }')
        [ "$pct" -lt 10 ] && break
        if [ $((SECONDS - t0)) -ge "$wait_idle_s" ]; then
            echo "  (machine still ${pct}% busy after ${wait_idle_s} s; running anyway)"
            return 0
        fi
    done
    [ $((SECONDS - t0)) -le 2 ] || echo "  (waited $((SECONDS - t0)) s for an idle machine)"
}

# run_wrk LABEL ALLOC PORT PATH SECONDS PID ROUND: one counted run (or the
# warm-up), appended to $rows with a one-line summary. With --wait-idle, a
# run during which other processes used the CPUs is repeated (twice at most;
# the noisy outputs are kept as wrk-*-noisyN.txt).
run_wrk() {
    local label=$1 alloc=$2 round=$7 tag attempt f
    tag=$label
    [ "$alloc" = - ] || tag+=-$alloc
    for attempt in 1 2 3; do
        [ "$wait_idle_s" -gt 0 ] && wait_idle
        f=$raw/wrk-$tag-$round.txt
        measure "$@" "$f"
        [ "$round" = warmup ] && return 0
        if [ "$wait_idle_s" -eq 0 ] || [ "$row_other" -le 10 ] || [ "$attempt" -eq 3 ]; then break; fi
        mv "$f" "$raw/wrk-$tag-$round-noisy$attempt.txt"
        echo "  $label ($alloc) round $round: other processes used ${row_other}% of a CPU meanwhile; repeating the run"
    done
    printf '%s\n' "$row" >>"$rows"
    awk -F'\t' '{
        printf "  %-8s %-9s round %-2s %9s req/s  p99 %7s us  max %7s us  server CPU %5s s (%3s%%)  %8s req/CPU-s  %s errors\n", $1, $2, $3, $6, $8, $9, $10, $11, $12, $15
        if ($14 > 10) printf "  warning: other processes used %s%% of a CPU during this run\n", $14 }' <<<"$row"
}

# --- the run -----------------------------------------------------------------

echo "server-efficiency: results in $out"
check_idle
{
    echo "# $(date -Is)  $(uname -sr)  nproc $(nproc)  $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)  $("$nginx_bin" -v 2>&1 || true)"
    echo "# server on CPU $server_cpu, wrk -t1 -c$conns on CPU $client_cpu, ${duration} s x $rounds rounds, pipeline $pipeline, wait-idle $wait_idle_s s"
} >"$raw/env.txt"

labels=() allocs=() ports=() pids=() paths=()
if [ "$workload" = true ]; then
    for a in $allocators; do
        start_fraglab "$a"
        labels+=(fraglab) allocs+=("$a") ports+=("$fraglab_port") paths+=("$work_path") pids+=("$fraglab_pid")
    done
else
    if [ -z "$only" ] || [ "$only" = nginx ]; then
        start_nginx
        labels+=(nginx) allocs+=(-) ports+=("$nginx_port") paths+=("/") pids+=("$nginx_worker")
    fi
    if [ -z "$only" ] || [ "$only" = fraglab ]; then
        start_fraglab glibc
        labels+=(fraglab) allocs+=(glibc) ports+=("$fraglab_port") paths+=("$health_path") pids+=("$fraglab_pid")
    fi
    if [ -z "$only" ] || [ "$only" = bare ]; then
        start_bare
        labels+=(bare) allocs+=(-) ports+=("$bare_port") paths+=("/") pids+=("$bare_pid")
    fi
fi

n=${#labels[@]}
echo "server-efficiency: $n server(s) up; about $((n * (warmup + rounds * duration) + n * rounds)) s to go"
for ((i = 0; i < n; i++)); do
    echo "  ${labels[i]} (${allocs[i]}): pid ${pids[i]} on port ${ports[i]}, CPUs $(taskset -pc "${pids[i]}" | awk '{ print $NF }')"
done
for ((i = 0; i < n; i++)); do # warm-up, not counted
    run_wrk "${labels[i]}" "${allocs[i]}" "${ports[i]}" "${paths[i]}" "$warmup" "${pids[i]}" warmup
done
for ((r = 1; r <= rounds; r++)); do
    for ((i = 0; i < n; i++)); do
        run_wrk "${labels[i]}" "${allocs[i]}" "${ports[i]}" "${paths[i]}" "$duration" "${pids[i]}" "$r"
    done
done

# What the servers say about themselves after the load (fraglab: pinning,
# allocator, counters).
for ((i = 0; i < n; i++)); do
    [ "${labels[i]}" = fraglab ] || continue
    curl -sf --max-time 2 "http://127.0.0.1:${ports[i]}/stats" >"$raw/fraglab-${allocs[i]}-stats.json" ||
        echo "server-efficiency: warning: GET /stats failed on fraglab (${allocs[i]})" >&2
done

# --- medians, ratios, table, CSV -------------------------------------------

# Rows: 1 label, 2 alloc, 3 round, 4 path, 5 requests, 6 req_s, 7 p50_us, 8 p99_us,
# 9 max_us, 10 cpu_s, 11 cpu_pct, 12 req_per_cpu_s, 13 core_us_per_req,
# 14 other_pct, 15 errors
summarize() {
    awk -F'\t' -v OFS=',' -v pipeline="$pipeline" -v dur="$duration" '
    # Median of the rounds that have a figure ("NA" rounds are left out).
    function median(key, col,   n, i, j, t, a) {
        n = 0
        for (i = 1; i <= cnt[key]; i++) if (v[key, i, col] != "NA") a[++n] = v[key, i, col] + 0
        if (n == 0) return "NA"
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(x, f) { return x == "NA" ? "NA" : sprintf(f, x) }
    function ratio(a, b) { return (a == "NA" || b == "NA" || b == 0) ? "NA" : sprintf("%.2f", a / b) }
    {
        key = $1 SUBSEP $2
        if (!(key in cnt)) { order[++nk] = key; path[key] = $4 }
        c = ++cnt[key]
        for (k = 5; k <= 14; k++) v[key, c, k] = $k
        errs[key] += $15
        print $1, $2, pipeline, $4, $3, dur, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15
    }
    END {
        split("%.0f %.0f %.0f %.0f %.0f %.2f %.0f %.0f %.2f %.0f", form, " ")
        for (i = 1; i <= nk; i++) {
            key = order[i]; split(key, kk, SUBSEP)
            line = kk[1] OFS kk[2] OFS pipeline OFS path[key] OFS "median" OFS dur
            for (k = 5; k <= 14; k++) line = line OFS fmt(m[key, k] = median(key, k), form[k - 4])
            print line, errs[key]
        }
        f = "fraglab" SUBSEP "glibc"
        split("nginx bare", others, " ")
        for (o = 1; o <= 2; o++) {
            g = others[o] SUBSEP "-"
            if ((f in cnt) && (g in cnt))
                print "fraglab/" others[o], "", pipeline, "", "ratio of medians", "", "", ratio(m[f, 6], m[g, 6]),
                    ratio(m[f, 7], m[g, 7]), ratio(m[f, 8], m[g, 8]), ratio(m[f, 9], m[g, 9]), "", "",
                    ratio(m[f, 12], m[g, 12]), ratio(m[f, 13], m[g, 13]), "", ""
        }""
    }' "$rows"
}

{
    echo "server,allocator,pipeline,path,round,duration_s,requests,req_per_s,p50_us,p99_us,max_us,server_cpu_s,server_cpu_pct,req_per_cpu_s,core_busy_us_per_req,core_other_pct,errors"
    summarize
} >"$csv"

# The text table: the CSV without path and duration, aligned.
{
    cat "$raw/env.txt"
    awk -F',' -v OFS='\t' '{ for (i = 1; i <= NF; i++) if ($i == "") $i = "-"
                             print $1, $2, $5, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17 }' "$csv" |
        sed -e '1s/.*/server\talloc\tround\treq\/s\tp50_us\tp99_us\tmax_us\tcpu_s\tcpu_%\treq\/cpu_s\tcore_us\/req\tother_%\terrors/' |
        column -t -s $'\t'
} >"$txt"
echo
cat "$txt"
echo
echo "server-efficiency: wrote $csv and $txt"
