"""Streaming video input with exact timestamps. One frame format at the boundary: RGB uint8 HWC.

`VideoReader` streams `Frame(image, pts)` from any file FFmpeg (PyAV) reads or from a folder of
numbered images; `pts` is an exact `Fraction` of seconds. Writing lives in `video_writer.py`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.container import InputContainer

from framepred.errors import VideoOpenError

log = logging.getLogger(__name__)

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
VIDEO_EXTS = {".mp4", ".mkv", ".gif"}
DEFAULT_FOLDER_FPS = Fraction(25)
# A container's frame rate is trusted up to this (phone slow motion is 240, 480 and 960
# fps); above it, or when absent, the rate comes from the frames' own timestamps. A rate
# above CHECKED_FPS is trusted only if the frames come about that fast: variable-rate WebM
# and Matroska files often state their 1000 Hz clock as their rate.
MAX_TRUSTED_FPS = 1000
CHECKED_FPS = 240
# --fps may ask for at most this many output frames per frame of the video's own rate:
# a finer grid is almost all synthesized frames (and --fps 1e9 would never finish).
MAX_FPS_RATIO = 16
# Containers whose timestamps do not start at zero by convention (broadcast streams).
OFFSET_FORMATS = {"mpegts", "mpeg", "mpegvideo", "vob", "m2ts"}
# Audio codecs an MP4 file may hold as they are; anything else is re-encoded to AAC.
# Larger frames are refused before anything is decoded: a header may declare any size, and
# one RGB frame of 16000 x 16000 is 768 MB. 2**26 pixels is 8192 x 8192 (8K fits).
MAX_PIXELS = 1 << 26


@dataclass(frozen=True)
class VideoInfo:
    """Stream facts for a video file or an image folder."""

    path: Path
    width: int
    height: int
    frame_rate: Fraction  # nominal frames per second: the grid that `fill` writes
    time_base: Fraction | None  # unit of the stored timestamps (None for image folders)
    start: Fraction  # seconds at slot 0 of the grid
    end: Fraction | None  # declared end of the video stream in seconds, if the file says
    n_frames: int | None  # frames stored (None when the container does not say)
    codec: str
    pix_fmt: str
    has_audio: bool
    rotation: int  # degrees, counter-clockwise display rotation stored in the file
    is_folder: bool = False
    source_rate: Fraction | None = None  # the file's own nominal rate where `fps` overrides it

    @property
    def interval(self) -> Fraction:
        return 1 / self.frame_rate

    @property
    def duration(self) -> float | None:
        return None if self.end is None else float(self.end - self.start)


@dataclass(frozen=True)
class Frame:
    """One decoded frame: RGB uint8 (H, W, 3) and its presentation time in seconds."""

    image: np.ndarray
    pts: Fraction


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Any gray/RGB/RGBA image of 8 or 16 bits (OpenCV's BGR order) -> RGB uint8 (H, W, 3)."""
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise VideoOpenError(f"unsupported image sample type {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2))
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)  # alpha is dropped, not composited
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _frame_number(path: Path) -> int | None:
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else None


def _numbered_images(folder: Path) -> list[tuple[int, Path]]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS]
    numbered = [(n, p) for p in files if (n := _frame_number(p)) is not None]
    if not numbered:
        raise VideoOpenError(f"no numbered images (png/jpg/tif) in folder: {folder}")
    numbered.sort()
    for (a, pa), (b, pb) in zip(numbered, numbered[1:], strict=False):
        if a == b:
            raise VideoOpenError(f"two images share frame number {a}: {pa.name}, {pb.name}")
    return numbered


def _read_image(path: Path) -> np.ndarray:
    try:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # OpenCV asserts on some damaged or oversized files instead of failing
        image = None
    if image is None:
        raise VideoOpenError(f"cannot read image: {path}")
    return to_rgb8(image)


def check_frame_size(width: int, height: int, path: Path) -> None:
    """Refuse frame sizes that are empty or larger than `MAX_PIXELS`, before decoding."""
    if width <= 0 or height <= 0:
        raise VideoOpenError(f"video stream has no valid frame size: {path}")
    if width * height > MAX_PIXELS:
        raise VideoOpenError(
            f"frame size {width}x{height} is too large (at most {MAX_PIXELS // 1_000_000} "
            f"megapixels): {path}"
        )


def _image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from an image file's header, or None when Pillow cannot tell."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                return image.size
        except Image.DecompressionBombError:
            raise VideoOpenError(
                f"image is too large (more than {MAX_PIXELS // 1_000_000} megapixels): {path}"
            ) from None
        except (OSError, ValueError, SyntaxError):
            return None  # let OpenCV try (and fail with one line) when the frame is read


def _check_folder_sizes(numbered: list[tuple[int, Path]]) -> None:
    """Every image of a folder has the first one's size, within the limit (headers only)."""
    first: tuple[int, int] | None = None
    for _, path in numbered:
        size = _image_size(path)
        if size is None:
            continue
        check_frame_size(*size, path)
        if first is None:
            first = size
        elif size != first:
            raise VideoOpenError(
                f"image size differs from the first image's ({size[0]}x{size[1]} vs "
                f"{first[0]}x{first[1]}): {path}"
            )


def probe(path: Path | str, fps: Fraction | float | None = None) -> VideoInfo:
    """Stream facts without decoding the whole video. `fps` overrides the nominal frame rate."""
    path = Path(path)
    override = Fraction(fps).limit_denominator(1001000) if fps else None
    if override is not None and override <= 0:
        raise VideoOpenError(f"frame rate must be positive, got {fps}")
    if path.is_dir():
        numbered = _numbered_images(path)
        _check_folder_sizes(numbered)
        first = _read_image(numbered[0][1])
        rate = override or DEFAULT_FOLDER_FPS
        span = numbered[-1][0] - numbered[0][0] + 1
        return VideoInfo(path, first.shape[1], first.shape[0], rate, None, Fraction(0),
                         Fraction(span) / rate, len(numbered), numbered[0][1].suffix[1:].lower(),
                         "rgb24", False, 0, is_folder=True)  # fmt: skip
    with _open_container(path) as container:
        return _probe_container(path, container, override)


def _open_container(path: Path) -> InputContainer:
    if not path.exists():
        raise VideoOpenError(f"no such file or folder: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise VideoOpenError(f"file is empty: {path}")
    try:
        return av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise VideoOpenError(f"not a readable video: {path} ({_short(err)})") from None


def _short(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text)[:120]


def _time_base(stream: Any, path: Path) -> Fraction:
    if not stream.time_base:
        raise VideoOpenError(f"video stream has no time base: {path}")
    return Fraction(stream.time_base)


def _reason(err: Exception) -> str:
    """An OS error's own words ("No space left on device") without the temporary path."""
    strerror = getattr(err, "strerror", None)
    return strerror if isinstance(strerror, str) and strerror else _short(err)


def _probe_container(path: Path, container, override: Fraction | None) -> VideoInfo:
    if not container.streams.video:
        raise VideoOpenError(f"no video stream in file: {path}")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    check_frame_size(ctx.width or 0, ctx.height or 0, path)
    nominal = _nominal_rate(stream, path)
    check_fps(override, nominal)
    rate = override or nominal
    tb = Fraction(stream.time_base) if stream.time_base else None
    first = (
        Fraction(stream.start_time) * tb if stream.start_time is not None and tb else Fraction(0)
    )
    fmt = set(container.format.name.split(","))
    start = first if (fmt & OFFSET_FORMATS or first < 0) else Fraction(0)
    end = None
    if stream.duration and tb:
        end = first + Fraction(stream.duration) * tb
    elif "DURATION" in stream.metadata:  # Matroska keeps each track's length as a tag
        clock = _parse_clock(stream.metadata["DURATION"])
        end = clock  # the tag holds the end time (last timestamp + duration), not a length
    elif container.duration and not container.streams.audio:
        end = Fraction(container.duration, 1_000_000)
    rotation = _first_frame_rotation(container, stream)
    return VideoInfo(path, ctx.width, ctx.height, rate, tb, start, end, stream.frames or None,
                     ctx.name, ctx.pix_fmt or "unknown", bool(container.streams.audio), rotation,
                     source_rate=_stream_rate(stream) if override is not None else None)  # fmt: skip


def _parse_clock(text: str) -> Fraction | None:
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", text.strip())
    if not match:
        return None
    return Fraction(int(match[1]) * 3600 + int(match[2]) * 60) + Fraction(match[3])


def _first_frame_rotation(container, stream) -> int:
    # FFmpeg keeps the display matrix as side data; decoded frames expose it as `rotation`.
    try:
        for frame in container.decode(stream):
            return int(getattr(frame, "rotation", 0) or 0)
    except (av.FFmpegError, ValueError):
        pass
    return 0


def check_fps(fps: Fraction | None, own: Fraction) -> None:
    """Refuse an --fps grid more than `MAX_FPS_RATIO` times finer than the video's `own`."""
    if fps is not None and fps > MAX_FPS_RATIO * own:
        raise VideoOpenError(
            f"--fps {float(fps):g} is more than {MAX_FPS_RATIO}x the video's own "
            f"{float(own):g} fps; at most {float(MAX_FPS_RATIO * own):g} fps"
        )


def _stream_rate(stream) -> Fraction | None:
    # r_frame_rate (base_rate) is FFmpeg's guess of the grid every timestamp sits on; it
    # survives holes in the timestamps, unlike the average rate. None when all are absurd.
    for rate in (stream.base_rate, stream.guessed_rate, stream.average_rate):
        if rate and 1 <= rate <= MAX_TRUSTED_FPS:
            return Fraction(rate)
    return None


def _nominal_rate(stream, path: Path) -> Fraction:
    stated = _stream_rate(stream)
    if stated is not None and stated <= CHECKED_FPS:
        return stated
    rate = _rate_from_timestamps(path)
    if stated is not None and (rate is None or rate >= stated / 2):
        return stated
    if rate is None:
        log.warning("frame rate unknown; assuming %s fps", DEFAULT_FOLDER_FPS)
        return DEFAULT_FOLDER_FPS
    log.warning("frame rate unknown or implausible in the header; %s fps from the frames' "
                "timestamps", f"{float(rate):g}")  # fmt: skip
    return rate


def _rate_from_timestamps(path: Path) -> Fraction | None:
    """A frame rate on whose grid no two of the video's frames share a slot: one over the
    smallest gap between timestamps (or the typical gap, if that grid would be more than
    `MAX_FPS_RATIO` times finer than it). None with fewer than two timestamps."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = _time_base(stream, path)
            times = sorted({Fraction(p.pts) * tb for p in container.demux(stream)
                            if p.pts is not None and p.size})  # fmt: skip
    except av.FFmpegError:
        return None
    gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    if not gaps:
        return None
    gap = gaps[0] if gaps[len(gaps) // 2] <= MAX_FPS_RATIO * gaps[0] else gaps[len(gaps) // 2]
    rate = 1 / gap
    if rate == round(rate) or rate.denominator <= 1001:
        return rate
    return Fraction(math.ceil(rate * 1000), 1000)  # at least 1 / gap: no two frames collide


class VideoReader:
    """Stream RGB uint8 frames with exact timestamps from a video file or an image folder.

    Usage: `with VideoReader(path) as reader: for frame in reader: ...`. `reader.info` holds
    the stream facts; `reader.rotation` is known after the first frame of a file is decoded.
    A decode error mid-stream ends the stream after the last good frame, with a warning.
    """

    def __init__(self, path: Path | str, fps: Fraction | float | None = None):
        self.path = Path(path)
        self.info = probe(self.path, fps)
        self.rotation = self.info.rotation
        self.damaged = False
        self._container: InputContainer | None = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __iter__(self) -> Iterator[Frame]:
        if self.info.is_folder:
            yield from self._iter_folder()
        else:
            yield from self._iter_file()

    def packet_times(self) -> list[Fraction]:
        """Presentation times of the stored video packets, sorted, without decoding."""
        if self.info.is_folder:
            return [Fraction(n - self._first_number(), 1) / self.info.frame_rate
                    for n, _ in _numbered_images(self.path)]  # fmt: skip
        times = []
        last_corrupt = False
        with _open_container(self.path) as container:
            stream = container.streams.video[0]
            tb = _time_base(stream, self.path)
            try:
                for packet in container.demux(stream):
                    if packet.pts is not None and packet.size:
                        times.append(Fraction(packet.pts) * tb)
                        last_corrupt = packet.is_corrupt
            except av.FFmpegError as err:
                log.warning("stopped reading timestamps at damage: %s", _short(err))
        if last_corrupt:  # the last packet of a truncated file is cut off: it will not decode
            times.pop()
        return sorted(times)

    def _first_number(self) -> int:
        return _numbered_images(self.path)[0][0]

    def _iter_folder(self) -> Iterator[Frame]:
        numbered = _numbered_images(self.path)
        first_n = numbered[0][0]
        size = (self.info.height, self.info.width)
        for n, file in numbered:
            image = _read_image(file)
            if image.shape[:2] != size:
                raise VideoOpenError(f"image size differs from the first image's: {file}")
            yield Frame(image, Fraction(n - first_n) / self.info.frame_rate)

    def _iter_file(self) -> Iterator[Frame]:
        container = self._container = _open_container(self.path)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = _time_base(stream, self.path)
        last: Fraction | None = None
        index = 0
        decoded = container.decode(stream)
        while True:
            try:
                frame = next(decoded)
            except StopIteration:
                break
            except (av.FFmpegError, ValueError) as err:
                self.damaged = True
                log.warning("%s: decoding stopped after %d frames at damaged data (%s)",
                            self.path.name, index, _short(err))  # fmt: skip
                break
            if frame.pts is not None:
                pts = Fraction(frame.pts) * tb
            elif last is not None:
                pts = last + self.info.interval
            else:
                pts = self.info.start
            if index == 0:
                self.rotation = int(getattr(frame, "rotation", 0) or 0) or self.rotation
            last = pts
            index += 1
            yield Frame(frame.to_ndarray(format="rgb24"), pts)
        if index == 0:
            raise VideoOpenError(f"no decodable video frames in file: {self.path}")
        self.close()
