"""Frame-quality metrics: the one PSNR and SSIM every part of framepred and the benchmarks use.

On uint8 images (numpy, peak 255): `psnr_u8`, `ssim_u8` (footage evaluation, comparison
strips, benchmarks). On tensors in [0, 1]: MSE and MAE follow OpenSTL's Moving MNIST convention: the error is *summed over the pixels*
of each frame and averaged over frames, so a 64x64 frame's MSE is on a 0..4096 scale.
PSNR and SSIM come from torchmetrics.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torch import Tensor
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)


def psnr_u8(truth: np.ndarray, pred: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (peak 255), capped at 100 for identical images."""
    mse = float(np.mean((truth.astype(np.float64) - pred.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else min(100.0, 10 * math.log10(255.0**2 / mse))


def ssim_u8(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over the RGB channels of two uint8 images (11x11 Gaussian, sigma 1.5)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x, y = a.astype(np.float64), b.astype(np.float64)

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    border = 5 if min(a.shape[:2]) > 20 else 0
    return float(s[border : s.shape[0] - border, border : s.shape[1] - border].mean())


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


def psnr_8bit(pred: Tensor, target: Tensor) -> Tensor:
    """`psnr_u8` on tensors: frames (N, C, H, W) in [0, 1] rounded to 8 bits, mean over frames."""
    p = pred.mul(255).round()
    t = target.mul(255).round()
    mse = (p - t).pow(2).flatten(1).mean(1).clamp_min(255.0**2 * 1e-10)  # at most 100 dB
    return (10 * torch.log10(255.0**2 / mse)).mean()


def per_step(metric, pred: Tensor, target: Tensor) -> list[float]:
    """A metric for each horizon step of (B, N, C, H, W) tensors."""
    return [float(metric(pred[:, i], target[:, i])) for i in range(pred.shape[1])]


def ssim_loss(pred: Tensor, target: Tensor) -> Tensor:
    """1 - SSIM, differentiable, for the optional SSIM term of the training loss."""
    return 1.0 - ssim(pred, target)


__all__ = [
    "frame_mae",
    "frame_mse",
    "per_step",
    "psnr",
    "psnr_8bit",
    "psnr_u8",
    "ssim",
    "ssim_loss",
    "ssim_u8",
    "torch",
]
