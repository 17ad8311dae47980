"""``bnn-deploy``: build a model for a Raspberry Pi, upload it over SSH, self-test, bench."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from . import flags
from .common import run_main, step

PROG = "bnn-deploy"
TARGETS = ("auto", "armv8", "armv7", "generic", "host")

DESCRIPTION = """\
Deploy a model to a Raspberry Pi (or any Linux device) over SSH: choose the
build for the device, cross-compile it here (or on the device), upload it as
a new release, check it bit for bit against the golden vectors on the
device's CPU, switch to it atomically, and optionally benchmark it.

The connection works like `ssh`: ~/.ssh/config (Host aliases, HostName,
User, Port, IdentityFile), ssh-agent, key files (passphrase asked when the
key is encrypted), a password prompt when nothing else works. Host keys are
checked against ~/.ssh/known_hosts; a new device is refused with its
fingerprint until you pass --accept-new-host-key, a changed key always.

On the device (needs only an SSH server; nothing else for cross builds):
  <remote-dir>/<name>/releases/<date>-<hash>/   program, lib<name>.so, sources, IR
  <remote-dir>/<name>/current -> releases/...   the release that passed its self-test
An interrupted or failed deploy leaves the previous `current` working.

targets (auto: from the device's userland, `uname -m`, /proc/device-tree):
  armv8    64-bit Raspberry Pi OS (Pi 3/4/5), NEON, cross-compiled here
  armv7    32-bit Raspberry Pi OS (also on a 64-bit kernel), NEON, cross-compiled here
  generic  portable C: Pi Zero/1 and unknown boards, built on the device
  host     a device of this PC's kind (testing)
"""

EPILOG = """\
examples:
  bnn-deploy model_bnn pi@raspberrypi                   # export dir from bnn-export
  bnn-deploy model.pt pi@192.168.1.20 --bench 200       # export, deploy, benchmark
  bnn-deploy model.pt pi@192.168.1.20 --bench 200 --threads 1,2,4   # on 1, 2, 4 cores
  bnn-deploy model_bnn mypi --target armv7 --cpu cortex-a72   # 'mypi': Host in ~/.ssh/config
  bnn-deploy model_bnn pi@raspberrypi --build-on-device # needs gcc and make there

exit codes: 0 ok, 2 usage/bad --remote-dir, 5 no compiler (here or there),
10 unreachable, 11 authentication, 12 unknown host key, 13 changed host key,
14 timeout, 15 remote command failed, 16 disk full, 17 self-test mismatch,
18 program cannot execute there (wrong --target).
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="DIR_OR_MODEL",
                   help="project directory written by bnn-export, or a model.pt (exported "
                        "first, into <stem>_bnn/)")
    p.add_argument("destination", metavar="[user@]host", help="the device, as for ssh")
    p.add_argument("--target", choices=TARGETS, default="auto",
                   help="build for this target instead of the probed one (default: auto)")
    flags.add(p, "cpu", help=f"{flags.CPU_HELP} (default: probed)")
    p.add_argument("--threads", default="1", metavar="LIST",
                   help="thread counts, comma separated, 1..8 (default 1): the self-test "
                        "runs on each, and --bench prints a table per count")
    p.add_argument("--bench", type=int, default=0, metavar="N",
                   help="after the self-test, time N inferences on the device and save "
                        "the JSON as <project>/bench-<host>-<target>.json")
    p.add_argument("--warmup", type=int, default=3, metavar="W",
                   help="untimed runs before --bench (default 3)")
    p.add_argument("--remote-dir", default="bnnkit", metavar="PATH",
                   help="deploy under PATH/<name>/ on the device (default: ~/bnnkit)")
    p.add_argument("--keep", type=int, default=3, metavar="K",
                   help="keep the K newest releases on the device (default 3)")
    p.add_argument("--build-on-device", action="store_true",
                   help="upload the sources and compile on the device (needs gcc, make)")
    flags.add_group(p.add_argument_group("connection (as for ssh)"), flags.CONNECTION)
    flags.add_common(p, PROG)
    return p


def _progress(quiet: bool):  # noqa: ANN202
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    bar: list = []

    def update(done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit="B", unit_scale=True, desc="upload",
                            leave=True, file=sys.stderr))
        bar[0].n = done
        bar[0].refresh()
        if done >= total:
            bar[0].close()

    return update


def _report(result, quiet: bool) -> None:  # noqa: ANN001 - DeployResult
    from ..deploy.bench import format_table, summary_line

    passed = [line for line in result.selftest.splitlines() if line.startswith("selftest:")]
    built = "on the device" if result.built_on_device else "here"
    print(f"deployed {result.release} to {result.device}:{result.app_dir}/current "
          f"({result.target}{', ' + result.cpu if result.cpu else ''}, built {built})")
    print(f"  device   {result.info.describe()}")
    print(f"  {passed[-1] if passed else 'selftest: passed'} (bit-exact on the device)")
    if result.previous and result.previous != result.release:
        print(f"  previous {result.previous} (kept in {result.app_dir}/releases/)")
    print(f"  run it   {result.ssh_command} {result.program} --help")
    for bench in result.benches:
        print(f"\nbenchmark on {result.device}: {summary_line(bench)}")
        print(format_table(bench, bench.get("host_bench")))
    if result.bench_file is not None:
        print(f"  saved {result.bench_file}")


def _body(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        threads = []
    if not threads or not all(1 <= t <= 8 for t in threads):
        parser.error(f"--threads {args.threads!r}: write thread counts 1..8 as 1,2,4")
    if args.bench < 0 or args.warmup < 0 or args.keep < 1:
        parser.error("--bench and --warmup must be >= 0, --keep >= 1")
    logging.getLogger("paramiko").addHandler(logging.NullHandler())  # errors: one line
    from ..deploy import Device, deploy, prepare_project
    from ..deploy.release import validate_remote_dir

    validate_remote_dir(args.remote_dir)

    def log(message: str) -> None:
        if not args.quiet:
            step(PROG, message)

    project = prepare_project(Path(args.source), log=log)
    log(f"connecting to {args.destination}")
    with Device.connect(args.destination, port=args.port, key_files=args.identity,
                        known_hosts=args.known_hosts,
                        accept_new_host_key=args.accept_new_host_key,
                        ssh_config=args.ssh_config, timeout=args.timeout,
                        warn=warnings.warn) as device:
        result = deploy(project, device, target=args.target, cpu=args.cpu,
                        build_on_device=args.build_on_device, remote_dir=args.remote_dir,
                        bench=args.bench, warmup=args.warmup, threads=threads,
                        keep=args.keep, timeout=max(8 * args.timeout, 60.0), log=log,
                        warn=warnings.warn, progress=_progress(args.quiet))
    _report(result, args.quiet)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(PROG, lambda: _body(argv))


if __name__ == "__main__":
    sys.exit(main())
