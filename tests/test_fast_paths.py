"""Speed options of the ConvLSTM stack give the plain path's outputs and gradients.

Tolerance: 1e-5 absolute on outputs and on weight gradients (fp32; the fast paths only
change the order of float sums).
"""

import copy

import pytest
import torch

from framepred.models import ConvLSTM, EncoderForecaster, ModelConfig
from framepred.models.cells import set_fast_paths

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
