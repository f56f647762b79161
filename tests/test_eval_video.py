"""`eval` on a video: hiding patterns, ranking, context sweep, plot, bad input."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import moving_scene, write_video

from cli.main import cli
from framepred.errors import InputShapeError
from framepred.eval.video import evaluate, parse_pattern
from framepred.models import EncoderForecaster, ModelConfig
from framepred.models.checkpoints import export_model
from framepred.predict.forecasters import Forecaster
from framepred.synth.base import Synthesizer

N = 24


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eval") / "clip.mkv"
    return write_video(path, [(Fraction(i, 25), moving_scene(i)) for i in range(N)])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    net = EncoderForecaster(ModelConfig(in_chs=1, stem_chs=4, stage_chs=(4, 4)))
    return export_model(net, tmp_path_factory.mktemp("model") / "tiny.pt")


def _index(image: np.ndarray) -> int:
    """Which frame of the clip this is (the scene's frames are all different)."""
    return next(i for i in range(N) if np.array_equal(moving_scene(i), image))


class OracleFill(Synthesizer):
    """Knows the clip: returns the true frames of every gap."""

    name = "oracle"

    def fill_run(self, before, after, n, spacing=None):
        i = _index(before[-1])
        return [moving_scene(i + k) for k in range(1, n + 1)]


class OracleFuture(Forecaster):
    name = "oracle"

    def predict_many(self, contexts, horizon):
        return np.stack([[moving_scene(_index(c[-1]) + k) for k in range(1, horizon + 1)]
                         for c in contexts])  # fmt: skip


@pytest.mark.parametrize(
    "pattern, oracle, baseline",
    [("gap3", OracleFill(), "repeat"), ("x2", OracleFill(), "repeat"),
     ("future3", OracleFuture(), "copy-last")],
)  # fmt: skip
def test_a_perfect_method_ranks_above_the_simple_one(clip, pattern, oracle, baseline):
    result = evaluate(clip, pattern, methods=[baseline, oracle], context=4, progress=False)
    ranked = [s.method for s in result.ranked()]
    assert ranked == ["oracle", baseline]
    best, simple = result.ranked()
    assert best.psnr == 100.0 and best.ssim == pytest.approx(1.0)
    assert simple.psnr < 40.0  # the square moves 2 px/frame: repeating a frame is visibly wrong
    assert result.table().splitlines()[2].startswith("| oracle |")


def test_which_frames_are_scored(clip):
    x2 = evaluate(clip, "x2", methods=["repeat"], progress=False).scores[0]
    assert sorted(x2.psnr_per_frame) == list(range(1, N - 2, 2))  # up to the last kept (22)
    gap3 = evaluate(clip, "gap3", methods=["blend"], progress=False).scores[0]
    assert sorted(gap3.psnr_per_frame) == [2, 3, 4, 7, 8, 9, 12, 13, 14, 17, 18, 19]
    fut = evaluate(clip, "future3", methods=["flow"], context=4, progress=False)
    assert fut.n_windows == len(range(4, N - 3 + 1, 3))
    assert len(fut.scores[0].psnr_per_step) == 3


def test_flow_beats_repeat_on_known_motion(clip):
    result = evaluate(clip, "gap3", methods=["repeat", "blend", "flow"], progress=False)
    psnr = {s.method: s.psnr for s in result.scores}
    assert psnr["flow"] > psnr["repeat"] + 3, psnr


def test_cli_table_context_sweep_plot_and_json(clip, tiny_model, tmp_path):
    plot, data = tmp_path / "psnr.png", tmp_path / "scores.json"
    result = run("eval", clip, "--pattern", "future2", "--model", tiny_model,
                 "--context", "2,4", "--plot", plot, "--json", data, "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[0][0].strip() == "method"
    found = {(r[0].strip(), r[1].strip()) for r in rows[1:]}
    assert found == {("model", "2"), ("model", "4"), ("copy-last", "-"), ("flow", "-")}
    assert all(float(r[2]) > 0 and 0 < float(r[3]) <= 1 and float(r[4]) > 0 for r in rows[1:])
    assert cv2.imread(str(plot)).shape == (400, 1200, 3)
    saved = json.loads(data.read_text())
    assert saved["pattern"] == "future2" and len(saved["scores"]) == 4


@pytest.mark.parametrize("text", ["x1", "gap0", "future", "every2", "x2000"])
def test_bad_patterns(text):
    with pytest.raises(InputShapeError, match="unknown pattern"):
        parse_pattern(text)


def test_bad_input_is_one_clear_line(clip, tmp_path):
    def clean(result, code, message):
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output and message in result.output, result.output

    clean(run("eval", tmp_path / "none.mp4"), 2, "only 'mmnist' is built in")
    clean(run("eval", clip, "--pattern", "skip2"), 2, "unknown pattern")
    clean(run("eval", clip, "--context", "0,4"), 2, "--context")
    clean(run("eval", clip, "--methods", "blend", "--pattern", "future2"), 1,
          "unknown method 'blend' for future2")  # fmt: skip
    clean(run("eval", clip, "--methods", "model,flow", "--model", "x"), 1, "no such checkpoint")
    clean(run("eval", clip, "--methods", "flow", "--context", "30", "--no-progress"), 1,
          "too short")  # fmt: skip
    clean(run("eval", clip, "--plot", tmp_path / "no" / "p.png"), 1, "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_mmnist_context_sweep_has_a_row_per_method_and_context(tiny_model):
    result = run("eval", "mmnist", "--model", tiny_model, "--context", "2,4",
                 "--sequences", 4, "--batch-size", 4)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [c.strip() for c in rows[0]] == ["method", "context", "MSE", "MAE", "SSIM", "PSNR"]
    found = {(r[0].strip(), r[1].strip()) for r in rows[1:]}
    assert found == {(m, k) for m in ("framepred", "copy-last", "zeros") for k in ("2", "4")}
