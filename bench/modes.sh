#!/usr/bin/env bash
# Throughput, p99, cross-thread free share and migrations per request of
# tpc, ws (free-policy local) and ws (free-policy owner), per allocator, on
# the same wrk load. Run by hand; loopback only; each run bounded by -d.
# usage: bench/modes.sh [--duration S] [--threads N] [--allocators "a b"] [--load echo|work]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=5 threads=2 allocs="glibc jemalloc mimalloc tcmalloc" load=echo
while [ $# -gt 0 ]; do
    case $1 in
    --duration) dur=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --allocators) allocs=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "modes.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
server=build/bin/fraglab-server
[ -x $server ] || { echo "modes.sh: $server missing: run scripts/build.sh build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "modes.sh: wrk missing: scripts/deps.sh" >&2; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
head -c 4096 /dev/urandom >"$tmp/body"
cat >"$tmp/post.lua" <<LUA
local f = io.open("$tmp/body", "rb")
wrk.method = "POST"; wrk.body = f:read("*a"); f:close()
LUA
case $load in
echo) path=/echo script=(-s "$tmp/post.lua") ;;
work) path='/work?resp=4096&burst=32&burst_min=16&burst_max=512&hold=2048&hold_for=4' script=() ;;
*) echo "modes.sh: --load echo|work" >&2; exit 2 ;;
esac

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '%-10s %-10s %10s %9s %8s %9s %8s\n' allocator mode req/s p99 cross ret/free migr/req
for a in $allocs; do
    for m in tpc ws:local ws:owner; do
        mode=${m%%:*} pol=${m#*:}; [ "$pol" = "$m" ] && pol=local
        $server --mode "$mode" --free-policy "$pol" --threads "$threads" --allocator "$a" \
            --port "$port" 2>"$tmp/err" &
        pid=$!
        for _ in $(seq 50); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
        out=$(wrk -t2 -c64 -d"${dur}s" --latency "${script[@]}" "http://127.0.0.1:$port$path")
        stats=$(curl -sf "127.0.0.1:$port/stats")
        kill -TERM $pid; wait $pid || true; pid=
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        STATS=$stats python3 - "$a" "$m" "$rps" "$p99" <<'PY'
import json, os, sys
t = json.loads(os.environ["STATS"])["totals"]
frees = max(t["buffer_frees_total"] + t["remote_returns_total"], 1)
print(f"{sys.argv[1]:<10} {sys.argv[2]:<10} {float(sys.argv[3]):>10.0f} {sys.argv[4]:>9} "
      f"{t['cross_thread_frees_total'] / t['buffer_frees_total']:>8.3f} "
      f"{t['remote_returns_total'] / frees:>9.3f} "
      f"{t['task_migrations_total'] / max(t['requests_total'], 1):>8.2f}")
PY
    done
done
