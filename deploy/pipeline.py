"""``deploy(project, device)``: build, upload, self-test, switch, benchmark.

1. probe the device and choose target and --cpu (or honour the ones given);
2. build the program and ``lib<name>.so`` here with the cross compiler, or
   with ``build_on_device`` upload the sources and run ``make`` there;
3. upload a new release (see :mod:`bnnkit.deploy.release`), verify sha256;
4. run ``<name> --selftest`` in the new release on the device, on each
   requested thread count: the embedded golden vectors must match bit for
   bit on its CPU, else the release is deleted and ``current`` stays where
   it was;
5. switch ``current`` to it atomically, prune old releases;
6. with ``bench=N``, run ``current/<name> --bench N --json --threads T`` for
   each thread count T and return (and save) the timings.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import posixpath
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..codegen import build
from ..codegen.build import compiler_for
from ..codegen.emit import TARGETS
from ..errors import BnnkitError
from ..ir.atomic import write_file
from .errors import (
    DeployError,
    RemoteCommandError,
    RemoteToolMissingError,
    SelftestError,
    TargetMismatchError,
)
from .probe import TUNABLE, DeviceInfo, TargetChoice
from .release import (
    RemoteApp,
    absolute_remote_dir,
    bundle_digest,
    collect_files,
    release_dirs,
    release_id,
)
from .ssh import Device

DEPLOY_TARGETS = ("auto", *TARGETS)
PROJECT_FILES = ("Makefile", "plan.json", "main.c")


@dataclass
class DeployResult:
    device: str
    info: DeviceInfo
    target: str
    cpu: str | None
    built_on_device: bool
    release: str
    app_dir: str                    # <remote-dir>/<name> on the device
    program: str                    # current/<name> on the device
    previous: str | None
    selftest: str                   # the program's --selftest output
    bench: dict | None = None       # --bench JSON of the first thread count, plus "device", ...
    benches: list[dict] = field(default_factory=list)  # one per thread count, in order
    host_bench: dict | None = None  # the same bench of the host build on this PC
    bench_file: Path | None = None
    warnings: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    ssh_command: str = "ssh"        # how to log in there, e.g. "ssh -p 2222 pi@raspberrypi"


def project_name(project: Path) -> str:
    """The model name in ``project``'s plan.json (checked: it names files and C symbols)."""
    from ..codegen.emit import name_problem

    try:
        name = json.loads((project / "plan.json").read_text())["name"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BnnkitError(f"{project}: no readable plan.json; give a directory written by "
                          f"bnn-export (or a model.pt)") from None
    if not isinstance(name, str) or name_problem(name):
        raise BnnkitError(f"{project}/plan.json: damaged (model name {name!r}); export the "
                          f"project again with bnn-export")
    return name


def prepare_project(source: str | Path, *, out_dir: str | Path | None = None,
                    log: Callable[[str], None] = lambda _m: None) -> Path:
    """A generated project directory: ``source`` itself, or exported from a model file."""
    path = Path(source)
    if path.is_dir():
        if not (path / "plan.json").is_file():
            if (path / "graph.json").is_file():
                raise BnnkitError(f"{path} is an IR directory; generate the C project first: "
                                  f"bnn-export {path} ... (or deploy the model.pt)")
            raise BnnkitError(f"{path}: not a project written by bnn-export (no plan.json)")
        project_name(path)             # a damaged project fails before connecting
        return path
    if not path.is_file():
        raise BnnkitError(f"{path} does not exist; give a model.pt or a project directory")
    from ..codegen import write_project
    from ..codegen.emit import default_name
    from ..export.pipeline import export

    log(f"exporting {path}")
    graph = export(path)
    out = Path(out_dir) if out_dir else path.with_name(f"{path.stem}_bnn")
    write_project(graph, out, target="host", name=default_name(path.stem),
                  command_line=f"bnn-deploy {path}")
    return out


def choose_target(info: DeviceInfo, target: str = "auto", cpu: str | None = None,
                  build_on_device: bool = False) -> tuple[TargetChoice, list[str]]:
    """The build for this device, and warnings when the user's choice departs from it."""
    if target not in DEPLOY_TARGETS:
        raise BnnkitError(f"unknown target {target!r}; use one of {', '.join(DEPLOY_TARGETS)}")
    best = info.recommended()
    warnings = [best.warning] if best.warning and target == "auto" else []
    if target == "auto":
        choice = best
    else:
        if target != best.target:
            warnings.append(f"the device looks like {best.target} ({best.reason}); building "
                            f"for {target} as asked")
        local_ok = target in ("armv8", "armv7") or not best.build_on_device
        choice = TargetChoice(target, best.cpu if target in ("armv8", "armv7") else None,
                              not local_ok, "chosen with --target")
    if cpu is not None:
        if best.cpu and cpu != best.cpu and best.cpu in TUNABLE:
            warnings.append(f"the device's CPU is {best.cpu}; tuning for {cpu} as asked")
        choice = TargetChoice(choice.target, cpu, choice.build_on_device, choice.reason)
    if choice.target in ("host", "generic"):
        choice = TargetChoice(choice.target, None, choice.build_on_device, choice.reason)
    if build_on_device and not choice.build_on_device:
        choice = TargetChoice(choice.target, choice.cpu, True, choice.reason)
    elif choice.build_on_device and not build_on_device:
        warnings.append(f"{choice.target} for this device cannot be cross-compiled here; "
                        f"building on the device")
    return choice, warnings


def _release_pairs(project: Path, name: str, target: str, built: bool) -> list[tuple[Path, str]]:
    """(local file, path in the release) for sources, IR and, if built, binaries."""
    pairs = [(project / f, f) for f in PROJECT_FILES]
    pairs += [(p, p.name) for p in sorted(project.glob(f"{name}*.[ch]"))]
    for sub in ("runtime", "ir"):
        pairs += [(p, f"{sub}/{p.name}") for p in sorted((project / sub).glob("*"))
                  if p.is_file()]
    if built:
        out = project / "build" / target
        pairs += [(out / name, name), (out / f"lib{name}.so", f"lib{name}.so")]
    return pairs


def _build_key(project: Path, choice: TargetChoice) -> str:
    """Hash of what a build depends on: sources, target, cpu, compiler."""
    h = hashlib.sha256(f"{choice.target}\0{choice.cpu}\0{compiler_for(choice.target)}\0"
                       f"{os.environ.get('CFLAGS', '')}\0".encode())
    sources = [project / "Makefile", *sorted(project.glob("*.[ch]")),
               *sorted((project / "runtime").glob("*.[ch]"))]
    for path in sources:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _build_locally(project: Path, name: str, choice: TargetChoice,
                   log: Callable[[str], None]) -> None:
    """Program and library for the target; skipped when the last deploy built the same."""
    out = project / "build" / choice.target
    stamp, key = out / ".bnn-deploy-build", _build_key(project, choice)
    if (out / name).is_file() and (out / f"lib{name}.so").is_file() and stamp.is_file() \
            and stamp.read_text() == key:
        log(f"{choice.target} build is up to date")
        return
    log(f"building {choice.target}" + (f" for {choice.cpu}" if choice.cpu else "") + " here")
    stamp.unlink(missing_ok=True)
    build(project, choice.target, cpu=choice.cpu)
    build(project, choice.target, cpu=choice.cpu, library=True)
    stamp.write_text(key)


def _remote_compiler(device: Device, info: DeviceInfo) -> str:
    """The device's C compiler command, or RemoteToolMissingError saying what to install."""
    compiler = "cc" if "cc" in info.tools else "gcc" if "gcc" in info.tools else None
    missing = [t for t, ok in (("gcc", compiler), ("make", "make" in info.tools)) if not ok]
    if missing or compiler is None:
        raise RemoteToolMissingError(
            f"{device.name} has no {' and no '.join(missing)} to build on the device; install "
            f"them there (sudo apt install gcc make) or deploy without --build-on-device to "
            f"cross-compile here")
    return compiler


def _build_on_device(device: Device, info: DeviceInfo, partial: str, name: str,
                     choice: TargetChoice, timeout: float, log: Callable[[str], None]) -> None:
    compiler = _remote_compiler(device, info)
    log(f"building {choice.target} on {device.name} with its {compiler}")
    make = ["make", "-B", "--no-print-directory", f"TARGET={choice.target}", f"CC={compiler}"]
    if choice.cpu:
        make.append(f"CPU={choice.cpu}")
    q = shlex.quote
    script = (f"{shlex.join([*make, 'all'])} && {shlex.join([*make, 'lib'])} && "
              f"cp build/{q(choice.target)}/{q(name)} build/{q(choice.target)}/lib{q(name)}.so .")
    result = device.run(script, cwd=partial, timeout=timeout, check=False)
    if result.returncode != 0:
        err = result.error(device.name)
        raise RemoteCommandError(f"building on {device.name} failed: " + str(err).split(
            "failed", 1)[-1].lstrip(" :("), command=err.command, returncode=err.returncode,
            stdout=err.stdout, stderr=err.stderr)


EXEC_FAILURES = re.compile(r"exec format error|cannot execute binary|not executable|"
                           r"syntax error: (unexpected|word unexpected)|ELF", re.I)


def _target_mismatch(result, choice: TargetChoice, info: DeviceInfo,  # noqa: ANN001
                     where: str) -> TargetMismatchError | None:
    """A TargetMismatchError if ``result`` shows that the device cannot execute ``program``."""
    text = result.stderr + result.stdout
    if result.returncode in (126, 127) and (EXEC_FAILURES.search(text) or
                                             result.returncode == 126):
        best = info.recommended()
        hint = (f"use --target {best.target}" if best.target != choice.target else
                "try --build-on-device")
        return TargetMismatchError(
            f"{where} cannot execute the {choice.target} program ({info.userland} "
            f"userland on {info.machine or 'an unknown CPU'}: {text.strip().splitlines()[-1]}"
            f"); {hint}")
    return None


def _threads_args(threads: int) -> list[str]:
    return ["--threads", str(threads)] if threads != 1 else []


def run_selftest(device: Device, program: str, choice: TargetChoice, info: DeviceInfo,
                 threads: int, timeout: float) -> str:
    """Run ``program --selftest`` on ``threads`` threads on the device; raise unless
    every vector matches."""
    result = device.run([program, "--selftest", *_threads_args(threads)], timeout=timeout,
                        check=False)
    mismatch = _target_mismatch(result, choice, info, device.name)
    if mismatch is not None:
        raise mismatch
    if result.returncode == 1 and "FAIL" in result.stdout:
        failed = [line for line in result.stdout.splitlines() if "FAIL" in line]
        raise SelftestError(
            f"self-test FAILED on {device.name} ({choice.target}"
            f"{', ' + choice.cpu if choice.cpu else ''}, {threads} threads): {failed[0]}"
            f"{f' (+{len(failed) - 2} more)' if len(failed) > 2 else ''}; the outputs "
            f"differ from the golden model on this CPU, so the release was not activated. "
            f"Please report it with the project's ir/ directory")
    if result.returncode != 0:
        raise result.error(device.name)
    return result.stdout


def run_bench(device: Device, program_dir: str, name: str, runs: int, warmup: int,
              threads: int, timeout: float) -> dict:
    result = device.run([f"./{name}", "--bench", str(runs), "--warmup", str(warmup), "--json",
                         *_threads_args(threads)], cwd=program_dir, timeout=timeout)
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RemoteCommandError(f"the benchmark on {device.name} printed no JSON: "
                                 f"{result.stdout.strip()[:200]!r}") from None
    return data


def host_bench(project: Path, name: str, runs: int, warmup: int, threads: int = 1
               ) -> dict | None:
    """The same benchmark of this PC's host build, if bnn-export built one."""
    program = project / "build" / "host" / name
    if not program.is_file():
        return None
    try:
        proc = subprocess.run([str(program), "--bench", str(runs), "--warmup", str(warmup),
                               "--json", *_threads_args(threads)], capture_output=True,
                              text=True, timeout=120)
        return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
            else None
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def bench_path(project: Path, device: Device, target: str) -> Path:
    host = re.sub(r"[^A-Za-z0-9._-]+", "_", device.target.alias)
    port = "" if device.target.port == 22 else f"_{device.target.port}"
    return project / f"bench-{host}{port}-{target}.json"


def deploy(project: str | Path, device: Device, *, target: str = "auto",
           cpu: str | None = None, build_on_device: bool = False, remote_dir: str = "bnnkit",
           bench: int = 0, warmup: int = 3, threads: int | Sequence[int] | None = None,
           keep: int = 3,
           timeout: float = 120.0, log: Callable[[str], None] = lambda _m: None,
           warn: Callable[[str], None] = lambda _m: None,
           progress: Callable[[int, int], None] | None = None) -> DeployResult:
    """Deploy the generated C project ``project`` to ``device``; see the module doc.

    ``timeout`` bounds each remote step (build on the device, self-test,
    benchmark). ``threads``: a thread count or several; the self-test runs on
    each, and so does the benchmark (one result per count). Raises a
    :mod:`bnnkit.deploy.errors` exception on failure; the previous deployment
    stays current unless the new one passed its self-test on every count.
    """
    counts = [threads] if isinstance(threads, int) else list(threads or [1])
    project = Path(project)
    name = project_name(project)
    root = absolute_remote_dir(remote_dir, device.home)
    app = RemoteApp(device, root, name)
    log(f"probing {device.name}")
    info = device.probe(app.dir)
    choice, warnings = choose_target(info, target, cpu, build_on_device)
    for w in warnings:
        warn(w)
    log(f"device: {info.describe()}")
    log(f"target: {choice.target}" + (f", cpu {choice.cpu}" if choice.cpu else "") +
        f" ({choice.reason})")
    if choice.build_on_device:
        _remote_compiler(device, info)      # before uploading: says what to install
    else:
        _build_locally(project, name, choice, log)
    files = collect_files(_release_pairs(project, name, choice.target,
                                         not choice.build_on_device))
    digest = bundle_digest(files)
    release = app.unique_release(release_id(digest))
    growth = 3 if choice.build_on_device else 1     # a build adds objects and binaries
    needed = sum(f.size for f in files) * growth
    inodes = (len(files) + len(release_dirs(release, files))) * growth
    app.check_space(needed, info.free_bytes, inodes, info.free_inodes)
    previous = app.current_release() if device.is_active else None
    app.remove_partials()
    log(f"uploading {len(files)} files ({sum(f.size for f in files) / 1024:.0f} KiB) to "
        f"{app.releases}/{release}")
    partial = app.upload(release, files, progress)
    try:
        if choice.build_on_device:
            _build_on_device(device, info, partial, name, choice, timeout, log)
        selftest = ""
        for n in counts:
            log(f"self-test on {device.name}" + (f", {n} threads" if n != 1 else ""))
            selftest = run_selftest(device, posixpath.join(partial, name), choice, info, n,
                                    timeout)
    except DeployError:
        if device.is_active:                # a release that failed is never kept
            device.run(["rm", "-rf", "--", partial], check=False)
        raise
    app.finish(partial, release)
    app.switch(release)
    pruned = app.prune(keep)
    result = DeployResult(device=device.name, info=info, target=choice.target, cpu=choice.cpu,
                          built_on_device=choice.build_on_device, release=release,
                          app_dir=app.dir, program=posixpath.join(app.current, name),
                          previous=previous, selftest=selftest, warnings=warnings,
                          pruned=pruned, ssh_command=device.target.ssh_command())
    if bench > 0:
        for n in counts:
            log(f"benchmark: {bench} runs after {warmup} warm-up runs, {n} threads")
            data = run_bench(device, app.current, name, bench, warmup, n, timeout)
            data.update({"threads": n, "device": device.name,
                         "board": info.model, "cpu": info.cpu, "userland": info.userland,
                         "target": choice.target, "tuned_for": choice.cpu,
                         "release": release,
                         "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "host": platform.node()})
            mine = host_bench(project, name, bench, warmup, n)
            if mine is not None:
                data["host_bench"] = mine
            result.benches.append(data)
        result.bench = result.benches[0]
        result.host_bench = result.bench.get("host_bench")
        saved = dict(result.bench)
        if len(counts) > 1:
            saved["by_threads"] = {str(d["threads"]): d for d in result.benches}
        path = bench_path(project, device, choice.target)
        result.bench_file = write_file(path, json.dumps(saved, indent=1) + "\n")
    return result

