"""Many generated models in one C program per target, checked against the golden model.

The generated C of each model (``codegen.emit.render_project``: the model,
its weights and golden test vectors) is compiled with exactly the flags its
own Makefile uses for the target (read from that Makefile, never copied
here); the C runtime is compiled once per flavor and linked into every
batch. One driver program runs every model of a batch on its golden vectors
with buffers of exactly the size the header states (so AddressSanitizer
sees any access past them), and checks that the input is left untouched.

Flavors: ``host-asan`` (the host preset at -O1 with AddressSanitizer and
UBSan, every report fatal), ``host`` (-O3 -march=native), ``generic``
(portable C), ``armv8`` and ``armv7`` (static, run under qemu-user).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from bnnkit.codegen.build import compiler_for, emulator_command
from bnnkit.codegen.emit import render_project, runtime_dir
from bnnkit.ir.graph import Graph

SANITIZE = "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined " \
           "-fno-sanitize-recover=all"
#: flavor -> (Makefile target preset, extra flags)
FLAVORS: dict[str, tuple[str, str]] = {
    "host-asan": ("host", SANITIZE),
    "host": ("host", ""),
    "generic": ("generic", ""),
    "armv8": ("armv8", ""),
    "armv7": ("armv7", ""),
}
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
DRIVER_TIMEOUT = 1200
MODEL_FILES = ("{n}.h", "{n}.c", "{n}_weights.h", "{n}_weights.c", "{n}_testvectors.h",
               "{n}_testvectors.c")
SOURCES = ("{n}.c", "{n}_weights.c", "{n}_testvectors.c")

DRIVER = jinja2.Template("""\
/* Campaign driver: runs every model of this batch on its golden vectors.
 * Prints "begin NAME" before and "ok NAME" or "FAIL NAME ..." after each model;
 * argv[1] is the index of the first model to run (to resume after a crash). */
#define _POSIX_C_SOURCE 200112L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

{% for m in models %}
#include "{{ m }}_testvectors.h"
{% endfor %}

typedef int (*run_fn)(const void *input, void *output, void *arena);

struct model {
    const char *name;
    run_fn run;
    size_t arena_bytes, input_bytes, output_bytes;
    int vectors;
    const unsigned char *inputs, *outputs;
};

static const struct model models[] = {
{% for m in models %}
    { "{{ m }}", {{ m }}_run, {{ m | upper }}_ARENA_SIZE, {{ m | upper }}_INPUT_BYTES,
      {{ m | upper }}_OUTPUT_BYTES, {{ m | upper }}_NUM_TESTVECTORS,
      &{{ m }}_testvector_inputs[0][0], &{{ m }}_testvector_outputs[0][0] },
{% endfor %}
};

/* Exactly `bytes` (at least 1), 16-byte aligned: a sanitizer sees any access past it. */
static unsigned char *buffer(size_t bytes)
{
    void *p = NULL;

    if (posix_memalign(&p, 16, bytes > 0 ? bytes : 1) != 0) {
        printf("FAIL out of memory\\n");
        exit(3);
    }
    return p;
}

/* 0 if every vector's output equals the golden one and the input is unchanged. */
static int check(const struct model *m)
{
    unsigned char *input = buffer(m->input_bytes), *output = buffer(m->output_bytes);
    unsigned char *arena = buffer(m->arena_bytes);
    int v, failed = 0;

    for (v = 0; v < m->vectors && !failed; v++) {
        const unsigned char *in = m->inputs + (size_t)v * m->input_bytes;
        const unsigned char *want = m->outputs + (size_t)v * m->output_bytes;
        size_t i;
        int err;

        memcpy(input, in, m->input_bytes);
        memset(output, 0xA5, m->output_bytes);
        memset(arena, 0x5A, m->arena_bytes);
        err = m->run(input, output, arena);
        for (i = 0; i < m->output_bytes && output[i] == want[i]; i++)
            ;
        if (err != 0) {
            printf("FAIL %s vector %d: error %d\\n", m->name, v, err);
            failed = 1;
        } else if (i < m->output_bytes) {
            printf("FAIL %s vector %d: byte %lu of %lu is 0x%02x, golden 0x%02x\\n", m->name,
                   v, (unsigned long)i, (unsigned long)m->output_bytes, output[i], want[i]);
            failed = 1;
        } else if (memcmp(input, in, m->input_bytes) != 0) {
            printf("FAIL %s vector %d: the input buffer was written\\n", m->name, v);
            failed = 1;
        }
    }
    free(input);
    free(output);
    free(arena);
    return failed;
}

int main(int argc, char **argv)
{
    size_t i, first = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 0;
    int failures = 0;

    for (i = first; i < sizeof models / sizeof models[0]; i++) {
        printf("begin %s\\n", models[i].name);
        fflush(stdout);
        if (check(&models[i]))
            failures++;
        else
            printf("ok %s\\n", models[i].name);
        fflush(stdout);
    }
    return failures ? 1 : 0;
}
""", trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined)


@dataclass(frozen=True)
class Flags:
    """How the generated Makefile compiles for one flavor."""

    cc: str
    cflags: list[str]
    ldflags: list[str]

    @property
    def key(self) -> str:
        return hashlib.sha256(" ".join([self.cc, *self.cflags, "|", *self.ldflags])
                              .encode()).hexdigest()[:12]


def makefile_flags(makefile_dir: Path, flavor: str) -> Flags:
    """CC, CFLAGS (warnings as errors and thread flags included) and LDFLAGS the project's
    Makefile uses."""
    target, extra = FLAVORS[flavor]
    printer = "campaign-flags: ; @printf '%s\\n' '$(CC)' '$(WARNINGS) $(CFLAGS) " \
              "$(EXTRA_CFLAGS) $(THREAD_FLAGS)' '$(LDFLAGS) $(EXTRA_CFLAGS)'"
    out = subprocess.run(["make", "-s", "--no-print-directory", f"TARGET={target}",
                          f"CC={compiler_for(target)}", "STRICT=1", f"EXTRA_CFLAGS={extra}",
                          f"--eval={printer}", "campaign-flags"], cwd=makefile_dir,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return Flags(out[0], out[1].split(), out[2].split())


def runtime_objects(flags: Flags, cache: Path, source_dir: Path | None = None) -> list[Path]:
    """The C runtime (``source_dir``, default bnnkit's) compiled once for these flags, kept
    while its sources are unchanged; processes sharing ``cache`` compile it once."""
    sources = sorted(p for p in (source_dir or runtime_dir()).iterdir()
                     if p.suffix in (".c", ".h"))
    digest = hashlib.sha256(flags.key.encode())
    for p in sources:
        digest.update(p.name.encode() + p.read_bytes())
    where = cache / f"runtime-{digest.hexdigest()[:16]}"
    objects = [where / f"{p.stem}.o" for p in sources if p.suffix == ".c"]
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"{where.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # another test worker may be compiling it
        if not all(o.is_file() for o in objects):
            building = Path(tempfile.mkdtemp(prefix=f"{where.name}.", dir=cache))
            _run([flags.cc, *flags.cflags, "-c",
                  *(str(p) for p in sources if p.suffix == ".c")], building)
            shutil.rmtree(where, ignore_errors=True)   # an older, interrupted compile
            building.rename(where)
    return objects


def link_runtime_headers(where: Path) -> None:
    """Generated model sources include "runtime/bnn_runtime.h" beside themselves."""
    (where / "runtime").symlink_to(runtime_dir(), target_is_directory=True)


def write_model(graph: Graph, name: str, where: Path, vectors: np.ndarray) -> None:
    """The model's own C files (runtime and IR aside) into ``where``."""
    files = render_project(graph, target="host", name=name, cpu=None, command_line="",
                           test_vectors=vectors)
    for pattern in MODEL_FILES:
        rel = pattern.format(n=name)
        (where / rel).write_text(files[rel])


@dataclass
class BatchResult:
    outcome: dict[str, str]   # model name -> "ok" or what went wrong (one line)
    detail: dict[str, str]    # model name -> compiler or sanitizer output, when not ok


def check_batch(names: list[str], where: Path, flavor: str, flags: Flags,
                runtime: list[Path]) -> BatchResult:
    """Compile each model, link one driver for the batch, run it; a result per model."""
    build = where / flavor
    build.mkdir(exist_ok=True)
    result = BatchResult({}, {})
    built = names
    if _compile(names, where, build, flags).returncode:  # find which models fail to build
        built = []
        for name in names:
            proc = _compile([name], where, build, flags)
            if proc.returncode:
                result.outcome[name] = "build failed"
                result.detail[name] = proc.stderr[-4000:]
            else:
                built.append(name)
    if not built:
        return result
    (build / "driver.c").write_text(DRIVER.render(models=built))
    objects = [str(build / f"{s.format(n=n)[:-2]}.o") for n in built for s in SOURCES]
    program = build / "campaign"
    link = _run([flags.cc, *flags.cflags, f"-I{where}", "-o", str(program), "driver.c",
                 *objects, *(str(o) for o in runtime), *flags.ldflags], build, check=False)
    if link.returncode:
        for name in built:
            result.outcome[name] = "link failed"
            result.detail[name] = link.stderr[-4000:]
        return result
    _run_driver(program, built, flavor, result)
    return result


def _compile(names: list[str], where: Path, build: Path, flags: Flags
             ) -> subprocess.CompletedProcess:
    return _run([flags.cc, *flags.cflags, "-c",
                 *(str(where / s.format(n=n)) for n in names for s in SOURCES)], build,
                check=False)


def _run_driver(program: Path, names: list[str], flavor: str, result: BatchResult) -> None:
    env = {**os.environ, **SANITIZER_ENV}
    first = 0
    while first < len(names):
        try:
            proc = subprocess.run([*emulator_command(FLAVORS[flavor][0]), str(program),
                                   str(first)], capture_output=True, text=True, env=env,
                                  timeout=DRIVER_TIMEOUT)
        except subprocess.TimeoutExpired:
            for name in names[first:]:
                result.outcome.setdefault(name, f"no result within {DRIVER_TIMEOUT} s")
            return
        begun = None
        for line in proc.stdout.splitlines():
            word, _, rest = line.partition(" ")
            if word == "begin":
                begun = rest
            elif word == "ok":
                result.outcome[rest] = "ok"
                begun = None
            elif word == "FAIL":
                name = rest.split(" ", 1)[0]
                result.outcome[name] = "mismatch: " + rest.split(" ", 1)[1]
                begun = None
        if begun is None:  # every model it began has its line
            for name in names[first:]:
                result.outcome.setdefault(name, f"driver exited {proc.returncode} first")
            return
        report = _sanitizer_line(proc.stderr) or f"crashed with exit code {proc.returncode}"
        result.outcome[begun] = report
        result.detail[begun] = proc.stderr[-6000:]
        first = names.index(begun) + 1


def _sanitizer_line(stderr: str) -> str | None:
    for line in stderr.splitlines():
        if "ERROR: AddressSanitizer" in line or "runtime error:" in line or \
                "ERROR: LeakSanitizer" in line:
            return "sanitizer: " + re.sub(r"0x[0-9a-f]+", "0x...", line.strip())[:300]
    return None


def _run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    if check and proc.returncode:
        raise RuntimeError(f"{' '.join(args[:3])} ... failed:\n{proc.stderr[-4000:]}")
    return proc
