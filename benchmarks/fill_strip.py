"""A picture of one filled gap: truth next to blend, flow and the learned model.

Two frames are kept, the next three hidden (the `gap3` pattern), and every method fills the
three from the frames around them (the full frames; the picture shows a crop). Each cell is
labelled with its PSNR against the truth.

    python -m benchmarks.fill_strip CLIP --start 40 --out samples/fill_strip.png [--model PATH]
        [--ensemble N]     # also a row for the model's self-ensemble of N views (fill --ensemble N)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from framepred.eval.compare import write_strip
from framepred.io.reader import VideoReader
from framepred.synth.base import context_spacing
from framepred.synth.ensemble import SIZES, SelfEnsemble
from framepred.synth.methods import make_synthesizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--start", type=int, default=40, help="first hidden frame")
    ap.add_argument("--gap", type=int, default=3, help="hidden frames")
    ap.add_argument("--model", default=None, help="checkpoint or built-in name (default: default)")
    ap.add_argument("--crop", default=None, help="x,y,w,h of the region shown")
    ap.add_argument("--width", type=int, default=240, help="width of each cell")
    ap.add_argument("--ensemble", type=int, default=1, choices=SIZES,
                    help="also show the model's self-ensemble of N views")  # fmt: skip
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    lo, hi = args.start - 2, args.start + args.gap + 2  # two known frames on each side
    with VideoReader(args.clip) as reader:
        frames = [f.image for i, f in zip(range(hi), reader, strict=False) if i >= lo]
    before, hidden, after = frames[:2], frames[2 : 2 + args.gap], frames[2 + args.gap :]
    rows = {}
    spacing = context_spacing([lo, lo + 1], [hi - 2, hi - 1])  # known: lo, lo + 1 | gap | 2
    for method in ("blend", "flow", "model"):
        synth = make_synthesizer(method, args.model, "cpu")
        rows[method] = list(synth.fill_run(before, after, args.gap, spacing))
    if args.ensemble > 1:  # the model just used, its network shared
        synth = SelfEnsemble(synth.fork(), args.ensemble)
        rows[f"model+ens{args.ensemble}"] = list(synth.fill_run(before, after, args.gap, spacing))

    def crop(images):
        if not args.crop:
            return images
        x, y, w, h = (int(v) for v in args.crop.split(","))
        return [im[y : y + h, x : x + w] for im in images]

    write_strip(
        args.out,
        crop(before),
        crop(hidden),
        {name: crop(pred) for name, pred in rows.items()},
        max_context=2,
        thumb_width=args.width,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
