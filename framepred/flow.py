"""DIS optical flow and the flow helpers every part of framepred shares.

The classical `flow` synthesizer, the motion model's synthesizer, the forecasters and the
training batches all compute DIS flow (OpenCV) the same way: on grey frames area-scaled so the
longer side is at most a working size, A->B and B->A. Flows are (h, w, 2) float32 in pixels,
`a(x) ~ b(x + f(x))`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cv2
import numpy as np

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
_PROCESS_DIS: list[cv2.DISOpticalFlow] = []  # one per process (OpenCV objects do not pickle)


def new_dis(preset: str = "medium") -> cv2.DISOpticalFlow:
    """A DIS optical flow object ("ultrafast", "fast" or "medium")."""
    return cv2.DISOpticalFlow.create(PRESETS[preset])


def process_dis() -> cv2.DISOpticalFlow:
    """This process's shared medium-preset DIS object (DataLoader workers each get one)."""
    if not _PROCESS_DIS:
        _PROCESS_DIS.append(new_dis())
    return _PROCESS_DIS[0]


WORKING_SIDE = 320  # the default working resolution's longer side (pixels)
WORKING_SIDES = (64, 4096)  # the range a user may ask for (`--working-size`)


def working_size(h: int, w: int, max_side: int) -> tuple[int, int]:
    """(h', w') with the longer side at most `max_side`, aspect kept (never upscaled)."""
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return h, w
    return max(8, round(h * scale)), max(8, round(w * scale))


def grey_small(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The grey image DIS runs on: grey at full size, then area-resized to (h, w), as the
    classical `flow` method does it."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if grey.shape[:2] == tuple(size):
        return grey
    return cv2.resize(grey, (size[1], size[0]), interpolation=cv2.INTER_AREA)


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


def dis_flows(
    ga: np.ndarray, gb: np.ndarray, dis: cv2.DISOpticalFlow | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """DIS optical flow A->B and B->A of two grey uint8 images, (h, w, 2) float32 each."""
    dis = dis or new_dis()
    f01 = dis_calc(dis, ga, gb)
    f10 = dis_calc(dis, gb, ga)
    return f01, f10


def back_flows(greys: Sequence[np.ndarray], dis: cv2.DISOpticalFlow) -> np.ndarray:
    """DIS optical flow from each grey frame to the one before it, (T - 1, h, w, 2) float32:
    minus each frame's velocity, as the forecasters read it."""
    pairs = zip(greys[:-1], greys[1:], strict=True)
    return np.stack([dis_calc(dis, g1, g0) for g0, g1 in pairs])


def resize_u8(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-resize an (H, W, 3) uint8 frame to (h, w) (a no-op at the same size)."""
    if frame.shape[:2] == tuple(size):
        return frame
    return cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate maps (x, y) for cv2.remap, cached per size."""
    if (h, w) not in _GRIDS:
        if len(_GRIDS) > 8:
            _GRIDS.clear()
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        _GRIDS[(h, w)] = (xs, ys)
    return _GRIDS[(h, w)]


def fb_error(fwd: np.ndarray, bwd: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Forward-backward inconsistency in pixels (relative to motion size), per source pixel."""
    gx, gy = pixel_grid(*fwd.shape[:2])
    back = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    d = fwd + back
    err = cv2.magnitude(d[..., 0], d[..., 1])
    mag = cv2.magnitude(fwd[..., 0], fwd[..., 1]) + cv2.magnitude(back[..., 0], back[..., 1])
    return err / (sigma + 0.05 * mag)


def upscale_flow(flow: np.ndarray, w: int, h: int, sx: float, sy: float) -> np.ndarray:
    """A flow field resized to w x h, its vectors scaled by (sx, sy)."""
    up = np.asarray(cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
    up[..., 0] *= sx
    up[..., 1] *= sy
    return up


def inside_weight(mx: np.ndarray, my: np.ndarray, w: int, h: int) -> np.ndarray:
    """1 where a sampling map (mx, my) falls inside a w x h frame, 0.05 outside."""
    ok = (mx >= -0.5) & (mx <= w - 0.5) & (my >= -0.5) & (my <= h - 0.5)
    return np.where(ok, 1.0, 0.05).astype(np.float32)


def warp(frame: np.ndarray, grid: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Bilinear backward warp of `frame` by `flow` (pixels, (H, W, 2), overwritten: it
    becomes the sampling map), borders replicated."""
    flow += grid
    # OpenCV's stubs miss that map2 may be None (map1 then holds (x, y) pairs).
    return cv2.remap(frame, flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]


@functools.lru_cache(maxsize=8)
def pixel_grid2(h: int, w: int) -> np.ndarray:
    """(H, W, 2) float32 pixel coordinates (x, y), the identity map of `cv2.remap`; cached
    per size (read only)."""
    gx, gy = pixel_grid(h, w)
    grid = np.dstack([gx, gy])
    grid.flags.writeable = False
    return grid
