#!/usr/bin/env bash
# test_no_uring.sh DENY_URING SERVER LOADGEN - with io_uring_setup refused
# (EPERM as under Docker's default seccomp profile, ENOSYS as on a kernel
# without io_uring, ENOMEM as with a low RLIMIT_MEMLOCK on old kernels), the
# server and the load generator each print one line naming the cause and
# the fix, and exit 3. Loopback only; every command bounded by timeout.
set -u
deny=$1 server=$2 loadgen=$3
fail=0
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

check() { # check NAME WANT_IN_LINE CMD...
    local name=$1 want=$2 rc lines
    shift 2
    timeout 20 "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 77 ]; then
        cat "$tmp/err"
        exit 77
    fi
    lines=$(grep -c . "$tmp/err")
    if [ $rc -ne 3 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$want" "$tmp/err" || ! grep -q "fix:" "$tmp/err"; then
        echo "FAIL $name: exit $rc (want 3), $lines stderr lines (want 1 naming '$want' and a fix):"
        sed 's/^/  | /' "$tmp/err"
        fail=1
    else
        echo "ok   $name: $(cat "$tmp/err")"
    fi
}

for e in EPERM ENOSYS ENOMEM; do
    case $e in
    EPERM) want="seccomp=docker/seccomp-io_uring.json\|io_uring_disabled" ;;
    ENOSYS) want="not implemented" ;;
    ENOMEM) want="RLIMIT_MEMLOCK" ;;
    esac
    check "server $e" "$want" "$deny" $e "$server" --port 0 --threads 1
done

# The load generator checks its target first (plain sockets), so give it a
# real server to find.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" --port "$port" --threads 1 2>"$tmp/server.err" &
pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    kill -0 $pid 2>/dev/null || { echo "skip: the server did not start: $(cat "$tmp/server.err")"; exit 77; }
    sleep 0.1
done
check "loadgen EPERM" "seccomp" "$deny" EPERM "$loadgen" run --target "127.0.0.1:$port" -d 1s \
    -c 2 -t 1 --path /healthz -q --out "$tmp/run"
exit $fail
