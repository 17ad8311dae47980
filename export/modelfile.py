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
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFileError(
            f"{path}: not a bnnkit model file ({e}). Write one with bnnkit.save(model, path, "
            f"example_input), or pass an ExportedProgram (.pt2) or --arch with a state dict"
        ) from None
    with zf:
        names = set(zf.namelist())
        if PREFIX + "meta.json" not in names:
            raise ModelFileError(f"{path}: a zip file, but not a bnnkit model "
                                 f"(no {PREFIX}meta.json); was it written by bnnkit.save?")
        try:
            meta = json.loads(zf.read(PREFIX + "meta.json"))
            if meta.get("format") != FORMAT:
                raise ModelFileError(f"{path}: unknown format {meta.get('format')!r}")
            if meta.get("version") != VERSION:
                raise ModelFileError(f"{path}: model file version {meta.get('version')}, this "
                                     f"bnnkit reads version {VERSION}; save it again")
            program_json = zf.read(PREFIX + "program.json")
            arrays = _load_npz(zf.read(PREFIX + "tensors.npz"))
            calibration = (_load_npy(zf.read(PREFIX + "calibration.npy"))
                           if PREFIX + "calibration.npy" in names else None)
        except ModelFileError:
            raise
        except Exception as e:  # truncated members, bad JSON, bad npz
            raise ModelFileError(f"{path}: damaged model file ({type(e).__name__}: {e}); "
                                 f"save it again with bnnkit.save") from None
    program = _rebuild_program(path, program_json, meta, arrays)
    return ModelFile(program, tuple(meta["input_shape"]), calibration, meta.get("normalize"),
                     meta.get("labels"))


def load_exported_program(path: str | Path) -> torch.export.ExportedProgram:
    """A ``torch.export.save`` file, loaded without running pickled code."""
    try:
        with safe_torch_load():
            return torch.export.load(str(path))
    except Exception as e:
        raise ModelFileError(f"{path}: cannot load as a torch.export program ({e})") from None


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
                             f"{e}); save it again with this bnnkit and torch") from None


def _normalize_spec(normalize: Any, channels: int | None) -> dict[str, list[float]] | None:
    if normalize is None:
        return None
    mean, std = (np.broadcast_to(np.asarray(v, dtype=np.float64), (channels or 1,))
                 for v in normalize)
    if np.any(std <= 0):
        raise ValueError("normalize=(mean, std): std must be positive")
    return {"mean": mean.tolist(), "std": std.tolist()}


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
