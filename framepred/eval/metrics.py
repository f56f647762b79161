"""Frame-quality metrics on tensors in [0, 1].

MSE and MAE follow OpenSTL's Moving MNIST convention: the error is *summed over the pixels*
of each frame and averaged over frames, so a 64x64 frame's MSE is on a 0..4096 scale.
PSNR and SSIM come from torchmetrics.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)


def frame_mse(pred: Tensor, target: Tensor) -> Tensor:
    """Per-frame summed squared error, averaged over frames. Inputs (..., C, H, W)."""
    return (pred - target).pow(2).sum(dim=(-3, -2, -1)).mean()


def frame_mae(pred: Tensor, target: Tensor) -> Tensor:
    """Per-frame summed absolute error, averaged over frames. Inputs (..., C, H, W)."""
    return (pred - target).abs().sum(dim=(-3, -2, -1)).mean()


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """Mean of per-frame PSNR in dB (data range 1). Inputs (..., C, H, W)."""
    p, t = pred.flatten(0, -4), target.flatten(0, -4)
    return (
        peak_signal_noise_ratio(p, t, data_range=1.0, reduction="none", dim=(1, 2, 3))
        .clamp(max=100)
        .mean()
    )


def ssim(pred: Tensor, target: Tensor) -> Tensor:
    """Mean SSIM (Gaussian window 11, sigma 1.5, data range 1). Inputs (..., C, H, W)."""
    p, t = pred.flatten(0, -4), target.flatten(0, -4)
    value = structural_similarity_index_measure(p.float(), t.float(), data_range=1.0)
    assert isinstance(value, Tensor)  # a tuple only with return_full_image=True
    return value


def per_step(metric, pred: Tensor, target: Tensor) -> list[float]:
    """A metric for each horizon step of (B, N, C, H, W) tensors."""
    return [float(metric(pred[:, i], target[:, i])) for i in range(pred.shape[1])]


def ssim_loss(pred: Tensor, target: Tensor) -> Tensor:
    """1 - SSIM, differentiable, for the optional SSIM term of the training loss."""
    return 1.0 - ssim(pred, target)


__all__ = ["frame_mae", "frame_mse", "per_step", "psnr", "ssim", "ssim_loss", "torch"]
