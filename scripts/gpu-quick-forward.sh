#!/usr/bin/env bash
# GPU machine: the forward kernels' tests only, quickly (a forward change before the full
# scripts/gpu-run.sh test sanitize): builds test_kernels for head dims 64, 96 and 128 (about 2-3
# minutes instead of 4), runs every GpuLayerForward case and racecheck over the capped-grid and
# partial-last-round cases of the warp-specialized kernel. Logs go to $OUT (or artifacts/gpu-quick).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/artifacts/gpu-quick}
mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH
deps=$PWD/.gpu-deps/root/usr/lib/x86_64-linux-gnu/cmake
start=$(date +%s)
cmake --preset gpu-compute -B build-quick -DCMAKE_PREFIX_PATH="$deps" -DATTNSCOPE_CUDA_HEAD_DIMS="64;96;128" \
    >"$OUT/quick-configure.log" 2>&1 || { tail -30 "$OUT/quick-configure.log"; exit 1; }
cmake --build build-quick -j"$(nproc)" --target test_kernels >"$OUT/quick-build.log" 2>&1 ||
    { grep -E "error|FAILED" "$OUT/quick-build.log" | head -40; exit 1; }
echo "quick build: $(( $(date +%s) - start )) s"
status=0
timeout 300 ./build-quick/tests/kernels/test_kernels --gtest_brief=1 --gtest_filter='*GpuLayerForward*' 2>&1 |
    tee "$OUT/quick-test.log" | tail -30
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
# The warp-specialized kernel's cases with several items per CTA.
timeout 170 compute-sanitizer --tool racecheck --error-exitcode 9 ./build-quick/tests/kernels/test_kernels --gtest_brief=1 \
    --gtest_filter='*GpuLayerForward*/specialized*_c*' \
    >"$OUT/quick-racecheck.log" 2>&1
rc=$?; echo "racecheck exit $rc"; [ "$rc" -eq 0 ] || status=1
grep -E "RACECHECK SUMMARY|hazard|PASSED|FAILED" "$OUT/quick-racecheck.log" | tail -6
echo "quick total: $(( $(date +%s) - start )) s"
exit "$status"
