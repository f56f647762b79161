"""Differentiable warping and the flow algebra of frame interpolation (torch, any device).

Flows are in pixels, (B, 2, H, W) with x then y; `backward_warp(img, flow)` samples
`img` at `p + flow(p)` with bilinear weights and replicated borders, which is what
`cv2.remap(..., BORDER_REPLICATE)` does in the classical `flow` method, so the learned model
starts from exactly the classical result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_GRIDS: dict[tuple[int, int, str, torch.dtype], Tensor] = {}


def pixel_grid(h: int, w: int, like: Tensor) -> Tensor:
    """(1, 2, H, W) pixel coordinates (x, y), cached per size/device/dtype."""
    key = (h, w, str(like.device), like.dtype)
    grid = _GRIDS.get(key)
    if grid is None:
        if len(_GRIDS) > 16:
            _GRIDS.clear()
        ys, xs = torch.meshgrid(
            torch.arange(h, device=like.device, dtype=like.dtype),
            torch.arange(w, device=like.device, dtype=like.dtype),
            indexing="ij",
        )
        grid = _GRIDS[key] = torch.stack([xs, ys])[None]
    return grid


def backward_warp(img: Tensor, flow: Tensor) -> Tensor:
    """Sample `img` (B, C, H, W) at p + flow(p); bilinear, borders replicated."""
    _, _, h, w = img.shape
    pos = pixel_grid(h, w, flow) + flow
    gx = pos[:, 0] * (2.0 / max(w - 1, 1)) - 1.0
    gy = pos[:, 1] * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)  # (B, H, W, 2)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


def inside(flow: Tensor) -> Tensor:
    """(B, 1, H, W): 1 where p + flow(p) lands inside the frame, 0.05 where it leaves it."""
    _, _, h, w = flow.shape
    pos = pixel_grid(h, w, flow) + flow
    ok = (
        (pos[:, :1] >= -0.5)
        & (pos[:, :1] <= w - 0.5)
        & (pos[:, 1:] >= -0.5)
        & (pos[:, 1:] <= h - 0.5)
    )
    return torch.where(ok, 1.0, 0.05).to(flow.dtype)


def fb_error(fwd: Tensor, bwd: Tensor, sigma: float = 1.0) -> Tensor:
    """Forward-backward inconsistency (B, 1, H, W), relative to motion size: large where a
    pixel of the source frame is not seen in the other one (occluded)."""
    back = backward_warp(bwd, fwd)
    d = fwd + back
    mag = _length(fwd) + _length(back)
    return _length(d) / (sigma + 0.05 * mag)


def _length(v: Tensor) -> Tensor:
    """|v| of a (B, 2, H, W) vector field as (B, 1, H, W); hypot is ~10x faster than
    `norm(dim=1)` on the CPU."""
    return torch.hypot(v[:, :1], v[:, 1:2])


def slot_flows(f01: Tensor, f10: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """Flows from time t back to frame 0 and to frame 1 (Jiang et al., Super SloMo, eq. 4):
    exact for linear motion."""
    ft0 = -(1 - t) * t * f01 + t * t * f10
    ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
    return ft0, ft1


def acceleration(f_next: Tensor, f_prev: Tensor, spacing: Tensor) -> Tensor:
    """Per-pixel acceleration (pixels per gap^2) of a known frame's content, from its flow to
    the frame across the gap (one gap away) and to the context frame on its other side
    (`spacing` gaps away, (B,) or a float): the parabola through the three positions (Xu et
    al., Quadratic Video Interpolation). Zero for linear motion; zero where spacing <= 0
    (unknown spacing)."""
    sp = torch.as_tensor(spacing, dtype=f_next.dtype, device=f_next.device).reshape(-1, 1, 1, 1)
    known = sp > 0
    sp = torch.where(known, sp, torch.ones_like(sp))
    return torch.where(known, 2 * (f_prev + sp * f_next) / (sp * sp + sp), 0.0)


def accel_shift(acc0: Tensor, acc1: Tensor, t: float) -> Tensor:
    """How far the sample positions of `slot_flows` move at time t when the motion on each side
    is quadratic with accelerations `acc0` (at A) and `acc1` (at B, time reversed) instead of
    linear; the same shift applies to the flow t->A and to t->B:
    t (1 - t) / 2 * ((1 - t) acc0 + t acc1)."""
    return (0.5 * t * (1 - t)) * ((1 - t) * acc0 + t * acc1)


def blend_weight(
    ft0: Tensor, ft1: Tensor, e0: Tensor, e1: Tensor, t: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Weight of frame 0 at time t (B, 1, H, W): time-linear, lowered where frame 0's pixel is
    occluded (forward-backward check fails) or its source is off the frame; likewise frame 1.

    Returns the weight and the two visibilities it came from.
    """
    v0 = torch.exp(-backward_warp(e0, ft0)) * inside(ft0)
    v1 = torch.exp(-backward_warp(e1, ft1)) * inside(ft1)
    w0 = (1 - t) * (v0 + 1e-6)
    w1 = t * (v1 + 1e-6)
    return w0 / (w0 + w1), v0, v1


def upscale_flow(flow: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize a flow field to (H, W) and scale its vectors to the new pixel size (bilinear,
    half-pixel centres, like `cv2.resize(INTER_LINEAR)`)."""
    h, w = flow.shape[-2:]
    if (h, w) == tuple(size):
        return flow
    up = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    scale = torch.tensor([size[1] / w, size[0] / h], device=flow.device, dtype=flow.dtype)
    return up * scale.view(1, 2, 1, 1)


def splat_priority(back: Tensor, sharpness: float = 2.0) -> Tensor:
    """(B, 1, H, W): how strongly each pixel wins where pixels land on one spot in
    `project_flow`: exp(sharpness * |motion - the frame's median motion|), capped."""
    med = back.flatten(2).median(dim=2).values[..., None, None]  # (B, 2, 1, 1)
    return torch.exp(torch.clamp(sharpness * _length(back - med), max=10.0))


def project_flow(
    back: Tensor, n: float | Tensor, sharpness: float = 2.0, priority: Tensor | None = None
) -> Tensor:
    """Flow from step n of constant-velocity motion back to the frame it starts from.

    `back` (B, 2, H, W) is the flow from a frame to the one before it, so the frame's pixel at
    p moves by `-back(p)` per step and lands at p - n back(p) after n steps. Reading the
    velocity in place (`n * back` at every target pixel) puts a moving object's motion where
    the object *was*; this forward-projects it instead: each pixel splats the flow back to
    itself, `n * back(p)`, to its landing spot (bilinear weights), as flow extrapolation
    splats colours. Where two pixels land on one spot, the one whose motion stands out most
    from the frame's median motion wins (a soft z-buffer, `sharpness` per pixel of
    difference); spots nothing reaches (uncovered background) take the flow of their
    surroundings (push-pull over a pyramid). With n = 0 or uniform motion it is `n * back`.
    `n` is a number or one per sequence, (B,); `priority` may be given precomputed
    (`splat_priority`, the same for every n).
    """
    b, _, h, w = back.shape
    hw = h * w
    step = torch.as_tensor(n, dtype=back.dtype, device=back.device).reshape(-1, 1, 1, 1) * back
    pos = pixel_grid(h, w, back) - step  # (B, 2, H, W) landing spots
    if priority is None:
        priority = splat_priority(back, sharpness)  # (B, 1, H, W)
    x0, y0 = pos[:, :1].floor(), pos[:, 1:].floor()
    fx, fy = pos[:, :1] - x0, pos[:, 1:] - y0
    acc = back.new_zeros(b, 4, hw)  # flow x, flow y, priority weight, plain coverage
    for dx, dy, wb in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                       (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):  # fmt: skip
        xi, yi = x0 + dx, y0 + dy
        ok = ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)).to(back.dtype)
        wb = wb * ok
        wk = wb * priority
        idx = (yi * w + xi).clamp(0, hw - 1).long().flatten(1)  # (B, HW); weight 0 off-frame
        src = torch.cat([step * wk, wk, wb], 1).flatten(2)  # (B, 4, HW)
        acc.scatter_add_(2, idx[:, None].expand(-1, 4, -1), src)
    acc = acc.view(b, 4, h, w)
    flow = acc[:, :2] / acc[:, 2:3].clamp_min(1e-12)
    known = (acc[:, 3:4] >= 0.05).to(back.dtype)  # (B, 1, H, W): some pixel landed here
    return _push_pull(flow, known)


def _push_pull(x: Tensor, known: Tensor) -> Tensor:
    """Fill the entries of `x` (B, C, H, W) where `known` is 0 with the mean of the known
    ones around them, at the finest scale of a 2x pyramid that has any."""
    if bool(known.all()) or min(x.shape[-2:]) < 2:
        return x
    h, w = x.shape[-2:]
    num = F.avg_pool2d(x * known, 2, ceil_mode=True)
    den = F.avg_pool2d(known, 2, ceil_mode=True)
    coarse_known = (den > 0).to(x.dtype)
    coarse = _push_pull(num / den.clamp_min(1e-12), coarse_known)
    up = F.interpolate(coarse, size=(h, w), mode="nearest")
    return x * known + up * (1 - known)
