"""Frame-rate conversion by a ratio that is not a whole number (`fill --fps`), scored on real
clips against the frames that really were there.

Each clip (R fps) is cut to every third frame, written losslessly as an R/3 fps video, and
converted to R/2 fps (a ratio of 3/2, as 20 -> 30 or 16 -> 24): output frame k then lies at
the clip's frame 2k, so it has ground truth. Every third output frame falls on a source frame
and is kept; the others lie a third or two thirds of the way between two source frames and
are synthesized at that time (`--every N --out-every M` for another ratio N/M, e.g. 5 and 2
for 5/2, as 24 -> 60; the picture is drawn for 3/2 only). PSNR/SSIM (8-bit RGB) over those, for each method through
`fill_video`, and FFmpeg's `minterpolate` converting the same file in the same run. The
frames after the last source frame (held, with no truth to make) are not scored, nor
any that one method did not make (minterpolate may stop a frame short).

    python -m benchmarks.retime [CLIP ...] [--max-frames 91] [--size 640x360] [--methods ...]
        [--strip samples/retime_strip.png --strip-clip bigbuckbunny.mp4 --strip-at 42]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from benchmarks.clips import CLIPS
from benchmarks.fill import MINTERPOLATE, read_slots, write_gappy
from framepred.eval.compare import write_strip
from framepred.eval.metrics import psnr_u8, ssim_u8
from framepred.fill import fill_video
from framepred.io.reader import VideoReader
from framepred.io.writer import ffmpeg_exe


def load(clip: Path, max_frames: int, size: str | None) -> tuple[list[np.ndarray], Fraction]:
    frames = []
    with VideoReader(clip) as reader:
        rate = reader.info.frame_rate
        for f in reader:
            image = f.image
            if size:
                w, h = (int(v) for v in size.split("x"))
                image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            frames.append(image)
            if len(frames) >= max_frames:
                break
    return frames, rate


def convert(method: str, src: Path, out: Path, rate: Fraction) -> None:
    if method == "minterpolate":
        cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src), "-vf",
               f"minterpolate=fps={rate.numerator}/{rate.denominator}:{MINTERPOLATE}",
               "-c:v", "ffv1", "-pix_fmt", "bgr0", str(out)]  # fmt: skip
        subprocess.run(cmd, check=True)
    else:
        fill_video(src, out, method=method, fps=rate, progress=False)


def strip(path: Path, frames: list[np.ndarray], made: dict, at: int) -> None:
    """Source frames `at`, `at` + 3, `at` + 6 of the clip (0, 1, 2 of the R/3 fps video) and
    the two output frames between them, 2/3 of the way from 0 to 1 and 1/3 from 1 to 2 (the
    clip's frames `at` + 2 and `at` + 4: the truth), with each method's frames and PSNR."""
    if at % 6:
        raise SystemExit("--strip-at must be a multiple of 6 (a source frame on an output one)")
    k = at // 2  # the output frame on source frame 0
    rows = {m: [got[k + 1], got[k + 2]] for m, got in made.items()}
    titles = ["source 0", "source 1", "source 2", "2/3 of 0->1", "1/3 of 1->2"]
    write_strip(path, [frames[at], frames[at + 3], frames[at + 6]],
                [frames[at + 2], frames[at + 4]], rows, max_context=3, thumb_width=200,
                titles=titles)  # fmt: skip
    print(f"wrote {path}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path, default=CLIPS)
    ap.add_argument("--max-frames", type=int, default=91)
    ap.add_argument("--size", default=None, help="WxH to scale the clips to (default: native)")
    ap.add_argument("--methods", default="repeat,blend,flow,minterpolate,model")
    ap.add_argument("--every", type=int, default=3, help="keep every N-th frame as the source")
    ap.add_argument("--out-every", type=int, default=2,
                    help="convert to the rate of every M-th frame (ratio N/M; not a multiple)")  # fmt: skip
    ap.add_argument("--strip", type=Path, default=None,
                    help="write a picture of one clip's output frames here (PNG)")  # fmt: skip
    ap.add_argument("--strip-clip", default="bigbuckbunny.mp4",
                    help="the clip (file name) the picture shows; default the first")  # fmt: skip
    ap.add_argument("--strip-at", type=int, default=42,
                    help="the clip's frame (a multiple of 6) where the picture starts")  # fmt: skip
    args = ap.parse_args()
    if args.every % args.out_every == 0:
        raise SystemExit("--every N over --out-every M must not be a whole number")
    methods = args.methods.split(",")
    scores: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    print(
        "| clip | method | mean PSNR (dB) | mean SSIM | frames scored |\n|---|---|---:|---:|---:|"
    )
    for clip in args.clips:
        frames, rate = load(clip, args.max_frames, args.size)
        n, m = args.every, args.out_every
        source = frames[::n]
        last = n * (len(source) - 1)  # the clip's index of the last source frame
        scored = [k for k in range(len(frames)) if m * k <= last and (m * k) % n]
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src.mkv"
            write_gappy(src, source, list(range(len(source))), rate / n)
            made = {}
            for method in methods:
                out = Path(tmp) / f"{method}.mkv"
                convert(method, src, out, rate / m)
                made[method] = read_slots(out, rate / m)
        names = [c.name for c in args.clips]
        shown = args.strip_clip if args.strip_clip in names else names[0]
        if args.strip and clip.name == shown and (n, m) == (3, 2):
            strip(args.strip, frames, made, args.strip_at)
        # minterpolate may stop a frame short: every method is scored on the frames all made
        common = [k for k in scored if all(k in got for got in made.values())]
        for method, got in made.items():
            p = float(np.mean([psnr_u8(frames[m * k], got[k]) for k in common]))
            s = float(np.mean([ssim_u8(frames[m * k], got[k]) for k in common]))
            scores[method].append((p, s))
            print(f"| {clip.name} ({rate / n} -> {rate / m} fps) | {method} | {p:.2f} | "
                  f"{s:.4f} | {len(common)} of {len(scored)} |", flush=True)  # fmt: skip
    print(f"\nratio {args.every}/{args.out_every}, {args.max_frames} frames of each clip, "
          f"size {args.size or 'native'}\n\n| method | mean PSNR (dB) | mean SSIM |\n|---|---:|---:|")  # fmt: skip
    for method, rows in scores.items():
        print(f"| {method} | {np.mean([r[0] for r in rows]):.2f} | "
              f"{np.mean([r[1] for r in rows]):.4f} |")  # fmt: skip
    if "model" in scores:
        mean = {m: np.mean([r[0] for r in rows]) for m, rows in scores.items()}
        for other in (m for m in mean if m != "model"):
            print(f"model - {other}: {mean['model'] - mean[other]:+.2f} dB")


if __name__ == "__main__":
    main()
