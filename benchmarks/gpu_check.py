"""One short GPU check (< 90 s on an H200): fill speed at 1080p and training samples/s.

Prints, with the device's name:

* `fill` synthesis at 1080p: a gappy 1080p clip (every other slot missing) is generated in
  memory with numpy (no decoding: PyAV and imageio-ffmpeg need not be installed) and every
  available method's synthesizer (`framepred.synth.methods.make_synthesizer`, on `--device`) fills
  its gaps; frames synthesized per second. `model` is the built-in `default` model when one
  is shipped; `model (mmnist)` is the shipped Moving MNIST model applied per channel.
* training samples/s of the framepred mmnist model (AdamW, BCE, 10 -> 10 frames at 64x64)
  in fp32, fp16 autocast (with a GradScaler) and bf16 autocast, and fp32 with the ConvLSTM
  speed options (`set_fast_paths`).

Runs from the repository root with only torch, lightning, torchmetrics, opencv, numpy,
imageio and click installed:

    python3 -m benchmarks.gpu_check --out gpu_check.txt
    python3 -m benchmarks.gpu_check --device cpu --quick   # a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import benchmarks.av_stub  # noqa: F401  (first: stands in for a missing PyAV)
from benchmarks.timing import synth_rate
from framepred.data.mmnist import load_digits, moving_mnist_sequence
from framepred.errors import FramepredError
from framepred.io.atomic import atomic_path, check_output_target
from framepred.models import EncoderForecaster, ModelConfig
from framepred.models.cells import set_fast_paths
from framepred.models.checkpoints import builtin_path
from framepred.predict.predictor import pick_device
from framepred.synth.methods import METHODS, make_synthesizer

MMNIST = ModelConfig(in_chs=1, patch_size=4, stem_chs=32, stage_chs=(48, 64), kernel_size=3)


def gappy_frames(n: int, width: int, height: int) -> tuple[list[np.ndarray], list[int]]:
    """n RGB frames of a panning texture with a moving square; even slots are kept."""
    yy, xx = np.mgrid[0:height, 0 : width + 4 * n].astype(np.float32)
    tex = np.stack(
        [128 + 90 * np.sin(xx / 23) * np.cos(yy / 31), 128 + 80 * np.cos(xx / 41 + yy / 37),
         128 + 70 * np.sin((xx + 2 * yy) / 29)], axis=2,
    ).astype(np.uint8)  # fmt: skip
    frames = []
    for i in range(n):
        img = np.ascontiguousarray(tex[:, 4 * i : 4 * i + width])
        x = (12 * i) % (width - height // 10)
        img[height // 3 : height // 3 + height // 10, x : x + height // 10] = (240, 220, 30)
        frames.append(img)
    return frames, list(range(0, n, 2))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fill_speeds(device: torch.device, quick: bool, say: Callable[[str], None]) -> None:
    width, height, n = (320, 180, 7) if quick else (1920, 1080, 21)
    frames, keep = gappy_frames(n, width, height)
    say(f"\nfill synthesis, {width}x{height}, every other slot missing ({n - len(keep)} "
        f"frames to make); models on {device}, flow/blend/repeat on the CPU (OpenCV, numpy):")  # fmt: skip
    say("| method | synthesized frames/s |")
    say("|---|---:|")
    methods: list[tuple[str, str | None]] = [(m, None) for m in METHODS if m != "model"]
    if builtin_path("default") is not None:
        methods.append(("model", None))
    else:
        say("| model | (no built-in default model shipped: skipped) |")
    methods.append(("model", "mmnist"))
    for method, model in methods:
        synth = make_synthesizer(method, model, device=str(device))
        synth_rate(synth, frames[:3], keep[:2])  # warm-up (CUDA context, cuDNN choice)
        sync(device)
        rate = synth_rate(synth, frames, keep)
        sync(device)
        label = method if model is None else f"{method} ({model})"
        say(f"| {label} | {rate:.1f} |")


def train_speeds(device: torch.device, quick: bool, say: Callable[[str], None]) -> None:
    batch, steps, size = (2, 2, 32) if quick else (32, 15, 64)
    k = n = 3 if quick else 10
    rng, digits = np.random.default_rng(0), load_digits("train")
    seqs = np.stack([moving_mnist_sequence(rng, digits, k + n) for _ in range(batch * 2)])
    data = torch.from_numpy(seqs).float().div_(255).unsqueeze(2)[..., :size, :size].to(device)
    say(f"\ntraining, mmnist model ({k} -> {n} frames, {size}x{size}, batch {batch}, AdamW, "
        f"BCE), median of {steps} steps after 3 warm-up steps, on {device}:")  # fmt: skip
    say("| precision | samples/s | ms/step |")
    say("|---|---:|---:|")
    variants: list[tuple[str, torch.dtype | None, bool]] = [
        ("fp32", None, False),
        ("fp32, ConvLSTM fast paths", None, True),
        ("fp16 autocast + GradScaler", torch.float16, False),
        ("bf16 autocast", torch.bfloat16, False),
    ]
    for label, dtype, fast in variants:
        if dtype is not None and device.type == "cpu" and dtype == torch.float16:
            say(f"| {label} | (CUDA only) | |")
            continue
        torch.manual_seed(0)
        net = EncoderForecaster(MMNIST).to(device)
        if fast:
            set_fast_paths(net, hoist_input=False, fused_gates=True, skip_zero_state=True)
        opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
        scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
        amp = (
            torch.autocast(device.type, dtype=dtype)
            if dtype is not None
            else contextlib.nullcontext()
        )
        times = []
        for i in range(3 + steps):
            seq = data[(i % 2) * batch : (i % 2 + 1) * batch]
            sync(device)
            t0 = time.perf_counter()
            with amp:
                logits = net(seq[:, :k], n)
                loss = F.binary_cross_entropy_with_logits(logits.float(), seq[:, k:])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sync(device)
            times.append(time.perf_counter() - t0)
        med = float(np.median(times[3:]))
        say(f"| {label} | {batch / med:.1f} | {med * 1e3:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cuda or cpu")
    ap.add_argument("--out", type=Path, default=None, help="also write the report here")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a CPU smoke test)")
    args = ap.parse_args()
    if args.out is not None:
        try:  # before the minutes of work: a file framepred did not write is never replaced
            check_output_target(args.out, [], overwrite=True)
        except FramepredError as err:
            ap.exit(1, f"gpu_check: {err}\n")
    device = pick_device(args.device)
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    t0 = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    say(f"device: {name} ({device}); torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"{torch.get_num_threads()} CPU threads")  # fmt: skip
    fill_speeds(device, args.quick, say)
    train_speeds(device, args.quick, say)
    say(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            tmp.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
