"""Write frames that stand for a span of a source video's timeline, with that span's audio.

A prediction (optionally after its context) covers source time `[t0, t0 + T / fps)`, which
may run past the source's end. Its audio is the source's audio of that span, re-encoded
(AAC in .mp4, FLAC in .mkv) and padded with silence past the audio's end; when the span
starts after the audio ends there is no audio. Outputs are atomic like every other.
"""

from __future__ import annotations

import logging
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

from framepred.io.atomic import atomic_path, partial_path
from framepred.io.marks import FFMPEG_MARK
from framepred.io.reader import VideoInfo
from framepred.io.writer import VideoWriter, audio_codecs, ffmpeg_exe

log = logging.getLogger(__name__)


def write_span(output: Path, kind: str, frames: np.ndarray, info: VideoInfo, t0: Fraction,
               crf: int, audio_from: Path | None, *, overwrite: bool = True) -> str:  # fmt: skip
    """Write frames that stand for the source's time from `t0` on; return what audio got.

    `kind` is "npy" ((T, H, W, 3) uint8) or a `VideoWriter` kind. For mp4/mkv with an
    `audio_from` file, its audio from `t0` for the frames' duration is muxed in: "trimmed",
    or "padded" with silence where the span runs past the audio's end; "none" otherwise.
    `overwrite` False refuses an output that appears while this writes.
    """
    if kind == "npy":
        with atomic_path(output, overwrite=overwrite) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, frames, allow_pickle=False)
        return "none"
    codecs = audio_codecs(audio_from)
    if not codecs or audio_from is None:
        with VideoWriter(
            output, info.frame_rate, crf=crf, rotation=info.rotation, overwrite=overwrite
        ) as writer:
            for image in frames:
                writer.write(image)
        return "none"
    video_tmp = partial_path(output)  # a dead process's leftover is cleaned like any partial
    try:
        with VideoWriter(video_tmp, info.frame_rate, crf=crf, rotation=info.rotation) as writer:
            for image in frames:
                writer.write(image)
        duration = Fraction(len(frames)) / info.frame_rate
        with atomic_path(output, overwrite=overwrite) as tmp:
            return _mux_audio(video_tmp, audio_from, tmp, t0 - info.start, duration, kind)
    finally:
        video_tmp.unlink(missing_ok=True)


def _mux_audio(video: Path, source: Path, out: Path, t0: Fraction, duration: Fraction,
               kind: str) -> str:  # fmt: skip
    """The source's audio from `t0` for `duration`, padded with silence past its end."""
    audio_end = _audio_end(source)
    if audio_end is not None and t0 >= audio_end:
        log.info("the output lies after the end of the source's audio; written without audio")
        out.write_bytes(video.read_bytes())
        return "none"
    codec = ["-c:a", "flac"] if kind == "mkv" else ["-c:a", "aac", "-b:a", "192k"]
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(video),
           "-ss", f"{float(t0):.6f}", "-i", str(source), "-map", "0:v:0", "-map", "1:a:0",
           "-c:v", "copy", *codec, "-af", "apad", "-t", f"{float(duration):.6f}", *FFMPEG_MARK,
           str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        msg = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "ffmpeg failed"
        log.warning("could not carry the audio over (%s); written without audio", msg)
        out.write_bytes(video.read_bytes())
        return "none"
    padded = audio_end is not None and t0 + duration > audio_end
    return "padded" if padded else "trimmed"


def _audio_end(path: Path) -> Fraction | None:
    """End of the first audio stream in seconds, from its packets (demuxed, not decoded)."""
    import av

    end = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            if stream.time_base is None:
                return None
            tb = Fraction(stream.time_base)
            for packet in container.demux(stream):
                if packet.pts is not None:
                    stop = Fraction(packet.pts + (packet.duration or 0)) * tb
                    end = stop if end is None else max(end, stop)
    except (av.FFmpegError, IndexError, TypeError):
        return None
    return end
