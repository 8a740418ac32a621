#!/usr/bin/env bash
# The README's test command (and .ci/run): installs dependencies, builds everything, runs the C++
# suites through ctest and the Python suite through pytest. GPU tests skip with their reason when
# there is no GPU. Exits non-zero when any suite fails.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
scripts/install-deps.sh
scripts/build.sh

status=0
echo "== C++ tests (ctest) ==" >&2
ctest --test-dir build --output-on-failure -j "$(nproc)" || status=1
# ctest lists skipped tests without their reason: state why the GPU tests skipped, once.
if [ -x build/tests/kernels/test_kernels ]; then
    why=$(build/app/attnscope-cli --backend cuda stats resources/samples/minilm-l6-gettysburg.h5 -l 0 -H 0 -q 2>&1 >/dev/null | head -1 || true)
    [ -n "$why" ] && echo "GPU tests skipped (no usable GPU here): $why" >&2
fi
echo "== Python tests (pytest) ==" >&2
scripts/test-python.sh || status=1
if [ "$status" -ne 0 ]; then echo "test.sh: FAILED (see above)" >&2; else echo "test.sh: all suites passed" >&2; fi
exit "$status"
