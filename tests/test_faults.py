"""Fault injection: killed runs, interrupted fills, a full disk, and a diverging training step.

What must survive: a training run killed with SIGKILL resumes from its last checkpoint and
ends at the step count it was asked for; `fill` stopped by SIGINT, SIGTERM or SIGKILL leaves
the previous output as it was (or none) and nothing outside its output folder; training
stopped by SIGTERM exits 1 with one line and leaves whole checkpoints and no partial file; a full disk is
one clear error line with no output; a NaN/inf loss stops training with a clear error and
no checkpoint of the broken step.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import moving_scene, read_all, sha256, tiny_config, write_video
from lightning.pytorch.callbacks import Callback

import framepred.io.atomic
from cli.main import cli
from framepred.errors import TrainingError
from framepred.io.marks import record_output
from framepred.train.fit import train
from framepred.train.run_folder import RUN_MARK

REPO = Path(__file__).resolve().parents[1]


def _framepred(*args, tmpdir: Path) -> subprocess.Popen:
    """`python -m framepred ARGS` in a child process with its own empty TMPDIR (and Python's
    fault handler on, so that `_finish` can make a hung child print every thread's stack)."""
    env = dict(os.environ, TMPDIR=str(tmpdir), OMP_NUM_THREADS="1", PYTHONPATH=str(REPO),
               PYTHONFAULTHANDLER="1")  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "framepred", *map(str, args)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[str, str]:
    """`proc.communicate`, but a child still running after `timeout` seconds is aborted
    (SIGABRT: the fault handler dumps all threads' stacks) and the test fails with them."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, stderr = proc.communicate(timeout=30)
        raise AssertionError(
            f"no exit {timeout:.0f} s after the signal:\n{stderr[-6000:]}"
        ) from None


def _wait_for(predicate, proc: subprocess.Popen, what: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before {what}: {proc.communicate()[1][-2000:]}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _step(ckpt: Path) -> int | None:
    """global_step of a complete checkpoint, None while it is missing or being written."""
    try:
        return int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])
    except Exception:
        return None


def _run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result


# -- training killed with SIGKILL, then --resume ----------------------------------------------


@pytest.mark.slow
def test_training_killed_mid_run_resumes_to_the_same_step_count(tmp_path, monkeypatch):
    out, steps = tmp_path / "run", 30
    args = ["train", "mmnist", "--out", out, "--preset", "tiny", "--batch-size", 2,
            "--val-every", 1000, "--ckpt-every", 2, "--max-steps", steps, "--no-progress"]  # fmt: skip
    (tmp_path / "tmp").mkdir()
    proc = _framepred(*args, tmpdir=tmp_path / "tmp")
    last = out / "checkpoints" / "last.ckpt"
    _wait_for(lambda: (_step(last) or 0) >= 2, proc, "the first checkpoint")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = _step(last)
    assert killed_at is not None and 2 <= killed_at < steps, killed_at

    # The resumed run only runs the steps that were missing, then stops at the same total.
    from framepred.train.pixel import FramePredictorModule

    calls = []
    step = FramePredictorModule.training_step
    monkeypatch.setattr(
        FramePredictorModule,
        "training_step",
        lambda self, batch, i: (calls.append(i), step(self, batch, i))[1],
    )
    result = _run(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip().splitlines()[-1]) == last
    assert _step(last) == steps
    assert len(calls) == steps - killed_at


# -- fill interrupted -------------------------------------------------------------------------


@pytest.fixture
def long_clip(tmp_path) -> Path:
    """2000 slots, every other one missing: a fill that runs for several seconds, so the
    signal lands while it writes even on a loaded machine."""
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    frames = [(Fraction(i, 25), moving_scene(i % 20)) for i in range(0, 2000, 2)]
    return write_video(src_dir / "clip.mkv", frames)


def _partials(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".partial" in p.name)


@pytest.mark.parametrize(
    "sig",
    [signal.SIGINT, signal.SIGTERM, pytest.param(signal.SIGKILL, marks=pytest.mark.slow)],
    ids=["SIGINT", "SIGTERM", "SIGKILL"],
)
def test_fill_interrupted_leaves_the_previous_output_or_none(tmp_path, long_clip, sig):
    out_dir, tmpdir = tmp_path / "out", tmp_path / "tmp"
    out_dir.mkdir()
    tmpdir.mkdir()
    out = out_dir / "filled.mkv"
    previous = sig == signal.SIGKILL  # SIGINT/TERM: no earlier output; SIGKILL: an earlier one
    if previous:
        out.write_bytes(b"the previous output")
        record_output(out)  # framepred's own: --overwrite may replace it
    before = sha256(long_clip)
    args = ["fill", long_clip, "-o", out, "--method", "flow", "--no-progress", "--overwrite"]
    proc = _framepred(*args, tmpdir=tmpdir)
    # Signal once frames are being written to the partial file (FFmpeg flushes 32 KiB).
    _wait_for(lambda: any(p.stat().st_size > 0 for p in _partials(out_dir)), proc, "frames written")
    proc.send_signal(sig)
    _, stderr = _finish(proc)

    assert sha256(long_clip) == before
    assert list(tmpdir.iterdir()) == []  # nothing outside the output's own folder
    assert sorted(p.name for p in long_clip.parent.iterdir()) == ["clip.mkv"]
    if previous:
        assert out.read_bytes() == b"the previous output"
    else:
        assert not out.exists()
    if sig != signal.SIGKILL:  # SIGTERM is handled exactly like Ctrl-C
        assert proc.returncode == 1
        assert stderr.strip().splitlines()[-1] == "Error: interrupted"
        assert "Traceback" not in stderr
        assert _partials(out_dir) == []
    else:
        # A killed process cannot clean up: its hidden partial stays, named with its pid...
        assert proc.returncode == -signal.SIGKILL
        stale = _partials(out_dir)
        assert len(stale) == 1 and f".{proc.pid}-" in stale[0].name
        # ...and the next write to that output removes it.
        result = _run(*args)
        assert result.exit_code == 0, result.output
        assert _partials(out_dir) == [] and len(read_all(out)[1]) == 1999


def test_training_stopped_by_sigterm_leaves_whole_checkpoints(tmp_path):
    out = tmp_path / "run"
    (tmp_path / "tmp").mkdir()
    proc = _framepred("train", "mmnist", "--out", out, "--preset", "tiny", "--batch-size", 2,
                      "--val-every", 1000, "--ckpt-every", 1, "--max-steps", 10_000,
                      "--no-progress", tmpdir=tmp_path / "tmp")  # fmt: skip
    last = out / "checkpoints" / "last.ckpt"
    _wait_for(lambda: (_step(last) or 0) >= 3, proc, "a few checkpoints")
    proc.send_signal(signal.SIGTERM)
    _, stderr = _finish(proc)
    assert proc.returncode == 1, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "Error: interrupted"
    assert "Traceback" not in stderr
    assert _partials(out / "checkpoints") == [] and list((tmp_path / "tmp").iterdir()) == []
    assert (_step(last) or 0) >= 3  # whole: it loads


def test_a_live_writers_partial_is_not_removed(tmp_path):
    target = tmp_path / "o.mkv"
    own = framepred.io.atomic.partial_path(target)  # this process's: a write in progress
    own.write_bytes(b"x")
    live = own.with_name(own.name.replace(f".{os.getpid()}-", f".{os.getppid()}-"))
    live.write_bytes(b"x")
    dead = tmp_path / ".o.999999999-0123abcd.partial.mkv"
    dead.write_bytes(b"x")
    other = tmp_path / ".other.999999999-0123abcd.partial.mkv"
    other.write_bytes(b"x")
    assert framepred.io.atomic.remove_stale_partials(target) == [dead]
    assert own.exists() and live.exists() and other.exists() and not dead.exists()


# -- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch):
    """Every atomic write goes to /dev/full (ENOSPC on write), through a symlink."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    make = framepred.io.atomic.partial_path
    links: list[Path] = []

    def to_dev_full(target: Path) -> Path:
        path = make(target)
        if target.suffix:  # files only; a folder output is a real folder
            path.symlink_to("/dev/full")
            links.append(path)
        return path

    monkeypatch.setattr(framepred.io.atomic, "partial_path", to_dev_full)
    return links


@pytest.mark.parametrize("suffix", [".mkv", ".mp4", ".gif"])
def test_full_disk_is_one_clear_error_and_no_output(tmp_path, gappy_mkv, full_disk, suffix):
    out = tmp_path / f"filled{suffix}"
    out.write_bytes(b"the previous output")
    record_output(out)  # framepred's own: --overwrite may replace it
    result = _run("fill", gappy_mkv, "-o", out, "--method", "flow", "--no-progress", "--overwrite")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: cannot write {out}: No space left on device"
    assert full_disk and not any(p.is_symlink() or p.exists() for p in full_disk)
    assert out.read_bytes() == b"the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["filled" + suffix, "gappy.mkv"]


def test_full_disk_for_png_frames(tmp_path, gappy_mkv, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)  # each PNG frame is written this way
    out = tmp_path / "frames"
    result = _run("fill", gappy_mkv, "-o", out, "--method", "flow", "--no-progress")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: cannot write {out}: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gappy.mkv"]


def test_full_disk_for_the_report_keeps_the_whole_video(tmp_path, gappy_mkv, monkeypatch):
    make = framepred.io.atomic.partial_path

    def json_to_dev_full(target: Path) -> Path:
        path = make(target)
        if target.suffix == ".json":
            path.symlink_to("/dev/full")
        return path

    monkeypatch.setattr(framepred.io.atomic, "partial_path", json_to_dev_full)
    out, report = tmp_path / "o.mkv", tmp_path / "r.json"
    result = _run("fill", gappy_mkv, "-o", out, "--method", "flow", "--report", report,
                  "--no-progress")  # fmt: skip
    assert result.exit_code == 1
    assert f"Error: wrote {out}, but cannot write {report}: No space left on device" in (
        result.output
    )
    assert len(read_all(out)[1]) == 30 and not report.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gappy.mkv", "o.mkv"]


# -- NaN / inf in a training step -------------------------------------------------------------


class _Poison(Callback):
    """Replace the inputs of one training step with NaN or inf."""

    def __init__(self, step: int, value: float) -> None:
        self.step, self.value = step, value

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            batch.fill_(self.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_step_is_reported_and_never_checkpointed(tmp_path, value):
    cfg = tiny_config(tmp_path / "run", max_steps=8, ckpt_every=2)
    with pytest.raises(TrainingError, match="non-finite train loss .* at step 3"):
        train(cfg, extra_callbacks=[_Poison(3, value)])
    ckpts = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert ckpts == [RUN_MARK, "last.ckpt"]  # the final save after training did not happen
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 2
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())


def test_a_diverging_run_is_one_error_line(tmp_path):
    result = _run("train", "mmnist", "--out", tmp_path / "run", "--preset", "tiny",
                  "--batch-size", 2, "--max-steps", 6, "--lr", 1e30, "--val-every", 1000,
                  "--no-progress")  # fmt: skip
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "non-finite train loss" in errors[0], result.output
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
