"""Per-video adaptation: fine-tune a motion model on the video's own known frames.

Before filling, windows of consecutive known frames are drawn from the video (a bounded
reservoir of crops, so memory does not grow with the video's length), frames inside each window
are hidden, and the model learns to bring them back: the same task as filling, on this
video's motion, textures and scale. The forward-only model (`MotionForecaster`) adapts the
same way before predicting, learning to predict the last frames of each window from the
first ones. A few windows are held out, and their PSNR before and after adaptation is
reported, so the user sees whether it helped.
"""

from __future__ import annotations

import copy
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import count
from typing import TypeVar

import numpy as np
import torch
from tqdm import tqdm

from framepred.data.forecast import ForecastBatches
from framepred.data.interp import GapBatches
from framepred.lit_motion import batch_accel, charbonnier, psnr_u8
from framepred.models.motion import MotionInterpolator
from framepred.models.motion_forecast import MotionForecaster
from framepred.motion_fill import working_size

log = logging.getLogger(__name__)

MotionNet = MotionInterpolator | MotionForecaster
Net = TypeVar("Net", MotionInterpolator, MotionForecaster)
FORECAST_HORIZON = 5  # future frames per adaptation window of the forward-only model


@dataclass
class AdaptResult:
    steps: int
    seconds: float
    windows: int
    psnr_before: float  # held-out windows, hidden frames, before adaptation
    psnr_after: float  # the same windows with the weights kept (psnr_before if none helped)
    kept_step: int = 0  # the step whose weights were kept (0: the original model)

    def summary(self) -> str:
        kept = (
            f"kept step {self.kept_step}" if self.kept_step else "no step helped: model unchanged"
        )
        return (
            f"adapted for {self.steps} steps ({self.seconds:.0f} s) on {self.windows} windows: "
            f"held-out PSNR {self.psnr_before:.2f} -> {self.psnr_after:.2f} dB ({kept})"
        )


def collect_windows(
    frames: Iterable[np.ndarray],
    crop: int,
    length: int = 7,
    max_windows: int = 48,
    seed: int = 0,
    slots: Iterable[int] | None = None,
) -> list[np.ndarray]:
    """Reservoir-sample up to `max_windows` windows of `length` consecutive frames, each cut
    to one random square crop of side `crop` (clipped to the frame): (T, crop, crop, 3) uint8.

    `slots`: where each frame lies on the video's frame grid (None: one after another). Only
    evenly spaced windows are kept: adaptation hides frames inside a window and asks for them
    at the times an even spacing gives, so a window across a longer gap would teach wrong
    motion.
    """
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    recent: list[np.ndarray] = []
    where: list[int] = []
    seen = 0
    for slot, frame in zip(slots if slots is not None else count(), frames, strict=False):
        recent.append(frame)
        where.append(slot)
        if len(recent) > length:
            recent.pop(0)
            where.pop(0)
        if len(recent) < length or len(set(np.diff(where))) > 1:
            continue
        seen += 1
        slot = seen - 1 if seen <= max_windows else int(rng.integers(seen))
        if slot >= max_windows:
            continue
        h, w = frame.shape[:2]
        side = min(crop, h, w)
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        window = np.stack([f[y : y + side, x : x + side] for f in recent])
        if slot < len(out):
            out[slot] = window
        else:
            out.append(window)
    return out


class _Windows(torch.utils.data.Dataset):
    def __init__(self, windows: list[np.ndarray]) -> None:
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.windows[i]).permute(0, 3, 1, 2).float().div(255.0)


def _scale(frame_hw: tuple[int, int], max_side: int) -> int:
    """The video's integer ratio of full to working resolution."""
    h, _ = frame_hw
    wh, _ = working_size(*frame_hw, max_side)
    return max(1, round(h / wh))


def adapt(
    net: Net,
    frames: Iterable[np.ndarray],
    steps: int,
    *,
    lr: float = 2e-4,
    batch_size: int = 4,
    working: int = 64,
    device: torch.device | str = "cpu",
    progress: bool = True,
    seed: int = 0,
    checks: int = 4,
    slots: Iterable[int] | None = None,
) -> tuple[Net, AdaptResult]:
    """Fine-tune a copy of `net` for `steps` steps on windows of `frames` (RGB uint8); `slots`
    places them on the video's frame grid (None: consecutive), see `collect_windows`.

    The held-out windows are scored before training and at `checks` evenly spaced steps; the
    weights that scored best are kept (the original ones if no step beat them), so adapting
    never makes the model worse on frames of this video it did not train on.

    Returns the adapted copy (the original is untouched) and what adaptation measured.
    """
    t0 = time.perf_counter()
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("no frames to adapt to")
    s = _scale(first.shape[:2], net.config.max_side)
    side = min(working * s, *first.shape[:2])
    working = max(16, side // s)
    side = working * s
    forecast = isinstance(net, MotionForecaster)
    k = net.config.context
    accel = not forecast and bool(getattr(net.config, "accel", False))
    length = k + FORECAST_HORIZON if forecast else GapBatches.window_length(3, k, accel)
    windows = collect_windows(_chain(first, frames), side, length, seed=seed, slots=slots)
    windows = [w for w in windows if w.shape[1] == side and w.shape[2] == side]
    if len(windows) < 2:
        if slots is None:
            raise ValueError(f"the video is too short to adapt to (needs {length + 1} frames)")
        raise ValueError(
            f"it has fewer than two runs of {length} evenly spaced known frames (adaptation "
            "hides frames inside such runs, where their times are known)"
        )
    n_val = max(1, len(windows) // 6)
    train_w, val_w = windows[n_val:], windows[:n_val]
    kw: dict = {"working": working, "scales": (s,), "context": k}
    if forecast:
        kw["horizon"] = FORECAST_HORIZON
    elif accel:
        kw["accel"] = True
    stream = ForecastBatches if forecast else GapBatches
    train_b = iter(stream(_Windows(train_w), batch_size, **kw))  # type: ignore[arg-type]
    val_b = list(stream(_Windows(val_w), len(val_w), batches=3, seed=seed, **kw))  # type: ignore[arg-type]

    dev = torch.device(device)
    model = copy.deepcopy(net).to(dev).train()
    before = _score(model, val_b, dev)
    best, best_step, best_state = before, 0, copy.deepcopy(model.state_dict())
    check_at = {round(steps * (i + 1) / max(1, checks)) for i in range(max(1, checks))}
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    bar = tqdm(range(1, steps + 1), desc="adapt", unit="step", file=sys.stderr,
               disable=not progress, dynamic_ncols=True, leave=False)  # fmt: skip
    for step in bar:
        loss = _loss(model, next(train_b), dev)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.4f}", best=f"{best:.2f}")
        if step in check_at:
            score = _score(model, val_b, dev)
            if score > best:
                best, best_step, best_state = score, step, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    result = AdaptResult(steps, time.perf_counter() - t0, len(windows), before, best, best_step)
    log.info("%s", result.summary())
    return model.eval(), result


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest


def _render_batch(model: MotionNet, batch: dict, dev: torch.device, clamp: bool):
    k, n = model.config.context, int(batch["n"])
    full = batch["full"].to(dev).float().div_(255.0)
    small = batch["small"].to(dev).float().div_(255.0)
    if isinstance(model, MotionForecaster):
        steps = model(small, batch["back"].to(dev), n)
        last = full[:, k - 1]
        pred = torch.stack([model.render(last, st, clamp=clamp) for st in steps], 1)
        return pred, full[:, k:]
    times = [(i + 1) / (n + 1) for i in range(n)]
    accel = batch_accel({key: v.to(dev) if torch.is_tensor(v) else v for key, v in batch.items()})
    slots = model(
        small[:, :k], small[:, k + n :], batch["f01"].to(dev), batch["f10"].to(dev), times, accel
    )
    a, b = full[:, k - 1], full[:, k + n]
    pred = torch.stack([model.render(a, b, s, clamp=clamp) for s in slots], 1)
    return pred, full[:, k : k + n]


def _loss(model: MotionNet, batch: dict, dev: torch.device) -> torch.Tensor:
    pred, truth = _render_batch(model, batch, dev, clamp=False)
    return charbonnier(pred - truth)


@torch.no_grad()
def _score(model: MotionNet, batches: list[dict], dev: torch.device) -> float:
    model.eval()
    scores = []
    for batch in batches:
        pred, truth = _render_batch(model, batch, dev, clamp=True)
        scores.append(psnr_u8(pred.flatten(0, 1), truth.flatten(0, 1)).item())
    model.train()
    return float(np.mean(scores))
