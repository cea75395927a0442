# shellcheck shell=bash disable=SC2034,SC2154
# bench/lib.sh - the helpers bench/loadgen-vs-wrk.sh and
# bench/server-efficiency.sh share: messages and option checks, the processes
# they start and their cleanup on exit, free ports, CPU ticks, the CPU time
# of a command they run (counted), the idle check, and nginx with one worker
# pinned to a CPU.
# Sourced, not run: `. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`. It only
# defines functions. They read the script's
#   prog              name for messages ("loadgen-vs-wrk")
#   server_cpu, client_cpu   CPUs for the server and the client
#   raw, rows         results subfolder and rows file, for cleanup
#   nginx_bin         the nginx binary
#   nginx_return      what nginx answers for / (`return $nginx_return;`)
#   nginx_worker_conns  its worker_connections (default 4096)
# and call its usage (--help) and wait_ready PID URL (0 once the server
# answers as expected). common_option sets rounds, duration, out, conns,
# server_cpu or client_cpu; setup_cleanup sets tmp, started and nginx_worker;
# start_nginx sets nginx_port, nginx_master and nginx_worker.

die() {
    echo "$prog: $*" >&2
    exit 2
}

need_int() {
    if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt "${3:-1}" ]; then
        die "$1 needs a whole number >= ${3:-1}, got '$2'"
    fi
}

# common_option OPTION VALUE: the options both scripts take (--rounds,
# --duration, --out, --connections, --server-cpu, --client-cpu: each takes a
# value, so the caller shifts once more) and --help (the script's usage);
# anything else is an unknown option.
common_option() {
    case $1 in
    --rounds) need_int "$1" "$2" && rounds=$2 ;;
    --duration) need_int "$1" "$2" && duration=$2 ;;
    --out) [ -n "$2" ] || die "--out needs a folder"; out=$2 ;;
    --connections) need_int "$1" "$2" && conns=$2 ;;
    --server-cpu) need_int "$1" "$2" 0 && server_cpu=$2 ;;
    --client-cpu) need_int "$1" "$2" 0 && client_cpu=$2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
}

# check_cpus: --server-cpu and --client-cpu differ, and both can be used.
check_cpus() {
    local c
    [ "$server_cpu" != "$client_cpu" ] || die "--server-cpu and --client-cpu must differ"
    for c in "$server_cpu" "$client_cpu"; do
        taskset -c "$c" true 2>/dev/null || die "cannot run on CPU $c (this machine has $(nproc) usable CPUs)"
    done
}

# --- process bookkeeping and cleanup -----------------------------------------

# setup_cleanup: a temp folder $tmp, an empty list of started pids, and
# cleanup on exit (INT and TERM exit with 130 and 143, through it).
setup_cleanup() {
    tmp=$(mktemp -d /tmp/fraglab-bench.XXXXXX)
    started=() # pids we started, stopped in reverse order on exit
    nginx_worker=""
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "$prog: pid $pid ignored SIGTERM for 5 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do stop_pid "${started[i]}"; done
    # If the nginx master died first its worker would be orphaned.
    [ -n "$nginx_worker" ] && kill -0 "$nginx_worker" 2>/dev/null && kill -KILL "$nginx_worker" 2>/dev/null
    [ -s "$tmp/nginx/error.log" ] && [ -d "${raw:-}" ] && cp "$tmp/nginx/error.log" "$raw/nginx-error.log"
    # $rows may be unset in scripts that keep no rows file: never remove "".
    rm -rf "$tmp"
    [ -n "${rows:-}" ] && [ -f "$rows" ] && rm -f "$rows"
    exit "$rc"
}

# --- helpers -----------------------------------------------------------------

# A port below the kernel's ephemeral range (so no client socket, wrk's
# included, can be holding it) that no TCP socket uses in any state. Another
# program may still take it before the server binds: callers retry.
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

# utime+stime of a process (all its threads), in clock ticks.
cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat") || return 1
    # Fields 14 and 15; the command name (field 2) may hold spaces, so count
    # from after its closing parenthesis, where field 3 starts.
    awk '{ print $12 + $13 }' <<<"${stat##*) }"
}

now() { date +%s.%N; }

# busy ticks of one CPU (everything but idle and iowait), from /proc/stat.
core_ticks() {
    awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# wait_ok PID URL: up to 10 s for the server to answer 200 "ok" (fraglab's
# /healthz, the bare responder, nginx's `return 200 "ok"`).
wait_ok() {
    local pid=$1 url=$2 body
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        body=$(curl -sf --noproxy '*' --max-time 1 "$url" 2>/dev/null) && [ "${body%$'\n'}" = ok ] && return 0
        sleep 0.1
    done
    return 1
}

# start_fraglab ALLOCATOR: $server_bin --mode tpc --threads 1 pinned to
# $server_cpu on a free port (another one if that was taken first), its log
# in $raw/fraglab-ALLOCATOR.log; sets fraglab_port and fraglab_pid. A
# library that failed to preload must not pass for the one asked for: GET
# /stats must name it.
start_fraglab() {
    local alloc=$1 log=$raw/fraglab-$1.log port attempt name
    for attempt in 1 2 3; do
        port=$(free_port)
        taskset -c "$server_cpu" "$server_bin" --mode tpc --threads 1 --port "$port" \
            --allocator "$alloc" </dev/null >"$log" 2>&1 &
        fraglab_pid=$! # the allocator re-exec is an execv in place: the pid stays
        started+=("$fraglab_pid")
        wait_ok "$fraglab_pid" "http://127.0.0.1:$port/healthz" && break
        if [ "$attempt" -eq 3 ] || ! grep -q 'Address already in use' "$log"; then
            die "fraglab-server ($alloc) did not come up on port $port: $(tail -5 "$log")"
        fi
        stop_pid "$fraglab_pid"
    done
    fraglab_port=$port
    name=$(curl -sf --noproxy '*' --max-time 2 "http://127.0.0.1:$port/stats" |
        grep -o '"allocator":{"name":"[^"]*"' | sed 's/.*"name":"//; s/"$//') || true
    [ "$name" = "$alloc" ] || die "fraglab-server --allocator $alloc reports allocator '$name' in GET /stats"
}

# counted CMD...: runs CMD (a simple command, in this shell) and sets
# counted_s to the CPU seconds, user + system, that it and its children
# used; CMD's status.
counted() {
    local rc=0 t0
    children_cpu
    t0=$children_s
    "$@" || rc=$?
    children_cpu
    counted_s=$(awk -v a="$t0" -v b="$children_s" 'BEGIN { printf "%.3f", b - a }')
    return "$rc"
}

# Sets children_s: CPU seconds (user + system) of this shell's finished
# children. `times` must run in this shell, not in a $(...) subshell, whose
# children are its own; hence the file (in $tmp, from setup_cleanup).
children_cpu() {
    times >"$tmp/times"
    children_s=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } print t }' "$tmp/times")
}

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
    awk -v a="$a" -v b="$b" -v prog="$prog" 'BEGIN {
        split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; all = busy + y[2] - x[2]
        pct = all > 0 ? 100 * busy / all : 0
        if (pct > 10) printf "%s: warning: the machine is %.0f%% busy before the benchmark; figures will be noisy\n", prog, pct > "/dev/stderr" }'
}

# --- nginx -------------------------------------------------------------------

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
    # master_process on, as in production: the master only supervises, the
    # single worker serves, and it is the worker's CPU time that is measured.
    # What it answers for / is the script's $nginx_return.
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections ${nginx_worker_conns:-4096}; }
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
        location / { return $nginx_return; }
    }
}
EOF
    taskset -c "$server_cpu" "$nginx_bin" -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" \
        </dev/null >"$d/stdout.log" 2>&1 &
    nginx_master=$!
    started+=("$nginx_master")
    wait_ready "$nginx_master" "http://127.0.0.1:$port/"
}
