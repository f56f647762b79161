"""Writing video: constant-rate `.mp4` (H.264), `.mkv` (FFV1, lossless RGB), `.gif` or a folder
of PNG frames, atomically, carrying the source's audio and rotation over (an FFmpeg remux after
the video is encoded). Frames come in as RGB uint8 HWC, as `video.VideoReader` yields them.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from contextlib import AbstractContextManager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.container import OutputContainer

from framepred.errors import VideoWriteError
from framepred.io.atomic import atomic_path, write_folder_manifest
from framepred.io.marks import FFMPEG_MARK, mark_gif, mark_png, video_metadata
from framepred.io.reader import VIDEO_EXTS, _reason

log = logging.getLogger(__name__)

MP4_AUDIO = {
    "aac",
    "mp3",
    "alac",
    "ac3",
    "eac3",
    "opus",
    "flac",
}  # audio codecs an mp4 can carry by stream copy


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
        overwrite: replace an existing output framepred wrote (a file with its mark, or a
            folder with its manifest); False refuses one that appears while this writes
            (`atomic.atomic_path`).

    Every output carries framepred's mark (`marks.py`): a comment tag (mp4/mkv), a comment
    extension (gif), a tEXt chunk in each PNG frame, and a folder gets framepred's manifest
    (`atomic.MANIFEST`) after its last frame.
    """

    def __init__(self, path: Path | str, frame_rate: Fraction, *, crf: int = 18,
                 preset: str = "medium", audio_from: Path | None = None, rotation: int = 0,
                 overwrite: bool = True):  # fmt: skip
        self.path = Path(path)
        self.kind = output_kind(self.path)
        self.frame_rate = Fraction(frame_rate)
        self.crf, self.preset = crf, preset
        self.audio_from, self.rotation = audio_from, rotation % 360
        self.count = 0
        self._atomic: AbstractContextManager[Path] | None = atomic_path(
            self.path, is_dir=self.kind == "folder", overwrite=overwrite
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
        container.metadata.update(video_metadata())
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

    def _frame_name(self, i: int) -> str:
        return f"frame_{i:06d}.png"

    def _write(self, image: np.ndarray) -> None:
        if self.kind in ("gif", "folder") and self.rotation:
            image = np.ascontiguousarray(np.rot90(image, self.rotation // 90))
        if self.kind == "folder":
            name = self._tmp / self._frame_name(self.count)
            ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if not ok:
                raise VideoWriteError(f"cannot write {self.path}: PNG frame {self.count} failed")
            try:
                name.write_bytes(mark_png(data.tobytes()))
            except OSError as err:  # a full disk, a vanished folder
                raise VideoWriteError(f"cannot write {self.path}: {err.strerror or err}") from None
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
            if self.kind == "gif":
                try:
                    mark_gif(self._tmp)
                except (OSError, ValueError) as err:
                    reason = getattr(err, "strerror", None) or err
                    raise VideoWriteError(f"cannot write {self.path}: {reason}") from None
            if self._video_tmp != self._tmp:
                self._remux()
            if self.kind == "folder":
                write_folder_manifest(self._tmp, map(self._frame_name, range(self.count)))
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
        cmd += ["-map", "0:v:0", *audio_args, "-c:v", "copy", *FFMPEG_MARK, str(self._tmp)]
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
