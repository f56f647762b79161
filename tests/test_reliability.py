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

import framepred.atomic
from cli.main import cli
from framepred.atomic import MANIFEST, atomic_path, is_framepred_folder
from framepred.errors import VideoWriteError


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
    if overwrite and output.endswith("clip.mkv") and source != "clip.mkv":
        pytest.skip("--overwrite replaces a regular file by design (not the input here)")
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
    assert code == 1 and "--overwrite" in text and _snapshot(tmp_path) == before


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

    from framepred.baselines import dis_calc

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

    from framepred.video import _nominal_rate

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
    from framepred.checkpoints import builtin_path

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

    monkeypatch.setattr(framepred.atomic.os, "link", no_links)
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
    from framepred.video_writer import VideoWriter

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
    from framepred.checkpoints import builtin_path

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
