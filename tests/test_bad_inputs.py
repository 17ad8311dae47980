"""Damaged or wrong user files: a one-line bnnkit error, never a traceback, a silently
wrong export or a lost file (issue 12)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import bnnkit
from bnnkit.cli.bench_cmd import main as bnn_bench
from bnnkit.cli.demo_cmd import main as bnn_demo
from bnnkit.cli.deploy_cmd import main as bnn_deploy
from bnnkit.cli.export_cmd import main as bnn_export
from bnnkit.codegen.emit import name_problem
from bnnkit.cruntime import SOURCE_DIR, reserved_prefixes
from bnnkit.errors import (
    BnnkitError,
    DataFileError,
    InputShapeError,
    ModelFileError,
    OutputDirError,
    UnsupportedModelError,
)
from bnnkit.export.modelfile import _npz_bytes
from bnnkit.nn import BinaryConv2d

from .models import small_model_file


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:  # noqa: ANN001
    return small_model_file(tmp_path_factory.mktemp("m") / "model.pt", labels=["a", "b", "c"])


def rewrite(src: Path, dst: Path, edit: Callable[[str, bytes], tuple[str, bytes] | None]) -> Path:
    """A copy of the model file with each member passed through ``edit`` (None drops it)."""
    with zipfile.ZipFile(src) as zs, zipfile.ZipFile(dst, "w") as zd:
        for item in zs.infolist():
            new = edit(item.filename, zs.read(item))
            if new is not None:
                zd.writestr(new[0], new[1])
    return dst


def with_meta(src: Path, dst: Path, change: Callable[[dict], object]) -> Path:
    def edit(name: str, data: bytes) -> tuple[str, bytes]:
        if name.endswith("meta.json"):
            meta = json.loads(data)
            change(meta)
            data = json.dumps(meta).encode()
        return name, data
    return rewrite(src, dst, edit)


def with_arrays(src: Path, dst: Path, change: Callable[[dict], object]) -> Path:
    def edit(name: str, data: bytes) -> tuple[str, bytes]:
        if name.endswith("tensors.npz"):
            with np.load(io.BytesIO(data)) as npz:
                arrays = {k: npz[k] for k in npz.files}
            change(arrays)
            data = _npz_bytes(arrays)
        return name, data
    return rewrite(src, dst, edit)


def export_fails(capsys, args: list[str], error: type[BnnkitError], match: str) -> str:  # noqa: ANN001
    """bnn-export fails with ``error``'s exit code and one line matching ``match``."""
    code = bnn_export(args)
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if "error" in ln or "Traceback" in ln]
    assert code == error.exit_code, err
    assert len(lines) == 1 and match in lines[0], err
    assert "Traceback" not in err
    return lines[0]


# -- the model file ---------------------------------------------------------------


def test_damaged_member_name_in_the_zip_directory_is_an_error(model_file, tmp_path,  # noqa: ANN001
                                                               capsys) -> None:
    data = bytearray(model_file.read_bytes())
    central = data.rfind(b"PK\x01\x02")               # the last entry: calibration.npy
    at = data.index(b"calibration", central)
    data[at] ^= 0x20                                  # 'c' -> 'C' in the directory only
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged model file.*Calibration.npy"):
        bnnkit.export(bad)
    export_fails(capsys, [str(bad), "--ir-only", "-o", str(tmp_path / "ir")], ModelFileError,
                 "damaged model file")
    assert not (tmp_path / "ir").exists()


@pytest.mark.parametrize(("change", "match"), [
    (lambda m: m.pop("input_shape"), "input_shape None"),
    (lambda m: m.update(input_shape=None), "input_shape None"),
    (lambda m: m.update(input_shape=[1, 1, 6]), "input_shape [1, 1, 6]"),
    (lambda m: m.update(normalize="abc"), "normalize 'abc'"),
    (lambda m: m.update(normalize=[0.5, 0.25]), "normalize [0.5, 0.25]"),
    (lambda m: m.update(normalize={"std": [1.0]}), "normalize {'std': [1.0]}"),
    (lambda m: m.update(normalize={"mean": [0.5], "std": [0.0]}), "std [0.0] must be positive"),
    (lambda m: m.update(normalize={"mean": [0.5], "std": [float("nan")]}), "std [nan] is not"),
    (lambda m: m.update(normalize={"mean": [0.5, 0.5], "std": [1, 1]}), "one per input channel"),
    (lambda m: m.update(labels=3), "labels 3 is not a list of strings"),
    (lambda m: m.update(labels={"a": 1}), "labels {'a': 1}"),
])
def test_meta_json_is_validated(model_file, tmp_path, change, match) -> None:  # noqa: ANN001
    bad = with_meta(model_file, tmp_path / "bad.pt", change)
    with pytest.raises(ModelFileError, match="damaged model file") as err:
        bnnkit.export(bad)
    assert match in str(err.value) and "\n" not in str(err.value)


def test_meta_json_that_is_not_an_object(model_file, tmp_path) -> None:  # noqa: ANN001
    bad = rewrite(model_file, tmp_path / "bad.pt",
                  lambda n, d: (n, b"[1, 2]" if n.endswith("meta.json") else d))
    with pytest.raises(ModelFileError, match=r"meta.json holds \[1, 2\], not an object"):
        bnnkit.export(bad)


@pytest.mark.parametrize(("key", "value"), [
    ("0.weight", np.nan), ("0.bias", np.inf), ("2.weight", np.nan),  # 2: hidden by sign()
    ("3.running_mean", -np.inf), ("3.running_var", np.nan), ("5.bias", np.inf)])
def test_nan_or_inf_parameters_name_the_layer(model_file, tmp_path, key, value) -> None:  # noqa: ANN001
    def poison(arrays: dict) -> None:
        arrays[f"t/{key}"] = arrays[f"t/{key}"].copy()
        arrays[f"t/{key}"].flat[1] = value

    bad = with_arrays(model_file, tmp_path / "bad.pt", poison)
    layer = key.split(".")[0]
    with pytest.raises(ModelFileError, match=rf"parameter {key} of layer {layer} \(\w+\) is "
                                             rf"NaN or Inf in 1 of"):
        bnnkit.export(bad)


def test_nan_weights_of_a_traced_model_give_the_source_line() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.fc = nn.Conv2d(1, 4, 3), nn.Linear(4 * 2 * 2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.flatten(self.conv(x), 1))

    model = Net()
    with torch.no_grad():
        model.fc.weight[0, 0] = float("nan")
    with pytest.raises(ModelFileError, match=r"parameter fc.weight of layer fc \(Linear\), "
                                             r"File .*test_bad_inputs.py.*line \d+"):
        bnnkit.export(model, torch.randn(4, 1, 4, 4), calibration=torch.randn(4, 1, 4, 4))


def test_a_negative_batchnorm_variance_is_named(tmp_path) -> None:  # noqa: ANN001
    model = nn.Sequential(BinaryConv2d(1, 4, 3), nn.BatchNorm2d(4)).eval()
    model[1].running_var[2] = -1.0
    with pytest.raises(ModelFileError, match=r"layer .* its scale is NaN or Inf in 1 of 4 "
                                             r"values .*negative BatchNorm variance"):
        bnnkit.export(model, torch.randn(4, 1, 5, 5), calibration=torch.randn(4, 1, 5, 5))


def test_a_foreign_zip_gives_only_bnnkits_line(tmp_path, capsys) -> None:  # noqa: ANN001
    foreign = tmp_path / "photos.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("holiday.txt", "not a model")
    export_fails(capsys, [str(foreign), "--ir-only", "-o", str(tmp_path / "o")],
                 ModelFileError, "not a bnnkit model file")
    fake = tmp_path / "fake.pt2"
    with zipfile.ZipFile(fake, "w") as zf:            # looks like torch.export's archive
        zf.writestr("fake/archive_format", "pt2")
    line = export_fails(capsys, [str(fake), "--ir-only", "-o", str(tmp_path / "o")],
                        ModelFileError, "damaged torch.export program")
    assert "warnings above" not in line


# -- calibration ----------------------------------------------------------------------


@pytest.mark.parametrize(("array", "match"), [
    (np.zeros((0, 1, 6, 6), np.float32), "has no rows"),
    (np.array([["a", "b"]]), "holds <U1 values, not numbers"),
    (np.full((2, 1, 6, 6), np.nan, np.float32), "holds NaN or Inf"),
])
def test_bad_calibration_in_the_model_file(model_file, tmp_path, array, match) -> None:  # noqa: ANN001
    buf = io.BytesIO()
    np.save(buf, array)
    bad = rewrite(model_file, tmp_path / "bad.pt", lambda n, d: (
        n, buf.getvalue() if n.endswith("calibration.npy") else d))
    with pytest.raises(ModelFileError, match=f"calibration sample {match}"):
        bnnkit.export(bad)


@pytest.mark.parametrize(("array", "match"), [
    (np.zeros((0, 1, 6, 6), np.float32), "has no rows"),
    (np.array([["a", "b"]]), "not numbers"),
    (np.full((2, 1, 6, 6), np.inf, np.float32), "NaN or Inf"),
])
def test_bad_calibration_option(model_file, tmp_path, capsys, array, match) -> None:  # noqa: ANN001
    path = tmp_path / "cal.npy"
    np.save(path, array)
    export_fails(capsys, [str(model_file), "--ir-only", "-o", str(tmp_path / "o"),
                          "--calibration", str(path)], DataFileError, match)


def test_calibration_option_that_is_not_an_npy(model_file, tmp_path, capsys) -> None:  # noqa: ANN001
    text = tmp_path / "cal.npy"
    text.write_text("1,2,3\n")
    line = export_fails(capsys, [str(model_file), "--ir-only", "--calibration", str(text)],
                        DataFileError, "not an .npy file; save the calibration inputs")
    assert "pickle" not in line
    npz = tmp_path / "cal.npz"
    np.savez(npz, x=np.zeros(3))
    export_fails(capsys, [str(model_file), "--ir-only", "--calibration", str(npz)],
                 DataFileError, "an .npz archive")


# -- test sets ---------------------------------------------------------------------------


@pytest.mark.parametrize(("images", "labels", "match"), [
    (np.array([["x"] * 36] * 2).reshape(2, 1, 6, 6), [0, 1], "images are <U1"),
    (np.full((2, 1, 6, 6), np.nan, np.float32), [0, 1], "NaN or Inf"),
    (np.zeros((2, 1, 6, 6), np.float32), [0.5, 1], "whole class numbers"),
    (np.zeros((2, 1, 6, 6), np.float32), [-1, 1], "label -1 is negative"),
    (np.zeros((2, 1, 6, 6), np.float32), [0, 1, 2], "one integer class per image (2)"),
    (np.zeros((2, 1, 6, 6), np.float32), ["a", "b"], "labels are <U1"),
])
def test_bad_test_set_fails_before_exporting(model_file, tmp_path, capsys,  # noqa: ANN001
                                             images, labels, match) -> None:
    test_set = tmp_path / "test.npz"
    np.savez(test_set, images=images, labels=np.asarray(labels))
    export_fails(capsys, [str(model_file), "-o", str(tmp_path / "o"), "--test", str(test_set)],
                 DataFileError, match)
    assert "exporting" not in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_labels_beyond_the_models_classes_fail_before_building(model_file, tmp_path,  # noqa: ANN001
                                                               capsys) -> None:
    test_set = tmp_path / "test.npz"
    np.savez(test_set, images=np.zeros((2, 1, 6, 6), np.float32), labels=np.array([0, 3]))
    code = bnn_export([str(model_file), "-o", str(tmp_path / "o"), "--test", str(test_set)])
    err = capsys.readouterr().err
    assert code == DataFileError.exit_code and "Traceback" not in err
    assert "label 3 is out of range: the model has 3 outputs" in err
    assert "generating C" not in err and not (tmp_path / "o").exists()


# -- C names --------------------------------------------------------------------------


def test_reserved_names_come_from_the_runtime_headers() -> None:
    assert "bnn" in reserved_prefixes()
    for header in SOURCE_DIR.glob("*.h"):
        guard = header.name.upper().replace(".", "_")          # BNN_RUNTIME_H
        for name in (guard[:-2], guard[:-2].lower(), guard[:-2].title(), "bnn"):
            assert name_problem(name), name
    for name in ("int", "Main", "RETURN", "_private", "9lives", "a-b"):
        assert name_problem(name), name
    for name in ("digits", "bnnlike", "Fashion_BNN", "printf", "EOF", "size_t"):
        assert name_problem(name) is None, name


def test_runtime_name_is_refused_before_exporting(model_file, tmp_path, capsys) -> None:  # noqa: ANN001
    export_fails(capsys, [str(model_file), "--no-build", "--name", "BNN_RUNTIME", "-o",
                          str(tmp_path / "o")], BnnkitError, "belong to bnnkit's C runtime")
    assert "exporting" not in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_default_name_avoids_reserved_names(model_file, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "BNN_runtime.pt"
    path.write_bytes(model_file.read_bytes())
    assert bnn_export([str(path), "--no-build", "-o", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "m_bnn_runtime.h").is_file()


def test_labels_must_match_the_outputs() -> None:
    model = nn.Sequential(BinaryConv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(4 * 3 * 3, 3)).eval()
    x = torch.randn(4, 1, 5, 5)
    with pytest.raises(UnsupportedModelError, match="2 labels for a model with 3 outputs"):
        bnnkit.export(model, x, x, labels=["a", "b"])


# -- the other commands that read user files ---------------------------------------------


@pytest.fixture(scope="module")
def damaged_files(model_file, tmp_path_factory) -> list[Path]:  # noqa: ANN001
    d = tmp_path_factory.mktemp("damaged")
    data = model_file.read_bytes()
    (d / "cut.pt").write_bytes(data[: len(data) // 3])
    with_meta(model_file, d / "meta.pt", lambda m: m.update(normalize="abc"))
    foreign = d / "photos.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("holiday.txt", "not a model")
    return [d / "cut.pt", d / "meta.pt", foreign]


def one_error_line(capsys, code: int, prog: str) -> str:  # noqa: ANN001
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert code == ModelFileError.exit_code, err
    assert len(lines) == 1 and f"{prog}: error: " in lines[0] and "Traceback" not in err, err
    return lines[0]


def test_demo_bench_and_deploy_with_a_damaged_model_file(damaged_files, tmp_path, capsys,  # noqa: ANN001
                                                         monkeypatch) -> None:
    monkeypatch.setenv("BNNKIT_CACHE", str(tmp_path / "cache"))
    import cv2

    (tmp_path / "frames").mkdir()
    cv2.imwrite(str(tmp_path / "frames" / "frame.png"), np.zeros((8, 8), np.uint8))
    for path in damaged_files:
        one_error_line(capsys, bnn_demo(["classify", "--model", str(path), "--source",
                                         f"file:{tmp_path / 'frames'}", "--display", "none",
                                         "--frames", "1"]), "bnn-demo")
        one_error_line(capsys, bnn_bench([str(path), "--no-arm"]), "bnn-bench")
        one_error_line(capsys, bnn_deploy([str(path), "root@127.0.0.1", "-p", "1"]),
                       "bnn-deploy")
        assert not path.with_name(f"{path.stem}_bnn").exists()


@pytest.mark.parametrize(("plan", "match"), [
    ("[1, 2]", "no readable plan.json"), ('{"nom": 1}', "no readable plan.json"),
    ('{"name": "../../etc/x"}', "damaged (model name '../../etc/x')"),
    ("\x00\xff", "no readable plan.json")])
def test_deploy_a_damaged_project_fails_before_connecting(tmp_path, capsys, plan,  # noqa: ANN001
                                                          match) -> None:
    (tmp_path / "plan.json").write_text(plan, errors="surrogateescape")
    code = bnn_deploy([str(tmp_path), "root@127.0.0.1", "-p", "1"])
    err = capsys.readouterr().err
    assert code == BnnkitError.exit_code and match in err, err
    assert "connecting" not in err and "Traceback" not in err


# -- options and paths the commands check before their work (red-team findings) ----------


@pytest.mark.parametrize("shape", ["1,1,-6,6", "0,1,6,6", "1,1,6", "1,x,6,6",
                                   "1,1,600000,600000"])
def test_bad_input_shape_is_a_usage_error(tmp_path, capsys, shape) -> None:  # noqa: ANN001
    for command in (bnn_export, bnn_bench):
        with pytest.raises(SystemExit) as exit_:
            command([str(tmp_path / "w.pth"), "--trust-pickle", f"--input-shape={shape}"])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and f"argument --input-shape: '{shape}'" in err, err


def test_a_model_that_fails_on_the_input_shape_is_one_line(tmp_path, capsys) -> None:  # noqa: ANN001
    torch.save(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten()), tmp_path / "whole.pth")
    export_fails(capsys, [str(tmp_path / "whole.pth"), "--trust-pickle", "--inspect",
                          "--input-shape", "1,3,6,6"], InputShapeError,
                 "the model fails on an input of shape 1,3,6,6 (RuntimeError: ")
    torch.save(nn.Conv2d(1, 4, 3).state_dict(), tmp_path / "state.pth")
    export_fails(capsys, [str(tmp_path / "state.pth"), "--arch", "torch.nn:Conv2d",
                          "--input-shape", "1,1,6,6", "--inspect"], ModelFileError,
                 "calling Conv2d() failed (TypeError: ")


@pytest.mark.parametrize(("argv", "match"), [
    (["classify", "--crop", "0"], "argument --crop: '0': must be a fraction"),
    (["classify", "--crop", "nan"], "argument --crop: 'nan'"),
    (["classify", "--hold", "0"], "argument --hold: '0': must be a whole number >= 1"),
    (["classify", "--frames", "-2"], "argument --frames: '-2'"),
    (["pose", "--fps", "0"], "argument --fps: '0': must be a number > 0"),
    (["pose", "--smooth", "1"], "argument --smooth: '1': must be >= 0 (off) and < 1"),
    (["pose", "--min-confidence", "3"], "argument --min-confidence: '3'"),
    (["pose", "--timeout", "nan", "--host", "pi"], "argument --timeout: 'nan'")])
def test_demo_options_out_of_range_are_usage_errors(capsys, argv, match) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exit_:
        bnn_demo(argv)
    assert exit_.value.code == 2 and match in capsys.readouterr().err


def test_web_port_out_of_range_is_one_line() -> None:
    from bnnkit.demos.display import DisplayError, open_display
    with pytest.raises(DisplayError, match="from 0 to 65535"):
        open_display("web:99999")


def test_bench_output_paths_are_checked_before_the_run(tmp_path, capsys) -> None:  # noqa: ANN001
    for flag, path in (("--json", tmp_path), ("--plot", tmp_path / "no" / "b.png")):
        code = bnn_bench(["--workload", "tiny", "--no-host", "--no-arm", flag, str(path)])
        err = capsys.readouterr().err
        assert code == OutputDirError.exit_code and err.count("\n") == 1, err
        assert f"bnn-bench: error: {flag} {path}" in err


@pytest.mark.parametrize("option", ["--ssh-config", "--known-hosts"])
def test_a_binary_ssh_file_is_one_line(model_file, option) -> None:  # noqa: ANN001
    from bnnkit.deploy.errors import DeployError
    from bnnkit.deploy.ssh import Device
    with pytest.raises(DeployError, match=f"cannot read .* {model_file}: 'utf-8' codec"):
        Device.connect("root@127.0.0.1", port=1, timeout=2,
                       **{option[2:].replace("-", "_"): model_file})


def test_a_non_numeric_connect_timeout_is_one_line(tmp_path) -> None:  # noqa: ANN001
    from bnnkit.deploy.errors import UnreachableError
    from bnnkit.deploy.ssh import resolve_target
    (tmp_path / "config").write_text("Host pi\n  ConnectTimeout abc\n")
    with pytest.raises(UnreachableError, match="ConnectTimeout 'abc' in .* is not a whole"):
        resolve_target("pi", ssh_config=tmp_path / "config")


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_rewrite_leaves_the_old_directory(tmp_path, failure) -> None:  # noqa: ANN001
    from bnnkit.ir.atomic import replace_dir
    out = tmp_path / "out"
    replace_dir(out, lambda d: (d / "a.txt").write_text("first"), kind="test")
    (out / "notes.txt").write_text("mine")
    before = sorted(p.name for p in out.iterdir())

    def fill(d: Path) -> None:
        (d / "a.txt").write_text("half")
        raise failure

    with pytest.raises(OutputDirError if isinstance(failure, OSError) else KeyboardInterrupt,
                       match="No space left on device|"):
        replace_dir(out, fill, kind="test")
    assert sorted(p.name for p in out.iterdir()) == before
    assert (out / "a.txt").read_text() == "first" and (out / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "temporary folders left"


def test_a_result_file_is_written_whole_or_not_at_all(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from bnnkit.ir import atomic
    path = atomic.write_file(tmp_path / "bench.json", "old\n")
    with pytest.raises(UnicodeEncodeError):            # fails midway through the write
        atomic.write_file(path, "new " * 5000 + "\ud800")
    monkeypatch.setattr(atomic.os, "replace", lambda *_: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        atomic.write_file(path, "new\n")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["bench.json"]
