"""C runtime on ARM: NEON fast paths vs the reference under qemu-user, and a
-Werror build of every source with every compiler the project supports.

tests/c/fastpath_check.c runs each dispatching kernel and its ``_ref`` twin
on randomized parameters from a fixed-seed PRNG and memcmp's the outputs.
A missing tool skips the test, or fails it when CI=true.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bnnkit import cruntime

from .tooling import need

TESTS = Path(__file__).resolve().parent
DRIVER = TESTS / "c" / "fastpath_check.c"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]

# name -> (compiler, target flags, emulator argv, apt package of the compiler)
TARGETS = {
    "aarch64": ("aarch64-linux-gnu-gcc", ["-march=armv8-a"],
                ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"], "gcc-aarch64-linux-gnu"),
    "armv7": ("arm-linux-gnueabihf-gcc",
              ["-march=armv7-a", "-mfpu=neon-vfpv4", "-mfloat-abi=hard"],
              ["qemu-arm", "-L", "/usr/arm-linux-gnueabihf"], "gcc-arm-linux-gnueabihf"),
}
HOST = {"gcc": "gcc", "clang": "clang"}


def build(cc: str, flags: list[str], out: Path, extra: list[Path] = ()) -> None:
    cmd = [cc, *STRICT, *flags, f"-I{cruntime.SOURCE_DIR}", "-o", str(out), *map(str, extra),
           *map(str, cruntime.sources())]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("portable", [False, True], ids=["neon", "portable"])
def test_cross_compile_werror(tmp_path, target, portable):
    cc, flags, _, package = TARGETS[target]
    cc = need(cc, package)
    flags = [*flags, "-c"] + (["-DBNN_PORTABLE"] if portable else [])
    for src in cruntime.sources():
        cmd = [cc, *STRICT, *flags, "-o", str(tmp_path / (src.stem + ".o")), str(src)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"


@pytest.mark.parametrize("compiler", sorted(HOST))
def test_host_compile_werror(tmp_path, compiler):
    cc = need(HOST[compiler], compiler)
    for src in cruntime.sources():
        cmd = [cc, *STRICT, "-c", "-o", str(tmp_path / (src.stem + ".o")), str(src)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"


@pytest.mark.parametrize("flags", ["popcnt", "native"])
def test_host_fastpath_check(tmp_path, flags):
    """The driver itself on the host: the x86 popcount build (plain C fast
    paths) and the -march=native build of the host preset (AVX2 paths)."""
    cc = need("gcc", "gcc")
    exe = tmp_path / "fastpath_check"
    x86 = os.uname().machine == "x86_64"
    extra = {"popcnt": ["-mpopcnt"] if x86 else [], "native": ["-march=native"]}[flags]
    build(cc, extra, exe, [DRIVER])
    result = subprocess.run([str(exe), "100"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("seed", [12345, 777])
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_neon_matches_reference(tmp_path, target, seed):
    cc, flags, emulator, package = TARGETS[target]
    cc = need(cc, package)
    need(emulator[0], "qemu-user")
    exe = tmp_path / f"fastpath_check_{target}"
    build(cc, [*flags, "-static"], exe, [DRIVER])
    result = subprocess.run([*emulator, str(exe), "250", str(seed)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"{target}: fast path differs from the reference\n" \
                                   f"{result.stdout}{result.stderr}"
    assert result.stdout.startswith("ok"), result.stdout
