"""`fill_many`: fill a library of videos with one model, in a pipeline, on one process or many.

One thread opens the inputs in order (checks the record, probes the file and starts decoding
its first frames) while `jobs` worker threads fill: so the next file is read while the current
one is synthesized, and the model is made once and shared (each worker has its own caches and
optical-flow state). PyAV, OpenCV and torch release the GIL while they work, so threads run
side by side; each worker's torch and OpenCV thread counts are cut so that all of them together
fit the cores. A bad file is recorded with its reason and the batch goes on; Ctrl-C or SIGTERM
stops it at the next frame: finished outputs stay, the one in progress is removed (outputs are
written atomically), and the summary marks the rest not done.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from framepred.batch import distributed
from framepred.batch.inputs import Job, collect
from framepred.batch.stop import Stopped, stop_on_signals
from framepred.batch.summary import (
    SUMMARY,
    BatchSummary,
    FileEntry,
    Journal,
    digest,
    is_complete,
    is_journal,
    journals,
    last_complete,
    merge,
    read_records,
    settings_key,
    source_key,
)
from framepred.errors import FramepredError, VideoWriteError
from framepred.fill import fill_video
from framepred.io.atomic import check_output_target
from framepred.io.pipelining import prefetch
from framepred.io.reader import VIDEO_EXTS, Frame, VideoReader
from framepred.synth.base import Synthesizer
from framepred.synth.ensemble import check as check_ensemble
from framepred.synth.methods import make_synthesizer

log = logging.getLogger(__name__)

# `fill_video` options a batch hands on to every file.
FILL_OPTIONS = ("detect", "frames", "max_gap", "on_long_gap", "crf", "preset", "fps", "adapt",
                "ensemble", "guard", "working_size")  # fmt: skip
READ_AHEAD = 4  # frames of the next file decoded before its turn
STOP_WAIT = 30.0  # seconds rank 0 waits for the other ranks after a stop


class ReadAhead(VideoReader):
    """A reader that starts decoding when it is made, a few frames ahead of its consumer, so
    a file's first frames are ready by its turn; `stop` ends its stream with `Stopped`."""

    _frames: Iterator[Frame] | None = None

    def __init__(self, path: Path, fps, stop: threading.Event, depth: int = READ_AHEAD):
        super().__init__(path, fps)
        self._stop = stop
        self._frames = prefetch(super().__iter__(), depth)
        try:
            self._first = next(self._frames, None)
        except BaseException:
            self.release()
            raise

    def __iter__(self) -> Iterator[Frame]:
        assert self._frames is not None, "a ReadAhead is read once"
        head = [] if self._first is None else [self._first]
        self._first = None
        for frame in chain(head, self._frames):
            if self._stop.is_set():
                raise Stopped
            yield frame

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        """Stop decoding and close the file. (`close`, which the decoding thread itself calls
        at the end of the stream, only closes the file.)"""
        frames, self._frames = self._frames, None
        if frames is not None:
            frames.close()  # type: ignore[attr-defined]  # a generator
        self.close()


@dataclass
class _Opened:
    """An input ready for a worker: its reader, or why it is skipped or failed."""

    job: Job
    reader: ReadAhead | None = None
    error: str | None = None
    skip: FileEntry | None = None  # its complete entry from an earlier run
    replace: bool = False  # write over the output (--overwrite, or framepred's own, not whole)
    source: list[int] | None = None

    def close(self) -> None:
        if self.reader is not None:
            self.reader.release()


def fill_many(
    inputs: Sequence[Path | str],
    out_dir: Path | str,
    *,
    format: str = "mp4",
    recursive: bool = False,
    jobs: int = 1,
    overwrite: bool = False,
    method: str = "model",
    model: str | Path | None = None,
    device: str = "auto",
    precision: str = "auto",
    progress: bool = True,
    on_file: Callable[[FileEntry], None] | None = None,
    stop: threading.Event | None = None,
    timeout: float = 24 * 3600.0,
    **options: Any,
) -> BatchSummary:
    """Fill every input into `out_dir` and write `out_dir/framepred-summary.json`.

    Args:
        inputs: video files, folders of videos, image folders, glob patterns.
        out_dir: where each input's output goes, under its own name (`inputs.output_name`).
        format: "mp4", "mkv" (lossless), "gif" or "png" (a folder of frames per input).
        recursive: also fill the videos in subfolders (the tree is mirrored in `out_dir`).
        jobs: files filled at once by this process (threads share the cores).
        overwrite: redo and replace every output, complete or not.
        method, model, device, precision: as in `fill_video`; the model is made once.
        progress: show the batch's bar (files, frames/s, ETA) and the current files' bars.
        on_file: called with each file's entry as soon as it is finished (any thread).
        stop: set it to stop the batch as Ctrl-C does (in the main thread, SIGINT and
            SIGTERM set it too, while the batch runs).
        timeout: seconds rank 0 of a distributed run waits for the others to finish.
        options: `fill_video`'s detect, frames, max_gap, on_long_gap, crf, preset, fps,
            adapt, ensemble, guard, working_size, for every file.

    Under torchrun or SLURM (`distributed.detect`) each process fills its share and rank 0
    merges the summary. Returns the summary (on other ranks: their share only). An input
    whose output is complete per the summary is skipped unless `overwrite`; one whose output
    there was made with other settings (or from another input) fails and keeps it unless
    `overwrite`; a bad input is recorded as failed and the rest go on.
    """
    unknown = set(options) - set(FILL_OPTIONS)
    if unknown:
        raise TypeError(f"fill_many got unknown options: {', '.join(sorted(unknown))}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    out_dir = _check_out_dir(Path(out_dir))
    settings = _settings(format, method, model, precision, options)
    all_jobs = collect(inputs, out_dir, format, recursive)
    ranks = distributed.detect()
    group = distributed.Group(ranks)
    try:
        synth = make_synthesizer(method, model, distributed.device_for(device, ranks), None,
                                 precision, options.get("working_size"))  # fmt: skip
        check_ensemble(synth, int(options.get("ensemble", 1)))
        try:  # only now that the batch can start
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise VideoWriteError(
                f"cannot make the output folder {out_dir}: {err.strerror}"
            ) from None
        batch = _Batch(out_dir, settings, synth, ranks, group.run, jobs, overwrite,
                       progress and ranks.local_rank == 0, on_file, stop or threading.Event(),
                       options)  # fmt: skip
        mine = distributed.share(all_jobs, ranks)
        with stop_on_signals(batch.stop):
            entries = batch.run(mine)
        if batch.error is not None:
            raise VideoWriteError(f"cannot keep the batch's record in {out_dir}: "
                                  f"{_reason(batch.error)}") from batch.error  # fmt: skip
        batch.journal.end(group.run, ranks.rank)
        stopped = batch.stop.is_set()
        together = group.wait_for_all(out_dir, STOP_WAIT if stopped else timeout)
        if ranks.rank == 0:
            missing = "interrupted" if stopped else "its rank did not finish"
            summary = merge(out_dir, all_jobs, group.run, settings, ranks.world, stopped, missing)
        else:
            summary = _part(out_dir, mine, entries, settings, ranks, group.run, stopped)
        if together:
            summary.elsewhere_failed = not group.all_ok(summary.ok) and summary.ok
        return summary
    finally:
        group.close()


def _check_out_dir(out_dir: Path) -> Path:
    """OUTDIR, absolute, if it is or can be a writable folder."""
    if out_dir.exists() and not out_dir.is_dir():
        raise VideoWriteError(f"several inputs need an output folder, not a file: {out_dir}")
    if not out_dir.exists() and out_dir.suffix.lower() in VIDEO_EXTS:
        raise VideoWriteError(f"several inputs need an output folder, not a video: {out_dir}")
    existing = next(p for p in (out_dir.resolve(), *out_dir.resolve().parents) if p.exists())
    if not os.access(existing, os.W_OK):
        raise VideoWriteError(f"output folder is not writable: {existing}")
    if (out_dir / SUMMARY).exists():  # before any work: never over a user's file of that name
        check_output_target(out_dir / SUMMARY, [], overwrite=True)
    for path in journals(out_dir):  # appended to, then removed once merged
        if not is_journal(path):
            raise VideoWriteError(f"{path} is not a batch journal framepred wrote; it is never "
                                  f"appended to or removed (choose another output folder)")  # fmt: skip
    return out_dir.resolve()


def _settings(format: str, method: str, model, precision: str, options: dict) -> dict:
    """Everything that shapes an output, `fill_video`'s defaults filled in."""
    params = inspect.signature(fill_video).parameters
    settings = {k: params[k].default for k in FILL_OPTIONS} | options
    if settings["fps"] is not None:
        settings["fps"] = str(Fraction(settings["fps"]).limit_denominator(1001000))
    settings["detect"] = sorted(settings["detect"])
    return settings | {"format": format, "method": method, "precision": precision,
                       "model": None if method != "model" else str(model or "default")}  # fmt: skip


def _part(out_dir: Path, mine: list[Job], entries: list[FileEntry], settings: dict,
          ranks: distributed.Ranks, run: str, stopped: bool) -> BatchSummary:  # fmt: skip
    """A rank's own share, for the caller on a rank other than 0."""
    by_job = {(e.input, e.output): e for e in entries}
    files = [by_job.get((str(j.input), j.name)) or
             FileEntry(str(j.input), j.name, "not done", "interrupted" if stopped else None,
                       rank=ranks.rank, run=run) for j in mine]  # fmt: skip
    return BatchSummary(str(out_dir), files, settings, ranks.world, False, stopped)


class _Batch:
    """One process's share of a batch: the opener thread, the workers, the progress bar."""

    def __init__(self, out_dir: Path, settings: dict, synth: Synthesizer,
                 ranks: distributed.Ranks, run: str, jobs: int, overwrite: bool, progress: bool,
                 on_file: Callable[[FileEntry], None] | None, stop: threading.Event,
                 options: dict) -> None:  # fmt: skip
        self.out_dir, self.settings, self.synth = out_dir, settings, synth
        self.key = settings_key(settings)
        self.ranks, self.run_id, self.jobs, self.overwrite = ranks, run, jobs, overwrite
        self.progress, self.on_file, self.stop, self.options = progress, on_file, stop, options
        self.journal = Journal(out_dir, ranks.rank)
        self.records = read_records(out_dir)
        self.threads = distributed.threads_per_job(jobs, ranks)
        self.entries: list[FileEntry] = []
        self.error: Exception | None = None  # why the batch could not go on
        self._bar: tqdm | None = None
        self._frames, self._t0 = 0, time.perf_counter()

    def run(self, jobs: list[Job]) -> list[FileEntry]:
        opened: queue.Queue[_Opened | None] = queue.Queue(maxsize=1)
        opener = threading.Thread(target=self._open_all, args=(jobs, opened), daemon=True,
                                  name="framepred-batch-open")  # fmt: skip
        workers = [threading.Thread(target=self._work, args=(opened,), daemon=True,
                                    name=f"framepred-batch-{i}") for i in range(self.jobs)]  # fmt: skip
        cv2_threads = cv2.getNumThreads()
        cv2.setNumThreads(self.threads)  # process-wide: each worker's calls use this many
        self._bar = tqdm(total=len(jobs), unit="file", desc="batch", file=sys.stderr,
                         disable=not self.progress, dynamic_ncols=True)  # fmt: skip
        try:
            opener.start()
            for w in workers:
                w.start()
            for t in [*workers, opener]:
                while t.is_alive():  # short joins: signal handlers run in between
                    t.join(0.2)
        except BaseException:  # a second Ctrl-C: stop without waiting
            self.stop.set()
            raise
        finally:
            self._bar.close()
            cv2.setNumThreads(cv2_threads)
        return self.entries

    def _open_all(self, jobs: list[Job], opened: queue.Queue) -> None:
        try:
            for job in jobs:
                if self.stop.is_set():
                    break
                item = self._open(job)
                while not self.stop.is_set():
                    try:
                        opened.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                else:
                    item.close()
        finally:
            for _ in range(self.jobs):
                opened.put(None)

    def _open(self, job: Job) -> _Opened:
        """Check the record, then open the input and start decoding it.

        Without --overwrite an output there is written over only if this batch made it from
        the same input with the same settings and it is no longer whole (the input changed,
        or the file was damaged); one made otherwise is kept and the file fails, as a
        one-file fill keeps it; one with no record is left to `fill_video`, which refuses it.
        """
        if job.error:
            return _Opened(job, error=job.error)
        try:
            done = last_complete(self.records, job.name)
            if not self.overwrite and is_complete(done, self.out_dir, job.input, self.key):
                return _Opened(job, skip=done)
            there = done is not None and os.path.lexists(self.out_dir / job.name)
            same = done is not None and (done.input, done.settings) == (str(job.input), self.key)
            if done is not None and there and not same and not self.overwrite:
                return _Opened(job, error=_made_otherwise(done, job))
            source = source_key(job.input)
            reader = ReadAhead(job.input, self.options.get("fps"), self.stop)
        except Exception as err:
            return _Opened(job, error=_reason(err))
        return _Opened(job, reader, replace=self.overwrite or (there and same), source=source)

    def _work(self, opened: queue.Queue) -> None:
        torch = sys.modules.get("torch")  # loaded by the model's making, if the method has one
        if torch is not None:
            torch.set_num_threads(self.threads)  # this thread's own (OpenMP) thread count
        synth = _own_flow(self.synth.fork())
        while (item := opened.get()) is not None:  # taken to the end, so the opener never waits
            try:
                entry = self._fill(item, synth)
                if entry is not None:
                    self._record(entry)
            except Exception as err:  # the record cannot be kept (OUTDIR gone, disk full)
                self.error = self.error or err
                self.stop.set()
            finally:
                item.close()

    def _fill(self, item: _Opened, synth: Synthesizer) -> FileEntry | None:
        job = item.job
        entry = FileEntry(str(job.input), job.name, "failed", settings=self.key,
                          rank=self.ranks.rank, run=self.run_id)  # fmt: skip
        if self.stop.is_set():
            return None  # never started: the summary marks it not done
        if item.skip is not None:
            return replace(item.skip, status="skipped", rank=entry.rank, run=entry.run,
                           time=time.time())  # fmt: skip
        if item.error is not None:
            return replace(entry, reason=item.error, time=time.time())
        output = self.out_dir / job.name
        made: list[Path] = []  # subfolders of a --recursive batch this file's worker made
        try:
            for folder in reversed(output.parents):
                if folder.is_relative_to(self.out_dir) and not folder.exists():
                    try:
                        folder.mkdir()
                        made.append(folder)
                    except FileExistsError:  # another worker's (or the user's) meanwhile
                        pass
            result = fill_video(job.input, output, **self.options, method=self.settings["method"],
                                overwrite=item.replace, progress=self.progress,
                                synthesizer=synth.fork(), reader=item.reader)  # fmt: skip
            size, sha = digest(output)
        except Stopped:
            _remove_empty(made)
            return replace(entry, status="not done", reason="interrupted", time=time.time())
        except Exception as err:  # this file fails, the batch goes on
            log.debug("%s failed", job.input, exc_info=True)
            _remove_empty(made)
            return replace(entry, reason=_reason(err), time=time.time())
        return replace(entry, status="done", frames=result.n_slots, kept=result.n_kept,
                       synthesized=result.n_filled, gaps=len(result.gaps), method=result.method,
                       seconds=result.seconds, size=size, sha256=sha, source=item.source,
                       time=time.time(), report=json.loads(result.to_json()))  # fmt: skip

    def _record(self, entry: FileEntry) -> None:
        self.journal.add(entry)
        self.entries.append(entry)
        if entry.status == "done":
            self._frames += entry.frames or 0
        if self._bar is not None:
            rate = self._frames / max(1e-9, time.perf_counter() - self._t0)
            self._bar.set_postfix_str(f"{rate:.1f} frames/s", refresh=False)
            self._bar.update(1)
        if self.on_file is not None:
            try:
                self.on_file(entry)
            except Exception:  # a reporting problem must not lose the batch
                log.exception("on_file failed")


_DIS_SETTINGS = ("CoarsestScale", "FinestScale", "GradientDescentIterations", "PatchSize",
                 "PatchStride", "UseMeanNormalization", "UseSpatialPropagation",
                 "VariationalRefinementAlpha", "VariationalRefinementDelta",
                 "VariationalRefinementEpsilon", "VariationalRefinementGamma",
                 "VariationalRefinementIterations")  # fmt: skip


def _own_flow(synth: Synthesizer) -> Synthesizer:
    """`synth` with an optical-flow object of its own: OpenCV's DIS keeps working buffers, so
    two threads must not share one (forks share it, for use in one thread)."""
    dis = getattr(synth, "dis", None)
    if isinstance(dis, cv2.DISOpticalFlow):
        twin = cv2.DISOpticalFlow.create()
        for name in _DIS_SETTINGS:
            getattr(twin, "set" + name)(getattr(dis, "get" + name)())
        synth.dis = twin  # type: ignore[attr-defined]
    return synth


def _remove_empty(folders: list[Path]) -> None:
    """Take back the subfolders made for an output that was not written."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # not empty: another file's output is there too
            return


def _made_otherwise(done: FileEntry, job: Job) -> str:
    """Why an earlier output of `job` is kept without --overwrite."""
    if done.input != str(job.input):
        return f"exists, made from another input ({done.input}); --overwrite redoes it"
    return "exists, made with other settings; --overwrite redoes it"


def _reason(err: BaseException) -> str:
    """One line on why a file failed."""
    if isinstance(err, FramepredError):
        return str(err)
    if isinstance(err, MemoryError):
        return "out of memory"
    if isinstance(err, OSError):
        return f"{err.strerror or err}: {err.filename or ''}".strip(": ")
    return f"{type(err).__name__}: {err}"
