#!/usr/bin/env bash
# The demo LM recipe's GPU part in one command. For each variant (default: only "main", the recipe =
# train.py's defaults; VARIANTS="main v2 ..." with entries in the table below), in parallel on one GPU: train
# (train.py), export the two sample captures with tools/attnscope_capture, measure sinks and induction
# (sink_stats.py). Then pick the variant with the larger Sink_eps (2048-token capture; ties: larger
# induction score) and copy its files under canonical names.
#   bash tools/demo_lm/run_gpu.sh
# Needs the prepared data (prepare_corpus.py, build_data.py) in tools/demo_lm/data/ and python3 with
# torch, transformers, tokenizers, h5py, numpy. Results in $RESULTS (default $OUT, else
# tools/demo_lm/runs/results/): model.safetensors + config.json (chosen variant), its two captures,
# and logs.tar.gz (every variant's train log, metrics.json, sink statistics): 5 files.
set -euo pipefail
export PYTHONUNBUFFERED=1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
py=${PYTHON:-python3}
results=${RESULTS:-${OUT:-$root/tools/demo_lm/runs/results}}
runs=$root/tools/demo_lm/runs
budget=${TIME_BUDGET:-270}
mkdir -p "$results" "$runs"
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$py" -c 'import torch, transformers, tokenizers, h5py; print("torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__, "h5py", h5py.__version__)'

declare -A extra=(
    [main]=""
    [norep]="--repeat-frac 0 --tile-frac 0"
)
variants=${VARIANTS:-main}

one() {  # variant name
    local v=$1 d=$runs/$1
    mkdir -p "$d"
    # shellcheck disable=SC2086
    "$py" tools/demo_lm/train.py --out "$d/attnscope-demo-lm" --time-budget "$budget" ${extra[$v]} ${EXTRA_ARGS:-} \
        >"$d/train.log" 2>&1 || { echo "variant $v: training failed"; tail -20 "$d/train.log"; return 1; }
    for spec in "512:prompt_512.txt" "2048:prompt_2048.txt"; do
        local name=${spec%%:*} prompt=${spec#*:}
        # The exporter records --model as the capture's model name: run it beside the model directory.
        (cd "$d" && PYTHONPATH="$root/tools/attnscope_capture" "$py" -m attnscope_capture \
            --model attnscope-demo-lm --prompt-file "$root/tools/demo_lm/prompts/$prompt" \
            --out "$d/demo-lm-$name.h5" --dtype fp16 --reference auto) >>"$d/train.log" 2>&1
    done
    "$py" tools/demo_lm/sink_stats.py "$d/demo-lm-512.h5" --repeat-period 256 \
        --json "$d/sink_stats_512.json" >"$d/sink_stats.txt" 2>&1
    "$py" tools/demo_lm/sink_stats.py "$d/demo-lm-2048.h5" \
        --json "$d/sink_stats_2048.json" >>"$d/sink_stats.txt" 2>&1
    echo "variant $v done at $(( $(date +%s) - t0 )) s"
}

pids=()
for v in $variants; do one "$v" & pids+=($!); done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
for v in $variants; do
    echo "===== $v"; grep -E "^(model|data|timing|time budget|eval step|trained|kept|saved)" "$runs/$v/train.log" || true
    cat "$runs/$v/sink_stats.txt" 2>/dev/null || true
done
best=$("$py" - "$runs" $variants <<'PY'
import json, os, sys
runs, vs = sys.argv[1], sys.argv[2:]
score = {}
for v in vs:
    try:
        s2048 = json.load(open(os.path.join(runs, v, "sink_stats_2048.json")))[0]
        s512 = json.load(open(os.path.join(runs, v, "sink_stats_512.json")))[0]
        score[v] = (s2048["sink_eps"], s2048["sink_eps_64"], s512["induction_max"])
    except Exception:
        pass
print(max(score, key=score.get) if score else "", end="")
for v, sc in score.items():
    print(f"{v}: Sink_eps(2048) {sc[0]:.3f} Sink_eps(queries<64) {sc[1]:.3f} induction max {sc[2]:.2f}", file=sys.stderr)
PY
)
echo "chosen variant: ${best:-none}"
echo "${best:-none}" >"$runs/chosen.txt"
(cd "$runs" && tar czf "$results/logs.tar.gz" chosen.txt $(for v in $variants; do echo "$v/train.log $v/sink_stats.txt $v/sink_stats_512.json $v/sink_stats_2048.json $v/attnscope-demo-lm/metrics.json"; done) 2>/dev/null || true)
if [ -n "$best" ]; then
    cp "$runs/$best/attnscope-demo-lm/model.safetensors" "$runs/$best/attnscope-demo-lm/config.json" \
       "$runs/$best"/demo-lm-*.h5 "$results/"
fi
ls -la "$results"
echo "all done at $(( $(date +%s) - t0 )) s"
exit $fail
