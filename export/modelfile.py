"""``model.pt``: a traced program plus everything ``bnn-export`` needs.

The file is a zip archive that never needs unpickling:

* ``bnnkit/meta.json``: format, version, input spec, normalization, labels;
* ``bnnkit/program.json``: the ``torch.export`` program (torch's own JSON
  serialization of the graph, no code);
* ``bnnkit/tensors.npz``: parameters, buffers and constants as numpy arrays;
* ``bnnkit/calibration.npy``: an optional calibration sample.

Loading rebuilds the program from these with ``torch.load`` forced to
``weights_only`` mode, so a crafted file cannot run code.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch._export.serde import serialize as serde

from ..errors import ModelFileError

FORMAT = "bnnkit-model"
VERSION = 1
PREFIX = "bnnkit/"
MEMBERS = ("meta.json", "program.json", "tensors.npz", "calibration.npy")


@dataclass
class ModelFile:
    """What ``bnnkit.save`` stored, ready for export."""

    program: torch.export.ExportedProgram
    input_shape: tuple[int, ...]
    calibration: np.ndarray | None = None
    normalize: dict[str, list[float]] | None = None
    labels: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def save(model: torch.nn.Module | torch.export.ExportedProgram, path: str | Path,
         example_input: torch.Tensor, calibration: torch.Tensor | np.ndarray | None = None,
         normalize: tuple[Sequence[float], Sequence[float]] | None = None,
         labels: Sequence[str] | None = None) -> Path:
    """Trace ``model`` with ``torch.export`` and write ``path``.

    ``normalize=(mean, std)`` says the model expects ``(pixel / 255 - mean) /
    std`` per channel; the exported C then takes raw uint8 pixels.
    ``calibration`` is a batch of typical inputs (float, like
    ``example_input``) used to fix the INT8 ranges; without it the example
    input is used, which gives poor ranges.
    """
    program = _trace(model, example_input)
    art = serde.serialize(program)
    state = {k: v.detach() for k, v in program.state_dict.items()}
    state.update({k: v for k, v in program.constants.items() if isinstance(v, torch.Tensor)})
    channels = example_input.shape[1] if example_input.dim() == 4 else None
    meta = {
        "format": FORMAT, "version": VERSION, "torch": torch.__version__,
        "input_shape": list(example_input.shape),
        "normalize": _normalize_spec(normalize, channels),
        "labels": list(labels) if labels is not None else None,
        "state_keys": sorted(program.state_dict), "constant_keys": sorted(program.constants),
        "parameter_keys": sorted(k for k, v in program.state_dict.items()
                                 if isinstance(v, torch.nn.Parameter)),
    }
    arrays = {f"t/{k}": v.cpu().numpy() for k, v in state.items()}
    arrays["example_input"] = example_input.detach().cpu().numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        members = {"meta.json": json.dumps(meta, indent=1).encode(),
                   "program.json": art.exported_program, "tensors.npz": _npz_bytes(arrays)}
        if calibration is not None:
            members["calibration.npy"] = _npy_bytes(np.asarray(
                calibration.detach().cpu() if isinstance(calibration, torch.Tensor)
                else calibration, dtype=np.float32))
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in members.items():  # fixed dates: same model, same bytes
                zf.writestr(zipfile.ZipInfo(PREFIX + member, (1980, 1, 1, 0, 0, 0)), data,
                            zipfile.ZIP_DEFLATED)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path: str | Path) -> ModelFile:
    """Read a file written by ``save``; any damage is a ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ModelFileError(
            f"{path}: not a bnnkit model file ({e}). Write one with bnnkit.save(model, path, "
            f"example_input), or pass an ExportedProgram (.pt2) or --arch with a state dict"
        ) from None
    with zf:
        names = zf.namelist()
        if PREFIX + "meta.json" not in names:
            raise ModelFileError(f"{path}: a zip file, but not a bnnkit model "
                                 f"(no {PREFIX}meta.json); was it written by bnnkit.save?")
        try:
            meta = json.loads(zf.read(PREFIX + "meta.json"))
            _check_format(path, meta)
            # A damaged name in the zip directory would make a member silently absent.
            odd = sorted(set(names) - {PREFIX + m for m in MEMBERS}) or (
                [n for n in names if names.count(n) > 1])
            if odd:
                raise ModelFileError(f"{path}: damaged model file (unexpected member "
                                     f"{odd[0]!r}); save it again with bnnkit.save")
            input_shape, normalize, labels = _meta_fields(path, meta)
            program_json = zf.read(PREFIX + "program.json")
            arrays = _load_npz(zf.read(PREFIX + "tensors.npz"))
            calibration = (_load_npy(zf.read(PREFIX + "calibration.npy"))
                           if PREFIX + "calibration.npy" in names else None)
        except ModelFileError:
            raise
        except Exception as e:  # truncated members, bad JSON, bad npz
            raise ModelFileError(f"{path}: damaged model file ({type(e).__name__}: "
                                 f"{one_line(e)}); save it again with bnnkit.save") from None
    if calibration is not None and (problem := calibration_problem(calibration)):
        raise ModelFileError(f"{path}: its calibration sample {problem}; save it again with "
                             f"bnnkit.save(..., calibration=typical inputs)")
    program = _rebuild_program(path, program_json, meta, arrays)
    return ModelFile(program, input_shape, calibration, normalize, labels)


def calibration_problem(samples: np.ndarray) -> str | None:
    """What makes ``samples`` unusable for calibration (shapes are checked where the
    graph runs them), or None."""
    if samples.dtype.kind not in "biuf":
        return f"holds {samples.dtype} values, not numbers"
    if samples.ndim == 0 or len(samples) == 0:
        return "has no rows"
    if samples.dtype.kind == "f" and not np.isfinite(samples).all():
        return "holds NaN or Inf values"
    return None


def normalize_problem(mean: Any, std: Any, channels: int | None) -> str | None:
    """What is wrong with a ``normalize=(mean, std)`` pair of per-channel lists, or None."""
    for what, values in (("mean", mean), ("std", std)):
        if not isinstance(values, list) or not values or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return f"{what} must be a non-empty list of numbers, not {_short(values)}"
        if not np.isfinite(values).all():
            return f"{what} {values} is not finite"
    if len(mean) != len(std) or (channels is not None and len(mean) != channels):
        return (f"mean and std have {len(mean)} and {len(std)} values; give one per input "
                f"channel ({channels or len(mean)})")
    if min(std) <= 0:
        return f"std {std} must be positive"
    return None


def one_line(error: BaseException) -> str:
    """An exception's text on one line, for messages that quote it."""
    return " ".join(str(error).split())


def _check_format(path: Path, meta: Any) -> None:
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: damaged model file ({PREFIX}meta.json holds "
                             f"{_short(meta)}, not an object); save it again with bnnkit.save")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: meta.json names format {_short(meta.get('format'))}, not "
                             f"{FORMAT!r}: damaged or not a bnnkit model; save it again with "
                             f"bnnkit.save")
    if meta.get("version") != VERSION:
        raise ModelFileError(f"{path}: model file version {_short(meta.get('version'))}, this "
                             f"bnnkit reads version {VERSION}; save it again")


def _meta_fields(path: Path, meta: dict) -> tuple[tuple[int, ...], dict | None, list | None]:
    """``meta.json``'s input shape, normalization and labels, checked."""
    def bad(problem: str) -> ModelFileError:
        return ModelFileError(f"{path}: damaged model file ({PREFIX}meta.json: {problem}); "
                              f"save it again with bnnkit.save")

    shape = meta.get("input_shape")
    if not isinstance(shape, list) or len(shape) not in (2, 4) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 2**31 for d in shape):
        raise bad(f"input_shape {_short(shape)} is not N,F or N,C,H,W positive integers")
    normalize = meta.get("normalize")
    if normalize is not None:
        if not isinstance(normalize, dict) or set(normalize) != {"mean", "std"}:
            raise bad(f"normalize {_short(normalize)} is not {{\"mean\": [...], \"std\": [...]}}")
        problem = normalize_problem(normalize["mean"], normalize["std"],
                                    shape[1] if len(shape) == 4 else None)
        if problem:
            raise bad(f"normalize: {problem}")
    labels = meta.get("labels")
    if labels is not None and (not isinstance(labels, list) or
                               not all(isinstance(label, str) for label in labels)):
        raise bad(f"labels {_short(labels)} is not a list of strings")
    return tuple(shape), normalize, labels


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_exported_program(path: str | Path) -> torch.export.ExportedProgram:
    """A ``torch.export.save`` file, loaded without running pickled code."""
    with _torch_export_log() as logged:
        try:
            with safe_torch_load():
                return torch.export.load(str(path))
        except Exception as e:
            # torch logs the real cause (with a traceback) and raises a generic error.
            cause = next((r.exc_info[1] for r in reversed(logged) if r.exc_info), e)
            raise ModelFileError(f"{path}: damaged torch.export program ("
                                 f"{type(cause).__name__}: {one_line(cause)}); save it again "
                                 f"with torch.export.save") from None


@contextlib.contextmanager
def _torch_export_log() -> Iterator[list[logging.LogRecord]]:
    """What torch.export logs meanwhile, kept instead of printed."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("torch.export")  # torch gives it its own stderr handler
    saved = logger.handlers, logger.propagate
    logger.handlers, logger.propagate = [handler], False
    try:
        yield records
    finally:
        logger.handlers, logger.propagate = saved


@contextlib.contextmanager
def safe_torch_load() -> Iterator[None]:
    """Force every ``torch.load`` inside to ``weights_only=True``."""
    old = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"]
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = old


def _trace(model: Any, example_input: torch.Tensor) -> torch.export.ExportedProgram:
    if isinstance(model, torch.export.ExportedProgram):
        return model
    from ..nn import baked, sign  # noqa: F401 - registers bnnkit::sign before tracing
    model = baked(model)
    was_training = model.training
    model.eval()
    example = example_input.detach()[:1]
    try:
        # A dynamic batch keeps the saved program usable on batches; torch
        # specializes a batch of 1, so trace with two copies.
        return torch.export.export(model, (torch.cat([example, example]),),
                                   dynamic_shapes=({0: torch.export.Dim.AUTO},))
    except Exception:  # noqa: BLE001 - models that fix the batch size trace statically
        return torch.export.export(model, (example,))
    finally:
        model.train(was_training)


def _rebuild_program(path: Path, program_json: bytes, meta: dict,
                     arrays: dict[str, np.ndarray]) -> torch.export.ExportedProgram:
    from ..nn import sign  # noqa: F401 - the program refers to bnnkit::sign

    def tensors(keys: list[str]) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(arrays[f"t/{k}"].copy()) for k in keys}

    try:
        state = tensors(meta["state_keys"])
        for key in meta.get("parameter_keys", []):
            state[key] = torch.nn.Parameter(state[key], requires_grad=False)
        constants = tensors(meta["constant_keys"])
        example = (torch.from_numpy(arrays["example_input"].copy()),)
        art = serde.SerializedArtifact(
            program_json, serde.serialize_torch_artifact(state),
            serde.serialize_torch_artifact(constants),
            serde.serialize_torch_artifact((example, {})))
        with safe_torch_load():
            return serde.deserialize(art)
    except Exception as e:
        raise ModelFileError(f"{path}: the stored program does not load ({type(e).__name__}: "
                             f"{one_line(e)}); save it again with this bnnkit and torch") from None


def _normalize_spec(normalize: Any, channels: int | None) -> dict[str, list[float]] | None:
    if normalize is None:
        return None
    mean, std = (np.broadcast_to(np.asarray(v, dtype=np.float64), (channels or 1,)).tolist()
                 for v in normalize)
    problem = normalize_problem(mean, std, channels)
    if problem:
        raise ValueError(f"normalize=(mean, std): {problem}")
    return {"mean": mean, "std": std}


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key, arr in arrays.items():
            zf.writestr(zipfile.ZipInfo(key + ".npy", (1980, 1, 1, 0, 0, 0)), _npy_bytes(arr))
    return buf.getvalue()


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _load_npz(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _load_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)
