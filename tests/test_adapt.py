"""Per-video adaptation: fine-tuning on a video's own frames lowers its reconstruction error."""

from __future__ import annotations

import numpy as np
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


def test_adapt_lowers_the_error_on_the_video_it_adapts_to():
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(8, 8, 16, 16)))
    frames = [moving_scene(i, w=64, h=48, speed=3) for i in range(40)]
    before = [p.detach().clone() for p in net.parameters()]
    adapted, result = adapt(net, frames, steps=40, lr=2e-3, working=32, progress=False)
    assert result.psnr_after > result.psnr_before + 0.3, result
    # the original network is left as it was
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert adapted is not net
