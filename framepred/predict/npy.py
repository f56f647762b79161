"""The `.npy` contract: a numeric array of frames in, the predicted frames out (`predict_file`).

See `framepred.predict.predictor.predict_array` for the array layouts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from framepred.errors import InputShapeError, VideoOpenError
from framepred.io.atomic import atomic_path, check_output_target
from framepred.predict.predictor import load_predictor, predict_array

log = logging.getLogger(__name__)


def default_model_name() -> str:
    """The model `.npy` prediction uses when none is named: the Moving MNIST model (arrays
    are the digit sequences it was trained on). Video uses `video_model()`."""
    return "mmnist"


def load_npy(path: Path) -> np.ndarray:
    """Load a .npy array without unpickling anything."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise InputShapeError(
            f"cannot read {path} as a numeric .npy array ({str(err).splitlines()[0][:100]})"
        ) from None
    except (OSError, EOFError) as err:
        raise VideoOpenError(f"cannot read {path}: {err}") from None


def predict_file(
    input_path: Path,
    output: Path,
    *,
    horizon: int,
    model: str | None = None,
    device: str = "auto",
    overwrite: bool = False,
    precision: str = "32",
) -> np.ndarray:
    """Predict `horizon` frames after the frames in `input_path` and write them to `output`.

    Only `.npy` input and output are handled here (see `predict_array` for the layouts).
    """
    input_path, output = Path(input_path), Path(output)
    if not input_path.exists():
        raise VideoOpenError(f"no such file: {input_path}")
    if input_path.suffix.lower() != ".npy":
        raise InputShapeError(
            f"unsupported input {input_path.suffix or input_path.name!r}: give a .npy array"
        )
    if output.suffix.lower() != ".npy":
        raise InputShapeError(
            f"unsupported output {output.suffix or output.name!r} for .npy input: use .npy"
        )
    if output.resolve() == input_path.resolve():
        raise InputShapeError("output path is the input path; the input is never overwritten")
    check_output_target(output, [input_path], overwrite)
    if horizon < 1:
        raise InputShapeError(f"horizon must be at least 1, got {horizon}")
    array = load_npy(input_path)
    name = model or default_model_name()
    predictor = load_predictor(name, device=device, precision=precision)
    log.info("predicting %d frames with %s", horizon, name)
    result = predict_array(array, horizon, predictor)
    _save_npy(output, result, overwrite)
    return result


def _save_npy(output: Path, array: np.ndarray, overwrite: bool = True) -> None:
    with atomic_path(output, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
