#!/usr/bin/env bash
# Installs fraglab's dependencies from Debian 12 packages.
#   scripts/deps.sh            build, test and benchmark tools (the default)
#   scripts/deps.sh --build    only what compiling needs (docker/Dockerfile's build stage)
#   scripts/deps.sh --runtime  only what the two binaries need to run, with
#                              every allocator, gnuplot and libjs-dygraphs (the
#                              report's charts, inlined into index.html)
# Idempotent: apt is skipped entirely when every package is already present.
set -euo pipefail

build=(
    build-essential cmake pkg-config
    liburing-dev libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
    node-llhttp libinih-dev libcjson-dev libcmocka-dev
)
# prometheus: tests/docker/suite_prometheus.py runs its binary with a config
# of its own (the package's service is not used).
tools=(
    clang clang-format libclang-rt-14-dev
    curl wrk gnuplot-nox libjs-dygraphs python3 python3-yaml chromium prometheus
)
runtime=(
    liburing2 libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 libinih1 libcjson1
    gnuplot-nox libjs-dygraphs ca-certificates
)
case ${1:-} in
"") pkgs=("${build[@]}" "${tools[@]}") ;;
--build) pkgs=("${build[@]}") ;;
--runtime) pkgs=("${runtime[@]}") ;;
*) echo "deps.sh: unknown option '$1' (--build or --runtime)" >&2; exit 2 ;;
esac
# Extra tools some steps need: FRAGLAB_DEPS_EXTRA="nginx-light" scripts/deps.sh
read -r -a extra <<<"${FRAGLAB_DEPS_EXTRA:-}"
pkgs+=("${extra[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages (${missing[*]}); run as root or install them" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
