"""`predict` on video: context before --start, --with-context, outputs, audio, bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import moving_scene, panning_scene, psnr, read_all, write_video

from cli.main import cli
from framepred.models import EncoderForecaster, ModelConfig
from framepred.models.checkpoints import export_model
from framepred.predict.forecasters import CopyLast, FlowExtrapolation, ModelForecaster
from framepred.predict.predictor import FramePredictor
from framepred.predict.video import parse_start, predict_video

N = 30  # frames in every synthetic clip (64x48, 25 fps)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_clean_error(result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert message in result.output, result.output


@pytest.fixture(scope="module")
def pan_mkv(tmp_path_factory) -> Path:
    """Lossless clip of a picture translating 1.5 px/frame, with 1.0 s of audio."""
    path = tmp_path_factory.mktemp("pan") / "pan.mkv"
    return write_video(path, [(Fraction(i, 25), panning_scene(i)) for i in range(N)],
                       audio_seconds=1.0)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained 1-channel model as a slim checkpoint: fast, deterministic."""
    torch.manual_seed(0)
    net = EncoderForecaster(ModelConfig(in_chs=1, stem_chs=4, stage_chs=(4, 4)))
    return export_model(net, tmp_path_factory.mktemp("model") / "tiny.pt")


def test_flow_prediction_from_the_middle_lands_near_the_truth(pan_mkv, tmp_path):
    # The scene moves exactly 1.5 px/frame, so constant-velocity flow extrapolation should
    # reproduce frames 15-17 up to the strip entering at the border (inpainted) and
    # resampling. Measured: ~41/34/29 dB for steps 1-3. We assert >= 30 dB on average and
    # >= 5 dB better than copy-last at every step. This fails if the flow's sign or scale
    # is wrong, if the context or truth is off by one slot, or if the splatting is broken.
    out = tmp_path / "flow.npy"
    report = predict_video(pan_mkv, out, horizon=3, context=4, start=15, method="flow",
                           progress=False)  # fmt: skip
    pred = np.load(out)
    truth = [panning_scene(i) for i in (15, 16, 17)]
    scores = [psnr(p, t) for p, t in zip(pred, truth, strict=True)]
    copy = [psnr(panning_scene(14), t) for t in truth]
    assert np.mean(scores) >= 30.0, scores
    assert all(s >= c + 5.0 for s, c in zip(scores, copy, strict=True)), (scores, copy)
    assert report.start_slot == 15 and report.start_time == pytest.approx(0.6)
    np.testing.assert_allclose(report.psnr_per_step, scores, atol=0.01)


def test_copy_last_takes_the_frame_just_before_start(pan_mkv, tmp_path):
    out = tmp_path / "copy.npy"
    predict_video(pan_mkv, out, horizon=2, context=3, start="0.4s", method="copy-last",
                  progress=False)  # fmt: skip  # 0.4 s at 25 fps is slot 10
    np.testing.assert_array_equal(np.load(out), np.stack([panning_scene(9)] * 2))


def test_with_context_length_and_timestamps(pan_mkv, tmp_path):
    out = tmp_path / "ext.mkv"
    result = run("predict", pan_mkv, "-o", out, "--horizon", 3, "--context", 4, "--start", 12,
                 "--method", "flow", "--with-context", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    info, frames = read_all(out)
    assert len(frames) == 4 + 3
    assert info.frame_rate == 25
    assert [f.pts for f in frames] == [Fraction(i, 25) for i in range(7)]
    for k in range(4):  # the context passes through unchanged (FFV1 is lossless)
        np.testing.assert_array_equal(frames[k].image, panning_scene(8 + k))


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        samples = sum(f.samples for f in c.decode(s))
        return samples / s.sample_rate


def test_audio_is_trimmed_to_the_span_and_padded_past_its_end(pan_mkv, tmp_path):
    mid = predict_video(pan_mkv, tmp_path / "mid.mp4", horizon=5, context=2, start=5,
                        method="copy-last", progress=False)  # fmt: skip
    assert mid.audio == "trimmed"
    assert _audio_seconds(tmp_path / "mid.mp4") == pytest.approx(5 / 25, abs=0.03)
    # From the end (1.2 s) with the context: 1.04-1.4 s, past the 1.0 s of audio -> padded.
    end = predict_video(pan_mkv, tmp_path / "end.mp4", horizon=5, context=4,
                        with_context=True, method="copy-last", progress=False)  # fmt: skip
    assert end.start_slot == N and end.audio == "none"  # audio ends before the context
    late = predict_video(pan_mkv, tmp_path / "late.mp4", horizon=5, context=4, start=24,
                         with_context=True, method="copy-last", progress=False)  # fmt: skip
    assert late.audio == "padded"
    assert _audio_seconds(tmp_path / "late.mp4") == pytest.approx(9 / 25, abs=0.03)


@pytest.mark.parametrize("form", ["mkv", "mp4", "folder", "gif"])
def test_npy_output_shapes_for_every_video_input_form(form, tmp_path):
    frames = [(Fraction(i, 25), moving_scene(i)) for i in range(12)]
    if form in ("mkv", "mp4"):
        src = write_video(tmp_path / f"in.{form}", frames)
    else:
        src = tmp_path / ("in" if form == "folder" else "in.gif")
        from framepred.io.writer import VideoWriter

        with VideoWriter(src, Fraction(25)) as w:
            for _, image in frames:
                w.write(image)
    out = tmp_path / "o.npy"
    predict_video(src, out, horizon=3, context=5, method="flow", progress=False)
    y = np.load(out)
    assert y.shape == (3, 48, 64, 3) and y.dtype == np.uint8
    predict_video(src, out, horizon=3, context=5, method="copy-last", with_context=True,
                  overwrite=True, progress=False)  # fmt: skip
    assert np.load(out).shape == (8, 48, 64, 3)


@pytest.mark.parametrize(
    "shape",
    [(6, 16, 16), (6, 16, 16, 3), (2, 6, 16, 16), (2, 6, 16, 16, 3), (6, 16, 16, 1)],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_npy_contract_through_the_cli(tiny_model, tmp_path, shape, dtype):
    x = np.random.default_rng(0).random(shape)
    x = (x * 255).astype(np.uint8) if dtype == np.uint8 else x.astype(dtype)
    np.save(tmp_path / "in.npy", x)
    result = run("predict", tmp_path / "in.npy", "-o", tmp_path / "o.npy", "--horizon", 2,
                 "--model", tiny_model)  # fmt: skip
    assert result.exit_code == 0, result.output
    y = np.load(tmp_path / "o.npy")
    t_axis = 1 if len(shape) == 5 or (len(shape) == 4 and shape[-1] not in (1, 3)) else 0
    expected = list(shape)
    expected[t_axis] = 2
    assert y.shape == tuple(expected) and y.dtype == dtype


def test_npy_input_rejects_video_only_options(tiny_model, tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((4, 8, 8), np.uint8))
    assert_clean_error(run("predict", tmp_path / "in.npy", "-o", tmp_path / "o.npy",
                           "--horizon", 2, "--model", tiny_model, "--start", 2),
                       2, "--start apply to video input only")  # fmt: skip


def test_model_on_video_through_the_cli(tiny_model, pan_mkv, tmp_path):
    out = tmp_path / "frames"
    result = run("predict", pan_mkv, "-o", out, "--horizon", 2, "--context", 3,
                 "--model", tiny_model, "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 2
    assert cv2.imread(str(pngs[0])).shape == (48, 64, 3)


def test_forecasters_share_one_contract():
    torch.manual_seed(0)
    net = EncoderForecaster(ModelConfig(in_chs=1, stem_chs=4, stage_chs=(4, 4)))
    ctx = np.stack([np.stack([moving_scene(i) for i in range(4)])] * 2)  # (2, 4, 48, 64, 3)
    for f in (CopyLast(), FlowExtrapolation(), ModelForecaster(FramePredictor(net), 3)):
        y = f.predict_many(ctx, 3)
        assert y.shape == (2, 3, 48, 64, 3) and y.dtype == np.uint8, f.name


@pytest.mark.parametrize(
    "spec, expected",
    [("120", 120), (7, 7), ("4.8s", Fraction(24, 5)), ("0:04.8", Fraction(24, 5)),
     ("1:00:00", 3600), (1.5, Fraction(3, 2))],
)  # fmt: skip
def test_parse_start(spec, expected):
    assert parse_start(spec) == expected


def test_bad_input_is_one_clear_line_and_nothing_is_written(pan_mkv, tmp_path):
    out = tmp_path / "o.mp4"
    base = ("predict", pan_mkv, "-o", out, "--method", "flow", "--no-progress")
    assert_clean_error(run(*base, "--horizon", 2, "--start", 31), 1, "beyond the end")
    assert_clean_error(run(*base, "--horizon", 2, "--start", "9s"), 1, "beyond the end")
    assert_clean_error(run(*base, "--horizon", 2, "--start", 5, "--context", 8), 1,
                       "--context 8 needs 8 frames before --start, but only 5")  # fmt: skip
    assert_clean_error(run(*base, "--horizon", 0), 2, "--horizon")
    assert_clean_error(run(*base, "--horizon", 2, "--start", "soon"), 2, "--start")
    assert_clean_error(run(*base, "--horizon", 2, "--compare"), 1, "--compare needs the true")
    assert_clean_error(run("predict", pan_mkv, "-o", tmp_path / "no" / "o.mp4", "--horizon", 2),
                       1, "output folder does not exist")  # fmt: skip
    assert_clean_error(run("predict", pan_mkv, "-o", tmp_path / "o.avi", "--horizon", 2), 1,
                       "unknown output type")  # fmt: skip
    assert_clean_error(run("predict", tmp_path / "none.mp4", "-o", out, "--horizon", 2), 1,
                       "no such file")  # fmt: skip
    blocker = tmp_path / "taken.mp4"
    blocker.write_bytes(b"keep")
    assert_clean_error(run(*base[:3], blocker, "--horizon", 2), 1, "not written by framepred")
    assert blocker.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.mp4"]


def test_strip_gets_a_row_per_compared_method(pan_mkv, tmp_path):
    out = tmp_path / "p.npy"
    result = run("predict", pan_mkv, "-o", out, "--horizon", 2, "--context", 2, "--start", 10,
                 "--method", "flow", "--compare", "--compare-with", "copy-last",
                 "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows_3 = cv2.imread(str(tmp_path / "p_strip.png")).shape[0]
    assert (tmp_path / "p_compare.mp4").is_file()  # .npy output: the side-by-side is .mp4
    predict_video(pan_mkv, tmp_path / "q.npy", horizon=2, context=2, start=10, method="flow",
                  compare=True, progress=False)  # fmt: skip
    assert rows_3 > cv2.imread(str(tmp_path / "q_strip.png")).shape[0] + 40
    assert_clean_error(run("predict", pan_mkv, "-o", tmp_path / "r.mp4", "--horizon", 2,
                           "--compare-with", "flow"), 2, "needs --compare")  # fmt: skip


def test_model_method_falls_back_to_flow_without_a_video_model(pan_mkv, tmp_path, monkeypatch):
    monkeypatch.setattr("framepred.predict.video.video_model", lambda: None)
    report = predict_video(pan_mkv, tmp_path / "o.npy", horizon=1, context=2, start=10,
                           progress=False)  # fmt: skip
    assert report.method == "flow"
