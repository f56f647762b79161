"""Classical frame synthesizers (`framepred.synth.base.Synthesizer`): `repeat`, `blend`, `flow`.

`flow` is DIS optical flow (OpenCV) in both directions; both neighbours are warped to time t
with `cv2.remap` and blended with weights that fall where the two flows disagree (occluded
pixels), so a moving edge is taken from the frame that actually sees it.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np

from framepred.flow import (
    WORKING_SIDE,
    dis_flows,
    fb_error,
    grey_small,
    inside_weight,
    new_dis,
    pixel_grid,
    upscale_flow,
    working_size,
)
from framepred.synth.base import Synthesizer, check_sides


class Repeat(Synthesizer):
    """Each missing slot takes the nearest known frame (ties go to the earlier one)."""

    name = "repeat"

    def synthesize(self, before, after, times):
        check_sides(before, after)
        out = []
        for t in times:
            near_before = len(after) == 0 or (len(before) > 0 and t <= 0.5)
            out.append((before[-1] if near_before else after[0]).copy())
        return out


class Blend(Synthesizer):
    """Linear cross-fade between the two neighbours."""

    name = "blend"

    def synthesize(self, before, after, times):
        check_sides(before, after)
        if not before or not after:
            return Repeat().synthesize(before, after, times)
        a, b = before[-1].astype(np.float32), after[0].astype(np.float32)
        return [_to_u8((1 - t) * a + t * b) for t in times]


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


class Flow(Synthesizer):
    """Bidirectional DIS optical flow, backward warping, occlusion-aware blending.

    Args:
        preset: DIS preset ("ultrafast", "fast", "medium").
        max_side: flow is computed on frames scaled so their longer side is at most this
            (and scaled back up); motion is smooth, so a coarse field loses little.
    """

    name = "flow"
    min_side = 16  # DIS needs frames of at least 12 px; smaller ones are cross-faded instead

    def __init__(self, preset: str = "medium", max_side: int = WORKING_SIDE):
        self.dis = new_dis(preset)
        self.max_side = max_side
        self._cache: tuple[np.ndarray, np.ndarray, tuple] | None = None

    @property
    def working_side(self) -> int:  # type: ignore[override]
        return self.max_side

    def fork(self) -> Flow:
        twin = copy.copy(self)  # DIS keeps no state between calls: it may be shared
        twin._cache = None
        return twin

    def synthesize(self, before, after, times):
        check_sides(before, after)
        if not before or not after:
            return Repeat().synthesize(before, after, times)
        if min(before[-1].shape[:2]) < self.min_side:
            return Blend().synthesize(before, after, times)
        a, b = before[-1], after[0]
        # The cache holds the frames themselves: keyed by id() alone, a new frame decoded
        # into a freed frame's memory would get the old frame's flows.
        cached = self._cache
        if cached is None or cached[0] is not a or cached[1] is not b:
            cached = self._cache = (a, b, self._flows(a, b))
        f01, f10, e0, e1 = cached[2]
        return [self._render(a, b, f01, f10, e0, e1, t) for t in times]

    def _flows(self, a: np.ndarray, b: np.ndarray):
        h, w = a.shape[:2]
        size = working_size(h, w, self.max_side)
        f01, f10 = dis_flows(grey_small(a, size), grey_small(b, size), self.dis)
        e0 = fb_error(f01, f10)  # large where a pixel of `a` is not seen in `b`
        e1 = fb_error(f10, f01)
        return f01, f10, e0, e1

    @staticmethod
    def _render(a, b, f01, f10, e0, e1, t: float) -> np.ndarray:
        # Everything but the two colour warps runs at the flow's (reduced) resolution.
        # Flow from time t back to each neighbour, approximated from the two end flows
        # (Jiang et al., Super SloMo, eq. 4): exact for linear motion.
        ft0 = -(1 - t) * t * f01 + t * t * f10  # (h', w', 2)
        ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
        lh, lw = f01.shape[:2]
        gx, gy = pixel_grid(lh, lw)
        # Visibility: a pixel whose forward-backward check fails in its source frame is
        # probably occluded there, so the other frame gets the weight; so does a pixel whose
        # source lies outside the frame.
        m0x, m0y = gx + ft0[..., 0], gy + ft0[..., 1]
        m1x, m1y = gx + ft1[..., 0], gy + ft1[..., 1]
        v0 = np.exp(-cv2.remap(e0, m0x, m0y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        v1 = np.exp(-cv2.remap(e1, m1x, m1y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        w0 = (1 - t) * (v0 * inside_weight(m0x, m0y, lw, lh) + 1e-6)
        w1 = t * (v1 * inside_weight(m1x, m1y, lw, lh) + 1e-6)
        alpha = w0 / (w0 + w1)  # weight of frame a, (h', w')
        h, w = a.shape[:2]
        if (lh, lw) != (h, w):
            sx, sy = w / lw, h / lh
            ft0, ft1 = (upscale_flow(f, w, h, sx, sy) for f in (ft0, ft1))
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        gx, gy = pixel_grid(h, w)
        wa = cv2.remap(a, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        wb = cv2.remap(b, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        wbf = wb.astype(np.float32)
        return _to_u8(wbf + alpha[..., None] * (wa.astype(np.float32) - wbf))


METHODS = {"repeat": Repeat, "blend": Blend, "flow": Flow}


def get_synthesizer(name: str, working_side: int | None = None) -> Synthesizer:
    """A classical synthesizer by name: repeat, blend or flow (`flow` at `working_side`,
    default `WORKING_SIDE`; the others estimate no motion and ignore it)."""
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}': choose from {', '.join(METHODS)}")
    if name == "flow" and working_side is not None:
        return Flow(max_side=working_side)
    return METHODS[name]()
