"""framepred: learn how a video moves and synthesize the frames that are not there.

The public API is re-exported lazily here so `import framepred` stays fast (torch and
Lightning load only when a model is touched).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = {
    "EncoderForecaster": "framepred.models",
    "ModelConfig": "framepred.models",
    "ConvLSTMCell": "framepred.models",
    "ConvLSTM": "framepred.models",
    "FramePredictor": "framepred.predict",
    "load_predictor": "framepred.predict",
    "predict_array": "framepred.predict",
    "load_model": "framepred.checkpoints",
    "export_model": "framepred.checkpoints",
    "train": "framepred.train",
    "TrainConfig": "framepred.train",
    "evaluate_mmnist": "framepred.mmnist_eval",
    "fill_video": "framepred.fill",
    "fill_many": "framepred.batch",
    "predict_video": "framepred.predict_io",
    "evaluate": "framepred.eval_video",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'framepred' has no attribute {name!r}")
