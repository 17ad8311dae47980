"""One exception type per kind of user-facing failure.

The command-line tools print ``str(error)`` as a one-line message (no
traceback) and exit with the class's ``exit_code``; each message names the
problem and what to do about it.
"""

from __future__ import annotations


class BnnkitError(Exception):
    """Base class: a failure caused by the user's input or environment."""

    exit_code = 1


class ModelFileError(BnnkitError):
    """A model file is missing, damaged, foreign or unsafe to load."""

    exit_code = 3


class DataFileError(BnnkitError):
    """A data file (test set, calibration sample) is missing, damaged or lacks an array."""

    exit_code = 3


class UnsupportedModelError(BnnkitError):
    """The model uses an op or pattern bnnkit cannot lower."""

    exit_code = 4


class IRFormatError(BnnkitError):
    """An IR directory is damaged, foreign or from another format version."""

    exit_code = 3


class InputShapeError(BnnkitError):
    """An input tensor does not match the model's input spec."""

    exit_code = 2


class OutputDirError(BnnkitError):
    """An output directory cannot be written without destroying what is there."""

    exit_code = 6


class ToolchainError(BnnkitError):
    """A compiler, emulator or build step is missing or failed."""

    exit_code = 5
