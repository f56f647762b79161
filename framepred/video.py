"""Streaming video I/O with exact timestamps. One frame format at the boundary: RGB uint8 HWC.

`VideoReader` streams `Frame(image, pts)` from any file FFmpeg (PyAV) reads or from a folder of
numbered images; `pts` is an exact `Fraction` of seconds. `VideoWriter` writes a constant-rate
`.mp4` (H.264), `.mkv` (FFV1, lossless RGB), `.gif` or a folder of PNG frames, atomically, and
can carry the source's audio and rotation over (an FFmpeg remux after the video is encoded).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.container import InputContainer, OutputContainer

from framepred.atomic import atomic_path
from framepred.errors import VideoOpenError, VideoWriteError

log = logging.getLogger(__name__)

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
VIDEO_EXTS = {".mp4", ".mkv", ".gif"}
DEFAULT_FOLDER_FPS = Fraction(25)
# Containers whose timestamps do not start at zero by convention (broadcast streams).
OFFSET_FORMATS = {"mpegts", "mpeg", "mpegvideo", "vob", "m2ts"}
# Audio codecs an MP4 file may hold as they are; anything else is re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}
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
    rate = override or _nominal_rate(stream)
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
                     ctx.name, ctx.pix_fmt or "unknown", bool(container.streams.audio), rotation)  # fmt: skip


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


def _nominal_rate(stream) -> Fraction:
    # r_frame_rate (base_rate) is FFmpeg's guess of the grid every timestamp sits on; it
    # survives holes in the timestamps, unlike the average rate. Fall back when it is absurd.
    for rate in (stream.base_rate, stream.guessed_rate, stream.average_rate):
        if rate and 1 <= rate <= 240:
            return Fraction(rate)
    log.warning("frame rate unknown; assuming %s fps", DEFAULT_FOLDER_FPS)
    return DEFAULT_FOLDER_FPS


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


def output_kind(path: Path) -> str:
    """'mp4', 'mkv', 'gif' or 'folder' for an output path; a clear error otherwise."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTS:
        return suffix[1:]
    if suffix == "" or path.is_dir():
        return "folder"
    raise VideoWriteError(
        f"unknown output type '{path.suffix}': use .mp4, .mkv, .gif or a folder (no extension)"
    )


class VideoWriter:
    """Write RGB uint8 frames at a constant rate to .mp4/.mkv/.gif or a PNG folder, atomically.

    Frames are numbered from 0 on a grid of `1 / frame_rate`. The output appears at `path`
    only when `close()` succeeds; on error (or `abort()`) nothing is left behind.

    Args:
        path: output file or folder; the kind follows the extension.
        frame_rate: exact frames per second.
        crf, preset: libx264 quality and speed for `.mp4`.
        audio_from: a media file whose audio streams are carried over (mp4/mkv only).
        rotation: display rotation in degrees to store (mp4/mkv) or apply (gif/folder).
    """

    def __init__(self, path: Path | str, frame_rate: Fraction, *, crf: int = 18,
                 preset: str = "medium", audio_from: Path | None = None, rotation: int = 0):  # fmt: skip
        self.path = Path(path)
        self.kind = output_kind(self.path)
        self.frame_rate = Fraction(frame_rate)
        self.crf, self.preset = crf, preset
        self.audio_from, self.rotation = audio_from, rotation % 360
        self.count = 0
        self._atomic: AbstractContextManager[Path] | None = atomic_path(
            self.path, is_dir=self.kind == "folder"
        )
        self._tmp = self._atomic.__enter__()
        self._video_tmp = self._tmp
        self._container: OutputContainer | None = None
        self._stream: Any = None  # the VideoStream being encoded
        self._size: tuple[int, int] | None = None
        try:  # from here on, an error (or Ctrl-C) must not leave the temporary path behind
            has_audio = bool(audio_codecs(audio_from))
        except BaseException as err:
            self.abort(type(err), err, err.__traceback__)
            raise
        if has_audio and self.kind not in ("mp4", "mkv"):
            log.warning("a %s output cannot hold audio; the source's audio is dropped", self.kind)
        if self.kind in ("mp4", "mkv") and has_audio:
            self._video_tmp = self._tmp.with_name(self._tmp.name + ".video" + self._tmp.suffix)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc_type, exc, tb)

    def write(self, image: np.ndarray) -> None:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise VideoWriteError(f"frames must be RGB uint8 (H, W, 3), got {image.shape}")
        size = (image.shape[0], image.shape[1])
        if self._size is not None and size != self._size:
            raise VideoWriteError(f"frame size changed from {self._size} to {size}")
        try:
            if self._size is None:
                self._size = size
                self._open(*size)
            self._write(image)
        except av.FFmpegError as err:  # OS errors too: a full disk, a vanished folder
            raise VideoWriteError(f"cannot write {self.path}: {_reason(err)}") from None
        self.count += 1

    def _open(self, height: int, width: int) -> None:
        if self.kind == "folder":
            return
        container = self._container = av.open(str(self._video_tmp), "w")
        stream: Any
        if self.kind == "mp4":
            stream = container.add_stream("libx264", rate=self.frame_rate)
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": self.preset}
            # yuv420p needs even sizes: odd frames are padded by repeating the last row/column.
            width, height = width + width % 2, height + height % 2
        elif self.kind == "mkv":
            stream = container.add_stream("ffv1", rate=self.frame_rate)
            stream.pix_fmt = "bgr0"  # RGB stored losslessly, no YUV conversion
            # Slices let FFV1 use threads; a 1-pixel-wide frame cannot be sliced.
            slices = "4" if min(width, height) >= 16 else "1"
            stream.options = {"level": "3", "slices": slices, "g": "1"}
        else:
            stream = container.add_stream("gif", rate=self.frame_rate)
            stream.pix_fmt = "pal8"
        stream.width, stream.height = width, height
        stream.codec_context.time_base = 1 / self.frame_rate
        if self.rotation and self.kind != "gif":
            stream.set_display_rotation(self.rotation)
        self._stream = stream

    def _write(self, image: np.ndarray) -> None:
        if self.kind in ("gif", "folder") and self.rotation:
            image = np.ascontiguousarray(np.rot90(image, self.rotation // 90))
        if self.kind == "folder":
            name = self._tmp / f"frame_{self.count:06d}.png"
            if not cv2.imwrite(str(name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise VideoWriteError(f"cannot write {self.path}: PNG frame {self.count} failed")
            return
        if self.kind == "mp4" and (image.shape[0] % 2 or image.shape[1] % 2):
            image = np.pad(image, ((0, image.shape[0] % 2), (0, image.shape[1] % 2), (0, 0)),
                           mode="edge")  # fmt: skip
        if self.kind == "gif":
            frame = _palette_frame(image)
        else:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self.count
        frame.time_base = 1 / self.frame_rate
        assert self._container is not None
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._atomic is None:
            return
        try:
            if self.count == 0:
                raise VideoWriteError(f"no frames to write to {self.path}")
            if self._container is not None:
                try:
                    for packet in self._stream.encode():
                        self._container.mux(packet)
                    self._container.close()
                except av.FFmpegError as err:  # e.g. the disk filled up while flushing
                    raise VideoWriteError(f"cannot write {self.path}: {_reason(err)}") from None
                self._container = None
            if self._video_tmp != self._tmp:
                self._remux()
        except BaseException as err:
            self.abort(type(err), err, err.__traceback__)
            raise
        atomic, self._atomic = self._atomic, None
        atomic.__exit__(None, None, None)

    def abort(self, exc_type=None, exc=None, tb=None) -> None:
        """Drop everything written so far; the target is left as it was."""
        if self._atomic is None:
            return
        if self._container is not None:
            try:
                self._container.close()
            except av.FFmpegError:
                pass
            self._container = None
        if self._video_tmp != self._tmp:
            self._video_tmp.unlink(missing_ok=True)
        atomic, self._atomic = self._atomic, None
        try:
            atomic.__exit__(exc_type or VideoWriteError, exc or VideoWriteError("aborted"), tb)
        except BaseException:
            pass  # atomic_path re-raises the error it was given; we only want its cleanup

    def _remux(self) -> None:
        """Add the source's audio to the encoded video with FFmpeg (video stream-copied)."""
        cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(self._video_tmp)]
        audio_args: list[str] = []
        codecs = audio_codecs(self.audio_from)
        if codecs:
            cmd += ["-i", str(self.audio_from)]
            audio_args = ["-map", "1:a"]
            keep = self.kind == "mkv" or all(c in MP4_AUDIO for c in codecs)
            audio_args += ["-c:a", "copy"] if keep else ["-c:a", "aac", "-b:a", "192k"]
            if not keep:
                log.warning("audio codec %s does not fit .mp4; re-encoding to AAC", codecs)
        cmd += ["-map", "0:v:0", *audio_args, "-c:v", "copy", str(self._tmp)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        self._video_tmp.unlink(missing_ok=True)
        if done.returncode != 0:
            msg = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "ffmpeg failed"
            raise VideoWriteError(f"cannot add audio/metadata to {self.path.name}: {msg}")


def _palette_frame(image: np.ndarray) -> av.VideoFrame:
    """RGB -> 256-colour palette frame (median-cut per frame, via Pillow)."""
    from PIL import Image

    quant = Image.fromarray(image).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    palette = np.zeros((256, 4), np.uint8)
    rgb = np.frombuffer(bytes((quant.getpalette() or [])[: 256 * 3]), np.uint8).reshape(-1, 3)
    # PyAV's from_ndarray reads each palette row as the bytes A, R, G, B (checked in tests).
    palette[:, 0] = 255
    palette[: len(rgb), 1:] = rgb
    indices = np.asarray(quant, np.uint8)
    # PyAV's stub omits the (indices, palette) pair that from_ndarray takes for pal8.
    return av.VideoFrame.from_ndarray((indices, palette), format="pal8")  # type: ignore[arg-type]


def audio_codecs(path: Path | None) -> list[str]:
    """Names of the audio codecs in a media file (empty for folders and silent files)."""
    if path is None or Path(path).is_dir():
        return []
    try:
        with av.open(str(path)) as container:
            return [s.codec_context.name for s in container.streams.audio]
    except av.FFmpegError:
        return []


def ffmpeg_exe() -> str:
    """The FFmpeg binary: imageio-ffmpeg's, else one on PATH."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        exe = shutil.which("ffmpeg")
        if exe is None:
            raise VideoWriteError("ffmpeg not found (install imageio-ffmpeg)") from None
        return exe
