#!/usr/bin/env bash
# A/B of a kernel change in one device call: the working tree against other trees (an earlier
# commit, or a variant of it), each built with head dim 128 only, timed in one process by
# bench/gpu/bench_block_sparse.py (21 interleaved rounds, each starting at another variant; outputs
# compared first).
#
# Here:  scripts/gpu-ab.sh prepare LABEL [REV]   exports REV (default HEAD) without resources/ into
#        .ab/LABEL (ignored by git); edit it there to make a variant. Labels diag-* are diagnostics,
#        wrong on purpose (say, without the O stores): timed, not compared with this tree. Then
#        call `run` (the device tool) with carry [".gpu-deps", ".ab"].
# There: scripts/gpu-ab.sh run [--seq 8192 ...] [ncu]  builds this tree and every .ab/LABEL in
#        parallel, runs the benchmark with variants specialized, LABEL:specialized..., synchronous,
#        and with `ncu` profiles this tree's warp-specialized sink + 4 launch at 8K (source counters).
#        Logs and reports go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
    label=${2:?label}; rev=${3:-HEAD}
    rm -rf ".ab/$label" && mkdir -p ".ab/$label"
    git archive "$rev" -- . ':!resources' | tar -x -C ".ab/$label"
    echo "prepared .ab/$label from $(git rev-parse --short "$rev")"
    exit 0 ;;
run) shift ;;
*) echo "usage: scripts/gpu-ab.sh prepare LABEL [REV] | run [--seq T...] [ncu]" >&2; exit 2 ;;
esac
profile=0; seq=(8192)
while [ $# -gt 0 ]; do
    case "$1" in
    ncu) profile=1; shift ;;
    --seq) shift; seq=(); while [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; do seq+=("$1"); shift; done ;;
    *) echo "gpu-ab.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
OUT=${OUT:-$PWD/artifacts/gpu-ab}
mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
deps=$PWD/.gpu-deps/root/usr/lib/x86_64-linux-gnu/cmake
lib=bench/gpu/libattnscope_layer_capi.so
trees=(.); labels=(main)
for d in .ab/*/; do  # .ab/trace-* trees are scripts/gpu-trace.sh's (instrumented, slower)
    [ -d "$d" ] && [[ "$(basename "$d")" != trace-* ]] && trees+=("${d%/}") && labels+=("$(basename "$d")")
done
jobs=$(( $(nproc) / ${#trees[@]} )); [ "$jobs" -lt 1 ] && jobs=1
t0=$(date +%s)
for i in "${!trees[@]}"; do
    (cd "${trees[$i]}" && cmake --preset gpu-compute -B build-ab -DCMAKE_PREFIX_PATH="$deps" -DATTNSCOPE_CUDA_HEAD_DIMS=128 \
        >/tmp/ab-configure-${labels[$i]}.log 2>&1 &&
        cmake --build build-ab -j"$jobs" --target attnscope_layer_capi >/tmp/ab-build-${labels[$i]}.log 2>&1
     echo "build ${labels[$i]}: exit $?"; grep -E "error" /tmp/ab-build-${labels[$i]}.log | head -5) &
done
wait
echo "builds: $(( $(date +%s) - t0 )) s"
others=(); variants=(specialized); unchecked=()
for i in "${!trees[@]}"; do
    [ "$i" -eq 0 ] && continue
    others+=(--other-lib "${labels[$i]}=${trees[$i]}/build-ab/$lib"); variants+=("${labels[$i]}:specialized")
    # diag-* trees are wrong on purpose (say, no O stores): timed, not compared.
    [[ "${labels[$i]}" == diag-* ]] && unchecked+=("${labels[$i]}:specialized")
done
variants+=(synchronous)
timeout 300 python3 bench/gpu/bench_block_sparse.py --lib "build-ab/$lib" "${others[@]}" --variants "${variants[@]}" --rounds 21 \
    --unchecked "${unchecked[@]}" --seq "${seq[@]}" --json "$OUT/ab.json" 2>&1 | tee "$OUT/ab.log" | grep -v ' vs '
status=${PIPESTATUS[0]}
if [ "$profile" -eq 1 ]; then
    # Launches of the warp-specialized kernel at 8K: dense, sink + 1, + 2, + 4 (the agreement pass).
    timeout 200 ncu --kernel-name regex:forward_specialized --launch-skip 3 --launch-count 1 --section SpeedOfLight \
        --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis --section SourceCounters \
        -o "$OUT/specialized-sink4" -f python3 bench/gpu/bench_block_sparse.py --lib "build-ab/$lib" \
        --variants specialized --seq 8192 --rounds 1 --batch 1 >/tmp/ab-ncu.log 2>&1
    echo "ncu: exit $?"; grep -E "==ERROR==" /tmp/ab-ncu.log | tail -3
    ncu --import "$OUT/specialized-sink4.ncu-rep" --page details >"$OUT/ncu-details.txt" 2>&1
    ncu --import "$OUT/specialized-sink4.ncu-rep" --page source --csv --print-source sass >"$OUT/ncu-source.csv" 2>&1
    grep -E "Duration|Issue Slots Busy|Warp Cycles Per Issued|No Eligible|DRAM Throughput" "$OUT/ncu-details.txt" | head -12
fi
echo "total: $(( $(date +%s) - t0 )) s"
exit "$status"
