#!/usr/bin/env bash
# Installs fraglab's build and test dependencies from Debian 12 packages.
# Idempotent: apt is skipped entirely when every package is already present.
set -euo pipefail

pkgs=(
    build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
    liburing-dev libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
    node-llhttp libinih-dev libcjson-dev libcmocka-dev
    curl wrk gnuplot-nox python3 chromium
)
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
