"""How fast a video's motion keeps going: a velocity decay chosen by back-testing on the context.

Constant-velocity extrapolation overshoots where motion is jittery or about to stop (a head
that nods, a hand-held camera), and predicting the frame unmoved loses wherever motion goes
on. Between the two, a velocity that decays by a factor d per step moves step n by d + d^2 +
... + d^n frames' worth. Which d suits a video is measured on its own context: from each
pair of consecutive context frames, the frames that follow inside the context are predicted
with every candidate d (the forecaster's own base motion: the forward-projected flow, then a
backward warp), and the d with the least squared error over all of them is chosen. Only the
context is read, never the frames being predicted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framepred.models.forecaster import damped_shifts
from framepred.models.warp import backward_warp, project_flow, splat_priority

DAMPINGS = (0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 1.0)  # candidate decays per step; 1: constant velocity
SPAN = 10  # context frames a back-testing model reads (DESIGN.md's prediction protocol: 10)


def backtest_damping(
    frames: Tensor,
    backs: Tensor,
    horizon: int,
    dampings: tuple[float, ...] = DAMPINGS,
    max_side: int = 96,
) -> Tensor:
    """The velocity decay per sequence that best predicts the context from itself.

    Args:
        frames: (B, T, 3, h, w) context frames in [0, 1], T >= 3.
        backs: (B, T - 1, 2, h, w) flow from frame k + 1 to frame k, in pixels.
        horizon: how many steps ahead each back-test predicts (at most what the context
            holds after its origin).
        dampings: the candidates.
        max_side: the test runs with the longer side scaled to at most this (motion is
            smooth; it is a choice between a few candidates, not a prediction).

    Returns:
        (B,) the chosen decays.
    """
    b, t = frames.shape[:2]
    if t < 3:
        raise ValueError("back-testing needs at least three context frames")
    h, w = frames.shape[-2:]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(8, round(h * scale)), max(8, round(w * scale)))
        frames = F.interpolate(frames.flatten(0, 1), size=size, mode="area").unflatten(0, (b, t))
        backs = F.interpolate(backs.flatten(0, 1), size=size, mode="bilinear",
                              align_corners=False).unflatten(0, (b, t - 1))  # fmt: skip
        backs = backs * torch.tensor([size[1] / w, size[0] / h], dtype=backs.dtype,
                                     device=backs.device).view(1, 1, 2, 1, 1)  # fmt: skip
    nd = len(dampings)
    d = torch.tensor(dampings, dtype=frames.dtype, device=frames.device)
    error = frames.new_zeros(b, nd)
    for k in range(1, t - 1):  # origin: predict from frames k-1, k the frames after k
        hz = min(horizon, t - 1 - k)
        back = backs[:, k - 1]  # (B, 2, h, w)
        shifts = damped_shifts(d, hz, d).reshape(hz, nd)  # (hz, D)
        # every (sequence, step, candidate) in one batch, (B * hz * D, ...)
        m = hz * nd
        reps = back.repeat_interleave(m, 0)
        flow = project_flow(
            reps, shifts.flatten().repeat(b), priority=splat_priority(back).repeat_interleave(m, 0)
        )
        pred = backward_warp(frames[:, k].repeat_interleave(m, 0), flow).unflatten(0, (b, hz, nd))
        truth = frames[:, k + 1 : k + 1 + hz, None]  # (B, hz, 1, 3, h, w)
        error += (pred - truth).square().mean(dim=(3, 4, 5)).sum(1)
    best = error.argmin(1)
    return torch.tensor(dampings, dtype=frames.dtype, device=frames.device)[best]


def batch_damping(net: nn.Module, batch: dict, device: torch.device) -> Tensor | None:
    """The back-tested decays of a training batch (`ForecastBatches` with `span`), or None for
    a model that does not back-test."""
    if not getattr(net.config, "backtest", False):
        return None
    if "test_frames" not in batch:
        raise ValueError("a back-testing model trains on batches cut with a span")
    frames = batch["test_frames"].to(device).float().div_(255.0)
    with torch.no_grad():
        return backtest_damping(frames, batch["test_backs"].to(device).float(), int(batch["n"]))
