"""Does the model beat simple methods on *this* footage? Hide frames, synthesize, score.

`evaluate` reads a video (or image folder) onto its frame grid, hides frames by a pattern
and scores each method on the hidden frames that the source really holds:

* `xN`: keep one frame in N (x2: every other frame hidden); `gapN`: keep two, hide N.
  The hidden runs are filled from the kept frames on both sides, as `fill` would: the model
  (forward prediction from the frames before), `flow` (bidirectional DIS flow), `blend`,
  `repeat`.
* `futureN`: windows of `context` frames followed by N hidden ones, every `stride` frames;
  the model, `copy-last` and `flow` (constant-velocity flow extrapolation) predict the N.

Scores are 8-bit RGB PSNR and SSIM averaged over the scored frames, and frames/s of each
method's synthesis alone (decoding excluded). A list of `context` lengths sweeps the model's
context: the classical methods do not depend on it and are scored once.
"""

from __future__ import annotations

import bisect
import logging
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from framepred.errors import InputShapeError, VideoOpenError
from framepred.eval.metrics import psnr_u8, ssim_u8
from framepred.gaps import Grid
from framepred.io.marks import json_text
from framepred.io.reader import VideoReader
from framepred.predict.forecasters import (
    Forecaster,
    ModelForecaster,
    fill_context,
    get_forecaster,
    video_model,
)
from framepred.synth.base import Synthesizer, context_spacing
from framepred.synth.classical import get_synthesizer
from framepred.synth.ensemble import SelfEnsemble
from framepred.synth.methods import METHODS

log = logging.getLogger(__name__)

FILL_METHODS = METHODS  # the methods `fill` offers
FUTURE_METHODS = ("model", "copy-last", "flow")


@dataclass(frozen=True)
class HidePattern:
    """Which frames `evaluate` hides: `x`N, `gap`N or `future`N."""

    kind: str
    n: int

    @property
    def is_future(self) -> bool:
        return self.kind == "future"

    def hidden(self, slot: int) -> bool:
        if self.kind == "x":
            return slot % self.n != 0
        if self.kind == "gap":
            return slot % (self.n + 2) >= 2
        raise ValueError("future patterns hide windows, not slots")

    def __str__(self) -> str:
        return f"{self.kind}{self.n}"


def parse_pattern(text: str) -> HidePattern:
    """ "x2", "gap3", "future5" -> a `HidePattern`; a clear error otherwise."""
    match = re.fullmatch(r"(x|gap|future)(\d+)", text.strip().lower())
    if not match or int(match[2]) < (2 if match[1] == "x" else 1) or int(match[2]) > 1000:
        raise InputShapeError(
            f"unknown pattern {text!r}: use xN (keep 1 frame in N, N >= 2), gapN (keep 2, "
            "hide N) or futureN (predict N frames after a context)"
        )
    return HidePattern(match[1], int(match[2]))


@dataclass
class MethodScore:
    """One method's scores (and the context it had: None for the classical methods)."""

    method: str
    context: int | None
    psnr: float = 0.0
    ssim: float = 0.0
    fps: float = 0.0
    n_frames: int = 0  # frames scored
    psnr_per_step: list[float] = field(default_factory=list)  # futureN: mean per step
    psnr_per_frame: dict[int, float] = field(default_factory=dict)  # slot -> PSNR

    @property
    def label(self) -> str:
        return self.method if self.context is None else f"{self.method} (context {self.context})"


@dataclass
class EvalResult:
    """What `evaluate` measured; `table()` is what `framepred eval` prints."""

    input: str
    pattern: str
    frame_rate: str
    n_slots: int
    n_windows: int  # futureN: windows scored; xN/gapN: hidden runs
    scores: list[MethodScore]

    def ranked(self) -> list[MethodScore]:
        return sorted(self.scores, key=lambda s: -s.psnr)

    def table(self) -> str:
        rows = ["| method | context | PSNR (dB) | SSIM | frames/s |", "|---|---:|---:|---:|---:|"]
        for s in self.ranked():
            ctx = "-" if s.context is None else str(s.context)
            rows.append(f"| {s.method} | {ctx} | {s.psnr:.2f} | {s.ssim:.4f} | {s.fps:.1f} |")
        return "\n".join(rows)

    def to_json(self) -> str:
        return json_text(asdict(self))


class _Tally:
    def __init__(self, score: MethodScore, horizon: int = 0):
        self.score, self.seconds = score, 0.0
        self.made = 0
        self.psnr: list[float] = []
        self.ssim: list[float] = []
        self.steps: list[list[float]] = [[] for _ in range(horizon)]

    def add(self, slot: int, truth: np.ndarray, pred: np.ndarray, step: int | None = None):
        p = psnr_u8(truth, pred)
        self.psnr.append(p)
        self.ssim.append(ssim_u8(truth, pred))
        self.score.psnr_per_frame[slot] = round(p, 3)
        if step is not None:
            self.steps[step].append(p)

    def done(self) -> MethodScore:
        s = self.score
        s.n_frames = len(self.psnr)
        s.psnr = float(np.mean(self.psnr)) if self.psnr else float("nan")
        s.ssim = float(np.mean(self.ssim)) if self.ssim else float("nan")
        s.fps = self.made / self.seconds if self.seconds > 0 else float("inf")
        s.psnr_per_step = [round(float(np.mean(v)), 3) for v in self.steps if v]
        return s


def evaluate(
    input: Path | str,
    pattern: str = "future5",
    *,
    methods: Sequence[str | Synthesizer | Forecaster] | None = None,
    model: str | Path | None = None,
    context: int | Sequence[int] = 10,
    stride: int | None = None,
    max_frames: int | None = 300,
    device: str = "auto",
    batch_size: int = 8,
    fps: Fraction | float | None = None,
    progress: bool = True,
    ensemble: int = 1,
    working_size: int | None = None,
) -> EvalResult:
    """Hide frames of a video by `pattern`, synthesize them with each method, score them.

    Args:
        input: a video file or a folder of numbered images.
        pattern: "xN", "gapN" or "futureN" (see the module docstring).
        methods: names (fill patterns: model, flow, blend, repeat; future: model, copy-last,
            flow) or ready `Synthesizer`/`Forecaster` objects. None: the classical methods,
            plus the model when `model` is given or a learned default model is shipped.
        model: checkpoint path or built-in name for "model" (e.g. "mmnist").
        context: frames the model sees (each side for fill patterns); a list sweeps it.
        stride: futureN: slots between window starts (default N: each frame predicted once).
        max_frames: read at most this many grid slots (bounds memory; None: all).
        batch_size: futureN windows per batched forward pass.
        ensemble: fill patterns: also score the motion model's self-ensemble of this many
            views (`framepred.synth.ensemble`) as "model+ensN".
        working_size: fill patterns: also score the motion model estimating motion at this
            working size (`fill --working-size`) as "model+wsN", beside its own size's row.
    """
    hide = parse_pattern(pattern)
    contexts = sorted({context} if isinstance(context, int) else set(context))
    if not contexts or contexts[0] < 1:
        raise InputShapeError(f"context lengths must be at least 1, got {context}")
    if stride is not None and stride < 1:
        raise InputShapeError(f"stride must be at least 1, got {stride}")
    runners = _methods(hide, methods, model, device, contexts, batch_size)
    if ensemble > 1:
        runners += _ensembles(hide, runners, ensemble)
    if working_size is not None:
        runners += _working_size(hide, runners, model, device, working_size)
    info, frames, n_slots = _load(Path(input), fps, max_frames, progress)
    if hide.is_future:
        scores, n_windows = _eval_future(frames, n_slots, hide.n, contexts, runners,
                                         stride or hide.n, batch_size, progress)  # fmt: skip
    else:
        scores, n_windows = _eval_fill(frames, n_slots, hide, runners, progress)
    if not any(s.n_frames for s in scores):
        raise InputShapeError(f"no hidden frame with a true frame to score ({n_slots} slots)")
    return EvalResult(str(input), str(hide), str(info.frame_rate), n_slots, n_windows, scores)


def _methods(hide, methods, model, device, contexts, batch_size) -> list[tuple[str, int | None, object]]:  # fmt: skip
    """(name, context or None, method object) for every row of the table."""
    valid = FUTURE_METHODS if hide.is_future else FILL_METHODS
    if methods is None:
        methods = [m for m in valid if m != "model"]
        if model is not None or _has_learned(hide.is_future):
            methods.insert(0, "model")
        else:
            log.warning("no learned model is shipped yet; scoring the classical methods only")
    out: list[tuple[str, int | None, object]] = []
    for m in methods:
        if not isinstance(m, str):
            out.append((m.name, None, m))
        elif m not in valid:
            raise InputShapeError(
                f"unknown method '{m}' for {hide}: choose from {', '.join(valid)}"
            )
        elif m != "model":
            obj = get_forecaster(m) if hide.is_future else get_synthesizer(m)
            out.append((m, None, obj))
        elif not hide.is_future and _motion_model(model, device) is not None:
            # The motion model (the `default`): its context is fixed by its config.
            out.append(("model", None, _motion_model(model, device)))
        else:
            from framepred.synth.pixel import ModelSynthesizer

            # Loaded once for every context length of the sweep.
            loaded = get_forecaster(
                "model", model=model and str(model), device=device, batch_size=batch_size
            )
            assert isinstance(loaded, ModelForecaster)
            predictor = loaded.predictor
            for k in contexts:
                obj = (get_forecaster("model", context=k, predictor=predictor) if hide.is_future
                       else ModelSynthesizer(predictor, context=k))  # fmt: skip
                out.append(("model", k, obj))
    return out


def _ensembles(hide: HidePattern, runners, size: int) -> list[tuple[str, int | None, object]]:
    """The "model+ensN" row: the motion model's row, as a self-ensemble of `size` views."""
    from framepred.synth.motion import MotionSynthesizer

    motion = [obj for _, _, obj in runners if isinstance(obj, MotionSynthesizer)]
    if hide.is_future or not motion:
        raise InputShapeError("--ensemble needs a fill pattern (xN, gapN) and the motion model")
    return [(f"model+ens{size}", None, SelfEnsemble(motion[0].fork(), size))]


def _working_size(hide: HidePattern, runners, model, device, side: int):
    """The "model+wsN" row: the motion model (a copy of its own) at working size `side`."""
    from framepred.synth.methods import make_synthesizer
    from framepred.synth.motion import MotionSynthesizer

    if hide.is_future or not any(isinstance(obj, MotionSynthesizer) for _, _, obj in runners):
        raise InputShapeError("--working-size needs a fill pattern (xN, gapN) and the motion model")
    return [(f"model+ws{side}", None, make_synthesizer("model", model, device, working_size=side))]


def _has_learned(future: bool) -> bool:
    """Whether a learned model is shipped for this kind of pattern."""
    if future:
        return video_model() is not None
    from framepred.models.checkpoints import builtin_path

    return builtin_path("default") is not None


_MOTION: dict[tuple, object] = {}


def _motion_model(model, device):
    """The motion-model synthesizer for `model` (default: the built-in), or None when the
    checkpoint is a pixel forecaster instead (cached: it is asked for twice)."""
    key = (str(model), device)
    if key not in _MOTION:
        from framepred.synth.methods import make_synthesizer
        from framepred.synth.motion import MotionSynthesizer

        synth = make_synthesizer("model", model, device)
        _MOTION.clear()
        _MOTION[key] = synth if isinstance(synth, MotionSynthesizer) else None
    return _MOTION[key]


def _load(path: Path, fps, max_frames, progress) -> tuple:
    """The frames of the first `max_frames` grid slots, by slot."""
    if not path.exists():
        raise VideoOpenError(f"no such file or folder: {path}")
    frames: dict[int, np.ndarray] = {}
    with VideoReader(path, fps) as reader:
        info = reader.info
        grid = Grid(info.start, info.interval)
        limits = [x for x in (info.n_frames, max_frames) if x]
        total = min(limits) if limits else None
        bar = tqdm(reader, total=total, unit="frame", desc="reading", file=sys.stderr,
                   disable=not progress, leave=False, dynamic_ncols=True)  # fmt: skip
        for frame in bar:
            slot = grid.slot(frame.pts)
            if max_frames is not None and slot >= max_frames:
                log.warning("evaluating the first %d frames only (--max-frames)", max_frames)
                break
            if slot >= 0:
                frames.setdefault(slot, frame.image)
        bar.close()
    if not frames:
        raise VideoOpenError(f"no decodable video frames: {path}")
    return info, frames, max(frames) + 1


def _eval_fill(frames, n_slots, hide: HidePattern, runners, progress):
    known = sorted(s for s in frames if not hide.hidden(s))
    if len(known) < 2:
        raise InputShapeError(f"{hide} leaves fewer than two frames of this video to fill from")
    last = known[-1]  # hidden frames after the last kept one would be one-sided: not scored
    kept = set(known)
    runs: list[list[int]] = []
    for slot in range(known[0], last):
        if slot not in kept:
            if runs and runs[-1][-1] == slot - 1:
                runs[-1].append(slot)
            else:
                runs.append([slot])
    scores = []
    for name, ctx, synth in runners:
        tally = _Tally(MethodScore(name, ctx))
        want = max(1, synth.context)
        for run in tqdm(runs, desc=name, unit="gap", file=sys.stderr, disable=not progress,
                        leave=False):  # fmt: skip
            i = bisect.bisect_left(known, run[0])
            slots_before, slots_after = known[max(0, i - want) : i], known[i : i + want]
            before = [frames[s] for s in slots_before]
            after = [frames[s] for s in slots_after]
            spacing = context_spacing(slots_before, slots_after)
            t0 = time.perf_counter()
            made = list(synth.fill_run(before, after, len(run), spacing))
            tally.seconds += time.perf_counter() - t0
            tally.made += len(made)
            for slot, image in zip(run, made, strict=True):
                if slot in frames:
                    tally.add(slot, frames[slot], image)
        scores.append(tally.done())
    return scores, len(runs)


def _eval_future(frames, n_slots, horizon, contexts, runners, stride, batch_size, progress):
    kmax = max([*contexts, 2])
    starts = [s for s in range(kmax, n_slots - horizon + 1, stride)
              if any(s + n in frames for n in range(horizon))
              and any(s - k in frames for k in range(1, kmax + 1))]  # fmt: skip
    if not starts:
        raise InputShapeError(
            f"the video is too short for context {kmax} + {horizon} predicted frames "
            f"({n_slots} frames)"
        )
    tallies = [_Tally(MethodScore(name, ctx), horizon) for name, ctx, _ in runners]
    chunks = [starts[i : i + batch_size] for i in range(0, len(starts), batch_size)]
    for chunk in tqdm(chunks, desc="windows", unit="batch", file=sys.stderr,
                      disable=not progress, leave=False):  # fmt: skip
        ctx = np.stack([fill_context(frames, s - kmax, s)[0] for s in chunk])  # (B, K, H, W, 3)
        for (_, k, method), tally in zip(runners, tallies, strict=True):
            t0 = time.perf_counter()
            pred = method.predict_many(ctx[:, -(k or kmax) :], horizon)  # (B, N, H, W, 3)
            tally.seconds += time.perf_counter() - t0
            tally.made += pred.shape[0] * horizon
            for b, s in enumerate(chunk):
                for n in range(horizon):
                    if s + n in frames:
                        tally.add(s + n, frames[s + n], pred[b, n], step=n)
    return [t.done() for t in tallies], len(starts)
