"""What a device is, and which build fits it.

One round trip gathers ``uname -m``, ``/proc/device-tree/model``, the CPU
part from ``/proc/cpuinfo``, ``getconf LONG_BIT``, ``dpkg
--print-architecture``, ``/etc/os-release``, the build tools on PATH and the
free space in the deploy directory. Any of them may be missing (non-Pi
boards, minimal images, chroots without /proc): the parsers take what is
there.

The userland decides the target, not the kernel: a 32-bit Raspberry Pi OS
on a 64-bit kernel (``uname -m`` says aarch64) needs armv7 programs.

=================  =========================  ===========================
userland           target                     built
=================  =========================  ===========================
arm64 / aarch64    armv8 (NEON)               here, aarch64-linux-gnu-gcc
armhf, ARMv7+ CPU  armv7 (NEON)               here, arm-linux-gnueabihf-gcc
armhf on ARMv6,    generic (portable C)       on the device (its gcc)
armel, others
same as this PC    generic                    here
=================  =========================  ===========================

CPU tuning (``--cpu``): Pi 3 / Zero 2 cortex-a53, Pi 4 / 400 / CM4
cortex-a72, Pi 5 / 500 / CM5 cortex-a76; from the CPU part number when
/proc/cpuinfo has it, else from the board model.
"""

from __future__ import annotations

import platform
import re
import shlex
import struct
from dataclasses import dataclass, field

#: ARM CPU part numbers (/proc/cpuinfo "CPU part") of Raspberry Pi cores.
CPU_PARTS = {"0xd03": "cortex-a53", "0xd08": "cortex-a72", "0xd0b": "cortex-a76",
             "0xc07": "cortex-a7", "0xb76": "arm1176jzf-s"}
#: Board model (device-tree) -> CPU, for when /proc/cpuinfo is missing.
MODEL_CPUS = ((r"Raspberry Pi 5|Raspberry Pi 500|Compute Module 5", "cortex-a76"),
              (r"Raspberry Pi 4|Raspberry Pi 400|Compute Module 4", "cortex-a72"),
              (r"Raspberry Pi 3|Zero 2|Compute Module 3", "cortex-a53"),
              (r"Raspberry Pi 2", "cortex-a7"),
              (r"Raspberry Pi (Model|Zero|Compute Module)", "arm1176jzf-s"))
#: CPUs the target presets can tune for (bnn-export --cpu).
TUNABLE = ("cortex-a53", "cortex-a72", "cortex-a76")
ARMV6 = ("arm1176jzf-s",)

PROBE_SCRIPT = r"""
echo @machine; uname -m
echo @model; [ -r /proc/device-tree/model ] && tr -d '\000' < /proc/device-tree/model; echo
echo @cpuinfo
[ -r /proc/cpuinfo ] && grep -E '^(CPU part|CPU architecture|model name|Model)' /proc/cpuinfo |
    sort -u
echo @long_bit; getconf LONG_BIT 2>/dev/null
echo @dpkg; dpkg --print-architecture 2>/dev/null
echo @os; [ -r /etc/os-release ] && . /etc/os-release && echo "$PRETTY_NAME"
echo @tools
for t in cc gcc make sha256sum python3; do command -v $t >/dev/null 2>&1 && echo $t; done
echo @home; echo "$HOME"
echo @end
"""


def free_space_script(path: str) -> str:
    """Shell that prints the bytes and the inodes free in ``path`` (or its nearest
    existing parent); ``-`` for inodes where the file system does not count them."""
    return (f"d={shlex.quote(path)}; while [ ! -d \"$d\" ]; do d=$(dirname -- \"$d\"); done; "
            "stat -f -c '%a %S %c %d' -- \"$d\" 2>/dev/null | awk '{printf \"%.0f %s\\n\", "
            "$1 * $2, ($3 > 0 ? $4 : \"-\"); ok = 1} END {exit !ok}' || "
            "df -Pk -- \"$d\" | awk 'NR==2 {printf \"%.0f -\\n\", $4 * 1024}'")


def parse_free_space(text: str) -> tuple[int | None, int | None]:
    """(free bytes, free inodes) from ``free_space_script``'s output; None if unknown."""
    words = text.split()

    def number(i: int) -> int | None:
        try:
            return int(float(words[i]))
        except (IndexError, ValueError):
            return None
    return number(0), number(1)


@dataclass(frozen=True)
class TargetChoice:
    target: str                    # armv8, armv7, generic (or host)
    cpu: str | None                # tuning, one of TUNABLE, or None
    build_on_device: bool          # the target cannot be cross-compiled here
    reason: str                    # one phrase: why this target
    warning: str | None = None     # something the user should know


@dataclass(frozen=True)
class DeviceInfo:
    machine: str                   # uname -m (the kernel's idea, e.g. aarch64)
    model: str | None = None       # /proc/device-tree/model, e.g. Raspberry Pi 4 Model B Rev 1.4
    cpu: str | None = None         # core, e.g. cortex-a72, from cpuinfo or the model
    long_bit: int | None = None    # getconf LONG_BIT: the userland's word size
    dpkg_arch: str | None = None   # dpkg --print-architecture: arm64, armhf, ...
    os: str | None = None          # PRETTY_NAME of /etc/os-release
    tools: tuple[str, ...] = ()    # which of cc gcc make sha256sum python3 exist
    home: str = ""
    free_bytes: int | None = None  # free space where the deploy goes
    free_inodes: int | None = None  # free inodes (files) there, if the file system counts
    notes: tuple[str, ...] = field(default=())

    @property
    def userland(self) -> str:
        """Debian architecture name of the userland: arm64, armhf, armel, amd64, ..."""
        if self.dpkg_arch:
            return self.dpkg_arch
        m = self.machine
        if m in ("aarch64", "arm64", "armv8b"):
            return "armhf" if self.long_bit == 32 else "arm64"
        if m in ("armv7l", "armv8l"):
            return "armhf"
        if m.startswith("armv6") or m.startswith("armv5"):
            return "armel" if m.startswith("armv5") else "armhf"
        if m in ("x86_64", "amd64"):
            return "i386" if self.long_bit == 32 else "amd64"
        return m or "unknown"

    def describe(self) -> str:
        parts = [self.model or "board model unknown (no /proc/device-tree/model)",
                 f"{self.userland} userland" + (f" on {self.machine} kernel"
                                                if self.machine else ""),
                 self.cpu or "CPU unknown"]
        if self.os:
            parts.append(self.os)
        return ", ".join(parts)

    def recommended(self) -> TargetChoice:
        """The target and --cpu that fit this device."""
        land, cpu = self.userland, self.cpu
        tune = cpu if cpu in TUNABLE else None
        if land == "arm64":
            return TargetChoice("armv8", tune, False, "64-bit ARM userland (arm64)")
        if land == "armhf" and cpu not in ARMV6 and not self.machine.startswith("armv6"):
            return TargetChoice("armv7", tune, False, "32-bit ARM userland (armhf)")
        if land in ("armhf", "armel"):
            return TargetChoice("generic", None, True, f"ARMv6 or older ({land}): no NEON")
        if land == _local_userland():
            return TargetChoice("generic", None, False, f"same kind of machine as this one "
                                                        f"({land})")
        return TargetChoice("generic", None, True, f"unknown userland {land!r}",
                            warning=f"{self.machine}/{land} is not a Raspberry Pi OS kind "
                                    f"bnnkit knows; building portable C on the device")


def _local_userland() -> str:
    machine = platform.machine().lower()
    bits = struct.calcsize("P") * 8
    return DeviceInfo(machine=machine, long_bit=bits).userland


def parse_probe(text: str) -> DeviceInfo:
    """DeviceInfo from the output of PROBE_SCRIPT (sections may be empty)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("@"):
            current = line[1:].strip()
            sections[current] = []
        elif current is not None and line.strip():
            sections[current].append(line.strip())

    def first(name: str) -> str | None:
        values = sections.get(name) or []
        return values[0] if values else None

    model = first("model")
    cpu = None
    for line in sections.get("cpuinfo", []):
        key, _, value = line.partition(":")
        if key.strip() == "CPU part" and value.strip().lower() in CPU_PARTS:
            cpu = CPU_PARTS[value.strip().lower()]
        if key.strip() == "Model" and not model:
            model = value.strip()
    if cpu is None and model:
        cpu = next((c for pattern, c in MODEL_CPUS if re.search(pattern, model)), None)
    long_bit = first("long_bit")
    return DeviceInfo(machine=(first("machine") or "").lower(), model=model, cpu=cpu,
                      long_bit=int(long_bit) if long_bit and long_bit.isdigit() else None,
                      dpkg_arch=first("dpkg"), os=first("os"),
                      tools=tuple(sections.get("tools", [])), home=first("home") or "")


def probe(device, remote_dir: str | None = None) -> DeviceInfo:  # noqa: ANN001 - Device
    """Probe ``device``; with ``remote_dir``, also the free space and inodes there."""
    info = parse_probe(device.run(PROBE_SCRIPT).stdout)
    if remote_dir is None:
        return info
    free_bytes, free_inodes = parse_free_space(
        device.run(free_space_script(remote_dir), check=False).stdout)
    return DeviceInfo(**{**info.__dict__, "free_bytes": free_bytes, "free_inodes": free_inodes})
