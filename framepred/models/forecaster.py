"""The forward-only motion model: predict the frames after a context by warping the last one.

    context frames F1 .. FK  --ConvLSTM forward-->  initial state of the forecaster
    for each future step n = 1, 2, ...:
        step input (FK, FK warped by the constant-velocity flow n * v, that flow, n)
          -> strided encoder -> forecaster ConvLSTM step -> decoder with skips -> motion head
        motion head: a correction of the flow from step n back to FK, and a residual

The velocity is DIS optical flow from the last context frame to the one before it (the caller
computes it at the working resolution). Step n is rendered by sampling the full-resolution
last frame at p + flow(p): a backward warp, so the result has no holes. The head's last layer
starts at zero, so an untrained model is constant-velocity backward-warp extrapolation;
training learns where motion changes, where the flow is wrong and what appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor, nn

from framepred.models.cells import ConvLSTM, ConvLSTMCell, State
from framepred.models.interpolator import (
    MotionConfigIO,
    _conv,
    _resize,
    pad_to_stride,
    step_decoder,
    step_encoder,
    unet_step,
)
from framepred.models.warp import backward_warp, project_flow, splat_priority, upscale_flow

STEP_CHS = 9  # channels of one step's input, see `MotionForecaster._step_input`
HEAD = "motion-forecast"


@dataclass
class MotionForecastConfig(MotionConfigIO):
    """Everything needed to rebuild a `MotionForecaster`."""

    HEAD = HEAD

    head: str = HEAD  # marks the config in checkpoints
    chs: tuple[int, ...] = (16, 32, 48, 64)  # channels at working resolution /1, /2, /4, /8
    kernel_size: int = 3
    max_side: int = 320  # working resolution: longer side of the flow and network input
    context: int = 4  # context frames the model reads (the last ones of a longer context)
    flow_scale: float = 8.0  # flows are divided by this on the way into the network
    flow_step: float = 1.0  # a unit of the head's flow correction, in working pixels
    residual_scale: float = 0.2
    horizon_scale: float = 5.0  # the step number n is fed as n / horizon_scale
    # Base flow of step n: the velocity forward-projected to where each pixel lands
    # (`project_flow`), or read in place (n * back: a moving object's motion stays where it was).
    projected: bool = False
    # Let the velocity of the base motion decay by a factor chosen per sequence by
    # back-testing on the context (`framepred.predict.backtest`); False: constant velocity.
    backtest: bool = False
    extra: dict = field(default_factory=dict)


class Step(NamedTuple):
    """One predicted step at working resolution: the flow from the step back to the last
    context frame (pixels) and an additive residual."""

    flow: Tensor
    residual: Tensor


class MotionForecaster(nn.Module):
    """Forward ConvLSTM encoder-forecaster with a motion head (see the module doc)."""

    def __init__(self, config: MotionForecastConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or MotionForecastConfig()
        c0, c1, c2, c3 = cfg.chs
        self.encoder = step_encoder(STEP_CHS, cfg.chs)
        # Context frames are read with their difference to the previous one (motion cues).
        self.context_encoder = nn.Sequential(_conv(6, c0, 2), _conv(c0, c1, 2), _conv(c1, c3, 2))
        self.past = ConvLSTM(c3, [c3], cfg.kernel_size)
        self.forecaster = ConvLSTMCell(c3, c3, cfg.kernel_size)
        self.decoder = step_decoder(cfg.chs)
        self.head = nn.Conv2d(c0, 5, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # type: ignore[arg-type]

    def _pad(self, x: Tensor) -> Tensor:
        return pad_to_stride(x, self.config.stride)

    def _initial_state(self, context: Tensor) -> State:
        b, k = context.shape[:2]
        prev = torch.cat([context[:, :1], context[:, :-1]], 1)
        x = torch.cat([context, context - prev], 2).flatten(0, 1)
        feats = self.context_encoder(self._pad(x)).unflatten(0, (b, k))
        _, (state,) = self.past(feats)
        return state

    def forward(
        self, context: Tensor, back: Tensor, horizon: int, damping: Tensor | None = None
    ) -> list[Step]:
        """Predict `horizon` steps at working resolution.

        Args:
            context: (B, K, 3, h, w) context frames in time order, the last one last.
            back: (B, 2, h, w) optical flow from the last context frame to the one before it
                (working-resolution pixels): minus the last frame's velocity.
            horizon: steps to predict.
            damping: (B,) per-step decay d of the velocity in the base motion (step n moves
                d + d^2 + ... + d^n frames' worth, see `damped_shifts`); None: 1, constant
                velocity.
        """
        h, w = back.shape[-2:]
        last = context[:, -1]
        state = self._initial_state(context)
        cfg = self.config
        steps = []
        for n, base in enumerate(self.base_flows(back, horizon, damping), 1):
            warped = backward_warp(last, base)
            nn_ = torch.full_like(base[:, :1], n / cfg.horizon_scale)
            x = torch.cat([last, warped, base / cfg.flow_scale, nn_], 1)
            out, state = unet_step(
                self.encoder, self.forecaster, self.decoder, self.head, self._pad(x), state
            )
            out = out[..., :h, :w]
            steps.append(
                Step(
                    flow=base + cfg.flow_step * out[:, 0:2],
                    residual=cfg.residual_scale * out[:, 2:5],
                )
            )
        return steps

    def base_flows(self, back: Tensor, horizon: int, damping: Tensor | None = None) -> list[Tensor]:
        """The flow from each step back to the last context frame before any correction: the
        velocity (`-back`) times the step's shift (n, or d + ... + d^n with `damping`), read in
        place or forward-projected (`config.projected`)."""
        shifts = damped_shifts(damping, horizon, back)  # (horizon, B, 1, 1, 1)
        if self.config.projected:
            priority = splat_priority(back)
            return [project_flow(back, s.flatten(), priority=priority) for s in shifts]
        return [s * back for s in shifts]

    @staticmethod
    def render(last: Tensor, step: Step, clamp: bool = True) -> Tensor:
        """Apply a step's motion to the full-resolution last frame, (B, 3, H, W) in [0, 1]."""
        size = (last.shape[-2], last.shape[-1])
        out = backward_warp(last, upscale_flow(step.flow, size)) + _resize(step.residual, size)
        return out.clamp(0, 1) if clamp else out


def damped_shifts(damping: Tensor | None, horizon: int, like: Tensor) -> Tensor:
    """(horizon, B, 1, 1, 1): how many frames' worth of the velocity step n moves, d + d^2 +
    ... + d^n for a velocity that decays by d per step (n itself for d = 1 or None)."""
    b = like.shape[0]
    n = torch.arange(1, horizon + 1, dtype=like.dtype, device=like.device)
    if damping is None:
        return n.view(-1, 1, 1, 1, 1).expand(-1, b, 1, 1, 1)
    d = damping.to(like.dtype).reshape(1, -1)  # (1, B)
    powers = d ** n.view(-1, 1)  # (horizon, B): d^n
    return powers.cumsum(0).view(horizon, b, 1, 1, 1)
