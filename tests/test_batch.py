"""`framepred fill IN... -o OUTDIR` and `framepred.fill_many`: batch mode, isolated failures,
resume, clean interruption, and a two-rank run under torchrun (gloo, CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import badmedia as bm
import pytest
from click.testing import CliRunner
from conftest import gappy, moving_scene, read_all, sha256, write_video

import framepred
from cli.main import cli
from framepred.batch import distributed, inputs
from framepred.batch.summary import SUMMARY
from framepred.errors import VideoWriteError

ROOT = Path(__file__).parents[1]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def clip(path: Path, n: int = 14, seed: int = 0, size: tuple[int, int] = (64, 48)) -> Path:
    """A small lossless clip with two gaps (slots 3-4 and n-5)."""
    keep = [i for i in range(n) if i not in {3, 4, n - 5}]
    scene = lambda i: moving_scene(i, *size, seed=seed)  # noqa: E731
    return write_video(path, gappy(keep, scene=scene))


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative name -> hash)."""
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def summary(out: Path) -> dict[str, dict]:
    return {f["output"]: f for f in json.loads((out / SUMMARY).read_text())["files"]}


def single(src: Path, dest: Path) -> Path:
    """The one-file `fill` of `src` (the reference a batch must match)."""
    dest.parent.mkdir(exist_ok=True)
    result = run("fill", src, "-o", dest, "--method", "flow", "--no-progress")
    assert result.exit_code == 0, result.output
    return dest


# ------------------------------------------------------------------ which mode, which inputs
def test_batch_mode_rule(tmp_path):
    video = clip(tmp_path / "a.mkv")
    images = tmp_path / "frames"
    images.mkdir()
    (images / "f001.png").write_bytes(b"")
    videos = tmp_path / "videos"
    videos.mkdir()
    clip(videos / "b.mkv")
    assert not inputs.is_batch([video]) and not inputs.is_batch([images])
    assert inputs.is_batch([videos])  # a folder of videos
    assert inputs.is_batch([video, video]) and inputs.is_batch([tmp_path / "*.mkv"])
    assert inputs.is_batch([video], recursive=True) and inputs.is_batch([video], format="mkv")


def test_collect_names_recursion_and_clashes(tmp_path):
    lib = tmp_path / "lib"
    (lib / "day 2").mkdir(parents=True)
    (lib / "seq").mkdir()
    for name in ("a.mkv", "a.mp4", "b.v1.mkv", "notes.txt", ".hidden.mkv", "day 2/c.mkv"):
        (lib / name).write_bytes(b"x")
    (lib / "seq" / "0001.png").write_bytes(b"x")
    out = lib / "out"
    out.mkdir()
    (out / "old.mkv").write_bytes(b"x")  # OUTDIR inside the input folder is never read
    flat = inputs.collect([lib], out, "png")
    assert [(j.name, j.error is None) for j in flat] == [
        ("a", True), ("a", False), ("b_v1", True)]  # fmt: skip
    assert "same output name" in (flat[1].error or "")
    deep = {j.name: j for j in inputs.collect([lib], out, "mkv", recursive=True)}
    assert sorted(deep) == ["a.mkv", "b.v1.mkv", "day 2/c.mkv", "seq.mkv"]
    assert deep["seq.mkv"].input == (lib / "seq").resolve()  # an image folder is one input
    missing = inputs.collect([tmp_path / "nope.mp4", lib / "a.mkv"], out, "mp4")
    assert [j.error for j in missing] == [None, f"no such file or folder: {tmp_path / 'nope.mp4'}"]
    with pytest.raises(framepred.errors.FramepredError, match="no input matches"):
        inputs.collect([str(tmp_path / "*.avi")], out)


@pytest.mark.parametrize(
    "extra, code, phrase",
    [
        (("-o", "{tmp}/x.mkv"), 2, "need an output folder"),
        (("-o", "{tmp}/o", "--report", "{tmp}/r.json"), 2, "framepred-summary.json"),
        (("-o", "{tmp}/o", "--model", "nosuch"), 1, "no such checkpoint"),
        (("-o", "{tmp}"), 1, "may not be an input folder"),
    ],
)
def test_batch_usage_errors_create_nothing(tmp_path, extra, code, phrase):
    clip(tmp_path / "a.mkv")
    clip(tmp_path / "b.mkv")
    result = run("fill", tmp_path, *(a.format(tmp=tmp_path) for a in extra), "--no-progress")
    assert result.exit_code == code and phrase in result.output, result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mkv", "b.mkv"]


def test_rank_share_threads_and_environment(monkeypatch):
    items = list(range(7))
    parts = [distributed.share(items, distributed.Ranks(r, 3)) for r in range(3)]
    assert parts == [[0, 3, 6], [1, 4], [2, 5]]
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "SLURM_PROCID",
                "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    assert distributed.detect() == distributed.Ranks()
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "2(x2)")
    assert distributed.detect() == distributed.Ranks(3, 4, 1, 2, "slurm")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.detect() == distributed.Ranks(1, 2, 1, 2, "torchrun")
    cores = len(os.sched_getaffinity(0))
    assert distributed.threads_per_job(2, distributed.Ranks(0, 1)) == max(1, cores // 2)


# ------------------------------------------------------------------ a folder, good and bad
def test_folder_of_good_and_bad_files(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    good = [clip(lib / "one.mkv"), clip(lib / "two.mkv", seed=1), bm.seven_by_five(lib),
            bm.grayscale(lib)]  # fmt: skip
    bad = {bm.empty_file(lib): "file is empty", bm.random_bytes(lib): "not a readable video",
           bm.mp4_without_moov(lib): "not a readable video",
           bm.huge_frame_size_mkv(lib): "is too large"}  # fmt: skip
    (lib / "notes.txt").write_text("not a video: ignored")
    before = tree(lib)
    out = tmp_path / "out"
    result = run("fill", lib, "-o", out, "--format", "png", "--method", "flow", "--no-progress")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert [ln for ln in result.output.splitlines() if ln.startswith("Error:")] == [
        f"Error: 4 of 8 files failed ({out / SUMMARY})"]  # fmt: skip
    assert tree(lib) == before  # inputs untouched, nothing written beside them
    names = {src.stem.replace(".", "_") for src in good}
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, SUMMARY])
    for src in good:  # bit-identical to the one-file fill (PNG frames)
        assert sha256(out / src.stem) == sha256(single(src, tmp_path / "single" / src.stem))
    entries = summary(out)
    for src, phrase in bad.items():
        entry = entries[src.stem]
        assert entry["status"] == "failed" and phrase in entry["reason"], entry
        assert f"failed {src}: " in result.output
    for name in names:
        assert entries[name]["status"] == "done" and entries[name]["frames"] > 0
    assert entries["one"]["synthesized"] == 3 and entries["one"]["gaps"] == 2
    assert entries["one"]["report"]["n_filled"] == 3


def test_outputs_match_single_fill_with_the_shipped_model_and_jobs(tmp_path):
    srcs = [clip(tmp_path / f"{k}.mkv", n=12, seed=k % 2) for k in range(3)]
    out = tmp_path / "out"
    got = framepred.fill_many(srcs, out, format="mkv", jobs=2, progress=False)
    assert got.ok and got.counts["done"] == 3
    for src in srcs:
        ref = tmp_path / f"ref_{src.stem}.mkv"
        framepred.fill_video(src, ref, progress=False)
        frames = [f.image.tobytes() for f in read_all(out / f"{src.stem}.mkv")[1]]
        assert frames == [f.image.tobytes() for f in read_all(ref)[1]]


def test_recursive_batch_mirrors_the_tree(tmp_path):
    lib = tmp_path / "lib"
    (lib / "cam 1").mkdir(parents=True)
    (lib / "cam 2").mkdir()
    clip(lib / "top.mkv")
    clip(lib / "cam 1" / "a.mkv", seed=1)
    bm.empty_file(lib / "cam 2")
    out = tmp_path / "out"
    got = framepred.fill_many([lib], out, recursive=True, format="mkv", method="flow",
                              progress=False)  # fmt: skip
    assert [(f.output, f.status) for f in got.files] == [
        ("cam 1/a.mkv", "done"), ("cam 2/empty.mkv", "failed"), ("top.mkv", "done")]  # fmt: skip
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "cam 1", "cam 1/a.mkv", SUMMARY, "top.mkv"]  # no folder for the failed file  # fmt: skip


# ------------------------------------------------------------------ resume
def test_rerun_skips_complete_files_and_redoes_a_tampered_one(tmp_path):
    srcs = [clip(tmp_path / "a.mkv"), clip(tmp_path / "b.mkv", seed=1)]
    out = tmp_path / "out"
    args = ("fill", *srcs, "-o", out, "--format", "mkv", "--method", "flow", "--no-progress")
    assert run(*args).exit_code == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert {e["status"] for e in summary(out).values()} == {"skipped"}
    assert all(out.joinpath(n).stat().st_mtime_ns == t for n, t in stamps.items() if n != SUMMARY)
    (out / "b.mkv").write_bytes((out / "b.mkv").read_bytes()[:-100])  # damaged after the fact
    third = run(*args)
    assert third.exit_code == 0, third.output
    assert {k: e["status"] for k, e in summary(out).items()} == {"a.mkv": "skipped",
                                                                 "b.mkv": "done"}  # fmt: skip
    assert len(read_all(out / "b.mkv")[1]) == 14
    assert sorted(p.name for p in out.iterdir()) == ["a.mkv", "b.mkv", SUMMARY]


def test_a_run_killed_before_its_summary_resumes_from_its_journal(tmp_path, monkeypatch):
    from framepred.batch import runner

    srcs = [clip(tmp_path / "a.mkv"), clip(tmp_path / "b.mkv", seed=1)]
    out = tmp_path / "out"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if the process died before it merged

    with monkeypatch.context() as m:
        m.setattr(runner, "merge", killed)
        with pytest.raises(KeyboardInterrupt):
            framepred.fill_many(srcs, out, format="mkv", method="flow", progress=False)
    assert not (out / SUMMARY).exists() and list(out.glob(".framepred-summary.rank0.jsonl"))
    again = framepred.fill_many(srcs, out, format="mkv", method="flow", progress=False)
    assert [f.status for f in again.files] == ["skipped", "skipped"]
    assert sorted(p.name for p in out.iterdir()) == ["a.mkv", "b.mkv", SUMMARY]


@pytest.mark.parametrize("text", ["my notes\n", '{"a": 1}\n{"end": "x"}\n'])
def test_a_users_file_named_like_a_journal_stops_the_batch_before_any_work(tmp_path, text):
    src = clip(tmp_path / "a.mkv")
    out = tmp_path / "out"
    out.mkdir()
    journal = out / ".framepred-summary.rank0.jsonl"  # appended to, then removed once merged
    journal.write_text(text)
    with pytest.raises(VideoWriteError, match="not a batch journal framepred wrote"):
        framepred.fill_many([src], out, format="mkv", method="flow", progress=False)
    assert sorted(p.name for p in out.iterdir()) == [journal.name]
    assert journal.read_text() == text


def test_an_output_framepred_did_not_write_is_never_replaced(tmp_path):
    srcs = [clip(tmp_path / "a.mkv"), clip(tmp_path / "b.mkv", seed=1)]
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.mkv").write_bytes(b"someone else's")
    got = framepred.fill_many(srcs, out, format="mkv", method="flow", progress=False)
    assert not got.ok and "not written by framepred" in (got.files[0].reason or "")
    assert (out / "a.mkv").read_bytes() == b"someone else's" and got.files[1].status == "done"
    redo = framepred.fill_many(srcs, out, format="mkv", method="flow", progress=False,
                               overwrite=True)  # fmt: skip
    # --overwrite replaces only what framepred wrote: the user's file stays, listed as failed
    assert [f.status for f in redo.files] == ["failed", "done"]
    assert "not written by framepred" in (redo.files[0].reason or "")
    assert (out / "a.mkv").read_bytes() == b"someone else's"


def test_a_rerun_with_other_settings_keeps_the_outputs_without_overwrite(tmp_path):
    """Like a one-file fill: an output made with other settings is not replaced unless
    --overwrite; that file fails with the reason, the others go on, and it stays on record."""
    srcs = [clip(tmp_path / "a.mkv"), clip(tmp_path / "b.mkv", seed=1)]
    out = tmp_path / "out"
    base = ("fill", *srcs, "-o", out, "--format", "mkv", "--no-progress")
    assert run(*base, "--method", "flow").exit_code == 0
    before = tree(out)
    (out / "b.mkv").unlink()  # b is missing: made now, with the new settings
    changed = run(*base, "--method", "blend")
    assert changed.exit_code == 1, changed.output
    reason = "exists, made with other settings; --overwrite redoes it"
    lines = changed.output.splitlines()
    assert any(line.startswith("failed ") and line.endswith(reason) for line in lines), lines
    entries = summary(out)
    assert entries["a.mkv"]["status"] == "failed" and entries["b.mkv"]["status"] == "done"
    assert sha256(out / "a.mkv") == before["a.mkv"]  # kept, byte for byte
    earlier = json.loads((out / SUMMARY).read_text())["earlier"]
    assert [e["output"] for e in earlier] == ["a.mkv"]  # still on record
    # Back to the first settings: a is whole for them, so it is skipped, not refused.
    again = run(*base, "--method", "flow")
    assert again.exit_code == 1, again.output  # b is now blend's
    assert summary(out)["a.mkv"]["status"] == "skipped"
    assert "b.mkv" in again.output and "other settings" in again.output
    redo = run(*base, "--method", "blend", "--overwrite")
    assert redo.exit_code == 0, redo.output
    assert {e["status"] for e in summary(out).values()} == {"done"}
    assert sha256(out / "a.mkv") != before["a.mkv"]


def test_an_output_made_from_another_input_of_that_name_is_kept(tmp_path):
    (tmp_path / "x").mkdir(), (tmp_path / "y").mkdir()
    first, second = clip(tmp_path / "x" / "a.mkv"), clip(tmp_path / "y" / "a.mkv", seed=1)
    out = tmp_path / "out"
    fill = dict(format="mkv", method="flow", progress=False)
    assert framepred.fill_many([first], out, **fill).ok
    kept = sha256(out / "a.mkv")
    got = framepred.fill_many([second], out, **fill)
    assert [f.status for f in got.files] == ["failed"]
    assert (
        got.files[0].reason == f"exists, made from another input ({first}); --overwrite redoes it"
    )
    assert sha256(out / "a.mkv") == kept
    assert framepred.fill_many([second], out, **fill, overwrite=True).ok


# ------------------------------------------------------------------ interruption
def _check_interrupted(out: Path, stopped_in: str | None, n: int = 8) -> None:
    """The file in progress left nothing, finished ones stayed, the rest are `not done`."""
    assert [p for p in out.rglob("*") if "partial" in p.name] == []
    entries = summary(out)
    done = sorted(k for k, e in entries.items() if e["status"] == "done")
    assert len(entries) == n and 1 <= len(done) < n and stopped_in not in done
    assert {e["status"] for k, e in entries.items() if k not in done} == {"not done"}
    if stopped_in is not None:  # a file was in progress
        assert entries[stopped_in]["reason"] == "interrupted"
    assert sorted(p.name for p in out.iterdir()) == sorted([*done, SUMMARY])
    for name in done:
        assert len(read_all(out / name)[1]) == 40


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_file_stops_cleanly(tmp_path, monkeypatch, sig):
    """The signal arrives while the second file is half written."""
    import threading

    from framepred.batch import runner

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers need the main thread")
    srcs = [clip(tmp_path / f"c{k}.mkv", n=40) for k in range(4)]
    read = runner.ReadAhead.__iter__

    def read_then_signal(self):
        for i, frame in enumerate(read(self)):
            if self.path.name == "c1.mkv" and i == 10:
                os.kill(os.getpid(), sig)
                assert self._stop.wait(10)
            yield frame

    monkeypatch.setattr(runner.ReadAhead, "__iter__", read_then_signal)
    handler = signal.getsignal(sig)
    out = tmp_path / "out"
    result = run("fill", *srcs, "-o", out, "--format", "mkv", "--method", "flow", "--no-progress")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Error: interrupted" in result.output and f"stopped {srcs[1]}" in result.output
    _check_interrupted(out, "c1.mkv", n=4)
    assert json.loads((out / SUMMARY).read_text())["interrupted"] is True
    assert signal.getsignal(sig) == handler  # given back


def test_sigint_to_a_batch_process_stops_it_cleanly(tmp_path):
    srcs = [clip(tmp_path / f"c{k}.mkv", n=40, size=(320, 240)) for k in range(8)]
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "framepred", "fill", *map(str, srcs), "-o", str(out),
           "--format", "mkv", "--method", "flow", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # stop it as soon as the first file is done
        lines.append(line)
        if line.startswith("done "):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 1, "".join(lines) + rest
    assert "Traceback" not in rest and "Error: interrupted" in rest
    stopped = [ln.split()[1].rstrip(":") for ln in rest.splitlines() if ln.startswith("stopped ")]
    _check_interrupted(out, Path(stopped[0]).name if stopped else None)


# ------------------------------------------------------------------ several processes
def _torchrun(srcs, out, *extra) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "framepred", "fill", *map(str, srcs), "-o", str(out), "--format", "png",
           "--method", "flow", "--no-progress", *extra]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


def test_two_ranks_fill_each_file_once_like_one_process(tmp_path):
    srcs = [clip(tmp_path / f"v{k}.mkv", seed=k % 2) for k in range(5)]
    proc = _torchrun(srcs, tmp_path / "ddp")
    assert proc.returncode == 0, proc.stderr[-3000:]
    alone = framepred.fill_many(srcs, tmp_path / "one", format="png", method="flow",
                                progress=False)  # fmt: skip
    assert alone.ok
    entries = summary(tmp_path / "ddp")
    assert sorted(entries) == [f"v{k}" for k in range(5)]
    assert {e["status"] for e in entries.values()} == {"done"}
    assert sorted(e["rank"] for e in entries.values()) == [0, 0, 0, 1, 1]  # index % 2
    for k in range(5):
        assert proc.stderr.count(f"done {srcs[k]} ") == 1  # filled exactly once
        assert sha256(tmp_path / "ddp" / f"v{k}") == sha256(tmp_path / "one" / f"v{k}")
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == sorted(
        [*(f"v{k}" for k in range(5)), SUMMARY])  # no journals left  # fmt: skip


def test_ranks_without_a_process_group_meet_through_the_journals(tmp_path):
    """RANK/WORLD_SIZE but no MASTER_ADDR: rank 0 polls for rank 1's finished journal."""
    srcs = [clip(tmp_path / f"v{k}.mkv", seed=k % 2) for k in range(3)]
    out = tmp_path / "out"
    base = {k: v for k, v in os.environ.items() if k not in ("MASTER_ADDR", "MASTER_PORT")}
    code = ("import sys, framepred; s = framepred.fill_many(sys.argv[2:], sys.argv[1], "
            "format='png', method='flow', progress=False); sys.exit(0 if s.ok else 1)")  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-c", code, str(out), *map(str, srcs)],
                              env={**base, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                                   "RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r),
                                   "TORCHELASTIC_RUN_ID": f"test-{tmp_path.name}"},
                              stderr=subprocess.PIPE, text=True) for r in (1, 0)]  # fmt: skip
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    entries = summary(out)
    assert sorted((k, e["status"], e["rank"]) for k, e in entries.items()) == [
        ("v0", "done", 0), ("v1", "done", 1), ("v2", "done", 0)]  # fmt: skip
    assert not list(out.glob(".framepred-summary.rank*"))


def test_a_users_file_named_like_the_summary_stops_the_batch_before_any_work(tmp_path):
    srcs = [clip(tmp_path / "a.mkv"), clip(tmp_path / "b.mkv", seed=1)]
    out = tmp_path / "out"
    out.mkdir()
    (out / SUMMARY).write_text('{"mine": true}')
    result = run("fill", *srcs, "-o", out, "--format", "mkv", "--method", "flow", "--no-progress")
    assert result.exit_code == 1 and "not written by framepred" in result.output, result.output
    assert sorted(p.name for p in out.iterdir()) == [SUMMARY]
    assert (out / SUMMARY).read_text() == '{"mine": true}'
