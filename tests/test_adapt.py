"""Per-video adaptation: fine-tuning on a video's own frames lowers its reconstruction error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from framepred.adapt import StrideBatches, TimedGapBatches, adapt, collect_windows
from framepred.models.interpolator import MotionConfig, MotionInterpolator
from tests.conftest import moving_scene


def test_collect_windows_keeps_a_bounded_sample_of_consecutive_crops():
    frames = (np.full((20, 30, 3), i, np.uint8) for i in range(100))
    windows = collect_windows(frames, crop=16, length=5, max_windows=8)
    assert len(windows) == 8
    for w in windows:
        assert w.frames.shape == (5, 16, 16, 3) and w.offsets == (0, 1, 2, 3, 4) and w.even
        values = w.frames[:, 0, 0, 0].astype(int)
        assert np.array_equal(np.diff(values), np.ones(4))  # consecutive frames


def test_collect_windows_records_where_known_frames_lie():
    slots = [s for s in range(100) if s % 5 in (0, 1)]  # two kept, three dropped
    frames = [np.full((20, 30, 3), s, np.uint8) for s in slots]
    windows = collect_windows(frames, crop=16, length=5, slots=slots, max_windows=100)
    assert len(windows) == len(slots) - 4
    for w in windows:
        first = int(w.frames[0, 0, 0, 0])
        assert w.offsets == tuple(int(v) - first for v in w.frames[:, 0, 0, 0])
        assert w.offsets in ((0, 1, 5, 6, 10), (0, 4, 5, 9, 10)) and not w.even


def test_timed_batches_ask_for_hidden_frames_at_their_true_times():
    """Two kept, three dropped: hiding a known frame between its neighbours asks for it at
    4/5 or 1/5 of the way, not halfway, and P and N lie where they are."""
    slots = [s for s in range(60) if s % 5 in (0, 1)]
    frames = [np.full((16, 16, 3), s, np.uint8) for s in slots]
    windows = collect_windows(frames, crop=16, length=9, slots=slots, max_windows=100)
    stream = TimedGapBatches(windows, 2, working=16, scales=(1,), gaps=(1,), accel=True, seed=0,
                             batches=20)  # fmt: skip
    for batch in stream:
        full = batch["full"][0, :, 0, 0, 0].float()  # (the frames hold their own slot)
        p, a, x, b, n = full.tolist()
        assert batch["times"] == [pytest.approx((x - a) / (b - a))]
        assert batch["times"][0] in (pytest.approx(0.8), pytest.approx(0.2))
        for sp, sn in zip(batch["sp"].tolist(), batch["sn"].tolist(), strict=True):
            assert sp == 0 or sp == pytest.approx((a - p) / (b - a))
            assert sn == 0 or sn == pytest.approx((n - b) / (b - a))


def test_stride_batches_lay_out_the_fill_task_on_the_known_frames():
    """Every other frame missing: A and B two known frames apart with one hidden halfway, P and
    N a whole gap out, as around a missing frame, on a grid twice as coarse."""
    slots = list(range(0, 120, 2))
    frames = [np.full((16, 16, 3), s, np.uint8) for s in slots]
    windows = collect_windows(frames, crop=16, length=9, slots=slots, max_windows=100)
    stream = StrideBatches(windows, 2, 2, working=16, scales=(1,), accel=True, seed=0, batches=10)
    for batch in stream:
        p, a, x, b, n = batch["full"][0, :, 0, 0, 0].tolist()  # (the frames hold their slot)
        assert a - p == b - a == n - b == 4 and x - a == 2
        assert batch["n"] == 1
        assert batch["sp"].tolist() == batch["sn"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("keep", "height", "zoom"),
    [
        (lambda s: s % 2 == 0, 48, 2),
        (lambda s: s % 5 in (0, 1), 48, 1),
        (lambda s: s % 2 == 0, 36, 1),
    ],
    ids=["x2", "gap3", "x2-too-small-to-zoom"],
)
def test_adapt_zooms_out_where_every_other_frame_is_missing(keep, height, zoom):
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16), accel=True))
    slots = [s for s in range(120) if keep(s)]
    frames = [moving_scene(s, w=64, h=height, speed=1) for s in slots]
    _, result = adapt(net, frames, steps=2, working=20, progress=False, slots=slots)
    assert result.zoom == zoom
    assert ("zoomed out 2x" in result.summary()) == (zoom == 2)


def test_adapt_learns_with_every_other_frame_missing():
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16), accel=True))
    slots = list(range(0, 160, 2))
    frames = [moving_scene(s, w=64, h=64, speed=1) for s in slots]
    before = [p.detach().clone() for p in net.parameters()]
    adapted, result = adapt(net, frames, steps=60, lr=2e-3, working=32, progress=False, slots=slots)
    assert result.zoom == 2
    assert result.psnr_after > result.psnr_before + 0.5, result
    assert result.kept_step > 0 and adapted is not net
    # the original network is left as it was
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


@pytest.mark.slow
def test_adapt_learns_on_a_video_with_two_kept_three_dropped():
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16), accel=True))
    slots = [s for s in range(100) if s % 5 in (0, 1)]
    frames = [moving_scene(s, w=64, h=48, speed=1) for s in slots]
    _, result = adapt(net, frames, steps=60, lr=2e-3, working=32, progress=False, slots=slots)
    assert result.psnr_after > result.psnr_before + 0.5, result


@pytest.mark.slow
@pytest.mark.parametrize("accel", [False, True])
def test_adapt_lowers_the_error_on_the_video_it_adapts_to(accel):
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16), accel=accel))
    frames = [moving_scene(i, w=64, h=48, speed=3) for i in range(40)]
    before = [p.detach().clone() for p in net.parameters()]
    adapted, result = adapt(net, frames, steps=60, lr=2e-3, working=32, progress=False)
    assert result.psnr_after > result.psnr_before + 1.0, result
    # the original network is left as it was
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert adapted is not net
    assert result.kept_step > 0


def test_adapt_keeps_the_original_weights_when_no_step_helps():
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16)))
    frames = [moving_scene(i, w=64, h=48, speed=3) for i in range(40)]
    # A learning rate far too high: every checked step scores worse than the start.
    adapted, result = adapt(net, frames, steps=8, lr=5.0, working=32, progress=False)
    assert result.kept_step == 0 and result.psnr_after == result.psnr_before, result
    for a, b in zip(adapted.parameters(), net.parameters(), strict=True):
        assert torch.equal(a, b)


def test_adapt_is_repeatable_whatever_the_global_seed():
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16), accel=True))
    slots = list(range(0, 120, 2))
    frames = [moving_scene(s, w=64, h=48, speed=1) for s in slots]
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        adapted, _ = adapt(net, frames, steps=4, lr=1e-3, working=20, progress=False, slots=slots,
                           checks=1)  # fmt: skip
        runs.append(adapted.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert any(not torch.equal(runs[0][k], v) for k, v in net.state_dict().items())
