"""Per-video adaptation: fine-tuning on a video's own frames lowers its reconstruction error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from framepred.adapt import adapt, collect_windows
from framepred.models.motion import MotionConfig, MotionInterpolator
from tests.conftest import moving_scene


def test_collect_windows_keeps_a_bounded_sample_of_consecutive_crops():
    frames = (np.full((20, 30, 3), i, np.uint8) for i in range(100))
    windows = collect_windows(frames, crop=16, length=5, max_windows=8)
    assert len(windows) == 8
    for w in windows:
        assert w.shape == (5, 16, 16, 3)
        values = w[:, 0, 0, 0].astype(int)
        assert np.array_equal(np.diff(values), np.ones(4))  # consecutive frames


def test_collect_windows_keeps_only_evenly_spaced_runs_of_known_frames():
    # two kept, three dropped: no five known frames in a row are evenly spaced in time
    slots = [s for s in range(100) if s % 5 in (0, 1)]
    frames = [np.full((20, 30, 3), s, np.uint8) for s in slots]
    assert collect_windows(frames, crop=16, length=5, slots=slots) == []
    # every other frame dropped: evenly spaced, kept; one longer gap: windows across it are not
    slots = [s for s in range(100) if s % 2 == 0 and s != 50]
    frames = [np.full((20, 30, 3), s, np.uint8) for s in slots]
    windows = collect_windows(frames, crop=16, length=5, slots=slots, max_windows=100)
    assert len(windows) == len(slots) - 4 - 4  # the four windows over slot 50's gap are left out
    for w in windows:
        assert set(np.diff(w[:, 0, 0, 0].astype(int))) == {2}


def test_adapt_refuses_a_video_without_evenly_spaced_known_frames():
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16)))
    slots = [s for s in range(60) if s % 5 in (0, 1)]
    frames = [moving_scene(s, w=64, h=48, speed=3) for s in slots]
    with pytest.raises(ValueError, match="evenly spaced"):
        adapt(net, frames, steps=2, working=32, progress=False, slots=slots)


@pytest.mark.parametrize("accel", [False, True])
def test_adapt_lowers_the_error_on_the_video_it_adapts_to(accel):
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16), accel=accel))
    frames = [moving_scene(i, w=64, h=48, speed=3) for i in range(40)]
    before = [p.detach().clone() for p in net.parameters()]
    adapted, result = adapt(net, frames, steps=40, lr=2e-3, working=32, progress=False)
    # (the quadratic-motion model has more inputs to settle in 40 steps)
    assert result.psnr_after > result.psnr_before + (0.1 if accel else 0.3), result
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
