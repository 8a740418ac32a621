#!/usr/bin/env bash
# Timelines of the warp-specialized forward (scripts/forward-trace.py) for one or more trees in one
# device call: where a consumer's cycles go per block, what an item's row write costs, the launch
# ramp and the end spread. A diagnostic; the committed kernel has no trace code.
#
# Here:  scripts/gpu-trace.sh prepare LABEL [REV]   exports REV (default HEAD) into .ab/trace-LABEL
#        (ignored by git) and instruments it; then call `run` (the device tool) with carry
#        [".gpu-deps", ".ab"]. At most 4 trees per call: $OUT returns 8 files (2 per tree; 3 trees
#        when a scripts/gpu-ab.sh run, 2 files, shares the call).
# There: scripts/gpu-trace.sh run                  builds every .ab/trace-* tree, records dense and
#        sink + 4 at 8K into $OUT/LABEL/.
# Here:  scripts/gpu-trace.sh summary DIR...        prints the breakdown of recorded trees.
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
    label=${2:?label}
    scripts/gpu-ab.sh prepare "trace-$label" "${3:-HEAD}" && python3 scripts/forward-trace.py instrument ".ab/trace-$label"
    exit $? ;;
run) ;;
summary) shift; venv=$(scripts/python-env.sh) && exec "$venv/bin/python" scripts/forward-trace.py summary "$@" ;;
*) echo "usage: scripts/gpu-trace.sh prepare LABEL [REV] | run | summary DIR..." >&2; exit 2 ;;
esac
OUT=${OUT:-$PWD/artifacts/gpu-trace}
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
deps=$PWD/.gpu-deps/root/usr/lib/x86_64-linux-gnu/cmake
lib=bench/gpu/libattnscope_layer_capi.so
trees=(.ab/trace-*/)
[ -d "${trees[0]}" ] || { echo "gpu-trace.sh: no .ab/trace-* tree (scripts/gpu-trace.sh prepare LABEL [REV])" >&2; exit 2; }
jobs=$(( $(nproc) / ${#trees[@]} )); [ "$jobs" -lt 1 ] && jobs=1
t0=$(date +%s)
for d in "${trees[@]}"; do
    label=$(basename "$d")
    (cd "$d" && cmake --preset gpu-compute -B build-ab -DCMAKE_PREFIX_PATH="$deps" -DATTNSCOPE_CUDA_HEAD_DIMS=128 \
        >"/tmp/trace-configure-$label.log" 2>&1 &&
        cmake --build build-ab -j"$jobs" --target attnscope_layer_capi >"/tmp/trace-build-$label.log" 2>&1
     echo "build $label: exit $?"; grep -E "error" "/tmp/trace-build-$label.log" | head -5) &
done
wait
echo "builds: $(( $(date +%s) - t0 )) s"
status=0
for d in "${trees[@]}"; do
    label=$(basename "$d")
    timeout 120 python3 scripts/forward-trace.py record "$d/build-ab/$lib" "$OUT/${label#trace-}" || status=1
done
echo "total: $(( $(date +%s) - t0 )) s"
exit "$status"
