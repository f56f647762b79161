"""The fill guard (`framepred.guard`): the model only where hidden known frames show it is not
worse than flow."""

from __future__ import annotations

import json
from fractions import Fraction

import cv2
import numpy as np
import pytest
import torch
from conftest import moving_scene, panning_scene, psnr, read_all, write_video

from framepred.fill import fill_video
from framepred.guard import ForecastGuard, Guard, plan_probe
from framepred.models.checkpoints import export_model, load_model
from framepred.predict.forecasters import FlowExtrapolation, get_forecaster
from framepred.predict.video import predict_video
from framepred.synth.base import context_spacing
from framepred.synth.classical import Blend, Flow

W, H, N = 160, 120, 25  # big enough for the probes' zoom; x2: every other slot dropped
KEEP = list(range(0, N, 2))
DROPPED = [i for i in range(N) if i not in KEEP]


def square(i: int) -> np.ndarray:
    """A bright square moving 4 px per slot over a smooth background."""
    return moving_scene(i, W, H, speed=4)


def x2_video(tmp_path, scene=square):
    return write_video(tmp_path / "x2.mkv", [(Fraction(i, 25), scene(i)) for i in KEEP])


def fill_psnr(video, out, scene=square, **kw) -> tuple[float, dict]:
    rep = out.with_suffix(".json")
    fill_video(video, out, report=rep, progress=False, device="cpu", **kw)
    _, frames = read_all(out)
    got = [frames[i].image for i in DROPPED]
    mse = np.mean(
        [np.mean((g.astype(float) - scene(i)) ** 2) for g, i in zip(got, DROPPED, strict=True)]
    )
    return 10 * np.log10(255.0**2 / mse), json.loads(rep.read_text())


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory):
    """The shipped default model with its head's corrections scaled 40x: garbage motion."""
    net, _ = load_model("default", torch.device("cpu"))
    with torch.no_grad():
        net.head.weight.mul_(40.0)
        net.head.bias.mul_(40.0)  # type: ignore[union-attr]
    return export_model(net, tmp_path_factory.mktemp("bad") / "bad.pt")


def test_the_guard_keeps_fill_within_0_2_db_of_flow_when_the_model_is_wrong(corrupted, tmp_path):
    video = x2_video(tmp_path)
    flow, _ = fill_psnr(video, tmp_path / "flow.mkv", method="flow")
    bare, _ = fill_psnr(video, tmp_path / "bare.mkv", model=corrupted, guard=False)
    guarded, report = fill_psnr(video, tmp_path / "guarded.mkv", model=corrupted)
    assert bare < flow - 1.0, (bare, flow)  # the case is real: unguarded, the model loses
    assert guarded >= flow - 0.2, (guarded, flow)
    (shot,) = report["guard"]
    assert shot["choice"] == "flow" and shot["psnr_model"] < shot["psnr_flow"]
    assert {s["method"] for s in report["slots"] if s["side"] == "both"} == {"flow"}


def test_the_guard_keeps_the_model_where_it_beats_flow(tmp_path):
    video = x2_video(tmp_path)
    bare, _ = fill_psnr(video, tmp_path / "bare.mkv", guard=False)
    flow, _ = fill_psnr(video, tmp_path / "flow.mkv", method="flow")
    guarded, report = fill_psnr(video, tmp_path / "guarded.mkv")
    assert bare > flow + 1.0, (bare, flow)  # the model wins on this motion
    (shot,) = report["guard"]
    assert shot["choice"] == "model" and shot["probes"] >= 3
    assert shot["first_slot"] == 1 and shot["last_slot"] == N - 2
    assert guarded == pytest.approx(bare, abs=1e-9)


def test_no_guard_without_the_model(tmp_path):
    _, report = fill_psnr(x2_video(tmp_path), tmp_path / "flow.mkv", method="flow")
    assert report["guard"] is None


def test_each_shot_is_checked_on_its_own(tmp_path):
    """A scene cut: the shots before and after it are two checks and two choices."""

    def two_shots(i: int) -> np.ndarray:
        return square(i) if i < 13 else cv2.cvtColor(panning_scene(i, W, H, 3), cv2.COLOR_RGB2HSV)

    _, report = fill_psnr(x2_video(tmp_path, two_shots), tmp_path / "o.mkv", scene=two_shots)
    first, second = report["guard"]
    assert first["first_slot"] == 1 and first["last_slot"] <= 13 <= second["first_slot"]
    assert first["probes"] >= 2 and second["probes"] >= 2
    assert report["scene_cuts"] == [13]


def test_a_cross_fade_in_place_of_the_model_loses_to_flow_and_flow_is_used():
    frames = [panning_scene(i, W, H, speed=3) for i in range(N)]
    guard = Guard(Blend(), Flow())
    out = {}
    for a, b in zip(KEEP, KEEP[1:], strict=False):
        sb, sa = [k for k in KEEP if k <= a][-3:], [k for k in KEEP if k >= b][:3]
        guard.locate(sb, sa, a + 1, a + 1)
        made = guard.fill_run([frames[k] for k in sb], [frames[k] for k in sa], 1,
                              context_spacing(sb, sa))  # fmt: skip
        out[a + 1] = next(iter(made))
    (shot,) = guard.shots
    assert shot.choice == "flow" and shot.psnr_flow > shot.psnr_model + 3
    assert guard.choice == "flow"
    flow = Flow()
    for i, got in out.items():
        if i > 1:  # (the first gap is filled before the first check)
            assert np.array_equal(got, flow.synthesize([frames[i - 1]], [frames[i + 1]], [0.5])[0])


def test_plan_probe_hides_a_known_frame_at_the_gaps_spacing():
    # x2: the known frame next to the gap, from the known frames two slots away: motion over
    # twice the gap, so the frames are zoomed out 2x
    assert plan_probe([-6, -4, -2, 0, 2, 4, 6, 8], 4) == (2, 3, 4, 2.0)
    assert plan_probe([-6, -4, -2, 0, 2, 4, 6, 8], 4, after_first=True) == (3, 4, 5, 2.0)
    # two kept, three dropped: a frame in the middle of a span, two context frames each side
    lo, x, hi, zoom = plan_probe([0, 1, 5, 6, 10, 11, 15, 16], 4)
    pos = [0, 1, 5, 6, 10, 11, 15, 16]
    assert (pos[x] - pos[lo]) / (pos[hi] - pos[lo]) == 0.5 and lo >= 1 and hi <= 6
    assert zoom == (pos[hi] - pos[lo]) / 4
    assert plan_probe([0, 1], 1) is None  # no known frame between two others


@pytest.fixture(scope="module")
def corrupted_forecaster(tmp_path_factory):
    """The shipped forecaster with its head's corrections scaled 40x."""
    net, _ = load_model("forecast", torch.device("cpu"))
    with torch.no_grad():
        net.head.weight.mul_(40.0)
        net.head.bias.mul_(40.0)  # type: ignore[union-attr]
    return export_model(net, tmp_path_factory.mktemp("bad") / "bad_forecast.pt")


def test_predict_stays_within_0_2_db_of_flow_extrapolation_when_the_model_is_wrong(
    corrupted_forecaster,
):
    frames = np.stack([square(i) for i in range(15)])
    context, truth = frames[None, :10], frames[10:]
    bare = get_forecaster("model", model=str(corrupted_forecaster), device="cpu")
    guarded = ForecastGuard(bare)

    def score(forecaster) -> float:
        return psnr(forecaster.predict_many(context, 5)[0], truth)

    flow = score(FlowExtrapolation())
    assert score(bare) < flow - 1.0  # the case is real
    assert score(guarded) >= flow - 0.2
    (check,) = guarded.checks
    assert check["choice"] == "flow" and check["psnr_flow"] > check["psnr_model"]


def test_predict_video_reports_the_back_test(tmp_path):
    video = write_video(tmp_path / "v.mkv", [(Fraction(i, 25), square(i)) for i in range(15)])
    report = predict_video(video, tmp_path / "p.mkv", horizon=3, start=12, device="cpu",
                           progress=False)  # fmt: skip
    assert report.guard is not None and report.guard["frames"] == 3
    assert set(report.guard) >= {"psnr_model", "psnr_flow", "weight", "choice"}
    plain = predict_video(video, tmp_path / "q.mkv", horizon=3, start=12, device="cpu",
                          progress=False, guard=False)  # fmt: skip
    assert plain.guard is None
