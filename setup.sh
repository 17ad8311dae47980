#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for bnnkit: compilers for every target,
# qemu-user for ARM emulation, then a virtualenv (.venv) with bnnkit, its
# test extras and its benchmark extras (bnn-bench's plot and onnxruntime
# peer). Run as root (or with sudo). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
    gcc make clang                                   # host builds, -Werror checks
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross      # armv8: 64-bit Raspberry Pi OS
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross    # armv7: 32-bit Raspberry Pi OS
    qemu-user qemu-user-static                       # run ARM builds and count instructions
    openssh-server debootstrap                       # Raspberry Pi stand-ins for deploy tests
    chromium                                         # the demo's web view, tested headless
    python3-venv
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# CPU build of torch first, so nothing pulls a multi-GB CUDA build.
.venv/bin/pip install -q "torch==2.13.0"
# A regular (non-editable) install: what users get, package data included.
.venv/bin/pip install -q ".[test,bench]"
echo "bnnkit is set up: .venv/bin/bnn-export --help"
