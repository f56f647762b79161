"""Timing helpers shared by the benchmarks (no video I/O imports, so GPU checks can use them)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from framepred.baselines import Synthesizer, context_spacing


def synth_rate(synth: Synthesizer, frames: Sequence[np.ndarray], keep: Sequence[int]) -> float:
    """Frames per second that `synth` makes for the slots of `frames` not in `keep`.

    Each run of missing slots is filled from up to `synth.context` kept frames on each side,
    as `fill` does; only the synthesizer's own calls are timed (frames are in memory).
    """
    known = set(keep)
    ctx = max(1, synth.context)
    made, seconds, i = 0, 0.0, 0
    while i < len(frames):
        if i in known:
            i += 1
            continue
        j = i
        while j < len(frames) and j not in known:
            j += 1
        slots_before = [k for k in keep if k < i][-ctx:]
        slots_after = [k for k in keep if k >= j][:ctx]
        before = [frames[k] for k in slots_before]
        after = [frames[k] for k in slots_after]
        spacing = context_spacing(slots_before, slots_after)
        t0 = time.perf_counter()
        made += sum(1 for _ in synth.fill_run(before, after, j - i, spacing))
        seconds += time.perf_counter() - t0
        i = j
    return made / seconds
