"""The forward-only motion model (`MotionForecaster`): prediction by learned warping."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.main import cli
from framepred.errors import FramepredError
from framepred.eval.mmnist import copy_last
from framepred.models.checkpoints import export_model, load_model
from framepred.models.forecaster import MotionForecastConfig, MotionForecaster
from framepred.models.warp import backward_warp
from framepred.predict.predictor import MotionPredictor, load_predictor, predict_array
from framepred.train.config import TrainConfig
from framepred.train.fit import train
from tests.conftest import tiny_config
from tests.test_train_motion import bouncing, clips  # noqa: F401  (fixture)

TINY = {"head": "motion-forecast", "chs": [4, 8, 8, 8]}


def test_an_untrained_model_is_constant_velocity_backward_warping():
    torch.manual_seed(0)
    net = MotionForecaster(MotionForecastConfig.from_dict(TINY)).eval()
    context = torch.rand(2, 4, 3, 20, 28)
    back = torch.randn(2, 2, 20, 28) * 2
    full = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        steps = net(context, back, 3)
    assert len(steps) == 3
    for n, step in enumerate(steps, 1):
        torch.testing.assert_close(step.flow, n * back)
        expected = backward_warp(full, 2 * torch.nn.functional.interpolate(
            n * back, size=(40, 56), mode="bilinear", align_corners=False)).clamp(0, 1)  # fmt: skip
        torch.testing.assert_close(net.render(full, step), expected, atol=1e-5, rtol=0)


def test_gradients_reach_the_context_encoder():
    net = MotionForecaster(MotionForecastConfig.from_dict(TINY))
    torch.nn.init.normal_(net.head.weight, std=0.1)  # the zero head would block them
    steps = net(torch.rand(1, 4, 3, 16, 16), torch.zeros(1, 2, 16, 16), 2)
    net.render(torch.rand(1, 3, 16, 16), steps[-1], clamp=False).sum().backward()
    grad = net.context_encoder[0][0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_the_predictor_takes_any_size_grey_or_colour(tmp_path):
    net = MotionForecaster(MotionForecastConfig.from_dict(TINY))
    path = export_model(net, tmp_path / "fc.pt")
    predictor = load_predictor(path, device="cpu")
    assert isinstance(predictor, MotionPredictor)
    frames = np.stack([bouncing(i, w=63, h=47) for i in range(6)])
    out = predict_array(frames, 3, predictor)
    assert out.shape == (3, 47, 63, 3) and out.dtype == np.uint8
    grey = frames.mean(-1).astype(np.float32) / 255
    assert predict_array(grey, 2, predictor).shape == (2, 47, 63)
    # The untrained model moves the square on with its velocity: better than copying.
    truth = np.stack([bouncing(i, w=63, h=47) for i in range(6, 9)]).astype(float)
    err_model = np.abs(out - truth).mean()
    err_copy = np.abs(frames[-1:].astype(float) - truth).mean()
    assert err_model < err_copy


@pytest.mark.slow
def test_a_short_forecast_run_lowers_the_validation_loss(clips, tmp_path):  # noqa: F811
    cfg = tiny_config(
        tmp_path / "run",
        [str(clips / "clip0.mkv")],
        model={"head": "motion-forecast", "chs": [8, 8, 16, 16]},
        max_steps=150,
        batch_size=4,
        lr=3e-3,
        val_every=50,
        val_size=8,
    )
    last = train(cfg)
    with open(tmp_path / "run" / "logs" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/loss")]
    assert len(rows) == 3
    # The head starts at zero, so loss_flow (constant-velocity warping) is the validation
    # loss before training; training must bring it down.
    final = rows[-1]
    assert float(final["val/loss"]) < 0.99 * float(final["val/loss_flow"]), final
    net, _ = load_model(last)
    assert isinstance(net, MotionForecaster)


def test_a_fill_model_is_refused_by_predict_clearly(tmp_path):
    from framepred.errors import CheckpointError
    from framepred.models.interpolator import MotionConfig, MotionInterpolator

    path = export_model(MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8))), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="gap-filling"):
        load_predictor(path, device="cpu")


@pytest.mark.parametrize("backtest", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_predict_adapt_learns_from_the_past_only(tmp_path, monkeypatch, backtest):
    import framepred.adapt
    from framepred.predict.video import predict_video
    from tests.conftest import write_video

    video = tmp_path / "bounce.mkv"
    write_video(video, [(i / 25, bouncing(i)) for i in range(40)], codec="ffv1")
    cfg = {**TINY, "projected": backtest, "backtest": backtest}
    model = export_model(MotionForecaster(MotionForecastConfig.from_dict(cfg)), tmp_path / "f.pt")
    seen = []
    real = framepred.adapt.adapt

    def spy(net, frames, steps, **kw):
        frames = list(frames)
        seen.append(len(frames))
        return real(net, frames, steps, **kw)

    monkeypatch.setattr(framepred.adapt, "adapt", spy)
    report = predict_video(video, tmp_path / "p.mkv", horizon=3, context=4, start=30,
                           model=str(model), adapt=6, progress=False)  # fmt: skip
    assert seen == [30]  # frames 0-29: never the frames it predicts
    a = report.adapt
    assert a is not None and a["steps"] == 6 and a["psnr_before"] > 0 and a["psnr_after"] > 0
    assert (tmp_path / "p.mkv").is_file()


def test_predict_adapt_needs_a_motion_forecaster(tmp_path, tiny_ckpt):
    from framepred.errors import FramepredError
    from framepred.predict.video import predict_video
    from tests.conftest import write_video

    video = tmp_path / "bounce.mkv"
    write_video(video, [(i / 25, bouncing(i)) for i in range(20)], codec="ffv1")
    with pytest.raises(FramepredError, match="motion forecaster"):
        predict_video(video, tmp_path / "p.mkv", horizon=2, model=str(tiny_ckpt), adapt=2,
                      progress=False)  # fmt: skip
    assert not (tmp_path / "p.mkv").exists()


def test_sequences_predicted_together_equal_one_at_a_time():
    torch.manual_seed(0)
    net = MotionForecaster(MotionForecastConfig.from_dict(TINY))
    torch.nn.init.normal_(net.head.weight, std=0.05)  # a head that does something
    rng = np.random.default_rng(0)
    shifts = rng.integers(0, 20, 5)
    seqs = np.stack([[bouncing(i + int(s)) for i in range(5)] for s in shifts])
    context = seqs.astype(np.float32) / 255
    together = MotionPredictor(net, batch_size=4).predict_batch(context, 3)
    alone = MotionPredictor(net, batch_size=1).predict_batch(context, 3)
    assert together.shape == (5, 3, 48, 64, 3)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert not np.allclose(together[0], together[1])  # the sequences were not mixed up


def test_a_forecaster_trains_two_steps_on_moving_mnist(tmp_path):
    """The fast cover of the run below: Moving MNIST forecast windows, a checkpoint that
    `predict` loads as the motion predictor."""
    last = train(tiny_config(tmp_path / "mm", model=dict(TINY), max_steps=2, val_every=2))
    with open(tmp_path / "mm" / "logs" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/loss")]
    assert len(rows) == 1 and np.isfinite(float(rows[0]["val/loss"]))
    assert isinstance(load_predictor(last, "cpu"), MotionPredictor)


@pytest.mark.slow
def test_the_forecaster_trains_on_moving_mnist_and_is_scored_by_eval(tmp_path):
    from framepred.eval.mmnist import evaluate_mmnist

    out = tmp_path / "mm"
    result = CliRunner().invoke(
        cli,
        [
            "train", "mmnist", "--out", str(out), "--preset", "motion-forecast-tiny",
            "--max-steps", "40", "--batch-size", "4", "--val-every", "20", "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    last = Path(result.output.strip().splitlines()[-1])
    with open(out / "logs" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/loss")]
    # Windows are 4 digit frames then the protocol's 10 to predict; the head starts at zero,
    # so loss_flow (constant-velocity warping) is the loss before training.
    assert len(rows) == 2 and float(rows[-1]["val/loss"]) < float(rows[-1]["val/loss_flow"])
    predictor = load_predictor(last, "cpu")
    assert isinstance(predictor, MotionPredictor)
    scores = evaluate_mmnist(
        {"model": predictor, "copy-last": copy_last}, n_sequences=8, progress=False
    )
    assert len(scores["model"].mse_per_step) == 10
    assert scores["model"].mse < scores["copy-last"].mse
    shown = CliRunner().invoke(cli, ["eval", "mmnist", "--model", str(last), "--sequences", "8"])
    assert shown.exit_code == 0, shown.output
    assert "copy-last" in shown.output


def test_only_the_forward_motion_model_trains_on_moving_mnist(tmp_path):
    with pytest.raises(FramepredError, match="preset"):
        train(
            TrainConfig(data=["mmnist"], out=tmp_path / "x", model={"head": "motion"}, max_steps=1)
        )


def test_the_shipped_mmnist_model_beats_copy_last_on_held_out_digits():
    from framepred.eval.mmnist import evaluate_mmnist

    scores = evaluate_mmnist(
        {"mmnist": load_predictor("mmnist", "cpu"), "copy-last": copy_last},
        n_sequences=16,
        progress=False,
    )
    # 10,000 sequences: 97.4 against 285.9 (README); 16 leave a wide margin for chance.
    assert scores["mmnist"].mse < 0.6 * scores["copy-last"].mse
