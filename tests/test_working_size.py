"""`--working-size`: the resolution the motion model and flow estimate motion at (and the
guard's fallback flow with them)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import moving_scene, write_video

from cli.main import cli as main
from framepred.errors import FramepredError
from framepred.eval.video import evaluate
from framepred.guard import Guard
from framepred.synth.base import Synthesizer
from framepred.synth.classical import Flow
from framepred.synth.methods import make_synthesizer


class Recorder(Synthesizer):
    """Flow that notes the frame sizes it is given (a stand-in for the model)."""

    name = "model"
    context = 2

    def __init__(self, side: int) -> None:
        self.flow = Flow(max_side=side)
        self.working_side = side
        self.sizes: list[tuple[int, int]] = []

    def fork(self) -> Recorder:
        return self  # the probes' fork records into the same list

    def synthesize(self, before, after, times, spacing=None):
        self.sizes.append(before[-1].shape[:2])
        return self.flow.synthesize(before, after, times)


@pytest.mark.parametrize(
    "side, probe, fallback",
    [(200, (180, 320), 200), (320, (180, 320), 320), (640, (360, 640), 320)],
)
def test_probes_and_fallback_follow_the_working_size(side, probe, fallback):
    """x2 on 640x360: a probe spans twice the gap. Up to the default working size it is zoomed
    out by 2 from the full frame (at 320 the model's own scaling keeps its motion at twice the
    gaps', the stricter test), and flow falls back at the model's size. Finer than the
    default, the probe runs unzoomed at that size (a fast pan leaves what the model learned
    there, and only an unzoomed probe sees it) and flow falls back at the default size."""
    frames = [moving_scene(i, 640, 360, speed=6) for i in range(0, 11, 2)]
    rec = Recorder(side)
    guard = Guard(rec)
    assert guard.flow.working_side == fallback
    guard.locate([0, 2, 4], [6, 8, 10], 5, 5)
    list(guard.fill_run(frames[:3], frames[3:], 1, (1.0, 1.0)))
    assert rec.sizes[0] == probe and rec.sizes[-1] == (360, 640)


def test_make_synthesizer_sets_the_working_size():
    assert make_synthesizer("model", working_size=480).working_side == 480
    assert make_synthesizer("model").working_side == 320
    assert make_synthesizer("flow", working_size=200).working_side == 200
    with pytest.raises(FramepredError, match="64 to 4096"):
        make_synthesizer("flow", working_size=20)


def test_a_larger_working_size_changes_the_model_frames(tmp_path):
    """640x360 frames at 320 and at 640: the same call, different motion estimates."""
    frames = [moving_scene(i, 640, 360, speed=3) for i in range(0, 9, 2)]
    small, big = (make_synthesizer("model", device="cpu", working_size=s) for s in (320, 640))
    a = small.synthesize(frames[:2], frames[2:4], [0.5])[0]
    b = big.synthesize(frames[:2], frames[2:4], [0.5])[0]
    assert a.shape == b.shape == (360, 640, 3) and not np.array_equal(a, b)


def test_cli_working_size_reported_and_checked(tmp_path):
    video = write_video(
        tmp_path / "in.mkv", [(Fraction(i, 25), moving_scene(i, 96, 64)) for i in (0, 2, 4, 6)]
    )
    out, rep = tmp_path / "out.mkv", tmp_path / "rep.json"
    run = CliRunner().invoke
    args = ["fill", str(video), "-o", str(out), "--no-progress", "--report", str(rep)]
    res = run(main, [*args, "--working-size", "80", "--method", "flow"])
    assert res.exit_code == 0, res.output
    assert json.loads(rep.read_text())["working_size"] == 80
    res = run(main, [*args, "--working-size", "80", "--method", "blend", "--overwrite"])
    assert res.exit_code == 2 and "--working-size" in res.output
    res = run(main, [*args, "--working-size", "8", "--overwrite"])
    assert res.exit_code == 2 and "64<=x<=4096" in res.output


def test_eval_scores_the_model_at_another_working_size(tmp_path):
    video = write_video(
        tmp_path / "in.mkv",
        [(Fraction(i, 25), moving_scene(i, 160, 120, speed=3)) for i in range(9)],
    )
    result = evaluate(video, "x2", methods=["model", "flow"], device="cpu", progress=False,
                      working_size=96)  # fmt: skip
    rows = {s.method: s for s in result.scores}
    assert set(rows) == {"model", "flow", "model+ws96"}
    assert rows["model+ws96"].n_frames == rows["model"].n_frames > 0
    assert rows["model+ws96"].psnr != rows["model"].psnr  # estimated at 96 px, not 160
    with pytest.raises(FramepredError, match="fill pattern"):
        evaluate(video, "future2", methods=["flow"], device="cpu", progress=False,
                 working_size=96)  # fmt: skip
