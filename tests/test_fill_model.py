"""`fill --method model` with a motion model, and `--adapt`, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import gappy, panning_scene, read_all, write_video

from cli.main import cli
from framepred.models.checkpoints import export_model
from framepred.models.interpolator import MotionConfig, MotionInterpolator


@pytest.fixture
def motion_ckpt(tmp_path):
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8)))
    with torch.no_grad():
        net.head.weight.normal_(0, 0.01)  # a non-trivial (not purely classical) model
    return export_model(net, tmp_path / "motion.pt")


@pytest.fixture
def pan_x2(tmp_path):
    """40 slots of a pan, every other one dropped (slot 39 kept, so no tail gap)."""
    keep = [i for i in range(40) if i % 2 == 0 or i == 39]
    return write_video(tmp_path / "pan.mkv", gappy(keep, scene=panning_scene))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_fill_with_a_motion_model_keeps_known_frames_and_fills_the_rest(
    pan_x2, motion_ckpt, tmp_path
):
    out, rep = tmp_path / "o.mkv", tmp_path / "r.json"
    result = run("fill", pan_x2, "-o", out, "--model", motion_ckpt, "--report", rep,
                 "--device", "cpu", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    _, frames = read_all(out)
    assert len(frames) == 40
    report = json.loads(rep.read_text())
    assert report["method"] == "model" and report["n_filled"] == 19
    for i in (0, 2, 38, 39):  # kept frames pass through bit-exactly (lossless output)
        assert np.array_equal(frames[i].image, panning_scene(i))
    # filled frames follow the pan far better than a cross-fade would
    errors = [np.abs(frames[i].image.astype(int) - panning_scene(i)).mean() for i in (1, 21)]
    assert max(errors) < 6.0, errors


def test_fill_adapt_reports_the_held_out_psnr(pan_x2, motion_ckpt, tmp_path):
    out, rep = tmp_path / "o.mkv", tmp_path / "r.json"
    result = run("fill", pan_x2, "-o", out, "--model", motion_ckpt, "--adapt", "3",
                 "--report", rep, "--device", "cpu", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "held-out PSNR" in result.output
    adapt = json.loads(rep.read_text())["adapt"]
    assert adapt["steps"] == 3 and adapt["psnr_before"] > 10


def test_adapt_learns_from_known_frames_that_are_not_evenly_spaced(motion_ckpt, tmp_path):
    """Two kept, three dropped: adaptation hides known frames at their true times."""
    keep = [i for i in range(60) if i % 5 in (0, 1) or i == 59]
    video = write_video(tmp_path / "pan.mkv", gappy(keep, scene=panning_scene))
    rep = tmp_path / "r.json"
    result = run("fill", video, "-o", tmp_path / "o.mkv", "--model", motion_ckpt, "--adapt", "2",
                 "--report", rep, "--device", "cpu", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(rep.read_text())["adapt"]["windows"] > 2


def test_adapt_needs_the_learned_model(pan_x2, tmp_path):
    result = run("fill", pan_x2, "-o", tmp_path / "o.mkv", "--method", "flow", "--adapt", "2",
                 "--no-progress")  # fmt: skip
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "--adapt" in result.output
    assert not (tmp_path / "o.mkv").exists()


def test_predict_refuses_a_gap_filling_model_clearly(motion_ckpt, tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((4, 16, 16), np.uint8))
    result = run("predict", tmp_path / "in.npy", "-o", tmp_path / "o.npy", "--horizon", "2",
                 "--model", motion_ckpt)  # fmt: skip
    assert result.exit_code == 1
    assert "gap-filling" in result.output and "Traceback" not in result.output


def test_eval_scores_the_motion_model_on_gap_patterns(motion_ckpt, tmp_path):
    from framepred import evaluate

    full = write_video(tmp_path / "full.mkv", gappy(range(24), scene=panning_scene))
    result = evaluate(full, "x2", model=motion_ckpt, device="cpu", progress=False)
    rows = {s.method: s for s in result.scores}
    assert {"model", "flow", "blend", "repeat"} <= set(rows)
    assert rows["model"].psnr > rows["blend"].psnr


def test_the_default_model_loads_by_name_and_fills_like_flow_or_better():
    from framepred.models.checkpoints import load_model
    from framepred.synth.classical import Flow
    from framepred.synth.motion import MotionSynthesizer

    net, meta = load_model("default")
    assert isinstance(net, MotionInterpolator)
    frames = [panning_scene(i, w=96, h=64) for i in range(8)]
    truth = frames[3:6]
    ours = MotionSynthesizer(net).synthesize(frames[1:3], frames[6:8], [0.25, 0.5, 0.75])
    flow = Flow().synthesize(frames[1:3], frames[6:8], [0.25, 0.5, 0.75])

    def err(pred):
        return np.mean([np.abs(p.astype(int) - t).mean() for p, t in zip(pred, truth, strict=True)])

    assert err(ours) < err(flow) + 0.5  # trained corrections do not break a plain pan
