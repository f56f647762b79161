"""`train --out`: logs/ and checkpoints/ each carry their own mark, so a file the user put
there is never deleted or replaced by a rerun or a resume, while framepred's own run resumes."""

from __future__ import annotations

import csv
import hashlib
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import tiny_config

from cli.main import cli
from framepred.io.marks import json_text
from framepred.train.fit import _set_aside, train
from framepred.train.run_folder import RUN_MARK

TRAIN = ("--preset", "tiny", "--batch-size", "2", "--no-progress")


def _train(out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["train", "mmnist", "--out", str(out), *TRAIN, *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.mark.parametrize("held", ["logs/metrics.csv", "logs/notes.txt", "checkpoints/a.ckpt"])
def test_a_users_file_in_a_folder_marked_as_a_whole_is_refused(tmp_path, held):
    """The gap of the folder-wide mark: a run that stopped before its first checkpoint marked
    the whole --out, and the user's logs/metrics.csv there was deleted by the next run."""
    out = tmp_path / "project"
    (out / held).parent.mkdir(parents=True)
    (out / held).write_text("the user's own")
    (out / RUN_MARK).write_text(json_text({"run": str(out)}))  # the old, folder-wide mark
    before = _hashes(tmp_path)
    code, text = _train(out, "--max-steps", "1")
    assert code == 1 and len(text.strip().splitlines()) == 1, text
    assert "which a new run would replace" in text, text
    assert _hashes(tmp_path) == before


def test_a_mark_the_user_copied_in_proves_nothing(tmp_path):
    out = tmp_path / "project"
    (out / "logs").mkdir(parents=True)
    (out / "logs" / "metrics.csv").write_text("the user's own")
    (out / "logs" / RUN_MARK).write_text(json_text({"run": str(out), "folder": "logs"}))
    before = _hashes(tmp_path)
    code, text = _train(out, "--max-steps", "1")
    assert code == 1 and "which a new run would replace" in text, text
    assert _hashes(tmp_path) == before


@pytest.fixture
def run(tmp_path) -> Path:
    out = tmp_path / "run"
    code, text = _train(out, "--max-steps", "2", "--ckpt-every", "1")
    assert code == 0, text
    assert (out / "logs" / RUN_MARK).is_file() and (out / "checkpoints" / RUN_MARK).is_file()
    return out


@pytest.mark.parametrize("held", ["logs/mine.csv", "checkpoints/mine.ckpt", "logs/sub/x"])
def test_resume_refuses_a_users_file_in_its_run_folders(run, held):
    (run / held).parent.mkdir(exist_ok=True)
    (run / held).write_text("the user's own")
    before = _hashes(run)
    code, text = _train(run, "--max-steps", "3", "--resume")
    assert code == 1 and len(text.strip().splitlines()) == 1, text
    assert "was not written by framepred" in text, text
    assert _hashes(run) == before


def test_resume_of_framepreds_own_run_still_works(run):
    code, text = _train(run, "--max-steps", "3", "--resume")
    assert code == 0, text
    code, text = _train(run, "--max-steps", "4", "--resume")  # the marks are kept
    assert code == 0, text


def test_a_run_from_before_the_marks_still_resumes(run):
    for name in ("logs", "checkpoints"):
        (run / name / RUN_MARK).unlink()
    code, text = _train(run, "--max-steps", "3", "--resume")
    assert code == 0, text
    assert (run / "logs" / RUN_MARK).is_file()


def test_a_history_left_aside_by_a_killed_resume_is_kept(tmp_path):
    """A resume killed before it merged its log leaves metrics.before-resume.csv; the next
    resume folds it back in instead of replacing it."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "metrics.before-resume.csv").write_text("epoch,step,train/loss\n0,1,0.5\n0,2,0.4\n")
    (logs / "metrics.csv").write_text("epoch,step,train/loss\n0,3,0.3\n")
    aside = _set_aside(logs / "metrics.csv")
    assert aside is not None and not (logs / "metrics.csv").exists()
    with open(aside, newline="") as f:
        assert [r["step"] for r in csv.DictReader(f)] == ["1", "2", "3"]


def test_a_run_refused_for_its_folders_leaves_no_mark(tmp_path):
    out = tmp_path / "project"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "mine.ckpt").write_text("the user's own")
    with pytest.raises(Exception, match="which a new run would replace"):
        train(tiny_config(out, max_steps=1))
    assert sorted(p.name for p in out.rglob("*")) == ["checkpoints", "mine.ckpt"]


def test_a_fresh_run_does_not_warn_that_its_own_folders_are_not_empty(tmp_path):
    """The marks make logs/ and checkpoints/ non-empty before Lightning looks at them; its
    warnings ("Previous log files ... will be deleted") would alarm a user for nothing."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        code, text = _train(tmp_path / "project", "--max-steps", "1")
    assert code == 0, text
    said = [str(w.message) for w in got]
    assert not [m for m in said if "exists and is not empty" in m], said
