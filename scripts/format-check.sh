#!/usr/bin/env bash
# Fails if clang-format would change any of our C sources.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -co --exclude-standard '*.c' '*.h' | xargs clang-format --dry-run --Werror
