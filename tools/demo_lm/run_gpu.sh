#!/usr/bin/env bash
# The demo LM recipe's GPU part in one command: train (train.py), export the two sample captures with
# tools/attnscope_capture, and measure the token-0 sink (sink_stats.py). Run from anywhere; needs the
# prepared data (prepare_corpus.py, build_data.py) in tools/demo_lm/data/ and python3 with torch,
# transformers, tokenizers, h5py, numpy.
#   bash tools/demo_lm/run_gpu.sh [extra train.py arguments]
# Results: tools/demo_lm/runs/attnscope-demo-lm/ (model) and $RESULTS (default tools/demo_lm/runs/results/,
# on the device machine $OUT): model.safetensors, config.json, metrics.json, train.log, the two captures
# and sink_stats_{512,2048}.json (8 files: what the device tool returns at most).
set -euo pipefail
export PYTHONUNBUFFERED=1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
py=${PYTHON:-python3}
results=${RESULTS:-${OUT:-$root/tools/demo_lm/runs/results}}
runs=$root/tools/demo_lm/runs
mkdir -p "$results" "$runs"
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$py" -c 'import torch, transformers, tokenizers, h5py; print("torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__, "h5py", h5py.__version__)'

"$py" tools/demo_lm/train.py --out "$runs/attnscope-demo-lm" --time-budget "${TIME_BUDGET:-360}" "$@" 2>&1 | tee "$results/train.log"
cp "$runs/attnscope-demo-lm/model.safetensors" "$runs/attnscope-demo-lm/config.json" \
   "$runs/attnscope-demo-lm/metrics.json" "$results/"
echo "train done at $(( $(date +%s) - t0 )) s"

# The exporter records --model as the capture's model name: run it from runs/ with the bare name.
for spec in "repeat-512:prompt_512.txt" "2048:prompt_2048.txt"; do
    name=${spec%%:*}; prompt=${spec#*:}
    (cd "$runs" && PYTHONPATH="$root/tools/attnscope_capture" "$py" -m attnscope_capture \
        --model attnscope-demo-lm --prompt-file "$root/tools/demo_lm/prompts/$prompt" \
        --out "$results/demo-lm-devils-dictionary-$name.h5" --dtype fp16 --reference auto) 2>&1 | tee -a "$results/train.log"
done
echo "export done at $(( $(date +%s) - t0 )) s"
"$py" tools/demo_lm/sink_stats.py "$results/demo-lm-devils-dictionary-repeat-512.h5" --repeat-period 256 \
    --json "$results/sink_stats_512.json" 2>&1 | tee -a "$results/train.log"
"$py" tools/demo_lm/sink_stats.py "$results/demo-lm-devils-dictionary-2048.h5" \
    --json "$results/sink_stats_2048.json" 2>&1 | tee -a "$results/train.log"
ls -la "$results"
echo "all done at $(( $(date +%s) - t0 )) s"
