"""Pictures that show how good a prediction is: a side-by-side video and a PNG strip.

* `write_side_by_side`: one output frame per context frame and per predicted step, three
  panels wide: truth | prediction | error heat-map (|truth - prediction|, mean over RGB,
  amplified `gain` times, inferno colour map), each under a label bar with the step, the time
  on the source's clock and the step's PSNR. Small frames are enlarged (nearest neighbour)
  so the labels stay legible.
* `write_strip`: the figure papers show. Top row: the last context frames, then the truth
  for each future step; one row per method below it with its prediction under each truth
  frame (and the PSNR of that step).

Frames are RGB uint8 (H, W, 3); a missing truth frame (None) is drawn as a grey panel
labelled "no truth". Both writers are atomic: the file appears whole or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from framepred.errors import VideoWriteError
from framepred.eval.metrics import psnr_u8
from framepred.io.atomic import atomic_path
from framepred.io.marks import mark_png
from framepred.io.writer import VideoWriter

FONT = cv2.FONT_HERSHEY_SIMPLEX
GREY = 96
SEPARATOR = 4  # pixels between panels


def panel_scale(height: int, min_height: int = 128) -> int:
    """Integer enlargement applied to frames shorter than `min_height` (labels stay legible)."""
    return max(1, math.ceil(min_height / height))


def header_height(width: int) -> int:
    """Label bar height for a panel `width` pixels wide (even, so video sizes stay even)."""
    return 2 * max(8, round(width / 28))


def error_map(truth: np.ndarray, pred: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """|truth - pred| averaged over RGB, times `gain`, as an inferno heat map (RGB uint8)."""
    err = np.abs(truth.astype(np.int16) - pred.astype(np.int16)).mean(axis=2)
    level = np.clip(err * gain, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def _blank(shape: tuple[int, ...], text: str = "") -> np.ndarray:
    panel = np.full(shape, GREY, np.uint8)
    if text:
        _text(panel, text, shape[0] // 2, max(0.3, shape[1] / 400), (230, 230, 230))
    return panel


def _text(image: np.ndarray, text: str, baseline: int, scale: float, colour) -> None:
    (tw, _), _ = cv2.getTextSize(text, FONT, scale, 1)
    x = max(2, (image.shape[1] - tw) // 2)
    cv2.putText(image, text, (x, baseline), FONT, scale, colour, 1, cv2.LINE_AA)


def labelled(image: np.ndarray, text: str, bar: int, *, dark: bool = True) -> np.ndarray:
    """`image` under a label bar `bar` pixels tall holding `text`, centred."""
    h, w = image.shape[:2]
    out = np.full((h + bar, w, 3), 24 if dark else 255, np.uint8)
    out[bar:] = image
    scale = bar / 34
    # Shrink the font until the text fits the panel's width.
    while scale > 0.2 and cv2.getTextSize(text, FONT, scale, 1)[0][0] > w - 4:
        scale *= 0.9
    colour = (240, 240, 240) if dark else (20, 20, 20)
    _text(out, text, bar - max(2, bar // 5), scale, colour)
    return out


def _enlarge(image: np.ndarray, k: int) -> np.ndarray:
    return image if k == 1 else cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_NEAREST)


def side_by_side_frames(
    context: Sequence[np.ndarray], truth: Sequence[np.ndarray | None],
    pred: Sequence[np.ndarray], times: Sequence[float], *, method: str = "prediction",
    gain: float = 4.0,
) -> list[np.ndarray]:  # fmt: skip
    """The frames of the side-by-side: len(context) + len(pred) of them, all the same size.

    Args:
        context: the context frames (shown in the truth and prediction panels alike).
        truth: the true frame of each predicted step, or None where there is none.
        pred: the predicted frames.
        times: source time in seconds of every output frame (context then steps).
    """
    if len(truth) != len(pred) or len(times) != len(context) + len(pred):
        raise ValueError("truth, pred and times do not line up")
    h, w = pred[0].shape[:2]
    k = panel_scale(h)
    bar = header_height(w * k)
    frames = []
    for i, image in enumerate(context):
        step = i - len(context) + 1
        label = f"context {step:+d}  {times[i]:.2f}s" if step else f"context 0  {times[i]:.2f}s"
        panels = [labelled(_enlarge(image, k), label, bar),
                  labelled(_enlarge(image, k), "(input)", bar),
                  labelled(_blank((h * k, w * k, 3)), "", bar)]  # fmt: skip
        frames.append(_hstack(panels))
    for n, (t, p) in enumerate(zip(truth, pred, strict=True), start=1):
        stamp = f"{times[len(context) + n - 1]:.2f}s"
        if t is None:
            tp = _blank((h * k, w * k, 3), "no truth")
            ep = _blank((h * k, w * k, 3), "")
            err_label = "|error|"
        else:
            tp = _enlarge(t, k)
            ep = _enlarge(error_map(t, p, gain), k)
            err_label = f"|error| x{gain:g}  {psnr_u8(t, p):.1f} dB"
        frames.append(_hstack([labelled(tp, f"truth +{n}  {stamp}", bar),
                               labelled(_enlarge(p, k), f"{method} +{n}", bar),
                               labelled(ep, err_label, bar)]))  # fmt: skip
    return frames


def _hstack(panels: Sequence[np.ndarray], gap: int = SEPARATOR, fill: int = 0) -> np.ndarray:
    h = panels[0].shape[0]
    sep = np.full((h, gap, 3), fill, np.uint8)
    parts: list[np.ndarray] = []
    for i, p in enumerate(panels):
        parts += [sep, p] if i else [p]
    return np.concatenate(parts, axis=1)


def write_side_by_side(
    path: Path | str, context: Sequence[np.ndarray], truth: Sequence[np.ndarray | None],
    pred: Sequence[np.ndarray], times: Sequence[float], frame_rate: Fraction, *,
    method: str = "prediction", crf: int = 18, overwrite: bool = True,
) -> Path:  # fmt: skip
    """Write the side-by-side as .mp4/.mkv/.gif or a PNG folder (see `side_by_side_frames`)."""
    path = Path(path)
    frames = side_by_side_frames(context, truth, pred, times, method=method)
    with VideoWriter(path, frame_rate, crf=crf, overwrite=overwrite) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def strip_image(
    context: Sequence[np.ndarray], truth: Sequence[np.ndarray | None],
    rows: Mapping[str, Sequence[np.ndarray]], *, max_context: int = 4, thumb_width: int = 128,
    titles: Sequence[str] | None = None,
) -> np.ndarray:  # fmt: skip
    """The strip as an RGB uint8 image (see the module docstring).

    Args:
        context: context frames; only the last `max_context` are shown.
        truth: the truth of each future step (None where missing).
        rows: method name -> its predicted frames, one per step.
        thumb_width: width of every cell in pixels (frames are scaled to it).
        titles: the top row's labels, one per shown context frame and truth step (default:
            times relative to the last context frame, "t-1", "t", "t+1 truth", ...).
    """
    if not rows:
        raise ValueError("a strip needs at least one row of predictions")
    steps = len(truth)
    if any(len(p) != steps for p in rows.values()):
        raise ValueError("every row needs one prediction per truth step")
    ctx = list(context)[-max_context:] if max_context else []
    h, w = (ctx or list(next(iter(rows.values()))))[0].shape[:2]
    tw = thumb_width
    th = max(1, round(h * tw / w))
    interp = cv2.INTER_AREA if tw < w else cv2.INTER_NEAREST

    def thumb(image: np.ndarray | None, text: str = "") -> np.ndarray:
        if image is None:
            return _blank((th, tw, 3), text)
        return cv2.resize(image, (tw, th), interpolation=interp)

    bar = 2 * max(8, round(tw / 14))
    white = np.full((th, tw, 3), 255, np.uint8)
    top = [labelled(thumb(f), f"t{i - len(ctx) + 1:+d}" if i < len(ctx) - 1 else "t",
                    bar, dark=False) for i, f in enumerate(ctx)]  # fmt: skip
    top += [labelled(thumb(t, "no truth"), f"t+{n} truth", bar, dark=False)
            for n, t in enumerate(truth, start=1)]  # fmt: skip
    if titles is not None:
        if len(titles) != len(top):
            raise ValueError(f"a strip of {len(top)} columns needs {len(top)} titles")
        top = [labelled(thumb(f), text, bar, dark=False)
               for f, text in zip([*ctx, *truth], titles, strict=True)]  # fmt: skip
    lines = [_row_label("truth", top[0].shape[0]), *top]
    grid = [_hstack(lines, 2, 255)]
    for name, pred in rows.items():
        cells = [labelled(white, "", bar, dark=False) for _ in ctx]
        for t, p in zip(truth, pred, strict=True):
            score = "" if t is None else f"{psnr_u8(t, p):.1f} dB"
            cells.append(labelled(thumb(p), score, bar, dark=False))
        grid.append(_hstack([_row_label(name, cells[0].shape[0]), *cells], 2, 255))
    sep = np.full((2, grid[0].shape[1], 3), 255, np.uint8)
    parts: list[np.ndarray] = []
    for i, g in enumerate(grid):
        parts += [sep, g] if i else [g]
    return np.concatenate(parts, axis=0)


def _row_label(text: str, height: int, width: int = 88) -> np.ndarray:
    cell = np.full((height, width, 3), 255, np.uint8)
    scale = 0.5
    while scale > 0.25 and cv2.getTextSize(text, FONT, scale, 1)[0][0] > width - 4:
        scale *= 0.9
    _text(cell, text, height // 2 + 5, scale, (20, 20, 20))
    return cell


def write_strip(
    path: Path | str, context: Sequence[np.ndarray], truth: Sequence[np.ndarray | None],
    rows: Mapping[str, Sequence[np.ndarray]], *, overwrite: bool = True, **kwargs,
) -> Path:  # fmt: skip
    """Write `strip_image(...)` as a PNG with framepred's mark, atomically."""
    path = Path(path)
    image = strip_image(context, truth, rows, **kwargs)
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_PNG_COMPRESSION, 9])  # fmt: skip
    if not ok:
        raise VideoWriteError(f"cannot encode the strip as PNG: {path}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(mark_png(data.tobytes()))
    return path
