"""Training the motion model on clips: `framepred train CLIPS...` end to end."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import cli
from framepred.errors import FramepredError
from framepred.models.checkpoints import load_model
from framepred.models.interpolator import MotionInterpolator
from framepred.train.config import TrainConfig
from framepred.train.fit import train
from tests.conftest import moving_scene, tiny_config, write_video


def bouncing(i: int, w: int = 64, h: int = 48) -> np.ndarray:
    """A square bouncing left and right over a still texture: every window has motion and
    occlusion, which the classical flow method gets partly wrong."""
    img = moving_scene(0, w=w, h=h).copy()
    img[14:30, 4:20] = img[14:30, 30:46]  # paint over moving_scene's own square
    x0 = 4 + abs((3 * i) % 72 - 36)
    img[14:30, x0 : x0 + 16] = (235, 220, 40)
    return img


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    for k in range(2):
        frames = [(i / 25, bouncing(i + 7 * k)) for i in range(48)]
        write_video(folder / f"clip{k}.mkv", frames, codec="ffv1")
    return folder


def _val_rows(run):
    with open(run / "logs" / "metrics.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("val/loss")]


@pytest.mark.slow
def test_a_short_run_on_a_clip_lowers_the_validation_loss(clips, tmp_path):
    # One clip: validation is its last fifth (frames never trained on).
    cfg = tiny_config(
        tmp_path / "run",
        [str(clips / "clip0.mkv")],
        model={"head": "motion", "chs": [8, 8, 16, 16]},
        max_steps=90,
        batch_size=4,
        lr=2e-3,
        val_every=30,
        val_size=8,
    )
    last = train(cfg)
    rows = _val_rows(tmp_path / "run")
    assert len(rows) == 3
    # The network starts as the classical flow method (its head is zero), so loss_flow is
    # the validation loss before training; training must bring it down.
    first, final = rows[0], rows[-1]
    assert float(first["val/loss_flow"]) == pytest.approx(float(final["val/loss_flow"]))
    assert float(final["val/loss"]) < 0.99 * float(final["val/loss_flow"]), final
    net, _ = load_model(last)
    assert isinstance(net, MotionInterpolator)


def test_train_cli_on_clips_prints_the_checkpoint(clips, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        cli,
        [
            "train", str(clips), "--out", str(out), "--preset", "motion-tiny", "--max-steps",
            "2", "--batch-size", "2", "--working", "32", "--val-every", "2", "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].endswith("last.ckpt")


def test_presets_must_fit_the_data(clips, tmp_path):
    cfg = TrainConfig(data=[str(clips)], out=tmp_path / "x", max_steps=1)  # mmnist preset
    with pytest.raises(FramepredError, match="preset"):
        train(cfg)
    with pytest.raises(FramepredError, match="mixed"):
        train(TrainConfig(data=["mmnist", str(clips)], out=tmp_path / "y", max_steps=1))


def test_init_must_fit_the_data(clips, tmp_path, tiny_ckpt):
    cfg = TrainConfig(
        data=[str(clips)], out=tmp_path / "z", model={"head": "motion"}, max_steps=1,
        init=str(tiny_ckpt),
    )  # fmt: skip
    with pytest.raises(FramepredError, match="Moving MNIST model"):
        train(cfg)


def test_accel_grows_an_init_model_and_trains_it(clips, tmp_path):
    from framepred.models.checkpoints import export_model
    from framepred.models.interpolator import MotionConfig

    start = tmp_path / "linear.pt"
    export_model(MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8))), start)
    cfg = tiny_config(
        tmp_path / "acc",
        [str(clips)],
        init=str(start),
        accel=True,
        max_steps=4,
        val_every=2,
        val_size=4,
    )
    net, _ = load_model(train(cfg))
    assert isinstance(net, MotionInterpolator) and net.config.accel
    assert net.config.chs == (4, 8, 8, 8)
    rows = _val_rows(tmp_path / "acc")
    assert rows and all(np.isfinite(float(r["val/loss"])) for r in rows)


def test_accel_is_for_fill_models(clips, tmp_path):
    cfg = TrainConfig(
        data=[str(clips)], out=tmp_path / "f", model={"head": "motion-forecast"}, accel=True,
        max_steps=1,
    )  # fmt: skip
    with pytest.raises(FramepredError, match="--accel"):
        train(cfg)


def test_accel_needs_two_context_frames(clips, tmp_path):
    result = CliRunner().invoke(
        cli,
        ["train", str(clips), "--out", str(tmp_path / "c"), "--preset", "motion-ctx1", "--accel",
         "--max-steps", "1", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "two context frames" in result.output and "Traceback" not in result.output
