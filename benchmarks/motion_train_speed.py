"""Training steps of the motion forecaster on Moving MNIST: the plain layout against
`speed_up` (channels-last weights, no convolution of the zero initial state: what
`framepred train` uses for the motion models), and, where this CPU runs bf16 natively,
`speed_up` under bf16 autocast (`framepred train --precision bf16-mixed`).

Both copies start from the same weights and take the same AdamW steps on the same batches
(forecast batches of the `motion-forecast` preset: 4 context frames, 10 to predict, 64x64,
batch 8; made once up front, so data generation is not timed). Steps are interleaved; the
medians of ms per step, their ratio, and both losses after the last step (the check that the
fast path trains the same model) are printed.

    python -m benchmarks.motion_train_speed [--steps 30] [--batch-size 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch

from framepred.data.forecast import ForecastBatches
from framepred.data.mmnist import MovingMNIST
from framepred.models.forecaster import MotionForecastConfig, MotionForecaster
from framepred.models.interpolator import speed_up
from framepred.precision import bf16_is_fast
from framepred.train.config import MMNIST_HORIZON, MMNIST_SIDE, PRESETS
from framepred.train.motion import motion_loss


def step(
    net: MotionForecaster, opt: torch.optim.Optimizer, batch: dict, bf16: bool = False
) -> float:
    k, n = net.config.context, int(batch["n"])
    full = batch["full"].float().div_(255.0)
    small = batch["small"].float().div_(255.0)
    with torch.autocast("cpu", torch.bfloat16, enabled=bf16):  # as Lightning's bf16-mixed
        steps = net(small, batch["back"].float(), n)
        pred = torch.stack([net.render(full[:, k - 1], s, clamp=False) for s in steps], 1)
        loss = motion_loss(pred.float() - full[:, k:], "mse")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bf16", action="store_true", help="time bf16 even if it is emulated here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    plain = MotionForecaster(MotionForecastConfig.from_dict(dict(PRESETS["motion-forecast"])))
    fast = speed_up(copy.deepcopy(plain))
    nets = {"plain": plain, "speed_up": fast}
    if bf16_is_fast("cpu") or args.bf16:  # emulated bf16 would be many times slower
        nets["speed_up + bf16 autocast (--precision bf16-mixed)"] = copy.deepcopy(fast)
    opts = {name: torch.optim.AdamW(net.parameters(), lr=1e-3) for name, net in nets.items()}
    batches = ForecastBatches(
        MovingMNIST("train", 10**6, channels=3),
        batch_size=args.batch_size,
        working=MMNIST_SIDE,
        scales=(1,),
        context=plain.config.context,
        horizon=MMNIST_HORIZON,
        seed=0,
    )
    data = [batches.make_batch(np.random.default_rng(i)) for i in range(args.steps)]
    times: dict[str, list[float]] = {name: [] for name in nets}
    losses: dict[str, float] = {}
    for i, batch in enumerate(data):
        order = list(nets) if i % 2 == 0 else list(nets)[::-1]
        for name in order:
            t0 = time.perf_counter()
            losses[name] = step(nets[name], opts[name], batch, bf16="bf16" in name)
            times[name].append(time.perf_counter() - t0)
    print(f"motion-forecast training steps, batch {args.batch_size}, 64x64, 4 + 10 frames, "
          f"{args.threads} thread(s), torch {torch.__version__}; median of {args.steps} "
          "(first 3 dropped)")  # fmt: skip
    print("| layout | ms per step | speed-up | loss after the last step |\n|---|---:|---:|---:|")
    base = statistics.median(times["plain"][3:])
    for name, ts in times.items():
        med = statistics.median(ts[3:])
        print(f"| {name} | {med * 1e3:.0f} | {base / med:.2f}x | {losses[name]:.6f} |")


if __name__ == "__main__":
    main()
