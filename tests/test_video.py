"""framepred.io.reader: reading with exact timestamps, writing every output kind, errors."""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from conftest import gappy, moving_scene, read_all, write_video

from framepred.errors import VideoOpenError, VideoWriteError
from framepred.io.reader import VideoReader, probe, to_rgb8
from framepred.io.writer import VideoWriter


def test_reader_gives_exact_pts_and_rgb(tmp_path):
    src = write_video(tmp_path / "a.mkv", gappy([0, 1, 4, 5]))
    info, frames = read_all(src)
    assert info.frame_rate == 25 and info.width == 64 and info.height == 48
    assert [f.pts for f in frames] == [Fraction(i, 25) for i in (0, 1, 4, 5)]
    assert all(isinstance(f.pts, Fraction) for f in frames)
    np.testing.assert_array_equal(frames[2].image, moving_scene(4))  # FFV1 bgr0 is lossless


def test_nominal_rate_survives_holes_in_mp4(tmp_path):
    # Only every third frame is stored: the average rate is 10 fps, the grid is still 30000/1001.
    rate = Fraction(30000, 1001)
    src = write_video(
        tmp_path / "a.mp4", [(i / rate, moving_scene(i)) for i in range(0, 15, 3)], rate=rate
    )
    info = probe(src)
    assert info.frame_rate == rate
    _, frames = read_all(src)
    assert [round(f.pts * rate) for f in frames] == [0, 3, 6, 9, 12]


@pytest.mark.parametrize("ext", ["mkv", "", "gif", "mp4"])
def test_writer_round_trip_odd_size(tmp_path, ext):
    images = [moving_scene(i, w=63, h=47) for i in range(4)]
    out = tmp_path / (f"o.{ext}" if ext else "frames")
    with VideoWriter(out, Fraction(25)) as writer:
        for image in images:
            writer.write(image)
    info, frames = read_all(out)
    assert len(frames) == 4
    assert [f.pts for f in frames] == [Fraction(i, 25) for i in range(4)]
    for got, want in zip(frames, images, strict=True):
        crop = got.image[:47, :63]  # mp4 pads odd sizes to even by repeating the edge
        if ext in ("mkv", ""):
            np.testing.assert_array_equal(crop, want)
        else:
            assert np.abs(crop.astype(int) - want).mean() < 6
    assert (info.width, info.height) == ((64, 48) if ext == "mp4" else (63, 47))
    assert not list(tmp_path.glob(".*partial*"))


def test_writer_error_leaves_nothing(tmp_path):
    out = tmp_path / "o.mkv"
    with pytest.raises(VideoWriteError):
        with VideoWriter(out, Fraction(25)) as writer:
            writer.write(moving_scene(0))
            writer.write(moving_scene(0, w=32))  # size change mid-stream
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_unknown_extension(tmp_path):
    with pytest.raises(VideoWriteError, match="unknown output type"):
        VideoWriter(tmp_path / "o.avi", Fraction(25))


def test_audio_and_rotation_carried_over(tmp_path):
    src = write_video(tmp_path / "a.mp4", gappy(range(10)), audio_seconds=0.4)
    out = tmp_path / "o.mp4"
    with VideoWriter(out, Fraction(25), audio_from=src, rotation=90) as writer:
        for i in range(10):
            writer.write(moving_scene(i))
    info = probe(out)
    assert info.has_audio and info.rotation == 90
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"  # stream-copied
        assert abs(float(audio.duration * audio.time_base) - 0.4) < 0.05


def test_folder_input_numbering_gap_and_conversions(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    gray16 = (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 21).astype(np.uint16)
    cv2.imwrite(str(folder / "f_0007.png"), gray16)
    rgba = np.dstack([moving_scene(1)[..., ::-1], np.full((48, 64), 128, np.uint8)])
    cv2.imwrite(str(folder / "f_0008.png"), rgba)
    cv2.imwrite(str(folder / "f_0011.png"), moving_scene(4)[..., ::-1])
    (folder / "notes.txt").write_text("ignored")
    with VideoReader(folder, fps=10) as reader:
        frames = list(reader)
    assert reader.info.frame_rate == 10
    assert [f.pts for f in frames] == [Fraction(0), Fraction(1, 10), Fraction(4, 10)]
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    np.testing.assert_array_equal(frames[0].image[..., 0], to_rgb8(gray16)[..., 0])
    np.testing.assert_array_equal(frames[1].image, moving_scene(1))


def test_ten_bit_and_gray_video_become_rgb8(tmp_path):
    for pix, codec in (("yuv420p10le", "libx264"), ("gray", "ffv1")):
        path = tmp_path / f"{pix}.mkv"
        with av.open(str(path), "w") as c:
            s = c.add_stream(codec, rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, pix
            for i in range(3):
                frame = av.VideoFrame.from_ndarray(moving_scene(i), format="rgb24").reformat(
                    format=pix
                )
                frame.pts = i
                for p in s.encode(frame):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        _, frames = read_all(path)
        assert len(frames) == 3 and frames[0].image.dtype == np.uint8
        assert frames[0].image.shape == (48, 64, 3)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty"),
        (lambda p: (p.write_text("hello, not a video\n" * 20), p)[1], "not a readable video"),
    ],
)
def test_open_errors_are_one_line(tmp_path, make, message):
    path = make(tmp_path / "x.mp4")
    with pytest.raises(VideoOpenError, match=message) as err:
        probe(path)
    assert "\n" not in str(err.value)


def test_truncated_file_yields_frames_up_to_damage(tmp_path, caplog):
    src = write_video(tmp_path / "a.mkv", gappy(range(20)))
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING):
        _, frames = read_all(cut)
    assert 3 <= len(frames) < 20
    for f in frames:
        np.testing.assert_array_equal(f.image, moving_scene(round(f.pts * 25)))
