"""Build a generated project with its Makefile for one target preset."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import ToolchainError
from .emit import TARGETS

#: Compiler of each target preset and the Debian package that provides it.
COMPILERS: dict[str, tuple[str, str]] = {
    "host": ("cc", "gcc"),
    "generic": ("cc", "gcc"),
    "armv8": ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    "armv7": ("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf"),
}
#: qemu-user emulator and sysroot for running cross-built programs on a PC.
EMULATORS: dict[str, tuple[str, str]] = {
    "armv8": ("qemu-aarch64", "/usr/aarch64-linux-gnu"),
    "armv7": ("qemu-arm", "/usr/arm-linux-gnueabihf"),
}


def compiler_for(target: str, cc: str | None = None) -> str:
    """The compiler a build of ``target`` uses: ``cc``, $CC, or the preset's."""
    if target not in TARGETS:
        raise ToolchainError(f"unknown target {target!r}; use one of {', '.join(TARGETS)}")
    return cc or os.environ.get("CC") or COMPILERS[target][0]


def check_compiler(target: str, cc: str | None = None) -> str:
    """Path of the compiler, or a ToolchainError that says what to install."""
    compiler = compiler_for(target, cc)
    found = shutil.which(compiler.split()[0])
    if found is None:
        package = COMPILERS[target][1] if compiler == COMPILERS[target][0] else None
        hint = (f"install it with `apt-get install {package}`" if package else
                "install it or point CC at an installed compiler")
        raise ToolchainError(f"compiler {compiler!r} for target {target} not found; {hint}")
    return found


def build(project_dir: str | Path, target: str, *, library: bool = False,
          cc: str | None = None, cpu: str | None = None, strict: bool = False,
          extra_cflags: str = "", timeout: float = 600) -> Path:
    """Compile the project for ``target``; return the program (or shared library).

    Raises ToolchainError naming the package to install when a compiler or
    make is missing, and carrying the compiler's messages when a build fails.
    """
    project = Path(project_dir)
    if not (project / "Makefile").is_file():
        raise ToolchainError(f"{project}: no Makefile; is this a project written by bnnkit?")
    compiler = compiler_for(target, cc)
    check_compiler(target, cc)
    if shutil.which("make") is None:
        raise ToolchainError("`make` not found; install it with `apt-get install make`")
    name = _project_name(project)
    args = ["make", "-B", "--no-print-directory", f"TARGET={target}", f"CC={compiler}"]
    if cpu is not None:
        args.append(f"CPU={cpu}")
    if strict:
        args.append("STRICT=1")
    if extra_cflags:
        args.append(f"EXTRA_CFLAGS={extra_cflags}")
    args.append("lib" if library else "all")
    try:
        proc = subprocess.run(args, cwd=project, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"building {project} for {target} took over {timeout:.0f} s") \
            from None
    if proc.returncode != 0:
        raise ToolchainError(f"building {project} for {target} with {compiler} failed:\n"
                             f"{(proc.stderr or proc.stdout).strip()}")
    out = project / "build" / target / (f"lib{name}.so" if library else name)
    if not out.is_file():
        raise ToolchainError(f"build of {project} for {target} produced no {out.name}")
    return out


def emulator_command(target: str) -> list[str]:
    """Command prefix that runs a program built for ``target`` on this machine."""
    if target not in EMULATORS:
        return []
    qemu, sysroot = EMULATORS[target]
    if shutil.which(qemu) is None:
        raise ToolchainError(f"{qemu} not found; install it with `apt-get install qemu-user`")
    return [qemu, "-L", sysroot]


def _project_name(project: Path) -> str:
    import json
    try:
        return json.loads((project / "plan.json").read_text())["name"]
    except (OSError, ValueError, KeyError):
        raise ToolchainError(f"{project}: no readable plan.json; regenerate the project") \
            from None
