#!/usr/bin/env bash
# Writes the two bundled demo-LM samples with tools/attnscope_capture on the CPU, from a trained model
# directory (train.py's output, e.g. tools/demo_lm/runs/main/attnscope-demo-lm; its name must be
# attnscope-demo-lm, which the exporter records as the capture's model name).
#   bash tools/demo_lm/make_samples.sh [MODEL_DIR] [OUT_DIR (default resources/samples)]
# /reference golden values for 4 heads: L4 H5 (token-0 sink), L4 H4 (induction), L3 H6 (previous
# token), L0 H0 (broad, first layer); 64 rows each.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
model=$(cd "${1:-$root/tools/demo_lm/runs/main/attnscope-demo-lm}" && pwd)
out=$(mkdir -p "${2:-$root/resources/samples}" && cd "${2:-$root/resources/samples}" && pwd)
[ "$(basename "$model")" = attnscope-demo-lm ] || { echo "model directory must be named attnscope-demo-lm" >&2; exit 2; }
venv=$(bash "$root/scripts/python-env.sh")
for spec in "512:prompt_512.txt" "2048:prompt_2048.txt"; do
    name=${spec%%:*}; prompt=${spec#*:}
    rm -f "$out/demo-lm-$name.h5"
    (cd "$(dirname "$model")" && PYTHONPATH="$root/tools/attnscope_capture" "$venv/bin/python" -m attnscope_capture \
        --model attnscope-demo-lm --prompt-file "$root/tools/demo_lm/prompts/$prompt" \
        --out "$out/demo-lm-$name.h5" --dtype fp16 --device cpu --model-dtype float32 \
        --reference-heads 4:5,4:4,3:6,0:0 --reference-rows 64)
done
"$venv/bin/python" "$root/tools/demo_lm/sink_stats.py" "$out/demo-lm-512.h5" --repeat-period 256
"$venv/bin/python" "$root/tools/demo_lm/sink_stats.py" "$out/demo-lm-2048.h5"
ls -la "$out"/demo-lm-*.h5
