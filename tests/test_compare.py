"""Comparison pictures (side-by-side, strip), plots, and `predict --compare` / `plot`."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import moving_scene, read_all, write_video

from cli.main import cli
from framepred.eval.compare import (
    SEPARATOR,
    error_map,
    header_height,
    panel_scale,
    side_by_side_frames,
    strip_image,
)
from framepred.eval.plots import PlotError, plot_eval, plot_training
from framepred.eval.video import EvalResult, MethodScore

H, W = 48, 64


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def frames(n: int, offset: int = 0) -> list[np.ndarray]:
    return [moving_scene(i + offset) for i in range(n)]


def side_by_side_size(h: int = H, w: int = W) -> tuple[int, int]:
    k = panel_scale(h)
    return h * k + header_height(w * k), 3 * w * k + 2 * SEPARATOR


def test_side_by_side_has_one_frame_per_context_and_step():
    ctx, truth = frames(3), frames(2, 3)
    pred = [truth[0], truth[1] // 2]
    out = side_by_side_frames(ctx, truth, pred, [i / 25 for i in range(5)])
    assert len(out) == 5
    assert {f.shape for f in out} == {(*side_by_side_size(), 3)}
    h, w = side_by_side_size()
    k = panel_scale(H)
    bar = header_height(W * k)
    third = slice(2 * (W * k + SEPARATOR), w)
    # A perfect step has an all-dark error panel; a bad one does not.
    assert out[3][bar:, third].max() < 10
    assert out[4][bar:, third].mean() > 40


def test_missing_truth_is_a_grey_panel():
    out = side_by_side_frames(frames(1), [None], frames(1, 1), [0.0, 0.04])
    k = panel_scale(H)
    truth_panel = out[1][header_height(W * k) :, : W * k]
    assert (np.abs(truth_panel.astype(int) - 96) < 2).mean() > 0.9  # grey, a little text


def test_error_map_scale():
    a = np.zeros((4, 4, 3), np.uint8)
    assert (error_map(a, a) == error_map(a, a)[0, 0]).all()
    hot = error_map(a, np.full_like(a, 255))
    assert hot.astype(int).sum() > error_map(a, a).astype(int).sum() + 4 * 4 * 300


def test_strip_layout():
    ctx, truth = frames(6), frames(3, 6)
    rows = {"flow": frames(3, 6), "copy-last": [ctx[-1]] * 3}
    img = strip_image(ctx, truth, rows, max_context=4, thumb_width=96)
    th = round(H * 96 / W)
    bar = 2 * max(8, round(96 / 14))
    assert img.shape == (3 * (th + bar) + 2 * 2, 88 + 7 * (96 + 2), 3)
    with pytest.raises(ValueError):
        strip_image(ctx, truth, {"flow": frames(2)})


def test_strip_titles_replace_the_time_labels():
    ctx, truth = frames(2), frames(2, 2)
    rows = {"flow": frames(2, 2)}
    plain = strip_image(ctx, truth, rows, max_context=2, thumb_width=96)
    titled = strip_image(ctx, truth, rows, max_context=2, thumb_width=96,
                         titles=["src 0", "src 1", "1/3", "2/3"])  # fmt: skip
    assert titled.shape == plain.shape and not np.array_equal(titled, plain)
    rows_part = slice(plain.shape[0] // 2, None)  # the prediction rows are the same
    assert np.array_equal(titled[rows_part], plain[rows_part])
    with pytest.raises(ValueError, match="4 titles"):
        strip_image(ctx, truth, rows, max_context=2, titles=["one"])


@pytest.fixture()
def clip(tmp_path) -> Path:
    return write_video(
        tmp_path / "clip.mkv", [(Fraction(i, 25), moving_scene(i)) for i in range(20)]
    )


@pytest.mark.parametrize("ext", [".gif", ".mp4"])
def test_predict_compare_writes_both_artefacts(clip, tmp_path, ext):
    out = tmp_path / f"pred{ext}"
    result = run("predict", clip, "-o", out, "--horizon", 4, "--context", 3, "--start", 10,
                 "--method", "flow", "--compare", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    side = tmp_path / f"pred_compare{ext}"
    strip = tmp_path / "pred_strip.png"
    info, got = read_all(side)
    assert len(got) == 3 + 4
    h, w = side_by_side_size()
    assert (info.height, info.width) == (h + h % 2, w + w % 2)  # H.264 pads odd sizes
    png = cv2.imread(str(strip))
    th = round(H * 128 / W)
    bar = 2 * max(8, round(128 / 14))
    assert png.shape == (2 * (th + bar) + 2, 88 + 7 * (128 + 2), 3)


def test_plot_training_from_a_csv_logger_file(tmp_path):
    logs = tmp_path / "run" / "logs"
    logs.mkdir(parents=True)
    rows = ["epoch,step,train/loss,val/loss,val/mse,val/psnr"]
    for s in range(10, 110, 10):
        rows.append(f"0,{s},{1 / s:.4f},,,")
        if s % 50 == 0:
            rows.append(f"0,{s},,{1.2 / s:.4f},{100 / s:.3f},{10 + s / 10:.2f}")
    (logs / "metrics.csv").write_text("\n".join(rows) + "\n")
    result = run("plot", tmp_path / "run")
    assert result.exit_code == 0, result.output
    png = cv2.imread(str(tmp_path / "run" / "loss.png"))
    assert png.shape == (400, 1200, 3)  # two panels of 6x4 in at 100 dpi
    assert_error = run("plot", tmp_path / "nothing")
    assert assert_error.exit_code == 1 and "no logs/metrics.csv" in assert_error.output
    with pytest.raises(PlotError, match="no loss column"):
        (logs / "metrics.csv").write_text("epoch,step,val/psnr\n0,1,12.0\n")
        plot_training(tmp_path / "run", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_eval_with_a_context_sweep(tmp_path):
    scores = [
        MethodScore("model", k, psnr=20 + k, psnr_per_step=[30 - n for n in range(3)])
        for k in (2, 4, 8)
    ] + [MethodScore("copy-last", None, psnr=22, psnr_per_step=[25, 22, 20])]
    result = EvalResult("clip.mkv", "future3", "25", 30, 5, scores)
    plot_eval(result, tmp_path / "p.png")
    assert cv2.imread(str(tmp_path / "p.png")).shape == (400, 1200, 3)
