"""framepred.gaps: slots on the nominal grid, holes, VFR, content checks, slot lists, cuts."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import moving_scene
from hypothesis import given, settings
from hypothesis import strategies as st

from framepred.gaps import (
    Gap,
    Grid,
    SlotSpecError,
    find_gaps,
    is_black,
    is_duplicate,
    is_scene_cut,
    slots_from_spec,
)
from framepred.synth.base import Synthesizer

GRID = Grid(Fraction(0), Fraction(1, 25))


@settings(max_examples=200, deadline=None)
@given(
    kept=st.sets(st.integers(0, 300), min_size=1, max_size=80),
    jitter=st.lists(st.integers(-9, 9), min_size=80, max_size=80),
    rate=st.sampled_from([Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(60)]),
    extra=st.integers(0, 5),
)
def test_found_slots_are_exactly_the_missing_grid_slots(kept, jitter, rate, extra):
    grid = Grid(Fraction(0), 1 / rate)
    slots = sorted(kept)
    # Timestamps wobble by up to 0.45 of an interval (as rounded muxer timestamps do).
    pts = [
        grid.time(s) + Fraction(j, 20) * grid.interval for s, j in zip(slots, jitter, strict=False)
    ]
    n_slots = slots[-1] + 1 + extra
    scan = find_gaps(pts, grid, n_slots=n_slots)
    assert scan.missing == sorted(set(range(n_slots)) - kept)
    assert scan.n_slots == n_slots and scan.collisions == []
    for gap in scan.gaps:
        assert gap.reason == "timestamps"


def test_pts_step_over_one_and_a_half_intervals_leaves_a_hole():
    i = GRID.interval
    assert find_gaps([0, i, 2 * i + 0.4 * i], GRID).missing == []
    assert find_gaps([0, i, i + Fraction(16, 10) * i], GRID).missing == [2]


def test_vfr_mapped_onto_grid_first_frame_kept():
    i = GRID.interval
    # 0, 1, (2 and 2.3 collide in slot 2), 3.2 -> slot 3, 5.1 -> slot 5, slot 4 empty.
    pts = [Fraction(0), i, 2 * i, Fraction(23, 10) * i, Fraction(32, 10) * i, Fraction(51, 10) * i]
    scan = find_gaps(pts, GRID)
    assert scan.missing == [4]
    assert scan.collisions == [(Fraction(23, 10) * i, 2)]


def test_leading_and_explicit_gaps_with_reasons():
    i = GRID.interval
    pts = [s * i for s in (2, 3, 4, 5, 8, 9)]
    scan = find_gaps(pts, GRID, explicit={4, 5, 11}, n_slots=12)
    assert scan.gaps == [
        Gap(0, 1, "timestamps"),
        Gap(4, 5, "explicit"),
        Gap(6, 7, "timestamps"),
        Gap(10, 10, "timestamps"),
        Gap(11, 11, "explicit"),
    ]


def test_duplicates_and_black_found_only_when_asked():
    frames = [moving_scene(0), moving_scene(1), moving_scene(1), moving_scene(2)]
    frames.append(np.full_like(frames[0], 5))
    frames.append(moving_scene(3))
    pts = [k * GRID.interval for k in range(len(frames))]
    assert find_gaps(pts, GRID, images=frames).missing == []
    dup = find_gaps(pts, GRID, images=frames, detect=("duplicates",))
    assert dup.gaps == [Gap(2, 2, "duplicate")]
    both = find_gaps(pts, GRID, images=frames, detect=("timestamps", "duplicates", "black"))
    assert both.gaps == [Gap(2, 2, "duplicate"), Gap(4, 4, "black")]


def test_duplicate_threshold_tolerates_noise_not_motion():
    rng = np.random.default_rng(0)
    a = moving_scene(5)
    noisy = np.clip(a.astype(int) + rng.integers(-2, 3, a.shape), 0, 255).astype(np.uint8)
    assert is_duplicate(a, noisy)
    assert not is_duplicate(a, moving_scene(6))
    assert is_black(np.full((48, 64, 3), 20, np.uint8))
    assert not is_black(moving_scene(0))


def test_scene_cut_between_shots_not_within_one():
    shot_a = [moving_scene(i) for i in range(0, 12, 4)]
    shot_b = moving_scene(0, seed=3)[:, ::-1, [2, 0, 1]]
    assert not is_scene_cut(shot_a[0], shot_a[-1])  # 8 frames of motion apart, same shot
    assert is_scene_cut(shot_a[-1], np.ascontiguousarray(shot_b))


@pytest.mark.parametrize(
    "spec, n, message",
    [
        ("12-x", 50, "not a slot number"),
        ("14-12", 50, "end before start"),
        ("3,,4", 50, "not a slot number"),
        ("-3", 50, "not a slot number"),
        ("40-60", 50, "out of range"),
    ],
)
def test_slot_spec_errors(spec, n, message):
    with pytest.raises(SlotSpecError, match=message):
        slots_from_spec(spec, n)


def test_slot_spec_parses():
    assert slots_from_spec("12-14,40", 50) == {12, 13, 14, 40}
    assert slots_from_spec(" 3 ", None) == {3}


# -- filling never reorders or drops a known frame; the output has the grid's frame count ----

INTERVAL = GRID.interval


def _plan(kept, jitter, colliders, explicit, extra):
    """Push jittered frames (plus VFR colliders) through a SlotMapper; return the plan."""
    from framepred.gaps import SlotMapper

    slots = sorted(kept)
    known = [np.full((8, 8, 3), k % 256, np.uint8) for k in range(len(slots))]
    frames = []
    for k, slot in enumerate(slots):
        frames.append((GRID.time(slot) + Fraction(jitter[k], 20) * INTERVAL, known[k]))
        if k in colliders:  # a second frame later in the same slot (VFR): dropped, recorded
            frames.append((GRID.time(slot) + Fraction(49, 100) * INTERVAL, known[k].copy()))
    n_slots = slots[-1] + 1 + extra
    mapper = SlotMapper(GRID, explicit={s for s in explicit if s < n_slots})
    items = [item for t, image in frames for item in mapper.push(t, image)]
    items += mapper.finish(n_slots)
    kept_known = [image for slot, image in zip(slots, known, strict=True) if slot not in explicit]
    return items, kept_known, n_slots, mapper


plan_args = dict(
    kept=st.sets(st.integers(0, 200), min_size=1, max_size=60),
    jitter=st.lists(st.integers(-9, 9), min_size=60, max_size=60),
    colliders=st.sets(st.integers(0, 59), max_size=10),
    explicit=st.sets(st.integers(0, 210), max_size=8),
    extra=st.integers(0, 5),
)


@settings(max_examples=300, deadline=None)
@given(**plan_args)
def test_slot_plan_keeps_every_known_frame_in_order(kept, jitter, colliders, explicit, extra):
    items, kept_known, n_slots, mapper = _plan(kept, jitter, colliders, explicit, extra)
    assert [item.slot for item in items] == list(range(n_slots))  # every slot, once, in order
    out = [item.image for item in items if item.image is not None]
    assert len(out) == len(kept_known)
    assert all(a is b for a, b in zip(out, kept_known, strict=True))  # same frames, same order
    assert len(mapper.collisions) == len([k for k in colliders if k < len(kept)])
    for item in items:
        assert (item.image is None) == (item.slot not in kept or item.slot in explicit)


class _Marker(Synthesizer):
    """A synthesizer that wants `context` frames per side and makes fresh frames."""

    name = "marker"

    def __init__(self, context: int) -> None:
        self.context = context

    def fill_run(self, before, after, n, spacing=None):
        assert before or after
        assert len(before) <= self.context and len(after) <= self.context
        return (np.zeros((8, 8, 3), np.uint8) for _ in range(n))


@settings(max_examples=150, deadline=None)
@given(**plan_args, context=st.sampled_from([1, 3]))
def test_fill_stream_passes_known_frames_through_in_order(
    kept, jitter, colliders, explicit, extra, context
):
    from framepred.errors import VideoWriteError
    from framepred.fill import FillPlan, FillReport, _fill_stream
    from framepred.io.reader import VideoInfo

    items, kept_known, n_slots, _ = _plan(kept, jitter, colliders, explicit, extra)
    info = VideoInfo(Path("x"), 8, 8, Fraction(25), None, Fraction(0), None, None, "-", "-",
                     False, 0)  # fmt: skip
    report = FillReport("x", "y", "25", 0, 0, "marker")
    stream = _fill_stream(iter(items), FillPlan(_Marker(context), info, 30, "fill", report))
    if not kept_known:  # every frame named missing: nothing to fill from
        with pytest.raises(VideoWriteError):
            list(stream)
        return
    out = list(stream)
    assert len(out) == n_slots
    passed = [image for image in out if any(image is k for k in kept_known)]
    assert all(a is b for a, b in zip(passed, kept_known, strict=True))
    assert len(passed) == len(kept_known) == report.n_kept
    assert sorted(s.slot for s in report.slots) == [i.slot for i in items if i.image is None]


@settings(max_examples=12, deadline=None)
@given(
    kept=st.sets(st.integers(0, 24), min_size=2, max_size=16),
    jitter=st.lists(st.integers(-8, 8), min_size=16, max_size=16),
)
def test_fill_end_to_end_keeps_frames_bit_exact_on_the_grid(kept, jitter):
    import tempfile

    from conftest import read_all, write_video

    from framepred.fill import fill_video

    slots = sorted(kept)
    jitter[0] = abs(jitter[0])  # a negative first timestamp moves the grid's origin with it
    frames = [(GRID.time(s) + Fraction(j, 20) * INTERVAL, moving_scene(s)) for s, j in
              zip(slots, jitter, strict=False)]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        src = write_video(Path(tmp) / "in.mkv", frames)
        report = fill_video(src, Path(tmp) / "out.mkv", method="repeat", progress=False)
        _, out = read_all(Path(tmp) / "out.mkv")
    assert len(out) == slots[-1] + 1 == report.n_slots
    assert [f.pts for f in out] == [GRID.time(s) for s in range(len(out))]
    for slot in slots:
        np.testing.assert_array_equal(out[slot].image, moving_scene(slot))
    assert [s.slot for s in report.slots] == sorted(set(range(slots[-1] + 1)) - kept)
