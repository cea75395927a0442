#!/usr/bin/env bash
# loadgen-vs-wrk.sh - how fast is fraglab-loadgen as a load generator, next to wrk?
#
# Both clients drive the same nginx (one worker, `return 200;`) with the same
# load: 64 keep-alive connections, one thread, closed loop, GET /. The
# client gets CPU 0 and nginx CPU 1, as in server-efficiency.sh; on loopback
# the client's core saturates first, so req/s here measures the client.
# Rounds alternate wrk and fraglab-loadgen so both see the same machine state.
# Run by hand, never from ctest: it takes about a minute and wants an idle
# machine. Loopback only; every process it starts is stopped on exit.
# See bench/README.md for how to read the figures.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
loadgen_bin=$root/build/bin/fraglab-loadgen

rounds=5
duration=5
warmup=1
conns=64
out=""
server_cpu=1
client_cpu=0

usage() {
    cat <<EOF
usage: bench/loadgen-vs-wrk.sh [options]

nginx (1 worker, return 200 for /) pinned to CPU $server_cpu; against it,
pinned to CPU $client_cpu, alternately:
  wrk -t1 -c$conns -d${duration}s --latency http://127.0.0.1:PORT/
  fraglab-loadgen run --path / --target 127.0.0.1:PORT -c $conns -t 1
      --duration ${duration}s --warmup 0 -q
Per round and as medians: req/s, p99 latency, errors, nginx's CPU share,
and the loadgen/wrk ratios.

  --rounds R        rounds of (wrk, loadgen) (default $rounds)
  --duration S      seconds per run (default $duration); each client also gets
                    one ${warmup} s warm-up run that is not counted
  --out DIR         results folder (default results/bench-<date>/)
  --loadgen PATH    the fraglab-loadgen binary (default build/bin/fraglab-loadgen)
  --connections C   connections for both clients (default $conns)
  --server-cpu N    CPU for nginx (default $server_cpu)
  --client-cpu N    CPU for the clients (default $client_cpu)
  --help            this text

Writes DIR/loadgen-vs-wrk.csv and the same table as .txt; every wrk output,
every loadgen results folder (lg-N) and log, and nginx's error log go to
DIR/loadgen-vs-wrk/.
EOF
}

die() {
    echo "loadgen-vs-wrk: $*" >&2
    exit 2
}

need_int() {
    if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt "${3:-1}" ]; then
        die "$1 needs a whole number >= ${3:-1}, got '$2'"
    fi
}

while [ $# -gt 0 ]; do
    case $1 in
    --rounds) need_int "$1" "${2-}" && rounds=$2 && shift ;;
    --duration) need_int "$1" "${2-}" && duration=$2 && shift ;;
    --out) [ -n "${2-}" ] || die "--out needs a folder"; out=$2; shift ;;
    --loadgen) [ -n "${2-}" ] || die "--loadgen needs a path"; loadgen_bin=$2; shift ;;
    --connections) need_int "$1" "${2-}" && conns=$2 && shift ;;
    --server-cpu) need_int "$1" "${2-}" 0 && server_cpu=$2 && shift ;;
    --client-cpu) need_int "$1" "${2-}" 0 && client_cpu=$2 && shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done

# --- prerequisites ----------------------------------------------------------

[ -x "$loadgen_bin" ] || die "$loadgen_bin not found: build it first with scripts/build.sh build"
command -v wrk >/dev/null || die "wrk not found: install it with scripts/deps.sh"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] ||
    die "nginx not found: install it with FRAGLAB_DEPS_EXTRA=nginx-light scripts/deps.sh"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
for t in taskset curl timeout ss awk python3 column; do command -v $t >/dev/null || die "$t not found"; done
[ "$server_cpu" != "$client_cpu" ] || die "--server-cpu and --client-cpu must differ"
for c in "$server_cpu" "$client_cpu"; do
    taskset -c "$c" true 2>/dev/null || die "cannot run on CPU $c (this machine has $(nproc) usable CPUs)"
done

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

# --- process bookkeeping and cleanup -----------------------------------------

tmp=$(mktemp -d /tmp/fraglab-bench.XXXXXX)
started=() # pids we started, stopped in reverse order on exit
nginx_worker=""

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "loadgen-vs-wrk: pid $pid ignored SIGTERM for 5 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do stop_pid "${started[i]}"; done
    # If the nginx master died first its worker would be orphaned.
    [ -n "$nginx_worker" ] && kill -0 "$nginx_worker" 2>/dev/null && kill -KILL "$nginx_worker" 2>/dev/null
    [ -s "$tmp/nginx/error.log" ] && cp "$tmp/nginx/error.log" "$raw/nginx-error.log"
    rm -rf "$tmp" "$rows"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers -----------------------------------------------------------------

# A port below the kernel's ephemeral range (so no client socket can be
# holding it) that no TCP socket uses in any state. Another program may still
# take it before nginx binds: start_nginx retries.
free_port() {
    local p lo
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$lo" -gt 12000 ] || lo=61000 # odd range: use the top instead
    for _ in $(seq 100); do
        if [ "$lo" -eq 61000 ]; then p=$((61000 + RANDOM % 4000)); else p=$((10000 + RANDOM % (lo - 10000))); fi
        [ -z "$(ss -Htan "sport = :$p")" ] && echo "$p" && return 0
    done
    die "no free loopback port found"
}

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

# utime+stime of a process (all its threads), in clock ticks.
cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat") || return 1
    # Fields 14 and 15, counted from after the command name's ')' (field 3 on).
    awk '{ print $12 + $13 }' <<<"${stat##*) }"
}

now() { date +%s.%N; }

# wrk time ("812.00us", "1.20ms", "1.01s", "2.00m") -> microseconds
to_us() {
    awk -v t="$1" 'BEGIN {
        n = t + 0; u = t; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : (u == "h") ? 3.6e9 : -1
        if (f < 0) print "NA"; else printf "%.0f", n * f }'
}

# Warn when something else is using the CPUs: the figures assume an idle box.
check_idle() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; all = busy + y[2] - x[2]
        pct = all > 0 ? 100 * busy / all : 0
        if (pct > 10) printf "loadgen-vs-wrk: warning: the machine is %.0f%% busy before the benchmark; figures will be noisy\n", pct > "/dev/stderr" }'
}

start_nginx() { # sets nginx_port, nginx_master, nginx_worker
    local port d=$tmp/nginx i attempt
    mkdir -p "$d"
    for attempt in 1 2 3; do
        port=$(free_port)
        start_nginx_on "$port" && break
        if [ "$attempt" -eq 3 ] || ! grep -q 'Address already in use' "$d/error.log" "$d/stdout.log" 2>/dev/null; then
            die "nginx did not come up on port $port: $(cat "$d/error.log" "$d/stdout.log" 2>/dev/null | tail -5)"
        fi
        stop_pid "$nginx_master"
    done
    nginx_port=$port
    for i in $(seq 20); do
        nginx_worker=$(cat "/proc/$nginx_master/task/"*/children 2>/dev/null | xargs)
        [ -n "$nginx_worker" ] && break
        sleep 0.1
    done
    [[ $nginx_worker =~ ^[0-9]+$ ]] || die "expected one nginx worker under master $nginx_master, found '$nginx_worker'"
}

start_nginx_on() { # start_nginx_on PORT: 0 once it answers
    local port=$1 d=$tmp/nginx
    : >"$d/error.log"
    # The same nginx as server-efficiency.sh's, but `return 200;` (an empty
    # body): the cheapest answer, so the server stays ahead of the client.
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { return 200; }
    }
}
EOF
    taskset -c "$server_cpu" "$nginx_bin" -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" \
        </dev/null >"$d/stdout.log" 2>&1 &
    nginx_master=$!
    started+=("$nginx_master")
    wait_ready "$nginx_master" "http://127.0.0.1:$port/"
}

# run_wrk SECONDS ROUND: sets rps, p99, errs (NA when unreadable).
run_wrk() {
    local secs=$1 round=$2 f=$raw/wrk-$2.txt
    local args=(-t1 "-c$conns" "-d${secs}s" --latency "http://127.0.0.1:$nginx_port/")
    echo "# taskset -c $client_cpu wrk ${args[*]}" >"$f"
    timeout --foreground -k 5 $((secs + 15)) taskset -c "$client_cpu" wrk "${args[@]}" >>"$f" 2>&1 ||
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
    local args=(run --path / --target "127.0.0.1:$nginx_port" -c "$conns" -t 1
        --duration "${secs}s" --warmup 0 --out "$d" -q)
    rm -rf "$d"
    echo "# taskset -c $client_cpu $loadgen_bin ${args[*]}" >"$log"
    # From the temp dir, so nothing can land in the source tree.
    (cd "$tmp" && timeout --foreground -k 5 $((secs + 30)) taskset -c "$client_cpu" \
        "$loadgen_bin" "${args[@]}") >>"$log" 2>&1 || rc=$?
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
# nginx's CPU share of the run's wall time (near 100 %: nginx, not the
# client, was the limit).
measure() {
    local client=$1 secs=$2 round=$3 c0 c1 t0 t1 cpu
    c0=$(cpu_ticks "$nginx_worker") || die "nginx's worker is gone before round $round"
    t0=$(now)
    "run_$client" "$secs" "$round"
    t1=$(now)
    c1=$(cpu_ticks "$nginx_worker") || die "nginx's worker died during round $round; see $raw"
    [ "$round" = warmup ] && return 0
    cpu=$(awk -v d=$((c1 - c0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", 100 * d / hz / (t1 - t0) }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$client" "$round" "$rps" "$p99" "$errs" "$cpu" >>"$rows"
    printf '  round %-2s %-8s %9s req/s  p99 %7s us  %5s errors  nginx CPU %3s%%\n' \
        "$round" "$client" "$rps" "$p99" "$errs" "$cpu"
}

# --- the run -----------------------------------------------------------------

echo "loadgen-vs-wrk: results in $out"
check_idle
start_nginx
{
    echo "# $(date -Is)  $(uname -sr)  nproc $(nproc)  $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)  $("$nginx_bin" -v 2>&1 || true)  $("$loadgen_bin" --version 2>&1 | head -1 || true)"
    echo "# nginx (1 worker, return 200) on CPU $server_cpu, port $nginx_port; clients on CPU $client_cpu, -t1 -c$conns, GET /, ${duration} s x $rounds rounds"
} >"$raw/env.txt"
echo "loadgen-vs-wrk: nginx worker pid $nginx_worker on port $nginx_port, CPUs $(taskset -pc "$nginx_worker" | awk '{ print $NF }');" \
    "about $((2 * (warmup + rounds * duration) + 2 * rounds)) s to go"

measure wrk "$warmup" warmup # not counted
measure loadgen "$warmup" warmup
for ((r = 1; r <= rounds; r++)); do
    measure wrk "$duration" "$r"
    measure loadgen "$duration" "$r"
done

# --- medians, ratios, table, CSV -------------------------------------------

# Rows: 1 client, 2 round, 3 req_s, 4 p99_us, 5 errors, 6 nginx_cpu_pct.
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
    { for (k = 3; k <= 6; k++) v[$1, $2, k] = $k; if ($2 > nr) nr = $2 }
    END {
        for (i = 1; i <= nr; i++)
            print i, dur, v["wrk", i, 3], v["wrk", i, 4], v["wrk", i, 5], v["wrk", i, 6],
                v["loadgen", i, 3], v["loadgen", i, 4], v["loadgen", i, 5], v["loadgen", i, 6],
                ratio(v["loadgen", i, 3], v["wrk", i, 3]), ratio(v["loadgen", i, 4], v["wrk", i, 4])
        for (k = 3; k <= 6; k++) { mw[k] = median("wrk", k); ml[k] = median("loadgen", k) }
        print "median", dur, fmt(mw[3]), fmt(mw[4]), fmt(mw[5]), fmt(mw[6]),
            fmt(ml[3]), fmt(ml[4]), fmt(ml[5]), fmt(ml[6]), ratio(ml[3], mw[3]), ratio(ml[4], mw[4])
    }' "$rows"
}

{
    echo "round,duration_s,wrk_req_per_s,wrk_p99_us,wrk_errors,wrk_nginx_cpu_pct,loadgen_req_per_s,loadgen_p99_us,loadgen_errors,loadgen_nginx_cpu_pct,ratio_req_per_s,ratio_p99"
    summarize
} >"$csv"

# The text table: the CSV without the duration, aligned.
{
    cat "$raw/env.txt"
    awk -F',' -v OFS='\t' '{ for (i = 1; i <= NF; i++) if ($i == "") $i = "-"
                             print $1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }' "$csv" |
        sed -e '1s/.*/round\twrk_req\/s\twrk_p99_us\twrk_err\twrk_nginx_%\tlg_req\/s\tlg_p99_us\tlg_err\tlg_nginx_%\tlg\/wrk_req\/s\tlg\/wrk_p99/' |
        column -t -s $'\t'
} >"$txt"
echo
cat "$txt"
echo
echo "loadgen-vs-wrk: wrote $csv and $txt"
