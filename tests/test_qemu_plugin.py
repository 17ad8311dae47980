"""bnnkit's own qemu instruction-count plugin: builds from the package's
sources with gcc alone, warning-free, and counts the same in both modes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bnnkit.bench import insns, plugin

from .tooling import need

THREADS = """\
#include <pthread.h>
static volatile long sink;
static void *work(void *arg)
{
    long i, s = 0;
    for (i = 0; i < (long)arg; i++)
        s += i;
    sink = s;
    return 0;
}
/* no argument: the loop on the main thread; any argument: on 2 threads */
int main(int argc, char **argv)
{
    pthread_t t[2];
    long i;
    (void)argv;
    if (argc == 1) {
        work((void *)60000L);
        return 0;
    }
    for (i = 0; i < 2; i++)
        pthread_create(&t[i], 0, work, (void *)(20000L * (i + 1)));
    for (i = 0; i < 2; i++)
        pthread_join(t[i], 0);
    return 0;
}
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("gcc", "gcc")
    return plugin.build_plugin(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def threads_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("qemu-aarch64", "qemu-user")
    cc = need("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")
    work = tmp_path_factory.mktemp("threads")
    (work / "threads.c").write_text(THREADS)
    subprocess.run([cc, "-O1", "-static", "-pthread", "-o", str(work / "threads"),
                    str(work / "threads.c")], check=True)
    return work / "threads"


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_plugin_source_is_warning_free(compiler: str, tmp_path: Path) -> None:
    cc = need(compiler, compiler)
    subprocess.run([cc, *plugin.CFLAGS, "-Werror", "-pedantic", f"-I{plugin.SOURCE_DIR}",
                    "-o", str(tmp_path / plugin.LIBRARY), str(plugin.SOURCE)], check=True)


def test_built_once_then_cached(library: Path) -> None:
    stamp = library.stat().st_mtime_ns
    assert plugin.build_plugin(library.parent.parent) == library
    assert library.stat().st_mtime_ns == stamp
    assert [p.name for p in library.parent.iterdir()] == [plugin.LIBRARY]  # no partial file


def test_per_vcpu_counts_add_up(library: Path, threads_program: Path) -> None:
    """vcpus=on: one count per guest thread, summing to the total; the busier
    worker (40000 iterations of several instructions) shows in its own count."""
    counts = insns.run_counted("armv8", library, [str(threads_program), "threads"],
                               per_vcpu=True)
    assert counts.total == sum(counts.per_vcpu.values())
    assert len(counts.per_vcpu) >= 2 and 0 in counts.per_vcpu
    assert max(n for i, n in counts.per_vcpu.items() if i != 0) > 100_000


def test_both_modes_count_the_same(library: Path, threads_program: Path) -> None:
    """One thread: the inline count and the per-block count are the same
    exact number, run after run."""
    argv = [str(threads_program)]
    inline = insns.run_counted("armv8", library, argv)
    per_vcpu = insns.run_counted("armv8", library, argv, per_vcpu=True)
    assert inline.per_vcpu == {}
    assert per_vcpu.per_vcpu == {0: inline.total} and per_vcpu.total == inline.total > 180_000
    assert insns.run_counted("armv8", library, argv).total == inline.total


def test_unknown_argument_refused(library: Path, threads_program: Path) -> None:
    cmd = [*insns.emulator_command("armv8"), "-plugin", f"{library},vcpu=1", str(threads_program)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown argument 'vcpu=1'" in proc.stderr
