"""Speed options of the ConvLSTM stack give the plain path's outputs and gradients.

Tolerance: 1e-5 absolute on outputs and on weight gradients (fp32; the fast paths only
change the order of float sums).
"""

import copy

import pytest
import torch

from framepred.models import ConvLSTM, EncoderForecaster, ModelConfig
from framepred.models.cells import ConvLSTMCell, set_fast_paths

TOL = {"atol": 1e-5, "rtol": 1e-4}
OPTIONS = [
    {"hoist_input": False},
    {"fused_gates": True},
    {"skip_zero_state": True},
    {"hoist_input": False, "fused_gates": True, "skip_zero_state": True},
]


def _outputs_and_grads(model, x, states=None):
    out, final = model(x, states)
    loss = out.square().mean() + sum(h.mean() + c.square().mean() for h, c in final)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return out.detach(), grads


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "+".join(o))
@pytest.mark.parametrize("with_state", [False, True])
def test_fast_path_matches_plain_stack(options, with_state):
    torch.manual_seed(0)
    plain = ConvLSTM(3, [6, 5], kernel_size=3)
    fast = set_fast_paths(copy.deepcopy(plain), **options)
    x = torch.randn(2, 6, 3, 9, 11)
    states = None
    if with_state:
        states = [(torch.randn(2, c, 9, 11), torch.randn(2, c, 9, 11)) for c in (6, 5)]
    out_p, grads_p = _outputs_and_grads(plain, x, states)
    out_f, grads_f = _outputs_and_grads(fast, x, states)
    torch.testing.assert_close(out_f, out_p, **TOL)
    for name, g in grads_p.items():
        torch.testing.assert_close(grads_f[name], g, **TOL, msg=name)


def test_fused_gates_gradients_match_autograd_in_float64():
    """The hand-written backward of the gate nonlinearities, checked numerically."""
    from framepred.models.cells import _FusedLSTMGates

    torch.manual_seed(0)
    z = torch.randn(2, 12, 3, 4, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    offset = torch.randn(9, 1, 1, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z, c: _FusedLSTMGates.apply(z, c, offset), (z, c))


def test_fast_paths_on_encoder_forecaster_training_step():
    torch.manual_seed(0)
    plain = EncoderForecaster(ModelConfig(stage_chs=(8, 8), stem_chs=8))
    fast = set_fast_paths(
        copy.deepcopy(plain), hoist_input=False, fused_gates=True, skip_zero_state=True
    )
    seq = torch.rand(2, 6, 1, 16, 16)
    for model in (plain, fast):
        torch.nn.functional.mse_loss(model(seq[:, :3], 3), seq[:, 3:]).backward()
    for (name, p), q in zip(plain.named_parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, **TOL, msg=name)


def test_peephole_and_norm_cells_ignore_fused_gates():
    torch.manual_seed(0)
    plain = ConvLSTM(2, [4], peephole=True, norm_groups=2)
    fast = set_fast_paths(copy.deepcopy(plain), fused_gates=True)
    x = torch.randn(1, 3, 2, 5, 5)
    torch.testing.assert_close(fast(x)[0], plain(x)[0], **TOL)


# -- the motion models' inference and rendering on the CPU ------------------------------------


def _smooth(c: int, size: tuple[int, int], scale: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, c, 5, 7, generator=g) * scale
    return torch.nn.functional.interpolate(coarse, size=size, mode="bilinear")


@pytest.mark.parametrize("full", [(72, 128), (75, 101), (36, 64)])
def test_opencv_render_matches_the_torch_render(full):
    """`render_u8` (cv2.resize + cv2.remap) against `MotionInterpolator.render`: at most one
    8-bit level apart anywhere, and on average far less (only OpenCV's 1/32-pixel sampling
    positions differ)."""
    import numpy as np

    from framepred.models.interpolator import MotionInterpolator, Slot
    from framepred.synth.motion import render_u8, to_tensor

    rng = np.random.default_rng(0)
    h, w = full
    a = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    b = np.roll(a, 2, axis=1)
    small = (36, 64)
    slot = Slot(
        ft0=_smooth(2, small, 3.0, 1),
        ft1=_smooth(2, small, 3.0, 2),
        logit=_smooth(1, small, 1.0, 3),
        residual=_smooth(3, small, 0.03, 4),
        base_alpha=torch.sigmoid(_smooth(1, small, 2.0, 5)),
    )
    ta, tb = to_tensor([a], "cpu")[:, 0], to_tensor([b], "cpu")[:, 0]
    ref = MotionInterpolator.render(ta, tb, slot)[0]
    ref_u8 = ref.mul(255.0).add_(0.5).clamp_(0, 255).byte().permute(1, 2, 0).numpy()
    (ours,) = render_u8(a, b, [slot])
    assert ours.shape == (h, w, 3) and ours.dtype == np.uint8
    diff = np.abs(ours.astype(int) - ref_u8)
    assert diff.max() <= 1
    assert diff.mean() < 0.02


@pytest.mark.parametrize("kind", ["fill", "forecast"])
def test_speed_up_gives_the_same_predictions(kind):
    """The motion models run in `speed_up`'s layout (channels-last weights, no convolution of
    the zero initial state) for inference and training; outputs match the plain layout to
    1e-5."""
    from framepred.models.forecaster import MotionForecastConfig, MotionForecaster
    from framepred.models.interpolator import MotionConfig, MotionInterpolator, speed_up

    torch.manual_seed(0)
    h, w = 40, 56
    if kind == "fill":
        net = MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8)))
        torch.nn.init.normal_(net.head.weight, std=0.1)
        args = (torch.rand(1, 2, 3, h, w), torch.rand(1, 2, 3, h, w),
                torch.randn(1, 2, h, w), torch.randn(1, 2, h, w), [0.3, 0.6])  # fmt: skip
    else:
        net = MotionForecaster(MotionForecastConfig(chs=(4, 8, 8, 8)))
        torch.nn.init.normal_(net.head.weight, std=0.1)
        args = (torch.rand(2, net.config.context, 3, h, w), torch.randn(2, 2, h, w), 3)
    fast = speed_up(copy.deepcopy(net))
    assert fast.encoder[0][0][0].weight.is_contiguous(memory_format=torch.channels_last)
    assert all(c.skip_zero_state for c in fast.modules() if isinstance(c, ConvLSTMCell))
    with torch.no_grad():
        for ref, out in zip(net(*args), fast(*args), strict=True):
            for r, o in zip(ref, out, strict=True):
                torch.testing.assert_close(o, r, **TOL)


def test_exported_weights_are_plain_contiguous_tensors(tmp_path):
    """A model trained in `speed_up`'s layout ships ordinary contiguous weights."""
    from framepred.models.checkpoints import export_model
    from framepred.models.forecaster import MotionForecastConfig, MotionForecaster
    from framepred.models.interpolator import speed_up

    net = speed_up(MotionForecaster(MotionForecastConfig(chs=(4, 8, 8, 8))))
    assert not all(p.is_contiguous() for p in net.parameters())
    path = export_model(net, tmp_path / "m.pt")
    state = torch.load(path, weights_only=True)["state_dict"]
    assert all(t.is_contiguous() for t in state.values())


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_slot_input_buffer_equals_concatenate_then_pad(dtype):
    """The motion model writes a slot's input channels straight into one padded buffer (of
    the autocast dtype); it holds exactly what concatenating, replicate-padding and casting
    gave, and gradients reach every part."""
    from framepred.models.interpolator import MotionConfig, MotionInterpolator

    net = MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8)))
    g = torch.Generator().manual_seed(0)
    parts = [torch.rand(2, c, 21, 30, generator=g, requires_grad=True) for c in (3, 2, 1)]
    spacing = torch.tensor([0.5, 2.0]).view(-1, 1, 1, 1)
    want = net._pad(
        torch.cat([*parts, torch.full_like(parts[2], 0.3), spacing.expand(2, 1, 21, 30)], 1)
    )
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
        got = net._padded_stack([*parts, 0.3, spacing])
    assert got.shape == (2, 8, 24, 32) and got.dtype == (dtype or torch.float32)
    assert torch.equal(got, want.to(got.dtype))
    if dtype is None:  # the same gradients, the padding's included
        weight = torch.rand(want.shape, generator=g)
        ref = torch.autograd.grad((want * weight).sum(), parts)
        for r, d in zip(ref, torch.autograd.grad((got * weight).sum(), parts), strict=True):
            torch.testing.assert_close(d, r)
