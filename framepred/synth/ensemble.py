"""Self-ensembles (`fill --ensemble N`): a synthesizer run on mirrored and time-reversed
copies of each gap, the copies' frames mirrored back and averaged.

A model's errors on a gap and on its mirror image are partly independent (its convolutions
and DIS optical flow are not mirror-symmetric, and a gap played backwards asks the network
the same question from the other side), so their mean is closer to the truth than either,
at N times the work. This is the geometric self-ensemble of super-resolution (Lim et al.,
EDSR, 2017) applied to frame interpolation, with time reversal as a further transform.

Members, in the order a larger ensemble adds them: the gap itself; reversed in time (the
flows and features of the known frames are shared with the first, so it costs only the
network and the render); mirrored left-right; mirrored and reversed; then the same two
upside down. Each mirror image has its own synthesizer, so whatever the synthesizer keeps of
neighbouring gaps (flows, features) keeps serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import numpy as np

from framepred.errors import FramepredError
from framepred.synth.base import Spacing, Synthesizer, check_sides
from framepred.synth.cache import Recent


class Member(NamedTuple):
    hflip: bool  # mirrored left-right
    vflip: bool  # upside down
    reverse: bool  # played backwards


MEMBERS = tuple(Member(h, v, r) for v in (False, True) for h in (False, True) for r in (False, True))  # fmt: skip
SIZES = (1, 2, 4, 8)


def check(inner: Synthesizer, size: int) -> None:
    """Raise a `FramepredError` unless `inner` can be averaged over `size` views."""
    if size not in SIZES:
        raise FramepredError(f"--ensemble must be one of {', '.join(map(str, SIZES))}, got {size}")  # fmt: skip
    if size > 1 and inner.forward_only:
        raise FramepredError("--ensemble needs a method that fills from both sides of a gap; "
                             f"this {inner.name} predicts from one side only")  # fmt: skip


def _mirror(frame: np.ndarray, hflip: bool, vflip: bool) -> np.ndarray:
    if hflip:
        frame = frame[:, ::-1]
    if vflip:
        frame = frame[::-1]
    return np.ascontiguousarray(frame)


class SelfEnsemble(Synthesizer):
    """The mean of `inner`'s frames over the first `size` of `MEMBERS`.

    Args:
        inner: a synthesizer that fills from both sides of a gap and can be `fork`ed
            (the motion model, `flow`).
        size: 1, 2, 4 or 8 members.
    """

    def __init__(self, inner: Synthesizer, size: int) -> None:
        check(inner, size)
        self.inner = inner
        self.size = size
        self.name = inner.name
        self.context = inner.context
        self.wants_spacing = inner.wants_spacing
        self.working_side = inner.working_side
        self.members = MEMBERS[:size]
        views = dict.fromkeys((m.hflip, m.vflip) for m in self.members)
        self._synths = {v: inner if v == (False, False) else inner.fork() for v in views}
        # Mirrored copies of the last known frames (two gaps' worth), kept so that the forks'
        # caches, which compare frames by identity, find them again in the next gap.
        self._mirrored = Recent(size=2 * 4 * (len(views) - 1))

    def fork(self) -> SelfEnsemble:
        """The same views over a fork of the inner synthesizer: caches of its own."""
        return SelfEnsemble(self.inner.fork(), self.size)

    def _view(self, frames: Sequence[np.ndarray], hflip: bool, vflip: bool) -> list[np.ndarray]:
        if not (hflip or vflip):
            return list(frames)
        return [self._mirrored.get((f,), (hflip, vflip), partial(_mirror, f, hflip, vflip))
                for f in frames]  # fmt: skip

    def synthesize(self, before, after, times, spacing: Spacing | None = None):
        check_sides(before, after)
        kw = {"spacing": spacing} if self.wants_spacing else {}
        if not before or not after:  # one side: nothing to mirror or reverse that would differ
            return self.inner.synthesize(before, after, times, **kw)
        total: list[np.ndarray] | None = None
        for m in self.members:
            synth = self._synths[(m.hflip, m.vflip)]
            b, a = self._view(before, m.hflip, m.vflip), self._view(after, m.hflip, m.vflip)
            if m.reverse:
                back = {"spacing": (spacing[1], spacing[0])} if kw and spacing else kw
                made = synth.synthesize(a[::-1], b[::-1], [1 - t for t in times[::-1]], **back)
                made = made[::-1]
            else:
                made = synth.synthesize(b, a, times, **kw)
            made = [_mirror(f, m.hflip, m.vflip) for f in made]
            if total is None:
                total = [f.astype(np.uint16) for f in made]  # 8 x 255 fits
            else:
                for acc, f in zip(total, made, strict=True):
                    acc += f
        assert total is not None
        n = len(self.members)
        return [((acc + n // 2) // n).astype(np.uint8) for acc in total]
