"""Per-video adaptation: fine-tune a motion model on the video's own known frames.

Before filling, windows of consecutive known frames are drawn from the video (a bounded
reservoir of crops, so memory does not grow with the video's length), frames inside each window
are hidden, and the model learns to bring them back at their true times (known frames need not
be evenly spaced: `TimedGapBatches`): the same task as filling, on this video's motion,
textures and scale. The forward-only model (`MotionForecaster`) adapts the
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
from dataclasses import asdict, dataclass
from itertools import chain, count, islice, takewhile, tee
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import cv2
import numpy as np
import torch
from tqdm import tqdm

from framepred.data.forecast import ForecastBatches
from framepred.data.interp import GapBatches
from framepred.errors import InputShapeError
from framepred.eval.metrics import psnr_8bit
from framepred.flow import working_size
from framepred.gaps import Grid
from framepred.io.reader import VideoReader
from framepred.models.forecaster import MotionForecaster
from framepred.models.interpolator import MotionInterpolator
from framepred.predict.backtest import SPAN, batch_damping
from framepred.train.motion import batch_accel, charbonnier

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
    zoom: int = 1  # windows zoomed out by this factor to match the gaps' motion (see `adapt`)

    def summary(self) -> str:
        kept = (
            f"kept step {self.kept_step}" if self.kept_step else "no step helped: model unchanged"
        )
        zoomed = f", zoomed out {self.zoom}x" if self.zoom > 1 else ""
        return (
            f"adapted for {self.steps} steps ({self.seconds:.0f} s) on {self.windows} windows"
            f"{zoomed}: "
            f"held-out PSNR {self.psnr_before:.2f} -> {self.psnr_after:.2f} dB ({kept})"
        )


class Window(NamedTuple):
    """A crop of consecutive known frames, (T, S, S, 3) uint8, and where each lies on the
    video's frame grid relative to the first (evenly spaced only where no frame is missing)."""

    frames: np.ndarray
    offsets: tuple[int, ...]

    @property
    def even(self) -> bool:
        return len(self.offsets) < 2 or _stride(self.offsets) > 0


def collect_windows(
    frames: Iterable[np.ndarray],
    crop: int,
    length: int = 7,
    max_windows: int = 48,
    seed: int = 0,
    slots: Iterable[int] | None = None,
    zoom: int = 1,
) -> list[Window]:
    """Reservoir-sample up to `max_windows` windows of `length` consecutive known frames, each
    cut to one random square crop of side `crop` (clipped to the frame) and zoomed out by
    `zoom` as it is kept (so the reservoir holds only the small crops). `slots`: where each
    frame lies on the video's frame grid (None: one after another), kept as the windows'
    offsets so that hidden frames are asked for at their true times."""
    rng = np.random.default_rng(seed)
    out: list[Window] = []
    recent: list[np.ndarray] = []
    where: list[int] = []
    seen = 0
    for slot, frame in zip(slots if slots is not None else count(), frames, strict=False):
        recent.append(frame)
        where.append(slot)
        if len(recent) > length:
            recent.pop(0)
            where.pop(0)
        if len(recent) < length:
            continue
        seen += 1
        place = seen - 1 if seen <= max_windows else int(rng.integers(seen))
        if place >= max_windows:
            continue
        h, w = frame.shape[:2]
        side = min(crop, h, w)
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        crops = [f[y : y + side, x : x + side] for f in recent]
        if zoom > 1:
            small = (side // zoom, side // zoom)
            crops = [cv2.resize(c, small, interpolation=cv2.INTER_AREA) for c in crops]
        window = Window(np.stack(crops), tuple(int(v - where[0]) for v in where))
        if place < len(out):
            out[place] = window
        else:
            out.append(window)
    return out


class TimedGapBatches(GapBatches):
    """Gap batches cut from windows of known frames that need not be evenly spaced (two kept,
    three dropped; scattered drops): each batch takes its windows from one spacing pattern,
    hides known frames inside them and asks for them at their true times, and gives quadratic
    motion the true distances of P and N. On evenly spaced windows it asks what `GapBatches`
    asks, with P and N the known frames next to A and B."""

    def __init__(self, windows: list[Window], batch_size: int, **kw: Any) -> None:
        super().__init__(_Windows([w.frames for w in windows]), batch_size, **kw)
        self.offsets = [w.offsets for w in windows]
        self.groups: dict[tuple[int, ...], list[int]] = {}  # spacing pattern -> its windows
        for i, o in enumerate(self.offsets):
            self.groups.setdefault(o, []).append(i)
        self._members: list[int] = []  # the windows of the batch being cut

    def _span(self, rng: np.random.Generator, span: int) -> torch.Tensor:
        return self.base[self._members[int(rng.integers(len(self._members)))]][:span]

    def make_batch(self, rng: np.random.Generator) -> dict[str, Any]:
        o = self.offsets[int(rng.integers(len(self.offsets)))]  # patterns drawn by frequency
        self._members = self.groups[o]
        k = self.context
        n = int(rng.choice([g for g in self.gaps if g + 2 * k <= len(o)]))
        s = int(rng.choice(self.scales))
        a = int(rng.integers(k - 1, len(o) - n - k))  # A's index; B is a + n + 1
        b = a + n + 1
        pick = list(range(a - k + 1, b + k))
        items = [self._item(rng, len(pick), s, pick) for _ in range(self.batch_size)]
        batch: dict[str, Any] = {key: torch.stack([it[key] for it in items]) for key in items[0]}
        gap = o[b] - o[a]
        if self.accel:  # the true spacings, where the item did not mark them unknown
            batch["sp"] = torch.where(batch["sp"] > 0, (o[a] - o[a - 1]) / gap, 0.0)
            batch["sn"] = torch.where(batch["sn"] > 0, (o[b + 1] - o[b]) / gap, 0.0)
        batch["n"] = n
        batch["times"] = [(o[a + i] - o[a]) / gap for i in range(1, n + 1)]
        return batch


class StrideBatches(GapBatches):
    """Gap batches for a video whose known frames are evenly spaced, `stride` slots apart (x2:
    every other frame missing): the fill task played one level up. Hiding `stride - 1`
    consecutive known frames between A and B, with P and N `stride` known frames out, gives
    the fill task's layout (P and N a whole gap from A and B, the hidden frames evenly spaced
    between), on a grid `stride` times coarser; windows zoomed out by `stride` (see `adapt`)
    bring the motion back to the size it has between a dropped frame's neighbours."""

    def __init__(self, windows: list[Window], batch_size: int, stride: int, **kw: Any) -> None:
        super().__init__(_Windows([w.frames for w in windows]), batch_size, **kw)
        self.stride = r = stride
        a = r * (self.context - 1)  # A's window index; P .. A and B .. N lie r apart
        self.pick = [
            *range(0, a + 1, r),
            *range(a + 1, a + r),
            *range(a + r, a + r * (self.context + 1), r),
        ]

    def make_batch(self, rng: np.random.Generator) -> dict[str, Any]:
        r, pick = self.stride, self.pick
        s = int(rng.choice(self.scales))
        items = [self._item(rng, len(pick), s, pick) for _ in range(self.batch_size)]
        batch: dict[str, Any] = {key: torch.stack([it[key] for it in items]) for key in items[0]}
        if self.accel:  # the fill task's spacings are known: a whole gap on each side
            batch["sp"] = torch.ones_like(batch["sp"])
            batch["sn"] = torch.ones_like(batch["sn"])
        batch["n"] = r - 1
        return batch


def _stride(slots: Iterable[int]) -> int:
    """The spacing of evenly spaced slots (0 if uneven or fewer than two)."""
    d = set(np.diff(list(slots)).tolist())
    return int(d.pop()) if len(d) == 1 else 0


class _Windows(torch.utils.data.Dataset):
    def __init__(self, windows: list[np.ndarray]) -> None:
        self.windows = windows  # (T, S, S, 3) uint8 each

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
    zoom: bool = True,
) -> tuple[Net, AdaptResult]:
    """Fine-tune a copy of `net` for `steps` steps on windows of `frames` (RGB uint8); `slots`
    places them on the video's frame grid (None: consecutive), see `collect_windows`.

    The held-out windows are scored before training and at `checks` evenly spaced steps; the
    weights that scored best are kept (the original ones if no step beat them), so adapting
    never makes the model worse on frames of this video it did not train on.

    `zoom`: where the known frames are evenly spaced with frames missing between them (x2:
    every other one), hidden known frames lie `stride` times farther from their neighbours
    than a missing frame does, so their motion is `stride` times larger; the windows are then
    cut `stride` times larger and zoomed out to the working crop, and the task is the fill
    task's layout on the known frames (`StrideBatches`). Elsewhere, or where the frames are
    too small for the larger crop, known frames are hidden at their true times
    (`TimedGapBatches`).

    The same `seed` gives the same windows, batches and weights (on the same machine).

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
    span = SPAN if forecast and getattr(net.config, "backtest", False) else 0
    if forecast:
        length = max(k, span) + FORECAST_HORIZON
    else:
        length = GapBatches.window_length(3, k, accel)
    slots = iter(slots) if slots is not None else count()
    head = list(islice(slots, length))  # where the first frames lie: is every other one missing?
    stride = _stride(head) if zoom and not forecast else 1
    if stride < 2 or side * stride > min(first.shape[:2]):
        stride = 1
    length = max(length, stride * (2 * k - 1) + 1)  # P, A, hidden, B, N at the stride
    windows = collect_windows(_chain(first, frames), side * stride, length, seed=seed,
                              slots=chain(head, slots), zoom=stride)  # fmt: skip
    windows = [w for w in windows if w.frames.shape[1:3] == (side, side)]
    if stride > 1:
        windows = [w for w in windows if _stride(w.offsets) == stride]
    if forecast:  # predicting steps forward: only runs without missing frames
        windows = [w for w in windows if w.even]
    if len(windows) < 2:
        kind = " with no frame missing between them" if forecast and slots is not None else ""
        raise ValueError(
            f"the video is too short to adapt to (needs two runs of {length} known frames{kind})"
        )
    n_val = max(1, len(windows) // 6)
    train_w, val_w = windows[n_val:], windows[:n_val]
    kw: dict = {"working": working, "scales": (s,), "context": k}
    if forecast:
        kw["horizon"] = FORECAST_HORIZON
        kw["span"] = span
        train_b = iter(ForecastBatches(_Windows([w.frames for w in train_w]), batch_size,
                                       seed=seed + 1, **kw))  # fmt: skip
        val_b = list(ForecastBatches(_Windows([w.frames for w in val_w]), len(val_w), batches=3,
                                     seed=seed, **kw))  # fmt: skip
    else:
        kw["accel"] = accel
        if stride > 1:
            train_b = iter(StrideBatches(train_w, batch_size, stride, seed=seed + 1, **kw))
            val_b = list(StrideBatches(val_w, len(val_w), stride, batches=3, seed=seed, **kw))
        else:
            train_b = iter(TimedGapBatches(train_w, batch_size, seed=seed + 1, **kw))
            val_b = list(TimedGapBatches(val_w, len(val_w), batches=3, seed=seed, **kw))

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
    seconds = time.perf_counter() - t0
    result = AdaptResult(steps, seconds, len(windows), before, best, best_step, stride)
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
        steps = model(small, batch["back"].to(dev), n, batch_damping(model, batch, dev))
        last = full[:, k - 1]
        pred = torch.stack([model.render(last, st, clamp=clamp) for st in steps], 1)
        return pred, full[:, k:]
    times = batch.get("times") or [(i + 1) / (n + 1) for i in range(n)]
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
        scores.append(psnr_8bit(pred.flatten(0, 1), truth.flatten(0, 1)).item())
    model.train()
    return float(np.mean(scores))


def adapt_to_video(net: Net, input: Path, fps, steps: int, *, device: torch.device | str,
                   progress: bool, before: int | None = None) -> tuple[Net, dict]:  # fmt: skip
    """`adapt` on the known frames of the video file or image folder `input` (read at `fps`),
    the one entry point of `fill --adapt` and `predict --adapt`: every known frame placed on
    the video's grid, or (`before`) only the frames before that slot, taken as consecutive
    (decoding stops there). Returns the adapted network and the result as a dict (reports).
    Raises `InputShapeError` where the video cannot be adapted to (too few frames)."""
    with VideoReader(input, fps) as reader:
        grid = Grid(reader.info.start, reader.info.interval)
        known = ((grid.slot(f.pts), f.image) for f in reader)
        try:
            if before is not None:
                past = (image for _, image in takewhile(lambda k: k[0] < before, known))
                net, res = adapt(net, past, steps, device=device, progress=progress)
            else:
                slots, frames = tee(known)
                net, res = adapt(net, (f for _, f in frames), steps, device=device,
                                 progress=progress, slots=(s for s, _ in slots))  # fmt: skip
        except ValueError as err:
            raise InputShapeError(f"cannot adapt to {input}: {err}") from None
    log.info("%s", res.summary())
    return net, asdict(res)
