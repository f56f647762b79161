"""The pixel model's synthesizer: a frame predictor (`framepred.predict.predictor`) that
fills a gap by predicting forward from the frames before it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from framepred.synth.base import Synthesizer


class ModelSynthesizer(Synthesizer):
    """A learned predictor behind the synthesizer interface.

    A gap of n slots is `predictor.predict(past, n)`: forward prediction from the frames
    before it. At the start of a video there is no past, so time is reversed and the frames
    after the gap are the context. Long gaps are predicted in chunks, each continuing from
    the frames predicted so far.
    """

    name = "model"
    chunk = 16
    forward_only = True  # predicts from the frames before a gap (or after it, reversed)

    def __init__(self, predictor, context: int | None = None):
        self.predictor = predictor
        self.context = int(context) if context else int(getattr(predictor, "context_frames", 10))

    def synthesize(self, before, after, times):
        return list(self.fill_run(before, after, len(times)))

    def fill_run(self, before, after, n, spacing=None):
        if len(before):
            yield from self._rollout(list(before), n)
        else:
            yield from reversed(list(self._rollout(list(after)[::-1], n)))

    def _rollout(self, context: list[np.ndarray], n: int) -> Iterator[np.ndarray]:
        context = context[-self.context :]
        done = 0
        while done < n:
            k = min(self.chunk, n - done)
            pred = np.asarray(self.predictor.predict(np.stack(context), k))  # (k, H, W, C)
            yield from pred
            context = (context + list(pred))[-self.context :]
            done += k
