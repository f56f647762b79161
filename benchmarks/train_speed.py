"""Training-step speed of the framepred ConvLSTM stack against the plain reference ConvLSTM.

Both run the same stacked ConvLSTM (same channels, layers, kernel, batch, frame size, same
initial weights) on Moving MNIST folded 4x4 by space-to-depth, with a 1x1 head predicting
the next frame: forward over T steps, MSE, backward, AdamW. The *reference* calls each
`ConvLSTMCell` step by step with one fused gate convolution over [x, h] (fp32);
*framepred* is `framepred.models.cells.ConvLSTM` with its speed options. All variants run
with `--threads` (default 1: on a shared 2-core machine a second thread mostly measures the
neighbours); the thread lever runs both at torch's default thread count too. Every
variant is timed in interleaved rounds (so load from other processes hits all alike);
medians of wall time and of this process's CPU time (which a busy neighbour on a shared
machine does not inflate; for one thread it is the work done) and the ratios against the
reference are printed, then:

* accuracy: the loss after a fixed number of AdamW steps from the same start, same batches,
  for the reference and the framepred variants;
* levers, each measured: hoisting the input convolution out of the time loop, the fused gate
  nonlinearities, skipping the convolution of the all-zero first state, channels-last,
  torch.compile, bf16 autocast (timed in full where the CPU has native bf16, e.g. AVX-512
  BF16; elsewhere on 2-step sequences only, as emulated bf16 is 50-100x slower), threads;
* achieved GFLOP/s of the recurrent convolutions (FLOPs counted by torch's FlopCounterMode,
  time by the profiler) against this machine's measured matmul peak, fp32 and bf16.

    python -m benchmarks.train_speed [--batch 8] [--frames 10] [--hidden 64,64] [--no-compile]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks.timing import conv_gflop, matmul_peak
from framepred.data.mmnist import load_digits, moving_mnist_sequence
from framepred.models.cells import ConvLSTM, ConvLSTMCell, set_fast_paths

FAST = {"hoist_input": False, "fused_gates": True, "skip_zero_state": True}


class Stack(nn.Module):
    """A ConvLSTM stack plus a 1x1 head; `plain=True` runs the reference loop."""

    def __init__(self, in_chs: int, hidden: list[int], kernel: int, plain: bool) -> None:
        super().__init__()
        self.rnn = ConvLSTM(in_chs, hidden, kernel)
        self.head = nn.Conv2d(hidden[-1], in_chs, 1)
        self.plain = plain

    def forward(self, x: Tensor) -> Tensor:  # x (B, T, C, H, W) -> next-frame logits
        if self.plain:  # the reference: each cell, each step, fused conv over [x, h]
            states: list = [None] * len(self.rnn.cells)
            outs = []
            for x_t in x.unbind(1):
                for i, cell in enumerate(self.rnn.cells):
                    assert isinstance(cell, ConvLSTMCell)
                    states[i] = cell(x_t, states[i])
                    x_t = states[i][0]
                outs.append(x_t)
            seq = torch.stack(outs, 1)
        else:
            seq = self.rnn(x)[0]
        return self.head(seq.flatten(0, 1)).unflatten(0, seq.shape[:2])


def batches(n: int, batch: int, frames: int, seed: int = 0) -> list[Tensor]:
    """Moving MNIST (B, T+1, 16, 16, 16): 64x64 frames folded 4x4."""
    rng, digits = np.random.default_rng(seed), load_digits("train")
    out = []
    for _ in range(n):
        seqs = np.stack([moving_mnist_sequence(rng, digits, frames + 1) for _ in range(batch)])
        x = torch.from_numpy(seqs).float().div_(255).unsqueeze(2)  # (B, T+1, 1, 64, 64)
        out.append(F.pixel_unshuffle(x.flatten(0, 1), 4).unflatten(0, x.shape[:2]))
    return out


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class Variant:
    """A model, its optimizer and the context one training step runs in."""

    def __init__(
        self,
        name: str,
        model: Stack,
        n_threads: int | None = None,
        autocast: bool = False,
        channels_last: bool = False,
    ) -> None:
        self.name, self.model, self.n_threads = name, model, n_threads
        self.autocast, self.channels_last = autocast, channels_last
        if channels_last:
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
        self.times: list[float] = []
        self.cpu_times: list[float] = []

    def prepare(self, seq: Tensor) -> Tensor:
        if self.channels_last:  # every (B, C, H, W) frame strided as NHWC
            return seq.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        return seq

    def step(self, seq: Tensor) -> float:
        seq = self.prepare(seq)
        with threads(self.n_threads), torch.autocast("cpu", torch.bfloat16, self.autocast):
            logits = self.model(seq[:, :-1])
            loss = F.mse_loss(torch.sigmoid(logits.float()), seq[:, 1:])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return float(loss.detach())

    def timed_step(self, seq: Tensor) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        self.step(seq)
        self.times.append(time.perf_counter() - t0)
        self.cpu_times.append(time.process_time() - c0)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_times)


def build(args: argparse.Namespace, plain: bool, **fast: bool) -> Stack:
    torch.manual_seed(0)  # the same initial weights for every variant
    model = Stack(16, args.hidden, args.kernel, plain)
    set_fast_paths(model, **fast)
    return model


def time_round_robin(variants: list[Variant], data: list[Tensor], repeats: int) -> None:
    for v in variants:  # warm-up (and torch.compile's compilation)
        t0 = time.perf_counter()
        v.step(data[0])
        print(f"  warm-up {v.name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for r in range(repeats):
        for v in variants if r % 2 == 0 else variants[::-1]:
            v.timed_step(data[(r + 1) % len(data)])


def conv_rate(v: Variant, seq: Tensor) -> tuple[float, float, float]:
    """(conv GFLOP, conv seconds, step seconds) of one training step."""
    from torch.profiler import ProfilerActivity, profile

    gflop = conv_gflop(lambda: v.step(seq))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        v.step(seq)
        step = time.perf_counter() - t0
    conv_us = sum(
        e.self_cpu_time_total
        for e in prof.key_averages()
        if e.key in ("aten::mkldnn_convolution", "aten::convolution_backward")
        or e.key.startswith("aten::_slow_conv2d")
    )
    return gflop, conv_us / 1e6, step


def loss_after(variant: Variant, data: list[Tensor], steps: int) -> float:
    """Mean loss over the last 3 of `steps` more AdamW steps from the variant's weights."""
    losses = [variant.step(data[i % len(data)]) for i in range(steps)]
    return float(np.mean(losses[-3:]))


def compiled(model: Stack) -> Stack:
    """torch.compile each cell's step (the time loop stays in Python: no unrolling)."""
    for cell in model.rnn.cells:
        cell.compile(dynamic=False)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=10, help="time steps per training sequence")
    ap.add_argument("--hidden", default="64,64", help="hidden channels per layer")
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7, help="timed steps per variant")
    ap.add_argument("--loss-steps", type=int, default=15, help="AdamW steps of the accuracy check")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of every variant")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile lever")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    args = ap.parse_args()
    args.hidden = [int(c) for c in args.hidden.split(",")]
    if args.quick:
        args.batch, args.frames, args.hidden, args.repeats, args.loss_steps = 2, 4, [8, 8], 2, 3
    default_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{args.threads} thread(s) ({default_threads} by torch's default)")  # fmt: skip
    print(f"stack: 16 -> {args.hidden} chs, kernel {args.kernel}, batch {args.batch}, "
          f"{args.frames} steps, 16x16 maps (Moving MNIST 64x64 folded 4x4)\n")  # fmt: skip
    data = batches(4, args.batch, args.frames)
    # bf16 is a lever only where the CPU has native bf16 (AVX-512 BF16 / AMX): elsewhere its
    # matmuls are emulated and 50-100x slower, so the peaks are measured first and decide.
    peak32, peak16 = matmul_peak(torch.float32, 1024), matmul_peak(torch.bfloat16, 256)
    if peak16 > peak32:
        peak16 = matmul_peak(torch.bfloat16, 1024)
    bf16_fast = peak16 > peak32

    ref = Variant("reference (fused [x,h] conv per step)", build(args, True))
    variants = [
        ref,
        Variant("framepred default (input conv hoisted)", build(args, False)),
        Variant("  + no hoisting", build(args, False, hoist_input=False)),
        Variant("  + fused gate nonlinearities", build(args, False, fused_gates=True)),
        Variant("  + skip zero-state conv", build(args, False, skip_zero_state=True)),
        Variant("framepred fast (all three)", build(args, False, **FAST)),
        Variant("fast + channels-last", build(args, False, **FAST), channels_last=True),
    ]
    if bf16_fast:
        variants += [
            Variant("fast + bf16 autocast", build(args, False, **FAST), autocast=True),
            Variant(
                "fast + bf16 + channels-last",
                build(args, False, **FAST),
                autocast=True,
                channels_last=True,
            ),
            Variant("(reference + bf16 autocast)", build(args, True), autocast=True),
        ]
    if default_threads != args.threads:
        variants += [
            Variant(f"reference, {default_threads} threads", build(args, True), default_threads),
            Variant(
                f"fast, {default_threads} threads", build(args, False, **FAST), default_threads
            ),
        ]
    if not args.no_compile:
        fast_c = build(args, False, hoist_input=False, skip_zero_state=True)
        variants.append(Variant("fast + torch.compile (cells)", compiled(fast_c)))
    time_round_robin(variants, data, args.repeats)

    print(f"| variant (median of {args.repeats} interleaved steps) | wall (ms) | speed-up vs "
          "reference, wall | CPU (ms) | speed-up vs reference, CPU time |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for v in variants:
        print(f"| {v.name} | {v.median * 1e3:.1f} | {ref.median / v.median:.2f}x | "
              f"{v.cpu_median * 1e3:.1f} | {ref.cpu_median / v.cpu_median:.2f}x |")  # fmt: skip
    print("(CPU time adds up all threads: compare the multi-thread rows by wall time)")

    if not bf16_fast:  # emulated bf16: timed on 2-step sequences against fp32 at that size
        short = [d[:, :3] for d in data]
        pair = [
            Variant("fast fp32, 2 steps", build(args, False, **FAST)),
            Variant("fast bf16 autocast, 2 steps", build(args, False, **FAST), autocast=True),
        ]
        time_round_robin(pair, short, 1)
        print(f"| bf16 autocast, 2-step sequences | {pair[1].median * 1e3:.1f} | "
              f"{pair[0].median / pair[1].median:.2f}x vs fp32 at 2 steps "
              f"({pair[0].median * 1e3:.1f} ms) | {pair[1].cpu_median * 1e3:.1f} | "
              f"{pair[0].cpu_median / pair[1].cpu_median:.2f}x |")  # fmt: skip

    n1, n2 = args.loss_steps, 4 * args.loss_steps
    print(f"\naccuracy: loss (MSE, mean of the last 3 steps) after {n1} and {n2} AdamW steps, "
          "same initial weights and batches")  # fmt: skip
    ref_v = Variant("ref", build(args, True))
    ref_losses = loss_after(ref_v, data, n1), loss_after(ref_v, data, n2 - n1)
    print(f"  reference               {ref_losses[0]:.6f}  {ref_losses[1]:.6f}")
    checks = [("framepred default", {}, False), ("framepred fast", FAST, False)]
    if bf16_fast:
        checks.append(("framepred fast + bf16", FAST, True))
    for name, fast, autocast in checks:
        v = Variant(name, build(args, False, **fast), autocast=autocast)
        losses = loss_after(v, data, n1), loss_after(v, data, n2 - n1)
        rel = "  ".join(f"{loss / r - 1:+.1e}" for loss, r in zip(losses, ref_losses, strict=True))
        print(f"  {name:23} {losses[0]:.6f}  {losses[1]:.6f}  (relative to the reference: {rel})")

    print(f"\nmatmul peak ({args.threads} thread(s)): fp32 {peak32:.1f} GFLOP/s, "
          f"bf16 {peak16:.1f} GFLOP/s")  # fmt: skip
    rated = [(variants[0], peak32, "fp32"), (variants[5], peak32, "fp32")]
    if bf16_fast:
        rated.append((variants[7], peak16, "bf16"))
    for v, peak, kind in rated:
        gflop, conv_s, step_s = conv_rate(v, data[0])
        print(f"  {v.name}: {gflop:.2f} GFLOP of convolutions per step, "
              f"{gflop / conv_s:.1f} GFLOP/s inside them ({gflop / conv_s / peak:.0%} of the "
              f"{kind} matmul peak), convolutions {conv_s / step_s:.0%} of the step")  # fmt: skip


if __name__ == "__main__":
    main()
