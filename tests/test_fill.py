"""framepred.fill: the nominal grid, bit-exact kept frames, every kind of gap, audio, cuts."""

from __future__ import annotations

import json
import logging
from fractions import Fraction
from types import SimpleNamespace

import av
import numpy as np
import pytest
from conftest import gappy, moving_scene, panning_scene, psnr, read_all, sha256, write_video

from framepred.errors import VideoWriteError
from framepred.fill import fill_video
from framepred.gaps import inspect_video, rate_conversion
from framepred.synth.classical import Blend, Flow, Repeat

MISSING = {0, 1, 5, 6, 7, 12, 13, 28, 29}


@pytest.mark.parametrize("out_name", ["out.mkv", "frames"])
def test_fill_grid_bit_exact_and_all_gaps(gappy_mkv, tmp_path, out_name):
    before = sha256(gappy_mkv)
    out = tmp_path / out_name
    report = fill_video(gappy_mkv, out, method="flow", progress=False)
    info, frames = read_all(out)
    assert len(frames) == 30 == report.n_slots
    assert [f.pts for f in frames] == [Fraction(i, 25) for i in range(30)]
    for i, frame in enumerate(frames):
        if i not in MISSING:
            np.testing.assert_array_equal(frame.image, moving_scene(i))
    assert sorted(s.slot for s in report.slots) == sorted(MISSING)
    sides = {s.slot: s.side for s in report.slots}
    assert sides[0] == "after" and sides[29] == "before" and sides[6] == "both"
    # Leading gap takes the first known frame, trailing gap the last known one.
    np.testing.assert_array_equal(frames[0].image, moving_scene(2))
    np.testing.assert_array_equal(frames[29].image, moving_scene(27))
    assert sha256(gappy_mkv) == before


def test_back_to_back_gaps_with_different_reasons(tmp_path):
    keep = [0, 1, 2, 5, 6, 7, 8, 9]  # slots 3-4 missing by timestamps; 5-6 named explicitly
    src = write_video(tmp_path / "a.mkv", gappy(keep))
    report = fill_video(src, tmp_path / "o.mkv", method="blend", frames="5-6", progress=False)
    assert [(g.start_slot, g.end_slot, g.reason) for g in report.gaps] == [
        (3, 4, "timestamps"),
        (5, 6, "explicit"),
    ]
    _, frames = read_all(tmp_path / "o.mkv")
    assert len(frames) == 10
    # One run 3-6 between slots 2 and 7: slot 4 is 2/5 of the way.
    want = np.clip(0.6 * moving_scene(2) + 0.4 * moving_scene(7) + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(frames[4].image.astype(int) - want).max() <= 1


def test_report_json(gappy_mkv, tmp_path):
    rpath = tmp_path / "r.json"
    fill_video(gappy_mkv, tmp_path / "o.mkv", method="repeat", report=rpath, progress=False)
    data = json.loads(rpath.read_text())
    assert data["n_filled"] == 9 and data["n_slots"] == 30 and data["method"] == "repeat"
    slot = next(s for s in data["slots"] if s["slot"] == 12)
    assert slot == {"slot": 12, "time": 0.48, "reason": "timestamps", "method": "repeat",
                    "side": "both"}  # fmt: skip


def test_audio_track_survives_with_its_duration(tmp_path):
    keep = [i for i in range(25) if i % 4 != 1]
    src = write_video(tmp_path / "a.mp4", gappy(keep), audio_seconds=1.0)
    for name in ("o.mp4", "o.mkv"):
        fill_video(src, tmp_path / name, method="blend", progress=False)
        with av.open(str(tmp_path / name)) as c:
            audio = c.streams.audio[0]
            dur = float(audio.duration * audio.time_base) if audio.duration else c.duration / 1e6
            assert abs(dur - 1.0) < 0.06
            assert c.streams.video[0].frames in (0, 25)
        _, frames = read_all(tmp_path / name)
        assert len(frames) == 25


def test_audio_dropped_with_warning_for_png(tmp_path, caplog):
    src = write_video(tmp_path / "a.mkv", gappy([0, 2, 3]), audio_seconds=0.2)
    with caplog.at_level(logging.WARNING):
        fill_video(src, tmp_path / "png", method="repeat", progress=False)
    assert "audio" in caplog.text and len(list((tmp_path / "png").glob("*.png"))) == 4
    assert sorted(p.name for p in (tmp_path / "png").iterdir())[0] == ".framepred.json"


def test_scene_cut_not_blended_across(tmp_path):
    shot_a = [(Fraction(i, 25), moving_scene(i)) for i in range(4)]
    shot_b = [(Fraction(i, 25), moving_scene(i, seed=1)[:, ::-1, [2, 0, 1]].copy())
              for i in range(8, 12)]  # fmt: skip
    src = write_video(tmp_path / "cut.mkv", shot_a + shot_b)
    report = fill_video(src, tmp_path / "o.mkv", method="flow", progress=False)
    assert report.scene_cuts == [4]
    _, frames = read_all(tmp_path / "o.mkv")
    for slot in (4, 5):  # nearer shot A: a copy of its last frame, nothing of shot B
        np.testing.assert_array_equal(frames[slot].image, shot_a[-1][1])
    for slot in (6, 7):
        np.testing.assert_array_equal(frames[slot].image, shot_b[0][1])


def test_vfr_input_mapped_onto_grid(tmp_path):
    i = Fraction(1, 25)
    pts = [0, i, Fraction(21, 10) * i, Fraction(24, 10) * i, Fraction(29, 10) * i, 5 * i, 6 * i]
    src = write_video(tmp_path / "vfr.mkv", [(t, moving_scene(k)) for k, t in enumerate(pts)])
    report = fill_video(src, tmp_path / "o.mkv", method="repeat", progress=False)
    assert report.collisions == 1  # 2.4 lands in slot 2 after 2.1
    assert [s.slot for s in report.slots] == [4]
    _, frames = read_all(tmp_path / "o.mkv")
    assert len(frames) == 7
    np.testing.assert_array_equal(frames[2].image, moving_scene(2))
    np.testing.assert_array_equal(frames[3].image, moving_scene(4))  # pts 2.9 -> slot 3


def test_duplicates_and_black_only_when_asked(tmp_path):
    images = [moving_scene(i) for i in range(10)]
    images[4] = images[3].copy()  # frozen
    images[7] = np.zeros_like(images[7])  # black
    src = write_video(tmp_path / "a.mkv", [(Fraction(k, 25), im) for k, im in enumerate(images)])
    plain = fill_video(src, tmp_path / "o1.mkv", method="flow", progress=False)
    assert plain.n_filled == 0
    _, frames = read_all(tmp_path / "o1.mkv")
    np.testing.assert_array_equal(frames[7].image, images[7])
    found = fill_video(src, tmp_path / "o2.mkv", method="flow", progress=False,
                       detect=("timestamps", "duplicates", "black"))  # fmt: skip
    assert {(s.slot, s.reason) for s in found.slots} == {(4, "duplicate"), (7, "black")}
    _, frames = read_all(tmp_path / "o2.mkv")
    assert psnr(frames[4].image, moving_scene(4)) > psnr(images[4], moving_scene(4))
    assert frames[7].image.mean() > 50
    scan = inspect_video(src, detect=("duplicates", "black"))
    assert [(g.start_slot, g.reason) for g in scan.gaps] == [(4, "duplicate"), (7, "black")]


def test_flow_beats_blend_beats_nothing_on_translation():
    a, b, mid = panning_scene(0), panning_scene(4), panning_scene(2)
    scores = {
        m.name: psnr(m.synthesize([a], [b], [0.5])[0], mid) for m in (Flow(), Blend(), Repeat())
    }
    assert scores["flow"] > scores["blend"] + 5
    assert scores["blend"] > scores["repeat"]


def test_long_gap_held_when_asked(tmp_path):
    src = write_video(tmp_path / "a.mkv", gappy([0, 1, 8, 9]))
    report = fill_video(src, tmp_path / "o.mkv", method="blend", max_gap=3, on_long_gap="hold",
                        progress=False)  # fmt: skip
    assert [(g.start_slot, g.end_slot) for g in report.long_gaps] == [(2, 7)]
    assert {s.method for s in report.slots} == {"repeat"}


class FakePredictor:
    """Predicts 'the next frame is the last frame shifted by one brightness step'."""

    context_frames = 3

    def __init__(self):
        self.calls = []

    def predict(self, context, horizon):
        self.calls.append((context.shape, horizon))
        last = context[-1].astype(int)
        return np.stack([np.clip(last + k + 1, 0, 255) for k in range(horizon)]).astype(np.uint8)


def test_model_method_forward_and_reversed_at_start(tmp_path):
    src = write_video(tmp_path / "a.mkv", gappy([2, 3, 4, 5, 8, 9]))
    fake = FakePredictor()
    report = fill_video(src, tmp_path / "o.mkv", method="model", predictor=fake, progress=False)
    assert report.method == "model" and {s.method for s in report.slots} == {"model"}
    assert fake.calls == [((3, 48, 64, 3), 2), ((3, 48, 64, 3), 2)]
    _, frames = read_all(tmp_path / "o.mkv")
    # Start: predicted backwards from slot 2, so slot 1 is one step from it and slot 0 two.
    base = moving_scene(2).astype(int)
    np.testing.assert_array_equal(frames[1].image, np.clip(base + 1, 0, 255))
    np.testing.assert_array_equal(frames[0].image, np.clip(base + 2, 0, 255))
    np.testing.assert_array_equal(frames[7].image, np.clip(moving_scene(5).astype(int) + 2, 0, 255))


def test_model_default_falls_back_to_flow(tmp_path, monkeypatch, caplog):
    import framepred.models.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "builtin_path", lambda name: None)
    src = write_video(tmp_path / "a.mkv", gappy([0, 2]))
    with caplog.at_level(logging.WARNING):
        report = fill_video(src, tmp_path / "o.mkv", progress=False)
    assert report.method == "flow" and "no learned default model" in caplog.text


def test_refuses_output_equal_to_input(gappy_mkv):
    before = sha256(gappy_mkv)
    with pytest.raises(VideoWriteError, match="output is the input"):
        fill_video(gappy_mkv, gappy_mkv.parent / ".." / gappy_mkv.parent.name / gappy_mkv.name,
                   overwrite=True, progress=False)  # fmt: skip
    assert sha256(gappy_mkv) == before


def test_memory_window_is_bounded(tmp_path):
    # A long clip: the engine must not hold more known frames than its context.
    import framepred.fill as fill

    seen = []
    real = fill._fill_run

    def spy(run, before, after, *args):
        seen.append((len(before), len(after)))
        return real(run, before, after, *args)

    keep = [i for i in range(120) if i % 3]
    src = write_video(tmp_path / "a.mkv", gappy(keep, scene=lambda i: moving_scene(i % 20)))
    fill._fill_run, old = spy, fill._fill_run
    try:
        fill_video(src, tmp_path / "o.mkv", method="blend", progress=False)
    finally:
        fill._fill_run = old
    assert len(seen) == 40 and max(b for b, _ in seen) <= 1 and max(a for _, a in seen) <= 1


def test_flow_never_reuses_the_flows_of_freed_frames():
    """New frames that land in freed frames' memory (same id(), as decoded frames do) get
    their own flows: a long-lived Flow fills each pair as a fresh Flow does."""
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(30):
        a = panning_scene(i, w=64, h=48)
        pairs.append((a, np.roll(a, int(rng.integers(1, 6)), axis=1)))
    want = [Flow().synthesize([a], [b], [0.5])[0] for a, b in pairs]
    flow, stale = Flow(), 0
    for (a0, b0), expected in zip(pairs, want, strict=True):
        a, b = a0.copy(), b0.copy()
        stale += not np.array_equal(flow.synthesize([a], [b], [0.5])[0], expected)
        del b, a  # freed in this order, the next copies reuse the same objects' memory
    assert stale == 0


@pytest.mark.parametrize(
    "own, new, ratio",
    [
        (Fraction(25), Fraction(50), Fraction(2)),  # a whole multiple: the gap-filling path
        (Fraction(24), Fraction(60), Fraction(5, 2)),  # retimed
        (Fraction(30), Fraction(25), Fraction(5, 6)),
        (Fraction(50), Fraction(25), Fraction(1, 2)),  # retimed: every other frame kept
        (Fraction(30000, 1001), Fraction(2997, 100), Fraction(1)),  # --fps 29.97 is NTSC's
        (Fraction(60000, 1001), Fraction(30), Fraction(1001, 2000)),  # 0.1% off: retimed
        (Fraction(30), Fraction(2997, 100), Fraction(999, 1000)),
    ],
)
def test_rate_conversion_snaps_only_within_a_hundredth_of_a_percent(own, new, ratio):
    assert rate_conversion(SimpleNamespace(source_rate=own, frame_rate=new)) == ratio
