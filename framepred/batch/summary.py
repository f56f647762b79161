"""The batch's record: one entry per input, kept as it goes and merged into one summary.

Each process (each rank of a distributed run) appends an entry to its own journal,
`OUTDIR/.framepred-summary.rank{R}.jsonl`, as soon as a file is finished, so even a run that is
killed leaves a true account of what it wrote. At the end the journals are merged into
`OUTDIR/framepred-summary.json` (written whole or not at all) and removed.

The summary is also framepred's own manifest of its outputs: an entry that says `done` with
the output's size and SHA-256 lets a rerun of the same command skip that input, as long as the
output still has that size and hash, the input is unchanged and the settings are the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from framepred.io.atomic import atomic_path
from framepred.io.marks import TOOL

log = logging.getLogger(__name__)

SUMMARY = "framepred-summary.json"
JOURNAL = ".framepred-summary.rank{rank}.jsonl"
COMPLETE = ("done", "skipped")  # statuses whose output is whole and recorded
STATUSES = (*COMPLETE, "failed", "not done")


@dataclass
class FileEntry:
    """What happened to one input."""

    input: str  # absolute path
    output: str  # relative to OUTDIR
    status: str  # done | skipped (complete from an earlier run) | failed | not done
    reason: str | None = None  # why it failed or was not done
    frames: int | None = None  # frames written (slots of the output grid)
    kept: int | None = None
    synthesized: int | None = None
    gaps: int | None = None
    method: str | None = None
    seconds: float | None = None
    size: int | None = None  # output bytes (all frames of a PNG folder)
    sha256: str | None = None  # of the output file (of its frames' names and bytes: a folder)
    settings: str | None = None  # fingerprint of the settings it was made with
    source: list[int] | None = None  # fingerprint of the input when it was read
    rank: int = 0
    run: str = ""
    time: float = 0.0
    report: dict | None = None  # the file's full `fill --report` (gaps, synthesized slots)

    @classmethod
    def from_dict(cls, d: dict) -> FileEntry:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class BatchSummary:
    """`fill_many`'s answer, and `OUTDIR/framepred-summary.json`."""

    out_dir: str
    files: list[FileEntry]
    settings: dict[str, Any]
    world_size: int = 1
    merged: bool = True  # False on ranks other than 0: `files` holds this rank's share only
    interrupted: bool = False
    earlier: list[FileEntry] = field(default_factory=list)  # whole outputs `files` does not
    # describe: other inputs', or one a file that failed this time kept
    elsewhere_failed: bool = False  # another rank's file failed (ranks other than 0)

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.files if f.status == s) for s in STATUSES}

    @property
    def ok(self) -> bool:
        """Every input's output is whole."""
        return not self.elsewhere_failed and all(f.status in COMPLETE for f in self.files)

    def to_json(self) -> str:
        data = {"tool": TOOL, **asdict(self), "counts": self.counts}  # the mark first
        return json.dumps(data, indent=2, default=str)


def settings_key(settings: dict[str, Any]) -> str:
    """A short fingerprint of the settings an output was made with."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def source_key(path: Path) -> list[int]:
    """A cheap fingerprint of an input: [size, mtime_ns], or for an image folder
    [files, total size, latest mtime_ns]."""
    if path.is_dir():
        stats = [p.stat() for p in path.iterdir() if p.is_file()]
        return [
            len(stats),
            sum(s.st_size for s in stats),
            max((s.st_mtime_ns for s in stats), default=0),
        ]
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def digest(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256) of an output file, or of a PNG folder's files (names and bytes,
    in name order)."""
    h = hashlib.sha256()
    size = 0
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            h.update(file.name.encode() + b"\0")
        with open(file, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    return size, h.hexdigest()


class Journal:
    """This process's append-only record (`JOURNAL`), safe to call from several threads."""

    def __init__(self, out_dir: Path, rank: int) -> None:
        self.path = out_dir / JOURNAL.format(rank=rank)
        self._lock = threading.Lock()

    def add(self, entry: FileEntry | dict) -> None:
        line = json.dumps(asdict(entry) if isinstance(entry, FileEntry) else entry, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def end(self, run: str, rank: int) -> None:
        """Mark this rank's part of run `run` finished (what rank 0 polls for)."""
        self.add({"end": run, "rank": rank, "time": time.time()})


def journals(out_dir: Path) -> list[Path]:
    return sorted(out_dir.glob(JOURNAL.format(rank="*")))


def is_journal(path: Path) -> bool:
    """Whether `path` is a journal a batch wrote: a regular file (not a link) whose lines are
    all entries or end marks, bar a last one cut short by a killed process."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    lines = text.split("\n")
    for i, line in enumerate(lines):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # the unfinished last line (or the empty one after "\n")
                continue
            return False
        if not isinstance(item, dict) or not (
            {"end"} <= item.keys() or {"input", "output", "status"} <= item.keys()
        ):
            return False  # fmt: skip
    return True


def _lines(path: Path) -> Iterator[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a killed process
            continue
        if isinstance(item, dict):
            yield item


def ended(out_dir: Path, rank: int, run: str) -> bool:
    """Whether rank `rank` has marked its part of run `run` finished."""
    path = out_dir / JOURNAL.format(rank=rank)
    return any(item.get("end") == run for item in _lines(path))


def read_records(out_dir: Path) -> list[FileEntry]:
    """Every entry on record in OUTDIR, oldest first: the last summary's, then the journals'."""
    records: list[FileEntry] = []
    summary = out_dir / SUMMARY
    if summary.is_file():
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
            for key in ("files", "earlier"):
                records += [FileEntry.from_dict(d) for d in data.get(key, [])]
        except (OSError, ValueError, TypeError, AttributeError) as err:
            log.warning("ignoring unreadable %s (%s)", summary, err)
    fresh = [FileEntry.from_dict(d) for p in journals(out_dir) for d in _lines(p) if "end" not in d]
    return records + sorted(fresh, key=lambda e: e.time)


def last_complete(records: Iterable[FileEntry], output: str) -> FileEntry | None:
    """The newest entry that says `output` was written whole."""
    found = None
    for entry in records:
        if entry.output == output and entry.status in COMPLETE and entry.sha256:
            found = entry
    return found


def is_complete(entry: FileEntry | None, out_dir: Path, input: Path, settings: str) -> bool:
    """Whether the output `entry` records is still whole: same input (unchanged), same
    settings, and the file has the recorded size and SHA-256."""
    if entry is None or entry.input != str(input) or entry.settings != settings:
        return False
    output = out_dir / entry.output
    try:
        if entry.source != source_key(input) or not output.exists():
            return False
        return digest(output) == (entry.size, entry.sha256)
    except OSError:
        return False


def merge(out_dir: Path, jobs: list, run: str, settings: dict[str, Any], world: int,
          interrupted: bool, missing: str = "interrupted") -> BatchSummary:  # fmt: skip
    """The summary of run `run` over `jobs` (every rank's), written to OUTDIR; the journals
    it folds in are removed. An input without an entry of this run keeps its earlier complete
    entry, if it has one, else it is `not done` for the reason `missing`."""
    records = read_records(out_dir)
    files = []
    for job in jobs:
        key = (str(job.input), job.name)
        mine = [e for e in records if (e.input, e.output) == key]
        now = [e for e in mine if e.run == run]
        done = [e for e in mine if e.status in COMPLETE and e.sha256]
        if now:
            files.append(now[-1])
        elif done:
            files.append(done[-1])
        else:
            files.append(FileEntry(str(job.input), job.name, "not done", missing, run=run))
    current = {f.output for f in files if f.status in COMPLETE}
    earlier: dict[str, FileEntry] = {}
    # Whole outputs still in OUTDIR stay on record: other inputs', and one an input that
    # failed this time left in place (kept: made with other settings; or a failed redo).
    for e in records:
        if e.output not in current and e.status in COMPLETE and (out_dir / e.output).exists():
            earlier[e.output] = e
    summary = BatchSummary(str(out_dir), files, settings, world, True, interrupted,
                           sorted(earlier.values(), key=lambda e: e.output))  # fmt: skip
    with atomic_path(out_dir / SUMMARY, overwrite=True) as tmp:  # replaces only our own
        tmp.write_text(summary.to_json(), encoding="utf-8")
    for path in journals(out_dir):
        path.unlink(missing_ok=True)
    return summary
