"""Training: the Lightning module, checkpoints, resume, and the budget schedule."""

import csv
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from framepred.errors import FramepredError, TrainingError
from framepred.models.checkpoints import export_model, load_model
from framepred.train.config import PRESETS
from framepred.train.fit import train
from framepred.train.pixel import FramePredictorModule


def _seq(b=2, t=20, size=16):
    torch.manual_seed(0)
    return torch.rand(b, t, 1, size, size)


def test_fast_dev_run(tmp_path):
    out = train(tiny_config(tmp_path / "run", fast_dev_run=True))
    assert out == tmp_path / "run"


def test_train_writes_last_best_and_csv(tiny_run: Path):
    ckpts = sorted(p.name for p in (tiny_run / "checkpoints").iterdir())
    assert "last.ckpt" in ckpts and any(n.startswith("best-") for n in ckpts)
    csv = (tiny_run / "logs" / "metrics.csv").read_text()
    assert "train/loss" in csv and "val/mse" in csv


def test_checkpoint_reloads_and_predicts_identically(tiny_ckpt: Path, tmp_path):
    net, meta = load_model(tiny_ckpt)
    assert meta["global_step"] == 6
    lit = FramePredictorModule.load_from_checkpoint(
        tiny_ckpt, map_location="cpu", weights_only=True
    ).eval()
    x = _seq()[:, :10]
    y = net.rollout(x, 3)
    torch.testing.assert_close(lit(x, 3), y)
    slim, _ = load_model(export_model(net, tmp_path / "slim.pt"))
    torch.testing.assert_close(slim.rollout(x, 3), y)


def test_resume_continues_to_the_same_step_count(tmp_path):
    cfg = tiny_config(tmp_path / "run", max_steps=4, val_every=2, ckpt_every=2)
    train(cfg)
    with pytest.raises(FramepredError, match="--resume"):
        train(cfg)
    cfg.max_steps, cfg.resume = 7, True
    last = train(cfg)
    assert torch.load(last, weights_only=True)["global_step"] == 7
    # The loss history of the first part survives the resume.
    steps = [
        int(r["step"])
        for r in csv.DictReader(open(tmp_path / "run" / "logs" / "metrics.csv"))
        if r.get("train/loss")
    ]
    assert min(steps) < 4 <= max(steps)


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(FramepredError, match="nothing to resume"):
        train(tiny_config(tmp_path, max_steps=1, resume=True))


def test_a_budget_is_required(tmp_path):
    with pytest.raises(FramepredError, match="budget"):
        train(tiny_config(tmp_path))


def test_non_finite_loss_is_reported_not_saved(tmp_path):
    module = FramePredictorModule(model=dict(PRESETS["tiny"]))
    batch = _seq()
    batch[0, 12] = float("nan")
    with pytest.raises(TrainingError, match="non-finite"):
        module._shared_step(batch, "val")


def test_learning_rate_warms_up_then_anneals():
    m = FramePredictorModule(model=dict(PRESETS["tiny"]), lr=1e-3, warmup=0.1)
    assert m.lr_at(0.0) < m.lr_at(0.05) < m.lr_at(0.1) == pytest.approx(1e-3)
    assert m.lr_at(0.5) < 1e-3 and m.lr_at(1.0) == pytest.approx(2e-5)


@pytest.mark.slow
def test_a_short_run_lowers_the_validation_loss(tmp_path):
    from framepred.data.mmnist import MovingMNIST

    val = torch.stack([MovingMNIST("val", 8, seed=1)[i] for i in range(8)])
    before = FramePredictorModule(model=dict(PRESETS["tiny"]))
    torch.manual_seed(0)  # the same initial weights as the run below (seed 0)
    last = train(tiny_config(tmp_path / "r", max_steps=40, batch_size=8, lr=5e-3))
    after = FramePredictorModule.load_from_checkpoint(last, map_location="cpu", weights_only=True)
    with torch.no_grad():
        loss_before = before._loss(before.net(val[:, :10], 10), val[:, 10:]).item()
        loss_after = after._loss(after.net(val[:, :10], 10), val[:, 10:]).item()
    assert loss_after < 0.8 * loss_before


def test_init_starts_from_a_models_weights(tiny_ckpt, tmp_path):
    start, _ = load_model(tiny_ckpt)
    last = train(tiny_config(tmp_path / "ft", init=str(tiny_ckpt), max_steps=1, lr=1e-9))
    tuned, _ = load_model(last)
    assert tuned.config == start.config
    for (name, a), b in zip(start.state_dict().items(), tuned.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)
