#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for bnnkit: compilers for every target,
# qemu-user for ARM emulation, then a virtualenv (.venv) with bnnkit, its
# test extras and its benchmark extras (bnn-bench's plot and onnxruntime
# peer). Run as root (or with sudo). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
    gcc make clang                                   # host builds, -Werror checks
    llvm                                             # llvm-mca: bnn-bench's kernel cycles
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross      # armv8: 64-bit Raspberry Pi OS
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross    # armv7: 32-bit Raspberry Pi OS
    qemu-user qemu-user-static                       # run ARM builds and count instructions
    openssh-server debootstrap                       # Raspberry Pi stand-ins for deploy tests
    chromium                                         # the demo's web view, tested headless
    python3-venv
)
# Each step says what it does and about how long it takes, then how long it took.
step_start=$SECONDS
step() { echo "setup: $1 (about $2)"; step_start=$SECONDS; }
done_step() { echo "setup:   done in $((SECONDS - step_start)) s"; }
total_start=$SECONDS

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    step "apt packages: ${missing[*]}" "5-10 min on a fresh machine"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    done_step
else
    echo "setup: apt packages already installed"
fi

PYTHON=${PYTHON:-python3}
step "virtualenv .venv and pip" "30 s"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
done_step
# CPU build of torch first, so nothing pulls a multi-GB CUDA build.
step "torch 2.13 (CPU build)" "1-3 min, a few hundred MB"
.venv/bin/pip install -q "torch==2.13.0"
done_step
# A regular (non-editable) install: what users get, package data included.
# Its test extras bring pytest (and pytest-xdist: the tests run on every
# core), hypothesis, scikit-learn, ruff, OpenCV and matplotlib (bnn-export
# --compare --plot);
# the bench extras onnxruntime and onnx (bnn-bench's INT8 peer).
step "bnnkit and its test extras" "1-2 min"
.venv/bin/pip install -q ".[test,bench]"
done_step
echo "setup: bnnkit is set up in $((SECONDS - total_start)) s: .venv/bin/bnn-export --help"
