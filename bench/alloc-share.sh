#!/usr/bin/env bash
# alloc-share.sh - how much of the server's CPU is the allocator itself?
#
# server-efficiency.sh --workload and modes.sh rank allocators and modes by
# requests per server CPU-second, but a difference there may come from the
# allocator's own code, from the kernel work its policy causes (page faults
# on memory it gave back, madvise), or from something else entirely (the
# server's own code, loopback TCP, the VM's drift between minutes). This
# script answers the first two: it runs the wrk load of server-efficiency.sh
# --workload against fraglab-server (tpc, one thread) under each allocator,
# all servers up at once and rounds interleaved, and during each counted run
# samples the server with `perf record -g`. Per run it reports, next to
# req/s, p99 and requests per server CPU-second, the share of the server's
# samples spent
#   - in the allocator's own user-space code (alloc_%: its library, or for
#     glibc the malloc symbols of libc.so.6),
#   - in the kernel entered from that code or from the memory syscalls
#     (+kern_%: faults in allocator code, madvise, mmap, brk),
#   - under any page fault, any madvise, any mmap/munmap/mremap/mprotect/brk
#     (fault_%, madvise_%, mmap_%), whoever caused them,
# and alloc_us/req, (alloc_% + +kern_%) times the server's CPU per request.
# A gap between two allocators (or modes) larger than the gap in
# alloc_us/req is not the allocator's code: look at caches, faults on the
# server's side, or noise. memcpy/memset into the memory handed out, and the
# kernel's own slab allocations (sk_buffs), count as the server's.
# The shares are of perf's time-based samples of the server's threads in a
# (duration - 1) s window inside the run; perf_cpu_pct in the CSV says how
# busy perf saw the server there, cpu_% (utime + stime over the whole run,
# as in server-efficiency.sh) may read lower on a VM.
# Run by hand, never from ctest: it takes a minute or two, wants an idle
# machine, root (or kernel.perf_event_paranoid <= 1) and perf. Loopback only;
# every process it starts is stopped on exit. Outputs: see --help.
set -euo pipefail

prog="alloc-share"
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC1091 # followed with shellcheck -x
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
server_bin=$root/build/bin/fraglab-server

rounds=3
duration=5
warmup=1
conns=64
out=""
server_cpu=1
client_cpu=0
allocators="glibc jemalloc mimalloc tcmalloc"
health_path=/healthz
# The path of server-efficiency.sh --workload: a 4 KiB response and 32
# short-lived allocations of 16-512 B per request.
work_path='/work?resp=4096&burst=32&burst_min=16&burst_max=512'
perf_hz=999
perf_delay=0.5 # perf starts this long after wrk, and stops before it: no ramps
tmp="" children_s="" # set by lib.sh's setup_cleanup and children_cpu

usage() {
    cat <<EOF
usage: bench/alloc-share.sh [options]

fraglab-server --mode tpc --threads 1 under each allocator, all started at
once, each pinned to CPU $server_cpu; in turn, pinned to CPU $client_cpu,
  wrk -t1 -c$conns -d${duration}s --latency 'http://127.0.0.1:PORT$work_path'
and, from ${perf_delay} s after wrk starts, for duration-1 s,
  perf record -F $perf_hz -g -p SERVER_PID
Per round and as medians: req/s, p99, server CPU, requests per server
CPU-second, and the shares of the server's perf samples in the allocator
(user space, and kernel entered from it), page faults and madvise.

  --rounds R        rounds over the allocators (default $rounds)
  --duration S      seconds per wrk run, at least 2 (default $duration); each
                    server also gets one ${warmup} s warm-up run, not counted
  --out DIR         results folder (default results/bench-<date>/)
  --allocators LIST which allocators (default "$allocators")
  --connections C   wrk connections (default $conns)
  --server-cpu N    CPU for the servers (default $server_cpu)
  --client-cpu N    CPU for wrk and perf (default $client_cpu)
  --help            this text

Writes DIR/alloc-share.csv and the same table as .txt; DIR/alloc-share/ holds
every wrk output, perf.data, perf report (top symbols), the allocator symbols
counted per run, the servers' logs and /stats after the load.
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
    --allocators) [ -n "${2-}" ] || die "--allocators needs a list"; allocators=$2; shift ;;
    *) common_option "$1" "${2-}"; shift ;; # --rounds, --duration, --out, --connections, --*-cpu, --help
    esac
    shift
done

# --- prerequisites ----------------------------------------------------------

[ "$duration" -ge 2 ] || die "--duration must be at least 2 (perf records duration-1 s inside each run), got $duration"
for a in $allocators; do
    case $a in glibc | jemalloc | mimalloc | tcmalloc) ;;
    *) die "--allocators takes glibc, jemalloc, mimalloc and tcmalloc (their samples are told apart by library), got '$a'" ;;
    esac
done
[ -n "${allocators// /}" ] || die "--allocators is empty"
[ -x "$server_bin" ] || die "$server_bin not found: build it first with scripts/build.sh build"
command -v wrk >/dev/null || die "wrk not found: install it with scripts/deps.sh"
command -v perf >/dev/null || die "perf not found: install it (Debian: apt-get install linux-perf)"
for t in taskset curl timeout ss awk column; do command -v $t >/dev/null || die "$t not found"; done
check_cpus

hz=$(getconf CLK_TCK)
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo unknown)
setup_cleanup # $tmp, and every process started from here on is stopped on exit

# perf must sample the kernel too (page faults, madvise). Without the right
# to, perf record silently falls back to user space only (exclude_kernel),
# so try it and read back what it recorded.
if ! perf record -q -N -F "$perf_hz" -g -o "$tmp/probe.data" -- true >"$tmp/probe.log" 2>&1; then
    die "perf cannot record (kernel.perf_event_paranoid is $paranoid): $(grep -v '^ *$' "$tmp/probe.log" | head -1)"
fi
perf evlist -v -i "$tmp/probe.data" >"$tmp/probe.evlist" 2>&1 ||
    die "perf evlist cannot read perf record's output: $(head -1 "$tmp/probe.evlist")"
if grep -q 'exclude_kernel: 1' "$tmp/probe.evlist"; then
    die "perf records user space only here (kernel.perf_event_paranoid is $paranoid): run as root or set it to 1 or less (sysctl -w kernel.perf_event_paranoid=1)"
fi
perf_event=$(awk -F: 'NR == 1 { print $1 }' "$tmp/probe.evlist")

stamp=$(date +%Y%m%d-%H%M%S)
out=${out:-$root/results/bench-$stamp}
mkdir -p "$out"
csv=$out/alloc-share.csv
txt=$out/alloc-share.txt
rows=$out/.alloc-share.rows # one line per counted run, tab-separated
raw=$out/alloc-share # wrk outputs, perf data and reports, logs, /stats
mkdir -p "$raw"

# --- servers -----------------------------------------------------------------

wait_ready() { wait_ok "$@"; } # lib.sh's nginx start calls it

# --- one run -------------------------------------------------------------------

# The server's samples, from `perf script` (one pass, call chains included):
#   alloc: leaf frame in the allocator's user-space code: for jemalloc,
#     mimalloc and tcmalloc any symbol of libjemalloc.so*, libmimalloc.so*,
#     libtcmalloc*.so*; for glibc the malloc implementation's symbols in
#     libc.so.6 (glibc_re below; memcpy, memset and the like are not counted,
#     under any allocator).
#   kern: leaf in the kernel, entered by a syscall or an exception (a page
#     fault), not an interrupt (the timer's preemption, softirq work: they
#     strike wherever user space happens to be), and the first user-space
#     frame of the chain is allocator code as above or a libc memory-syscall
#     wrapper (madvise, mmap, munmap, mremap, mprotect, brk, sbrk: in steady
#     state only the allocator calls them). Faults on memory the allocator
#     handed out but the server touches first are the server's (its memcpy),
#     not counted here.
#   fault: asm_exc_page_fault anywhere in the chain (every page fault, from
#     user space or from the kernel touching user memory).
#   madvise / mm: a madvise syscall, or an mmap, munmap, mremap, mprotect or
#     brk syscall, anywhere in the chain.
# Frame-pointer chains stop or go astray in code built without them (libc,
# the allocators); the kernel's own part and the first user frame, which all
# these rules use, come from saved registers and are exact. The symbols
# counted (and libc's not counted) are listed per run in alloc-syms-*.txt:
# check there that glibc_re still matches what perf names (glibc 2.36 shows
# malloc, cfree@GLIBC_2.2.5, _int_free, _int_malloc).
# profile FILE ALLOC SYMS: prints "samples alloc kern fault madvise mm" (counts)
# and writes the user-space leaf symbols of libc and the allocator, counted or
# not, and the first user frames of the counted kernel samples, to SYMS.
profile() {
    local f=$1 alloc=$2 syms=$3
    nice -n 10 perf script -i "$f" -F tid,ip,sym,dso --no-inline 2>"$tmp/script.err" |
        awk -v alloc="$alloc" -v syms="$syms" '
        BEGIN {
            glibc_re = "^(malloc|free|cfree|calloc|realloc|reallocarray|memalign|aligned_alloc|posix_memalign|valloc|pvalloc|" \
                "malloc_usable_size|malloc_trim|mallinfo2?|mallopt|malloc_info|malloc_stats|" \
                "__libc_(malloc|free|calloc|realloc|memalign|valloc|pvalloc|mallinfo2?|mallopt|reallocarray)|" \
                "__malloc_[a-z_]+|__posix_memalign|__reallocarray|_int_[a-z_]+|_mid_memalign|tcache_[a-z_]+|arena_[a-z_0-9]+|" \
                "malloc_consolidate|unlink_chunk|sysmalloc(_mmap|_mmap_fallback)?|systrim|mremap_chunk|munmap_chunk|" \
                "heap_trim|shrink_heap|grow_heap|new_heap|alloc_new_heap|alloc_perturb|free_perturb|detach_arena|" \
                "get_free_list|reused_arena|musable|mtrim|int_mallinfo|ptmalloc_init|malloc_init_state|malloc_printerr|" \
                "do_set_[a-z_]+|[a-z_]+_check|[a-z_]+_hook_ini)$"
            dso_re = alloc == "jemalloc" ? "^libjemalloc\\.so" : alloc == "mimalloc" ? "^libmimalloc\\.so" : "^libtcmalloc.*\\.so"
            wrap_re = "^_*(madvise|mmap|mmap64|munmap|mremap|mprotect|brk|sbrk)$"
            entry_re = "^(entry_SYSCALL_64.*|asm_exc_[a-z_]+)$" # not interrupts: they strike anywhere
            fault_re = "^asm_exc_page_fault$"
            madv_re = "^((__x64|__ia32|__do|__se)_sys_(process_)?madvise|do_madvise|vector_madvise)$"
            mm_re = "^(__x64|__ia32|__do|__se)_sys_(mmap|munmap|mremap|mprotect|brk)$"
        }
        function base(d) { sub(/.*\//, "", d); return d }
        function kernel(d) { return d ~ /^\[/ && d !~ /^\[(unknown|vdso|vsyscall|heap|stack|anon)/ }
        function plain(s) { # unlink_chunk.isra.0 -> unlink_chunk
            sub(/@.*$/, "", s) # free@GLIBC_2.2.5
            while (sub(/\.(isra|part|constprop|cold|lto_priv|localalias)(\.[0-9]+)?$/, "", s)) {}
            return s
        }
        function is_alloc(sym, dso) {
            if (alloc == "glibc") return dso == "libc.so.6" && plain(sym) ~ glibc_re
            return dso ~ dso_re
        }
        function frame(line) { # "ffffffff81000c82 asm_exc_page_fault ([kernel.kallsyms])"
            sub(/^[ \t]+/, "", line)
            if (line == "") return
            n++; sym[n] = line; dso[n] = "[unknown]"
            sub(/^[^ ]+ /, "", sym[n])
            if (match(sym[n], / \([^()]*\)$/)) {
                dso[n] = base(substr(sym[n], RSTART + 2, RLENGTH - 3))
                sym[n] = substr(sym[n], 1, RSTART - 1)
            }
        }
        function flush(   i, u, a, flt, mad, mm) {
            if (n == 0) return
            total++
            if (!kernel(dso[1])) {
                a = is_alloc(sym[1], dso[1])
                nalloc += a
                if (dso[1] == "libc.so.6" || a) tally[(a ? "counted" : "not") "\tuser\t" dso[1] "\t" sym[1]]++
            } else {
                for (u = 2; u <= n && kernel(dso[u]); u++) {}
                if (u <= n && sym[u - 1] ~ entry_re &&
                    (is_alloc(sym[u], dso[u]) || (dso[u] == "libc.so.6" && sym[u] ~ wrap_re))) {
                    nkern++
                    tally["counted\tkernel-from\t" dso[u] "\t" sym[u]]++
                }
            }
            for (i = 1; i <= n; i++) {
                if (!kernel(dso[i])) continue
                if (sym[i] ~ fault_re) flt = 1
                if (sym[i] ~ madv_re) mad = 1
                if (sym[i] ~ mm_re) mm = 1
            }
            nfault += flt; nmadv += mad; nmm += mm
            n = 0
        }
        /^$/ { flush(); next }
        /^\t/ { frame($0); next }
        { flush(); sub(/^ *[0-9]+ */, ""); frame($0) } # "TID" alone, or "TID ip sym (dso)" without a chain
        END {
            flush()
            printf "%d %d %d %d %d %d\n", total, nalloc, nkern, nfault, nmadv, nmm
            for (k in tally) printf "%d\t%s\n", tally[k], k | "sort -t \"\t\" -k1,1nr > \"" syms "\""
        }'
}

# measure ALLOC PORT SECONDS PID ROUND: one wrk run, and for a counted round a
# perf recording inside it; appends the row to $rows and prints a summary.
measure() {
    local alloc=$1 port=$2 secs=$3 pid=$4 round=$5 tag=$1-$5
    local f=$raw/wrk-$tag.txt pdata=$raw/perf-$tag.data t0 t1 c0 c1 k0 k1 l0 l1 w0 wrk_pid rc=0
    local args=(-t1 "-c$conns" "-d${secs}s" --latency "http://127.0.0.1:$port$work_path")
    echo "# taskset -c $client_cpu wrk ${args[*]}" >"$f"
    c0=$(cpu_ticks "$pid") || die "fraglab-server ($alloc, pid $pid) is gone before round $round"
    k0=$(core_ticks "$server_cpu")
    l0=$(core_ticks "$client_cpu")
    children_cpu
    w0=$children_s
    t0=$(now)
    timeout -k 5 $((secs + 15)) taskset -c "$client_cpu" wrk "${args[@]}" >>"$f" 2>&1 &
    wrk_pid=$!
    started+=("$wrk_pid")
    if [ "$round" != warmup ]; then
        sleep "$perf_delay"
        timeout --foreground -k 5 $((secs + 10)) taskset -c "$client_cpu" \
            perf record -q -N -F "$perf_hz" -g -p "$pid" -o "$pdata" -- sleep $((secs - 1)) \
            >"$raw/perf-$tag.log" 2>&1 || rc=$?
    fi
    wait "$wrk_pid" || echo "$prog: warning: wrk exited non-zero against fraglab ($alloc), see $f" >&2
    unset 'started[-1]'
    t1=$(now)
    children_cpu
    l1=$(core_ticks "$client_cpu")
    k1=$(core_ticks "$server_cpu")
    c1=$(cpu_ticks "$pid") || die "fraglab-server ($alloc, pid $pid) died during round $round; see $raw"
    [ "$round" = warmup ] && return 0
    if [ "$rc" -ne 0 ] || [ ! -s "$pdata" ]; then
        die "perf record of fraglab ($alloc, pid $pid) failed (status $rc): $(tail -2 "$raw/perf-$tag.log")"
    fi

    local reqs rps p99 errs prof
    reqs=$(awk '/ requests in / { print $1 }' "$f")
    rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$f")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$f")")
    [ "$p99" = 0 ] && p99=NA # wrk 4.1's 0.00us percentiles (see server-efficiency.sh)
    errs=$(awk '/Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
                /Non-2xx or 3xx responses:/ { e += $NF } END { print e + 0 }' "$f")
    if [ -z "$reqs" ] || [ -z "$rps" ]; then die "could not read wrk's output in $f"; fi
    prof=$(profile "$pdata" "$alloc" "$raw/alloc-syms-$tag.txt") ||
        die "perf script failed on $pdata: $(head -2 "$tmp/script.err")"
    nice -n 10 perf report -i "$pdata" --no-children --sort dso,sym --stdio -g none \
        --percent-limit 0.3 >"$raw/report-$tag.txt" 2>/dev/null || true

    row=$(awk -v OFS='\t' -v alloc="$alloc" -v round="$round" -v reqs="$reqs" -v rps="$rps" \
        -v p99="$p99" -v errs="$errs" -v prof="$prof" -v dc=$((c1 - c0)) -v dk=$((k1 - k0)) \
        -v dl=$((l1 - l0)) -v dw="$(awk -v a="$w0" -v b="$children_s" 'BEGIN { print b - a }')" \
        -v hz="$hz" -v t0="$t0" -v t1="$t1" -v phz="$perf_hz" -v win=$((secs - 1)) 'BEGIN {
        split(prof, p, " "); n = p[1]
        cpu = dc / hz; wall = t1 - t0
        eff = cpu > 0 ? sprintf("%.0f", reqs / cpu) : "NA"
        # The server on CPU during the perf window as perf saw it (each
        # sample stands for 1/phz s of its threads running), to set beside
        # cpu_pct (utime + stime over the whole run): see the header.
        pcpu = sprintf("%.0f", 100 * n / phz / win)
        for (i = 2; i <= 6; i++) pct[i] = n > 0 ? sprintf("%.2f", 100 * p[i] / n) : "NA"
        # The allocator CPU per request: its share (user + kernel entered
        # from it) of the server CPU per request, assuming the perf window,
        # the middle of the run, stands for the whole run.
        us = (n > 0 && reqs > 0) ? sprintf("%.3f", (p[2] + p[3]) / n * cpu / reqs * 1e6) : "NA"
        # Busy time on the two CPUs that neither the server nor wrk and perf
        # were charged for, in % of one CPU (see server-efficiency.sh).
        other = 100 * ((dk + dl) / hz - cpu - dw) / wall
        print alloc, round, reqs, sprintf("%.0f", rps), p99, sprintf("%.2f", cpu), \
              sprintf("%.0f", 100 * cpu / wall), eff, n, pcpu, pct[2], pct[3], pct[4], pct[5], pct[6], us, \
              sprintf("%.0f", other < 0 ? 0 : other), errs }')
    printf '%s\n' "$row" >>"$rows"
    awk -F'\t' -v prog="$prog" '{
        printf "  %-9s round %-2s %8s req/s  p99 %6s us  CPU %3s%%  %7s req/CPU-s  %5s samples  alloc %5s%% + kernel %5s%%  faults %5s%%  madvise %5s%%  %s errors\n", $1, $2, $4, $5, $7, $8, $9, $11, $12, $13, $14, $18
        if ($9 < 500) printf "%s: warning: only %s perf samples in this run; its shares are rough\n", prog, $9 > "/dev/stderr"
        if ($17 > 10) printf "%s: warning: other processes used %s%% of a CPU during this run\n", prog, $17 > "/dev/stderr" }' <<<"$row"
}

# --- the run -----------------------------------------------------------------

echo "$prog: results in $out"
check_idle
{
    echo "# $(date -Is)  $(uname -sr)  nproc $(nproc)  $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)  $(perf version 2>&1 | head -1)"
    echo "# servers on CPU $server_cpu, wrk -t1 -c$conns and perf on CPU $client_cpu, ${duration} s x $rounds rounds, perf record -F $perf_hz -g ($perf_event) for $((duration - 1)) s from ${perf_delay} s into each run"
} >"$raw/env.txt"

allocs=() ports=() pids=()
for a in $allocators; do
    start_fraglab "$a"
    allocs+=("$a") ports+=("$fraglab_port") pids+=("$fraglab_pid")
done

n=${#allocs[@]}
echo "$prog: $n server(s) up; about $((n * (warmup + rounds * (duration + 2)))) s to go"
for ((i = 0; i < n; i++)); do
    echo "  fraglab (${allocs[i]}): pid ${pids[i]} on port ${ports[i]}, CPUs $(taskset -pc "${pids[i]}" | awk '{ print $NF }')"
done
for ((i = 0; i < n; i++)); do # warm-up, not counted
    measure "${allocs[i]}" "${ports[i]}" "$warmup" "${pids[i]}" warmup
done
for ((r = 1; r <= rounds; r++)); do
    for ((i = 0; i < n; i++)); do
        measure "${allocs[i]}" "${ports[i]}" "$duration" "${pids[i]}" "$r"
    done
done

for ((i = 0; i < n; i++)); do
    curl -sf --max-time 2 "http://127.0.0.1:${ports[i]}/stats" >"$raw/fraglab-${allocs[i]}-stats.json" ||
        echo "$prog: warning: GET /stats failed on fraglab (${allocs[i]})" >&2
done

# --- medians, table, CSV -------------------------------------------------------

# Rows: 1 alloc, 2 round, 3 requests, 4 req_s, 5 p99_us, 6 cpu_s, 7 cpu_pct,
# 8 req_per_cpu_s, 9 samples, 10 perf_cpu_pct, 11 alloc_pct, 12 alloc_kernel_pct,
# 13 fault_pct, 14 madvise_pct, 15 mm_pct, 16 alloc_us_per_req, 17 other_pct, 18 errors
summarize() {
    awk -F'\t' -v OFS=',' -v dur="$duration" '
    function median(key, col,   n, i, j, t, a) { # rounds without a figure ("NA") left out
        n = 0
        for (i = 1; i <= cnt[key]; i++) if (v[key, i, col] != "NA") a[++n] = v[key, i, col] + 0
        if (n == 0) return "NA"
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(x, f) { return x == "NA" ? "NA" : sprintf(f, x) }
    {
        key = $1
        if (!(key in cnt)) order[++nk] = key
        c = ++cnt[key]
        for (k = 3; k <= 17; k++) v[key, c, k] = $k
        errs[key] += $18
        $3 = dur OFS $3
        print
    }
    END {
        split("%.0f %.0f %.0f %.2f %.0f %.0f %.0f %.0f %.2f %.2f %.2f %.2f %.2f %.3f %.0f", form, " ")
        for (i = 1; i <= nk; i++) {
            key = order[i]
            line = key OFS "median" OFS dur
            for (k = 3; k <= 17; k++) line = line OFS fmt(median(key, k), form[k - 2])
            print line, errs[key]
        }
    }' "$rows"
}

{
    echo "allocator,round,duration_s,requests,req_per_s,p99_us,server_cpu_s,server_cpu_pct,req_per_cpu_s,perf_samples,perf_cpu_pct,alloc_user_pct,alloc_kernel_pct,page_fault_pct,madvise_pct,mmap_brk_pct,alloc_us_per_req,other_pct,errors"
    summarize
} >"$csv"

{
    cat "$raw/env.txt"
    echo "# alloc_%: samples in the allocator's own code; +kern_%: in the kernel entered from it; fault_%, madvise_%, mmap_%: under page faults, madvise, mmap/munmap/mremap/mprotect/brk (all in % of the server's samples)"
    {
        printf 'allocator\tround\treq/s\tp99_us\tcpu_%%\treq/cpu_s\tsamples\talloc_%%\t+kern_%%\tfault_%%\tmadvise_%%\tmmap_%%\talloc_us/req\tother_%%\terrors\n'
        awk -F',' -v OFS='\t' 'NR > 1 { print $1, $2, $5, $6, $8, $9, $10, $12, $13, $14, $15, $16, $17, $18, $19 }' "$csv"
    } | column -t -s $'\t'
} >"$txt"
echo
cat "$txt"
echo
echo "$prog: wrote $csv and $txt"
