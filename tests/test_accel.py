"""Quadratic motion (`--accel`): the acceleration algebra, the grown model's exact start, where
the context frames lie, and the batches that train it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from framepred.data.interp import GapBatches
from framepred.eval.metrics import psnr_u8
from framepred.models.interpolator import Accel, MotionConfig, MotionInterpolator, grow_to_accel
from framepred.models.warp import accel_shift, acceleration
from framepred.synth.base import Synthesizer, context_spacing
from framepred.synth.classical import Flow
from framepred.synth.motion import MotionSynthesizer
from tests.conftest import pan_texture

TINY = MotionConfig(chs=(4, 8, 8, 8))


def position(i: float, v: float = -1.6, a: float = 0.8) -> float:
    """Where an accelerating pan has moved the picture by frame i."""
    return v * i + 0.5 * a * i * i


def accelerating_pan(i: float) -> np.ndarray:
    # longer periods than panning_scene's, so DIS follows the larger motions
    return pan_texture(position(i), 128, 96, scales=(7, 8, 9, 11, 8))


def field(value: float, shape=(1, 2, 3, 4)) -> torch.Tensor:
    return torch.full(shape, value)


def test_acceleration_is_zero_for_linear_motion_and_exact_for_quadratic():
    v, a = 2.0, 0.6  # pixels per gap, pixels per gap^2
    for sp in (1.0, 0.25, 2.0):
        linear = acceleration(field(v), field(-v * sp), torch.tensor([sp]))
        assert linear.abs().max() < 1e-6
        # positions x(s) = v s + a s^2 / 2 at s = 1 (across the gap) and s = -sp (outer frame)
        quad = acceleration(field(v + a / 2), field(-v * sp + a * sp * sp / 2), torch.tensor([sp]))
        assert torch.allclose(quad, field(a), atol=1e-5)
    unknown = acceleration(field(v + a / 2), field(5.0), torch.tensor([0.0]))
    assert unknown.abs().max() == 0


@pytest.mark.parametrize("t", [0.25, 0.5, 0.8])
def test_accel_shift_moves_the_linear_sample_to_the_quadratic_position(t):
    a = 0.6
    # The flow t->A of a pixel under x(s) = x0 + v s + a s^2 / 2 is -(v t + a t^2 / 2); the
    # linear estimate from the flow across the gap is -t (v + a / 2).
    v = 1.5
    exact, linear = -(v * t + a * t * t / 2), -t * (v + a / 2)
    shift = accel_shift(field(a), field(a), t)
    assert torch.allclose(shift, field(exact - linear), atol=1e-6)


def random_gap(b: int, h: int, w: int, seed: int):
    """Random inputs of a motion model: two context frames on each side, the flows across the
    gap and the four flows to the outer frames."""
    g = torch.Generator().manual_seed(seed)
    past, future = (torch.rand(b, 2, 3, h, w, generator=g) for _ in range(2))
    f01, f10, *flows = (torch.randn(b, 2, h, w, generator=g) for _ in range(6))
    return past, future, f01, f10, flows


def test_grown_model_starts_exactly_where_the_linear_one_was():
    torch.manual_seed(0)
    net = MotionInterpolator(TINY)
    for p in net.parameters():  # a "trained" model: non-zero head
        torch.nn.init.normal_(p, std=0.05)
    grown = grow_to_accel(net).eval()
    assert grown.config.accel and grown.config.spacing_input and not net.config.accel
    net.eval()
    past, future, f01, f10, flows = random_gap(1, 24, 32, seed=1)
    accel = Accel(*flows, torch.tensor([1.0]), torch.tensor([0.25]))
    with torch.no_grad():
        want = net(past, future, f01, f10, [0.3, 0.6])
        for extra in (None, accel):
            got = grown(past, future, f01, f10, [0.3, 0.6], extra)
            for s, t in zip(want, got, strict=True):
                for x, y in zip(s, t, strict=True):
                    assert torch.allclose(x, y, atol=1e-6)


def test_an_accel_model_grows_the_spacing_input_and_fills_as_before():
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8), accel=True))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    grown = grow_to_accel(net).eval()
    assert grown.config.spacing_input and not net.config.spacing_input
    assert grown.encoder[0][0][0].in_channels == net.encoder[0][0][0].in_channels + 2
    net.eval()
    past, future, f01, f10, flows = random_gap(2, 20, 28, seed=2)
    accel = Accel(*flows, torch.tensor([1.0, 0.25]), torch.tensor([0.5, 2.0]))
    with torch.no_grad():
        for extra in (None, accel):
            want, got = (m(past, future, f01, f10, [0.5], extra) for m in (net, grown))
            for x, y in zip(want[0], got[0], strict=True):
                assert torch.allclose(x, y, atol=1e-6)
        # and the spacing does reach the network once the new channels are trained
        grown.encoder[0][0][0].weight[:, -2:].normal_()
        moved = grown(past, future, f01, f10, [0.5], accel)[0]
        assert not torch.allclose(moved.logit, got[0].logit)


def test_quadratic_motion_beats_linear_on_an_accelerating_pan():
    """A model whose gate takes the whole quadratic shift (and learned nothing else) fills an
    accelerating pan far better than linear motion, given where the context frames lie; without
    that it is the classical flow method."""
    net = MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8), accel=True))
    with torch.no_grad():
        net.head.bias[8] = 1.0
    synth = MotionSynthesizer(net)
    assert synth.wants_spacing
    frames = {i: accelerating_pan(i) for i in range(0, 9)}
    before, after, truth = [frames[2], frames[4]], [frames[6], frames[8]], frames[5]
    spacing = context_spacing([2, 4], [6, 8])
    assert spacing == (1.0, 1.0)
    quad = synth.synthesize(before, after, [0.5], spacing=spacing)[0]
    linear = synth.synthesize(before, after, [0.5])[0]
    classical = Flow().synthesize(before, after, [0.5])[0]
    assert np.abs(linear.astype(int) - classical.astype(int)).max() <= 1

    def score(x: np.ndarray) -> float:
        # the borders hold replicated pixels in every method; score the inside
        crop = (slice(8, -8), slice(12, -12))
        return psnr_u8(truth[crop], x[crop])

    assert score(quad) > score(linear) + 10.0  # ~72 vs ~40 dB here


@pytest.mark.parametrize(
    ("before", "after", "want"),
    [
        ([2, 4], [6, 8], (1.0, 1.0)),  # x2: every other frame dropped
        ([5, 6], [10, 11], (0.25, 0.25)),  # gap3: two kept, three dropped
        ([6], [10, 11], (0.0, 0.25)),  # one side too short: unknown there
        ([], [3, 4], (0.0, 0.0)),
    ],
)
def test_context_spacing_in_units_of_the_gap(before, after, want):
    assert context_spacing(before, after) == want


class _Spy(Synthesizer):
    """A synthesizer that wants the spacing and records it."""

    name, context, wants_spacing = "spy", 2, True

    def __init__(self) -> None:
        self.seen: list = []

    def fill_run(self, before, after, n, spacing=None):
        self.seen.append(spacing)
        return (np.zeros((8, 8, 3), np.uint8) for _ in range(n))


@pytest.mark.parametrize(("kept", "want"), [(lambda i: i % 2 == 0, (1.0, 1.0)),
                                            (lambda i: i % 5 < 2, (0.25, 0.25))])  # fmt: skip
def test_fill_tells_the_synthesizer_where_the_context_frames_lie(kept, want):
    from framepred.fill import FillPlan, FillReport, _fill_stream
    from framepred.gaps import SlotItem
    from framepred.io.reader import VideoInfo

    items = [SlotItem(i, np.full((8, 8, 3), i, np.uint8) if kept(i) else None, None if kept(i)
                      else "timestamps") for i in range(22)]  # fmt: skip
    info = VideoInfo(Path("x"), 8, 8, Fraction(25), None, Fraction(0), None, None, "-", "-",
                     False, 0)  # fmt: skip
    spy = _Spy()
    plan = FillPlan(spy, info, 30, "fill", FillReport("x", "y", "25", 0, 0, "spy"))
    list(_fill_stream(iter(items), plan))
    if want == (1.0, 1.0):  # x2: the first gap has one frame before it, the last none after
        # and the one before that has no frame after its B (nothing past the next gap)
        assert spy.seen[0] == (0.0, 1.0) and spy.seen[-2:] == [(1.0, 0.0), None]
        spy.seen = spy.seen[1:-2]
    assert len(spy.seen) > 2 and all(s == want for s in spy.seen)


class _Indexed(torch.utils.data.Dataset):
    """Windows whose frame i is filled with the value 10 * i (to see which frames were cut)."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, _: int) -> torch.Tensor:
        t = GapBatches.window_length(3, 2, accel=True)
        return torch.arange(t).float().mul(10 / 255).view(t, 1, 1, 1).expand(t, 3, 32, 32)


def test_accel_batches_cut_the_outer_frames_at_the_drawn_spacing():
    stream = GapBatches(_Indexed(), batch_size=3, working=32, scales=(1,), gaps=(1, 3),
                        batches=24, seed=5, accel=True)  # fmt: skip
    spacings = set()
    for batch in stream:
        n = batch["n"]
        assert batch["full"].shape[1] == n + 4 and batch["fap"].shape == (3, 2, 32, 32)
        idx = (batch["full"][:, :, 0, 0, 0].float() / 10).round().long()  # (B, T) frame numbers
        start = idx[:, :1]
        d = idx[:, 1] - idx[:, 0]  # P -> A
        assert torch.all((d == 1) | (d == 2))
        # A, the n hidden slots and B are consecutive; N lies as far after B as P before A
        body = idx[:, 1 : n + 3] - start - d[:, None]
        assert torch.equal(body, torch.arange(n + 2).expand_as(body))
        assert torch.equal(idx[:, -1] - idx[:, -2], d)
        sp = batch["sp"]
        known = sp > 0
        assert torch.allclose(sp[known], (d.float() / (n + 1))[known])
        assert torch.equal(sp, batch["sn"])
        spacings.update(round(float(x), 3) for x in sp)
    assert {0.5, 1.0, 0.25}.issubset(spacings)  # x2-like and gap3-like windows both drawn


class _CountingDIS:
    def __init__(self, dis) -> None:
        self.dis, self.calls = dis, 0

    def calc(self, *args):
        self.calls += 1
        return self.dis.calc(*args)


def test_every_other_frame_missing_costs_two_flows_per_gap_as_linear_motion_does():
    """(the first gap computes six: A<->B, A<->P, B<->N), and half the forward-backward checks
    and context features; what is reused gives exactly what a fresh synthesizer makes."""
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8), accel=True, spacing_input=True))
    for p in net.parameters():  # every input matters to the output
        torch.nn.init.normal_(p, std=0.05)
    frames = [accelerating_pan(i) for i in range(12)]
    synth = MotionSynthesizer(net)
    synth.dis = counter = _CountingDIS(synth.dis)  # type: ignore[assignment]
    encoded = []
    synth.net.context_encoder.register_forward_hook(lambda m, i, o: encoded.append(len(o)))
    gaps = [([2, 4], [6, 8]), ([4, 6], [8, 10])]
    made = []
    for before, after in gaps:
        made.append(synth.synthesize([frames[i] for i in before], [frames[i] for i in after],
                                     [0.5], spacing=context_spacing(before, after))[0])  # fmt: skip
    assert counter.calls == 6 + 2  # the second gap reuses 6->8, 8->6, 6->4 and 4->6
    assert encoded == [1] * (4 + 1)  # frames 4, 6 and 8 once each
    assert len(synth._errors._items) == 4 + 2
    fresh = MotionSynthesizer(net).synthesize([frames[4], frames[6]], [frames[8], frames[10]],
                                              [0.5], spacing=(1.0, 1.0))[0]  # fmt: skip
    assert np.array_equal(made[1], fresh)


def test_a_replaced_network_does_not_reuse_the_old_ones_features():
    """`fill --adapt` swaps the synthesizer's network; what it kept of the old one is not used."""
    torch.manual_seed(0)
    nets = [MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8), accel=True)) for _ in range(2)]
    for net in nets:
        for p in net.parameters():
            torch.nn.init.normal_(p, std=0.05)
    frames = [accelerating_pan(i) for i in (2, 4, 6, 8)]
    synth = MotionSynthesizer(nets[0])
    first = synth.synthesize(frames[:2], frames[2:], [0.5], spacing=(1.0, 1.0))[0]
    synth.net = nets[1]
    second = synth.synthesize(frames[:2], frames[2:], [0.5], spacing=(1.0, 1.0))[0]
    fresh = MotionSynthesizer(nets[1]).synthesize(
        frames[:2], frames[2:], [0.5], spacing=(1.0, 1.0)
    )[0]
    assert not np.array_equal(first, second)
    assert np.array_equal(second, fresh)
