"""The encoder-forecaster network."""

import pytest
import torch

from framepred.models import EncoderForecaster, ModelConfig


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (5, 7), (1, 1)])
def test_any_frame_size_round_trips(size):
    torch.manual_seed(0)
    net = EncoderForecaster(ModelConfig(in_chs=3, stem_chs=8, stage_chs=(8, 8, 8)))
    x = torch.rand(2, 3, 3, *size)
    y = net.rollout(x, 4)
    assert y.shape == (2, 4, 3, *size)
    assert 0 <= y.min() and y.max() <= 1


def test_config_round_trips_through_a_dict():
    cfg = ModelConfig(in_chs=3, stage_chs=(16, 32), peephole=True, norm_groups=4, cell="convrnn")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"bogus": 1})


def test_single_context_frame_and_teacher_forcing():
    torch.manual_seed(0)
    net = EncoderForecaster(ModelConfig(stem_chs=4, stage_chs=(4, 4)))
    ctx, tgt = torch.rand(3, 1, 1, 16, 16), torch.rand(3, 5, 1, 16, 16)
    free = net(ctx, 5)
    forced = net(ctx, 5, target=tgt, teacher_prob=1.0)
    assert free.shape == forced.shape == (3, 5, 1, 16, 16)
    # The first step cannot depend on teacher forcing; later steps must.
    torch.testing.assert_close(free[:, 0], forced[:, 0])
    assert not torch.allclose(free[:, 1:], forced[:, 1:])


def test_the_forecast_depends_on_the_context():
    torch.manual_seed(0)
    net = EncoderForecaster(ModelConfig(stem_chs=4, stage_chs=(4, 4)))
    a = net.rollout(torch.rand(1, 4, 1, 16, 16), 2)
    b = net.rollout(torch.rand(1, 4, 1, 16, 16), 2)
    assert not torch.allclose(a, b)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = EncoderForecaster(ModelConfig(stem_chs=4, stage_chs=(4, 6), peephole=True))
    net(torch.rand(2, 3, 1, 16, 16), 3).sum().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing
