"""Training batches for the forward-only motion model: context, then the frames to predict.

Each window is cut as K context frames followed by `horizon` future frames, scaled so the
full-resolution frames are (s*w) x (s*w) and the working-resolution ones w x w, quantized to
8 bits like real video, and DIS optical flow from the last context frame to the one before it
is computed at the working resolution exactly as prediction does at inference. With `span`,
each window also carries a longer context at the working resolution and the flows between
its frames, for the back-test of a model that chooses its velocity decay
(`framepred.predict.backtest`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from framepred.data.interp import Batch, GapBatches, GapDataModule
from framepred.flow import back_flows, grey_small, process_dis


class ForecastBatches(GapBatches):
    """Endless (or `batches`-long, deterministic with `seed`) stream of forecast batches.

    Args:
        base: map-style dataset of windows (T, 3, S, S), T >= context + horizon.
        batch_size: windows per batch.
        working: working-resolution side w.
        scales: full resolution is s * w for an s drawn per batch.
        context: context frames per window.
        horizon: future frames per window.
        batches: stop after this many batches (None: never).
        seed: makes the stream deterministic (validation); None draws fresh randomness.
        span: context frames cut for the back-test (`test_frames`, `test_backs`); the
            network reads the last `context` of them. 0: none.
    """

    def __init__(
        self,
        base: Dataset,
        batch_size: int = 8,
        working: int = 96,
        scales: Sequence[int] = (1, 2, 3),
        context: int = 4,
        horizon: int = 5,
        batches: int | None = None,
        seed: int | None = None,
        span: int = 0,
    ) -> None:
        if context < 2:
            raise ValueError("a forecast needs at least 2 context frames (for the velocity)")
        if span and span < 3:
            raise ValueError("a back-test needs at least 3 context frames")
        super().__init__(base, batch_size, working, scales, (horizon,), context, batches, seed)
        self.horizon = horizon
        self.span = span

    def make_batch(self, rng: np.random.Generator) -> Batch:
        s = int(rng.choice(self.scales))
        t_len = max(self.context, self.span) + self.horizon
        items = [self._window(rng, t_len, s) for _ in range(self.batch_size)]
        batch: Batch = {key: torch.stack([it[key] for it in items]) for key in items[0]}
        batch["n"] = self.horizon
        return batch

    def _window(self, rng: np.random.Generator, t_len: int, s: int) -> dict[str, torch.Tensor]:
        full_u8, cut = self._cut(rng, t_len, s)
        w = self.working
        k = self.context
        first = max(0, self.span - k)  # the network's context starts here
        full_u8, frames = full_u8[first:], cut[first:]
        small = np.stack([_area(f, w) for f in frames[:k]])  # the network sees the context
        item: dict[str, torch.Tensor] = {
            "full": full_u8,
            "small": torch.from_numpy(small).permute(0, 3, 1, 2).contiguous(),
        }
        # The network's flow (last context frame -> the one before) is the back-test's last.
        tested = cut[: max(k, self.span)] if self.span else frames[k - 2 : k]
        backs = back_flows([grey_small(f, (w, w)) for f in tested], process_dis())
        item["back"] = torch.from_numpy(backs[-1]).permute(2, 0, 1).contiguous()
        if self.span:
            test = np.stack([_area(f, w) for f in tested])
            item["test_frames"] = torch.from_numpy(test).permute(0, 3, 1, 2).contiguous()
            item["test_backs"] = torch.from_numpy(backs).permute(0, 3, 1, 2).contiguous()
        return item


def _area(frame: np.ndarray, w: int) -> np.ndarray:
    return cv2.resize(frame, (w, w), interpolation=cv2.INTER_AREA)


class ForecastDataModule(GapDataModule):
    """Forecast batches from `train_set` / `val_set` windows (see `ForecastBatches`)."""

    batches = ForecastBatches
