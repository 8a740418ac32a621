#!/usr/bin/env bash
# The GPU suite and benchmarks in about a minute of device time: build here (2 cores, about 15
# minutes), carry the stripped, xz-compressed binaries, only run them there. Device machines are
# scarce and their start-ups fail often; a call that builds nothing is short and cheap to retry.
#
# Here:  scripts/gpu-prebuilt.sh build
#        configures and builds three trees (ignored by git) with the preset gpu-compute, GoogleTest
#        from .gpu-deps (scripts/gpu-deps.sh), and packs into .prebuilt/ (ignored by git):
#          test_kernels       every head dim (build-prebuilt-all)
#          test_gpu_samples   head dims 32 (the bundled captures') and 64, 128 (the same heads
#                             zero-padded, for the Hopper kernels) (build-prebuilt-samples, with the
#                             HDF5 part: it runs against the GPU machine's libhdf5_serial.so.103)
#          libattnscope_layer_capi.so, bench_gpu_tile   head dim 128, the benchmarks' Llama-3-8B
#                             shapes (build-prebuilt-bench)
#        and .prebuilt/COMMIT (the commit they were built from, "+dirty" with local changes).
#        SASS for compute capability 9.0 only (H100, H200; no PTX): about 25 MB compressed, which
#        leaves room under run's 64 MiB carry limit beside the working tree (20 MB) and .ab libraries.
#        Kernel experiments: every .ab/LABEL tree (scripts/gpu-ab.sh prepare; scripts/gpu-trace.sh
#        prepare for .ab/trace-LABEL) also gets its head dim 128 library, .prebuilt/ab-LABEL.so
#        (about 1.5 MB each). `build ab` rebuilds only those and the bench tree, keeping the suite's
#        binaries already in .prebuilt (a quick A/B call: run ab, without the suite's steps).
# There: scripts/gpu-prebuilt.sh run [test] [samples] [sanitize] [sparse] [bench] [ab] [trace]
#        (default: the first five) with carry [".prebuilt"]: unpacks and runs the named steps, as
#        scripts/gpu-run.sh does after its build (same racecheck cases); ab times this tree against
#        every ab-LABEL library (bench_block_sparse.py, 21 interleaved rounds, outputs compared
#        first; diag-* labels are wrong on purpose and only timed), trace records the timelines of
#        every ab-trace-LABEL library (scripts/forward-trace.py; summary here with
#        scripts/gpu-trace.sh summary). Logs go to $OUT (or artifacts/gpu-prebuilt).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/cuda/bin:$PATH

case "${1:-}" in
build)
    set -e
    deps="$PWD/.gpu-deps/root/usr/lib/x86_64-linux-gnu/cmake;$PWD/.gpu-deps/root/usr/share/cmake"
    [ -d .gpu-deps/root ] || { echo "gpu-prebuilt.sh: run scripts/gpu-deps.sh first" >&2; exit 1; }
    build() {  # tree, head dims, HDF5, targets...
        local tree=$1 dims=$2 hdf5=$3; shift 3
        echo "$tree: head dims $dims, targets $*"
        mkdir -p "$tree"
        # SASS only, no PTX (half the compressed size): the binaries run on compute capability 9.0.
        cmake --preset gpu-compute -B "$tree" -DCMAKE_PREFIX_PATH="$deps" -DATTNSCOPE_CUDA_HEAD_DIMS="$dims" \
            -DATTNSCOPE_WITH_HDF5="$hdf5" -DCMAKE_CUDA_ARCHITECTURES=90-real -DATTNSCOPE_CUDA_SM90A_ARCHITECTURES=90a-real \
            >"$tree/prebuilt-configure.log" 2>&1 || { tail -20 "$tree/prebuilt-configure.log"; exit 1; }
        cmake --build "$tree" -j"$(nproc)" --target "$@" >"$tree/prebuilt-build.log" 2>&1 ||
            { grep -E "error|FAILED" "$tree/prebuilt-build.log" | head -20; exit 1; }
    }
    pack() { strip -o ".prebuilt/$2" "$1" && xz -f -T0 -6 ".prebuilt/$2"; }  # binary, name
    if [ "${2:-}" = ab ]; then
        mkdir -p .prebuilt && rm -f .prebuilt/ab-*.so.xz  # the suite's binaries stay
    else
        rm -rf .prebuilt && mkdir -p .prebuilt
        build build-prebuilt-all "32;48;64;80;96;112;128" OFF test_kernels
        build build-prebuilt-samples "32;64;128" ON test_gpu_samples
        pack build-prebuilt-all/tests/kernels/test_kernels test_kernels
        pack build-prebuilt-samples/tests/kernels/test_gpu_samples test_gpu_samples
    fi
    build build-prebuilt-bench 128 OFF attnscope_layer_capi bench_gpu_tile
    pack build-prebuilt-bench/bench/gpu/libattnscope_layer_capi.so libattnscope_layer_capi.so
    pack build-prebuilt-bench/bench/gpu/bench_gpu_tile bench_gpu_tile
    for d in .ab/*/; do
        [ -d "$d" ] || continue
        label=$(basename "$d")
        (cd "$d" && build build-prebuilt 128 OFF attnscope_layer_capi)
        pack "$d/build-prebuilt/bench/gpu/libattnscope_layer_capi.so" "ab-$label.so"
    done
    echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!.prebuilt' || echo +dirty)" >.prebuilt/COMMIT
    du -ch .prebuilt/* | sed 's/^/  /'
    exit 0 ;;
run) shift ;;
*) echo "usage: scripts/gpu-prebuilt.sh build [ab] | run [test] [samples] [sanitize] [sparse] [bench] [ab] [trace]" >&2
   exit 2 ;;
esac

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(test samples sanitize sparse bench)
has() { for s in "${steps[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
OUT=${OUT:-$PWD/artifacts/gpu-prebuilt}
mkdir -p "$OUT"
bin=/tmp/attnscope-prebuilt
mkdir -p "$bin"
for f in .prebuilt/*.xz; do
    python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
        "$f" "$bin/$(basename "$f" .xz)" || exit 1
done
chmod +x "$bin"/*
export ATTNSCOPE_COMMIT="$(cat .prebuilt/COMMIT) (prebuilt)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.txt"
echo "commit: $ATTNSCOPE_COMMIT" | tee -a "$OUT/device.txt"
start=$(date +%s)
status=0
timed() {  # label, command...: runs it, says how long it took, keeps its exit status
    local label=$1 t0; shift
    t0=$(date +%s)
    "$@"; local rc=$?
    echo "$label: exit $rc, $(( $(date +%s) - t0 )) s"
    [ "$rc" -eq 0 ] || status=1
}
if has test; then
    timed test_kernels timeout 420 "$bin/test_kernels" --gtest_brief=1 >"$OUT/test.log" 2>&1
    tail -4 "$OUT/test.log"
fi
if has samples; then
    timed test_gpu_samples env ATTNSCOPE_SAMPLES_DIR="$PWD/resources/samples" timeout 420 "$bin/test_gpu_samples" \
        --gtest_brief=1 >"$OUT/test-samples.log" 2>&1
    tail -12 "$OUT/test-samples.log"
fi
if has sanitize; then
    # As scripts/gpu-run.sh: memcheck over the whole suite but the out-of-memory test (its failing
    # cudaMalloc is an API error by design), racecheck over one case of each kernel family.
    timed memcheck timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 "$bin/test_kernels" --gtest_brief=1 \
        --gtest_filter='-*OutOfMemory*' >"$OUT/sanitize-memcheck.log" 2>&1
    grep -E "ERROR SUMMARY|Invalid|PASSED|FAILED" "$OUT/sanitize-memcheck.log" | tail -4
    timed racecheck timeout 180 compute-sanitizer --tool racecheck --error-exitcode 9 "$bin/test_kernels" --gtest_brief=1 \
        --gtest_filter="$(cat scripts/gpu-racecheck-cases.txt)" >"$OUT/sanitize-racecheck.log" 2>&1
    grep -E "RACECHECK SUMMARY|hazard" "$OUT/sanitize-racecheck.log" | tail -3
fi
if has ab; then
    others=(); variants=(specialized); unchecked=()
    for f in "$bin"/ab-*.so; do
        label=$(basename "$f" .so); label=${label#ab-}
        [[ "$label" == trace-* ]] && continue  # instrumented (slower): timelines only
        others+=(--other-lib "$label=$f"); variants+=("$label:specialized")
        [[ "$label" == diag-* ]] && unchecked+=("$label:specialized")
    done
    variants+=(synchronous)
    timed ab env PYTHONUNBUFFERED=1 timeout 300 python3 bench/gpu/bench_block_sparse.py --lib "$bin/libattnscope_layer_capi.so" \
        "${others[@]}" --variants "${variants[@]}" --rounds 21 --unchecked "${unchecked[@]}" \
        --seq ${BENCH_SEQ:-8192 32768} --json "$OUT/ab.json" >"$OUT/ab.log" 2>&1
    grep "^|" "$OUT/ab.log"
fi
if has trace; then
    for f in "$bin"/ab-trace-*.so; do
        [ -e "$f" ] || continue
        label=$(basename "$f" .so); label=${label#ab-trace-}
        timed "trace $label" env PYTHONUNBUFFERED=1 timeout 120 python3 scripts/forward-trace.py record "$f" "$OUT/$label"
    done
fi
if has sparse; then
    timed bench_block_sparse env PYTHONUNBUFFERED=1 timeout 300 python3 bench/gpu/bench_block_sparse.py \
        --lib "$bin/libattnscope_layer_capi.so" --json "$OUT/bench-block-sparse.json" ${BENCH_SEQ:+--seq $BENCH_SEQ} \
        >"$OUT/bench-block-sparse.log" 2>&1
    grep "^|" "$OUT/bench-block-sparse.log"
fi
if has bench; then
    timed bench_gpu_tile timeout 120 "$bin/bench_gpu_tile" >"$OUT/bench-tile.log" 2>&1
    tail -8 "$OUT/bench-tile.log"
    timed bench_attention env PYTHONUNBUFFERED=1 timeout 300 python3 bench/gpu/bench_attention.py \
        --lib "$bin/libattnscope_layer_capi.so" --json "$OUT/bench-attention.json" ${BENCH_SEQ:+--seq $BENCH_SEQ} \
        >"$OUT/bench-attention.log" 2>&1
    tail -25 "$OUT/bench-attention.log"
fi
echo "total: $(( $(date +%s) - start )) s"
exit "$status"
