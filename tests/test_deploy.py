"""Deploy over SSH, tier 1: a real OpenSSH server on loopback, ARM programs via binfmt_misc.

No mocks of paramiko or of the server: every test talks SSH to ``sshd``
started by the fixtures of ``pi_standin``. The ARM builds are static and
run through qemu-user-static registered with binfmt_misc, so the "device"
executes them as a Pi would (``uname -m`` still says x86_64 here; the
debootstrap tier in test_deploy_standin.py has real ARM userlands).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bnnkit.deploy import (  # noqa: E402
    AuthenticationError,
    ChangedHostKeyError,
    Device,
    RemoteCommandError,
    RemoteDiskFullError,
    RemotePathError,
    RemoteTimeoutError,
    SelftestError,
    UnreachableError,
    choose_target,
    deploy,
    parse_probe,
)
from bnnkit.deploy.bench import format_table  # noqa: E402
from bnnkit.deploy.pipeline import _target_mismatch  # noqa: E402
from bnnkit.deploy.probe import TargetChoice  # noqa: E402
from bnnkit.deploy.release import absolute_remote_dir, validate_remote_dir  # noqa: E402
from bnnkit.deploy.ssh import CompletedCommand  # noqa: E402

from .pi_standin import (  # noqa: E402
    SshServer,
    binfmt_handlers,
    digits_project,
    keygen,
    need_root_sshd,
    tmpfs,
)

# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:  # noqa: ANN001
    d = tmp_path_factory.mktemp("keys")
    return {"ed25519": keygen(d / "id_ed25519"), "rsa": keygen(d / "id_rsa", "rsa"),
            "ecdsa": keygen(d / "id_ecdsa", "ecdsa"),
            "stranger": keygen(d / "stranger_ed25519"),
            "encrypted": keygen(d / "encrypted_ed25519", passphrase="s3cret pass")}


@pytest.fixture(scope="module")
def server(tmp_path_factory, keys):  # noqa: ANN001, ANN201
    need_root_sshd()
    authorized = [keys[k] for k in ("ed25519", "rsa", "ecdsa", "encrypted")]
    with binfmt_handlers(), SshServer(tmp_path_factory.mktemp("sshd"), authorized) as srv:
        yield srv


@pytest.fixture
def known_hosts(tmp_path, server) -> Path:  # noqa: ANN001
    path = tmp_path / "known_hosts"
    path.write_text(server.known_hosts_line())
    return path


@pytest.fixture
def device(server, keys, known_hosts):  # noqa: ANN001, ANN201
    with Device.connect("root@127.0.0.1", port=server.port, key_files=[keys["ed25519"]],
                        known_hosts=known_hosts, interactive=False, allow_agent=False) as dev:
        yield dev


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    return digits_project(tmp_path_factory.mktemp("project"))


def cli(*args: str, env: dict | None = None, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run bnn-deploy as a user would (a subprocess, no agent, stdin not a terminal).

    ``timeout`` only stops a hung run: a deploy that builds and benchmarks takes
    ~50 s on 2 idle cores and over 300 s on 2 cores at load 20 (-n 4)."""
    base = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    return subprocess.run([sys.executable, "-m", "bnnkit.cli.deploy_cmd", *args],
                          capture_output=True, text=True, env={**base, **(env or {})},
                          stdin=subprocess.DEVNULL, timeout=timeout)


def ssh_args(server: SshServer, keys: dict, known_hosts: Path) -> list[str]:
    return ["root@127.0.0.1", "-p", str(server.port), "-i", str(keys["ed25519"]),
            "--known-hosts", str(known_hosts)]


def current_release(server: SshServer, app: str) -> str:
    return os.readlink(server.local_path(app) / "current").split("/")[-1]


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections: bound here but not listening, and
    held for the test (a port bound and released would be free for another process's
    server, or a client's ephemeral port, before the test connects to it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def still_running(device: Device, awk_filter: str, timeout: float = 30) -> str:
    """The device's processes that ``awk_filter`` selects from ``ps -eo pgid=,stat=,args=``
    once none is left, or after ``timeout`` s: a signalled process exits when the
    scheduler runs it, after ``kill`` has returned (later on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = device.run(f"ps -eo pgid=,stat=,args= | awk '{awk_filter}'").stdout
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


# -- pure parts -----------------------------------------------------------------------

def tc(choice: TargetChoice, n: int = 2) -> tuple:
    return (choice.target, choice.cpu, choice.build_on_device)[:n]


PI4_PROBE = """@machine
aarch64
@model
Raspberry Pi 4 Model B Rev 1.4
@cpuinfo
CPU architecture: 8
CPU part	: 0xd08
@long_bit
64
@dpkg
arm64
@os
Debian GNU/Linux 12 (bookworm)
@tools
sha256sum
python3
@home
/home/pi
@end
"""


def test_probe_parses_a_pi4_and_picks_armv8_cortex_a72() -> None:
    info = parse_probe(PI4_PROBE)
    assert (info.model, info.cpu, info.userland, info.home) == \
        ("Raspberry Pi 4 Model B Rev 1.4", "cortex-a72", "arm64", "/home/pi")
    choice, warnings = choose_target(info)
    assert (choice.target, choice.cpu, choice.build_on_device, warnings) == \
        ("armv8", "cortex-a72", False, [])


def test_probe_armhf_userland_on_a_64_bit_kernel_is_armv7() -> None:
    text = PI4_PROBE.replace("arm64", "armhf").replace("@long_bit\n64", "@long_bit\n32")
    assert tc(choose_target(parse_probe(text))[0]) == ("armv7", "cortex-a72")
    # no dpkg, no /proc, no device tree: the word size of the userland decides
    bare = "@machine\naarch64\n@model\n\n@cpuinfo\n@long_bit\n32\n@dpkg\n@tools\n@home\n/\n"
    info = parse_probe(bare)
    assert (info.model, info.cpu, info.userland) == (None, None, "armhf")
    assert tc(choose_target(info)[0]) == ("armv7", None)
    assert parse_probe(bare.replace("32", "64")).recommended().target == "armv8"


@pytest.mark.parametrize("model, cpu", [("Raspberry Pi 3 Model B Plus Rev 1.3", "cortex-a53"),
                                        ("Raspberry Pi 5 Model B Rev 1.0", "cortex-a76"),
                                        ("Raspberry Pi Zero 2 W Rev 1.0", "cortex-a53")])
def test_board_model_gives_the_cpu_without_cpuinfo(model: str, cpu: str) -> None:
    info = parse_probe(f"@machine\naarch64\n@model\n{model}\n@long_bit\n64\n")
    assert tc(info.recommended()) == ("armv8", cpu)


def test_armv6_and_unknown_devices_get_generic_built_there() -> None:
    zero = parse_probe("@machine\narmv6l\n@model\nRaspberry Pi Zero W Rev 1.1\n@dpkg\narmhf\n")
    assert tc(zero.recommended(), 3) == ("generic", None, True)
    riscv = parse_probe("@machine\nriscv64\n@long_bit\n64\n")
    choice, warnings = choose_target(riscv)
    assert choice.target == "generic" and choice.build_on_device
    assert "riscv64" in warnings[0]
    choice, warnings = choose_target(parse_probe(PI4_PROBE), "armv7")
    assert choice.target == "armv7" and "looks like armv8" in warnings[0]


def test_remote_dir_validation() -> None:
    for good in ("bnnkit", "~/models", "/opt/bnn-kit_1.0", "~"):
        assert validate_remote_dir(good) == good
    for bad in ("../etc", "a/../../b", "x; rm -rf /", "$(reboot)", "a b", "`id`", "", "-rf",
                "a/~/b", "x|y", "x\ny"):
        with pytest.raises(RemotePathError):
            validate_remote_dir(bad)
    assert absolute_remote_dir("~/m", "/home/pi") == "/home/pi/m"
    assert absolute_remote_dir("m/", "/home/pi") == "/home/pi/m"


def test_exec_format_error_names_the_right_target() -> None:
    info = parse_probe(PI4_PROBE.replace("arm64", "armhf").replace("\n64\n", "\n32\n"))
    result = CompletedCommand("x --selftest", 126, "", "sh: 1: ./x: Exec format error")
    err = _target_mismatch(result, TargetChoice("armv8", None, False, ""), info, "pi@pi4")
    assert err is not None and "--target armv7" in str(err) and err.exit_code == 18


def test_bench_table_has_layers_total_and_host_column() -> None:
    bench = {"runs": 5, "warmup": 1, "layers": [
        {"index": 0, "name": "node_00_bconv", "op": "bconv", "macs": 1000, "median": 12.5,
         "p90": 13.0}], "total": {"median": 12.5, "p90": 13.0}}
    table = format_table(bench, {"layers": [{**bench["layers"][0], "median": 1.5}],
                                 "total": {"median": 1.5}})
    assert "node_00_bconv" in table and "total" in table and "this PC" in table
    assert table.splitlines()[1].split()[-1] == "1.5"


# -- connecting -----------------------------------------------------------------------


def test_unknown_host_refused_with_fingerprint_then_accepted_with_flag(
        server, keys, project_dir, tmp_path) -> None:  # noqa: ANN001
    known = tmp_path / "ssh" / "known_hosts"
    refused = cli(str(project_dir), *ssh_args(server, keys, known), "--target", "host")
    assert refused.returncode == 12, refused.stderr
    message = refused.stderr.strip().splitlines()[-1]
    assert message.startswith("bnn-deploy: error: host [127.0.0.1]:")
    assert server.fingerprint() in message and "--accept-new-host-key" in message
    assert not known.exists()

    start = time.monotonic()
    done = cli(str(project_dir), *ssh_args(server, keys, known), "--target", "host",
               "--accept-new-host-key", "--bench", "20", "--threads", "2,1")
    assert done.returncode == 0, done.stderr
    print(f"host deploy with bench via CLI: {time.monotonic() - start:.1f} s")
    assert "recorded new host key" in done.stderr
    assert known.read_text().split()[1:] == server.public_host_key.split()
    assert "selftest: 3 of 3 vectors passed" in done.stdout
    assert "node_01_bconv" in done.stdout and "total" in done.stdout
    saved = project_dir / f"bench-127.0.0.1_{server.port}-host.json"
    data = json.loads(saved.read_text())
    assert data["runs"] == 20 and data["threads"] == 2 and data["target"] == "host"
    assert len(data["layers"]) == 5 and data["total"]["median"] > 0
    assert sorted(data["by_threads"]) == ["1", "2"]  # a table per thread count
    assert done.stdout.count("benchmark on ") == 2 and "threads 1:" in done.stdout

    # now known: no flag needed, and the line is not recorded twice
    again = cli(str(project_dir), *ssh_args(server, keys, known), "--target", "host", "-q")
    assert again.returncode == 0, again.stderr
    assert len(known.read_text().splitlines()) == 1


def test_changed_host_key_is_refused_loudly(server, keys, tmp_path) -> None:  # noqa: ANN001
    other = keygen(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(f"{server.host_key_name} {Path(f'{other}.pub').read_text()}")
    with pytest.raises(ChangedHostKeyError) as err:
        Device.connect("root@127.0.0.1", port=server.port, key_files=[keys["ed25519"]],
                       known_hosts=known, accept_new_host_key=True, interactive=False)
    assert "HOST KEY CHANGED" in str(err.value) and server.fingerprint() in str(err.value)
    assert err.value.exit_code == 13


def test_changed_host_key_cli_exit_code(server, keys, project_dir, tmp_path) -> None:  # noqa: ANN001
    other = keygen(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(f"{server.host_key_name} {Path(f'{other}.pub').read_text()}")
    result = cli(str(project_dir), *ssh_args(server, keys, known), "--accept-new-host-key")
    assert result.returncode == 13, result.stderr
    assert "HOST KEY CHANGED" in result.stderr and len(result.stderr.strip().splitlines()) == 2


def test_wrong_client_key_is_an_authentication_error(server, keys, known_hosts,
                                                     project_dir) -> None:  # noqa: ANN001
    result = cli(str(project_dir), "root@127.0.0.1", "-p", str(server.port), "-i",
                 str(keys["stranger"]), "--known-hosts", str(known_hosts),
                 env={"HOME": str(known_hosts.parent)})
    assert result.returncode == 11, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "permission denied for root@127.0.0.1" in line and "stranger_ed25519" in line
    assert "ssh-copy-id" in line


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_rsa_and_ecdsa_keys(server, keys, known_hosts, kind: str) -> None:  # noqa: ANN001
    with Device.connect("root@127.0.0.1", port=server.port, key_files=[keys[kind]],
                        known_hosts=known_hosts, interactive=False, allow_agent=False) as dev:
        assert dev.run("echo ok").stdout == "ok\n"


def test_encrypted_key_asks_for_its_passphrase(server, keys, known_hosts,
                                               monkeypatch) -> None:  # noqa: ANN001
    with pytest.raises(AuthenticationError, match="encrypted"):
        Device.connect("root@127.0.0.1", port=server.port, key_files=[keys["encrypted"]],
                       known_hosts=known_hosts, interactive=False, allow_agent=False)
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or
                        "s3cret pass")
    with Device.connect("root@127.0.0.1", port=server.port, key_files=[keys["encrypted"]],
                        known_hosts=known_hosts, interactive=True, allow_agent=False) as dev:
        assert dev.run("echo ok").stdout == "ok\n"
    assert prompts == [f"Enter passphrase for key '{keys['encrypted']}': "]


def test_password_login_given_or_prompted(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """OpenSSH checks the password (an account that exists only in sshd's
    mount namespace); a wrong one says so, and the prompt allows retries."""
    need_root_sshd()
    with SshServer(tmp_path / "sshd", [], passwords={"pi": "raspberry"}) as srv:
        known = tmp_path / "known_hosts"
        known.write_text(srv.known_hosts_line())
        monkeypatch.setenv("HOME", str(tmp_path))          # no default keys to try

        def connect(**kw: object) -> Device:
            return Device.connect("pi@127.0.0.1", port=srv.port, known_hosts=known,
                                  allow_agent=False, **kw)

        with connect(password="raspberry", interactive=False) as dev:
            assert dev.run("id -un").stdout == "pi\n"
        with pytest.raises(AuthenticationError, match="tried password.*Check the password"):
            connect(password="Raspberry", interactive=False)
        answers, prompts = iter(["wrong", "raspberry"]), []
        monkeypatch.setattr("getpass.getpass",
                            lambda prompt: prompts.append(prompt) or next(answers))
        with connect(interactive=True) as dev:
            assert dev.run("echo ok").stdout == "ok\n"
        assert prompts == ["pi@127.0.0.1's password: "] * 2


def test_unreachable_hosts(tmp_path) -> None:  # noqa: ANN001
    with closed_port() as port:
        result = cli(str(tmp_path), "root@127.0.0.1", "-p", str(port),
                     "--known-hosts", str(tmp_path / "kh"))
        # not a project: the source is checked before connecting
        assert result.returncode == 1 and "plan.json" in result.stderr
        with pytest.raises(UnreachableError, match="refused the connection"):
            Device.connect("root@127.0.0.1", port=port, known_hosts=tmp_path / "kh",
                           interactive=False)
    with pytest.raises(UnreachableError, match="cannot resolve host"):
        Device.connect("root@no-such-host.invalid", known_hosts=tmp_path / "kh",
                       interactive=False)


@pytest.mark.parametrize("first_timer", ["ours", "paramiko's"])
def test_a_silent_host_times_out(first_timer, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Whichever timer fires first (it depends on load), the error is a timeout."""
    import paramiko
    start_client = paramiko.Transport.start_client

    def start_client_later(self, event=None, timeout=None):  # noqa: ANN001, ANN202
        if first_timer == "ours":
            self.banner_timeout = timeout * 4   # paramiko's banner thread waits longer
        else:
            timeout *= 4                        # start_client waits longer
        return start_client(self, event, timeout)
    monkeypatch.setattr(paramiko.Transport, "start_client", start_client_later)
    with socket.socket() as silent:  # accepts TCP, never says SSH-2.0
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        start = time.monotonic()
        with pytest.raises(RemoteTimeoutError) as err:
            Device.connect("root@127.0.0.1", port=silent.getsockname()[1],
                           known_hosts=tmp_path / "kh", interactive=False, timeout=1.0)
        assert time.monotonic() - start < 10 and err.value.exit_code == 14


def test_cli_exit_codes_for_unreachable(project_dir, tmp_path) -> None:  # noqa: ANN001
    with closed_port() as port:
        result = cli(str(project_dir), "root@127.0.0.1", "-p", str(port),
                     "--known-hosts", str(tmp_path / "kh"))
    assert result.returncode == 10, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"bnn-deploy: error: 127.0.0.1:{port} refused the connection")


def test_ssh_config_alias(server, keys, project_dir, tmp_path) -> None:  # noqa: ANN001
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "pi_key").write_bytes(keys["ed25519"].read_bytes())
    (home / ".ssh" / "pi_key").chmod(0o600)
    (home / ".ssh" / "config").write_text(
        f"Host mypi\n    HostName 127.0.0.1\n    Port {server.port}\n    User root\n"
        f"    IdentityFile ~/.ssh/pi_key\n")
    (home / ".ssh" / "known_hosts").write_text(server.known_hosts_line())
    # "~" is the device's home, this machine's /root, which every test worker (and
    # any other test run here) shares: a folder of this test's own in it
    device_home = Path(pwd.getpwnam("root").pw_dir)
    apps = f"bnnkit-test-{uuid.uuid4().hex[:8]}/apps"
    try:
        result = cli(str(project_dir), "mypi", "--target", "host", "--remote-dir", f"~/{apps}",
                     env={"HOME": str(home)})
        assert result.returncode == 0, result.stderr
        current = device_home / apps / "digits_bnn" / "current"
        assert "deployed" in result.stdout and f"{current}" in result.stdout
        run = subprocess.run([str(current / "digits_bnn"), "--selftest"],
                             capture_output=True, text=True)
        assert run.returncode == 0
    finally:
        shutil.rmtree(device_home / apps.split("/")[0], ignore_errors=True)


# -- commands -------------------------------------------------------------------------


def test_run_collects_output_and_raises_with_remote_stderr(device) -> None:  # noqa: ANN001
    result = device.run(["printf", "%s|", "a b", "c'd"])
    assert result.stdout == "a b|c'd|" and result.returncode == 0
    with pytest.raises(RemoteCommandError) as err:
        device.run("echo to-stdout; echo 'no such thing' >&2; exit 3")
    assert "exit status 3" in str(err.value) and "no such thing" in str(err.value)
    assert err.value.returncode == 3 and err.value.exit_code == 15
    assert device.run("echo $BNN_THREADS", env={"BNN_THREADS": "4"}).stdout == "4\n"


def test_start_streams_lines_and_stop_kills_the_process_group(device) -> None:  # noqa: ANN001
    with device.start("for i in 1 2 3; do echo line $i; sleep 0.05; done; echo oops >&2") \
            as proc:
        seen = list(proc.lines(timeout=20))
    assert ("stdout", "line 1") in seen and ("stderr", "oops") in seen
    assert [line for s, line in seen if s == "stdout"] == ["line 1", "line 2", "line 3"]
    assert proc.returncode == 0

    proc = device.start("sleep 300 & sleep 301; echo never")
    time.sleep(0.5)
    assert proc.pid is not None and proc.poll() is None
    pgid = proc.pid
    proc.stop(grace=1)
    # zombies wait for this container's init
    assert still_running(device, f"$1 == {pgid} && $2 !~ /^Z/") == ""


def test_command_timeout_stops_the_remote_command(device) -> None:  # noqa: ANN001
    seconds = f"60.{uuid.uuid4().int % 10**6:06d}"   # no other test run's sleep looks alike
    start = time.monotonic()
    with pytest.raises(RemoteTimeoutError, match="did not finish within 1 s"):
        device.run(f"sleep {seconds}", timeout=1)
    assert time.monotonic() - start < 10
    assert still_running(device, f'$2 !~ /^Z/ && $3 == "sleep" && $4 == "{seconds}"') == ""


# -- deploying ------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["armv8", "armv7"])
def test_deploy_arm_builds_through_binfmt(device, project_dir, tmp_path,
                                          target: str) -> None:  # noqa: ANN001
    warnings: list[str] = []
    start = time.monotonic()
    result = deploy(project_dir, device, target=target, cpu="cortex-a72",
                    remote_dir=str(tmp_path / "remote"), bench=5, warmup=1,
                    warn=warnings.append)
    print(f"{target} deploy + bench: {time.monotonic() - start:.1f} s")
    assert result.target == target and result.cpu == "cortex-a72"
    assert "selftest: 3 of 3 vectors passed" in result.selftest
    assert any("building for " + target + " as asked" in w for w in warnings)
    program = tmp_path / "remote" / "digits_bnn" / "current" / "digits_bnn"
    assert program.read_bytes()[:4] == b"\x7fELF"
    assert program.read_bytes()[18] == (0xB7 if target == "armv8" else 0x28)  # e_machine
    assert (program.parent / "libdigits_bnn.so").is_file()
    assert (program.parent / "ir" / "graph.json").is_file()
    assert result.bench is not None and result.bench["runs"] == 5
    assert result.bench_file is not None and result.bench_file.name.endswith(f"-{target}.json")


def test_auto_target_on_this_kind_of_machine_is_generic(device, project_dir,
                                                       tmp_path) -> None:  # noqa: ANN001
    result = deploy(project_dir, device, remote_dir=str(tmp_path / "r"))
    assert (result.target, result.built_on_device) == ("generic", False)
    assert result.info.model is None            # no /proc/device-tree on this PC
    assert result.info.free_bytes and result.info.free_bytes > 0


def test_releases_switch_atomically_and_old_ones_are_pruned(device, project_dir,
                                                           tmp_path) -> None:  # noqa: ANN001
    remote = tmp_path / "remote"
    ids = [deploy(project_dir, device, target="host", remote_dir=str(remote), keep=2).release
           for _ in range(3)]
    assert len(set(ids)) == 3
    releases = sorted(p.name for p in (remote / "digits_bnn" / "releases").iterdir())
    assert releases == sorted(ids[1:])
    assert os.readlink(remote / "digits_bnn" / "current") == f"releases/{ids[2]}"
    assert not list((remote / "digits_bnn").glob(".current*"))


def test_interrupted_upload_leaves_the_previous_release_working(
        server, keys, known_hosts, project_dir, tmp_path) -> None:  # noqa: ANN001
    remote = str(tmp_path / "remote")
    app = tmp_path / "remote" / "digits_bnn"

    def connect() -> Device:
        return Device.connect("root@127.0.0.1", port=server.port, key_files=[keys["ed25519"]],
                              known_hosts=known_hosts, interactive=False, allow_agent=False)

    with connect() as dev:
        first = deploy(project_dir, dev, target="host", remote_dir=remote).release

    cut = threading.Event()
    with connect() as dev:
        def progress(done: int, total: int) -> None:
            if done > total // 2 and not cut.is_set():
                cut.set()
                dev.transport.close()           # the network goes away mid-upload

        with pytest.raises(UnreachableError, match="lost during the upload"):
            deploy(project_dir, dev, target="armv8", remote_dir=remote, progress=progress)
    assert cut.is_set()
    assert os.readlink(app / "current") == f"releases/{first}"
    assert [p.name for p in (app / "releases").glob("*.partial")]  # the half upload
    ok = subprocess.run([str(app / "current" / "digits_bnn"), "--selftest"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "3 of 3 vectors passed" in ok.stdout
    with connect() as dev:
        assert "3 of 3" in dev.run([f"{app}/current/digits_bnn", "--selftest"]).stdout
        second = deploy(project_dir, dev, target="armv8", remote_dir=remote).release
    assert not list((app / "releases").glob("*.partial"))
    assert os.readlink(app / "current") == f"releases/{second}"


def test_full_disk_is_refused_before_uploading(device, project_dir, tmp_path) -> None:  # noqa: ANN001
    with tmpfs(tmp_path / "tiny", "64k") as small:
        with pytest.raises(RemoteDiskFullError) as err:
            deploy(project_dir, device, target="host", remote_dir=str(small))
        assert "not enough space" in str(err.value) and err.value.exit_code == 16
        assert list(small.rglob("*.partial")) == []


def test_disk_filling_up_during_upload(device, project_dir, tmp_path) -> None:  # noqa: ANN001
    with tmpfs(tmp_path / "disk", "4m") as disk:
        first = deploy(project_dir, device, target="host", remote_dir=str(disk)).release
        filler = disk / "filler"

        def progress(done: int, total: int) -> None:
            if not filler.exists():             # someone else fills the disk meanwhile
                subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"],
                               capture_output=True)

        with pytest.raises(RemoteDiskFullError) as err:
            deploy(project_dir, device, target="armv8", remote_dir=str(disk),
                   progress=progress)
        assert "filled up" in str(err.value) and "untouched" in str(err.value)
        app = disk / "digits_bnn"
        assert os.readlink(app / "current") == f"releases/{first}"
        assert list((app / "releases").glob("*.partial")) == []
        filler.unlink()
        assert device.run([f"{app}/current/digits_bnn", "--selftest"]).returncode == 0


def test_too_few_inodes_are_refused_before_uploading(device, project_dir, tmp_path) -> None:  # noqa: ANN001
    with tmpfs(tmp_path / "few", "4m", inodes=12) as small:
        with pytest.raises(RemoteDiskFullError) as err:
            deploy(project_dir, device, target="host", remote_dir=str(small))
        assert "not enough inodes" in str(err.value) and err.value.exit_code == 16
        assert list(small.rglob("*.partial")) == []


def test_inodes_running_out_during_upload(device, project_dir, tmp_path) -> None:  # noqa: ANN001
    with tmpfs(tmp_path / "disk", "8m", inodes=200) as disk:
        first = deploy(project_dir, device, target="host", remote_dir=str(disk)).release
        fillers = disk / "fillers"

        def progress(done: int, total: int) -> None:
            if not fillers.exists():            # someone else uses up the inodes meanwhile
                fillers.mkdir()
                for i in range(200):
                    try:
                        (fillers / str(i)).touch()
                    except OSError:
                        break

        with pytest.raises(RemoteDiskFullError) as err:
            deploy(project_dir, device, target="armv8", remote_dir=str(disk),
                   progress=progress)
        assert "ran out of inodes" in str(err.value) and "untouched" in str(err.value)
        assert err.value.exit_code == 16
        app = disk / "digits_bnn"
        assert os.readlink(app / "current") == f"releases/{first}"
        assert list((app / "releases").glob("*.partial")) == []
        shutil.rmtree(fillers)
        assert device.run([f"{app}/current/digits_bnn", "--selftest"]).returncode == 0


def test_selftest_mismatch_is_not_activated(device, project_dir, tmp_path) -> None:  # noqa: ANN001
    remote = str(tmp_path / "remote")
    first = deploy(project_dir, device, target="host", remote_dir=remote).release
    broken = digits_project(tmp_path / "broken")
    vectors = broken / "digits_bnn_testvectors.c"
    text = vectors.read_text()
    marker = "digits_bnn_testvector_outputs"
    head, tail = text.split(marker, 1)
    i = tail.index("0x")
    value = int(tail[i:i + 4], 16)
    vectors.write_text(head + marker + tail[:i] + f"0x{value ^ 1:02x}" + tail[i + 4:])
    with pytest.raises(SelftestError) as err:
        deploy(broken, device, target="host", remote_dir=remote)
    assert "self-test FAILED" in str(err.value) and "vector 0: FAIL" in str(err.value)
    assert err.value.exit_code == 17
    app = tmp_path / "remote" / "digits_bnn"
    assert os.readlink(app / "current") == f"releases/{first}"
    assert [p.name for p in (app / "releases").iterdir()] == [first]   # no failed release


def test_build_on_device(device, project_dir, tmp_path) -> None:  # noqa: ANN001
    result = deploy(project_dir, device, target="generic", build_on_device=True,
                    remote_dir=str(tmp_path / "remote"))
    assert result.built_on_device and "3 of 3" in result.selftest
    app = tmp_path / "remote" / "digits_bnn" / "current"
    assert (app / "build" / "generic" / "digits_bnn").is_file()


def test_cli_exports_and_deploys_a_model_file(server, keys, known_hosts, tmp_path) -> None:  # noqa: ANN001
    model = tmp_path / "digits.pt"
    model.write_bytes((Path(__file__).parent.parent / "examples" / "digits_bnn.pt").read_bytes())
    result = cli(str(model), *ssh_args(server, keys, known_hosts), "--target", "host",
                 "--remote-dir", str(tmp_path / "remote"))
    assert result.returncode == 0, result.stderr
    assert "exporting" in result.stderr and (tmp_path / "digits_bnn" / "plan.json").is_file()
    program = tmp_path / "remote" / "digits" / "current" / "digits"
    assert subprocess.run([str(program), "--selftest"], capture_output=True).returncode == 0
