"""The fill guard's price and the precision default, in memory (no video I/O timed).

For each clip and pattern (`x2`, `gap3` as `benchmarks/fill.py` drops them; frames scaled to
at most 640 px wide), the dropped frames are synthesized by the network alone and by the
guard (`framepred.guard.Guard`), each at `--precision 32` and `auto`, as `fill` asks for them
(context, spacing, the known frames' slots). Printed: PSNR on the dropped frames (3
decimals), synthesis frames per CPU second of this process (`time.process_time`, best of
`--passes` passes: a busy, shared machine barely moves it; run with one thread,
OMP_NUM_THREADS=1, it is the synthesis time alone), and the guard's choice per shot.

    python -m benchmarks.guard_check CLIP [CLIP ...] [--max-frames 40] [--passes 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.fill import PATTERNS
from framepred.eval.metrics import psnr_u8
from framepred.guard import Guard
from framepred.io.reader import VideoReader
from framepred.synth.base import Synthesizer, context_spacing
from framepred.synth.methods import make_synthesizer


def read(path: Path, limit: int, width: int = 640) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        frames = [f.image for f in reader][:limit]
    h, w = frames[0].shape[:2]
    if w <= width:
        return frames
    size = (width, round(h * width / w / 2) * 2)
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def fill_gaps(synth: Synthesizer, frames: list[np.ndarray], keep: list[int]):
    """The dropped frames as `fill` makes them, and the CPU seconds spent in the synthesizer."""
    out: dict[int, np.ndarray] = {}
    seconds = 0.0
    for a, b in zip(keep, keep[1:], strict=False):
        if b - a < 2:
            continue
        sb, sa = [k for k in keep if k <= a][-synth.context :], [k for k in keep if k >= b]
        sa = sa[: synth.context]
        t0 = time.process_time()
        if isinstance(synth, Guard):
            synth.locate(sb, sa, a + 1, b - 1)
        made = synth.fill_run([frames[k] for k in sb], [frames[k] for k in sa], b - a - 1,
                              context_spacing(sb, sa))  # fmt: skip
        out.update(zip(range(a + 1, b), made, strict=True))
        seconds += time.process_time() - t0
    return out, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    nets = {p: make_synthesizer("model", precision=p) for p in ("32", "auto")}
    print("| clip | pattern | method | precision | PSNR (dB) | synth/CPU s | guard's choice |")
    print("|---|---|---|---|---:|---:|---|")
    for clip in args.clips:
        frames = read(clip, args.max_frames)
        for pattern, kept in PATTERNS.items():
            n = max(i for i in range(len(frames)) if kept(i)) + 1
            keep = [i for i in range(n) if kept(i)]
            rates: dict[tuple[str, str], float] = {}
            scores: dict[tuple[str, str], float] = {}
            choice = ""
            for _ in range(args.passes):
                for method in ("model", "guard"):
                    for p, net in nets.items():
                        synth = Guard(net.fork()) if method == "guard" else net.fork()
                        out, seconds = fill_gaps(synth, frames[:n], keep)
                        rates[(method, p)] = max(rates.get((method, p), 0.0), len(out) / seconds)
                        mse = np.mean([10 ** (-psnr_u8(out[i], frames[i]) / 10) for i in out])
                        scores[(method, p)] = -10 * np.log10(mse)
                        if isinstance(synth, Guard):
                            choice = ", ".join(s.choice for s in synth.shots)
            for (method, p), rate in rates.items():
                shown = choice if method == "guard" else ""
                print(f"| {clip.stem} | {pattern} | {method} | {p} | {scores[(method, p)]:.3f} | "
                      f"{rate:.2f} | {shown} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
