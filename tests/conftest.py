"""Shared test helpers."""

from __future__ import annotations

# ---------------------------------------------------------------------------------------
# Synthetic video for the fill/video/gaps tests (issue 3): tiny clips with known motion,
# written with PyAV at explicit timestamps so they can have holes, VFR jitter and audio.
# ---------------------------------------------------------------------------------------
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np
import pytest

W, H = 64, 48


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory) -> Iterator[Path]:
    """framepred's cache (the registry of written outputs) in a temporary folder, also for
    session fixtures: tests never touch the real home."""
    old = os.environ.get("FRAMEPRED_CACHE")
    cache = tmp_path_factory.mktemp("framepred-cache")
    os.environ["FRAMEPRED_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("FRAMEPRED_CACHE", None)
    else:
        os.environ["FRAMEPRED_CACHE"] = old


@pytest.fixture(autouse=True)
def framepred_cache(tmp_path_factory, monkeypatch) -> Path:
    """A fresh cache folder for each test (outside its tmp_path, so snapshots ignore it)."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("FRAMEPRED_CACHE", str(cache))
    return cache


def moving_scene(i: int, w: int = W, h: int = H, speed: int = 2, seed: int = 0) -> np.ndarray:
    """A smooth textured background with a bright square moving `speed` px/frame to the right."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = seed * 1.7
    bg = np.stack(
        [
            96 + 60 * np.sin(xx / 7 + phase) * np.cos(yy / 9),
            110 + 50 * np.cos(xx / 11 - phase) * np.sin(yy / 6),
            128 + 40 * np.sin((xx + yy) / 13 + phase),
        ],
        axis=2,
    )
    x0 = 4 + speed * i
    bg[14:30, x0 : x0 + 16] = (235, 220, 40) if seed == 0 else (30, 60, 230)
    return np.clip(bg, 0, 255).astype(np.uint8)


def panning_scene(i: int, w: int = W, h: int = H, speed: float = 1.5) -> np.ndarray:
    """The whole picture translates `speed` px/frame: ground truth for flow vs blend."""
    return pan_texture(speed * i, w, h)


def pan_texture(
    shift: float, w: int = W, h: int = H, scales: tuple[float, ...] = (5, 7, 9, 11, 4)
) -> np.ndarray:
    """A smooth colour texture moved `shift` px to the left (sine periods 2 pi x `scales`)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x = xx + shift
    a, b, c, d, e = scales
    img = np.stack(
        [
            128 + 90 * np.sin(x / a) * np.cos(yy / b),
            128 + 80 * np.cos(x / c + yy / d),
            128 + 70 * np.sin(x / e + 1.0),
        ],
        axis=2,
    )
    return np.clip(img, 0, 255).astype(np.uint8)


def write_video(
    path: Path,
    frames: Iterable[tuple[Fraction | float, np.ndarray]],
    *,
    rate: Fraction | int = 25,
    codec: str | None = None,
    end: Fraction | float | None = None,
    audio_seconds: float | None = None,
) -> Path:
    """Write (pts seconds, RGB image) pairs at exactly those timestamps.

    Args:
        codec: default ffv1 (bgr0, lossless) for .mkv and libx264 for .mp4.
        end: declared end of the video stream (the last frame's duration reaches it).
        audio_seconds: add a 440 Hz sine track of this length (AAC in mp4, FLAC in mkv).
    """
    path = Path(path)
    frames = list(frames)
    mp4 = path.suffix == ".mp4"
    codec = codec or ("libx264" if mp4 else "ffv1")
    rate = Fraction(rate)
    tb = Fraction(1, 12800) if mp4 else Fraction(1, 1000)
    h, w = frames[0][1].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height = w, h
        vs.pix_fmt = "yuv420p" if codec == "libx264" else "bgr0"
        vs.time_base = tb
        if audio_seconds:
            sr = 48000
            ac = out.add_stream("aac" if mp4 else "flac", rate=sr)
            ac.layout = "mono"
        vs.codec_context.time_base = tb
        if codec == "libx264":
            vs.options = {"crf": "10", "preset": "ultrafast", "bframes": "0"}
        packets = []
        for t, img in frames:
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = round(Fraction(t) / tb)
            frame.time_base = tb
            packets += vs.encode(frame)
        packets += vs.encode()
        for p in packets:
            p.duration = round(1 / rate / tb)
        if end is not None:
            last = max(packets, key=lambda p: p.pts)
            last.duration = round((Fraction(end) - Fraction(frames[-1][0])) / tb)
        if audio_seconds:
            packets += _sine_packets(ac, audio_seconds)
        # Streams must all exist before the first mux; interleave by time for the muxer.
        packets.sort(key=lambda p: float(p.pts * p.time_base) if p.pts is not None else 0.0)
        for p in packets:
            out.mux(p)
    return path


def _sine_packets(stream, seconds: float, sr: int = 48000) -> list:
    n = int(sr * seconds)
    wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)
    packets = []
    for k in range(0, n, 1024):
        af = av.AudioFrame.from_ndarray(wave[None, k : k + 1024], format="flt", layout="mono")
        af.sample_rate, af.pts = sr, k
        packets += stream.encode(af)
    return packets + stream.encode()


def gappy(
    keep: Iterable[int], scene=moving_scene, rate: int = 25
) -> list[tuple[Fraction, np.ndarray]]:
    """(pts, image) for the kept slots of a clip on a `rate` grid."""
    return [(Fraction(i, rate), scene(i)) for i in keep]


def sha256(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(
            b"".join(sha256(p).encode() for p in sorted(path.iterdir()))
        ).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_all(path: Path):
    from framepred.io.reader import VideoReader

    with VideoReader(path) as reader:
        frames = list(reader)
    return reader.info, frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture
def gappy_mkv(tmp_path: Path) -> Path:
    """30 slots at 25 fps; slots 0-1, 5-7, 12, 13 and 28-29 missing (declared end 1.2 s)."""
    keep = [i for i in range(30) if i not in {0, 1, 5, 6, 7, 12, 13, 28, 29}]
    return write_video(tmp_path / "gappy.mkv", gappy(keep), end=Fraction(30, 25))


# ---------------------------------------------------------------------------------------
# Models and checkpoints (foundation tests): one tiny trained run shared by the session.
# ---------------------------------------------------------------------------------------
import torch  # noqa: E402

if TYPE_CHECKING:
    from framepred.train.config import TrainConfig

# One thread per test process: the suite must not oversubscribe a 2-core machine.
torch.set_num_threads(1)


def tiny_config(out: Path, data: Sequence[str] = ("mmnist",), **fields: Any) -> TrainConfig:
    """The tiny training run the tests share, with `fields` overriding any TrainConfig field.

    The tiny preset of the task (the pixel model on mmnist, the motion model on clips), two
    sequences a step and two to validate on, no validation or checkpoint before step 1000
    unless asked, no progress bar; on clips, 32-pixel crops at one scale. No step budget:
    each test says how many steps it trains (`max_steps`).
    """
    from framepred.train.config import PRESETS, TrainConfig, task_of

    motion = task_of(list(data)) == "motion"
    defaults: dict[str, Any] = dict(
        data=list(data),
        out=out,
        model=dict(PRESETS["motion-tiny" if motion else "tiny"]),
        batch_size=2,
        val_every=1000,
        val_size=2,
        ckpt_every=1000,
        progress=False,
    )
    if motion:
        defaults.update(working=32, scales=(1,))
    return TrainConfig(**{**defaults, **fields})


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A `framepred train` output folder from a few steps of the tiny preset."""
    from framepred.train.fit import train

    out = tmp_path_factory.mktemp("tiny_run")
    train(tiny_config(out, max_steps=6, batch_size=4, val_every=3, val_size=8, ckpt_every=3))
    return out


@pytest.fixture(scope="session")
def tiny_ckpt(tiny_run: Path) -> Path:
    return tiny_run / "checkpoints" / "last.ckpt"
