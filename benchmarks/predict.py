"""Prediction benchmark (DESIGN.md): 10 context frames -> the next 5, on real clips.

Windows of 15 consecutive frames are cut from each clip at evenly spaced starts (scene cuts
skipped: a window with a scene cut, `framepred.gaps.has_scene_cut`, is not used); every forecaster
predicts frames 11-15 from frames 1-10 and PSNR (8-bit RGB) is taken per predicted step.
Baselines in the same run: copy-last-frame and flow extrapolation (DIS velocity of the last
two frames, splatted forward). `--model` adds a learned forecaster (a checkpoint path or
built-in name) and `model+guard`, what `predict` does with it by default (back-tested against
flow extrapolation on the context, `framepred.guard.ForecastGuard`); `--plot` draws PSNR per
step.

    python -m benchmarks.predict [CLIP ...] [--model PATH] [--windows 8] [--max-side 640]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.clips import CLIPS
from framepred.eval.metrics import psnr_u8
from framepred.gaps import has_scene_cut
from framepred.guard import ForecastGuard
from framepred.io.reader import VideoReader
from framepred.predict.forecasters import get_forecaster

CONTEXT, HORIZON = 10, 5


def read_frames(path: Path, max_side: int, limit: int) -> list[np.ndarray]:
    frames = []
    with VideoReader(path) as reader:
        for frame in reader:
            img = frame.image
            h, w = img.shape[:2]
            if max(h, w) > max_side:
                s = max_side / max(h, w)
                img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            frames.append(img)
            if len(frames) >= limit:
                break
    return frames


def windows(frames: list[np.ndarray], n: int) -> list[np.ndarray]:
    """Up to n windows of CONTEXT + HORIZON frames, evenly spaced, none across a cut."""
    span = CONTEXT + HORIZON
    starts = np.linspace(0, len(frames) - span, num=max(1, n)).astype(int)
    out = []
    for s in sorted(set(starts.tolist())):
        win = frames[s : s + span]
        if has_scene_cut(win):
            continue  # a scene cut inside the window
        out.append(np.stack(win))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path, default=CLIPS)
    ap.add_argument("--model", default=None, help="a learned forecaster: checkpoint or name")
    ap.add_argument("--windows", type=int, default=8, help="windows per clip")
    ap.add_argument("--max-side", type=int, default=640, help="frames are scaled to this")
    ap.add_argument("--max-frames", type=int, default=300, help="frames read per clip")
    ap.add_argument("--plot", type=Path, default=None, help="write PSNR per step as a PNG")
    args = ap.parse_args()

    methods = ["copy-last", "flow"] + (["model", "model+guard"] if args.model else [])
    forecasters = {m: get_forecaster(m, model=args.model, device="cpu") for m in methods[:3]}
    if args.model:
        forecasters["model+guard"] = ForecastGuard(forecasters["model"])
    scores = {m: np.zeros(HORIZON) for m in methods}
    seconds = dict.fromkeys(methods, 0.0)
    count = 0
    print(f"{'clip':24s} {'method':10s} " + " ".join(f"step{k + 1:>2d}" for k in range(HORIZON))
          + "   mean")  # fmt: skip
    for clip in args.clips:
        frames = read_frames(clip, args.max_side, args.max_frames)
        wins = windows(frames, args.windows)
        if not wins:
            print(f"{clip.name}: too short or all windows cross a cut; skipped")
            continue
        for m in methods:
            per = np.zeros(HORIZON)
            for win in wins:
                t0 = time.perf_counter()
                pred = forecasters[m].predict(win[:CONTEXT], HORIZON)
                seconds[m] += time.perf_counter() - t0
                per += [psnr_u8(p, t) for p, t in zip(pred, win[CONTEXT:], strict=True)]
            per /= len(wins)
            scores[m] += per * len(wins)
            print(f"{clip.name:24s} {m:10s} " + " ".join(f"{v:6.2f}" for v in per)
                  + f" {per.mean():6.2f}")  # fmt: skip
        count += len(wins)
    print(f"\nall clips ({count} windows), mean PSNR per step (dB):")
    for m in methods:
        mean = scores[m] / max(count, 1)
        ms = 1000 * seconds[m] / max(count * HORIZON, 1)
        print(f"  {m:10s} " + " ".join(f"{v:6.2f}" for v in mean)
              + f"  mean {mean.mean():6.2f}   {ms:7.1f} ms/frame")  # fmt: skip
    if args.model:
        for m in ("model", "model+guard"):
            gain = (scores[m] - scores["flow"]).mean() / max(count, 1)
            print(f"  {m} - flow extrapolation: {gain:+.2f} dB")
    if args.plot:
        from framepred.eval.plots import _figure, _save

        fig, (ax,) = _figure(1)
        for m in methods:
            ax.plot(range(1, HORIZON + 1), scores[m] / max(count, 1), marker="o", label=m)
        ax.set_xlabel("predicted step")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(f"10 -> 5 prediction, {count} windows")
        ax.legend()
        _save(fig, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
