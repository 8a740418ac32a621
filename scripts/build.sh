#!/usr/bin/env bash
# Configures and builds AttnScope in build/ (CMake preset "default": Release, CUDA when nvcc is
# found in /usr/local/cuda or on PATH). Extra arguments go to the configure step.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
[ -d /usr/local/cuda/bin ] && export PATH="/usr/local/cuda/bin:$PATH"
cmake --preset default "$@" >&2
cmake --build --preset default -j "$(nproc)" >&2
