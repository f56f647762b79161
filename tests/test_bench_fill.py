"""The fill benchmark scores the same frames whichever methods run (`benchmarks.fill`)."""

from __future__ import annotations

from fractions import Fraction

from conftest import moving_scene

from benchmarks.fill import PATTERNS, read_slots, run_minterpolate, scored_slots, write_gappy


def kept(pattern: str, frames: int) -> tuple[int, list[int]]:
    """The slots of a benchmark clip of `frames` frames and its kept slots (as `main` has them)."""
    n = max(i for i in range(frames) if PATTERNS[pattern](i)) + 1
    return n, [i for i in range(n) if PATTERNS[pattern](i)]


def test_scored_slots_leave_out_the_last_gap_only():
    n, keep = kept("x2", 40)
    assert scored_slots(n, keep) == list(range(1, 36, 2))  # 18 of the 19 dropped
    n, keep = kept("gap3", 40)
    assert len(scored_slots(n, keep)) == 21  # every dropped frame: the last gap ends before


def test_minterpolate_makes_every_scored_slot(tmp_path):
    """So a run with minterpolate scores the other methods on the same frames as one without."""
    rate = Fraction(25)
    frames = [moving_scene(i, 64, 48, speed=2) for i in range(20)]
    for pattern in PATTERNS:
        n, keep = kept(pattern, len(frames))
        gappy, out = tmp_path / f"{pattern}.mkv", tmp_path / f"{pattern}_mi.mkv"
        write_gappy(gappy, frames, keep, rate)
        run_minterpolate(gappy, out, rate)
        made = read_slots(out, rate)
        assert set(scored_slots(n, keep)) <= set(made), pattern
