"""Forward-projected base motion and the velocity decay chosen by back-testing on the context."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.main import cli
from framepred.data.forecast import ForecastBatches
from framepred.models.checkpoints import export_model, load_model
from framepred.models.forecaster import MotionForecastConfig, MotionForecaster, damped_shifts
from framepred.models.warp import project_flow
from framepred.predict.backtest import SPAN, backtest_damping
from framepred.predict.predictor import MotionPredictor, load_predictor, predict_array
from framepred.train.fit import train
from tests.conftest import tiny_config
from tests.test_train_motion import bouncing, clips  # noqa: F401  (fixture)

TINY = {"head": "motion-forecast", "chs": [4, 8, 8, 8]}


def test_projected_flow_moves_with_the_object_and_leaves_the_background_still():
    back = torch.zeros(1, 2, 40, 60)
    back[:, 0, 10:20, 10:20] = -3.0  # a square moving right by 3 px a step; the rest still
    flow = project_flow(back, 2)[0, 0]  # x-flow from step 2 back to the last frame
    # where the square has gone (columns 16-25) the flow points back 6 px to it
    torch.testing.assert_close(flow[10:20, 16:26], torch.full((10, 10), -6.0), atol=0.05, rtol=0)
    # where it was (columns 10-15, uncovered background) and far from it: the still background
    assert flow[10:20, 10:16].abs().max() < 0.5
    assert flow[30:, :].abs().max() == 0
    # reading the velocity in place puts the motion where the square was instead
    assert (2 * back)[0, 0, 10:20, 10:16].abs().min() == 6


def test_projected_flow_of_uniform_motion_is_the_motion_times_the_step():
    back = torch.tensor([1.5, -0.5]).view(1, 2, 1, 1).repeat(2, 1, 24, 30)
    flow = project_flow(back, torch.tensor([3.0, 0.5]))
    torch.testing.assert_close(flow[0], 3.0 * back[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(flow[1], 0.5 * back[1], atol=1e-5, rtol=0)


def test_damped_shifts_sum_the_decayed_velocity():
    like = torch.zeros(2, 2, 4, 4)
    got = damped_shifts(torch.tensor([1.0, 0.5]), 3, like).flatten(1)
    torch.testing.assert_close(got, torch.tensor([[1.0, 0.5], [2.0, 0.75], [3.0, 0.875]]))
    torch.testing.assert_close(damped_shifts(None, 3, like).flatten(1)[:, 0], got[:, 0])


def _texture(h=48, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    tex = torch.rand(1, 3, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(tex, size=(h, w), mode="bicubic").clamp(0, 1)[0]


@pytest.mark.parametrize("motion", ["steady", "jitter"])
def test_the_back_test_keeps_steady_motion_and_stops_jitter(motion):
    tex = _texture()
    xs = [2 * k for k in range(SPAN)] if motion == "steady" else [2 * (k % 2) for k in range(SPAN)]
    frames = torch.stack([torch.roll(tex, x, dims=-1) for x in xs])[None]  # (1, T, 3, h, w)
    backs = torch.zeros(1, SPAN - 1, 2, 48, 64)
    for k in range(SPAN - 1):  # frame k+1 (p) = frame k (p - dx): the flow back is -dx
        backs[0, k, 0] = -(xs[k + 1] - xs[k])
    d = backtest_damping(frames, backs, horizon=5)
    if motion == "steady":
        assert d.item() == 1.0
    else:
        assert d.item() < 0.5


def test_a_back_test_needs_three_frames():
    with pytest.raises(ValueError, match="three"):
        backtest_damping(torch.rand(1, 2, 3, 8, 8), torch.zeros(1, 1, 2, 8, 8), 3)


def test_no_decay_is_constant_velocity_and_decay_shortens_the_base_motion():
    cfg = MotionForecastConfig.from_dict({**TINY, "projected": True, "backtest": True})
    net = MotionForecaster(cfg).eval()
    context, back = torch.rand(2, 4, 3, 16, 24), torch.randn(2, 2, 16, 24)
    with torch.no_grad():
        plain = net(context, back, 3)
        ones = net(context, back, 3, torch.ones(2))
        half = net(context, back, 3, torch.tensor([0.5, 0.5]))
    for a, b in zip(plain, ones, strict=True):
        torch.testing.assert_close(a.flow, b.flow)
    # the head starts at zero: the flow is the base, step 3 moves 0.875 of one step
    torch.testing.assert_close(half[2].flow, project_flow(back, 0.875), atol=1e-5, rtol=0)


def test_forecast_batches_with_a_span_carry_the_longer_context():
    seqs = [torch.rand(20, 3, 32, 32) for _ in range(3)]
    (batch,) = list(ForecastBatches(seqs, 2, working=16, scales=(2,), batches=1, seed=0, span=8))
    k = 4
    assert batch["full"].shape == (2, k + 5, 3, 32, 32)  # the network's context + the future
    assert batch["test_frames"].shape == (2, 8, 3, 16, 16)
    assert batch["test_backs"].shape == (2, 7, 2, 16, 16)
    torch.testing.assert_close(batch["test_frames"][:, -k:], batch["small"])
    torch.testing.assert_close(batch["test_backs"][:, -1], batch["back"])


# Two steps on the smallest batches cover the training path; 40 steps show that the
# back-tested decay stays finite over a run. Both validate twice.
@pytest.mark.parametrize(
    "run",
    [
        {"max_steps": 2, "val_every": 1},
        pytest.param(
            {"max_steps": 40, "batch_size": 4, "val_every": 20, "val_size": 8},
            marks=pytest.mark.slow,
        ),
    ],
    ids=["2-steps", "40-steps"],
)
def test_a_backtesting_forecaster_trains_and_predicts_from_ten_frames(tmp_path, run):
    from tests.conftest import write_video

    clip = tmp_path / "long.mkv"  # its last fifth (validation) holds 10 + 5 frames
    write_video(clip, [(i / 25, bouncing(i)) for i in range(80)], codec="ffv1")
    cfg = tiny_config(
        tmp_path / "run", [str(clip)], model=dict(TINY), lr=3e-3, backtest=True, **run
    )
    net, _ = load_model(train(cfg))
    assert isinstance(net, MotionForecaster)
    assert net.config.projected and net.config.backtest
    with open(tmp_path / "run" / "logs" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/loss")]
    assert len(rows) == 2 and all(np.isfinite(float(r["val/loss"])) for r in rows)
    predictor = load_predictor(export_model(net, tmp_path / "bt.pt"), device="cpu")
    assert isinstance(predictor, MotionPredictor) and predictor.context_frames == SPAN
    frames = np.stack([bouncing(i) for i in range(SPAN)])
    out = predict_array(frames, 4, predictor)
    assert out.shape == (4, 48, 64, 3) and out.dtype == np.uint8


def test_backtest_is_refused_for_fill_models(clips, tmp_path):  # noqa: F811
    result = CliRunner().invoke(
        cli, ["train", str(clips / "clip0.mkv"), "--out", str(tmp_path / "r"), "--backtest",
              "--preset", "motion-tiny", "--max-steps", "1", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--backtest applies to forecast models" in result.output
