"""Classical frame synthesizers behind one interface: `repeat`, `blend` and `flow`.

Every synthesizer fills the slots between the last known frame before a gap and the first
known frame after it. `times` are fractional positions in (0, 1) between those two frames
(slot i of an n-slot gap is at i / (n + 1)). A gap at the start or end of a video has only
one side; the frames of that side are used. Frames are RGB uint8 (H, W, 3).

`flow` is DIS optical flow (OpenCV) in both directions; both neighbours are warped to time t
with `cv2.remap` and blended with weights that fall where the two flows disagree (occluded
pixels), so a moving edge is taken from the frame that actually sees it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import cv2
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

    def fork(self) -> Synthesizer:
        """A synthesizer that works as this one, with caches of its own (several can then fill
        different views of a video side by side: `framepred.ensemble`). Synthesizers that keep
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


def _check(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> None:
    if not before and not after:
        raise InputShapeError("a gap needs at least one known frame on one side")
    for frame in (*before[-1:], *after[:1]):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputShapeError(f"frames must be RGB uint8 (H, W, 3), got {frame.shape}")
    if before and after and before[-1].shape != after[0].shape:
        raise InputShapeError(f"frame sizes differ: {before[-1].shape} vs {after[0].shape}")


class Repeat(Synthesizer):
    """Each missing slot takes the nearest known frame (ties go to the earlier one)."""

    name = "repeat"

    def synthesize(self, before, after, times):
        _check(before, after)
        out = []
        for t in times:
            near_before = len(after) == 0 or (len(before) > 0 and t <= 0.5)
            out.append((before[-1] if near_before else after[0]).copy())
        return out


class Blend(Synthesizer):
    """Linear cross-fade between the two neighbours."""

    name = "blend"

    def synthesize(self, before, after, times):
        _check(before, after)
        if not before or not after:
            return Repeat().synthesize(before, after, times)
        a, b = before[-1].astype(np.float32), after[0].astype(np.float32)
        return [_to_u8((1 - t) * a + t * b) for t in times]


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


DIS_MIN_SIDE = 12  # OpenCV's DIS refuses images with a side below this


def dis_calc(dis: cv2.DISOpticalFlow, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIS optical flow from grey uint8 `a` to `b`, (h, w, 2) float32, for any frame size:
    a side below `DIS_MIN_SIDE` is padded (edge pixels repeated) and the flow cropped back.
    Every DIS call goes through here."""
    h, w = a.shape[:2]
    pad_h, pad_w = max(0, DIS_MIN_SIDE - h), max(0, DIS_MIN_SIDE - w)
    if pad_h or pad_w:
        a, b = (cv2.copyMakeBorder(x, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE) for x in (a, b))
    # OpenCV's stubs miss that an output array may be None (allocated by OpenCV).
    flow = dis.calc(a, b, None)  # type: ignore[call-overload]
    return np.ascontiguousarray(flow[:h, :w]) if pad_h or pad_w else flow


class Flow(Synthesizer):
    """Bidirectional DIS optical flow, backward warping, occlusion-aware blending.

    Args:
        preset: DIS preset ("ultrafast", "fast", "medium").
        max_side: flow is computed on frames scaled so their longer side is at most this
            (and scaled back up); motion is smooth, so a coarse field loses little.
    """

    name = "flow"
    min_side = 16  # DIS needs frames of at least 12 px; smaller ones are cross-faded instead
    _presets = {
        "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
        "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    }

    def __init__(self, preset: str = "medium", max_side: int = 320):
        self.dis = cv2.DISOpticalFlow.create(self._presets[preset])
        self.max_side = max_side
        self._cache: tuple[np.ndarray, np.ndarray, tuple] | None = None

    def fork(self) -> Flow:
        twin = copy.copy(self)  # DIS keeps no state between calls: it may be shared
        twin._cache = None
        return twin

    def synthesize(self, before, after, times):
        _check(before, after)
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
        scale = min(1.0, self.max_side / max(h, w))
        ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
        if scale < 1.0:
            size = (max(8, round(w * scale)), max(8, round(h * scale)))
            ga, gb = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (ga, gb))
        f01 = dis_calc(self.dis, ga, gb)  # (h', w', 2): a(x) ~ b(x + f01(x))
        f10 = dis_calc(self.dis, gb, ga)
        e0 = _fb_error(f01, f10)  # large where a pixel of `a` is not seen in `b`
        e1 = _fb_error(f10, f01)
        return f01, f10, e0, e1

    @staticmethod
    def _render(a, b, f01, f10, e0, e1, t: float) -> np.ndarray:
        # Everything but the two colour warps runs at the flow's (reduced) resolution.
        # Flow from time t back to each neighbour, approximated from the two end flows
        # (Jiang et al., Super SloMo, eq. 4): exact for linear motion.
        ft0 = -(1 - t) * t * f01 + t * t * f10  # (h', w', 2)
        ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
        lh, lw = f01.shape[:2]
        gx, gy = _grid(lh, lw)
        # Visibility: a pixel whose forward-backward check fails in its source frame is
        # probably occluded there, so the other frame gets the weight; so does a pixel whose
        # source lies outside the frame.
        m0x, m0y = gx + ft0[..., 0], gy + ft0[..., 1]
        m1x, m1y = gx + ft1[..., 0], gy + ft1[..., 1]
        v0 = np.exp(-cv2.remap(e0, m0x, m0y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        v1 = np.exp(-cv2.remap(e1, m1x, m1y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        w0 = (1 - t) * (v0 * _inside(m0x, m0y, lw, lh) + 1e-6)
        w1 = t * (v1 * _inside(m1x, m1y, lw, lh) + 1e-6)
        alpha = w0 / (w0 + w1)  # weight of frame a, (h', w')
        h, w = a.shape[:2]
        if (lh, lw) != (h, w):
            sx, sy = w / lw, h / lh
            ft0, ft1 = (_upscale_flow(f, w, h, sx, sy) for f in (ft0, ft1))
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        gx, gy = _grid(h, w)
        wa = cv2.remap(a, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        wb = cv2.remap(b, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        wbf = wb.astype(np.float32)
        return _to_u8(wbf + alpha[..., None] * (wa.astype(np.float32) - wbf))


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate maps (x, y) for cv2.remap, cached per size."""
    if (h, w) not in _GRIDS:
        if len(_GRIDS) > 8:
            _GRIDS.clear()
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        _GRIDS[(h, w)] = (xs, ys)
    return _GRIDS[(h, w)]


def _fb_error(fwd: np.ndarray, bwd: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Forward-backward inconsistency in pixels (relative to motion size), per source pixel."""
    gx, gy = _grid(*fwd.shape[:2])
    back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    d = fwd + back
    err = cv2.magnitude(d[..., 0], d[..., 1])
    mag = cv2.magnitude(fwd[..., 0], fwd[..., 1]) + cv2.magnitude(back[..., 0], back[..., 1])
    return err / (sigma + 0.05 * mag)


def _upscale_flow(flow: np.ndarray, w: int, h: int, sx: float, sy: float) -> np.ndarray:
    up = np.asarray(cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
    up[..., 0] *= sx
    up[..., 1] *= sy
    return up


def _inside(mx: np.ndarray, my: np.ndarray, w: int, h: int) -> np.ndarray:
    ok = (mx >= -0.5) & (mx <= w - 0.5) & (my >= -0.5) & (my <= h - 0.5)
    return np.where(ok, 1.0, 0.05).astype(np.float32)


METHODS = {"repeat": Repeat, "blend": Blend, "flow": Flow}


def get_synthesizer(name: str) -> Synthesizer:
    """A classical synthesizer by name: repeat, blend or flow."""
    try:
        return METHODS[name]()
    except KeyError:
        raise ValueError(f"unknown method '{name}': choose from {', '.join(METHODS)}") from None
