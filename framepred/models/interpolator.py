"""The motion model for natural video: a ConvLSTM encoder-forecaster with a motion head.

Filling the slots between known frames A (time 0) and B (time 1):

    context frames P, A  --ConvLSTM forward-->  \\
                                                 fuse -> initial state of the forecaster
    context frames N, B  --ConvLSTM backward--> /
    for each missing slot t (in order):
        slot input (A, B, both warped to t by the classical flow, the flows, visibilities, t)
          -> strided encoder -> forecaster ConvLSTM step -> decoder with skips -> motion head
        motion head: flow corrections for t->A and t->B, a blend-mask correction, a residual

The recurrent part and the head run at a working resolution (longer side `max_side`); the
flows, mask and residual are then scaled up and applied to the full-resolution A and B, so
cost barely grows with the video's size and the output stays sharp. The head's last layer
starts at zero, so an untrained model reproduces the classical `flow` method exactly; training
only has to learn corrections. The two input flows are DIS optical flow (OpenCV), computed by
the caller at the working resolution (`framepred.interp_data.dis_flows`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from typing import Any, NamedTuple, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framepred.models.cells import ConvLSTM, ConvLSTMCell, State, set_fast_paths
from framepred.models.warp import (
    accel_shift,
    acceleration,
    backward_warp,
    blend_weight,
    fb_error,
    slot_flows,
    upscale_flow,
)

SLOT_CHS = 20  # channels of one slot's input, see `MotionInterpolator._slot_input`
ACCEL_CHS = 8  # more of them with `accel`: the quadratic shift and A, B warped by it
SPACING_CHS = 2  # and with `spacing_input`: where P and N lie (constant maps)

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def speed_up(net: ModuleT) -> ModuleT:
    """Switch a motion model (in place) to its faster layout for training and inference:
    channels-last weights, so oneDNN runs the convolutions in NHWC (~1.15-1.2x on the CPU
    here: benchmarks/motion_train_speed.py, benchmarks/fill_profile.py), and no convolution
    of the all-zero initial state of the context ConvLSTMs. Same results up to float rounding
    (tests/test_fast_paths.py). Returns `net`."""
    set_fast_paths(net, skip_zero_state=True)
    return net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # not in the stubs


def pad_to_stride(x: Tensor, stride: int) -> Tensor:
    """`x` (..., H, W) padded at the bottom and right, edges repeated, to multiples of `stride`
    (the working-resolution networks' input; callers crop back)."""
    ph, pw = (-x.shape[-2]) % stride, (-x.shape[-1]) % stride
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


class MotionConfigIO:
    """`to_dict`/`from_dict` shared by the motion models' configs (dataclasses whose `head`
    field names the model and whose `chs` lists 4 channel counts)."""

    HEAD = "motion"

    def to_dict(self) -> dict:
        d = asdict(self)  # type: ignore[call-overload]
        d["chs"] = list(d["chs"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Any:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown {cls.HEAD} config keys: {sorted(unknown)}")
        d = dict(d)
        if "chs" in d:
            d["chs"] = tuple(int(c) for c in d["chs"])
        if d.get("head", cls.HEAD) != cls.HEAD:
            raise ValueError(f"not a {cls.HEAD} model config")
        if len(d.get("chs", (0, 0, 0, 0))) != 4:
            raise ValueError("chs must list 4 channel counts")
        return cls(**d)

    @property
    def stride(self) -> int:
        return 8


@dataclass
class MotionConfig(MotionConfigIO):
    """Everything needed to rebuild a `MotionInterpolator`."""

    head: str = "motion"  # marks the config in checkpoints (pixel models say "pixels")
    chs: tuple[int, ...] = (16, 32, 48, 64)  # channels at working resolution /1, /2, /4, /8
    kernel_size: int = 3  # ConvLSTM gate kernel
    max_side: int = 320  # working resolution: longer side of the flow and network input
    context: int = 2  # known frames used on each side of a gap
    flow_scale: float = 8.0  # flows are divided by this on the way into the network
    flow_step: float = 1.0  # a unit of the head's flow correction, in working-resolution pixels
    residual_scale: float = 0.2  # bound of the residual's typical size, in [0, 1] intensity
    accel: bool = False  # also read the flows to the outer context frames (quadratic motion)
    # With accel: also read where P and N lie, so the gate can tell a noisy acceleration (P
    # close to A: flow errors amplified several times) from a well-measured one.
    spacing_input: bool = False
    extra: dict = field(default_factory=dict)


class Accel(NamedTuple):
    """What quadratic motion needs besides the flows across the gap: DIS flow between A and
    the context frame before it (P) and between B and the one after it (N), both ways, at
    working resolution, and how far P and N lie from A and B in units of the gap A->B, (B,)
    each; a spacing of 0 means unknown (the model then falls back to linear motion)."""

    fap: Tensor
    fpa: Tensor
    fbn: Tensor
    fnb: Tensor
    sp: Tensor
    sn: Tensor


class Slot(NamedTuple):
    """One synthesized slot at working resolution: flows t->A and t->B (pixels), the logit of
    A's blend weight, and an additive residual (B, 3, h, w)."""

    ft0: Tensor
    ft1: Tensor
    logit: Tensor
    residual: Tensor
    base_alpha: Tensor  # the classical method's weight of A, (B, 1, h, w)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1))


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    if x.shape[-2:] == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def step_encoder(cin: int, chs: tuple[int, ...]) -> nn.ModuleList:
    """The per-step encoder of a motion model: full, /2, /4 and /8 resolution stages."""
    c0, c1, c2, c3 = chs
    return nn.ModuleList(
        [
            nn.Sequential(_conv(cin, c0), _conv(c0, c0)),
            nn.Sequential(_conv(c0, c1, 2), _conv(c1, c1)),
            nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2)),
            _conv(c2, c3, 2),
        ]
    )


def step_decoder(chs: tuple[int, ...]) -> nn.ModuleList:
    """The decoder that mirrors `step_encoder`, each stage fed the encoder's skip."""
    c0, c1, c2, c3 = chs
    return nn.ModuleList([_conv(c3 + c2, c2), _conv(c2 + c1, c1), _conv(c1 + c0, c0)])


def unet_step(
    encoder: nn.ModuleList,
    forecaster: ConvLSTMCell,
    decoder: nn.ModuleList,
    head: nn.Module,
    x: Tensor,
    state: State,
) -> tuple[Tensor, State]:
    """One recurrent step of a motion model: the encoder stages (skips kept), the forecaster
    ConvLSTM cell at the coarsest level, the decoder stages with the skips, then the head.
    Returns the head's output (at the padded size) and the new state."""
    skips = []
    y = x
    for stage in encoder:
        y = stage(y)
        skips.append(y)
    state = forecaster(skips[-1], state)
    y = state[0]
    for dec, skip in zip(decoder, reversed(skips[:-1]), strict=True):
        y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        y = dec(torch.cat([y, skip], 1))
    return head(y), state


def _logit(p: Tensor, eps: float = 1e-4) -> Tensor:
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


class MotionInterpolator(nn.Module):
    """Bidirectional ConvLSTM encoder-forecaster with a motion head (see the module doc)."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or MotionConfig()
        c0, c1, c2, c3 = cfg.chs
        if cfg.spacing_input and not cfg.accel:
            raise ValueError("spacing_input needs accel")
        cin = SLOT_CHS + (ACCEL_CHS if cfg.accel else 0) + (SPACING_CHS if cfg.spacing_input else 0)
        self.encoder = step_encoder(cin, cfg.chs)
        self.context_encoder = nn.Sequential(_conv(3, c0, 2), _conv(c0, c1, 2), _conv(c1, c3, 2))
        self.past = ConvLSTM(c3, [c3], cfg.kernel_size)
        self.future = ConvLSTM(c3, [c3], cfg.kernel_size)
        self.fuse = nn.Conv2d(4 * c3, 2 * c3, 1)
        self.forecaster = ConvLSTMCell(c3, c3, cfg.kernel_size)
        self.decoder = step_decoder(cfg.chs)
        self.head = nn.Conv2d(c0, 9 if cfg.accel else 8, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # type: ignore[arg-type]

    # -- the network at working resolution --------------------------------------------------
    def _pad(self, x: Tensor) -> Tensor:
        return pad_to_stride(x, self.config.stride)

    def context_features(self, frames: Tensor) -> Tensor:
        """What the context ConvLSTMs read of each known frame: (N, 3, h, w) -> (N, C, h/8, w/8).
        Per frame, so a caller filling neighbouring gaps can compute it once per frame."""
        return self.context_encoder(self._pad(frames))

    def _initial_state(self, past: Tensor, future: Tensor, feats: Tensor | None) -> State:
        """past: (B, K, 3, h, w) frames up to A (A last); future: frames from B on (B first);
        feats: their `context_features`, (B, 2K, C, h/8, w/8), if the caller has them."""
        b, k = past.shape[:2]
        if feats is None:
            feats = self.context_features(torch.cat([past, future], 1).flatten(0, 1))
            feats = feats.unflatten(0, (b, 2 * k))
        _, (sp,) = self.past(feats[:, :k])
        _, (sf,) = self.future(feats[:, k:].flip(1))  # backward in time: N, then B
        h, c = self.fuse(torch.cat([sp[0], sp[1], sf[0], sf[1]], 1)).chunk(2, 1)
        return torch.tanh(h), c

    def _slot_input(self, a: Tensor, b: Tensor, f01: Tensor, f10: Tensor, e0, e1, t: float,
                    accs: tuple[Tensor, Tensor] | None = None,
                    spacing: tuple[Tensor, Tensor] | None = None):  # fmt: skip
        ft0, ft1 = slot_flows(f01, f10, t)
        alpha, v0, v1 = blend_weight(ft0, ft1, e0, e1, t)
        wa, wb = backward_warp(a, ft0), backward_warp(b, ft1)
        fs = self.config.flow_scale
        parts: list[Tensor | float] = [a, b, wa, wb, ft0 / fs, ft1 / fs, alpha, v0, v1, t]
        shift = None
        if accs is not None:
            shift = accel_shift(accs[0], accs[1], t)
            parts += [shift / fs, backward_warp(a, ft0 + shift), backward_warp(b, ft1 + shift)]
        if spacing is not None:
            parts += [s.view(-1, 1, 1, 1) for s in spacing]
        return self._padded_stack(parts), ft0, ft1, alpha, shift

    def _padded_stack(self, parts: list[Tensor | float]) -> Tensor:
        """`self._pad(torch.cat(parts, 1))` (a float part is a constant channel) in one buffer
        written once, of the dtype the first convolution will read (bf16 under autocast): the
        concatenation, the replicate padding and the cast were three passes over the largest
        tensor of a step (~5 ms of ~65 at 320x180 on one core). Same values."""
        ref = parts[0]
        assert isinstance(ref, Tensor)
        n, (h, w) = ref.shape[0], ref.shape[-2:]
        s = self.config.stride
        ph, pw = h + (-h) % s, w + (-w) % s
        chs = sum(p.shape[1] if isinstance(p, Tensor) else 1 for p in parts)
        dtype = ref.dtype
        if torch.is_autocast_enabled(ref.device.type):
            dtype = torch.get_autocast_dtype(ref.device.type)
        x = ref.new_empty((n, chs, ph, pw), dtype=dtype)
        c = 0
        for p in parts:
            k = p.shape[1] if isinstance(p, Tensor) else 1
            x[:, c : c + k, :h, :w] = p
            c += k
        if ph > h:
            x[:, :, h:, :w] = x[:, :, h - 1 : h, :w]
        if pw > w:
            x[:, :, :, w:] = x[:, :, :, w - 1 : w]
        return x

    def forward(
        self,
        past: Tensor,
        future: Tensor,
        f01: Tensor,
        f10: Tensor,
        times: list[float],
        accel: Accel | None = None,
        *,
        context: Tensor | None = None,
        fb: Callable[[Tensor, Tensor], Tensor] = fb_error,
    ) -> list[Slot]:
        """Synthesize the slots at `times` (fractions in (0, 1)) at working resolution.

        Args:
            past: (B, K, 3, h, w) known frames before the gap in time order, A last.
            future: (B, K, 3, h, w) known frames after the gap in time order, B first.
            f01, f10: (B, 2, h, w) optical flow A->B and B->A in working-resolution pixels.
            times: the slots' positions between A (0) and B (1), increasing.
            accel: flows to the outer context frames, for a model built with `accel` (None:
                spacing unknown, linear motion). A model without `accel` ignores it.
            context: `context_features` of past then future, (B, 2K, C, h/8, w/8), if the
                caller keeps them from a neighbouring gap (else computed here).
            fb: computes `fb_error` of two flows; a caller filling neighbouring gaps can pass
                one that remembers (with every other frame missing, two of a gap's four
                forward-backward checks are its neighbours').
        """
        h, w = f01.shape[-2:]
        a, b = past[:, -1], future[:, 0]
        e0, e1 = fb(f01, f10), fb(f10, f01)
        accs = spacing = None
        if self.config.accel:
            if accel is None:
                accs = (torch.zeros_like(f01), torch.zeros_like(f10))
                spacing = (f01.new_zeros(f01.shape[0]), f01.new_zeros(f01.shape[0]))
            else:
                # Trusted where the flows it comes from pass their forward-backward check:
                # a wrong flow to P or N would otherwise make a large, wrong acceleration.
                trust0 = torch.exp(-torch.maximum(fb(accel.fap, accel.fpa), e0))
                trust1 = torch.exp(-torch.maximum(fb(accel.fbn, accel.fnb), e1))
                accs = (
                    trust0 * acceleration(f01, accel.fap, accel.sp),
                    trust1 * acceleration(f10, accel.fbn, accel.sn),
                )
                spacing = (accel.sp, accel.sn)
            if not self.config.spacing_input:
                spacing = None
        state = self._initial_state(past, future, context)
        fs, rs = self.config.flow_step, self.config.residual_scale
        slots = []
        for t in times:
            x, ft0, ft1, alpha, shift = self._slot_input(
                a, b, f01, f10, e0, e1, float(t), accs, spacing
            )
            out, state = unet_step(self.encoder, self.forecaster, self.decoder, self.head, x, state)
            out = out[..., :h, :w]
            if shift is not None:  # how much of the quadratic shift to take, learned per pixel
                ft0, ft1 = ft0 + out[:, 8:9] * shift, ft1 + out[:, 8:9] * shift
            slots.append(
                Slot(
                    ft0=ft0 + fs * out[:, 0:2],
                    ft1=ft1 + fs * out[:, 2:4],
                    logit=out[:, 4:5],
                    residual=rs * out[:, 5:8],
                    base_alpha=alpha,
                )
            )
        return slots

    # -- full-resolution synthesis ------------------------------------------------------------
    @staticmethod
    def render(a: Tensor, b: Tensor, slot: Slot, clamp: bool = True) -> Tensor:
        """Apply a slot's motion to the full-resolution frames A and B, (B, 3, H, W) in [0, 1].

        With a zero motion head this is the classical `flow` method: both frames warped to t
        and blended by the occlusion-aware weight.
        """
        size = (a.shape[-2], a.shape[-1])
        ft0, ft1 = upscale_flow(slot.ft0, size), upscale_flow(slot.ft1, size)
        up = partial(_resize, size=size)
        # The classical weight, corrected in logit space by the learned term.
        alpha = torch.sigmoid(_logit(up(slot.base_alpha), 1e-6) + up(slot.logit))
        wa, wb = backward_warp(a, ft0), backward_warp(b, ft1)
        out = wb + alpha * (wa - wb) + up(slot.residual)
        return out.clamp(0, 1) if clamp else out


def grow_to_accel(net: MotionInterpolator) -> MotionInterpolator:
    """A copy of a motion model with the quadratic-motion inputs (`accel`, `spacing_input`)
    added to what it lacks: the new input channels and the gate of the quadratic shift start
    at zero, so it fills exactly as `net` does until it is trained."""
    cfg = net.config
    if cfg.accel and cfg.spacing_input:
        return net
    cfg = MotionConfig.from_dict({**cfg.to_dict(), "accel": True, "spacing_input": True})
    grown = MotionInterpolator(cfg)
    state = grown.state_dict()
    for key, value in net.state_dict().items():
        target = state[key]
        if target.shape == value.shape:
            target.copy_(value)
        else:  # first encoder conv (more inputs, appended) or the head (one more output)
            target.zero_()
            target[tuple(slice(0, n) for n in value.shape)].copy_(value)
    grown.load_state_dict(state)
    return grown
