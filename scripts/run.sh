#!/usr/bin/env bash
# The README's run command: installs dependencies, builds, and opens the bundled real sample.
# With a display the GUI opens on it; without one the CLI shows what the capture holds, the
# statistics of one head and renders its attention map to build/sample-map.png.
# Usage: scripts/run.sh [CAPTURE.h5]   (default: the bundled demo-LM sample, else MiniLM)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
scripts/install-deps.sh
scripts/build.sh

sample="${1:-}"
if [ -z "$sample" ]; then
    for candidate in resources/samples/demo-lm-512.h5 resources/samples/minilm-l6-gettysburg.h5; do
        if [ -f "$candidate" ]; then sample="$candidate"; break; fi
    done
fi
[ -n "$sample" ] || { echo "run.sh: no sample capture found in resources/samples" >&2; exit 2; }

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x build/app/gui/attnscope ]; then
    exec build/app/gui/attnscope "$sample"
fi
echo "run.sh: no display: showing $sample with attnscope-cli (the GUI needs a display; try xvfb-run)" >&2
cli=build/app/attnscope-cli
"$cli" info "$sample" --tokens 12
"$cli" stats "$sample" -l 1 -H 0 --top 5
"$cli" render "$sample" -l 1 -H 0 --size 512 --log -o build/sample-map.png
"$cli" compare "$sample" -l 1 -H 0 --variants window,streaming-llm,topk,moba,linear-elu --density 0.2
