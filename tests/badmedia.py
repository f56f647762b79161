"""A corpus of bad and unusual inputs, generated on the spot (never downloaded).

Each maker takes a folder and returns the path of one input: a file or an image folder.
`tests/test_bad_inputs.py` runs `framepred info` and `framepred fill` on every one.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from conftest import gappy, moving_scene, write_video

from framepred.io.writer import ffmpeg_exe

RATE = 25


def empty_file(d: Path) -> Path:
    path = d / "empty.mp4"
    path.write_bytes(b"")
    return path


def random_bytes(d: Path) -> Path:
    path = d / "noise.mp4"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, np.uint8).tobytes())
    return path


def _mp4(d: Path, name: str, n: int = 12, faststart: bool = False) -> Path:
    path = write_video(d / name, gappy(range(n)))
    if faststart:  # move the moov atom (the index) in front of the frame data
        moved = d / f"fs_{name}"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-c", "copy",
                        "-movflags", "+faststart", str(moved)], check=True)  # fmt: skip
        moved.replace(path)
    return path


def mp4_without_moov(d: Path) -> Path:
    """An MP4 cut before its index: PyAV's muxer writes `moov` last, so drop the tail."""
    path = _mp4(d, "nomoov.mp4")
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"moov") - 4])
    return path


def mp4_cut_mid_stream(d: Path) -> Path:
    """Index first (faststart), then frame data cut in the middle: the tail frames are lost."""
    path = _mp4(d, "midcut.mp4", n=20, faststart=True)
    data = path.read_bytes()
    mdat = data.index(b"mdat")
    path.write_bytes(data[: mdat + (len(data) - mdat) // 2])
    return path


def audio_only(d: Path) -> Path:
    path = d / "audio.m4a"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=0.5",
                    "-c:a", "aac", str(path)], check=True)  # fmt: skip
    return path


def single_frame(d: Path) -> Path:
    return write_video(d / "one.mp4", gappy([0]))


def _tiny(d: Path, w: int, h: int) -> Path:
    keep = [0, 1, 2, 5, 6]  # slots 3-4 missing
    return write_video(
        d / f"tiny{w}x{h}.mkv", [(Fraction(i, RATE), moving_scene(i, w, h)) for i in keep]
    )


def one_by_one(d: Path) -> Path:
    return _tiny(d, 1, 1)


def seven_by_five(d: Path) -> Path:
    return _tiny(d, 7, 5)


def png16_folder_with_gap(d: Path) -> Path:
    folder = d / "png16"
    folder.mkdir()
    for n in (1, 2, 3, 6, 7):  # 4 and 5 missing
        cv2.imwrite(
            str(folder / f"frame_{n:04d}.png"), moving_scene(n)[..., ::-1].astype(np.uint16) * 257
        )
    return folder


def mixed_size_folder(d: Path) -> Path:
    folder = d / "mixed"
    folder.mkdir()
    for n in range(4):
        w = 64 if n != 2 else 32
        cv2.imwrite(str(folder / f"f{n:03d}.png"), moving_scene(n, w=w)[..., ::-1])
    return folder


def _encode(path: Path, pix_fmt: str, codec: str, images: list[np.ndarray], fmt: str) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=RATE)
        stream.width, stream.height, stream.pix_fmt = (
            images[0].shape[1],
            images[0].shape[0],
            pix_fmt,
        )
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format=fmt)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def grayscale(d: Path) -> Path:
    images = [cv2.cvtColor(moving_scene(i), cv2.COLOR_RGB2GRAY) for i in range(6)]
    return _encode(d / "gray.mkv", "gray", "ffv1", images, "gray")


def with_alpha(d: Path) -> Path:
    images = [
        np.dstack([moving_scene(i), np.full((48, 64), 100 + 20 * i, np.uint8)]) for i in range(6)
    ]
    return _encode(d / "alpha.mkv", "bgra", "ffv1", images, "rgba")


def rotated(d: Path) -> Path:
    """H.264 in MP4 with a display matrix saying: rotate 90 degrees to show."""
    path = d / "rotated.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "10"}
        stream.set_display_rotation(90)
        for i in (0, 1, 2, 4, 5):
            frame = av.VideoFrame.from_ndarray(moving_scene(i), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, RATE)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def slow_motion(d: Path, rate: int = 1000, n: int = 24) -> Path:
    """`n` frames at `rate` fps (phone slow motion is 240-960): rates above 240 were once
    taken as unknown (25 fps), and the frames collapsed onto a few slots."""
    path = d / f"slowmo{rate}.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = Fraction(1, rate)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(moving_scene(i, 32, 32), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def vfr_jitter(d: Path) -> Path:
    """Frames at irregular times: jitter of +-0.3 interval, two frames in one slot, a hole."""
    steps = [0, 1.3, 1.8, 3.0, 3.7, 4.2, 7.1, 8.0, 8.9, 10.2]
    return write_video(d / "vfr.mkv", [(Fraction(s).limit_denominator(100) / RATE, moving_scene(k))
                                      for k, s in enumerate(steps)])  # fmt: skip


def timestamps_backwards(d: Path) -> Path:
    """Two MPEG-TS recordings joined byte for byte: the clock jumps back at the join."""
    a = write_video(d / "a.mkv", gappy(range(8)))
    b = write_video(d / "b.mkv", gappy(range(8), scene=lambda i: moving_scene(i, seed=1)))
    parts = []
    for src in (a, b):
        ts = src.with_suffix(".ts")
        subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(src), "-c:v", "libx264",
                        "-preset", "ultrafast", "-bf", "0", "-muxdelay", "0", str(ts)], check=True)  # fmt: skip
        parts.append(ts.read_bytes())
        src.unlink()
        ts.unlink()
    path = d / "joined.ts"
    path.write_bytes(b"".join(parts))
    return path


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png_folder(d: Path) -> Path:
    """A PNG whose header declares 60000 x 60000 pixels (10.8 GB as RGB) over a few bytes."""
    folder = d / "huge"
    folder.mkdir()
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
    png += _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b"")
    (folder / "f0001.png").write_bytes(png)
    (folder / "f0002.png").write_bytes(png)
    return folder


def huge_frame_size_mkv(d: Path) -> Path:
    """A Matroska header that declares 16000 x 16000 frames (768 MB each) over 256 x 256 data.

    FFmpeg accepts the size and FFV1 decodes it: without a limit this takes ~4 GB and 16 s.
    """
    path = _encode(d / "hugesize.mkv", "bgr0", "ffv1",
                   [moving_scene(i, 256, 256) for i in range(2)], "rgb24")  # fmt: skip
    data = path.read_bytes()
    for element in (b"\xb0\x82\x01\x00", b"\xba\x82\x01\x00"):  # PixelWidth/Height = 256
        assert data.count(element) == 1
        data = data.replace(element, element[:2] + (16000).to_bytes(2, "big"))
    path.write_bytes(data)
    return path


def huge_declared_duration(d: Path) -> Path:
    """Six frames, but the stream declares it lasts ten hours."""
    return write_video(d / "longtail.mkv", gappy(range(6)), end=Fraction(36000))


def odd_path(d: Path) -> Path:
    """Non-ASCII and spaces in every part of the path."""
    folder = d / "vidéos d'été 日本"
    folder.mkdir()
    return write_video(folder / "clip ü 1.mkv", gappy([0, 1, 3, 4]))
