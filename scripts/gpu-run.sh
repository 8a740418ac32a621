#!/usr/bin/env bash
# GPU machine, one go: configure (preset gpu-compute, GoogleTest from the carried .gpu-deps), build
# the CUDA targets, run test_kernels, optionally compute-sanitizer, then the benchmarks. Logs go to
# $OUT (or artifacts/gpu-run here). Usage: scripts/gpu-run.sh [test|sanitize|bench|sparse|overview|view|cli|all]...
# (default: test bench). sparse: bench_block_sparse.py, the block-sparse forward against our dense
# forward with both Hopper forward kernels side by side (batched launches, interleaved rounds). overview: bench_overview over the whole model (32 layers, 8K) and the
# PyTorch script over OVERVIEW_TORCH_LAYERS layers (default 4; its time per head is constant).
# view: bench_head_switch, the map view's head switch at 32K (TARGETS.md: first view <= 150 ms).
# cli: also builds the HDF5 part (headers carried in .gpu-deps/hdf5/include, linked against the
# machine's own libhdf5_serial.so.103; stb from Debian's libstb-dev in .gpu-deps/stb), writes a
# synthetic Llama-shaped capture (32 layers, 32/8 heads, d 128, 8192 tokens, bf16; seeded random
# values, not a trained model) and times
# `attnscope-cli overview --backend cuda` on it end to end, file in the page cache.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/artifacts/gpu-run}
mkdir -p "$OUT"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(test bench)
has() { for s in "${steps[@]}"; do [ "$s" = "$1" ] || [ "$s" = all ] && return 0; done; return 1; }

DEPS="$PWD/.gpu-deps/root/usr/lib/x86_64-linux-gnu/cmake;$PWD/.gpu-deps/root/usr/share/cmake"
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.txt"
# The device machine's copy of .git can lag behind the working tree it runs (seen 2026-12-07), so
# the commit is named from here: ATTNSCOPE_COMMIT=<hash> scripts/gpu-run.sh ... (benchmarks print it).
export ATTNSCOPE_COMMIT=${ATTNSCOPE_COMMIT:-"$(git rev-parse --short HEAD 2>/dev/null) (the device's .git, may be stale)"}
echo "commit: $ATTNSCOPE_COMMIT" | tee -a "$OUT/device.txt"

start=$(date +%s)
hdf5=(-DATTNSCOPE_WITH_HDF5=OFF)
if has cli || has samples; then
    lib=$(ls /usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103* 2>/dev/null | head -1)
    [ -n "$lib" ] && [ -d .gpu-deps/hdf5/include ] || { echo "cli, samples: need .gpu-deps/hdf5/include and the machine's libhdf5_serial.so.103"; exit 1; }
    mkdir -p .gpu-deps/hdf5/lib && ln -sf "$lib" .gpu-deps/hdf5/lib/libhdf5.so
    export PKG_CONFIG_PATH=$PWD/.gpu-deps/stb/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}  # Debian's libstb-dev
    hdf5=(-DATTNSCOPE_WITH_HDF5=ON -DHDF5_ROOT="$PWD/.gpu-deps/hdf5" -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON
          -DHDF5_C_COMPILER_EXECUTABLE=HDF5_C_COMPILER_EXECUTABLE-NOTFOUND)
fi
cmake --preset gpu-compute -DCMAKE_PREFIX_PATH="$DEPS" "${hdf5[@]}" >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
targets=(test_kernels)
has bench && targets+=(attnscope_layer_capi bench_gpu_tile)
has sparse && targets+=(attnscope_layer_capi)
has overview && targets+=(bench_overview)
has view && targets+=(bench_head_switch)
has samples && targets+=(test_gpu_samples)
has cli && targets+=(attnscope-cli attnscope-synthetic-capture attnscope-bench-load-layer)
cmake --build build-gpu -j"$(nproc)" --target "${targets[@]}" >"$OUT/build.log" 2>&1 || { grep -E "error|FAILED" "$OUT/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - start )) s"

status=0
if has test; then
    # A kernel that hangs (a pipeline waiting on a barrier nobody completes) must not eat the call.
    timeout "${GPU_TEST_TIMEOUT:-420}" ./build-gpu/tests/kernels/test_kernels --gtest_brief=1 ${GPU_TEST_FILTER:+--gtest_filter=$GPU_TEST_FILTER} 2>&1 | tee "$OUT/test.log" | tail -40
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
if has samples; then
    ATTNSCOPE_SAMPLES_DIR=$PWD/resources/samples timeout "${GPU_TEST_TIMEOUT:-420}" ./build-gpu/tests/kernels/test_gpu_samples \
        --gtest_brief=1 2>&1 | tee "$OUT/test-samples.log" | tail -20
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
if has sanitize; then
    # memcheck over the whole suite (small shapes); racecheck over one case of each kernel family
    # (scripts/gpu-racecheck-cases.txt: one GoogleTest filter, shared with gpu-prebuilt.sh).
    # (the out-of-memory test is left out: its failing cudaMalloc is reported as an API error by design)
    compute-sanitizer --tool memcheck --error-exitcode 9 ./build-gpu/tests/kernels/test_kernels --gtest_brief=1 \
        --gtest_filter='-*OutOfMemory*' \
        >"$OUT/sanitize-memcheck.log" 2>&1; echo "memcheck exit $?"; grep -E "ERROR SUMMARY|Invalid|PASSED|FAILED" "$OUT/sanitize-memcheck.log" | tail -8
    compute-sanitizer --tool racecheck --error-exitcode 9 ./build-gpu/tests/kernels/test_kernels --gtest_brief=1 \
        --gtest_filter="$(cat scripts/gpu-racecheck-cases.txt)" \
        >"$OUT/sanitize-racecheck.log" 2>&1; echo "racecheck exit $?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|hazard" "$OUT/sanitize-racecheck.log" | tail -5
fi
if has bench; then
    ./build-gpu/bench/gpu/bench_gpu_tile 2>&1 | tee "$OUT/bench-tile.log"
    PYTHONUNBUFFERED=1 python3 bench/gpu/bench_attention.py --lib build-gpu/bench/gpu/libattnscope_layer_capi.so \
        --json "$OUT/bench-attention.json" ${BENCH_SEQ:+--seq $BENCH_SEQ} 2>&1 | tee "$OUT/bench-attention.log" | tail -40
fi
if has sparse; then
    PYTHONUNBUFFERED=1 timeout "${GPU_TEST_TIMEOUT:-420}" python3 bench/gpu/bench_block_sparse.py --lib build-gpu/bench/gpu/libattnscope_layer_capi.so \
        --json "$OUT/bench-block-sparse.json" ${BENCH_SEQ:+--seq $BENCH_SEQ} 2>&1 | tee "$OUT/bench-block-sparse.log" | tail -40
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
if has overview; then
    ./build-gpu/bench/gpu/bench_overview 32 8192 layer 2>&1 | tee "$OUT/overview-layer.log" | grep -v "layer .* done"
    ./build-gpu/bench/gpu/bench_overview 4 8192 backend 2>&1 | tee "$OUT/overview-backend.log" | grep -v "layer .* done"
    PYTHONUNBUFFERED=1 python3 bench/gpu/overview_pytorch.py "${OVERVIEW_TORCH_LAYERS:-4}" 8192 2>&1 \
        | tee "$OUT/overview-pytorch.log" | grep -v "layer .* done"
fi
if has view; then
    ./build-gpu/bench/gpu/bench_head_switch 32768 2>&1 | tee "$OUT/head-switch.log"
fi
if has cli; then
    capture=/tmp/llama-shape-8k.h5
    t0=$(date +%s.%N)
    ./build-gpu/bench/cpu/attnscope-synthetic-capture "$capture" 8192 128 32 32 8 bfloat16 >"$OUT/capture.log" 2>&1 || { tail "$OUT/capture.log"; exit 1; }
    echo "synthetic capture written in $(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $t0 }") s: $(du -h "$capture" | cut -f1)"
    cat "$capture" >/dev/null  # page cache
    ./build-gpu/bench/cpu/attnscope-bench-load-layer "$capture" 2 reuse 2>&1 | tee "$OUT/load-layer.log" | tail -3
    for run in 1 2 3; do
        t0=$(date +%s.%N)
        ./build-gpu/app/attnscope-cli overview "$capture" --backend cuda --csv >"$OUT/overview-cli-$run.csv" 2>"$OUT/overview-cli-$run.err" || { tail "$OUT/overview-cli-$run.err"; status=1; }
        echo "attnscope-cli overview --backend cuda, run $run: $(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $t0 }") s wall"
    done
    head -3 "$OUT/overview-cli-1.csv"
fi
echo "total: $(( $(date +%s) - start )) s"
exit $status
