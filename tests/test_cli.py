"""The four commands fit together: shared flags (cli/flags.py), --version, -q,
quiet progress off a terminal, and the hints of the CLI's messages."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import bnnkit
from bnnkit.cli import bench_cmd, demo_cmd, deploy_cmd, export_cmd, flags
from bnnkit.nn import BinaryConv2d, BinaryLinear

COMMANDS = {"bnn-export": export_cmd, "bnn-bench": bench_cmd, "bnn-deploy": deploy_cmd,
            "bnn-demo": demo_cmd}


def leaf_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every parser a user types options into (bnn-demo's per demo)."""
    out = {}
    for prog, module in COMMANDS.items():
        parser = module._parser()
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subs:
            out.update({f"{prog} {name}": p for name, p in subs[0].choices.items()})
        else:
            out[prog] = parser
    return out


def visible(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS]


@pytest.mark.parametrize("prog", COMMANDS)
def test_every_command_has_version(prog: str, capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as done:
        COMMANDS[prog]._parser().parse_args(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"{prog} (bnnkit) {bnnkit.__version__}"


def test_shared_flags_are_spelled_as_flags_py_says() -> None:
    for prog, parser in leaf_parsers().items():
        shown = {a.dest: a for a in visible(parser)}
        assert "quiet" in shown, f"{prog} has no -q"
        for dest, action in shown.items():
            if dest in flags.SHARED:
                flag = flags.SHARED[dest]
                assert tuple(action.option_strings) == flag.names, (prog, dest)
                assert action.choices == flag.options.get("choices"), (prog, dest)
        for action in visible(parser):  # an old spelling is never shown
            old = {s for spellings in flags.ALIASES.values() for s in spellings}
            assert not old & set(action.option_strings), (prog, action.option_strings)


def test_same_spelling_same_meaning_across_commands() -> None:
    meaning: dict[str, tuple[str, str]] = {}
    for prog, parser in leaf_parsers().items():
        for action in visible(parser):
            for spelling in action.option_strings:
                if spelling in meaning:
                    assert meaning[spelling][0] == action.dest, \
                        f"{spelling}: {meaning[spelling][1]} vs {prog}"
                meaning.setdefault(spelling, (action.dest, prog))


def test_demo_host_takes_the_deploy_connection_flags() -> None:
    deploy = {a.dest for a in visible(deploy_cmd._parser())}
    assert set(flags.CONNECTION) <= deploy
    for prog, parser in leaf_parsers().items():
        if prog.startswith("bnn-demo"):
            assert set(flags.CONNECTION) | {"target", "cpu"} <= {a.dest for a in
                                                                  visible(parser)}, prog


def test_old_spellings_still_parse() -> None:
    args = demo_cmd.parse_args(["classify", "--model", "digits", "--ssh-port", "2222"])
    assert (args.model, args.port) == ("digits", 2222)
    assert demo_cmd.parse_args(["pose"]).model == "pose"
    assert demo_cmd.parse_args(["classify", "digits", "-p", "22"]).model == "digits"
    assert bench_cmd._parser().parse_args(["--targets", "armv7"]).target == "armv7"
    for argv in (["--cpu", "cortex-a99"], ["--no-arm", "--cpu", "pentium"]):
        with pytest.raises(SystemExit):
            bench_cmd._parser().parse_args(argv)


def tiny_model_file(tmp_path: Path, calibration: bool) -> Path:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8),
                          BinaryConv2d(8, 16, 3, padding=1, pad_value=1.0), nn.BatchNorm2d(16),
                          nn.Flatten(), BinaryLinear(16 * 6 * 6, 4), nn.BatchNorm1d(4)).eval()
    x = torch.randn(300, 1, 6, 6)
    return bnnkit.save(model, tmp_path / "tiny.pt", x[:1],
                       calibration=x if calibration else None)


def run_export(capsys, *argv: str) -> tuple[int, str, str]:  # noqa: ANN001
    """bnn-export in this process (stderr is not a terminal under pytest)."""
    rc = export_cmd.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_quiet_and_piped_output(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    model = tiny_model_file(tmp_path, calibration=True)   # 5 calibration batches: a bar
    rc, _, err = run_export(capsys, str(model), "--ir-only", "-o", str(tmp_path / "a"))
    assert rc == 0, err
    assert "bnn-export: exporting" in err
    assert "\r" not in err and "\x1b" not in err and "calibrating" not in err
    rc, out, err = run_export(capsys, str(model), "--ir-only", "-o", str(tmp_path / "b"), "-q")
    assert rc == 0 and err == "", err
    assert "IR written to" in out


def test_missing_calibration_warning_names_the_cli_flag(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    model = tiny_model_file(tmp_path, calibration=False)
    with pytest.warns(UserWarning) as caught:
        rc, _, err = run_export(capsys, str(model), "--ir-only", "-o", str(tmp_path / "ir"))
    assert rc == 0, err
    said = [str(w.message) for w in caught if "calibration" in str(w.message)]
    assert len(said) == 1 and "--calibration FILE.npy" in said[0], said


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_pickled_main_class_points_to_bnnkit_save(tmp_path: Path, capsys,  # noqa: ANN001
                                                  monkeypatch) -> None:  # noqa: ANN001
    """A class defined in a training script pickles as __main__.Net, which bnn-export's
    own __main__ does not have."""
    monkeypatch.setattr(Net, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "Net", Net, raising=False)
    torch.save(Net(), tmp_path / "net.pth")
    monkeypatch.delattr(sys.modules["__main__"], "Net")
    rc, _, err = run_export(capsys, str(tmp_path / "net.pth"), "--trust-pickle",
                            "--input-shape", "1,4", "--ir-only", "-o", str(tmp_path / "ir"))
    assert rc == 3
    line = err.strip().splitlines()[-1]
    assert "__main__" in line and "bnnkit.save" in line and "--arch" in line, err
    assert "Traceback" not in err
