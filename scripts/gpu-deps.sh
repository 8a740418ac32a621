#!/usr/bin/env bash
# Prepares .gpu-deps/, which `run` carries to the GPU machine (it has no apt and no network):
# GoogleTest and Google Benchmark, and the header-only CLI11 and nlohmann-json that the HDF5 part's
# configure asks for (app/), unpacked from Debian's packages (root/), HDF5 headers (hdf5/: the
# machine has the 1.10 runtime library, libhdf5_serial.so.103) and stb (stb/) for attnscope-cli.
# Usage: scripts/gpu-deps.sh, then run scripts/gpu-run.sh there with carry [".gpu-deps"].
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get install -y --no-install-recommends libhdf5-dev libstb-dev >/dev/null
mkdir -p .gpu-deps
cd .gpu-deps
apt-get download libgtest-dev libbenchmark-dev libbenchmark1debian libcli11-dev nlohmann-json3-dev >/dev/null
for deb in *.deb; do dpkg -x "$deb" root; done
rm -rf hdf5 stb
mkdir -p hdf5 stb/include stb/lib/pkgconfig
cp -r /usr/include/hdf5/serial hdf5/include
cp -r /usr/include/stb stb/include/
cp /usr/lib/x86_64-linux-gnu/libstb.a stb/lib/
cat >stb/lib/pkgconfig/stb.pc <<'PC'
prefix=${pcfiledir}/../..
libdir=${prefix}/lib
includedir=${prefix}/include/stb

Name: stb
Description: single-file image libraries (Debian libstb-dev, carried to the GPU machine)
Version: 0.0
Libs: -L${libdir} -lstb
Cflags: -I${includedir}
PC
du -sh . | sed 's/^/.gpu-deps: /'
