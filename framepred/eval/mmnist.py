"""Scoring predictions against held-out truth.

`evaluate_mmnist` runs the standard Moving MNIST protocol (10 -> 10 on sequences built
from test digits only) for a model and for two reference predictions in the same pass:
copying the last context frame, and predicting all zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from framepred.data.mmnist import MovingMNIST
from framepred.eval import metrics
from framepred.predict.predictor import FramePredictor

Predictor = Callable[[Tensor, int], Tensor]  # (B, K, C, H, W), horizon -> (B, N, C, H, W)


@dataclass
class Scores:
    """Mean scores over a test set (MSE/MAE summed over pixels per frame, OpenSTL style)."""

    mse: float
    mae: float
    ssim: float
    psnr: float
    mse_per_step: list[float]

    def row(self) -> list[str]:
        return [f"{self.mse:.1f}", f"{self.mae:.1f}", f"{self.ssim:.3f}", f"{self.psnr:.2f}"]


class _Accumulator:
    def __init__(self, horizon: int) -> None:
        self.n = 0
        self.sums = {"mse": 0.0, "mae": 0.0, "ssim": 0.0, "psnr": 0.0}
        self.step_mse = torch.zeros(horizon, dtype=torch.float64)

    def add(self, pred: Tensor, target: Tensor) -> None:
        b = pred.shape[0]
        self.n += b
        self.sums["mse"] += float(metrics.frame_mse(pred, target)) * b
        self.sums["mae"] += float(metrics.frame_mae(pred, target)) * b
        self.sums["ssim"] += float(metrics.ssim(pred, target)) * b
        self.sums["psnr"] += float(metrics.psnr(pred, target)) * b
        self.step_mse += (pred - target).pow(2).sum(dim=(2, 3, 4)).mean(0).double() * b

    def scores(self) -> Scores:
        n = max(self.n, 1)
        return Scores(
            **{k: v / n for k, v in self.sums.items()}, mse_per_step=(self.step_mse / n).tolist()
        )


def copy_last(context: Tensor, horizon: int) -> Tensor:
    """Baseline: the last context frame, repeated."""
    return context[:, -1:].expand(-1, horizon, -1, -1, -1)


def zeros(context: Tensor, horizon: int) -> Tensor:
    """Baseline: empty frames."""
    return context.new_zeros(context.shape[0], horizon, *context.shape[2:])


def evaluate_mmnist(
    predictors: dict[str, Predictor | FramePredictor],
    n_sequences: int = 10_000,
    context: int = 10,
    horizon: int = 10,
    batch_size: int = 64,
    seed: int = 2,
    progress: bool = True,
) -> dict[str, Scores]:
    """Score each predictor on `n_sequences` Moving MNIST test sequences (test digits only)."""
    dataset = MovingMNIST("test", n_sequences, context + horizon, seed=seed)
    loader = DataLoader(dataset, batch_size=batch_size)
    accs = {name: _Accumulator(horizon) for name in predictors}
    for batch in tqdm(loader, desc="evaluating", unit="batch", disable=not progress):
        ctx, target = batch[:, :context], batch[:, context : context + horizon]
        for name, predictor in predictors.items():
            if isinstance(predictor, FramePredictor):
                pred = predictor.rollout(ctx, horizon)
            else:
                pred = predictor(ctx, horizon)
            accs[name].add(pred, target)
    return {name: acc.scores() for name, acc in accs.items()}
