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
    "FramePredictor": "framepred.predict.predictor",
    "load_predictor": "framepred.predict.predictor",
    "predict_array": "framepred.predict.predictor",
    "load_model": "framepred.models.checkpoints",
    "export_model": "framepred.models.checkpoints",
    "train": "framepred.train.fit",
    "TrainConfig": "framepred.train.config",
    "evaluate_mmnist": "framepred.eval.mmnist",
    "fill_video": "framepred.fill",
    "fill_many": "framepred.batch",
    "predict_video": "framepred.predict.video",
    "evaluate": "framepred.eval.video",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'framepred' has no attribute {name!r}")
