"""Turn what the user points ``bnn-export`` at into an ExportedProgram.

Accepted, safest first: a ``bnnkit.save`` model file; a ``torch.export.save``
program; a state dict plus ``--arch package.module:factory``; and, only with
``trust_pickle=True``, a whole pickled module (``torch.save(model)``), which
runs arbitrary code on load.
"""

from __future__ import annotations

import importlib
import posixpath
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DataFileError, InputShapeError, ModelFileError
from . import modelfile
from .modelfile import ModelFile, one_line


def load_model(path: str | Path, *, arch: str | None = None,
               example_input: torch.Tensor | None = None,
               trust_pickle: bool = False) -> ModelFile:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    members = _zip_members(path)
    if modelfile.PREFIX + "meta.json" in members:
        return modelfile.load(path)
    if arch is not None:
        return _from_state_dict(path, arch, example_input)
    if trust_pickle:
        return _from_pickle(path, example_input)
    if any(posixpath.basename(n) == "archive_format" for n in members):
        program = modelfile.load_exported_program(path)
        return ModelFile(program, _program_input_shape(program))
    raise ModelFileError(
        f"{path}: not a bnnkit model file. Save the model with bnnkit.save(model, path, "
        f"example_input); or pass a state dict with --arch package.module:factory; or, for a "
        f"whole pickled module you trust, --trust-pickle (unpickling runs code from the file)")


def _zip_members(path: Path) -> list[str]:
    """The member names of a zip file; none for anything else."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return []


def _program_input_shape(program: torch.export.ExportedProgram) -> tuple[int, ...]:
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in program.graph_signature.user_inputs:
            return tuple(node.meta["val"].shape)
    raise ModelFileError("the exported program has no tensor input")


def _need_example(example_input: torch.Tensor | None, what: str) -> torch.Tensor:
    if example_input is None:
        raise ModelFileError(f"{what} carries no input shape: pass --input-shape N,C,H,W")
    return example_input


def _from_state_dict(path: Path, arch: str, example_input: torch.Tensor | None) -> ModelFile:
    module_name, _, factory_name = arch.partition(":")
    if not factory_name:
        raise ModelFileError(f"--arch {arch!r}: write it as package.module:factory")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as e:
        raise ModelFileError(f"--arch {arch}: cannot import it ({e}); is the package on "
                             f"PYTHONPATH?") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelFileError(f"{path}: not a loadable state dict ({one_line(e)})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    try:
        model = factory()
    except Exception as e:  # noqa: BLE001 - the user's code: any failure is theirs to fix
        raise ModelFileError(f"--arch {arch}: calling {factory_name}() failed ({type(e).__name__}: "
                             f"{one_line(e)}); --arch needs a function that builds the model "
                             f"with no arguments") from None
    try:
        model.load_state_dict(state)
    except Exception as e:
        raise ModelFileError(f"{path}: does not fit --arch {arch}: {one_line(e)}") from None
    return _traced(model, _need_example(example_input, "a state dict"))


def _from_pickle(path: Path, example_input: torch.Tensor | None) -> ModelFile:
    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except AttributeError as e:  # "Can't get attribute 'Net' on <module '__main__'>"
        raise ModelFileError(
            f"{path}: cannot unpickle ({e}): a pickle names its classes by module, and this "
            f"one's are not importable here (a class defined in a script's __main__ never "
            f"is). Save the model with bnnkit.save(model, path, example_input), or save its "
            f"state_dict and pass --arch package.module:factory") from None
    except Exception as e:
        raise ModelFileError(f"{path}: cannot unpickle ({e})") from None
    if not isinstance(model, torch.nn.Module):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not a torch.nn.Module")
    return _traced(model, _need_example(example_input, "a pickled module"))


def _traced(model: torch.nn.Module, x: torch.Tensor) -> ModelFile:
    """The module traced on ``x``; a model that cannot run on it is the user's input error."""
    try:
        program = modelfile._trace(model, x)
    except Exception as e:  # noqa: BLE001 - shape mismatches, the model's own exceptions
        shape = ",".join(str(d) for d in x.shape)
        raise InputShapeError(f"the model fails on an input of shape {shape} "
                              f"({type(e).__name__}: {one_line(e)[:300]}); check --input-shape "
                              f"(the shape it was trained with) and that torch.export can "
                              f"trace the model") from None
    return ModelFile(program, tuple(x.shape))


def load_calibration(path: Path) -> np.ndarray:
    """An ``.npy`` array of calibration inputs (``--calibration``)."""
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    with path.open("rb") as f:
        head = f.read(6)
    if head != b"\x93NUMPY":
        what = "an .npz archive" if head.startswith(b"PK") else "not an .npy file"
        raise DataFileError(f"{path}: {what}; save the calibration inputs as one array with "
                            f"np.save(path, inputs)")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataFileError(f"{path}: damaged .npy file ({one_line(e)}); save it again with "
                            f"np.save(path, inputs)") from None


def random_calibration(shape: tuple[int, ...], count: int = 8) -> np.ndarray:
    """Stand-in calibration when a model has none: standard normal inputs."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((count, *shape[1:])).astype(np.float32)
