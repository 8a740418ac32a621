#!/usr/bin/env bash
# Installs the Debian 12 packages AttnScope builds and tests with (sudo when not root). Quick when
# everything is already installed. CUDA is optional and not installed here: builds use nvcc from
# /usr/local/cuda when it exists (docs/building.md).
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config git
    qt6-base-dev qt6-base-dev-tools libqt6opengl6-dev qt6-shadertools-dev
    libvulkan-dev vulkan-tools mesa-vulkan-drivers glslc spirv-tools
    libimgui-dev libstb-dev
    libhdf5-dev hdf5-tools
    libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
    xvfb xauth imagemagick
    python3 python3-venv
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps.sh: all ${#packages[@]} Debian packages present" >&2
    exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
