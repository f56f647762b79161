"""The video prediction job: read the context, predict, write the output atomically.

`predict_video` predicts the frames after a point of a video file or image folder: its context is the
`context` grid slots before `start` (default: after the last frame), and it writes the
prediction (optionally after the context) as a video, a PNG folder or a `.npy` array, with
the comparison pictures of `framepred.eval.compare` where the video holds the true frames.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from math import ceil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from framepred.errors import FramepredError, InputShapeError, VideoOpenError, VideoWriteError
from framepred.eval.compare import write_side_by_side, write_strip
from framepred.eval.metrics import psnr_u8
from framepred.gaps import Grid
from framepred.guard import ForecastGuard
from framepred.io.atomic import check_output_target
from framepred.io.reader import VideoReader, probe
from framepred.io.span import write_span
from framepred.io.writer import output_kind
from framepred.predict.forecasters import (
    Forecaster,
    ModelForecaster,
    fill_context,
    get_forecaster,
    video_model,
)

log = logging.getLogger(__name__)


_CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)")


def parse_start(spec: str | int | float | Fraction) -> int | Fraction:
    """`--start` as a frame number (int) or a time in seconds (Fraction).

    "120" is frame 120 (0-based, on the video's frame grid); "4.8s", "4.8" and "0:04.8"
    are times.
    """
    if isinstance(spec, int):
        value: int | Fraction = spec
    elif isinstance(spec, float | Fraction):
        value = Fraction(spec)
    else:
        text = str(spec).strip().lower()
        clock = _CLOCK.fullmatch(text)
        if re.fullmatch(r"\d+", text):
            value = int(text)
        elif re.fullmatch(r"\d*\.?\d+s?|\d+\.s?", text):
            value = Fraction(text.rstrip("s"))
        elif clock:
            h, m, s = clock.groups()
            value = Fraction(int(h or 0) * 3600 + int(m) * 60) + Fraction(s)
        else:
            raise InputShapeError(
                f"--start must be a frame number (120) or a time (4.8s, 0:04.8), got {spec!r}"
            )
    if value < 0:
        raise InputShapeError(f"--start must not be negative, got {spec!r}")
    return value


def _start_slot(value: int | Fraction, frame_rate: Fraction) -> int:
    # A time starts at the first slot at or after it: the frames before it are the context.
    return value if isinstance(value, int) else ceil(value * frame_rate)


@dataclass
class PredictReport:
    """What `predict_video` did."""

    input: str
    output: str
    method: str
    frame_rate: str
    start_slot: int  # first predicted slot on the source's frame grid
    start_time: float  # its time in seconds on the source's clock
    context: int
    horizon: int
    with_context: bool
    n_written: int
    context_filled: int = 0  # context slots missing in the source, interpolated
    psnr_per_step: list[float | None] = field(default_factory=list)  # None: no truth
    compare: list[str] = field(default_factory=list)
    audio: str = "none"  # none | trimmed | padded
    seconds: float = 0.0
    adapt: dict | None = None  # per-video adaptation: steps, seconds, PSNR before/after
    guard: dict | None = None  # the model back-tested against flow extrapolation

    def to_dict(self) -> dict:
        return asdict(self)


def compare_paths(output: Path) -> tuple[Path, Path]:
    """Where `--compare` writes: `<stem>_compare.<ext>` (the side-by-side) and `<stem>_strip.png`."""
    ext = output.suffix.lower() if output.suffix.lower() in (".mp4", ".mkv", ".gif") else ".mp4"
    return output.with_name(f"{output.stem}_compare{ext}"), output.with_name(
        f"{output.stem}_strip.png"
    )


def _check_output(input_path: Path, output: Path, overwrite: bool, compare: bool) -> str:
    kind = "npy" if output.suffix.lower() == ".npy" else output_kind(output)
    for target in (output, *(compare_paths(output) if compare else ())):
        check_output_target(target, [input_path], overwrite)
    if output.exists() and output.is_dir() != (kind == "folder"):
        raise VideoWriteError(f"output exists and is of another kind: {output}")
    return kind


def predict_video(
    input: Path | str,
    output: Path | str,
    *,
    horizon: int,
    context: int = 10,
    start: str | int | float | Fraction | None = None,
    method: str = "model",
    model: str | Path | None = None,
    with_context: bool = False,
    compare: bool = False,
    compare_with: Sequence[str] = (),
    device: str = "auto",
    batch_size: int = 16,
    crf: int = 18,
    fps: Fraction | float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    forecaster: Forecaster | None = None,
    adapt: int = 0,
    precision: str = "auto",
    guard: bool = True,
) -> PredictReport:
    """Predict `horizon` frames after `start` in a video and write them to `output`.

    Args:
        input: a video file or a folder of numbered images (never modified).
        output: `.mp4`, `.mkv` (lossless), `.gif`, a folder (PNG frames) or `.npy`
            ((N, H, W, 3) uint8). Written whole or not at all, at the source's frame rate,
            frame 0 at time 0; the report gives the source time of the first frame.
        horizon: frames to predict.
        context: grid slots before `start` the prediction starts from. Slots missing in
            the source are interpolated from the context's own frames.
        start: first predicted frame: a frame number (int or "120") or a time (float
            seconds, "4.8s", "0:04.8"). None: after the last frame.
        method: "model", "copy-last" or "flow" (DIS optical flow extrapolation). "model"
            without `model` uses the learned default model, or `flow` (with a warning)
            while none is shipped.
        model: checkpoint path or built-in name for `method="model"` (e.g. "mmnist").
        with_context: write the context frames before the prediction.
        compare: also write `compare_paths(output)`: a truth | prediction | error video and
            a PNG strip (needs `start` inside the video, so that truth exists).
        compare_with: more methods whose predictions get a row of the strip each.
        fps: override the nominal frame rate (image folders default to 25).
        forecaster: an already built forecaster (tests, API use); overrides `method`.
        adapt: fine-tune the motion model for this many steps on the video's frames before
            `start` (never on what it predicts) first; 0 skips it.
        precision: the network's precision, "32", "bf16" or "auto" (`framepred.precision`).
        guard: with a learned model, predict the context's last frames from its first ones
            with it and with flow extrapolation, and predict with the one (or the mix of the
            two) that did better there (`framepred.guard.ForecastGuard`).
    """
    t0 = time.perf_counter()
    input, output = Path(input), Path(output)
    if horizon < 1:
        raise InputShapeError(f"--horizon must be at least 1, got {horizon}")
    if context < 1:
        raise InputShapeError(f"--context must be at least 1, got {context}")
    start_value = None if start is None else parse_start(start)
    if not input.exists():
        raise VideoOpenError(f"no such file or folder: {input}")
    kind = _check_output(input, output, overwrite, compare)
    if fps:
        probe(input, fps)  # an absurd --fps is refused before any work
    if forecaster is None:
        forecaster = _make_forecaster(method, model, device, context, batch_size, precision)
    with VideoReader(input, fps) as reader:
        info = reader.info
        first = None if start_value is None else _start_slot(start_value, info.frame_rate)
        grid = Grid(info.start, info.interval)
        frames, first, last_slot = _read_window(reader, grid, first, context, horizon, progress)
    _check_window(first, last_slot, context, horizon, grid, compare)
    adapted = (
        _adapt_forecaster(forecaster, input, fps, first, adapt, progress) if adapt > 0 else None
    )
    if guard and isinstance(forecaster, ModelForecaster):  # after adapting: it guards that
        forecaster = ForecastGuard(forecaster)
    ctx, n_filled = fill_context(frames, first - context, first)
    if n_filled:
        log.warning("%d of the %d context slots are missing in the source; interpolated "
                    "(run `framepred fill` first to choose how)", n_filled, context)  # fmt: skip
    log.info("predicting slots %d-%d (%.3f s) from slots %d-%d with %s", first,
             first + horizon - 1, float(grid.time(first)), first - context, first - 1,
             forecaster.name)  # fmt: skip
    pred = forecaster.predict(ctx, horizon)  # (N, H, W, 3) uint8
    if isinstance(forecaster, ForecastGuard):
        log.info("%s", forecaster.summary())
    truth = [frames.get(first + n) for n in range(horizon)]
    report = PredictReport(str(input), str(output), forecaster.name, str(info.frame_rate),
                           first, float(grid.time(first)), context, horizon, with_context, 0,
                           n_filled, [None if t is None else round(psnr_u8(t, p), 3)
                                      for t, p in zip(truth, pred, strict=True)])  # fmt: skip
    report.adapt = adapted
    if isinstance(forecaster, ForecastGuard) and forecaster.checks:
        report.guard = forecaster.checks[0]
    out_frames = np.concatenate([ctx, pred]) if with_context else pred
    first_out = first - context if with_context else first
    audio_from = None if info.is_folder or kind not in ("mp4", "mkv") else input
    report.audio = write_span(output, kind, out_frames, info, grid.time(first_out), crf,
                              audio_from, overwrite=overwrite)  # fmt: skip
    report.n_written = len(out_frames)
    if compare:
        side, strip = compare_paths(output)
        times = [float(grid.time(s)) for s in range(first - context, first + horizon)]
        write_side_by_side(side, list(ctx), truth, list(pred), times, info.frame_rate,
                           method=forecaster.name, crf=crf, overwrite=overwrite)  # fmt: skip
        rows = {forecaster.name: list(pred)}
        for name in compare_with:
            other = _make_forecaster(name, model, device, context, batch_size, precision)
            rows.setdefault(other.name, list(other.predict(ctx, horizon)))
        write_strip(strip, list(ctx), truth, rows, overwrite=overwrite)
        report.compare = [str(side), str(strip)]
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _adapt_forecaster(forecaster: Forecaster, input: Path, fps, first: int, steps: int,
                      progress: bool) -> dict:  # fmt: skip
    """Fine-tune the forward-only motion model on the input's frames before slot `first`."""
    from framepred.adapt import adapt_to_video
    from framepred.predict.predictor import MotionPredictor

    predictor = getattr(forecaster, "predictor", None)
    if not isinstance(predictor, MotionPredictor):
        raise FramepredError(
            "--adapt needs the learned motion forecaster (--method model with the shipped "
            "`forecast` model or one trained with --preset motion-forecast)"
        )
    net, result = adapt_to_video(predictor.motion_net, input, fps, steps, before=first,
                                 device=predictor.device, progress=progress)  # fmt: skip
    predictor.net = net  # type: ignore[assignment]  # a MotionPredictor holds a MotionForecaster
    return result


def _make_forecaster(method, model, device, context, batch_size, precision) -> Forecaster:
    if method == "model" and model is None and video_model() is None:
        log.warning("no learned video model is shipped yet; using --method flow "
                    "(name one with --model)")  # fmt: skip
        method = "flow"
    return get_forecaster(method, model=None if model is None else str(model), device=device,
                          context=context, batch_size=batch_size, precision=precision)  # fmt: skip


def _read_window(reader: VideoReader, grid: Grid, first: int | None, context: int,
                 horizon: int, progress: bool) -> tuple[dict[int, np.ndarray], int, int]:  # fmt: skip
    """Frames of the slots [first - context, first + horizon); `first` None: after the end.

    Streams the video and stops after the window, so memory is bounded by the window.
    Returns the frames by slot, `first`, and the last slot seen.
    """
    frames: dict[int, np.ndarray] = {}
    last = -1
    bar = tqdm(reader, total=reader.info.n_frames, unit="frame", desc="reading",
               file=sys.stderr, disable=not progress, leave=False, dynamic_ncols=True)  # fmt: skip
    with bar:
        for frame in bar:
            slot = grid.slot(frame.pts)
            if slot < 0 or slot <= last:
                continue  # before the grid, or a second frame in one slot (VFR): keep the first
            last = slot
            if first is None:
                frames[slot] = frame.image
                frames.pop(slot - context, None)
            elif slot >= first + horizon:
                break
            elif slot >= first - context:
                frames[slot] = frame.image
    return frames, last + 1 if first is None else first, last


def _check_window(first: int, last: int, context: int, horizon: int, grid: Grid,
                  compare: bool) -> None:  # fmt: skip
    if last < 0:
        raise VideoOpenError("no decodable video frames")
    end = float(grid.time(last + 1) - grid.start)
    if first > last + 1:
        raise InputShapeError(
            f"--start (frame {first}, {float(grid.time(first) - grid.start):.3f} s) is beyond "
            f"the end of the video ({last + 1} frames, {end:.3f} s)"
        )
    if first < context:
        raise InputShapeError(
            f"--context {context} needs {context} frames before --start, but only {first} "
            f"come before frame {first}"
        )
    if compare and first > last:
        raise InputShapeError(
            "--compare needs the true frames: give a --start inside the video "
            f"(it has {last + 1} frames, {end:.3f} s)"
        )
    if compare and first + horizon > last + 1:
        log.warning("only %d of the %d predicted frames have a true frame to compare with",
                    last + 1 - first, horizon)  # fmt: skip
