"""Filling gaps with the learned motion model (`MotionInterpolator`) behind the synthesizer
interface that `fill` and `eval` use.

Per gap: the known frames on each side are scaled to the working resolution, DIS optical flow
(OpenCV, as in the classical `flow` method) is computed between the two frames around the
gap, the network corrects flows, blend weights and colour at that resolution, and the motion
is applied to the full-resolution frames. A gap with frames on one side only (the start or the
end of a video) repeats the nearest frame, as the classical methods do.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from framepred.flow import dis_calc, grey_small, new_dis, pixel_grid2, resize_u8, warp, working_size
from framepred.models.interpolator import Accel, MotionInterpolator, Slot, speed_up
from framepred.models.warp import fb_error
from framepred.precision import autocast, resolve_precision
from framepred.synth.base import Spacing, Synthesizer, check_sides
from framepred.synth.cache import Recent
from framepred.synth.classical import Blend, Flow, Repeat


def to_tensor(frames: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """(K, H, W, 3) uint8 -> (1, K, 3, H, W) float in [0, 1] on `device`."""
    x = torch.from_numpy(np.ascontiguousarray(np.stack(frames))).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)[None]


def flow_tensor(flow: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(flow)).to(device).permute(2, 0, 1)[None]


def _side(frames: Sequence[np.ndarray], k: int, before: bool) -> list[np.ndarray]:
    """The k frames nearest the gap on one side, padded by repeating the outermost one."""
    got = list(frames[-k:]) if before else list(frames[:k])
    while len(got) < k:
        got = [got[0], *got] if before else [*got, got[-1]]
    return got


def _hwc(x: torch.Tensor) -> np.ndarray:
    """The first item of a (B, C, h, w) CPU tensor as an (h, w, C) float32 array."""
    return np.ascontiguousarray(x[0].permute(1, 2, 0).float().numpy())


def render_u8(a: np.ndarray, b: np.ndarray, slots: Sequence[Slot]) -> list[np.ndarray]:
    """`MotionInterpolator.render` of each slot of one gap, then conversion to uint8, done with
    OpenCV on the CPU.

    The same maths as the torch path (bilinear upscaling with half-pixel centres, bilinear
    warps with replicated borders, the logit-corrected blend, the residual), but `cv2.resize`
    and `cv2.remap` take about half the time of `F.interpolate` and `F.grid_sample` on the CPU
    at full resolution (benchmarks/fill_profile.py). Differences come only from OpenCV's
    1/32-pixel sampling positions (tested against the torch path).

    Args:
        a, b: the full-resolution frames around the gap, (H, W, 3) uint8.
        slots: the network's slots for the gap (CPU tensors, batch of one).
    """
    h, w = a.shape[:2]
    frames = a.astype(np.float32), b.astype(np.float32)  # once per gap, not per slot
    grid = pixel_grid2(h, w)
    return [_render_slot(frames, grid, slot) for slot in slots]


def _render_slot(frames: tuple[np.ndarray, np.ndarray], grid: np.ndarray, slot: Slot) -> np.ndarray:
    h, w = grid.shape[:2]
    lh, lw = slot.ft0.shape[-2:]
    scale = np.array([w / lw, h / lh], np.float32)

    def up(x: np.ndarray) -> np.ndarray:
        """(lh, lw, C) -> (h, w, C), or (h, w) for one channel; a new array either way."""
        if (lh, lw) == (h, w):
            return x.copy() if x.shape[2] > 1 else x[..., 0].copy()
        return cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)

    # The same operations in the same order as `MotionInterpolator.render`, in place on
    # contiguous arrays: each temporary of a full-resolution frame costs about a millisecond.
    base = np.clip(up(_hwc(slot.base_alpha)), 1e-6, 1 - 1e-6)
    alpha = np.log1p(-base)  # alpha = 1 / (1 + exp(log(1 - base) - log(base) - logit))
    alpha -= np.log(base)
    alpha -= up(_hwc(slot.logit))
    np.exp(alpha, out=alpha)
    alpha += 1.0
    np.reciprocal(alpha, out=alpha)
    wa, wb = (warp(frame, grid, up(_hwc(flow) * scale)) for frame, flow in zip(frames, (slot.ft0, slot.ft1), strict=True))  # fmt: skip
    wa -= wb  # out = wb + alpha * (wa - wb) + residual
    wa *= alpha[..., None]
    wa += wb
    wa += up(_hwc(slot.residual) * 255.0)
    wa += 0.5
    np.clip(wa, 0, 255, out=wa)
    return wa.astype(np.uint8)


class MotionSynthesizer(Synthesizer):
    """The learned motion model as a synthesizer (`--method model`).

    Args:
        net: a trained `MotionInterpolator`.
        device: where the network and the full-resolution warps run.
        precision: "32", "bf16" (autocast of the network; the warps stay fp32) or "auto"
            (bf16 where this device runs it natively; see `framepred.precision`).
    """

    name = "model"

    def __init__(
        self, net: MotionInterpolator, device: torch.device | str = "cpu", precision: str = "32"
    ) -> None:
        self.device = torch.device(device)
        self.autocast = resolve_precision(precision, self.device)
        self.net = speed_up(net.to(self.device)).eval()
        self.context = net.config.context
        self.wants_spacing = net.config.accel
        self.dis = new_dis()
        self._new_caches()

    def _new_caches(self) -> None:
        # Neighbouring gaps share frames: with every other frame missing, a gap's flows to its
        # outer context frames are the neighbouring gaps' flows across (so quadratic motion
        # costs no extra flow), half its forward-backward checks are theirs, and each known
        # frame's working-size copy and context features serve two gaps. All kept for the
        # last few frames or pairs.
        self._greys, self._smalls, self._flows, self._errors, self._feats = (
            Recent() for _ in range(5)
        )

    @property
    def working_side(self) -> int:  # type: ignore[override]
        return self.net.config.max_side

    def fork(self) -> MotionSynthesizer:
        """The same network (shared, not copied) with caches of its own."""
        twin = copy.copy(self)
        twin._new_caches()
        return twin

    def _small(self, f: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """A known frame at the working size, (3, h, w) float on the device."""
        return self._smalls.get(
            (f,), size, lambda: to_tensor([resize_u8(f, size)], self.device)[0, 0]
        )

    def _flow(self, x: np.ndarray, y: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """DIS flow x -> y at the working size, as a (1, 2, h, w) tensor on the device."""

        def grey(f: np.ndarray) -> np.ndarray:
            return self._greys.get((f,), size, lambda: grey_small(f, size))

        def make() -> torch.Tensor:
            return flow_tensor(dis_calc(self.dis, grey(x), grey(y)), self.device)

        return self._flows.get((x, y), size, make)

    def _fb_error(self, fwd: torch.Tensor, bwd: torch.Tensor) -> torch.Tensor:
        return self._errors.get((fwd, bwd), None, lambda: fb_error(fwd, bwd))

    def _context(self, frames: list[np.ndarray], size: tuple[int, int]) -> torch.Tensor:
        """The network's `context_features` of each frame (at the working size), (1, K, ...);
        kept per network, so a synthesizer whose `net` is replaced (`--adapt`) recomputes."""
        net = self.net

        def make(f: np.ndarray) -> torch.Tensor:
            return net.context_features(self._small(f, size)[None])[0]

        return torch.stack(
            [self._feats.get((f,), (size, net), functools.partial(make, f)) for f in frames]
        )[None]

    @torch.inference_mode()
    def synthesize(self, before, after, times, spacing: Spacing | None = None):
        """`spacing`: where the outer context frames lie (`baselines.context_spacing`); a model
        with `accel` uses it for quadratic motion, and falls back to linear motion without."""
        check_sides(before, after)
        if not before or not after:
            return Repeat().synthesize(before, after, times)
        if min(before[-1].shape[:2]) < Flow.min_side:
            return Blend().synthesize(before, after, times)
        k = self.context
        past, future = _side(before, k, True), _side(after, k, False)
        h, w = past[-1].shape[:2]
        size = working_size(h, w, self.net.config.max_side)
        fa, fb = past[-1], future[0]
        f01, f10 = self._flow(fa, fb, size), self._flow(fb, fa, size)
        dev = self.device
        accel = None
        if self.wants_spacing and spacing is not None and len(before) > 1 and len(after) > 1:
            sp, sn = (float(x) for x in spacing)
            p, n = past[-2], future[1]
            fap, fpa = self._flow(fa, p, size), self._flow(p, fa, size)
            fbn, fnb = self._flow(fb, n, size), self._flow(n, fb, size)
            accel = Accel(fap, fpa, fbn, fnb, torch.tensor([sp], device=dev),
                          torch.tensor([sn], device=dev))  # fmt: skip
        with autocast(self.autocast, dev):
            slots = self.net(
                torch.stack([self._small(f, size) for f in past])[None],
                torch.stack([self._small(f, size) for f in future])[None],
                f01,
                f10,
                [float(t) for t in times],
                accel,
                context=self._context([*past, *future], size),
                fb=self._fb_error,
            )
        slots = [Slot(*(t.float() for t in slot)) for slot in slots]
        if dev.type == "cpu":
            return render_u8(past[-1], future[0], slots)
        a, b = to_tensor([past[-1]], dev)[:, 0], to_tensor([future[0]], dev)[:, 0]
        out = []
        for slot in slots:
            y = self.net.render(a, b, slot)[0]
            out.append(y.mul(255.0).add_(0.5).clamp_(0, 255).byte().permute(1, 2, 0).cpu().numpy())
        return out
