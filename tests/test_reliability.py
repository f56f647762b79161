"""Reliability, round 2 (issue 26): nothing a user owns is ever deleted or replaced, and nine
hostile inputs that used to get through.

Each test asserts the exit code, that no traceback is printed, that the inputs are unchanged
and that nothing outside the intended output is created or removed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from fractions import Fraction
from pathlib import Path

import badmedia as bm
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import gappy, moving_scene, read_all, write_video

import framepred
import framepred.io.atomic
from cli.main import cli
from framepred.cache import cache_dir
from framepred.errors import VideoWriteError
from framepred.io import marks
from framepred.io.atomic import MANIFEST, atomic_path, is_framepred_folder
from framepred.io.marks import is_framepred_file


def _run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output and "Warning" not in result.output, result.output
    return result.exit_code, result.output


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` with the hash of its bytes (folders and links by kind)."""
    snap = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            snap[rel] = f"link:{path.readlink()}"
        elif path.is_dir():
            snap[rel] = "dir"
        else:
            snap[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return snap


@pytest.fixture
def user_folder(tmp_path) -> Path:
    """A folder of the user's own files: a clip, an image folder, notes, a symlink."""
    user = tmp_path / "user"
    (user / "sub").mkdir(parents=True)
    write_video(user / "clip.mkv", gappy([0, 1, 3, 4, 5]))
    (user / "notes.txt").write_text("my notes")
    (user / "sub" / "photo.png").write_bytes(b"\x89PNG not really")
    frames = user / "frames"
    frames.mkdir()
    import cv2

    for i in (0, 1, 3):
        cv2.imwrite(str(frames / f"{i:04d}.png"), moving_scene(i))
    (user / "link").symlink_to(user)
    return user


# -- 1. --overwrite never deletes what framepred did not write --------------------------------

FILL = ("fill", "--method", "repeat", "--no-progress")
PREDICT = ("predict", "--method", "copy-last", "--horizon", "2", "--no-progress")


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("command", [FILL, PREDICT], ids=["fill", "predict"])
@pytest.mark.parametrize("source", ["clip.mkv", "frames"])
@pytest.mark.parametrize(
    "output",
    ["", "sub", "clip.mkv", "frames", "frames/out", "link", "link/sub", "sub/..", "../user",
     "notes.txt", "sub/photo.png", "link/clip.mkv"],
)  # fmt: skip
def test_no_output_option_touches_the_users_files(
    user_folder, tmp_path, command, source, output, overwrite
):
    if source == "clip.mkv" and output.startswith("frames/"):
        pytest.skip("a new path inside a folder that is not the input: a legitimate output")
    before = _snapshot(tmp_path)
    out = user_folder / output if output else user_folder
    extra = ["--overwrite"] if overwrite else []
    code, text = _run(command[0], user_folder / source, "-o", out, *command[1:], *extra)
    assert code == 1, text
    assert text.startswith("Error: ") and len(text.strip().splitlines()) == 1, text
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("option", ["--report", "--plot", "--json"])
def test_side_outputs_never_land_on_the_input(user_folder, tmp_path, option, overwrite):
    before = _snapshot(tmp_path)
    src = user_folder / "clip.mkv"
    if option == "--report":
        args = [*FILL[:1], src, "-o", tmp_path / "o.mkv", *FILL[1:], option, src]
    else:
        args = ["eval", src, "--methods", "repeat", option, src]
    code, text = _run(*args, *(["--overwrite"] if overwrite and option == "--report" else []))
    assert code == 1 and "is the input" in text, text
    assert _snapshot(tmp_path) == before


def test_report_file_is_replaced_only_with_overwrite(user_folder, tmp_path):
    src, out, report = user_folder / "clip.mkv", tmp_path / "o.mkv", user_folder / "notes.txt"
    before = _snapshot(tmp_path)
    code, text = _run(*FILL[:1], src, "-o", out, *FILL[1:], "--report", report)
    assert code == 1 and "not written by framepred" in text and _snapshot(tmp_path) == before


def test_overwrite_replaces_only_a_folder_framepred_wrote(user_folder, tmp_path):
    src, out = user_folder / "clip.mkv", tmp_path / "png"
    assert _run(*FILL[:1], src, "-o", out, *FILL[1:])[0] == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["tool"] == "framepred" and manifest["frames"] == 6
    assert sorted(manifest["files"]) == sorted(p.name for p in out.glob("*.png"))
    assert is_framepred_folder(out)
    code, _ = _run(*FILL[:1], src, "-o", out, *FILL[1:], "--overwrite")
    assert code == 0 and len(list(out.glob("*.png"))) == 6

    # A file of the user's inside it: the folder is no longer only framepred's.
    (out / "mine.txt").write_text("keep me")
    before = _snapshot(tmp_path)
    code, text = _run(*FILL[:1], src, "-o", out, *FILL[1:], "--overwrite")
    assert code == 1 and "framepred did not write" in text, text
    assert _snapshot(tmp_path) == before

    # A PNG folder without the manifest (the user's own frames) is never replaced.
    (out / "mine.txt").unlink()
    (out / MANIFEST).unlink()
    before = _snapshot(tmp_path)
    code, text = _run(*FILL[:1], src, "-o", out, *FILL[1:], "--overwrite")
    assert code == 1 and "framepred did not write" in text, text
    assert _snapshot(tmp_path) == before


def test_a_manifest_cannot_name_files_outside_its_folder(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (tmp_path / "victim.txt").write_text("x")
    (folder / MANIFEST).write_text(json.dumps({"tool": "framepred", "files": ["../victim.txt"]}))
    assert not is_framepred_folder(folder)


# -- 1b. --overwrite replaces a file only if framepred wrote it (its mark, or its registry) ----


def _users_own(path: Path) -> Path:
    """A genuine file of the user's in `path`'s format (not written by framepred)."""
    import cv2
    from PIL import Image

    suffix = path.suffix
    if suffix in (".mkv", ".mp4"):
        write_video(path, gappy([0, 1, 2]))
    elif suffix == ".gif":
        images = [Image.fromarray(moving_scene(i)) for i in range(3)]
        images[0].save(path, save_all=True, append_images=images[1:], comment=b"my holiday")
    elif suffix == ".png":
        cv2.imwrite(str(path), moving_scene(0))
    elif suffix == ".npy":
        np.save(path, np.zeros((2, 16, 16), np.uint8))
    else:
        path.write_text(json.dumps({"mine": True, "tool": "something else"}))
    return path


def _run_dir(root: Path) -> Path:
    """A `framepred train --out` folder holding only a CSVLogger file."""
    logs = root / "run" / "logs"
    logs.mkdir(parents=True)
    rows = ["epoch,step,train/loss,val/loss"] + [
        f"0,{s},{1 / s:.4f},{1.1 / s:.4f}" for s in (10, 20)
    ]
    (logs / "metrics.csv").write_text("\n".join(rows) + "\n")
    return root / "run"


def _writer(tmp_path: Path, name: str) -> tuple[list, Path]:
    """The command line that writes `name` (in `out/`) as its output, and that path."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    clip = tmp_path / "c.mkv"
    if not clip.exists():
        write_video(clip, gappy([0, 1, 3, 4, 5, 6, 7]))
    target = out / name
    if name.endswith(".npy"):
        src = tmp_path / "p.npy"
        np.save(src, np.zeros((4, 16, 16), np.uint8))
        return ["predict", src, "-o", target, "--horizon", 1], target
    if name == "report.json":
        return [*FILL[:1], clip, "-o", out / "filled.mkv", *FILL[1:], "--report", target], target
    if name.startswith("eval"):
        flag = "--plot" if name.endswith(".png") else "--json"
        return ["eval", clip, "--methods", "repeat", "--pattern", "x2", flag, target,
                "--no-progress"], target  # fmt: skip
    if name == "loss.png":
        return ["plot", _run_dir(tmp_path), "-o", target], target
    if name == "o_strip.png":  # predict --compare's strip beside o.mkv
        return ["predict", clip, "-o", out / "o.mkv", "--method", "copy-last", "--horizon", 2,
                "--context", 2, "--start", 3, "--compare", "--no-progress"], target  # fmt: skip
    return [*FILL[:1], clip, "-o", target, *FILL[1:]], target


OUTPUTS = ["o.mkv", "o.mp4", "o.gif", "o.npy", "report.json", "eval.png", "eval.json",
           "loss.png", "o_strip.png"]  # fmt: skip


@pytest.mark.parametrize("name", OUTPUTS)
def test_overwrite_never_replaces_a_users_file(tmp_path, name):
    args, target = _writer(tmp_path, name)
    _users_own(target)
    before = _snapshot(tmp_path)
    for extra in ([], ["--overwrite"]):
        code, text = _run(*args, *extra)
        assert code == 1 and len(text.strip().splitlines()) == 1, text
        # the same refusal with or without --overwrite, which would not help
        assert "was not written by framepred; not replaced" in text, text
        assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("name", OUTPUTS)
def test_overwrite_replaces_framepreds_own_earlier_output(tmp_path, name):
    args, target = _writer(tmp_path, name)
    assert _run(*args)[0] == 0 and is_framepred_file(target)
    earlier = target.stat().st_ino
    if name == "o_strip.png":  # the other outputs of the run are framepred's too
        assert is_framepred_file(tmp_path / "out" / "o.mkv")
        assert is_framepred_file(tmp_path / "out" / "o_compare.mkv")
    code, text = _run(*args)
    assert code == 1 and "--overwrite" in text, text
    code, text = _run(*args, "--overwrite")
    assert code == 0, text
    assert target.stat().st_ino != earlier and is_framepred_file(target)


def test_marks_read_back_with_other_readers(tmp_path):
    """Each format's mark is where other tools find it: the container's comment tag (PyAV),
    the PNG's Software text (Pillow), the GIF's comment (FFmpeg), JSON's first key."""
    import av
    from PIL import Image

    clip = write_video(tmp_path / "a.mp4", gappy(range(8)), audio_seconds=0.3)
    for name in ("o.mp4", "o.mkv", "o.gif", "frames"):
        assert _run(*FILL[:1], clip, "-o", tmp_path / name, *FILL[1:])[0] == 0
    for name in ("o.mp4", "o.mkv"):  # these two went through the audio remux
        with av.open(str(tmp_path / name)) as container:
            tags = {k.lower(): v for k, v in container.metadata.items()}
            assert container.streams.audio, name
        assert tags["comment"] == f"framepred {framepred.__version__}"
    with av.open(str(tmp_path / "o.gif")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 8  # still a whole animation
        assert container.metadata["comment"] == f"framepred {framepred.__version__}"
    for png in sorted((tmp_path / "frames").glob("*.png")):
        with Image.open(png) as image:
            assert image.text["Software"].startswith("framepred ")
    args, plot = _writer(tmp_path, "eval.png")
    assert _run(*args)[0] == 0
    with Image.open(plot) as image:
        assert image.text["Software"] == f"framepred {framepred.__version__}"
    args, report = _writer(tmp_path, "report.json")
    assert _run(*args)[0] == 0
    assert next(iter(json.loads(report.read_text()))) == "tool"


def test_npy_outputs_are_recognised_by_the_registry_only_while_unchanged(tmp_path, framepred_cache):
    args, target = _writer(tmp_path, "o.npy")
    assert _run(*args)[0] == 0
    entries = [
        json.loads(line) for line in (framepred_cache / "outputs.jsonl").read_text().splitlines()
    ]
    assert [e["path"] for e in entries] == [str(target.resolve())]
    assert is_framepred_file(target)
    copy = tmp_path / "copy.npy"
    copy.write_bytes(target.read_bytes())  # the same bytes, but the user's file
    assert not is_framepred_file(copy)
    np.save(target, np.ones((2, 16, 16), np.uint8))  # the user saved over it: theirs now
    assert not is_framepred_file(target)
    before = _snapshot(tmp_path)
    code, text = _run(*args, "--overwrite")
    assert code == 1 and "was not written by framepred" in text, text
    assert _snapshot(tmp_path) == before


def test_a_symlink_at_the_output_is_never_replaced(tmp_path):
    args, target = _writer(tmp_path, "o.mkv")
    assert _run(*args)[0] == 0
    link = tmp_path / "out" / "link.mkv"
    link.symlink_to(target)  # even to framepred's own file: the link is the user's
    before = _snapshot(tmp_path)
    code, text = _run(*args[:3], link, *args[4:], "--overwrite")
    assert code == 1 and "symbolic link" in text, text
    assert _snapshot(tmp_path) == before


def test_publish_does_not_replace_a_users_file_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "o.mkv"
    with pytest.raises(VideoWriteError, match="was not written by framepred"):
        with atomic_path(target, overwrite=True) as tmp:
            tmp.write_bytes(b"framepred's")
            target.write_bytes(b"the user's")  # saved there while this run wrote
    assert target.read_bytes() == b"the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mkv"]


def test_cache_dir_and_a_registry_that_grows(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("FRAMEPRED_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "framepred"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "framepred"
    monkeypatch.setenv("FRAMEPRED_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"

    monkeypatch.setattr(marks, "REGISTRY_MAX", 2_000)
    kept = tmp_path / "kept.npy"
    kept.write_bytes(b"x")
    marks.record_output(kept)
    for i in range(40):  # outputs that are gone again: dropped once the registry is too big
        gone = tmp_path / f"gone{i}.npy"
        gone.write_bytes(b"y")
        marks.record_output(gone)
        gone.unlink()
    registry = tmp_path / "cache" / marks.REGISTRY
    assert registry.stat().st_size < 2_000 + 200
    assert marks.in_registry(kept)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("FRAMEPRED_CACHE", str(tmp_path / "file" / "cache"))  # cannot exist
    marks.record_output(kept)  # a cache that cannot be written costs a warning only
    assert not marks.in_registry(kept)
    assert "--overwrite will not replace it" in caplog.text


# -- 2. --fps far above the source ------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["fill", "predict", "info"])
def test_absurd_fps_is_refused_before_any_work(tmp_path, command):
    src = write_video(tmp_path / "c.mkv", gappy(range(6)))
    out = tmp_path / "o.mkv"
    args = {"fill": ("-o", out, "--method", "repeat"),
            "predict": ("-o", out, "--method", "copy-last", "--horizon", 2),
            "info": ()}[command]  # fmt: skip
    code, text = _run(command, src, *args, "--fps", "1e9")
    assert code == 1, text
    assert "more than 16x the video's own 25 fps; at most 400 fps" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mkv"]


# -- 3. non-finite floats ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "args",
    [("fill", "IN", "-o", "OUT", "--fps"), ("predict", "IN", "-o", "OUT", "--fps"),
     ("info", "IN", "--fps"), ("train", "mmnist", "--out", "OUT", "--max-steps", "1", "--lr"),
     ("train", "mmnist", "--out", "OUT", "--max-steps", "1", "--max-time"),
     ("train", "mmnist", "--out", "OUT", "--max-steps", "1", "--ssim-weight")],
    ids=["fill-fps", "predict-fps", "info-fps", "train-lr", "train-max-time", "train-ssim"],
)  # fmt: skip
def test_non_finite_float_options_are_usage_errors(tmp_path, args, value):
    src = write_video(tmp_path / "c.mkv", gappy(range(4)))
    subs = {"IN": src, "OUT": tmp_path / "o.mkv"}
    code, text = _run(*(subs.get(a, a) for a in args), value)
    assert code == 2 and "is not a finite number" in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mkv"]


# -- 4. frames smaller than DIS flow's minimum ------------------------------------------------


@pytest.mark.parametrize(
    "shape, out_shape",
    [((10, 8, 8), (3, 8, 8)), ((10, 64, 64, 5), (10, 3, 64, 5)), ((4, 1, 1), (3, 1, 1))],
)
def test_predict_small_npy_frames(tmp_path, shape, out_shape):
    src, out = tmp_path / "p.npy", tmp_path / "o.npy"
    np.save(src, np.zeros(shape, np.uint8))
    before = src.read_bytes()
    code, text = _run("predict", src, "-o", out, "--horizon", 3)
    assert code == 0, text
    assert np.load(out).shape == out_shape and src.read_bytes() == before


def test_flow_on_tiny_frames_matches_a_padded_frame():
    import cv2

    from framepred.flow import dis_calc

    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    a = np.zeros((5, 9), np.uint8)
    flow = dis_calc(dis, a, a)
    assert flow.shape == (5, 9, 2) and np.isfinite(flow).all()


# -- 5. high frame rates ----------------------------------------------------------------------


@pytest.mark.parametrize("rate", [480, 960, 1000, 2000])
def test_high_frame_rate_keeps_every_frame(tmp_path, rate):
    """Up to 1000 fps the container's rate is trusted; above it the rate comes from the
    timestamps, so no frame is lost to a guess either way."""
    src = bm.slow_motion(tmp_path, rate)
    out, report = tmp_path / "frames", tmp_path / "r.json"
    code, text = _run("fill", src, "-o", out, "--method", "repeat", "--report", report,
                      "--no-progress")  # fmt: skip
    assert code == 0, text
    assert len(list(out.glob("*.png"))) == 24
    facts = json.loads(report.read_text())
    assert facts["n_kept"] == 24 and facts["n_filled"] == 0 and facts["frame_rate"] == str(rate)


def test_a_stated_high_rate_the_frames_do_not_reach_is_not_trusted(tmp_path):
    """Variable-rate WebM/Matroska often state their 1000 Hz clock as the frame rate: a
    rate above 240 fps is kept only if the frames come about that fast."""
    from types import SimpleNamespace

    from framepred.io.reader import _nominal_rate

    path = tmp_path / "vfr.mkv"
    times = [Fraction(33 * i + i % 3, 1000) for i in range(20)]  # about 30 fps
    write_video(path, [(t, moving_scene(i)) for i, t in enumerate(times)])
    stated = SimpleNamespace(base_rate=Fraction(1000), guessed_rate=None, average_rate=None)
    rate = _nominal_rate(stated, path)
    assert rate == Fraction(1000, 31)  # one over the smallest gap: no two frames share a slot
    assert len({round(t * rate) for t in times}) == len(times)


# -- 6. non-finite weights --------------------------------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_checkpoint_with_non_finite_weights_is_refused(tmp_path, value):
    from framepred.models.checkpoints import builtin_path

    payload = torch.load(builtin_path("forecast"), weights_only=True)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name].view(-1)[0] = value
    ckpt = tmp_path / "bad.pt"
    torch.save(payload, ckpt)
    src, out = tmp_path / "p.npy", tmp_path / "o.npy"
    np.save(src, np.zeros((4, 16, 16), np.uint8))
    code, text = _run("predict", src, "-o", out, "--horizon", 1, "--model", ckpt)
    assert code == 1 and "non-finite (NaN/inf) weights" in text and str(ckpt) in text, text
    assert not out.exists()


# -- 8. concurrent writes to one output -------------------------------------------------------


def test_publish_refuses_an_output_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "o.bin"
    with pytest.raises(VideoWriteError, match="appeared while this run wrote it"):
        with atomic_path(target, overwrite=False) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"theirs")  # another run finished first
    assert target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.bin"]


def test_publish_without_hard_links_still_refuses(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(framepred.io.atomic.os, "link", no_links)
    target = tmp_path / "o.bin"
    with atomic_path(target, overwrite=False) as tmp:
        tmp.write_bytes(b"mine")
    assert target.read_bytes() == b"mine"
    with pytest.raises(VideoWriteError, match="appeared"):
        with atomic_path(tmp_path / "p.bin", overwrite=False) as tmp:
            tmp.write_bytes(b"mine")
            (tmp_path / "p.bin").write_bytes(b"theirs")
    assert (tmp_path / "p.bin").read_bytes() == b"theirs"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("suffix", [".mkv", ""], ids=["file", "folder"])
def test_two_concurrent_writes_one_wins(tmp_path, monkeypatch, suffix):
    """Both runs pass the start-up check; both finish writing before either publishes:
    exactly one output is published, the other run fails with one clear error."""
    from framepred.fill import fill_video
    from framepred.io.writer import VideoWriter

    src = write_video(tmp_path / "c.mkv", gappy([0, 1, 3, 4]))
    out = tmp_path / f"o{suffix}"
    barrier = threading.Barrier(2, timeout=60)
    close = VideoWriter.close

    def close_together(self):
        barrier.wait()
        close(self)

    monkeypatch.setattr(VideoWriter, "close", close_together)
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            fill_video(src, out, method="repeat", progress=False)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1 and isinstance(errors[0], VideoWriteError), errors
    assert "appeared while this run wrote it" in str(errors[0])
    assert len(read_all(out)[1]) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mkv", out.name]


# -- 9. smaller ones --------------------------------------------------------------------------


def test_train_rejecting_its_data_leaves_no_out_folder(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("not a video")
    out = tmp_path / "run"
    code, text = _run("train", bad, "--out", out, "--max-steps", 1, "--no-progress")
    assert code == 1 and "not a readable video" in text, text
    assert not out.exists()


@pytest.mark.parametrize("held", ["logs/metrics.csv", "checkpoints/mine.ckpt"])
def test_train_never_replaces_logs_or_checkpoints_it_did_not_write(tmp_path, held):
    out = tmp_path / "project"
    (out / held).parent.mkdir(parents=True)
    (out / held).write_text("the user's own")  # Lightning's CSV logger would delete it
    before = _snapshot(tmp_path)
    code, text = _run("train", "mmnist", "--out", out, "--preset", "tiny", "--max-steps", 1,
                      "--no-progress")  # fmt: skip
    assert code == 1 and "which a new run would replace" in text, text
    assert _snapshot(tmp_path) == before


def test_train_reruns_into_its_own_folder_that_holds_no_checkpoint_yet(tmp_path):
    """A run stopped before its first checkpoint: its logs/ are framepred's (their own mark)."""
    from framepred.train.run_folder import take_run_folders

    out = tmp_path / "run"
    out.mkdir()
    take_run_folders(out)
    (out / "logs" / "metrics.csv").write_text("epoch,step,train/loss\n")
    code, text = _run("train", "mmnist", "--out", out, "--preset", "tiny", "--max-steps", 1,
                      "--batch-size", 2, "--no-progress")  # fmt: skip
    assert code == 0, text
    assert (out / "checkpoints" / "last.ckpt").is_file()


def test_resume_without_checkpoint_leaves_no_out_folder(tmp_path):
    out = tmp_path / "run"
    code, text = _run("train", "mmnist", "--out", out, "--max-steps", 1, "--resume")
    assert code == 1 and "nothing to resume" in text, text
    assert not out.exists()


def test_raw_pickle_checkpoint_is_one_line(tmp_path):
    import pickle

    ckpt = tmp_path / "raw.ckpt"
    ckpt.write_bytes(pickle.dumps({"state_dict": {"w": np.zeros(2)}}, protocol=4))
    src = tmp_path / "p.npy"
    np.save(src, np.zeros((4, 16, 16), np.uint8))
    code, text = _run("predict", src, "-o", tmp_path / "o.npy", "--horizon", 1, "--model", ckpt)
    assert code == 1, text
    assert text.strip().splitlines() == [
        f"Error: refusing to load {ckpt}: a raw Python pickle, not a checkpoint saved by "
        "PyTorch (framepred never unpickles objects)"
    ]


def test_checkpoint_asking_for_a_huge_model_names_the_size(tmp_path):
    from framepred.models.checkpoints import builtin_path

    payload = torch.load(builtin_path("forecast"), weights_only=True)
    payload["config"]["chs"] = [100_000, 100_000, 100_000, 100_000]
    ckpt = tmp_path / "huge.pt"
    torch.save(payload, ckpt)
    src = tmp_path / "p.npy"
    np.save(src, np.zeros((4, 16, 16), np.uint8))
    code, text = _run("predict", src, "-o", tmp_path / "o.npy", "--horizon", 1, "--model", ckpt)
    assert code == 1, text
    assert "asks for a network of" in text and "parameters, more than the" in text, text


@pytest.mark.parametrize("method", ["repeat", "blend"])
def test_ensemble_of_a_method_without_views_is_a_usage_error(tmp_path, method):
    src = write_video(tmp_path / "c.mkv", gappy([0, 1, 3]))
    code, text = _run("fill", src, "-o", tmp_path / "o.mkv", "--method", method, "--ensemble", 4)
    assert code == 2 and "applies to --method model and flow only" in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mkv"]


# -- beyond the list --------------------------------------------------------------------------


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
def test_report_path_equal_to_the_output_is_refused(tmp_path, overwrite):
    src = write_video(tmp_path / "c.mkv", gappy([0, 1, 3]))
    out = tmp_path / "o.mkv"
    extra = ["--overwrite"] if overwrite else []
    code, text = _run(*FILL[:1], src, "-o", out, *FILL[1:], "--report", out, *extra)
    assert code == 1 and "--report is the output path" in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mkv"]


def test_huge_horizon_is_one_error_line(tmp_path):
    src = write_video(tmp_path / "c.mkv", gappy(range(4)))
    code, text = _run("predict", src, "-o", tmp_path / "o.mkv", "--method", "copy-last",
                      "--context", 2, "--horizon", 10**12, "--no-progress")  # fmt: skip
    assert code == 1 and text.strip().splitlines()[-1] == "Error: out of memory", text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mkv"]


def test_a_frame_the_user_edited_keeps_a_framepred_folder_from_being_replaced(
    user_folder, tmp_path
):
    src, out = user_folder / "clip.mkv", tmp_path / "png"
    assert _run(*FILL[:1], src, "-o", out, *FILL[1:])[0] == 0
    frame = sorted(out.glob("*.png"))[2]
    frame.write_bytes(frame.read_bytes() + b"retouched")  # the user's work now
    before = _snapshot(tmp_path)
    code, text = _run(*FILL[:1], src, "-o", out, *FILL[1:], "--overwrite")
    assert code == 1 and "framepred did not write" in text, text
    assert _snapshot(tmp_path) == before


def test_a_copy_of_a_framepred_output_elsewhere_is_the_users(user_folder, tmp_path):
    src, out, mine = user_folder / "clip.mkv", tmp_path / "o.mkv", tmp_path / "mine.mkv"
    assert _run(*FILL[:1], src, "-o", out, *FILL[1:])[0] == 0
    mine.write_bytes(out.read_bytes())  # carries the mark, as FFmpeg's derived files do
    assert marks.has_mark(mine) and not is_framepred_file(mine)
    before = _snapshot(tmp_path)
    code, text = _run(*FILL[:1], src, "-o", mine, *FILL[1:], "--overwrite")
    assert code == 1 and "was not written by framepred" in text, text
    assert _snapshot(tmp_path) == before
