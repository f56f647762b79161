"""Predicting future frames with a trained model, on arrays and frame sequences.

`FramePredictor` wraps a loaded `EncoderForecaster` with the conversions every caller needs:
uint8 or float frames in, the same out; any H x W (the network pads to its stride and crops
back); a 1-channel model applied to each colour channel, a 3-channel model to grey frames
repeated. `predict_array` implements the `.npy` contract of the CLI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from framepred.errors import CheckpointError, InputShapeError
from framepred.flow import back_flows, grey_small, new_dis, resize_u8, working_size
from framepred.models import EncoderForecaster
from framepred.models.cells import set_fast_paths
from framepred.models.checkpoints import load_model
from framepred.models.forecaster import MotionForecaster, Step
from framepred.models.interpolator import speed_up
from framepred.precision import autocast, resolve_precision
from framepred.predict.backtest import SPAN, backtest_damping


def pick_device(device: str = "auto") -> torch.device:
    """ "auto" picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputShapeError(f"unknown device {device!r} (use auto, cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputShapeError("--device cuda asked for, but no CUDA device is available")
    return dev


class FramePredictor:
    """Predict frames after a context with a trained network.

    Args:
        net: the network (in eval mode).
        device: where it runs.
        batch_size: sequences per forward pass in `predict_batch`.
        context_frames: the context length the model was trained with (callers that cut
            a window from a longer video use it).
        precision: "32", "bf16" (autocast) or "auto" (bf16 where this device runs it
            natively; see `framepred.precision`).
    """

    def __init__(
        self,
        net: EncoderForecaster,
        device: torch.device | str = "cpu",
        batch_size: int = 16,
        context_frames: int = 10,
        precision: str = "32",
    ) -> None:
        self.device = torch.device(device)
        self.autocast = resolve_precision(precision, self.device)
        # Inference runs the exact speed options (no hoisted input convolution, no
        # convolution of the all-zero first state: benchmarks/predict_speed.py), and under
        # bf16 channels-last weights too, the layout oneDNN's bf16 convolutions prefer.
        self.net = set_fast_paths(net.to(self.device).eval(), hoist_input=False,
                                  skip_zero_state=True)  # fmt: skip
        if self.autocast is not None:
            self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.batch_size = batch_size
        self.context_frames = context_frames

    @property
    def in_chs(self) -> int:
        return self.net.config.in_chs

    @torch.inference_mode()
    def predict_batch(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """context (N, T, H, W, C) float32 in [0, 1] -> (N, horizon, H, W, C) float32."""
        n, t, h, w, c = context.shape
        x = torch.from_numpy(np.ascontiguousarray(context)).permute(
            0, 1, 4, 2, 3
        )  # (N, T, C, H, W)
        if self.in_chs == 1 and c != 1:
            x = x.permute(0, 2, 1, 3, 4).reshape(n * c, t, 1, h, w)  # each channel a sequence
        elif self.in_chs != c:
            if c != 1:
                raise InputShapeError(f"model expects {self.in_chs}-channel frames, got {c}")
            x = x.expand(-1, -1, self.in_chs, -1, -1)
        outs = []
        for chunk in x.split(self.batch_size):
            with autocast(self.autocast, self.device):
                y = self.net.rollout(chunk.to(self.device), horizon)
            outs.append(y.float().cpu())
        y = torch.cat(outs)  # (N', horizon, C', H, W)
        if self.in_chs == 1 and c != 1:
            y = y.reshape(n, c, horizon, h, w).permute(0, 2, 1, 3, 4)
        elif self.in_chs != c:
            y = y.mean(dim=2, keepdim=True)
        return y.permute(0, 1, 3, 4, 2).clamp_(0, 1).numpy()

    @torch.inference_mode()
    def rollout(self, context: Tensor, horizon: int) -> Tensor:
        """(B, K, C, H, W) float in [0, 1] -> (B, horizon, C, H, W) float on the CPU, the
        network's raw output (the Moving MNIST protocol scores it unclamped)."""
        with autocast(self.autocast, self.device):
            y = self.net.rollout(context.to(self.device), horizon)
        return y.float().cpu()

    def predict(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """context (T, H, W, C) uint8 (or float in [0, 1]) -> (horizon, H, W, C), same dtype."""
        return predict_array(
            context[..., None] if context.ndim == 3 else context, horizon, self, channels_last=True
        )


MAX_PASS_PIXELS = 1 << 21  # full-resolution pixels per network pass of `MotionPredictor`


class MotionPredictor(FramePredictor):
    """The forward-only motion model (`MotionForecaster`) behind the `FramePredictor` interface.

    Per sequence: the last `config.context` frames are scaled to the working resolution, DIS
    optical flow from the last frame to the one before it gives the velocity, the network
    corrects the motion at that resolution, and it is applied to the full-resolution last frame.
    Grey frames are predicted as RGB and averaged back.
    """

    def __init__(
        self,
        net: MotionForecaster,
        device: torch.device | str = "cpu",
        batch_size: int = 16,
        precision: str = "32",
    ) -> None:

        self.device = torch.device(device)
        self.autocast = resolve_precision(precision, self.device)
        self.net = speed_up(net.to(self.device)).eval()  # type: ignore[assignment]
        self.batch_size = batch_size
        # A back-testing model reads a longer context than its network does.
        self.context_frames = (
            max(net.config.context, SPAN) if net.config.backtest else net.config.context
        )
        self.dis = new_dis()

    @property
    def in_chs(self) -> int:
        return 3

    @property
    def motion_net(self) -> MotionForecaster:
        assert isinstance(self.net, MotionForecaster)
        return self.net

    def rollout(self, context: Tensor, horizon: int) -> Tensor:
        """(B, K, C, H, W) float in [0, 1] -> (B, horizon, C, H, W) float on the CPU."""
        y = self.predict_batch(context.permute(0, 1, 3, 4, 2).cpu().numpy(), horizon)
        return torch.from_numpy(y).permute(0, 1, 4, 2, 3)

    @torch.inference_mode()
    def predict_batch(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """context (N, T, H, W, C) float32 in [0, 1], C 1 or 3 -> (N, horizon, H, W, C).

        Sequences go through the network together, as many per pass as `batch_size` allows
        and at most about two million full-resolution pixels (one 1080p frame) per pass."""
        n, t, h, w, c = context.shape
        if c not in (1, 3):
            raise InputShapeError(f"motion models predict 1- or 3-channel frames, got {c}")
        u8 = np.rint(context * 255.0).astype(np.uint8)
        if c == 1:
            u8 = np.repeat(u8, 3, axis=-1)
        out = np.empty((n, horizon, h, w, c), np.float32)
        per_pass = max(1, min(self.batch_size, MAX_PASS_PIXELS // (h * w)))
        for i in range(0, n, per_pass):
            y = self._predict_rgb(u8[i : i + per_pass], horizon)  # (B, N, H, W, 3)
            out[i : i + per_pass] = y.mean(-1, keepdims=True) if c == 1 else y
        return out

    def _predict_rgb(self, u8: np.ndarray, horizon: int) -> np.ndarray:
        """(B, T, H, W, 3) uint8 -> (B, horizon, H, W, 3) float32 in [0, 1]."""
        net, dev = self.motion_net, self.device
        k = net.config.context
        h, w = u8.shape[2:4]
        size = working_size(h, w, net.config.max_side)
        # With back-testing, up to SPAN context frames are read (flows between all of them);
        # otherwise the network's context and one flow.
        real = min(u8.shape[1], SPAN) if net.config.backtest else 0  # frames the test reads
        span = max(k, real)
        smalls, backs, lasts = [], [], []
        for seq in u8:
            frames = list(seq[-span:])
            while len(frames) < span:  # a short context repeats its first frame
                frames.insert(0, frames[0])
            smalls.append(np.stack([resize_u8(f, size) for f in frames]))
            greys = [grey_small(f, size) for f in frames[-(span if net.config.backtest else 2) :]]
            backs.append(back_flows(greys, self.dis))
            lasts.append(frames[-1])
        x = torch.from_numpy(np.stack(smalls)).to(dev).permute(0, 1, 4, 2, 3).float().div_(255.0)
        flows = torch.from_numpy(np.stack(backs)).to(dev).permute(0, 1, 4, 2, 3)  # (B, F, 2, h, w)
        last = torch.from_numpy(np.stack(lasts)).to(dev).permute(0, 3, 1, 2).float().div_(255.0)
        damping = None
        if real >= 3:  # never on the repeated frames of a short context
            damping = backtest_damping(x[:, -real:], flows[:, 1 - real :], horizon)
        with autocast(self.autocast, self.device):
            steps = net(x[:, -k:], flows[:, -1], horizon, damping)
        steps = [Step(*(t.float() for t in step)) for step in steps]  # the warps run in fp32
        y = torch.stack([net.render(last, step) for step in steps], 1)  # (B, N, 3, H, W)
        return y.permute(0, 1, 3, 4, 2).float().cpu().numpy()


def predictor_for(
    net, device: torch.device, meta: dict, batch_size: int = 16, precision: str = "32"
) -> FramePredictor:
    """The predictor of a loaded forecasting network (pixel or motion model)."""
    if isinstance(net, MotionForecaster):
        return MotionPredictor(net, device, batch_size, precision)
    if not isinstance(net, EncoderForecaster):
        raise CheckpointError(
            f"{meta.get('path', 'the model')} is a gap-filling motion model (use it with "
            "`fill`); prediction needs a forecasting model such as `forecast`, mmnist or one "
            "trained with `framepred train ... --preset motion-forecast`"
        )
    context = int(meta.get("context") or 10)
    return FramePredictor(net, device, batch_size, context_frames=context, precision=precision)


def load_predictor(
    model: str | Path, device: str = "auto", batch_size: int = 16, precision: str = "32"
) -> FramePredictor:
    """Load a checkpoint (path or built-in name) as a ready-to-use predictor; `precision` is
    "32", "bf16" or "auto" (`framepred.precision`)."""
    dev = pick_device(device)
    net, meta = load_model(model, dev)
    return predictor_for(net, dev, meta, batch_size, precision)


def _as_float(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise InputShapeError("array holds NaN or infinite values")
        lo, hi = float(array.min(initial=0.0)), float(array.max(initial=0.0))
        if lo < 0.0 or hi > 1.0:
            raise InputShapeError(
                f"float frames must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]"
            )
        return array.astype(np.float32)
    raise InputShapeError(f"frames must be uint8 or float in [0, 1], got dtype {array.dtype}")


def predict_array(
    array: np.ndarray, horizon: int, predictor: FramePredictor, *, channels_last: bool | None = None
) -> np.ndarray:
    """The `.npy` contract: predict `horizon` frames after each sequence in `array`.

    Accepted layouts: (T, H, W), (T, H, W, C) with C in {1, 3, 4}, (N, T, H, W) and
    (N, T, H, W, C); uint8, or float in [0, 1]. Returns only the predicted frames, shaped
    (..., horizon, H, W[, C]), with the input's dtype.

    Args:
        channels_last: force reading a 4-D array as (T, H, W, C) (True) or (N, T, H, W)
            (False); None decides by the last axis (1, 3 or 4 means channels).
    """
    if horizon < 1:
        raise InputShapeError(f"horizon must be at least 1, got {horizon}")
    if array.ndim == 4 and channels_last is None:
        channels_last = array.shape[-1] in (1, 3, 4)
    if array.ndim == 3:
        seqs, layout = array[None, ..., None], "thw"
    elif array.ndim == 4 and channels_last:
        seqs, layout = array[None], "thwc"
    elif array.ndim == 4:
        seqs, layout = array[..., None], "nthw"
    elif array.ndim == 5:
        seqs, layout = array, "nthwc"
    else:
        raise InputShapeError(
            f"expected an array of rank 3 to 5 ((N,) T, H, W(, C)), got shape {array.shape}"
        )
    if min(seqs.shape[1:4]) < 1 or seqs.shape[0] < 1:
        raise InputShapeError(f"array has an empty axis: shape {array.shape}")
    alpha = seqs.shape[-1] == 4
    frames = _as_float(seqs)
    pred = predictor.predict_batch(frames[..., :3] if alpha else frames, horizon)
    if alpha:  # alpha is not predicted: carry the last context frame's alpha forward
        a = np.repeat(frames[:, -1:, ..., 3:], horizon, axis=1)
        pred = np.concatenate([pred, a], axis=-1)
    if array.dtype == np.uint8:
        out = np.rint(pred * 255.0).astype(np.uint8)
    else:
        out = pred.astype(array.dtype)
    if layout == "thw":
        return out[0, ..., 0]
    if layout == "thwc":
        return out[0]
    if layout == "nthw":
        return out[..., 0]
    return out
