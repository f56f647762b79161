"""Which inputs a batch fills and where each one's output goes.

`fill` is in batch mode when it is given several inputs, a folder of videos (a folder whose
files are videos, not numbered images), a glob pattern, `--recursive` or `--format`; a single
video or image folder keeps the one-input, one-output form (`-o FILE`, or `-o FOLDER` for PNG
frames). In batch mode each input's output lies in OUTDIR under the input's own name, with the
suffix of the chosen format (a folder, for PNG frames); with `--recursive` the input folder's
tree is mirrored under OUTDIR.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from framepred.errors import FramepredError
from framepred.io.reader import IMAGE_EXTS

log = logging.getLogger(__name__)

# What a folder of videos may hold: anything FFmpeg reads that is commonly a video file.
VIDEO_INPUT_EXTS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts", ".mts", ".m2ts",
                    ".mpg", ".mpeg", ".flv", ".wmv", ".3gp", ".ogv", ".gif", ".mxf", ".dv",
                    ".vob"}  # fmt: skip
FORMATS = ("mp4", "mkv", "gif", "png")
_GLOB = re.compile(r"[*?[]")


@dataclass(frozen=True)
class Job:
    """One input of a batch: where it is read from and where its output goes."""

    input: Path  # absolute
    name: str  # the output's path relative to OUTDIR (POSIX), the key of its summary entry
    error: str | None = None  # why it cannot be filled at all (missing, clashing name)


def is_glob(arg: str | Path) -> bool:
    """An argument the shell did not expand (quoted, or matching nothing): a glob pattern."""
    return bool(_GLOB.search(str(arg))) and not Path(arg).exists()


def has_numbered_images(folder: Path) -> bool:
    """A folder of numbered images: one image-sequence input, as `fill` always read it."""
    return any(p.suffix.lower() in IMAGE_EXTS and re.search(r"\d", p.stem)
               for p in folder.iterdir() if p.is_file())  # fmt: skip


def is_video(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in VIDEO_INPUT_EXTS and not path.name.startswith(".")
    )


def is_video_folder(folder: Path) -> bool:
    """A folder whose files are videos rather than numbered images."""
    return (
        folder.is_dir()
        and not has_numbered_images(folder)
        and any(is_video(p) for p in folder.iterdir())
    )


def is_batch(inputs: Sequence[str | Path], *, recursive: bool = False,
             format: str | None = None) -> bool:  # fmt: skip
    """Whether `fill` runs in batch mode (see the module docstring)."""
    if len(inputs) != 1 or recursive or format is not None:
        return True
    arg = inputs[0]
    return is_glob(arg) or is_video_folder(Path(arg))


def output_name(relative: Path, format: str, folder: bool = False) -> str:
    """OUTDIR-relative output of an input at `relative` (its path below the folder it was
    found in; `folder`: an image folder): the same name with the format's suffix, or a folder
    without dots for PNG frames."""
    stem = relative.name if folder else relative.stem
    if format == "png":
        return (relative.parent / stem.replace(".", "_")).as_posix()
    return (relative.parent / f"{stem}.{format}").as_posix()


def collect(inputs: Sequence[str | Path], out_dir: Path, format: str = "mp4",
            recursive: bool = False) -> list[Job]:  # fmt: skip
    """Every input of the batch, sorted by output name (the order the ranks split).

    Files, folders of videos (with `recursive`, their subfolders too; a folder of numbered
    images found there is one input), image folders and glob patterns. A missing input or two
    inputs that would write the same output become jobs with an `error`, so the batch reports
    them and goes on. OUTDIR itself is never searched.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}: choose from {', '.join(FORMATS)}")
    out_dir = out_dir.resolve()
    found: list[tuple[Path, Path | None]] = []  # (input, path below its folder | None: missing)
    for arg in inputs:
        path = Path(arg)
        if is_glob(arg):
            matches = sorted(glob.glob(str(arg), recursive=recursive))
            if not matches:
                raise FramepredError(f"no input matches {arg}")
            for match in matches:
                found += _expand(Path(match), out_dir, recursive)
        elif path.exists():
            if path.is_dir() and path.resolve() == out_dir:
                raise FramepredError(f"the output folder may not be an input folder: {arg}")
            found += _expand(path, out_dir, recursive)
        else:
            found.append((path, None))
    if not found:
        raise FramepredError("no videos found in " + ", ".join(map(str, inputs)))
    return _name(found, format)


def _expand(path: Path, out_dir: Path, recursive: bool) -> list[tuple[Path, Path | None]]:
    if not path.is_dir() or has_numbered_images(path):
        return [(path, Path(path.resolve().name))]
    found: list[tuple[Path, Path | None]] = []
    for root, dirs, files in os.walk(path):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and
                         (here / d).resolve() != out_dir)  # fmt: skip
        if here != path and has_numbered_images(here):
            found.append((here, here.relative_to(path)))
            dirs[:] = []
            continue
        found += [(here / f, (here / f).relative_to(path)) for f in sorted(files)
                  if is_video(here / f)]  # fmt: skip
        if not recursive:
            break
    if not found:
        log.warning("no videos in folder %s", path)
    return found


def _name(found: list[tuple[Path, Path | None]], format: str) -> list[Job]:
    jobs: dict[Path, Job] = {}  # one job per input, however often it was named
    for path, relative in found:
        source = path.resolve()
        if source in jobs:
            continue
        if relative is None:
            name = output_name(Path(path.name), format)
            jobs[source] = Job(source, name, f"no such file or folder: {path}")
        else:
            jobs[source] = Job(source, output_name(relative, format, path.is_dir()))
    named: list[Job] = []
    first: dict[str, Path] = {}
    for job in sorted(jobs.values(), key=lambda j: (j.name, str(j.input))):
        if job.error is None and job.name in first:
            job = replace(job, error=f"same output name as {first[job.name]} ({job.name})")
        elif job.error is None:
            first[job.name] = job.input
        named.append(job)
    return named
