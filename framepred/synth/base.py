"""The one interface every synthesizer fills gaps through, and what they share.

Every synthesizer fills the slots between the last known frame before a gap and the first
known frame after it. `times` are fractional positions in (0, 1) between those two frames
(slot i of an n-slot gap is at i / (n + 1)). A gap at the start or end of a video has only
one side; the frames of that side are used. Frames are RGB uint8 (H, W, 3).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np

from framepred.errors import InputShapeError


class Synthesizer:
    """Interface shared by the classical methods and the learned model.

    `context` is how many known frames on each side the method wants; `fill_run` yields the
    n frames of one gap (classical methods render them in small chunks so memory is bounded).
    """

    name = "base"
    context = 1
    forward_only = False  # True: it predicts from the frames on one side of a gap only

    def synthesize(
        self, before: Sequence[np.ndarray], after: Sequence[np.ndarray], times: Sequence[float]
    ) -> list[np.ndarray]:
        raise NotImplementedError

    # A method that models acceleration reads where its outer context frames lie: `fill_run`
    # takes `spacing` (see `context_spacing`) from every caller and hands it on to `synthesize`
    # only for such a method.
    wants_spacing = False

    # The longer side (pixels) of the resolution the method estimates motion at (frames
    # larger than this are scaled down for it); None for methods that do not estimate motion.
    working_side: int | None = None

    def fork(self) -> Synthesizer:
        """A synthesizer that works as this one, with caches of its own (several can then fill
        different views of a video side by side: `framepred.synth.ensemble`). Synthesizers that keep
        anything between calls override this."""
        return copy.copy(self)

    def fill_run(
        self,
        before: Sequence[np.ndarray],
        after: Sequence[np.ndarray],
        n: int,
        spacing: Spacing | None = None,
    ) -> Iterator[np.ndarray]:
        yield from self.fill_times(before, after, [(i + 1) / (n + 1) for i in range(n)], spacing)

    def fill_times(
        self,
        before: Sequence[np.ndarray],
        after: Sequence[np.ndarray],
        times: Sequence[float],
        spacing: Spacing | None = None,
    ) -> Iterator[np.ndarray]:
        """The frames at `times` (increasing fractions of the way from the last frame before
        the gap to the first after it), in chunks: what `fill_run` does for evenly spaced
        slots, for any times (frame-rate conversion by a ratio that is not a whole number)."""
        kw = {"spacing": spacing} if self.wants_spacing else {}
        for k in range(0, len(times), 16):
            yield from self.synthesize(before, after, times[k : k + 16], **kw)


Spacing = tuple[float, float]


def context_spacing(before: Sequence[int], after: Sequence[int]) -> Spacing:
    """Where the outer context frames lie, from the slot numbers of the known frames on each
    side of a gap: (A - P, N - B) in units of the gap B - A, where P, A are the last two before
    it and B, N the first two after it; 0 for a side with fewer than two frames (unknown)."""
    if not before or not after:
        return 0.0, 0.0
    gap = after[0] - before[-1]
    sp = (before[-1] - before[-2]) / gap if len(before) > 1 else 0.0
    sn = (after[1] - after[0]) / gap if len(after) > 1 else 0.0
    return sp, sn


def check_sides(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> None:
    if not before and not after:
        raise InputShapeError("a gap needs at least one known frame on one side")
    for frame in (*before[-1:], *after[:1]):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputShapeError(f"frames must be RGB uint8 (H, W, 3), got {frame.shape}")
    if before and after and before[-1].shape != after[0].shape:
        raise InputShapeError(f"frame sizes differ: {before[-1].shape} vs {after[0].shape}")
