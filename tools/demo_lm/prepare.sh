#!/usr/bin/env bash
# Data preparation of the demo LM, one command, deterministic (CPU, about a minute):
# installs the Debian packages holding the public-domain texts (when missing), extracts the corpus,
# trains the BPE tokenizer and writes the token streams into tools/demo_lm/data/ (ignored by git; add
# /tools/demo_lm/data/ to .git/info/exclude), then checks that the prompts re-tokenize as committed.
#   bash tools/demo_lm/prepare.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pkgs="libsword-utils sword-text-web sword-comm-tdavid sword-comm-mhcc sword-comm-scofield dict-jargon dict-devil"
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
    echo "installing: $missing" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2
fi
venv=$(bash "$root/scripts/python-env.sh")
python3 "$root/tools/demo_lm/prepare_corpus.py"
"$venv/bin/python" "$root/tools/demo_lm/build_data.py" >/dev/null
"$venv/bin/python" "$root/tools/demo_lm/make_prompts.py" --out "$root/tools/demo_lm/data/prompts-check"
for f in prompt_512.txt prompt_2048.txt; do
    cmp "$root/tools/demo_lm/prompts/$f" "$root/tools/demo_lm/data/prompts-check/$f"
done
(cd "$root/tools/demo_lm/data" && sha256sum train.bin val.bin devil.bin tokenizer/tokenizer.json)
