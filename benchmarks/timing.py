"""Timing helpers shared by the benchmarks (no video I/O imports, so GPU checks can use them)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from framepred.guard import Guard
from framepred.synth.base import Synthesizer, context_spacing


def synth_rate(synth: Synthesizer, frames: Sequence[np.ndarray], keep: Sequence[int]) -> float:
    """Frames per second that `synth` makes for the slots of `frames` not in `keep`.

    Each run of missing slots is filled from up to `synth.context` kept frames on each side,
    as `fill` does; only the synthesizer's own calls are timed (frames are in memory).
    """
    made, seconds = synth_fill(synth, frames, keep)
    return len(made) / seconds


def synth_fill(
    synth: Synthesizer, frames: Sequence[np.ndarray], keep: Sequence[int]
) -> tuple[dict[int, np.ndarray], float]:
    """The frames `synth` makes for the slots of `frames` not in `keep` (slot -> frame), and
    the seconds its own calls took (see `synth_rate`)."""
    known = set(keep)
    ctx = max(1, synth.context)
    made: dict[int, np.ndarray] = {}
    seconds, i = 0.0, 0
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
        if isinstance(synth, Guard):  # where the known frames lie, as `fill` tells it
            synth.locate(slots_before, slots_after, i, j - 1)
        run = list(synth.fill_run(before, after, j - i, spacing))
        seconds += time.perf_counter() - t0
        made.update(zip(range(i, j), run, strict=True))
        i = j
    return made, seconds


def matmul_peak(dtype: torch.dtype, n: int) -> float:
    """GFLOP/s of an n x n x n matmul (median of 5), with torch's current threads."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(ts) / 1e9


def conv_gflop(fn: Callable[[], object]) -> float:
    """GFLOP of the convolutions that `fn()` runs (torch's FLOP counter; other ops, such as
    warps and activations, are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    counts = counter.get_flop_counts()["Global"]
    return sum(n for op, n in counts.items() if "convolution" in str(op)) / 1e9
