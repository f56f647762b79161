"""Training batches for the motion model: gaps cut from frame windows, with their flows.

A base dataset gives windows of frames (T, 3, S, S), float in [0, 1] (synthetic motion from
photos, or crops of real clips). Each batch picks a gap length n and a scale s, then every
window is cut as

    P . A | n hidden slots | B . N        (context k = 2 on each side)

scaled so the full-resolution frames are (s*w) x (s*w) and the working-resolution frames
w x w, quantized to 8 bits like real video, and DIS optical flow A<->B is computed at the
working resolution exactly as `fill` does at inference. The network sees the working
resolution; the loss is taken at full resolution. Whole batches are built inside the worker
processes (`DataLoader(batch_size=None)`), because n and s are shared by a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cv2
import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from framepred.flow import dis_calc, dis_flows, grey_small, process_dis

Batch = dict[str, Any]


class GapBatches(IterableDataset):
    """Endless (or `batches`-long, deterministic with `seed`) stream of gap batches.

    Args:
        base: map-style dataset of windows (T, 3, S, S), T >= max(gaps) + 2 * context.
        batch_size: windows per batch.
        working: working-resolution side w.
        scales: full resolution is s * w for an s drawn per batch.
        gaps: gap lengths drawn per batch (repeat a value to weight it).
        context: known frames on each side.
        batches: stop after this many batches (None: never).
        seed: makes the stream deterministic (validation); None draws fresh randomness.
        accel: also cut the outer context frames P and N at a spacing drawn per batch (1 or 2
            frames from A and B, as with scattered drops and with regular ones), and add DIS
            flow between A and P and between B and N both ways and the spacings in gap units
            (`fap`, `fpa`, `fbn`, `fnb`, `sp`, `sn`); one window in ten has its spacing
            marked unknown (0).
    """

    max_spacing = 2  # frames between A and P (and B and N) with `accel`

    def __init__(
        self,
        base: Dataset,
        batch_size: int = 8,
        working: int = 96,
        scales: Sequence[int] = (1, 2, 3),
        gaps: Sequence[int] = (1, 1, 3, 2),
        context: int = 2,
        batches: int | None = None,
        seed: int | None = None,
        accel: bool = False,
    ) -> None:
        self.base, self.batch_size, self.working = base, batch_size, working
        self.scales, self.gaps, self.context = tuple(scales), tuple(gaps), context
        self.batches, self.seed, self.accel = batches, seed, accel
        if accel and context != 2:
            raise ValueError("accel needs a context of 2 frames on each side")

    @classmethod
    def window_length(cls, longest_gap: int, context: int, accel: bool) -> int:
        """Frames a base window needs for gaps up to `longest_gap`."""
        if accel:
            return longest_gap + 2 + 2 * cls.max_spacing
        return longest_gap + 2 * context

    def __iter__(self) -> Iterator[Batch]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        if self.seed is None:
            rng = np.random.default_rng(torch.initial_seed() % 2**63)
        for i in range(wid, self.batches or 2**62, nw):
            if self.seed is not None:
                rng = np.random.default_rng([self.seed, i])
            yield self.make_batch(rng)

    def make_batch(self, rng: np.random.Generator) -> Batch:
        n = int(rng.choice(self.gaps))
        s = int(rng.choice(self.scales))
        t_len = n + 2 * self.context
        pick = None
        if self.accel:  # P . . A | n slots | B . . N with d - 1 unused frames between P and A
            d = int(rng.integers(1, self.max_spacing + 1))
            pick = [0, d, *range(d + 1, d + n + 1), d + n + 1, 2 * d + n + 1]
        items = [self._item(rng, t_len, s, pick) for _ in range(self.batch_size)]
        batch: Batch = {key: torch.stack([it[key] for it in items]) for key in items[0]}
        batch["n"] = n
        return batch

    def _span(self, rng: np.random.Generator, span: int) -> torch.Tensor:
        """`span` consecutive frames from a random place of a random base window."""
        seq = self.base[int(rng.integers(len(self.base)))]  # type: ignore[arg-type]
        if seq.shape[0] < span:
            raise ValueError(f"windows have {seq.shape[0]} frames, a batch needs {span}")
        start = int(rng.integers(seq.shape[0] - span + 1))
        return seq[start : start + span]

    def _cut(
        self, rng: np.random.Generator, t_len: int, s: int, pick: list[int] | None = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        """`t_len` consecutive frames of a random window at (s*w)^2 (or the frames at offsets
        `pick` from a random start), quantized to 8 bits: (T, 3, H, W) uint8 and the same
        frames as (T, H, W, 3) for OpenCV."""
        seq = self._span(rng, pick[-1] + 1 if pick else t_len)
        if pick:
            seq = seq[pick]
        side = s * self.working
        full = seq if seq.shape[-1] == side else F.interpolate(seq, size=(side, side), mode="area")
        full_u8 = full.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
        return full_u8, full_u8.permute(0, 2, 3, 1).numpy()

    def _item(
        self, rng: np.random.Generator, t_len: int, s: int, pick: list[int] | None = None
    ) -> dict[str, torch.Tensor]:
        full_u8, frames = self._cut(rng, t_len, s, pick)
        w = self.working
        small = np.stack([cv2.resize(f, (w, w), interpolation=cv2.INTER_AREA) for f in frames])
        if small.ndim == 3:
            small = small[..., None]
        k, n = self.context, t_len - 2 * self.context
        ga, gb = grey_small(frames[k - 1], (w, w)), grey_small(frames[k + n], (w, w))
        f01, f10 = dis_flows(ga, gb, process_dis())
        item = {
            "full": full_u8,
            "small": torch.from_numpy(small).permute(0, 3, 1, 2).contiguous(),
            "f01": torch.from_numpy(f01).permute(2, 0, 1).contiguous(),
            "f10": torch.from_numpy(f10).permute(2, 0, 1).contiguous(),
        }
        if pick and self.accel:
            gp, gn = grey_small(frames[0], (w, w)), grey_small(frames[-1], (w, w))
            pairs = {"fap": (ga, gp), "fpa": (gp, ga), "fbn": (gb, gn), "fnb": (gn, gb)}
            for key, (x, y) in pairs.items():
                flow = dis_calc(process_dis(), x, y)
                item[key] = torch.from_numpy(flow).permute(2, 0, 1).contiguous()
            d, gap = pick[1] - pick[0], pick[k + n] - pick[k - 1]
            known = rng.random() >= 0.1
            item["sp"] = item["sn"] = torch.tensor(d / gap if known else 0.0)
        return item


class GapDataModule(L.LightningDataModule):
    """Gap batches from `train_set` / `val_set` windows (see `GapBatches`)."""

    # The batch stream; `ForecastDataModule` swaps it.
    batches: Callable[..., GapBatches] = GapBatches

    def __init__(
        self,
        train_set: Dataset,
        val_set: Dataset,
        batch_size: int = 8,
        num_workers: int = 0,
        val_batches: int = 16,
        **gap_kw: Any,
    ) -> None:
        super().__init__()
        self.train_set, self.val_set = train_set, val_set
        self.batch_size, self.num_workers, self.val_batches = batch_size, num_workers, val_batches
        self.gap_kw = gap_kw

    def train_dataloader(self) -> DataLoader:
        ds = self.batches(self.train_set, self.batch_size, **self.gap_kw)
        return self._loader(ds, self.num_workers)

    def val_dataloader(self) -> DataLoader:
        ds = self.batches(
            self.val_set, self.batch_size, batches=self.val_batches, seed=1234, **self.gap_kw
        )
        return self._loader(ds, min(self.num_workers, 2))

    @staticmethod
    def _loader(ds: IterableDataset, workers: int) -> DataLoader:
        # Workers are spawned, not forked: a fork taken while OpenCV's or FFmpeg's threads
        # run can deadlock the child.
        return DataLoader(
            ds,
            batch_size=None,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            multiprocessing_context="spawn" if workers > 0 else None,
        )
