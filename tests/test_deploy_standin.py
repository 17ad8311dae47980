"""Deploy over SSH, tier 2: real arm64 and armhf Debian bookworm userlands behind sshd.

The stand-ins are debootstrap'ed Raspberry Pi OS look-alikes (see
``tools/build_standin.sh``), served through sshd's ``ChrootDirectory``, with
every program (bash, python3, the model) run by qemu-user-static: ``uname
-m`` says aarch64 / armv7l, ``dpkg --print-architecture`` arm64 / armhf,
and there is no /proc and no /proc/device-tree, as on some boards. The
userland tarballs are built once per machine (on 2 cores ~4-7 min for armhf,
~14 min for arm64, which also has OpenCV for tests/test_demo_remote.py) and
cached in /var/cache/bnnkit-standins; the tests unpack them (~10-20 s).
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest

from bnnkit.deploy import (  # noqa: E402
    Device,
    RemoteDiskFullError,
    RemoteToolMissingError,
    deploy,
)

from .pi_standin import (  # noqa: E402
    SshServer,
    binfmt_handlers,
    digits_project,
    keygen,
    need_root_sshd,
    standin_root,
    tmpfs,
)

EXPECTED = {"arm64": ("armv8", "aarch64", 0xB7), "armhf": ("armv7", "armv7l", 0x28)}


@pytest.fixture(scope="module", params=["arm64", "armhf"])
def standin(request, tmp_path_factory):  # noqa: ANN001, ANN201
    need_root_sshd()
    arch = request.param
    work = tmp_path_factory.mktemp(f"standin-{arch}")
    key = keygen(work / "id_ed25519")
    with binfmt_handlers():
        root = standin_root(arch)
        with SshServer(work / "sshd", [key], chroot=root) as server:
            (work / "known_hosts").write_text(server.known_hosts_line())
            yield arch, server, key, work / "known_hosts"


@pytest.fixture
def device(standin):  # noqa: ANN001, ANN201
    _, server, key, known = standin
    with Device.connect("root@127.0.0.1", port=server.port, key_files=[key],
                        known_hosts=known, interactive=False, allow_agent=False,
                        timeout=30) as dev:
        yield dev


@pytest.fixture
def remote_dir(standin) -> str:  # noqa: ANN001
    """A folder of the test's own on the device: every test worker, and every test run
    on this machine, uses the same unpacked root."""
    _, server, _, _ = standin
    path = f"/root/deploy-test-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(server.local_path(path), ignore_errors=True)


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    return digits_project(tmp_path_factory.mktemp("project"))


def test_probe_of_a_chroot_without_proc(standin, device) -> None:  # noqa: ANN001
    arch, _, _, _ = standin
    info = device.probe("/root")
    assert info.dpkg_arch == arch and info.userland == arch
    assert info.machine == EXPECTED[arch][1]
    assert info.model is None and info.cpu is None          # no /proc, no device tree
    assert info.long_bit == (64 if arch == "arm64" else 32)
    assert info.free_bytes is not None and info.free_bytes > 0
    assert "python3" in info.tools and "gcc" not in info.tools
    assert info.recommended().target == EXPECTED[arch][0]


def test_auto_target_deploy_selftest_bench(standin, device, project_dir,
                                           remote_dir) -> None:  # noqa: ANN001
    arch, server, _, _ = standin
    target, _, machine = EXPECTED[arch]
    start = time.monotonic()
    result = deploy(project_dir, device, remote_dir=remote_dir, bench=10, warmup=1,
                    threads=2, timeout=300)
    print(f"{arch}: deploy + self-test + bench {time.monotonic() - start:.1f} s")
    assert result.target == target and not result.built_on_device
    assert "selftest: 3 of 3 vectors passed" in result.selftest
    app = server.local_path(result.app_dir)
    program = app / "current" / "digits_bnn"
    assert program.read_bytes()[18] == machine
    assert result.bench is not None and len(result.bench["layers"]) == 5
    assert result.bench["userland"] == arch and result.bench["threads"] == 2
    assert result.bench_file is not None and result.bench_file.name == \
        f"bench-127.0.0.1_{server.port}-{target}.json"
    # the library loads into the device's own python3 through cffi's ABI mode, as
    # bnnkit.runtime.CModel(dir, library=...) will load it on a Pi
    check = device.run(["python3", "-c",
                        "import cffi; ffi = cffi.FFI(); "
                        "ffi.cdef('int digits_bnn_run(const void *, void *, void *);'); "
                        "lib = ffi.dlopen('./libdigits_bnn.so'); print(lib.digits_bnn_run)"],
                       cwd=f"{result.app_dir}/current", timeout=120)
    assert "cdata" in check.stdout


def test_build_on_device_without_compiler_says_what_to_install(
        device, project_dir, remote_dir) -> None:  # noqa: ANN001
    with pytest.raises(RemoteToolMissingError) as err:
        deploy(project_dir, device, build_on_device=True, remote_dir=remote_dir)
    assert "sudo apt install gcc make" in str(err.value) and err.value.exit_code == 5


def test_full_disk_inside_the_device(standin, device, project_dir,
                                    remote_dir) -> None:  # noqa: ANN001
    _, server, _, _ = standin
    with tmpfs(server.local_path(remote_dir), "64k"):
        with pytest.raises(RemoteDiskFullError, match="not enough space"):
            deploy(project_dir, device, remote_dir=remote_dir)
