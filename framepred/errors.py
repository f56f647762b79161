"""Typed errors. Each carries a message written for the user: one line, no traceback.

The CLI turns any `FramepredError` into exit code 1 with its message; anything else is a
bug and is shown with a traceback only under `--debug`.
"""

from __future__ import annotations


class FramepredError(Exception):
    """Base class for errors whose message is meant for the user."""


class VideoOpenError(FramepredError):
    """A video or image folder could not be opened or decoded."""


class VideoWriteError(FramepredError):
    """An output could not be written."""


class CheckpointError(FramepredError):
    """A checkpoint is missing, corrupt, unsafe or built for another model."""


class InputShapeError(FramepredError):
    """An array or frame sequence has the wrong rank, size or dtype."""


class TrainingError(FramepredError):
    """Training could not start or diverged (NaN/inf loss)."""
