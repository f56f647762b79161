"""The motion model: warping algebra, classical start, learned corrections, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from framepred.models.checkpoints import export_model, load_model
from framepred.models.interpolator import MotionConfig, MotionInterpolator
from framepred.models.warp import backward_warp, fb_error, slot_flows
from framepred.synth.classical import Flow
from framepred.synth.motion import MotionSynthesizer
from tests.conftest import moving_scene, panning_scene

TINY = MotionConfig(chs=(4, 8, 8, 8))


def test_backward_warp_shifts_by_the_flow():
    img = torch.arange(5 * 7, dtype=torch.float32).view(1, 1, 5, 7)
    flow = torch.zeros(1, 2, 5, 7)
    flow[:, 0] = 1.0  # sample one pixel to the right
    out = backward_warp(img, flow)
    assert torch.allclose(out[..., :-1], img[..., 1:])
    assert torch.allclose(out[..., -1], img[..., -1])  # border replicated


def test_fb_error_is_zero_for_consistent_flows_and_large_for_inconsistent():
    f = torch.full((1, 2, 9, 9), 0.0)
    f[:, 0] = 2.0
    assert fb_error(f, -f).abs().max() < 1e-5
    assert fb_error(f, f).min() > 1.0


def test_slot_flows_are_exact_for_linear_motion():
    f01 = torch.full((1, 2, 4, 4), 3.0)
    ft0, ft1 = slot_flows(f01, -f01, 0.25)
    assert torch.allclose(ft0, -0.25 * f01) and torch.allclose(ft1, 0.75 * f01)


@pytest.mark.parametrize("scene", [moving_scene, panning_scene])
def test_untrained_model_reproduces_the_flow_method(scene):
    frames = [scene(i, w=96, h=72) for i in range(8)]
    before, after = frames[1:3], frames[6:8]
    times = [0.25, 0.5, 0.75]
    classical = Flow().synthesize(before, after, times)
    learned = MotionSynthesizer(MotionInterpolator(TINY)).synthesize(before, after, times)
    for x, y in zip(classical, learned, strict=True):
        assert np.abs(x.astype(int) - y.astype(int)).max() <= 1


def test_working_resolution_is_capped_and_odd_sizes_work():
    cfg = MotionConfig(chs=(4, 8, 8, 8), max_side=40)
    frames = [moving_scene(i, w=101, h=67) for i in range(6)]
    out = MotionSynthesizer(MotionInterpolator(cfg)).synthesize(frames[:2], frames[4:], [0.5])
    assert out[0].shape == (67, 101, 3) and out[0].dtype == np.uint8


def test_one_sided_gap_repeats_the_known_frame():
    frames = [moving_scene(i) for i in range(3)]
    out = MotionSynthesizer(MotionInterpolator(TINY)).synthesize([], frames, [0.5])
    assert np.array_equal(out[0], frames[0])


def test_gradients_reach_every_part():
    torch.manual_seed(0)
    net = MotionInterpolator(TINY)
    past, future = torch.rand(2, 2, 3, 24, 32), torch.rand(2, 2, 3, 24, 32)
    f01, f10 = torch.randn(2, 2, 24, 32), torch.randn(2, 2, 24, 32)
    slots = net(past, future, f01, f10, [0.5])
    out = net.render(past[:, -1], future[:, 0], slots[0], clamp=False)
    out.mean().backward()
    assert net.head.weight.grad is not None and net.head.weight.grad.abs().sum() > 0
    # one step later (non-zero head) the gradient reaches the recurrent part too
    with torch.no_grad():
        net.head.weight.normal_(0, 0.1)
    net.zero_grad()
    slots = net(past, future, f01, f10, [0.5])
    net.render(past[:, -1], future[:, 0], slots[0], clamp=False).mean().backward()
    for name in ("past", "future", "forecaster", "context_encoder", "encoder"):
        grads = [p.grad for p in getattr(net, name).parameters()]
        assert all(g is not None for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name


def test_export_and_reload_rebuilds_the_same_motion_model(tmp_path):
    torch.manual_seed(1)
    net = MotionInterpolator(TINY)
    with torch.no_grad():
        net.head.weight.normal_(0, 0.05)
    path = export_model(net, tmp_path / "m.pt")
    back, _ = load_model(path)
    assert isinstance(back, MotionInterpolator) and back.config == net.config
    frames = [panning_scene(i) for i in range(6)]
    a = MotionSynthesizer(net).synthesize(frames[:2], frames[4:], [0.5])
    b = MotionSynthesizer(back).synthesize(frames[:2], frames[4:], [0.5])
    assert np.array_equal(a[0], b[0])


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError):
        MotionConfig.from_dict({"head": "motion", "wings": 2})
