"""`fill --ensemble N`: the self-ensemble of mirrored and time-reversed views of a gap."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import gappy, panning_scene, read_all, write_video
from test_fill import FakePredictor

from framepred.errors import FramepredError
from framepred.fill import fill_video
from framepred.models.interpolator import MotionConfig, MotionInterpolator
from framepred.synth.base import Synthesizer
from framepred.synth.classical import Blend, Flow
from framepred.synth.ensemble import MEMBERS, SelfEnsemble
from framepred.synth.motion import MotionSynthesizer

rng = np.random.default_rng(0)
A, B = (rng.integers(0, 256, (12, 20, 3), dtype=np.uint8) for _ in range(2))


class Earlier(Synthesizer):
    """Every slot is the frame before the gap: wrong by a direction the ensemble reverses."""

    def synthesize(self, before, after, times):
        return [before[-1].copy() for _ in times]


class Corner(Synthesizer):
    """A black frame with one white pixel at the top left, whatever the gap."""

    def synthesize(self, before, after, times):
        out = []
        for _ in times:
            f = np.zeros_like(before[-1])
            f[0, 0] = 255
            out.append(f)
        return out


def test_the_members_are_distinct_and_cheapest_first():
    assert len(set(MEMBERS)) == 8
    assert MEMBERS[0] == (False, False, False)  # the gap as it is
    assert MEMBERS[1] == (False, False, True)  # reversed: shares the first view's flows
    assert [m.vflip for m in MEMBERS[:4]] == [False] * 4  # left-right mirrors before upside down


def test_one_member_is_the_synthesizer_itself():
    synth = Flow()
    times = [0.25, 0.5, 0.75]
    got = SelfEnsemble(Flow(), 1).synthesize([A], [B], times)
    want = synth.synthesize([A], [B], times)
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize("size", [2, 4, 8])
def test_a_symmetric_method_is_unchanged_by_its_ensemble(size):
    """A cross-fade looks the same mirrored and played backwards: each view, mapped back to
    its slot and its orientation, must give the same frame (to rounding)."""
    times = [0.2, 0.5, 0.9]
    got = SelfEnsemble(Blend(), size).synthesize([A], [B], times)
    want = Blend().synthesize([A], [B], times)
    for g, w in zip(got, want, strict=True):
        assert np.abs(g.astype(int) - w).max() <= 1


def test_reversal_swaps_the_sides_of_the_gap():
    got = SelfEnsemble(Earlier(), 2).synthesize([A], [B], [0.3, 0.7])
    want = (A.astype(int) + B + 1) // 2  # half the views see A first, half see B first
    assert all(np.array_equal(g, want) for g in got)


def test_mirrored_views_are_mirrored_back():
    (got,) = SelfEnsemble(Corner(), 8).synthesize([A], [B], [0.5])
    h, w = A.shape[:2]
    corners = {(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)}
    for y, x in corners:  # each corner is the top left of two of the eight views
        assert (got[y, x] == round(255 * 2 / 8)).all()
    mask = np.ones((h, w), bool)
    for y, x in corners:
        mask[y, x] = False
    assert not got[mask].any()


def _motion_net() -> MotionInterpolator:
    torch.manual_seed(0)
    net = MotionInterpolator(MotionConfig(chs=(4, 8, 8, 8), accel=True))
    for p in net.parameters():  # every view then gets its own answer
        torch.nn.init.normal_(p, std=0.05)
    return net


def test_consecutive_gaps_reuse_nothing_that_would_change_the_result():
    """The views keep flows and features of the neighbouring gap (each in its own fork):
    the second gap comes out as a fresh ensemble makes it."""
    net = _motion_net()
    frames = [panning_scene(i, w=48, h=32) for i in range(12)]
    ens = SelfEnsemble(MotionSynthesizer(net), 8)
    for before, after in (([2, 4], [6, 8]), ([4, 6], [8, 10])):
        made = ens.synthesize([frames[i] for i in before], [frames[i] for i in after], [0.5],
                              spacing=(1.0, 1.0))[0]  # fmt: skip
    fresh = SelfEnsemble(MotionSynthesizer(net), 8).synthesize(
        [frames[4], frames[6]], [frames[8], frames[10]], [0.5], spacing=(1.0, 1.0)
    )[0]
    assert np.abs(made.astype(int) - fresh).max() <= 1
    assert len({id(s.net) for s in ens._synths.values()}) == 1  # one network, shared


def test_the_ensemble_is_no_worse_than_its_members_on_average():
    """Averaging can only lower the squared error below the members' mean (Jensen), up to
    rounding: a member mapped back to the wrong place or time would break it."""
    net = _motion_net()
    frames = [panning_scene(i, w=48, h=32) for i in range(8)]
    before, after, truth = frames[1:3], frames[6:8], frames[3:6]
    times = [0.25, 0.5, 0.75]

    def mse(pred):
        return np.mean([((p.astype(float) - t) ** 2).mean() for p, t in zip(pred, truth, strict=True)])  # fmt: skip

    members = [mse(SelfEnsemble(MotionSynthesizer(net), 1).synthesize(before, after, times))]
    mirror = SelfEnsemble(MotionSynthesizer(net), 4)
    errors = []
    for m in mirror.members:  # each view alone, through the ensemble's own mapping
        mirror.members = (m,)
        errors.append(mse(mirror.synthesize(before, after, times)))
    assert errors[0] == members[0]
    assert len(set(errors)) == 4  # the views differ
    ens = mse(SelfEnsemble(MotionSynthesizer(net), 4).synthesize(before, after, times))
    assert ens <= np.mean(errors) + 0.5


def test_fill_with_an_ensemble_keeps_known_frames_and_reports_it(tmp_path):
    keep = [i for i in range(12) if i % 2 == 0 or i == 11]
    src = write_video(tmp_path / "pan.mkv", gappy(keep, scene=panning_scene))
    out, rep = tmp_path / "o.mkv", tmp_path / "r.json"
    report = fill_video(src, out, method="flow", ensemble=4, report=rep, progress=False)
    assert report.ensemble == 4 and json.loads(rep.read_text())["ensemble"] == 4
    _, frames = read_all(out)
    assert len(frames) == 12 and report.n_filled == 5
    for i in keep:
        assert np.array_equal(frames[i].image, panning_scene(i))
    err = np.abs(frames[5].image.astype(int) - panning_scene(5)).mean()
    assert err < 6.0


def test_an_ensemble_of_a_forward_predictor_is_refused(tmp_path):
    src = write_video(tmp_path / "a.mkv", gappy([0, 2]))
    with pytest.raises(FramepredError, match="fills from both sides"):
        fill_video(src, tmp_path / "o.mkv", method="model", predictor=FakePredictor(),
                   ensemble=2, progress=False)  # fmt: skip
    assert not (tmp_path / "o.mkv").exists()


def test_cli_takes_the_ensemble_size_and_refuses_others(tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    src = write_video(tmp_path / "a.mkv", gappy([0, 2, 3]))
    out = tmp_path / "o.mkv"
    ok = CliRunner().invoke(cli, ["fill", str(src), "-o", str(out), "--method", "flow",
                                  "--ensemble", "2", "--no-progress"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli, ["fill", str(src), "-o", str(tmp_path / "b.mkv"),
                                   "--ensemble", "3"])  # fmt: skip
    assert bad.exit_code == 2 and "'3' is not one of" in bad.output
    assert not (tmp_path / "b.mkv").exists()
