"""What a training run is told: the presets, `TrainConfig`, and which task a run trains.

Kept apart from `framepred.train.fit` so that reading or checking a configuration (the CLI's
options) does not import Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framepred.errors import FramepredError

PRESETS: dict[str, dict[str, Any]] = {
    # The Moving MNIST model: recurrent part at 16x16 (patch 4) and 8x8.
    "mmnist": {
        "in_chs": 1,
        "patch_size": 4,
        "stem_chs": 32,
        "stage_chs": [48, 64],
        "kernel_size": 3,
    },
    # A tiny model for tests and smoke runs.
    "tiny": {"in_chs": 1, "patch_size": 4, "stem_chs": 8, "stage_chs": [8, 8], "kernel_size": 3},
    # The motion model for natural video (the shipped `default`).
    "motion": {"head": "motion", "chs": [16, 32, 48, 64]},
    # Ablation: the same model seeing only the two frames around the gap (no P, N context).
    "motion-ctx1": {"head": "motion", "chs": [16, 32, 48, 64], "context": 1},
    # The motion model at twice the width (4.4 M parameters, about 4x the compute), for a
    # GPU run (scripts/gpu_train.py); too wide to start from `default`'s weights.
    "motion-large": {"head": "motion", "chs": [32, 64, 96, 128]},
    # A tiny motion model for tests and smoke runs.
    "motion-tiny": {"head": "motion", "chs": [4, 8, 8, 8]},
    # The forward-only motion model for prediction (the shipped `forecast`).
    "motion-forecast": {"head": "motion-forecast", "chs": [16, 32, 48, 64]},
    "motion-forecast-tiny": {"head": "motion-forecast", "chs": [4, 8, 8, 8]},
}

FORECAST_HORIZON = 5  # future frames a forecast window trains on
MMNIST_HORIZON = 10  # Moving MNIST's protocol: 10 context frames -> 10 future frames
MMNIST_SIDE = 64  # Moving MNIST frames are 64 x 64: the motion model works at full size


MOTION_LOSS = "charbonnier"  # the motion model's default training loss
# What --accel sets in a fill model's config: quadratic motion, with the outer frames' spacing
ACCEL = {"accel": True, "spacing_input": True}
# What --backtest sets in a forecast model's config: base motion forward-projected, with a
# velocity decay chosen per sequence by back-testing on a 10-frame context
BACKTEST = {"projected": True, "backtest": True}
PIXEL_LR, MOTION_LR = 2e-3, 1e-3  # default peak learning rates of the two kinds of model


def task_of(data: list[str]) -> str:
    """ "mmnist" for Moving MNIST, "motion" for clips/synthetic motion (never mixed)."""
    if "mmnist" in data:
        if len(data) > 1:
            raise FramepredError("mmnist cannot be mixed with other training data")
        return "mmnist"
    return "motion"


def is_motion_config(model: dict) -> bool:
    """Motion models (filling or forecasting) train on clips and synthetic motion."""
    return model.get("head") in ("motion", "motion-forecast")


def peak_lr(cfg: TrainConfig) -> float:
    """The run's peak learning rate: `cfg.lr`, or the default of its model's kind (read after
    `--init` has set the model)."""
    if cfg.lr is not None:
        return cfg.lr
    return MOTION_LR if is_motion_config(cfg.model) else PIXEL_LR


def fits_task(model: dict, task: str) -> bool:
    """Pixel models train on mmnist only; motion models on clips and synthetic motion, and the
    forward-only one on mmnist too."""
    if task == "motion":
        return is_motion_config(model)
    return not is_motion_config(model) or model.get("head") == "motion-forecast"


@dataclass
class TrainConfig:
    """Options of a training run; every field has a default."""

    data: list[str] = field(default_factory=lambda: ["mmnist"])  # what to train on
    out: Path = Path("runs/mmnist")  # checkpoints, logs and the CSV go here
    model: dict[str, Any] = field(
        default_factory=lambda: dict(PRESETS["mmnist"])
    )  # ModelConfig fields
    max_steps: int = -1  # stop after this many optimizer steps (-1: no limit)
    max_time: float | None = None  # stop after this many seconds of training
    batch_size: int = 16
    lr: float | None = None  # peak learning rate; None: PIXEL_LR or MOTION_LR by the model
    loss: str = "bce"
    ssim_weight: float = 0.0
    teacher_decay: float = 0.5  # fraction of the budget over which scheduled sampling fades out
    precision: str = "32-true"
    accelerator: str = "auto"
    devices: str | int = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    num_workers: int = 0
    seed: int = 0
    resume: bool = False  # continue from out/checkpoints/last.ckpt
    init: str | None = (
        None  # start from this model's weights (a path or built-in name); fine-tuning
    )
    val_every: int = 250  # validate every N steps
    val_size: int = 256  # validation sequences (mmnist) or windows (motion)
    working: int = 96  # motion task: working-resolution crop side
    scales: tuple[int, ...] = (1, 2, 3)  # motion task: full resolution is s x working
    clip_cache_mb: int = 512  # motion task: decoded clip frames kept per loader process
    accel: bool = False  # fill models: add the quadratic-motion inputs (grows an --init model)
    backtest: bool = False  # forecast models: projected base motion with a back-tested decay
    ckpt_every: int = 100  # write last.ckpt every N steps (for resuming after a crash)
    progress: bool = True
    fast_dev_run: bool = False
