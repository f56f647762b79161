"""Inference latency of `predict`: 10 future frames at 256x256 from 10 context frames.

framepred's `EncoderForecaster` (the shipped mmnist configuration: patch 4, stages of 48
and 64 channels, kernel 3) against the plain `ReferenceConvLSTM` at equal size, read two
ways: equal channels (the same patch, two layers of 48 and 64 hidden channels, kernel 3;
framepred has ~2.7x its parameters, since its encoder and forecaster are separate ConvLSTMs)
and equal parameters (two layers of 80 and 104 channels). fp32 unless said, weights random (speed
does not depend on them), in one process with the same thread count. Rounds
are interleaved; the medians of ms per predicted frame and their ratio are printed, and the
same for framepred with its speed options (`set_fast_paths`), for the whole
`FramePredictor.predict` call (uint8 frames in and out) and, where this CPU runs bf16 natively
(AVX-512 BF16, AMX), for that call under bf16 autocast (`predict --precision bf16`). CPU time is printed next to wall
time: on a shared machine a busy neighbour inflates wall time but not CPU time.

    python -m benchmarks.predict_speed [--size 256] [--context 10] [--horizon 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from framepred.models import EncoderForecaster, ModelConfig
from framepred.models.cells import set_fast_paths
from framepred.models.reference import ReferenceConvLSTM
from framepred.precision import bf16_is_fast
from framepred.predict.predictor import FramePredictor

CONFIG = ModelConfig(in_chs=1, patch_size=4, stem_chs=32, stage_chs=(48, 64), kernel_size=3)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="frame height and width")
    ap.add_argument("--context", type=int, default=10)
    ap.add_argument("--horizon", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (all variants)")
    ap.add_argument("--bf16", action="store_true", help="time bf16 even if it is emulated here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ours = EncoderForecaster(CONFIG).eval()
    fast = set_fast_paths(copy.deepcopy(ours), hoist_input=False, skip_zero_state=True)
    ref = ReferenceConvLSTM(1, CONFIG.stage_chs, CONFIG.kernel_size, CONFIG.patch_size).eval()
    ref_big = ReferenceConvLSTM(1, (80, 104), CONFIG.kernel_size, CONFIG.patch_size).eval()
    predictor = FramePredictor(fast, "cpu", context_frames=args.context)
    bf16 = FramePredictor(copy.deepcopy(fast), "cpu", context_frames=args.context, precision="bf16")
    k, n, s = args.context, args.horizon, args.size
    context = torch.rand(1, k, 1, s, s)
    frames = (np.random.default_rng(0).random((k, s, s, 1)) * 255).astype(np.uint8)

    runs: dict[str, Callable[[], object]] = {
        "reference ConvLSTM, equal channels (48, 64)": lambda: ref.rollout(context, n),
        "reference ConvLSTM, equal parameters (80, 104)": lambda: ref_big.rollout(context, n),
        "framepred": lambda: ours.rollout(context, n),
        "framepred, fast paths": lambda: fast.rollout(context, n),
        "framepred, fast, FramePredictor.predict (uint8)": lambda: predictor.predict(frames, n),
    }
    if bf16_is_fast("cpu") or args.bf16:  # emulated bf16 would be many times slower
        runs["framepred, predict --precision bf16 (autocast, channels-last)"] = lambda: (
            bf16.predict(frames, n)
        )
        runs["(reference, equal channels, bf16 autocast)"] = lambda: bf16_ref(context, n)

    def bf16_ref(context: torch.Tensor, n: int) -> torch.Tensor:
        with torch.autocast("cpu", torch.bfloat16):
            return ref.rollout(context, n)

    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for fn in runs.values():
            fn()  # warm-up
        for r in range(args.repeats):
            for name, fn in runs.items() if r % 2 == 0 else list(runs.items())[::-1]:
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)

    print(f"predict {n} frames at {s}x{s} (grey) from {k} context frames, batch 1, "
          f"{args.threads} thread(s), torch {torch.__version__}; median of {args.repeats}")  # fmt: skip
    print(f"parameters: reference {n_params(ref):,} (equal channels), {n_params(ref_big):,} "
          f"(equal parameters); framepred {n_params(ours):,}\n")  # fmt: skip
    eq_chs, eq_params = list(runs)[:2]
    print("| model | wall ms per predicted frame | CPU ms per frame | speed-up vs equal "
          "channels (wall, CPU) | speed-up vs equal parameters (wall, CPU) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for name, ts in times.items():
        wall, c = statistics.median(ts) / n, statistics.median(cpu[name]) / n
        ratios = [
            f"{statistics.median(times[ref]) / n / wall:.2f}x, "
            f"{statistics.median(cpu[ref]) / n / c:.2f}x"
            for ref in (eq_chs, eq_params)
        ]
        print(f"| {name} | {wall * 1e3:.1f} | {c * 1e3:.1f} | {ratios[0]} | {ratios[1]} |")


if __name__ == "__main__":
    main()
