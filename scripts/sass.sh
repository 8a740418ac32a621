#!/usr/bin/env bash
# SASS of the CUDA kernels on a machine without a GPU: NVIDIA's cuobjdump and nvdisasm come as
# PyPI wheels (the CUDA toolkit here ships nvcc and ptxas only). They are unpacked once into
# .cuda-binutils/ (ignored by git); the rest of the command line goes to cuobjdump.
# Usage: scripts/sass.sh -sass build/kernels/CMakeFiles/attnscope_cuda_sm90a.dir/src/forward-wgmma.cu.o
#        scripts/sass.sh --dump-resource-usage <object>   (registers, spills, shared memory per kernel)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$repo_root/.cuda-binutils"
version=13.5.37
if [ ! -x "$tools/nvidia/cu13/bin/cuobjdump" ]; then
    python3 -m pip install -q --disable-pip-version-check --no-deps --target "$tools" \
        "nvidia-cuda-cuobjdump==$version" "nvidia-cuda-nvdisasm==$version" >&2 ||
        { echo "sass.sh: could not install cuobjdump/nvdisasm $version from PyPI into $tools" >&2; exit 1; }
    chmod +x "$tools"/nvidia/cu13/bin/*
fi
export PATH="$tools/nvidia/cu13/bin:$PATH"
exec cuobjdump "$@"
