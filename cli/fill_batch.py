"""`framepred fill IN... -o OUTDIR`: the batch form of `fill` (see `framepred.batch`)."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from framepred.batch import FileEntry, fill_many
from framepred.batch.summary import SUMMARY


def _shown(path: str) -> str:
    """`path` relative to the working folder where it lies below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if relative.startswith("..") else relative


def _line(entry: FileEntry, out_dir: Path, rank: str) -> str:
    name, out = _shown(entry.input), _shown(str(out_dir / entry.output))
    if entry.status == "done":
        return (f"{rank}done {name} -> {out}: {entry.frames} frames, {entry.synthesized} "
                f"synthesized ({entry.method}) in {entry.gaps} gaps, {entry.seconds:.1f} s")  # fmt: skip
    if entry.status == "skipped":
        return f"{rank}skipped {name}: {out} is complete"
    if entry.status == "not done":
        return f"{rank}stopped {name}: its partial output was removed"
    return f"{rank}failed {name}: {entry.reason}"


@contextmanager
def _quiet_per_file_info():
    """The batch prints its own line per file: `fill_video`'s info line would repeat it."""
    logger = logging.getLogger("framepred.fill")
    level = logger.level
    if logging.getLogger().getEffectiveLevel() == logging.INFO:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def run_batch(inputs: tuple[Path, ...], out_dir: Path, **kwargs: Any) -> None:
    """Fill every input into OUTDIR; one line per file, one at the end; exit 1 unless every
    file's output is whole."""
    rank = os.environ.get("RANK") or os.environ.get("SLURM_PROCID") or ""
    world = os.environ.get("WORLD_SIZE") or os.environ.get("SLURM_NTASKS") or "1"
    prefix = f"[rank {rank}] " if world != "1" and rank else ""

    def report(entry: FileEntry) -> None:
        with tqdm.external_write_mode(file=sys.stderr):
            click.echo(_line(entry, out_dir, prefix), err=True)

    with logging_redirect_tqdm(), _quiet_per_file_info():
        summary = fill_many(inputs, out_dir, on_file=report, **kwargs)
    counts = summary.counts
    where = _shown(str(Path(summary.out_dir) / SUMMARY))
    if not summary.merged:
        n = len(summary.files)
        mine = (
            f"{prefix}{n} file{'s' * (n != 1)}: {counts['done']} done, {counts['skipped']} skipped"
        )
        click.echo(f"{mine}, {counts['failed']} failed (rank 0 writes {where})", err=True)
    else:
        click.echo(f"{prefix}wrote {where}: {counts['done']} done, {counts['skipped']} skipped, "
                   f"{counts['failed']} failed, {counts['not done']} not done", err=True)  # fmt: skip
    if summary.interrupted:
        raise click.ClickException(f"interrupted: the files not done are listed in {where}")
    if summary.elsewhere_failed:
        raise click.ClickException(f"files of other ranks failed ({where})")
    if not summary.ok:
        bad = len(summary.files) - counts["done"] - counts["skipped"]
        raise click.ClickException(f"{bad} of {len(summary.files)} files failed ({where})")
