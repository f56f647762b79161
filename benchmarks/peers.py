"""Peer interpolators for the fill benchmark (`benchmarks/fill.py --peers rife`).

RIFE HDv3 (Huang et al., ECCV 2022; MIT licence) is fetched and loaded by `scripts.rife`, in
the benchmark process only: `framepred` never imports it and nothing of it is shipped.

RIFE HDv3 makes the frame halfway between two frames (no time input), so a frame at time t
is made by bisection: the midpoint, then the midpoint of the half holding t, and so on, each
from the two frames that bound it (exact for 1/2, 1/4, 3/4: gap3's three frames cost three
network runs). A time that is no multiple of 1/2^MAX_DEPTH takes the nearest that is.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from framepred.predict.predictor import pick_device
from framepred.synth.base import Synthesizer
from framepred.synth.classical import Repeat
from scripts.rife import STRIDE, load_rife

MAX_DEPTH = 5
PEERS = ("rife",)


class Rife(Synthesizer):
    """RIFE HDv3 as a fill method: bisection to the asked times (module docstring)."""

    name = "rife"
    context = 1

    def __init__(self, device: str = "auto") -> None:
        self.device = pick_device(device)
        self.net = load_rife(self.device)
        # One small run first, so that the first gap's timing holds no one-off set-up.
        self.synthesize([np.zeros((64, 64, 3), np.uint8)], [np.zeros((64, 64, 3), np.uint8)], [0.5])

    def synthesize(self, before, after, times):
        if not before or not after:
            return Repeat().synthesize(before, after, times)
        a, b = self._tensor(before[-1]), self._tensor(after[0])
        mids: dict[tuple[float, float], torch.Tensor] = {}
        h, w = before[-1].shape[:2]
        return [self._to_u8(self._at(t, a, b, mids))[:h, :w] for t in times]

    @torch.inference_mode()
    def _at(self, t: float, a: torch.Tensor, b: torch.Tensor, mids: dict) -> torch.Tensor:
        lo, hi = 0.0, 1.0
        for _ in range(MAX_DEPTH):
            mid = (lo + hi) / 2
            if (lo, hi) not in mids:
                mids[lo, hi] = self.net(torch.cat((a, b), 1), [4, 2, 1])[2][2]
            m = mids[lo, hi]
            if abs(t - mid) < 1e-9:
                return m
            lo, hi, a, b = (lo, mid, a, m) if t < mid else (mid, hi, m, b)
        return a if t - lo < hi - t else b

    def _tensor(self, frame: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device)
        x = x.permute(2, 0, 1)[None].float() / 255.0
        h, w = frame.shape[:2]
        return F.pad(x, (0, -w % STRIDE, 0, -h % STRIDE))

    @staticmethod
    def _to_u8(x: torch.Tensor) -> np.ndarray:
        return (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def make_peer(name: str) -> Synthesizer:
    """The peer synthesizer called `name` (fetching what it needs; FetchError when it cannot)."""
    if name == "rife":
        return Rife()
    raise ValueError(f"unknown peer '{name}': choose from {', '.join(PEERS)}")
