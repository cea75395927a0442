#!/usr/bin/env bash
# idle-conns.sh - server memory per idle keep-alive connection.
#
# Starts the server (fraglab-server --mode tpc --threads 1, per-connection
# state fixed at --state BYTES, keep-alive timeout off; and nginx with one
# worker unless --no-nginx), opens --conns N connections (default 10,000)
# that each make one request and then stay open and idle, and reads the
# serving process's RSS (/proc/PID/smaps_rollup) before and after. Prints
# the growth per connection and, for fraglab, that minus the configured
# state. Run by hand; loopback only; everything it starts is stopped.
#
# usage: bench/idle-conns.sh [--conns N] [--state BYTES] [--no-nginx] [--rounds R]
set -euo pipefail
prog=idle-conns
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
server_bin=$root/build/bin/fraglab-server
conns=10000 state=64 nginx=true rounds=3
server_cpu=1 client_cpu=0
nginx_return='200 "ok"'
nginx_worker_conns=$((conns + 100))
raw=$root/results/idle-conns-$(date +%Y%m%d-%H%M%S)
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
wait_ready() { # PID URL
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 1
        curl -sf --max-time 1 "$2" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
while [ $# -gt 0 ]; do
    case $1 in
    --conns) need_int "$1" "${2-}" && conns=$2 && shift ;;
    --state) need_int "$1" "${2-}" && state=$2 && shift ;;
    --no-nginx) nginx=false ;;
    --rounds) need_int "$1" "${2-}" && rounds=$2 && shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
[ -x "$server_bin" ] || die "$server_bin not found: scripts/build.sh build"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if $nginx && [ ! -x "$nginx_bin" ]; then
    die "nginx not found: FRAGLAB_DEPS_EXTRA=nginx-light scripts/deps.sh (or --no-nginx)"
fi
ulimit -n $((conns + 1024)) 2>/dev/null || die "cannot raise the open-files limit to $((conns + 1024))"
mkdir -p "$raw"
setup_cleanup
check_idle

rss() { awk '/^Rss:/ { print $2 * 1024 }' "/proc/$1/smaps_rollup"; }

# hold.py PORT PATH N PID: N connections, one request each, kept open;
# prints the serving process's RSS growth in bytes, then closes them.
cat >"$tmp/hold.py" <<'PY'
import selectors, socket, sys, time
port, path, n, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def rss():
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
# one connection first, so the growth counts connections, not start-up
warm = socket.create_connection(("127.0.0.1", port)); warm.sendall(req); warm.recv(4096)
time.sleep(0.5)
before = rss()
socks, sel, pending = [], selectors.DefaultSelector(), 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    socks.append(s)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    pending += 1
    while pending > 200 or (i == n - 1 and pending):
        for key, _ in sel.select(10):
            if key.fileobj.recv(4096):
                sel.unregister(key.fileobj)
                pending -= 1
time.sleep(1)
after = rss()
print(after - before)
for s in socks:
    s.close()
warm.close()
PY
hold() { taskset -c "$client_cpu" python3 "$tmp/hold.py" "$1" "$2" "$conns" "$3"; }

printf '%-8s %5s %12s %14s %16s\n' server round conns growth_bytes per_conn_bytes
for r in $(seq "$rounds"); do
    port=$(free_port)
    taskset -c "$server_cpu" "$server_bin" --mode tpc --threads 1 --port "$port" \
        --conn-state-dist fixed --conn-state-min "$state" --conn-state-max "$state" \
        --keepalive-timeout 0 --header-timeout 0 --max-conns $((conns + 100)) </dev/null >"$tmp/fraglab.log" 2>&1 &
    pid=$!
    started+=("$pid")
    wait_ready "$pid" "http://127.0.0.1:$port/healthz" || die "fraglab-server did not start: $(tail -3 "$tmp/fraglab.log")"
    g=$(hold "$port" /healthz "$pid")
    stop_pid "$pid"
    awk -v r="$r" -v n="$conns" -v g="$g" -v st="$state" 'BEGIN {
        printf "%-8s %5s %12d %14d %16.0f  (minus the %d B state: %.0f)\n", "fraglab", r, n, g, g / n, st, g / n - st }'
    if $nginx; then
        start_nginx
        g=$(hold "$nginx_port" / "$nginx_worker")
        stop_pid "$nginx_master"
        awk -v r="$r" -v n="$conns" -v g="$g" 'BEGIN { printf "%-8s %5s %12d %14d %16.0f\n", "nginx", r, n, g, g / n }'
    fi
done
