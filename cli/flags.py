"""The flags bnnkit's commands share: one spelling, one meaning, defined here once.

Every command takes ``--version`` and ``-q/--quiet``. The model-loading
flags are bnn-export's and bnn-bench's; the connection flags are
bnn-deploy's and ``bnn-demo --host``'s. Spellings that older releases used
stay accepted as hidden aliases (``ALIASES``), so scripts keep working.
``tests/test_cli.py`` checks every command's parser against this table.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__

CPUS = ("cortex-a53", "cortex-a72", "cortex-a76")
CPU_HELP = "tune for a Pi core: Pi 3 cortex-a53, Pi 4 cortex-a72, Pi 5 cortex-a76"


def number(kind: Callable[[str], Any], holds: Callable[[Any], bool], must: str
           ) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)``, finite and ``holds``, else the error says it ``must``."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not holds(value):
            raise argparse.ArgumentTypeError(f"{text!r}: must be {must}")
        return value
    return parse


POSITIVE_INT = number(int, lambda v: v >= 1, "a whole number >= 1")
POSITIVE = number(float, lambda v: v > 0, "a number > 0")


def input_shape(text: str) -> tuple[int, ...]:
    """``--input-shape N,C,H,W`` (or N,F): whole numbers >= 1, within what the IR accepts."""
    from ..ir.limits import MAX_TENSOR_VALUES
    try:
        shape = tuple(int(d) for d in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 4) or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: write it as N,C,H,W or N,F, each at "
                                         f"least 1 (e.g. 1,3,32,32)")
    if math.prod(shape) > MAX_TENSOR_VALUES:
        raise argparse.ArgumentTypeError(f"{text!r}: {math.prod(shape)} values, over the "
                                         f"{MAX_TENSOR_VALUES} a tensor may hold")
    return shape


@dataclass(frozen=True)
class Flag:
    names: tuple[str, ...]                      # the spellings --help shows
    options: dict[str, Any] = field(default_factory=dict)  # add_argument keywords


SHARED: dict[str, Flag] = {
    "quiet": Flag(("-q", "--quiet"), {"action": "store_true",
                                       "help": "only results and errors: no progress"}),
    "cpu": Flag(("--cpu",), {"choices": CPUS, "help": CPU_HELP}),
    "arch": Flag(("--arch",), {"metavar": "MODULE:FACTORY",
                               "help": "for a state dict: the function that builds the model"}),
    "input_shape": Flag(("--input-shape",), {"metavar": "N,C,H,W", "type": input_shape,
                                             "help": "input shape, needed with --arch or "
                                                     "--trust-pickle"}),
    "trust_pickle": Flag(("--trust-pickle",), {
        "action": "store_true",
        "help": "allow loading a whole pickled module (unpickling runs code from the file)"}),
    "port": Flag(("-p", "--port"), {"type": int,
                                    "help": "SSH port (default: ssh config, else 22)"}),
    "identity": Flag(("-i", "--identity"), {
        "metavar": "KEY", "action": "append", "default": [],
        "help": "private key file, tried before the agent's and default keys (repeatable)"}),
    "ssh_config": Flag(("-F", "--ssh-config"), {"metavar": "FILE",
                                                "help": "ssh config file (default: "
                                                        "~/.ssh/config)"}),
    "known_hosts": Flag(("--known-hosts",), {"metavar": "FILE",
                                             "help": "known_hosts file (default: "
                                                     "~/.ssh/known_hosts)"}),
    "accept_new_host_key": Flag(("--accept-new-host-key",), {
        "action": "store_true",
        "help": "trust a device seen for the first time and record its key (like "
                "StrictHostKeyChecking=accept-new); changed keys stay refused"}),
    "timeout": Flag(("--timeout",), {
        "type": POSITIVE, "default": 15.0, "metavar": "S",
        "help": "seconds for connecting (default 15); remote steps (build, self-test, "
                "bench) get 8x, at least 60"}),
}

# Old spellings, still parsed but not shown: dest -> hidden option strings.
ALIASES: dict[str, tuple[str, ...]] = {
    "port": ("--ssh-port",),        # bnn-demo --host before 0.2
    "target": ("--targets",),       # bnn-bench before 0.2
    "model": ("--model",),          # bnn-demo before 0.2 (now positional)
}

CONNECTION = ("port", "identity", "ssh_config", "known_hosts", "accept_new_host_key",
              "timeout")
MODEL_LOADING = ("arch", "input_shape", "trust_pickle")


def add(parser: argparse.ArgumentParser | Any, dest: str, **override: Any) -> None:
    """Add shared flag ``dest`` (with any hidden alias) to a parser or argument group."""
    flag = SHARED[dest]
    parser.add_argument(*flag.names, dest=dest, **{**flag.options, **override})
    add_alias(parser, dest, **{k: v for k, v in flag.options.items() if k != "help"})


def add_alias(parser: argparse.ArgumentParser | Any, dest: str, **options: Any) -> None:
    """The hidden old spellings of ``dest``: same meaning, not in --help."""
    if dest in ALIASES:
        parser.add_argument(*ALIASES[dest], dest=dest, help=argparse.SUPPRESS,
                            **{**options, "default": argparse.SUPPRESS})


def add_common(parser: argparse.ArgumentParser, prog: str) -> None:
    """``--version`` and ``-q/--quiet``: every command has both."""
    parser.add_argument("--version", action="version", version=f"{prog} (bnnkit) {__version__}")
    add(parser, "quiet")


def add_group(parser: argparse.ArgumentParser | Any, dests: tuple[str, ...]) -> None:
    for dest in dests:
        add(parser, dest)
