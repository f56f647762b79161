"""Does `--adapt` help on the frames it fills? The model before and after adaptation, scored on
the dropped frames of `x2` and `gap3` (not on the held-out known frames adaptation checks
itself on), with and without zooming out (see `framepred.adapt.adapt`).

Each gap is filled by calling the synthesizer directly with the two kept frames on each
side (`benchmarks/fill_models.score_gaps`); adaptation sees only the kept frames.

    python benchmarks/adapt_check.py /tmp/ocv/clean/cup.mp4 --max-frames 150 --steps 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fill import PATTERNS  # noqa: E402
from benchmarks.fill_models import score_gaps  # noqa: E402
from framepred.adapt import adapt  # noqa: E402
from framepred.fill import make_synthesizer  # noqa: E402
from framepred.io.reader import VideoReader  # noqa: E402
from framepred.synth.classical import Flow, Synthesizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--model", default="default")
    ap.add_argument("--max-frames", type=int, default=150)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    args = ap.parse_args()
    with VideoReader(args.clip) as reader:
        frames = [f.image for _, f in zip(range(args.max_frames), reader, strict=False)]
    model = make_synthesizer("model", args.model)
    print(f"{args.clip.stem}: {len(frames)} frames, {args.steps} steps at lr {args.lr:g}")
    for pattern in args.patterns.split(","):
        keep = [i for i in range(len(frames)) if PATTERNS[pattern](i)]
        synths: dict[str, Synthesizer] = {"flow": Flow(), "model": model}
        for zoom in (False, True):
            t0 = time.perf_counter()
            net, res = adapt(model.net, [frames[i] for i in keep], args.steps, lr=args.lr,
                             slots=keep, progress=False, zoom=zoom)  # fmt: skip
            adapted = model.fork()
            adapted.net = net
            name = "adapt+zoom" if zoom else "adapt"
            synths[name] = adapted
            print(f"  {pattern} {name}: {res.summary()} [{time.perf_counter() - t0:.0f} s]")
        cells = "  ".join(f"{k} {v:.2f}" for k, v in score_gaps(synths, frames, keep).items())
        print(f"{pattern}: dropped-frame PSNR (dB)  {cells}", flush=True)


if __name__ == "__main__":
    main()
