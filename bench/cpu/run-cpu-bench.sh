#!/usr/bin/env bash
# One run, same machine: the CPU engine (Google Benchmark) and the PyTorch CPU baseline on the same
# shapes (synthetic inputs). Usage: bench/cpu/run-cpu-bench.sh [build-dir]
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="${1:-$repo_root/build}"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "commit: $(git -C "$repo_root" rev-parse --short HEAD), date: $(date -u +%F)"
"$build/bench/cpu/bench_cpu_engine" --benchmark_filter='BM_Statistics' --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true
venv=$("$repo_root/scripts/python-env.sh")
"$venv/bin/python" "$repo_root/bench/cpu/pytorch_cpu_baseline.py" 2048 8192
