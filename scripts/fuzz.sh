#!/usr/bin/env bash
# scripts/fuzz.sh [http|config] [SECONDS] [JOBS] - fuzz one harness of
# tests/fuzz with libFuzzer (clang, ASan+UBSan) for SECONDS (default 600)
# with JOBS processes (default 1). Builds build-fuzz first. The working
# corpus is results/fuzz/NAME/corpus, seeded from tests/fuzz/corpus/NAME
# (which it never changes); a finding is written as
# results/fuzz/NAME/crash-* and the exit is non-zero. To keep new seeds:
#   build-fuzz/bin/fuzz_NAME -merge=1 tests/fuzz/corpus/NAME results/fuzz/NAME/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-http} secs=${2:-600} jobs=${3:-1}
case $name in http | config) ;; *) echo "fuzz.sh: harness is http or config, not '$name'" >&2; exit 2 ;; esac
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a whole number > 0" >&2; exit 2; }
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: JOBS must be a whole number > 0" >&2; exit 2; }
command -v clang >/dev/null || { echo "fuzz.sh: clang missing: scripts/deps.sh installs it" >&2; exit 1; }

if [ ! -f build-fuzz/CMakeCache.txt ]; then
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFRAGLAB_FUZZ=ON \
        -DFRAGLAB_SANITIZE=address,undefined >/dev/null
fi
cmake --build build-fuzz -j"$(nproc)" --target "fuzz_$name" >/dev/null

out=results/fuzz/$name
mkdir -p "$out/corpus"
cp -n tests/fuzz/corpus/"$name"/* "$out/corpus/" 2>/dev/null || true
echo "fuzz.sh: fuzz_$name for $secs s, $jobs job(s); corpus $out/corpus" >&2
# -rss_limit_mb: the harness itself stays small; a leak or a runaway
# allocation is a finding. Run in $out: with several jobs libFuzzer writes
# fuzz-N.log files to the current folder.
root=$PWD
par=()
[ "$jobs" -gt 1 ] && par=(-jobs="$jobs" -workers="$jobs")
cd "$out"
exec "$root/build-fuzz/bin/fuzz_$name" corpus -dict="$root/tests/fuzz/$name.dict" \
    -max_total_time="$secs" "${par[@]}" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix=./ -print_final_stats=1
