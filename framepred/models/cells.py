"""Convolutional recurrent cells (Shi et al., 2015) and a stack that runs them over time.

A ConvLSTM is an LSTM whose matrix products are convolutions: inputs, hidden and cell states
are feature maps (B, C, H, W), so the state carries *where* things are as well as what they
are. With kernel 1 on a 1x1 map it is exactly `torch.nn.LSTMCell` (tested).
"""

from __future__ import annotations

from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

State = tuple[Tensor, Tensor]  # (h, c), each (B, hidden_chs, H, W)
ModuleT = TypeVar("ModuleT", bound=nn.Module)


class _FusedLSTMGates(torch.autograd.Function):
    """c' = f . c + i . g and h' = o . tanh(c') with a hand-written backward.

    Autograd's version records ~10 pointwise nodes per step and keeps their inputs; this one
    keeps four tensors (the activated gates, c and tanh(c')) and writes dz into one buffer.
    Same values as the plain path up to float rounding (tested).
    """

    @staticmethod
    def forward(ctx: FunctionCtx, z: Tensor, c: Tensor, offset: Tensor) -> tuple[Tensor, Tensor]:
        hid = c.shape[1]
        ifo = torch.sigmoid(z[:, : 3 * hid] + offset)  # (B, 3*hid, H, W)
        g = torch.tanh(z[:, 3 * hid :])
        i, f, o = ifo.chunk(3, dim=1)
        c_new = torch.addcmul(f * c, i, g)
        tc = torch.tanh(c_new)
        ctx.save_for_backward(ifo, g, c, tc)
        return o * tc, c_new

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dh: Tensor | None, dc_new: Tensor | None) -> tuple:  # type: ignore[override]
        ifo, g, c, tc = ctx.saved_tensors
        i, f, o = ifo.chunk(3, dim=1)
        hid = c.shape[1]
        dz = torch.empty(c.shape[0], 4 * hid, *c.shape[2:], dtype=c.dtype, device=c.device)
        dz_i, dz_f, dz_o, dz_g = dz.chunk(4, dim=1)
        dc = torch.zeros_like(c) if dc_new is None else dc_new.clone()
        if dh is not None:
            torch.mul(dh, tc, out=dz_o)  # d o
            dc.addcmul_(dh * o, 1 - tc * tc)
        else:
            dz_o.zero_()
        d_ifo = dz[:, : 3 * hid]
        torch.mul(dc, g, out=dz_i)  # d i
        torch.mul(dc, c, out=dz_f)  # d f
        d_ifo.mul_(ifo * (1 - ifo))  # through the sigmoid
        torch.mul(dc, i, out=dz_g)
        dz_g.mul_(1 - g * g)  # through the tanh
        dc_prev = dc * f if ctx.needs_input_grad[1] else None
        return dz, dc_prev, None


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step with the four gates computed by a single fused convolution.

    i, f, o = sigmoid(W * [x, h] (+ w_c . c)),   g = tanh(W * [x, h])
    c' = f . c + i . g,   h' = o . tanh(c')

    Args:
        in_chs: channels of the input x_t.
        hidden_chs: channels of h and c.
        kernel_size: odd kernel of the gate convolution ("same" padding).
        peephole: add Shi et al.'s peephole terms w_ci . c, w_cf . c, w_co . c' (per-pixel
            weights, learned, shaped (hidden_chs, 1, 1) so any H x W works).
        norm_groups: if > 0, GroupNorm over the 4*hidden gate pre-activations (stabilises
            deep stacks); 0 disables it.
        forget_bias: added to the forget gate so early training remembers by default.

    Speed options (attributes, off by default; `set_fast_paths` sets them on a whole model;
    each gives the plain path's values up to float rounding, see tests/test_fast_paths.py):
        fused_gates: the gate nonlinearities as one autograd node (`_FusedLSTMGates`);
            only without peepholes or GroupNorm.
        skip_zero_state: with no incoming state, h = 0, so the first step convolves x alone
            (the plain path convolves [x, 0]).
    """

    fused_gates = False
    skip_zero_state = False

    def __init__(
        self,
        in_chs: int,
        hidden_chs: int,
        kernel_size: int = 3,
        peephole: bool = False,
        norm_groups: int = 0,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd")
        self.in_chs, self.hidden_chs = in_chs, hidden_chs
        self.forget_bias = forget_bias
        self.gates = nn.Conv2d(
            in_chs + hidden_chs, 4 * hidden_chs, kernel_size, padding=kernel_size // 2
        )
        self.norm = nn.GroupNorm(norm_groups, 4 * hidden_chs) if norm_groups > 0 else nn.Identity()
        if peephole:
            self.w_ci = nn.Parameter(torch.zeros(hidden_chs, 1, 1))
            self.w_cf = nn.Parameter(torch.zeros(hidden_chs, 1, 1))
            self.w_co = nn.Parameter(torch.zeros(hidden_chs, 1, 1))
        self.peephole = peephole
        # Added to the (i, f, o) pre-activations: the forget bias, as a non-persistent
        # buffer so checkpoints hold only learned weights.
        offset = torch.zeros(3 * hidden_chs, 1, 1)
        offset[hidden_chs : 2 * hidden_chs] = forget_bias
        self.register_buffer("gate_offset", offset, persistent=False)

    def init_state(self, x: Tensor) -> State:
        b, _, h, w = x.shape
        zeros = x.new_zeros(b, self.hidden_chs, h, w)
        return zeros, zeros

    def forward(
        self,
        x: Tensor,
        state: State | None = None,
        x_gates: Tensor | None = None,
        w_h: Tensor | None = None,
    ) -> State:
        """One step.

        `x_gates` (W_x * x + b, precomputed for all steps at once by `input_gates`) and `w_h`
        (the hidden half of the fused weight, made contiguous once per sequence by
        `split_weights`) let `ConvLSTM` hoist work out of the time loop; the result is the
        same as the plain fused convolution over [x, h].
        """
        zero = state is None and self.skip_zero_state
        h, c = state if state is not None else self.init_state(x)
        if zero:  # W_h * 0 = 0: only the input half of the convolution is needed
            z = x_gates if x_gates is not None else self.input_gates(x)
        elif x_gates is None:
            z = self.gates(torch.cat([x, h], dim=1))  # (B, 4*hid, H, W)
        else:
            if w_h is None:
                w_h = self.split_weights()[1]
            z = x_gates + F.conv2d(h, w_h, padding=self.gates.padding)
        z = self.norm(z)
        hid = self.hidden_chs
        if self.fused_gates and not self.peephole and isinstance(self.norm, nn.Identity):
            h, c = _FusedLSTMGates.apply(z, c, self.gate_offset)
            return h, c
        if self.peephole:
            i, f, o, g = z.chunk(4, dim=1)
            i = torch.sigmoid(i + self.w_ci * c)
            f = torch.sigmoid(f + self.w_cf * c + self.forget_bias)
            c = f * c + i * torch.tanh(g)
            o = torch.sigmoid(o + self.w_co * c)
        else:
            # One sigmoid over the three gates at once (fewer, larger kernels).
            ifo = torch.sigmoid(z[:, : 3 * hid] + self.gate_offset)
            i, f, o = ifo.chunk(3, dim=1)
            c = torch.addcmul(f * c, i, torch.tanh(z[:, 3 * hid :]))
        h = o * torch.tanh(c)
        return h, c

    def split_weights(self) -> tuple[Tensor, Tensor]:
        """The fused weight's input and hidden halves, each contiguous (a strided slice makes
        the convolution re-pack its weight on every call: measured 2x slower)."""
        w = self.gates.weight
        return w[:, : self.in_chs].contiguous(), w[:, self.in_chs :].contiguous()

    def input_gates(self, x: Tensor, w_x: Tensor | None = None) -> Tensor:
        """W_x * x + b for a batch of inputs (any leading size), used to hoist the input
        convolution out of the time loop: one big convolution instead of T small ones."""
        if w_x is None:
            w_x = self.split_weights()[0]
        return F.conv2d(x, w_x, self.gates.bias, padding=self.gates.padding)


class ConvRNNCell(nn.Module):
    """The plain convolutional RNN, h' = tanh(W_hx * x + W_hh * h + b), kept for comparison.

    It has no gates, so gradients through long sequences vanish or explode; the ConvLSTM's
    additive cell path is what fixes that.
    """

    def __init__(self, in_chs: int, hidden_chs: int, kernel_size: int = 3, **_: object) -> None:
        super().__init__()
        self.in_chs, self.hidden_chs = in_chs, hidden_chs
        self.conv = nn.Conv2d(
            in_chs + hidden_chs, hidden_chs, kernel_size, padding=kernel_size // 2
        )

    def init_state(self, x: Tensor) -> State:
        b, _, h, w = x.shape
        zeros = x.new_zeros(b, self.hidden_chs, h, w)
        return zeros, zeros

    def forward(
        self,
        x: Tensor,
        state: State | None = None,
        x_gates: Tensor | None = None,
        w_h: Tensor | None = None,
    ) -> State:
        h, _ = state if state is not None else self.init_state(x)
        if x_gates is None:
            z = self.conv(torch.cat([x, h], dim=1))
        else:
            if w_h is None:
                w_h = self.split_weights()[1]
            z = x_gates + F.conv2d(h, w_h, padding=self.conv.padding)
        h = torch.tanh(z)
        return h, h  # the second slot keeps the (h, c) interface uniform

    def split_weights(self) -> tuple[Tensor, Tensor]:
        w = self.conv.weight
        return w[:, : self.in_chs].contiguous(), w[:, self.in_chs :].contiguous()

    def input_gates(self, x: Tensor, w_x: Tensor | None = None) -> Tensor:
        if w_x is None:
            w_x = self.split_weights()[0]
        return F.conv2d(x, w_x, self.conv.bias, padding=self.conv.padding)


CELLS: dict[str, type[nn.Module]] = {"convlstm": ConvLSTMCell, "convrnn": ConvRNNCell}


class ConvLSTM(nn.Module):
    """A stack of recurrent cells run over a sequence (B, T, C, H, W).

    Layer l's hidden sequence is layer l+1's input. States go in and come out, so a sequence
    can be continued, or handed from an encoder to a forecaster.

    Args:
        in_chs: channels of the input frames/features.
        hidden_chs: hidden channels per layer, e.g. (64, 64).
        kernel_size: gate-convolution kernel.
        cell: "convlstm" or "convrnn".
        peephole, norm_groups: passed to `ConvLSTMCell`.

    `hoist_input` (attribute, default True): compute the input-to-hidden convolution for
    all T steps at once, then only W_h * h per step. False runs the fused [x, h]
    convolution at every step instead, which is faster where the input has few channels
    (benchmarks/train_speed.py measures both).
    """

    hoist_input = True

    def __init__(
        self,
        in_chs: int,
        hidden_chs: tuple[int, ...] | list[int],
        kernel_size: int = 3,
        cell: str = "convlstm",
        peephole: bool = False,
        norm_groups: int = 0,
    ) -> None:
        super().__init__()
        cell_cls = CELLS[cell]
        chs = [in_chs, *hidden_chs]
        kwargs = {"peephole": peephole, "norm_groups": norm_groups} if cell == "convlstm" else {}
        self.cells = nn.ModuleList(
            cell_cls(chs[i], chs[i + 1], kernel_size, **kwargs) for i in range(len(hidden_chs))
        )

    def forward(self, x: Tensor, states: list[State] | None = None) -> tuple[Tensor, list[State]]:
        """Run all layers over all steps.

        Returns the last layer's hidden sequence (B, T, hidden_chs[-1], H, W) and the final
        (h, c) of every layer.
        """
        b, t = x.shape[:2]
        states = list(states) if states is not None else [None] * len(self.cells)  # type: ignore[list-item]
        seq = x
        for li, cell in enumerate(self.cells):
            assert isinstance(cell, ConvLSTMCell | ConvRNNCell)  # ModuleList items are untyped
            if t == 1:  # a single step (the forecaster's loop): one fused convolution over [x, h]
                states[li] = cell(seq[:, 0], states[li])
                seq = states[li][0].unsqueeze(1)
                continue
            if not self.hoist_input:  # the fused [x, h] convolution at every step
                state = states[li]
                outs = []
                for x_t in seq.unbind(1):
                    state = cell(x_t, state)
                    outs.append(state[0])
                states[li] = state
                seq = torch.stack(outs, dim=1)
                continue
            # The input-to-hidden convolution does not depend on h: do it for all T at once.
            w_x, w_h = cell.split_weights()
            xg = cell.input_gates(seq.flatten(0, 1), w_x).unflatten(
                0, (b, t)
            )  # (B, T, 4*hid, H, W)
            # unbind, not xg[:, ti]: indexing's backward writes a full-size zero tensor per
            # step (quadratic in T); unbind's backward stacks the gradients once.
            state = states[li]
            outs = []
            for x_t, xg_t in zip(seq.unbind(1), xg.unbind(1), strict=True):
                state = cell(x_t, state, x_gates=xg_t, w_h=w_h)
                outs.append(state[0])
            states[li] = state
            seq = torch.stack(outs, dim=1)
        return seq, states


def set_fast_paths(
    model: ModuleT,
    *,
    hoist_input: bool | None = None,
    fused_gates: bool | None = None,
    skip_zero_state: bool | None = None,
) -> ModuleT:
    """Set the speed options of every `ConvLSTM` / `ConvLSTMCell` inside `model`.

    None leaves an option as it is. Returns `model`. The options change speed, not results
    (beyond float rounding).
    """
    for m in model.modules():
        if isinstance(m, ConvLSTM) and hoist_input is not None:
            m.hoist_input = hoist_input
        if isinstance(m, ConvLSTMCell):
            if fused_gates is not None:
                m.fused_gates = fused_gates
            if skip_zero_state is not None:
                m.skip_zero_state = skip_zero_state
    return model
