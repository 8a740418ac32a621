#!/usr/bin/env bash
# GPU machine, one go: configure (preset gpu-compute, GoogleTest from the carried .gpu-deps), build
# the CUDA targets, run test_kernels, optionally compute-sanitizer, then the benchmarks. Logs go to
# $OUT (or artifacts/gpu-run here). Usage: scripts/gpu-run.sh [test|sanitize|bench|overview|all]...
# (default: test bench). overview: bench_overview over the whole model (32 layers, 8K) and the
# PyTorch script over OVERVIEW_TORCH_LAYERS layers (default 4; its time per head is constant).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/artifacts/gpu-run}
mkdir -p "$OUT"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(test bench)
has() { for s in "${steps[@]}"; do [ "$s" = "$1" ] || [ "$s" = all ] && return 0; done; return 1; }

DEPS=$PWD/.gpu-deps/root/usr/lib/x86_64-linux-gnu/cmake
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.txt"
git rev-parse --short HEAD 2>/dev/null | tee -a "$OUT/device.txt"

start=$(date +%s)
cmake --preset gpu-compute -DCMAKE_PREFIX_PATH="$DEPS" >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
targets=(test_kernels)
has bench && targets+=(attnscope_layer_capi bench_gpu_tile)
has overview && targets+=(bench_overview)
cmake --build build-gpu -j"$(nproc)" --target "${targets[@]}" >"$OUT/build.log" 2>&1 || { grep -E "error|FAILED" "$OUT/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - start )) s"

status=0
if has test; then
    ./build-gpu/tests/kernels/test_kernels --gtest_brief=1 2>&1 | tee "$OUT/test.log" | tail -40
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
if has sanitize; then
    # memcheck over the whole suite (small shapes); racecheck over one case of each kernel family.
    # (the out-of-memory test is left out: its failing cudaMalloc is reported as an API error by design)
    compute-sanitizer --tool memcheck --error-exitcode 9 ./build-gpu/tests/kernels/test_kernels --gtest_brief=1 \
        --gtest_filter='-*OutOfMemory*' \
        >"$OUT/sanitize-memcheck.log" 2>&1; echo "memcheck exit $?"; grep -E "ERROR SUMMARY|Invalid|PASSED|FAILED" "$OUT/sanitize-memcheck.log" | tail -8
    compute-sanitizer --tool racecheck --error-exitcode 9 ./build-gpu/tests/kernels/test_kernels --gtest_brief=1 \
        --gtest_filter='Cases/GpuStatistics.MatchesCpuReference/3:Cases/GpuTiles.DenseMatchesCpuReference/1:Cases/GpuTopK.ThresholdsMatchCpuReference/1:Cases/GpuVariants.EvaluationMatchesCpuReference/2' \
        >"$OUT/sanitize-racecheck.log" 2>&1; echo "racecheck exit $?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|hazard" "$OUT/sanitize-racecheck.log" | tail -5
fi
if has bench; then
    ./build-gpu/bench/gpu/bench_gpu_tile 2>&1 | tee "$OUT/bench-tile.log"
    PYTHONUNBUFFERED=1 python3 bench/gpu/bench_attention.py --lib build-gpu/bench/gpu/libattnscope_layer_capi.so \
        --json "$OUT/bench-attention.json" ${BENCH_SEQ:+--seq $BENCH_SEQ} 2>&1 | tee "$OUT/bench-attention.log" | tail -40
fi
if has overview; then
    ./build-gpu/bench/gpu/bench_overview 32 8192 layer 2>&1 | tee "$OUT/overview-layer.log" | grep -v "layer .* done"
    ./build-gpu/bench/gpu/bench_overview 4 8192 backend 2>&1 | tee "$OUT/overview-backend.log" | grep -v "layer .* done"
    PYTHONUNBUFFERED=1 python3 bench/gpu/overview_pytorch.py "${OVERVIEW_TORCH_LAYERS:-4}" 8192 2>&1 \
        | tee "$OUT/overview-pytorch.log" | grep -v "layer .* done"
fi
echo "total: $(( $(date +%s) - start )) s"
exit $status
