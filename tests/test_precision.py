"""bf16 autocast (`--precision bf16`) gives the fp32 results within a stated tolerance.

Tolerances (the shipped models measured 0.0003 for both Moving MNIST models, 77 dB and
63-71 dB): Moving MNIST predictions within 0.005 mean absolute difference on [0, 1] frames;
filled and predicted video frames at least 50 dB PSNR against the fp32 ones. bf16 must also
really run: its output may not equal fp32's bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import panning_scene

from cli.main import cli
from framepred import precision
from framepred.data.mmnist import load_digits, moving_mnist_sequence
from framepred.errors import InputShapeError
from framepred.eval.metrics import psnr_u8
from framepred.precision import autocast, resolve_precision
from framepred.predict.predictor import load_predictor
from framepred.synth.methods import make_synthesizer


def test_resolve_precision_names():
    cpu = torch.device("cpu")
    assert resolve_precision("32", cpu) is None
    assert resolve_precision("bf16", cpu) is torch.bfloat16
    with pytest.raises(InputShapeError, match="unknown precision"):
        resolve_precision("fp8", cpu)


@pytest.mark.parametrize("fast", [True, False])
def test_auto_is_bf16_exactly_where_bf16_measures_faster(monkeypatch, fast):
    seen = []
    monkeypatch.setattr(precision, "bf16_is_fast", lambda kind: seen.append(kind) or fast)
    assert resolve_precision("auto", torch.device("cpu")) is (torch.bfloat16 if fast else None)
    assert seen == ["cpu"]


@pytest.fixture
def fresh_bf16_probe():
    """`bf16_is_fast` measures once per device kind: forget its answers before and after."""
    precision.bf16_is_fast.cache_clear()
    yield precision.bf16_is_fast
    precision.bf16_is_fast.cache_clear()


@pytest.mark.parametrize("bf16_wins", [True, False])
def test_the_cpu_probe_says_bf16_is_fast_when_its_matmul_is_quicker(
    monkeypatch, fresh_bf16_probe, bf16_wins
):
    clock = iter(range(10_000))
    slow_dtype = torch.float32 if bf16_wins else torch.bfloat16

    def timed_matmul(a, b):  # each product of the slow dtype takes 10 ticks, the other 1
        for _ in range(9 if a.dtype == slow_dtype else 0):
            next(clock)
        return a

    monkeypatch.setattr(precision.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(torch.Tensor, "__matmul__", timed_matmul)
    assert fresh_bf16_probe("cpu") is bf16_wins


def test_bf16_is_slow_on_a_device_without_it(monkeypatch, fresh_bf16_probe):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert fresh_bf16_probe("cuda") is False
    assert fresh_bf16_probe("mps") is False


def test_autocast_runs_convolutions_in_bf16_and_none_leaves_fp32():
    conv, x = torch.nn.Conv2d(3, 4, 3), torch.rand(1, 3, 8, 8)
    cpu = torch.device("cpu")
    with autocast(torch.bfloat16, cpu):
        assert conv(x).dtype == torch.bfloat16
    with autocast(None, cpu):
        assert conv(x).dtype == torch.float32


@pytest.mark.parametrize("model", ["mmnist", "mmnist-pixel"])  # MotionPredictor, FramePredictor
def test_bf16_moving_mnist_prediction_is_close_to_fp32(model):
    rng, digits = np.random.default_rng(3), load_digits("test")
    seqs = np.stack([moving_mnist_sequence(rng, digits, 20) for _ in range(2)])[:, :10]
    context = seqs[..., None].astype(np.float32) / 255.0  # (2, 10, 64, 64, 1)
    fp32 = load_predictor(model, "cpu").predict_batch(context, 4)
    bf16 = load_predictor(model, "cpu", precision="bf16").predict_batch(context, 4)
    diff = np.abs(bf16 - fp32)
    assert diff.max() > 0  # autocast really changed the arithmetic
    assert diff.mean() < 0.005


def test_bf16_fill_and_forecast_with_the_shipped_models_are_close_to_fp32():
    frames = [panning_scene(i, 96, 64, speed=2.0) for i in range(10)]
    before, after = frames[:4], frames[5:9]
    fp32 = make_synthesizer("model", "default", "cpu").synthesize(before, after, [0.5])[0]
    bf16 = make_synthesizer("model", "default", "cpu", precision="bf16")
    assert psnr_u8(bf16.synthesize(before, after, [0.5])[0], fp32) > 50.0

    context = np.stack(frames[:6]).astype(np.float32)[None] / 255.0
    p32 = load_predictor("forecast", "cpu").predict_batch(context, 2)
    p16 = load_predictor("forecast", "cpu", precision="bf16").predict_batch(context, 2)
    assert not np.array_equal(p16, p32)
    for a, b in zip(p16[0], p32[0], strict=True):
        assert psnr_u8(np.rint(a * 255).astype(np.uint8), np.rint(b * 255).astype(np.uint8)) > 50


def test_cli_predict_takes_precision(tmp_path):
    rng, digits = np.random.default_rng(0), load_digits("test")
    np.save(tmp_path / "in.npy", moving_mnist_sequence(rng, digits, 10))
    out = tmp_path / "out.npy"
    args = ["predict", str(tmp_path / "in.npy"), "-o", str(out), "--horizon", "3"]
    result = CliRunner().invoke(cli, [*args, "--precision", "bf16", "--model", "mmnist"])
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (3, 64, 64)
    bad = CliRunner().invoke(cli, [*args, "--precision", "fp8"])
    assert bad.exit_code == 2
